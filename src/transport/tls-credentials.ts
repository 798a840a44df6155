// TLS credentials of an ASAP endpoint (RFC 5352 §6: TLS with pre-shared keys and TLS with
// certificates are both mandatory to implement): a PSK file (one `identity:hex-key` a line),
// and an X.509 certificate, its private key and the CA that peers' certificates must chain
// to (mutual authentication). Loaded once at start; every problem with a file is a
// TlsCredentialError that names the file and says what is wrong with it, so that a tool can
// exit 1 with it before it serves anything.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

/** The files as given on the command line (`--tls-psk`, `--tls-cert`, `--tls-key`, `--tls-ca`). */
export interface TlsFiles {
  psk?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
  /** Client side: which identity of the PSK file to use (default: the first). */
  pskIdentity?: string | undefined;
}

export interface TlsCredentials {
  /** Pre-shared keys by identity; null without a PSK file. */
  psk: ReadonlyMap<string, Buffer> | null;
  /** Client side: the identity offered (first of the file, or the one asked for). */
  pskIdentity: string | null;
  cert: Buffer | null;
  key: Buffer | null;
  ca: Buffer | null;
  /** Subject and expiry of our certificate, for the start-up log. */
  certificate: { subject: string; validTo: string } | null;
}

/** A credential file that cannot be used; `hint` says what to do. */
export class TlsCredentialError extends Error {
  override readonly name = 'TlsCredentialError';
  readonly code = 'ETLSCREDENTIAL';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** RFC 4279 §5.3 allows 2^16 bytes; OpenSSL takes identities up to 128 bytes and keys up to 512. */
const MAX_PSK_IDENTITY_BYTES = 128;
const MAX_PSK_BYTES = 512;
/** A PSK shorter than 128 bits is refused (it could be guessed offline from one handshake). */
const MIN_PSK_BYTES = 16;

/** TLS 1.2 PSK cipher suites (RFC 5487, RFC 7905), with forward secrecy first. */
export const PSK_CIPHERS = ['ECDHE-PSK-CHACHA20-POLY1305', 'PSK-AES256-GCM-SHA384', 'PSK-AES128-GCM-SHA256', 'PSK-CHACHA20-POLY1305'].join(':');
/** TLS 1.2 suites for certificates (Node's default list ends in !PSK, which would remove the PSK ones). */
export const CERTIFICATE_CIPHERS = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'].join(':');
/**
 * TLS 1.3 takes an external PSK through OpenSSL's TLS 1.2 callbacks only with a SHA-256
 * suite (the key is bound to that hash): TLS_AES_128_GCM_SHA256 leads, and the server's order
 * wins (honorCipherOrder), else a client preferring a SHA-384 suite silently falls back to
 * certificates.
 */
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_256_GCM_SHA384'].join(':');

export function readCredentialFile(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new TlsCredentialError(`cannot read ${what} ${path}: ${why}`, `give ${what} a readable file`);
  }
}

/** `identity:hex-key` lines; blank lines and lines starting with # are skipped. */
export function parsePskFile(text: string, path: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `--tls-psk ${path} line ${i + 1}`;
    const colon = line.lastIndexOf(':');
    const identity = colon > 0 ? line.slice(0, colon) : '';
    const hex = colon > 0 ? line.slice(colon + 1).trim() : '';
    const hint = 'each line is identity:hex-key, e.g. pe-1:8f3a... with at least 32 hex digits (openssl rand -hex 32)';
    if (identity === '' || hex === '') throw new TlsCredentialError(`${where}: expected identity:hex-key`, hint);
    if (Buffer.byteLength(identity, 'utf8') > MAX_PSK_IDENTITY_BYTES) throw new TlsCredentialError(`${where}: identity longer than ${MAX_PSK_IDENTITY_BYTES} bytes`, hint);
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new TlsCredentialError(`${where}: the key is not an even number of hex digits`, hint);
    const key = Buffer.from(hex, 'hex');
    if (key.length < MIN_PSK_BYTES || key.length > MAX_PSK_BYTES) throw new TlsCredentialError(`${where}: a key of ${key.length} bytes (${MIN_PSK_BYTES}..${MAX_PSK_BYTES} wanted)`, hint);
    if (keys.has(identity)) throw new TlsCredentialError(`${where}: identity "${identity}" given twice`, hint);
    keys.set(identity, key);
  }
  if (keys.size === 0) throw new TlsCredentialError(`--tls-psk ${path}: no identity:hex-key line`, 'each line is identity:hex-key');
  return keys;
}

function parseCertificate(what: string, path: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new TlsCredentialError(`${what} ${path} is not a PEM certificate: ${(error as Error).message}`, `give ${what} a PEM file (-----BEGIN CERTIFICATE-----)`);
  }
}

function checkValidity(what: string, path: string, cert: X509Certificate, now: Date): void {
  if (new Date(cert.validTo).getTime() < now.getTime()) {
    throw new TlsCredentialError(`${what} ${path} expired on ${cert.validTo} (subject ${oneLine(cert.subject)})`, 'issue a new certificate (openssl x509 -req ... -days N)');
  }
  if (new Date(cert.validFrom).getTime() > now.getTime()) {
    throw new TlsCredentialError(`${what} ${path} is not valid before ${cert.validFrom}`, 'check the clock of this host, or the certificate\'s start date');
  }
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

/**
 * Reads a certificate and its private key and checks them (PEM, valid now, the key is the
 * certificate's); every problem a TlsCredentialError naming the flag and the file.
 */
export function readCertificateAndKey(certFlag: string, certFile: string, keyFlag: string, keyFile: string, now: Date): { cert: Buffer; key: Buffer; subject: string; validTo: string } {
  const cert = readCredentialFile(certFlag, certFile);
  const key = readCredentialFile(keyFlag, keyFile);
  const x509 = parseCertificate(certFlag, certFile, cert);
  checkValidity(certFlag, certFile, x509, now);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new TlsCredentialError(`${keyFlag} ${keyFile} is not a private key: ${(error as Error).message}`, `give ${keyFlag} the PEM private key of the certificate (unencrypted)`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new TlsCredentialError(`${keyFlag} ${keyFile} is not the key of the certificate ${certFile} (subject ${oneLine(x509.subject)})`, 'give the private key the certificate was issued for');
  }
  return { cert, key, subject: oneLine(x509.subject), validTo: x509.validTo };
}

/** Reads a CA certificate file and checks it is a PEM certificate valid now. */
export function readCaCertificate(flag: string, file: string, now: Date): Buffer {
  const ca = readCredentialFile(flag, file);
  checkValidity(flag, file, parseCertificate(flag, file, ca), now);
  return ca;
}

/**
 * Reads and checks the files. `side` decides what is required: a server with a certificate
 * needs the CA its clients' certificates chain to (mutual authentication); a client with
 * certificates needs the CA of the registrar's certificate.
 */
export function loadTlsCredentials(files: TlsFiles, side: 'server' | 'client', now: Date = new Date()): TlsCredentials {
  let psk: Map<string, Buffer> | null = null;
  let pskIdentity: string | null = null;
  if (files.psk !== undefined) {
    psk = parsePskFile(readCredentialFile('--tls-psk', files.psk).toString('utf8'), files.psk);
    if (side === 'client') {
      pskIdentity = files.pskIdentity ?? psk.keys().next().value!;
      if (!psk.has(pskIdentity)) throw new TlsCredentialError(`--tls-psk-identity ${pskIdentity} is not in ${files.psk}`, `the identities there: ${[...psk.keys()].join(', ')}`);
    }
  }
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new TlsCredentialError(files.cert === undefined ? '--tls-key without --tls-cert' : '--tls-cert without --tls-key', 'give both the certificate and its private key');
  }
  let cert: Buffer | null = null;
  let key: Buffer | null = null;
  let certificate: TlsCredentials['certificate'] = null;
  if (files.cert !== undefined && files.key !== undefined) {
    const pair = readCertificateAndKey('--tls-cert', files.cert, '--tls-key', files.key, now);
    ({ cert, key } = pair);
    certificate = { subject: pair.subject, validTo: pair.validTo };
  }
  const ca = files.ca !== undefined ? readCaCertificate('--tls-ca', files.ca, now) : null;
  if (side === 'server' && cert !== null && ca === null) {
    throw new TlsCredentialError('--tls-cert without --tls-ca', 'clients are authenticated by certificates issued by that CA (mutual authentication): give --tls-ca');
  }
  if (side === 'client' && psk === null && ca === null) {
    throw new TlsCredentialError('TLS needs --tls-psk, or --tls-ca (with --tls-cert and --tls-key)', 'give the PSK file, or the CA of the registrar\'s certificate and this client\'s certificate and key');
  }
  if (side === 'server' && psk === null && cert === null) {
    throw new TlsCredentialError('TLS needs --tls-psk or --tls-cert, --tls-key and --tls-ca', 'give a PSK file, or a certificate, its key and the CA of the clients\' certificates');
  }
  return { psk, pskIdentity, cert, key, ca, certificate };
}

/** Whether any TLS file was given (TLS is then served or used). */
export function hasTlsFiles(files: TlsFiles): boolean {
  return files.psk !== undefined || files.cert !== undefined || files.key !== undefined || files.ca !== undefined;
}

/** One list for both versions (Node takes the TLS_ names of `ciphers` as the TLS 1.3 suites). */
function ciphers(c: TlsCredentials): string {
  return c.psk !== null ? `${TLS13_SUITES}:${PSK_CIPHERS}:${CERTIFICATE_CIPHERS}` : `${TLS13_SUITES}:${CERTIFICATE_CIPHERS}`;
}

/**
 * Server options: TLS 1.2 and 1.3; PSK by identity; with a CA, a client certificate of that CA
 * is required unless the handshake used a PSK, so both kinds of peers are served on one port.
 * `pskPeers` learns the identity a socket offered.
 */
export function tlsServerOptions(c: TlsCredentials, pskPeers: WeakMap<object, string>, handshakeTimeout: number): tls.TlsOptions {
  const options: tls.TlsOptions = { minVersion: 'TLSv1.2', handshakeTimeout, ciphers: ciphers(c), honorCipherOrder: true };
  if (c.psk !== null) {
    const keys = c.psk;
    options.pskIdentityHint = 'rserpool';
    options.pskCallback = (socket: tls.TLSSocket, identity: string) => {
      const key = keys.get(identity);
      if (key === undefined) return null;
      pskPeers.set(socket, identity);
      return key;
    };
  }
  if (c.cert !== null && c.key !== null) {
    options.cert = c.cert;
    options.key = c.key;
  }
  if (c.ca !== null) {
    options.ca = c.ca;
    options.requestCert = true;
    // Refused in the handshake (the client gets the alert: certificate required, unknown CA).
    // A PSK handshake requests no certificate, so PSK peers pass (TLS 1.2 and 1.3).
    options.rejectUnauthorized = true;
  }
  return options;
}

/** Client options: the PSK identity of the file, else certificates checked against the CA (and the address). */
export function tlsClientOptions(c: TlsCredentials): tls.ConnectionOptions {
  const options: tls.ConnectionOptions = { minVersion: 'TLSv1.2', ciphers: ciphers(c) };
  if (c.psk !== null && c.pskIdentity !== null) {
    const identity = c.pskIdentity;
    const key = c.psk.get(identity)!;
    options.pskCallback = () => ({ identity, psk: key });
    // With a PSK the server presents no certificate (TLS 1.2 still calls the check, with an
    // empty one): the key is the authentication. A server that presents a certificate instead
    // must name the address in it, as without a PSK.
    options.checkServerIdentity = (host, cert) => (cert.raw === undefined ? undefined : tls.checkServerIdentity(host, cert));
  }
  if (c.cert !== null && c.key !== null) {
    options.cert = c.cert;
    options.key = c.key;
  }
  if (c.ca !== null) options.ca = c.ca;
  // A PSK handshake counts as authorized; a server that answers with a certificate instead
  // must present one of the CA.
  options.rejectUnauthorized = true;
  return options;
}
