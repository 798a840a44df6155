// A listening ASAP endpoint on TCP (IANA asap-tcp 3863) or TLS over TCP (asap-tcp-tls 3864,
// RFC 5352 §6): it accepts connections and hands each one out as an association
// (stream-association.ts) once it is usable: at once for TCP, after a handshake that
// authenticated the peer (a PSK of the file, or a certificate of the CA) for TLS. The
// registrar treats these associations as it treats SCTP ones.
//
// Hostile peers: connections beyond `maxAssociations` are refused by the listener; a TLS
// handshake that stalls is cut at `handshakeTimeout`; garbage instead of a ClientHello, a
// failed handshake and an unauthenticated peer are logged with the peer's address, counted,
// and closed.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { plainAddress, StreamAssociation, type StreamLog } from './stream-association.js';
import { MAX_FRAMED_MESSAGE_BYTES } from './stream-framing.js';
import { tlsServerOptions, type TlsCredentials } from './tls-credentials.js';
import type { Association } from './sctp-provider.js';
import { tlsPeerOf, type TlsPeer } from './tls-peer.js';

export type StreamProtocol = 'tcp' | 'tls';

export interface StreamEndpointOptions {
  protocol: StreamProtocol;
  /** TCP port; 0 picks one. */
  port: number;
  /** Local addresses to listen on; empty: all (dual stack where the host has IPv6). */
  addresses?: readonly string[];
  /** PPID of the protocol served (ASAP: 11), given to every received message. */
  ppid: number;
  /** Required for 'tls'. */
  tls?: TlsCredentials;
  /** Connections at a time; more are refused. */
  maxAssociations: number;
  /** Bytes queued for a connection before send() throws SendQueueFullError. */
  maxSendQueueBytes: number;
  /** Largest message a peer may send (≤ 65,535); a larger Message Length aborts the connection. */
  maxMessageBytes?: number;
  /** A connection without a byte either way this long is closed, ms; 0: never. */
  idleTimeout: number;
  /** A TLS handshake not complete after this long is cut, ms. */
  handshakeTimeout: number;
  log?: StreamLog;
}

/** What a stream endpoint turned away, for the registrar's stats. */
export interface StreamEndpointCounters {
  /** Connections handed out as associations. */
  accepted: number;
  /** Connections refused at maxAssociations. */
  refused: number;
  /** Associations aborted for a Message Length under 4 or over the limit. */
  framingAborts: number;
  /** Associations closed by the idle limit. */
  idleClosed: number;
  /** TLS handshakes that failed (garbage, no common suite, unknown PSK identity, bad certificate). */
  handshakeFailures: number;
  /** TLS handshakes cut by the handshake timeout. */
  handshakeTimeouts: number;
  /** TLS peers that completed a handshake without a PSK of the file or a certificate of the CA. */
  unauthenticated: number;
}

export interface StreamEndpointEvents {
  association: [association: Association];
  error: [error: Error];
}

/** The narrow listening shape the registrar uses (an SCTP endpoint has the same events). */
export interface AssociationListener extends EventEmitter<StreamEndpointEvents> {
  readonly port: number;
  close(): Promise<void>;
}

export class StreamEndpoint extends EventEmitter<StreamEndpointEvents> implements AssociationListener {
  readonly protocol: StreamProtocol;
  readonly counters: StreamEndpointCounters = { accepted: 0, refused: 0, framingAborts: 0, idleClosed: 0, handshakeFailures: 0, handshakeTimeouts: 0, unauthenticated: 0 };
  readonly #servers: net.Server[] = [];
  readonly #associations = new Set<StreamAssociation>();
  /** Raw sockets not yet associations (TLS handshakes under way), closed with the endpoint. */
  readonly #pending = new Set<net.Socket>();
  readonly #options: StreamEndpointOptions;
  readonly #log: StreamLog;
  readonly #pskPeers = new WeakMap<object, string>();
  #port = 0;
  #closed = false;

  private constructor(options: StreamEndpointOptions) {
    super();
    this.protocol = options.protocol;
    this.#options = options;
    this.#log = options.log ?? (() => undefined);
  }

  /** Listens on every address (or all); rejects with the socket error (EADDRINUSE...) if one fails. */
  static async open(options: StreamEndpointOptions): Promise<StreamEndpoint> {
    if (options.protocol === 'tls' && options.tls === undefined) throw new TypeError('a TLS endpoint needs credentials');
    const endpoint = new StreamEndpoint(options);
    const addresses = options.addresses !== undefined && options.addresses.length > 0 ? options.addresses : [undefined];
    try {
      let port = options.port;
      for (const address of addresses) {
        const server = endpoint.#server();
        endpoint.#servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, ...(address !== undefined ? { host: address } : {}), exclusive: true }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        server.on('error', (error) => endpoint.emit('error', error));
        // Port 0: the other addresses take the port the first one got.
        port = (server.address() as net.AddressInfo).port;
        endpoint.#port = port;
      }
    } catch (error) {
      await endpoint.close();
      throw error;
    }
    return endpoint;
  }

  get port(): number {
    return this.#port;
  }

  /** Live associations. */
  get associations(): ReadonlyArray<Association> {
    return [...this.#associations];
  }

  /** Stops listening and ends every connection (associations go down with 'endpoint-closed'). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const a of [...this.#associations]) a.endpointClosed();
    for (const s of this.#pending) s.destroy();
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  }

  #server(): net.Server {
    const o = this.#options;
    let server: net.Server;
    if (o.protocol === 'tls') {
      const t = tls.createServer(tlsServerOptions(o.tls!, this.#pskPeers, o.handshakeTimeout));
      t.on('secureConnection', (socket) => this.#secured(socket));
      t.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => this.#handshakeFailed(error, socket));
      server = t;
    } else {
      server = net.createServer((socket) => this.#associate(socket, null));
    }
    // Per server (one per address): the listener refuses beyond the limit before any TLS work;
    // #associate() holds the endpoint's total to it across its addresses.
    server.maxConnections = o.maxAssociations;
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => this.#refused(formatPeer(data?.remoteAddress, data?.remotePort)));
    if (o.protocol === 'tls') {
      // The raw socket, before TLS takes it over: its address is noted while it is sure to be
      // there (a socket that failed its handshake may no longer say).
      server.prependListener('connection', (socket: net.Socket) => {
        rawPeers.set(socket, formatPeer(socket.remoteAddress, socket.remotePort));
        this.#pending.add(socket);
        socket.once('close', () => this.#pending.delete(socket));
      });
    }
    return server;
  }

  /** A connection turned away at the association limit: counted, logged sparingly. */
  #refused(peer: string): void {
    if (this.counters.refused++ % 1000 === 0) {
      this.#log('warn', { peer, limit: this.#options.maxAssociations, refused: this.counters.refused }, `${this.#options.protocol.toUpperCase()} connection refused: at the association limit`);
    }
  }

  #secured(socket: tls.TLSSocket): void {
    const peer = peerOf(socket);
    // The PSK of the identity it offered was used: a PSK suite (TLS 1.2), or the PSK handshake
    // of TLS 1.3 (which OpenSSL reports as a resumed session). The identity alone is not proof:
    // a TLS 1.3 server falls back to certificates when the offered PSK does not fit.
    const identity = this.#pskPeers.get(socket);
    const psk = identity !== undefined && (socket.getCipher().name.includes('PSK') || socket.isSessionReused());
    // Node sets `authorized` only when it requested a certificate (a CA is configured).
    if (!psk && !socket.authorized) {
      this.counters.unauthenticated++;
      this.#log('warn', { peer, protocol: socket.getProtocol(), reason: socket.authorizationError?.toString() ?? 'no certificate' }, 'TLS peer rejected: neither a PSK of --tls-psk nor a certificate of --tls-ca');
      socket.destroy();
      return;
    }
    const tlsPeer = tlsPeerOf(socket, psk ? identity! : null);
    const pools: Record<string, string> = tlsPeer.certificatePools !== null ? { pools: [...tlsPeer.certificatePools].join(' ') } : {};
    this.#associate(socket, psk ? { psk: identity! } : { certificate: tlsPeer.certificateSubject ?? '?', ...pools }, tlsPeer);
  }

  #handshakeFailed(error: NodeJS.ErrnoException, socket: tls.TLSSocket): void {
    const timeout = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
    if (timeout) this.counters.handshakeTimeouts++;
    else this.counters.handshakeFailures++;
    this.#log('warn', { peer: peerOf(socket), code: error.code, error: firstLine(error.message) }, timeout ? 'TLS handshake timed out: connection closed' : 'TLS handshake failed: connection closed');
    socket.destroy();
  }

  #associate(socket: net.Socket, peerIdentity: Record<string, string> | null, tlsPeer: TlsPeer | null = null): void {
    const o = this.#options;
    if (this.#closed) {
      socket.destroy();
      return;
    }
    if (this.#associations.size >= o.maxAssociations) {
      this.#refused(peerOf(socket));
      socket.destroy();
      return;
    }
    const a = new StreamAssociation(socket, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, {
      ppid: o.ppid,
      protocol: o.protocol,
      maxMessageBytes: o.maxMessageBytes ?? MAX_FRAMED_MESSAGE_BYTES,
      maxSendQueueBytes: o.maxSendQueueBytes,
      idleTimeout: o.idleTimeout,
      log: this.#log,
      onFramingError: () => this.counters.framingAborts++,
      onIdle: () => this.counters.idleClosed++,
      tlsPeer,
    });
    this.counters.accepted++;
    this.#associations.add(a);
    a.once('down', () => this.#associations.delete(a));
    a.markUp();
    this.#log('debug', { association: a.id, peer: a.peer, protocol: o.protocol, ...(peerIdentity ?? {}) }, `${o.protocol.toUpperCase()} association up`);
    this.emit('association', a);
  }
}

/** "address:port" of raw sockets accepted by a TLS server, noted on arrival. */
const rawPeers = new WeakMap<net.Socket, string>();

function formatPeer(address: string | undefined, port: number | undefined): string {
  const a = plainAddress(address);
  return a.includes(':') ? `[${a}]:${port ?? 0}` : `${a || '?'}:${port ?? 0}`;
}

/** The peer of a TLS socket: its own address, else the one noted for the raw socket it wraps (Node's `_parent`). */
function peerOf(socket: net.Socket): string {
  if (socket.remoteAddress !== undefined) return formatPeer(socket.remoteAddress, socket.remotePort);
  const parent = (socket as { _parent?: net.Socket })._parent;
  return (parent !== undefined ? rawPeers.get(parent) : undefined) ?? '?:0';
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
