// ENRP over TLS over TCP (RFC 5353 §6 "Implementations MUST support TLS with SCTP ... or TLS
// over TCP"; IANA enrp-sctp-tls 9902, used here for TCP as asap-tcp-tls is for ASAP): the
// endpoint the ENRP service is handed instead of the SCTP one when the scope runs ENRP over
// TLS. It has the shape of the SCTP endpoint the service uses: a listening TLS port whose
// associations it emits, and associate() to a peer's TLS port, with our certificate (or the
// first PSK identity of --tls-psk) so that the peer authenticates us too (mutual
// authentication, RFC 5352 §9.3 "secured ENRP server <---> secured ENRP server"). Its Server
// Information still names an SCTP transport (RFC 5354 §3.11 allows only that), with the TLS
// port: in a scope that speaks ENRP over TLS, that port is TLS over TCP.
//
// Who may be a peer: a TLS peer of the scope (a PSK of --tls-psk or a certificate of
// --tls-ca, checked in the handshake) that is not a pool element: credentials that name pool
// handles (certificate SAN URIs rserpool:pool:..., a line of --tls-pool-map) are a PE's, and
// a PE that spoke ENRP could add PEs under any pool (as the home registrar of its own PEs),
// around per-pool authorization. The check runs both ways: on associations a peer opens to us,
// and on those we open, once the handshake says who the server is (a PE's certificate that
// passes the CA and names the address we dialled gets no link either). Such an association
// is aborted, logged with the address and counted. Our own PSK identity for links we open is
// the first of --tls-psk that the pool map does not name (a PE's key would let that PE pose as
// the peer). Note that without a pool map, anyone of the scope's CA or PSK file may be a peer:
// give ENRP peers their own CA for a stricter scope. Which server IDs a peer's credential may
// speak for: any, or those of its line of --enrp-tls-server-ids (mayClaim(), enrp-server-ids.ts).
import { EventEmitter } from 'node:events';
import type { Association, RemoteAddress, SctpEndpoint } from '../transport/sctp-provider.js';
import { StreamConnector } from '../transport/stream-connector.js';
import { StreamEndpoint } from '../transport/stream-endpoint.js';
import type { StreamLog } from '../transport/stream-association.js';
import { hasTlsFiles, loadTlsCredentials, TlsCredentialError, type TlsCredentials, type TlsFiles } from '../transport/tls-credentials.js';
import { PORT_ENRP_TLS, PPID_ENRP } from '../wire/constants.js';
import type { TlsPeer } from '../transport/tls-peer.js';
import { poolsOfPeer, tlsPeerName, tlsPeerOfAssociation, type PoolMap } from './tls-authorization.js';
import { loadServerIdMap, mayClaimServerId, type ServerIdMap } from './enrp-server-ids.js';
import { hexId } from '../wire/identifier-text.js';

/** What the ENRP service uses of its endpoint (an SCTP endpoint has all of it). */
export type EnrpEndpoint = Pick<SctpEndpoint, 'port' | 'associations' | 'associate' | 'sendDatagram'> & {
  on(event: 'association', listener: (a: Association) => void): unknown;
  /**
   * Whether the credential of `a` may speak for `serverId` (--enrp-tls-server-ids); absent:
   * anyone may. False is counted and logged by the endpoint; the message is dropped.
   */
  mayClaim?(a: Association, serverId: number): boolean;
};

export interface EnrpTlsSettings {
  port: number;
  addresses: readonly string[];
  /** Server side: every PSK of the file, our certificate, the scope's CA. */
  server: TlsCredentials;
  /** Client side: the first PSK identity (or none), our certificate, the CA of the peers' certificates. */
  client: TlsCredentials;
  poolMap: PoolMap | null;
  /** Which server IDs each credential may speak for (--enrp-tls-server-ids), or null: any. */
  serverIds?: ServerIdMap | null;
  maxAssociations: number;
  maxSendQueueBytes: number;
  handshakeTimeout: number;
  /** A link silent this long is closed, ms (peers send a presence every PEER-HEARTBEAT-CYCLE; an authenticated stranger that never speaks does not stay). */
  idleTimeout: number;
  log: StreamLog;
}

export interface EnrpTlsCounters {
  /** TLS peers refused because their credentials name pool handles (a PE's): on our ENRP port, and servers we connected to. */
  poolElementsRefused: number;
  /** ENRP associations over SCTP refused because the scope speaks ENRP over TLS. */
  plainRefused: number;
  /** ENRP messages dropped because their sender ID is not one of the credential's (--enrp-tls-server-ids). */
  serverIdRefused: number;
}

export class EnrpTlsEndpoint extends EventEmitter<{ association: [association: Association] }> implements EnrpEndpoint {
  readonly sendDatagram = undefined;
  readonly counters: EnrpTlsCounters = { poolElementsRefused: 0, plainRefused: 0, serverIdRefused: 0 };
  readonly #listener: StreamEndpoint;
  readonly #connector: StreamConnector;
  readonly #settings: EnrpTlsSettings;

  private constructor(listener: StreamEndpoint, settings: EnrpTlsSettings) {
    super();
    this.#listener = listener;
    this.#settings = settings;
    this.#connector = new StreamConnector({
      protocol: 'tls',
      ppid: PPID_ENRP,
      tls: settings.client,
      maxSendQueueBytes: settings.maxSendQueueBytes,
      connectTimeout: settings.handshakeTimeout,
      authorize: (peer, remote) => (this.#isPoolElement(peer, remote, 'outgoing') ? 'ENRP: credentials of a pool element' : null),
    });
    listener.on('association', (a) => this.#incoming(a));
    listener.on('error', (error) => settings.log('warn', { error: error.message, enrpTlsPort: this.port }, 'ENRP TLS endpoint error'));
  }

  /** Listens on the port (all addresses, or the given ones); rejects with the socket error. */
  static async open(settings: EnrpTlsSettings): Promise<EnrpTlsEndpoint> {
    const listener = await StreamEndpoint.open({
      protocol: 'tls',
      port: settings.port,
      addresses: settings.addresses,
      ppid: PPID_ENRP,
      tls: settings.server,
      maxAssociations: settings.maxAssociations,
      maxSendQueueBytes: settings.maxSendQueueBytes,
      idleTimeout: settings.idleTimeout,
      handshakeTimeout: settings.handshakeTimeout,
      log: settings.log,
    });
    return new EnrpTlsEndpoint(listener, settings);
  }

  get port(): number {
    return this.#listener.port;
  }

  /** The TLS port's own counts (handshakes failed, timed out, refused at the limit...). */
  get listenerCounters(): StreamEndpoint['counters'] {
    return this.#listener.counters;
  }

  get associations(): ReadonlyArray<Association> {
    return [...this.#listener.associations, ...this.#connector.associations];
  }

  /** A TLS connection to a peer's ENRP TLS port, from an ephemeral port (the peer learns ours from our presence). */
  associate(remote: RemoteAddress): Association {
    return this.#connector.associate({ address: remote.address, port: remote.port });
  }

  /** --enrp-tls-server-ids: the credential of the connection may speak for this ID (see enrp-server-ids.ts). */
  mayClaim(a: Association, serverId: number): boolean {
    const map = this.#settings.serverIds;
    if (map == null) return true;
    const peer = tlsPeerOfAssociation(a);
    if (peer !== null && mayClaimServerId(map, peer, serverId)) return true;
    if (this.counters.serverIdRefused++ % 1000 === 0) {
      this.#settings.log('warn', { peer: `${a.remote.address}:${a.remote.port}`, tlsPeer: peer === null ? null : tlsPeerName(peer), sender: hexId(serverId), refused: this.counters.serverIdRefused }, 'ENRP message refused: its sender ID is not one of the credential\'s (--enrp-tls-server-ids)');
    }
    return false;
  }

  async close(): Promise<void> {
    this.#connector.close();
    await this.#listener.close();
  }

  #incoming(a: Association): void {
    const peer = tlsPeerOfAssociation(a);
    if (peer !== null && this.#isPoolElement(peer, a.remote, 'incoming')) {
      a.abort('ENRP: credentials of a pool element');
      return;
    }
    this.emit('association', a);
  }

  /** Whether a TLS peer's credentials name pool handles (a PE's, not a registrar's); logged sparingly and counted when so. */
  #isPoolElement(peer: TlsPeer, remote: RemoteAddress, direction: 'incoming' | 'outgoing'): boolean {
    if (poolsOfPeer(peer, this.#settings.poolMap) === null) return false;
    if (this.counters.poolElementsRefused++ % 1000 === 0) {
      const name = tlsPeerName(peer);
      this.#settings.log('warn', { peer: `${remote.address}:${remote.port}`, direction, name, refused: this.counters.poolElementsRefused }, 'ENRP over TLS refused: the peer\'s credentials name pool handles (a pool element\'s, not a registrar\'s)');
    }
    return true;
  }
}

/** The settings of ENRP over TLS this module reads (a subset of RegistrarConfig). */
export interface EnrpTlsConfig {
  enrpTlsPort?: number | undefined;
  tlsOnly: boolean;
  tlsPsk?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
  enrpTlsServerIds?: string | undefined;
}

/**
 * Whether ENRP runs over TLS, on which port, with which credentials: on when `enrpTlsPort` is
 * given (> 0), and with --tls-only (at 9902 by default; a secured registrar speaks ENRP over
 * TLS only, so --tls-only with port 0 is refused). Read at start, before anything opens: a
 * problem is a TlsCredentialError with a hint.
 */
export function loadEnrpTlsCredentials(c: EnrpTlsConfig, poolMap: PoolMap | null = null): { port: number; server: TlsCredentials; client: TlsCredentials; serverIds: ServerIdMap | null } | null {
  const port = c.enrpTlsPort ?? (c.tlsOnly ? PORT_ENRP_TLS : 0);
  if (port <= 0) {
    if (c.tlsOnly) throw new TlsCredentialError('--tls-only with --enrp-tls-port 0', 'a secured registrar speaks ENRP over TLS only: give --enrp-tls-port a port (default 9902)');
    if (c.enrpTlsServerIds !== undefined) throw new TlsCredentialError(`--enrp-tls-server-ids ${c.enrpTlsServerIds} without ENRP over TLS`, 'it binds TLS credentials to server IDs: give --enrp-tls-port (or --tls-only) too');
    return null;
  }
  const files: TlsFiles = { psk: c.tlsPsk, cert: c.tlsCert, key: c.tlsKey, ca: c.tlsCa };
  if (!hasTlsFiles(files)) throw new TlsCredentialError(`--enrp-tls-port ${port} without TLS files`, 'give --tls-psk, or --tls-cert, --tls-key and --tls-ca: ENRP peers authenticate each other with them');
  const server = loadTlsCredentials(files, 'server');
  // Our identity when we connect: one the pool map gives no pools (a PE's would be refused by
  // the peer, and would let that PE pose as a registrar).
  const registrarIdentity = server.psk === null ? undefined : [...server.psk.keys()].find((identity) => !poolMap?.has(`psk:${identity}`));
  if (server.psk !== null && registrarIdentity === undefined && server.cert === null) {
    throw new TlsCredentialError(`every identity of --tls-psk ${c.tlsPsk} is a pool element's in --tls-pool-map`, 'add a PSK identity for the registrars (named in no map line) to the file: ENRP peers authenticate with it');
  }
  const client = loadTlsCredentials(registrarIdentity !== undefined ? { ...files, pskIdentity: registrarIdentity } : { ...files, psk: undefined }, 'client');
  return { port, server, client, serverIds: c.enrpTlsServerIds !== undefined ? loadServerIdMap(c.enrpTlsServerIds) : null };
}

/**
 * In a scope that runs ENRP over TLS, an ENRP association over SCTP is refused at once (RFC
 * 5352 §9.3: "If an ENRP server that does not use TLS tries to update the database of a
 * secure ENRP server, then the update will be rejected"), logged sparingly and counted.
 */
export function refusePlainEnrp(endpoint: Pick<SctpEndpoint, 'on'>, counters: { plainRefused: number }, log: StreamLog): void {
  endpoint.on('association', (a) => {
    if (counters.plainRefused++ % 1000 === 0) {
      log('warn', { peer: `${a.remote.address}:${a.remote.port}`, refused: counters.plainRefused }, 'ENRP association over SCTP refused: this scope speaks ENRP over TLS (--enrp-tls-port)');
    }
    a.abort('ENRP over TLS only');
  });
}
