// How the tools (`rserpool dump`, `rserpool snapshot save`) reach a registrar's control
// channel: `--registrar host[:port]` (plain HTTP, as before), or a URL `http://host[:port]` or
// `https://host[:port]` (port default 3870, the control port, not 443). HTTPS is used for an
// https:// URL, or for host[:port] with `--control-ca` (the CA that issued the registrar's
// --control-tls-cert; default: the system's CAs); `--control-cert`/`--control-key` present a
// client certificate (a registrar with --control-tls-ca). Every failure is one line saying what
// to do: no server, plain HTTP against HTTPS and the other way round, a certificate not trusted.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONTROL_PORT } from '../registrar/control.js';
import { readCredentialFile } from '../transport/tls-credentials.js';

/** A control channel as `--registrar` names it. */
export interface ControlTarget {
  host: string;
  port: number;
  /** As the URL said it; null for host[:port] (https when --control-ca/--control-cert is given). */
  scheme: 'http' | 'https' | null;
}

/** The TLS options of the tools (`--control-ca`, `--control-cert`, `--control-key`). */
export interface ControlTlsOptions {
  controlCa?: string;
  controlCert?: string;
  controlKey?: string;
}

/** `--registrar`: host[:port], [ipv6][:port], or http(s)://host[:port]. */
export function controlTarget(text: string): ControlTarget {
  const t = text.trim();
  const scheme = /^(https?):\/\//i.exec(t);
  if (scheme !== null) {
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      throw new InvalidArgumentError(`expected http(s)://host[:port] of a registrar's control channel, got "${text}"`);
    }
    if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      throw new InvalidArgumentError(`expected http(s)://host[:port] without a path, query or user, got "${text}"`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // URL leaves the port empty when it is the scheme's default (https://h:443): the text says.
    const given = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:]*):(\d+)/i.exec(t)?.[1];
    return { host, port: given === undefined ? DEFAULT_CONTROL_PORT : Number(given), scheme: scheme[1]!.toLowerCase() as 'http' | 'https' };
  }
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/]+)(?::(\d{1,5}))?$/.exec(t);
  const port = m?.[2] === undefined ? DEFAULT_CONTROL_PORT : Number(m[2]);
  const host = m?.[1]?.replace(/^\[|\]$/g, '');
  if (m === null || host === undefined || port < 1 || port > 65535 || (m[1]!.startsWith('[') && isIP(host) !== 6)) {
    throw new InvalidArgumentError(`expected host[:port] or https://host[:port] of a registrar's control channel, got "${text}"`);
  }
  return { host, port, scheme: null };
}

/** Adds --control-ca, --control-cert and --control-key to a tool. */
export function addControlTlsOptions(command: Command): Command {
  return command
    .option('--control-ca <file>', 'CA certificate(s) (PEM) that issued the registrar\'s --control-tls-cert; implies HTTPS (default for https://: the system\'s CAs)')
    .option('--control-cert <file>', 'client certificate (PEM) for a control channel that requires one (registrar --control-tls-ca); implies HTTPS; needs --control-key')
    .option('--control-key <file>', 'private key (PEM, unencrypted) of --control-cert');
}

/** Certificate verification failures (OpenSSL's codes, and Node's for a name mismatch). */
const UNTRUSTED = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)$/;

/**
 * GET `path` from the control channel: the body of a 200 answer; any other answer, or none, is
 * an Error saying what to do.
 */
export function controlGet(target: ControlTarget, path: string, options: { token: string | null; timeoutMs: number; tls?: ControlTlsOptions }): Promise<Buffer> {
  const o = options.tls ?? {};
  const tlsFlag = o.controlCa !== undefined ? '--control-ca' : o.controlCert !== undefined ? '--control-cert' : o.controlKey !== undefined ? '--control-key' : null;
  if (target.scheme === 'http' && tlsFlag !== null) {
    return Promise.reject(new Error(`${tlsFlag} is for an HTTPS control channel, and --registrar says http://: give https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`));
  }
  if ((o.controlCert === undefined) !== (o.controlKey === undefined)) {
    return Promise.reject(new Error(o.controlCert === undefined ? '--control-key without --control-cert' : '--control-cert without --control-key (its private key)'));
  }
  const secure = target.scheme === 'https' || (target.scheme === null && tlsFlag !== null);
  const { host, port, timeoutMs } = { ...target, timeoutMs: options.timeoutMs };
  const where = `${secure ? 'https://' : ''}${host.includes(':') ? `[${host}]` : host}:${port}`;
  let tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  try {
    if (o.controlCa !== undefined) tls.ca = readCredentialFile('--control-ca', o.controlCa);
    if (o.controlCert !== undefined && o.controlKey !== undefined) tls = { ...tls, cert: readCredentialFile('--control-cert', o.controlCert), key: readCredentialFile('--control-key', o.controlKey) };
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = options.token === null ? {} : { authorization: `Bearer ${options.token}` };
    const answered = (response: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = (): string => body.toString('utf8').trim();
        if (response.statusCode === 200) resolve(body);
        else if (response.statusCode === 401) reject(new Error(`control channel at ${where} needs its bearer token: give --token-file (the registrar's --control-token-file)${options.token === null ? '' : '; this one is not it'}`));
        else if (response.statusCode === 403 && /client certificate/.test(text())) reject(new Error(`control channel at ${where} refused: ${errorText(text())}: give --control-cert and --control-key (a certificate of the registrar's --control-tls-ca)`));
        else reject(new Error(`control channel at ${where} answered ${response.statusCode}: ${text()}`));
      });
    };
    const common = { host, port, path, method: 'GET', timeout: timeoutMs, headers };
    const r: ClientRequest = secure ? httpsRequest({ ...common, ...tls, agent: false }, answered) : httpRequest(common, answered);
    r.on('timeout', () => r.destroy(new Error(`control channel at ${where} did not answer within ${timeoutMs} ms`)));
    r.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      if (code === 'ECONNREFUSED') {
        reject(new Error(`no registrar control channel at ${where} (start the registrar with --control-port ${port}, or give --registrar host:port)`));
      } else if (secure && code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(error.message)) {
        reject(new Error(`control channel at ${where} does not speak HTTPS (plain HTTP?): give --registrar http://${host.includes(':') ? `[${host}]` : host}:${port} without --control-ca`));
      } else if (secure && UNTRUSTED.test(code)) {
        reject(new Error(`cannot trust the certificate of the control channel at ${where} (${error.message}): give --control-ca FILE, the CA that issued the registrar's --control-tls-cert`));
      } else if (secure && code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
        reject(new Error(`the certificate of the control channel at ${where} is not for ${host} (${error.message}): reach it by a name or address its certificate names`));
      } else if (!secure && (code === 'ECONNRESET' || code === 'ECONNABORTED' || /socket hang up/.test(error.message))) {
        reject(new Error(`control channel at ${where} closed the connection without answering: if it speaks HTTPS (registrar --control-tls-cert), give --registrar https://${host.includes(':') ? `[${host}]` : host}:${port} and --control-ca FILE`));
      } else reject(new Error(`control channel at ${where}: ${error.message}`));
    });
    r.end();
  });
}

/** The `error` of a JSON answer, or the text as it is. */
function errorText(text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: unknown }).error;
    return typeof e === 'string' ? e : text;
  } catch {
    return text;
  }
}
