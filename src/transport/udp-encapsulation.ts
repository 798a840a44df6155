// SCTP over UDP (RFC 6951): ONE UDP socket, demultiplexed by the peer's UDP address
// and port, then by the SCTP destination port: several local SCTP ports (a registrar's ASAP
// and ENRP endpoints, as RSPLIB's sctplib does on UDP 9899) can share one socket (`sibling`). The `sctp` package keys associations by "address:SCTP port" inside an
// Endpoint and its own UDP transport serves one peer per socket (package note 13),
// so each UDP peer gets its own package Endpoint on our SCTP port, fed by a
// per-peer transport object defined here. Needs no native addon and no privilege.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { Packet, sctpPackage } from './sctp-package.js';
import type { PackageEndpoint, PackagePacket, PackageTransport } from './sctp-package.js';
import { AssociationRegistry, checkRemote, connectAndWait } from './association-registry.js';
import { settleInitCollision } from './init-collision.js';
import { handlePeerRestart } from './peer-restart.js';
import type { SctpPackageAssociation } from './package-association.js';
import type { Association, RemoteAddress, SctpEndpoint, SctpEndpointEvents } from './sctp-provider.js';
import { PORT_SCTP_OVER_UDP } from '../wire/constants.js';
import { LowerLayerBindError, udpBindErrorMessage } from '../sctp/udp-lower-layer.js';

/** 4 MiB socket buffers: 256 KiB overflowed with ~1000 simultaneous INITs (package note 6). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Peers without associations and without traffic for this long are forgotten. */
const IDLE_PEER_MS = 60_000;

export interface UdpSctpEndpointOptions {
  /** Local SCTP port. */
  port: number;
  /** Local UDP port; default 9899 (RFC 6951 §5.1). 0 picks a free one. */
  udpPort?: number;
  /** Default UDP port of peers; default 9899. */
  remoteUdpPort?: number;
  /** Local address to bind; default all IPv4 addresses. */
  address?: string;
  /** Streams we offer (MIS) and ask for (OS). */
  inboundStreams?: number;
  outboundStreams?: number;
  highWaterMark?: number;
}

/** The packets of one UDP peer; implements what a package Endpoint expects of a transport. */
class UdpPeer implements PackageTransport {
  readonly endpoints = new Map<number, PackageEndpoint>();
  lastSeen = Date.now();
  /** Until then its Endpoints stay even without associations (an INIT collision was settled). */
  keepUntil = 0;

  constructor(
    private readonly socket: dgram.Socket,
    readonly address: string,
    readonly port: number,
  ) {}

  sendPacket(_src: string | undefined, _dst: string, packet: PackagePacket, callback?: (error?: Error | null) => void): boolean {
    // RFC 6951 §5.3: the SCTP packet is the UDP payload, to the peer's encapsulation port.
    const payload = packet.toBuffer();
    this.socket.send(payload, this.port, this.address, (error) => {
      if (callback) callback(error);
    });
    return true;
  }

  unallocate(port: number): void {
    this.endpoints.delete(port);
  }

  deliver(datagram: Buffer, localAddress: string): void {
    this.lastSeen = Date.now();
    const packet = Packet.fromBuffer(datagram);
    if (!packet || !packet.chunks) return;
    const endpoint = this.endpoints.get(packet.dst_port);
    if (!endpoint) return;
    if (settleInitCollision(endpoint, packet, this.address)) this.keepUntil = Date.now() + COLLISION_KEEP_MS;
    if (handlePeerRestart(endpoint, packet, this.address, localAddress)) return;
    // The source "address" is the peer's IP: associations of different UDP peers on
    // one IP never meet, each peer has its own Endpoint.
    endpoint.emit('packet', packet, this.address, localAddress);
  }
}

/** How long a peer whose INIT collision we settled keeps its package Endpoint (cookie secret). */
const COLLISION_KEEP_MS = 30_000;

/** One UDP encapsulation socket and its peers, shared by the SCTP ports opened on it. */
class SharedSocket {
  readonly peers = new Map<string, UdpPeer>();
  /** Local SCTP ports served by this socket. */
  readonly ports = new Map<number, UdpSctpEndpoint>();
  constructor(
    readonly socket: dgram.Socket,
    readonly localAddress: string,
  ) {}
}

export class UdpSctpEndpoint extends EventEmitter<SctpEndpointEvents> implements SctpEndpoint {
  readonly mode = 'udp' as const;
  readonly port: number;
  readonly #shared: SharedSocket;
  readonly #socket: dgram.Socket;
  readonly #peers: Map<string, UdpPeer>;
  readonly #registry: AssociationRegistry;
  readonly #remoteUdpPort: number;
  readonly #localAddress: string;
  readonly #streams: { MIS: number; OS: number };
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  private constructor(shared: SharedSocket, options: UdpSctpEndpointOptions) {
    super();
    this.#shared = shared;
    this.#socket = shared.socket;
    this.#peers = shared.peers;
    this.port = options.port;
    if (shared.ports.has(options.port)) throw new Error(`SCTP port ${options.port} is already open on this UDP socket`);
    shared.ports.set(options.port, this);
    this.#remoteUdpPort = options.remoteUdpPort ?? PORT_SCTP_OVER_UDP;
    this.#localAddress = options.address ?? '0.0.0.0';
    this.#streams = { MIS: options.inboundStreams ?? 16, OS: options.outboundStreams ?? 16 };
    this.#registry = new AssociationRegistry(
      options.highWaterMark ?? 1024 * 1024,
      (association) => this.emit('association', association),
      (association) => setImmediate(() => this.#release(association)),
    );
    this.#sweep = setInterval(() => this.#forgetIdlePeers(), IDLE_PEER_MS);
    this.#sweep.unref();
  }

  static async open(options: UdpSctpEndpointOptions): Promise<UdpSctpEndpoint> {
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 0xffff) {
      throw new RangeError(`SCTP port ${options.port} is out of range`);
    }
    const socket = dgram.createSocket({
      type: 'udp4',
      recvBufferSize: SOCKET_BUFFER_BYTES,
      sendBufferSize: SOCKET_BUFFER_BYTES,
    });
    const udpPort = options.udpPort ?? PORT_SCTP_OVER_UDP;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error: NodeJS.ErrnoException) => {
        socket.close();
        reject(new LowerLayerBindError(udpBindErrorMessage(error, udpPort, options.address === '0.0.0.0' ? undefined : options.address), error.code, udpPort));
      });
      socket.bind(udpPort, options.address, () => {
        socket.removeAllListeners('error');
        resolve();
      });
    });
    const shared = new SharedSocket(socket, options.address ?? '0.0.0.0');
    socket.on('message', (datagram, rinfo) => UdpSctpEndpoint.#dispatch(shared, datagram, rinfo));
    socket.on('error', (error) => {
      for (const endpoint of shared.ports.values()) if (endpoint.listenerCount('error') > 0) endpoint.emit('error', error);
    });
    return new UdpSctpEndpoint(shared, options);
  }

  /** The configured local address, or none for the wildcard. */
  get addresses(): readonly string[] {
    return this.#localAddress === '0.0.0.0' ? [] : [this.#localAddress];
  }

  /** SctpEndpoint.openPort: another SCTP port on this UDP socket (see sibling()). */
  openPort(port: number): Promise<SctpEndpoint> {
    try {
      return Promise.resolve(this.sibling({ port, inboundStreams: this.#streams.MIS, outboundStreams: this.#streams.OS }));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * Another local SCTP port on this endpoint's UDP socket (e.g. ENRP next to ASAP): peers
   * reach both at one UDP encapsulation port, packets are told apart by SCTP port.
   */
  sibling(options: Omit<UdpSctpEndpointOptions, 'udpPort' | 'address'>): UdpSctpEndpoint {
    if (this.#closed) throw new Error('endpoint is closed');
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 0xffff) throw new RangeError(`SCTP port ${options.port} is out of range`);
    return new UdpSctpEndpoint(this.#shared, { ...options, address: this.#localAddress, remoteUdpPort: options.remoteUdpPort ?? this.#remoteUdpPort });
  }

  /**
   * A plain UDP datagram from the encapsulation socket (ENRP_PRESENCE to the multicast group:
   * its source port then tells receivers our encapsulation port).
   */
  sendDatagram(payload: Uint8Array, port: number, address: string, multicastTtl?: number): Promise<void> {
    if (multicastTtl !== undefined) this.#socket.setMulticastTTL(multicastTtl);
    return new Promise((resolve, reject) => this.#socket.send(payload, port, address, (error) => (error ? reject(error) : resolve())));
  }

  static #dispatch(shared: SharedSocket, datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    if (datagram.length < 12) return; // shorter than the SCTP common header
    const key = `${rinfo.address}|${rinfo.port}`;
    const peer = shared.peers.get(key);
    if (peer !== undefined && peer.endpoints.has(datagram.readUInt16BE(2))) {
      peer.deliver(datagram, shared.localAddress);
      return;
    }
    // Only packets for one of our SCTP ports create state; that port's Endpoint then handles
    // INIT statelessly (cookie) and answers OOTB packets (RFC 9260 §8.4).
    const endpoint = shared.ports.get(datagram.readUInt16BE(2));
    if (endpoint !== undefined) endpoint.#onDatagram(datagram, rinfo);
  }

  get udpPort(): number {
    return this.#socket.address().port;
  }

  get associations(): ReadonlyArray<Association> {
    return [...this.#registry.live];
  }

  /** Number of UDP peers with state (for tests and metrics). */
  get peerCount(): number {
    return this.#peers.size;
  }

  associate(remote: RemoteAddress): Association {
    if (this.#closed) throw new Error('endpoint is closed');
    checkRemote(remote);
    const udpPort = remote.udpPort ?? this.#remoteUdpPort;
    const peer = this.#peer(remote.address, udpPort);
    const endpoint = this.#peerEndpoint(peer);
    if (endpoint.associations.some((a) => a.remotePort === remote.port)) {
      // The package keys associations by peer address and SCTP port (RFC 9260 §1.4: one
      // association per pair of transport addresses).
      throw new Error(`already associated with ${remote.address}:${remote.port} (udp ${udpPort})`);
    }
    const inner = endpoint.ASSOCIATE({ remoteAddress: remote.address, remotePort: remote.port, ...this.#streams });
    return this.#registry.wrap(inner, { address: remote.address, port: remote.port, udpPort }, false);
  }

  connect(remote: RemoteAddress): Promise<Association> {
    return connectAndWait(this, remote);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#registry.abortAll();
    for (const [key, peer] of this.#peers) {
      peer.endpoints.get(this.port)?.DESTROY();
      if (peer.endpoints.size === 0) this.#peers.delete(key);
    }
    this.#shared.ports.delete(this.port);
    // Let the ABORTs leave before the socket closes (when no other SCTP port uses it).
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#shared.ports.size === 0) {
      this.#peers.clear();
      await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    }
    this.emit('close');
  }

  #onDatagram(datagram: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    const peer = this.#peer(rinfo.address, rinfo.port);
    this.#peerEndpoint(peer);
    peer.deliver(datagram, this.#localAddress);
  }

  #peer(address: string, port: number): UdpPeer {
    const key = `${address}|${port}`;
    let peer = this.#peers.get(key);
    if (!peer) {
      peer = new UdpPeer(this.#socket, address, port);
      this.#peers.set(key, peer);
    }
    return peer;
  }

  #peerEndpoint(peer: UdpPeer): PackageEndpoint {
    let endpoint = peer.endpoints.get(this.port);
    if (endpoint) return endpoint;
    endpoint = new (sctpPackage().Endpoint)({ localPort: this.port, ...this.#streams });
    endpoint.transport = peer;
    peer.endpoints.set(this.port, endpoint);
    endpoint.on('association', (inner: import('./sctp-package.js').PackageAssociation) => {
      this.#registry.wrap(inner, { address: peer.address, port: inner.remotePort, udpPort: peer.port }, true);
    });
    return endpoint;
  }

  #release(association: SctpPackageAssociation): void {
    if (this.#closed) return;
    const key = `${association.remote.address}|${association.remote.udpPort ?? this.#remoteUdpPort}`;
    const peer = this.#peers.get(key);
    if (!peer) return;
    const endpoint = peer.endpoints.get(this.port);
    // After a settled INIT collision the peer's COOKIE ECHO is on its way: the Endpoint that
    // made the cookie must still be there to validate it (the idle sweep removes it later).
    if (endpoint && endpoint.associations.length === 0 && Date.now() >= peer.keepUntil) {
      endpoint.DESTROY(); // clears its cookie timer, unallocates from the peer
    }
    if (peer.endpoints.size === 0) this.#peers.delete(key);
  }

  #forgetIdlePeers(): void {
    const now = Date.now();
    for (const [key, peer] of this.#peers) {
      if (now - peer.lastSeen < IDLE_PEER_MS) continue;
      const endpoint = peer.endpoints.get(this.port);
      if (endpoint === undefined || endpoint.associations.length > 0) continue;
      endpoint.DESTROY();
      if (peer.endpoints.size === 0) this.#peers.delete(key);
    }
  }
}
