// HTTPS for the control channel: `--control-tls-cert FILE` and `--control-tls-key FILE` (both or
// neither) make the control server speak TLS (1.2 and 1.3) instead of plain HTTP, so its bearer
// token and what it serves do not cross the network in clear; `--control-tls-ca FILE`
// additionally asks every client for a certificate of that CA (mutual TLS). The probes
// (/health, /ready) are answered without one, as they are without the token: a load balancer or
// a kubelet probes with neither; everything else needs it (control.ts checks the socket).
//
// The files are read and checked once, before anything opens: an unreadable file, a file that
// is not PEM, a key that is not the certificate's, an expired certificate are each an error
// that names the flag and the file (a TlsCredentialError with a hint, read by the ASAP TLS
// files' own readCertificateAndKey/readCaCertificate).
import type { ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readCaCertificate, readCertificateAndKey, TlsCredentialError } from '../transport/tls-credentials.js';

/** The files as configured (--control-tls-cert, --control-tls-key, --control-tls-ca). */
export interface ControlTlsFiles {
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
}

/** What the control server needs to speak HTTPS. */
export interface ControlTls {
  cert: Buffer;
  key: Buffer;
  /** CA certificate(s) client certificates must chain to; null: no client certificates asked. */
  ca: Buffer | null;
  /** Subject and expiry of the server certificate, for the start-up log. */
  subject: string;
  validTo: string;
}

/**
 * Reads and checks the control channel's TLS files; null when none is given (plain HTTP).
 * Throws a TlsCredentialError naming the flag and the file for anything wrong.
 */
export function readControlTls(files: ControlTlsFiles, now: Date = new Date()): ControlTls | null {
  const { cert: certFile, key: keyFile, ca: caFile } = files;
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined) throw new TlsCredentialError(`--control-tls-ca ${caFile} without --control-tls-cert and --control-tls-key`, 'client certificates are asked for over HTTPS only: give the control channel its certificate and key too');
    return null;
  }
  if (certFile === undefined) throw new TlsCredentialError(`--control-tls-key ${keyFile} without --control-tls-cert`, 'give both the control channel\'s certificate (--control-tls-cert FILE) and its private key');
  if (keyFile === undefined) throw new TlsCredentialError(`--control-tls-cert ${certFile} without --control-tls-key`, 'give both the control channel\'s certificate and its private key (--control-tls-key FILE)');
  const { cert, key, subject, validTo } = readCertificateAndKey('--control-tls-cert', certFile, '--control-tls-key', keyFile, now);
  const ca = caFile !== undefined ? readCaCertificate('--control-tls-ca', caFile, now) : null;
  return { cert, key, ca, subject, validTo };
}

/**
 * node:https server options. With a CA, a client certificate is asked for but the handshake
 * does not fail without one (the probes are answered without it): control.ts refuses every
 * other request whose socket is not `authorized` (clientCertificateProblem).
 */
export function controlTlsServerOptions(tls: ControlTls, handshakeTimeoutMs: number): ServerOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2',
    handshakeTimeout: handshakeTimeoutMs,
    ...(tls.ca !== null ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
  };
}

/**
 * Why a request's connection lacks the client certificate a `--control-tls-ca` server needs,
 * or null when it has one of that CA.
 */
export function clientCertificateProblem(socket: TLSSocket): string | null {
  if (socket.authorized) return null;
  const given = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  const why = given ? `the one given is not: ${String(socket.authorizationError)}` : 'none was given';
  return `this control channel needs a client certificate issued by its --control-tls-ca (${why})`;
}
