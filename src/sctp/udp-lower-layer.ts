// SCTP over UDP (RFC 6951): the SCTP packet is the whole UDP payload, sent to and from the UDP
// encapsulation port (§5.1: 9899 by default). One UDP socket per local address (or per address
// family on the wildcard) carries every SCTP port of this process that was bound on it, as
// RSPLIB's sctplib serves ASAP and ENRP on one UDP port; packets are told apart by the SCTP
// destination port in the common header (RFC 9260 §3.1). Needs no privilege and no addon.
//
// Source address: with several local addresses of one family there is a socket per address,
// and the kernel no longer picks the source for us (a bound socket always sends from its own
// address). A packet must leave from the address the kernel's route to the destination would
// use, or a multi-homed peer's second path gets packets from the first link's address (dropped
// by reverse-path filtering, and answered over the first link: RFC 9260 §6.4 failover never
// works). So the layer asks the kernel once per destination: an unbound UDP socket connect()ed
// to it has, in address(), the source the route gives (no packet is sent), cached for a while.
// Packets for a destination still being looked up wait (in order) for the answer: one or two
// event-loop turns.
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { LowerLayer, PacketReceiver, PeerTransport } from './lower-layer.js';

/** RFC 6951 §5.1: the IANA-registered SCTP over UDP port. */
export const SCTP_OVER_UDP_PORT = 9899;
/** 4 MiB socket buffers: 256 KiB overflowed with ~1000 simultaneous INITs (package note 6). */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** Tries at picking one free port number for every socket when the UDP port is 0. */
const PICK_PORT_TRIES = 8;
/** The SCTP common header (RFC 9260 §3.1): anything shorter is not SCTP. */
const COMMON_HEADER_BYTES = 12;
/** close() waits at most this long for packets still being sent. */
const CLOSE_DRAIN_MS = 1000;
/** close() looks this often whether the sockets' send queues are empty. */
const CLOSE_DRAIN_POLL_MS = 5;
/** A cached route source is asked again after this long (routes change; interfaces go down). */
export const ROUTE_CACHE_MS = 10_000;
/** Destinations whose route source is cached (peers' addresses come from INITs: hostile input). */
export const MAX_ROUTES = 4096;
/** Route lookups in progress at most; beyond, a packet leaves from the family's first socket. */
export const MAX_ROUTE_LOOKUPS = 64;
/** Packets waiting for one destination's lookup at most; beyond, they are dropped (counted). */
const MAX_WAITING_PER_LOOKUP = 128;

export interface UdpLowerLayerOptions {
  /**
   * Local IPv4/IPv6 literals, one socket each. Empty or absent: the wildcard of both families
   * (IPv6 when the host has an IPv6 address). '0.0.0.0' and '::' stand for one family's wildcard.
   */
  addresses?: readonly string[];
  /** Local UDP encapsulation port; default 9899; 0 picks a free one (the same for every socket). */
  udpPort?: number;
  /** The peer's UDP port when a PeerTransport names none; default 9899 (RFC 6951 §5.1). */
  remoteUdpPort?: number;
  /** SO_RCVBUF/SO_SNDBUF; default 4 MiB. */
  socketBufferBytes?: number;
  /** A socket error after start-up (the layer keeps running); default: counted only. */
  onError?: (error: Error) => void;
}

/** What went through the layer (for metrics and tests). */
export interface UdpLowerLayerStats {
  received: number;
  /** Datagrams not for a bound SCTP port, or too short for an SCTP common header. */
  ignored: number;
  /** Datagrams handed to the kernel (one it then refused, e.g. EMSGSIZE or EHOSTUNREACH, included). */
  sent: number;
  /** Datagrams refused before the kernel: a bad address, a closed socket. */
  sendErrors: number;
  /** Route lookups (which local address the kernel sends from to a destination) made. */
  routeLookups: number;
}

/** A bind failure with the port, the address and what to do about it in the message. */
export class LowerLayerBindError extends Error {
  override readonly name = 'LowerLayerBindError';
  constructor(
    message: string,
    /** The system error code (EADDRINUSE, EACCES, EADDRNOTAVAIL...), when there is one. */
    readonly code: string | undefined,
    readonly port: number,
  ) {
    super(message);
  }
}

interface BoundSocket {
  socket: dgram.Socket;
  family: 4 | 6;
  /** The bound address, undefined for a wildcard. */
  address: string | undefined;
}

/** Whether the host has any IPv6 address (the loopback ::1 counts). */
export function hostHasIpv6(): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6') ?? false);
}

/** The clear message for a failed bind of UDP `port` on `address` (undefined: wildcard). */
export function udpBindErrorMessage(error: NodeJS.ErrnoException, port: number, address: string | undefined): string {
  const on = address !== undefined ? ` on ${address}` : '';
  switch (error.code) {
    case 'EADDRINUSE':
      return `UDP port ${port}${on} is in use (another registrar or rserpool process?): choose --udp-port`;
    case 'EACCES':
      return `UDP port ${port}${on}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE): choose --udp-port`;
    case 'EADDRNOTAVAIL':
      return `cannot bind UDP port ${port}: ${address ?? 'the address'} is not an address of this host (check --address)`;
    default:
      return `cannot bind UDP port ${port}${on}: ${error.message}`;
  }
}

interface SocketPlan {
  family: 4 | 6;
  address: string | undefined;
  /** A wildcard socket the host may not support (IPv6 without an IPv6 stack): skipped on failure. */
  optional: boolean;
}

function plan(addresses: readonly string[]): SocketPlan[] {
  if (addresses.length === 0) {
    const plans: SocketPlan[] = [{ family: 4, address: undefined, optional: false }];
    if (hostHasIpv6()) plans.push({ family: 6, address: undefined, optional: true });
    return plans;
  }
  const plans: SocketPlan[] = [];
  for (const address of addresses) {
    const family = isIP(address);
    if (family !== 4 && family !== 6) throw new TypeError(`local address ${address} is not an IPv4 or IPv6 literal`);
    const wildcard = address === '0.0.0.0' || address === '::';
    if (plans.some((p) => p.family === family && (wildcard || p.address === undefined || p.address === address))) {
      // Linux refuses a wildcard and a specific address of one family on one port (EADDRINUSE).
      throw new TypeError(`local addresses ${addresses.join(', ')}: list an address once, and a wildcard alone in its family`);
    }
    plans.push({ family, address: wildcard ? undefined : address, optional: false });
  }
  return plans;
}

/** What a connected, unbound UDP socket says the kernel's source address to `address` is. */
function routeSource(address: string, family: 4 | 6, port: number): Promise<string | undefined> {
  const probe = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
  return new Promise((resolve) => {
    let settled = false;
    const done = (source: string | undefined): void => {
      if (settled) return;
      settled = true;
      try {
        probe.close();
      } catch {
        /* already closed */
      }
      resolve(source);
    };
    // ENETUNREACH and the like: no route, the send will fail (and be counted) whatever the socket.
    probe.once('error', () => done(undefined));
    try {
      // connect() on UDP sends nothing: it only binds the socket to the route's source (RFC 768
      // has no handshake; Linux ip4_datagram_connect / ip6_datagram_connect pick the source).
      probe.connect(port, address, () => {
        let source: string | undefined;
        try {
          source = probe.address().address;
        } catch {
          source = undefined;
        }
        done(source);
      });
    } catch {
      done(undefined);
    }
  });
}

/** An IPv6 literal's scope suffix (%eth0) is not part of the address our sockets are bound to. */
function withoutScope(address: string): string {
  const i = address.indexOf('%');
  return i < 0 ? address : address.slice(0, i);
}

interface Route {
  socket: BoundSocket;
  /** performance.now() after which the route is asked again (while still used). */
  refreshAt: number;
}

interface Lookup {
  done: Promise<BoundSocket>;
  /** Packets waiting for it. */
  waiting: number;
}

/**
 * dgram's address lookup, answered at once for an IP literal (every destination of this layer
 * is one). dgram's default, dns.lookup, answers a literal on the next tick: each packet cost a
 * process.nextTick and the tick queue's drain (which allocates a Map each time), and left the
 * host a tick later. A name (never ours) still goes to dns.lookup.
 */
function literalLookup(address: string, family: number, callback: (error: Error | null, address: string, family: number) => void): void {
  const literal = isIP(address);
  if (literal === 0) {
    dnsLookup(address, family, callback as (error: NodeJS.ErrnoException | null, address: string, family: number) => void);
    return;
  }
  callback(null, address, literal);
}

function bindSocket(p: SocketPlan, port: number, bufferBytes: number): Promise<BoundSocket> {
  const socket = dgram.createSocket({
    type: p.family === 4 ? 'udp4' : 'udp6',
    lookup: literalLookup as unknown as dgram.SocketOptions['lookup'],
    // Both wildcards on one port number: the IPv6 one must not take IPv4-mapped traffic.
    ipv6Only: p.family === 6,
    recvBufferSize: bufferBytes,
    sendBufferSize: bufferBytes,
  });
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      socket.close();
      reject(error);
    };
    socket.once('error', onError);
    socket.bind(port, p.address ?? (p.family === 4 ? '0.0.0.0' : '::'), () => {
      socket.off('error', onError);
      resolve({ socket, family: p.family, address: p.address });
    });
  });
}

export class UdpLowerLayer implements LowerLayer {
  readonly mode = 'udp' as const;
  readonly udpPort: number;
  readonly localAddresses: readonly string[];
  readonly remoteUdpPort: number;
  readonly stats: UdpLowerLayerStats = { received: 0, ignored: 0, sent: 0, sendErrors: 0, routeLookups: 0 };
  readonly #sockets: readonly BoundSocket[];
  /** Destination address -> the socket of the source address the kernel's route picks. */
  readonly #routes = new Map<string, Route>();
  /** Destination address -> its route lookup in progress. */
  readonly #lookups = new Map<string, Lookup>();
  readonly #ports = new Map<number, PacketReceiver>();
  readonly #onError: ((error: Error) => void) | undefined;
  #closing: Promise<void> | null = null;
  /** Packets waiting for a route lookup (not yet handed to dgram). */
  #inFlight = 0;

  private constructor(sockets: BoundSocket[], udpPort: number, options: UdpLowerLayerOptions) {
    this.#sockets = sockets;
    this.udpPort = udpPort;
    this.remoteUdpPort = options.remoteUdpPort ?? SCTP_OVER_UDP_PORT;
    this.localAddresses = sockets.flatMap((s) => (s.address !== undefined ? [s.address] : []));
    this.#onError = options.onError;
    for (const s of sockets) {
      s.socket.on('message', (datagram, rinfo) => this.#receive(datagram, rinfo, s));
      s.socket.on('error', (error) => this.#onError?.(error));
    }
  }

  /** Binds the socket(s); rejects with a LowerLayerBindError naming the port and a remedy. */
  static async open(options: UdpLowerLayerOptions = {}): Promise<UdpLowerLayer> {
    const wanted = options.udpPort ?? SCTP_OVER_UDP_PORT;
    if (!Number.isInteger(wanted) || wanted < 0 || wanted > 0xffff) throw new RangeError(`UDP port ${wanted} is out of range`);
    const remote = options.remoteUdpPort ?? SCTP_OVER_UDP_PORT;
    if (!Number.isInteger(remote) || remote <= 0 || remote > 0xffff) throw new RangeError(`remote UDP port ${remote} is out of range`);
    const plans = plan(options.addresses ?? []);
    const bufferBytes = options.socketBufferBytes ?? SOCKET_BUFFER_BYTES;
    for (let attempt = 0; ; attempt++) {
      const bound: BoundSocket[] = [];
      let port = wanted;
      try {
        for (const p of plans) {
          try {
            const s = await bindSocket(p, port, bufferBytes);
            bound.push(s);
            // Port 0: the first socket picks, the others take the same number (one encapsulation port).
            port = s.socket.address().port;
          } catch (error) {
            if (p.optional && (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') continue;
            throw error;
          }
        }
        return new UdpLowerLayer(bound, port, options);
      } catch (error) {
        await Promise.all(bound.map((s) => new Promise<void>((resolve) => s.socket.close(() => resolve()))));
        const e = error as NodeJS.ErrnoException;
        // A picked port free in one family and taken in the other: pick again.
        if (wanted === 0 && e.code === 'EADDRINUSE' && attempt + 1 < PICK_PORT_TRIES) continue;
        const failed = plans[bound.length];
        throw new LowerLayerBindError(udpBindErrorMessage(e, port, failed?.address), e.code, port);
      }
    }
  }

  /** The families this layer can reach. */
  get families(): ReadonlySet<4 | 6> {
    return new Set(this.#sockets.map((s) => s.family));
  }

  get boundPorts(): readonly number[] {
    return [...this.#ports.keys()];
  }

  bind(port: number, receiver: PacketReceiver): void {
    if (this.#closing !== null) throw new Error('the UDP lower layer is closed');
    if (!Number.isInteger(port) || port <= 0 || port > 0xffff) throw new RangeError(`SCTP port ${port} is out of range`);
    if (this.#ports.has(port)) {
      throw new LowerLayerBindError(`SCTP port ${port} is already bound on UDP port ${this.udpPort}: choose another SCTP port`, 'EADDRINUSE', port);
    }
    this.#ports.set(port, receiver);
  }

  unbind(port: number): void {
    this.#ports.delete(port);
  }

  /**
   * Sends one SCTP packet from the socket of `from` if given, else of the source address the
   * kernel's route to `to` uses (see the header); keeps `packet` until dgram has handed it to the
   * kernel (it is not copied).
   */
  send(packet: Uint8Array, to: PeerTransport, from?: string): void {
    const port = to.udpPort ?? this.remoteUdpPort;
    const chosen = this.#socketFor(to.address, from, port);
    if (chosen === undefined) {
      this.stats.sendErrors++;
      return;
    }
    if (!(chosen instanceof Promise)) {
      this.#transmit(chosen, packet, port, to.address);
      return;
    }
    const lookup = this.#lookups.get(to.address);
    if (lookup === undefined || lookup.waiting >= MAX_WAITING_PER_LOOKUP) {
      this.stats.sendErrors++;
      return;
    }
    // Counted as in flight now, so close() waits for it too.
    lookup.waiting++;
    this.#inFlight++;
    void chosen.then((socket) => {
      this.#inFlight--;
      this.#transmit(socket, packet, port, to.address);
    });
  }

  #transmit(socket: BoundSocket, packet: Uint8Array, port: number, address: string): void {
    try {
      // RFC 6951 §5.3: the SCTP packet is the UDP payload. dgram keeps `packet` until the kernel
      // has it (no copy): the caller gives it up. No callback: dgram then hands the packet to
      // the kernel in this call (uv_udp_try_send; libuv queues it only when the socket buffer
      // is full) and allocates nothing more for it; a callback would cost a process.nextTick
      // per packet. So an error the kernel reports for a datagram is not counted here (SCTP's
      // retransmissions and path failure detection see the loss).
      socket.socket.send(packet, port, address);
      this.stats.sent++;
    } catch {
      // A bad address or a closed socket: counted, never thrown (LowerLayer.send).
      this.stats.sendErrors++;
    }
  }

  /**
   * A plain datagram from the encapsulation socket of `address`'s family, so its source port is
   * our encapsulation port (ENRP presence tells peers where to reach us this way).
   */
  async sendDatagram(payload: Uint8Array, port: number, address: string, multicastTtl?: number): Promise<void> {
    const socket = await this.#socketFor(address, undefined, port);
    if (socket === undefined) throw new Error(`no UDP socket of this layer reaches ${address}`);
    return new Promise((resolve, reject) => {
      try {
        if (multicastTtl !== undefined) socket.socket.setMulticastTTL(multicastTtl);
        socket.socket.send(payload, port, address, (error) => (error ? reject(error) : resolve()));
      } catch (error) {
        reject(error as Error);
      }
    });
  }

  /**
   * Releases the sockets when no port is bound; while some port still is, does nothing (each
   * endpoint unbinds its port and calls close(): the last one closes the layer).
   */
  close(): Promise<void> {
    if (this.#ports.size > 0) return Promise.resolve();
    this.#closing ??= this.#drain().then(() => Promise.all(this.#sockets.map((s) => new Promise<void>((resolve) => s.socket.close(() => resolve())))).then(() => undefined));
    return this.#closing;
  }

  /**
   * Waits for the packets handed over to leave, at most CLOSE_DRAIN_MS: those waiting for a
   * route lookup, and those libuv queued because a socket buffer was full (closing the socket
   * first would drop them, e.g. the ABORTs of a closing endpoint).
   */
  #drain(): Promise<void> {
    // A socket closed meanwhile has nothing queued (getSendQueueCount() throws on one).
    const queued = (): boolean =>
      this.#sockets.some((s) => {
        try {
          return s.socket.getSendQueueCount() > 0;
        } catch {
          return false;
        }
      });
    if (this.#inFlight === 0 && !queued()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const deadline = performance.now() + CLOSE_DRAIN_MS;
      const poll = (): void => {
        if ((this.#inFlight === 0 && !queued()) || performance.now() >= deadline) resolve();
        else setTimeout(poll, CLOSE_DRAIN_POLL_MS);
      };
      setTimeout(poll, CLOSE_DRAIN_POLL_MS);
    });
  }

  #receive(datagram: Buffer, rinfo: dgram.RemoteInfo, s: BoundSocket): void {
    if (datagram.length < COMMON_HEADER_BYTES) {
      this.stats.ignored++;
      return;
    }
    const receiver = this.#ports.get(datagram.readUInt16BE(2));
    if (receiver === undefined) {
      // Not ours: the endpoint answers out-of-the-blue packets (RFC 9260 §8.4) for its own ports only.
      this.stats.ignored++;
      return;
    }
    this.stats.received++;
    // dgram hands over a fresh Buffer per datagram: the stack may keep views into it.
    receiver(datagram, { address: rinfo.address, udpPort: rinfo.port }, s.address);
  }

  /**
   * The socket to send to `address` from: the one bound to `from` when given; the family's only
   * socket; else the one of the route's source address (cached, or a lookup to wait for).
   * Undefined: no socket of that family.
   */
  #socketFor(address: string, from: string | undefined, port: number): BoundSocket | Promise<BoundSocket> | undefined {
    const family = isIP(address);
    if (family !== 4 && family !== 6) return undefined;
    let first: BoundSocket | undefined;
    let several = false;
    for (const s of this.#sockets) {
      if (s.family !== family) continue;
      if (from !== undefined && s.address === from) return s;
      if (first === undefined) first = s;
      else several = true;
    }
    // One socket of the family (one address, or the wildcard where the kernel picks): no choice.
    if (first === undefined || !several) return first;
    const route = this.#routes.get(address);
    if (route !== undefined) {
      // A stale answer is still used while it is asked again (no packet waits for a refresh).
      if (performance.now() >= route.refreshAt && !this.#lookups.has(address)) void this.#lookup(address, family, port, first);
      return route.socket;
    }
    const pending = this.#lookups.get(address);
    if (pending !== undefined) return pending.done;
    // Too many lookups at once (a flood of INITs from many addresses): the old behaviour.
    if (this.#lookups.size >= MAX_ROUTE_LOOKUPS) return first;
    return this.#lookup(address, family, port, first);
  }

  #lookup(address: string, family: 4 | 6, port: number, fallback: BoundSocket): Promise<BoundSocket> {
    this.stats.routeLookups++;
    const done = routeSource(address, family, port).then((source) => {
      const bare = source === undefined ? undefined : withoutScope(source);
      // A source we have no socket for (the route leaves by an interface whose address we were
      // not given): the first socket, as before; the kernel routes it anyway.
      const socket = this.#sockets.find((s) => s.family === family && s.address === bare) ?? fallback;
      this.#lookups.delete(address);
      // Bounded: the oldest entry goes (Map keeps insertion order; a refresh re-inserts).
      this.#routes.delete(address);
      if (this.#routes.size >= MAX_ROUTES) this.#routes.delete(this.#routes.keys().next().value!);
      this.#routes.set(address, { socket, refreshAt: performance.now() + ROUTE_CACHE_MS });
      return socket;
    });
    this.#lookups.set(address, { done, waiting: 0 });
    return done;
  }

  /** The local address packets to `address` leave from (after a lookup when several; tests, logs). */
  async sourceFor(address: string): Promise<string | undefined> {
    const socket = await this.#socketFor(address, undefined, this.remoteUdpPort);
    return socket?.address;
  }
}
