// The registrar's ASAP ports besides SCTP (RFC 5352 §6, IANA): plain TCP (asap-tcp 3863) and
// TLS over TCP (asap-tcp-tls 3864, when a PSK file or a certificate is configured). Opened
// from the registrar's settings; what they accept goes the way of SCTP associations.
import { PPID_ASAP } from '../wire/constants.js';
import type { StreamLog } from './stream-association.js';
import { StreamEndpoint } from './stream-endpoint.js';
import { hasTlsFiles, loadTlsCredentials, type TlsCredentials } from './tls-credentials.js';

/** The registrar settings these ports read (a subset of RegistrarConfig). */
export interface AsapStreamSettings {
  tcpPort?: number | undefined;
  tcpPortOptional?: boolean | undefined;
  tlsPort: number;
  tlsPsk?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
  tlsHandshakeTimeout: number;
  streamIdleTimeout: number;
  maxStreamMessageBytes: number;
  maxAssociations: number;
  maxSendQueueBytes: number;
}

/** Why one of these ports could not open (the port and the socket error in the message). */
export class AsapStreamPortError extends Error {
  override readonly name = 'AsapStreamPortError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * The TLS credentials the settings ask for (null: no TLS file given, or the TLS port is 0).
 * Called before anything is opened, so a bad file ends the start at once; a problem is a
 * TlsCredentialError naming the file, with a hint.
 */
export function loadAsapStreamCredentials(s: AsapStreamSettings): TlsCredentials | null {
  const tlsFiles = { psk: s.tlsPsk, cert: s.tlsCert, key: s.tlsKey, ca: s.tlsCa };
  if (s.tlsPort <= 0 || !hasTlsFiles(tlsFiles)) return null;
  return loadTlsCredentials(tlsFiles, 'server');
}

/**
 * Opens the TCP port and, with `credentials`, the TLS port the settings ask for. Taken ports
 * reject (AsapStreamPortError, with the port in the message), except a taken TCP port that
 * `tcpPortOptional` lets go with a warning. Nothing stays open behind a rejection.
 */
export async function openAsapStreamPorts(s: AsapStreamSettings, addresses: readonly string[], log: StreamLog, credentials: TlsCredentials | null = loadAsapStreamCredentials(s)): Promise<StreamEndpoint[]> {
  const common = {
    ppid: PPID_ASAP,
    addresses,
    maxAssociations: s.maxAssociations,
    maxSendQueueBytes: s.maxSendQueueBytes,
    maxMessageBytes: s.maxStreamMessageBytes,
    idleTimeout: s.streamIdleTimeout,
    handshakeTimeout: s.tlsHandshakeTimeout,
    log,
  };
  const open: StreamEndpoint[] = [];
  const where = addresses.length > 0 ? ` on ${addresses.join(', ')}` : '';
  try {
    if ((s.tcpPort ?? 0) > 0) {
      try {
        open.push(await StreamEndpoint.open({ ...common, protocol: 'tcp', port: s.tcpPort! }));
        log('info', { tcpPort: open[0]!.port }, 'ASAP over TCP listening');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (s.tcpPortOptional !== true || code !== 'EADDRINUSE') throw new AsapStreamPortError(`cannot open ASAP over TCP (TCP port ${s.tcpPort}${where}): ${(error as Error).message}`, code);
        log('warn', { tcpPort: s.tcpPort, error: (error as Error).message }, `TCP port ${s.tcpPort} is in use: ASAP over TCP is off (give --tcp-port to require it, 0 to turn it off)`);
      }
    }
    if (credentials !== null) {
      try {
        open.push(await StreamEndpoint.open({ ...common, protocol: 'tls', port: s.tlsPort, tls: credentials }));
      } catch (error) {
        throw new AsapStreamPortError(`cannot open ASAP over TLS (TCP port ${s.tlsPort}${where}): ${(error as Error).message}`, (error as NodeJS.ErrnoException).code);
      }
      const auth = [credentials.psk !== null ? `PSK (${credentials.psk.size} identities)` : null, credentials.certificate !== null ? `certificate ${credentials.certificate.subject}, valid to ${credentials.certificate.validTo}` : null].filter((x) => x !== null);
      log('info', { tlsPort: open[open.length - 1]!.port, auth: auth.join('; ') }, 'ASAP over TLS listening');
    }
  } catch (error) {
    await Promise.all(open.map((e) => e.close()));
    throw error;
  }
  return open;
}
