// SCTP directly over IP (protocol 132, RFC 9260 §1) through the optional `raw-socket` addon:
// needs root or CAP_NET_RAW, and a kernel without SCTP (else the kernel answers our peers too).
// A raw socket sees every SCTP packet to the host, so:
// - only packets for ports this layer bound reach the stack (it never answers for other ports:
//   another process on this host may serve them);
// - a port is claimed host-wide (per network namespace, as the raw socket is): an abstract Unix
//   socket "\0rserpool-sctp-<port>" that the kernel releases when the process dies, so two
//   processes cannot both answer INITs on one port (package note 14).
// The addon is not context-aware (package note 15): main thread only. It receives into one
// shared buffer (package note 7): each packet is copied out before the stack sees it.
// The addon reads one packet per readiness event (uv_poll, level-triggered: a socket with
// more packets is polled again on the next loop turn); the layer instead reads until the
// socket is empty, up to MAX_PACKETS_PER_READINESS, so a burst of SACKs is handled in one turn
// (and the association flushes once for them) instead of one packet per event-loop turn.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net, { isIP } from 'node:net';
import { isMainThread } from 'node:worker_threads';
import type { LowerLayer, PacketReceiver, PeerTransport } from './lower-layer.js';
import { hostHasIpv6, LowerLayerBindError, SOCKET_BUFFER_BYTES } from './udp-lower-layer.js';

const require = createRequire(import.meta.url);

/** IANA protocol number of SCTP. */
export const IPPROTO_SCTP = 132;
/** Receive buffer of the addon: the largest IPv4 datagram fits. */
const RECEIVE_BUFFER_BYTES = 65_535;
/** Packets waiting for the addon's send readiness beyond this are dropped (a stalled socket). */
const MAX_SEND_QUEUE = 4096;
const COMMON_HEADER_BYTES = 12;
/** close() waits at most this long for packets still queued in the addon. */
const CLOSE_DRAIN_MS = 1000;
/** Packets read per readiness event at most (other sockets and timers get their turn). */
export const MAX_PACKETS_PER_READINESS = 64;
/** What the addon throws (strerror) when a non-blocking recvfrom finds the socket empty. */
const EMPTY = /temporarily unavailable|would block/i;

export const RAW_PRIVILEGE_HINT = 'raw SCTP needs the raw-socket addon and root or CAP_NET_RAW; or use --transport udp';

/** What we use of the `raw-socket` addon (1.8). */
interface RawSocket {
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(buffer: Buffer, offset: number, length: number, address: string, callback: (error: Error | null, bytes: number) => void): void;
  close(): void;
  setOption(level: number, option: number, value: number): void;
  /** The addon's receive buffer (reused for every packet). */
  buffer?: Buffer;
  /** The native socket: emits 'recvReady' per readiness event; recv() reads one packet (non-blocking, throws when empty). */
  wrap?: RawSocketWrap;
}
interface RawSocketWrap {
  recv(buffer: Buffer, callback: (buffer: Buffer, bytes: number, source: string) => void): void;
  on(event: 'recvReady', listener: () => void): void;
  removeAllListeners(event: 'recvReady'): void;
}
interface RawSocketModule {
  createSocket(options: { protocol: number; addressFamily?: number; bufferSize?: number }): RawSocket;
  AddressFamily: { IPv4: number; IPv6: number };
  SocketLevel: { SOL_SOCKET: number };
  SocketOption: { SO_RCVBUF: number; SO_SNDBUF: number };
}

/** The addon, or a clear Error (not installed, not built, wrong thread). */
export function loadRawSocket(): RawSocketModule {
  if (!isMainThread) throw new Error(`${RAW_PRIVILEGE_HINT} (and the main thread: the addon cannot load in a worker)`);
  try {
    return require('raw-socket') as RawSocketModule;
  } catch (error) {
    throw new Error(`${RAW_PRIVILEGE_HINT} (raw-socket: ${(error as Error).message.split('\n')[0]})`);
  }
}

export interface RawLowerLayerOptions {
  /** Local IPv4/IPv6 literals listed in INIT; empty: the wildcard (IPv4, and IPv6 when the host has it). */
  addresses?: readonly string[];
  /** Packets read per readiness event at most; default MAX_PACKETS_PER_READINESS (1: the addon's own one per event). */
  packetsPerReadiness?: number;
  /** SO_RCVBUF/SO_SNDBUF of the raw sockets; default 4 MiB, as in udp mode (capped by net.core.rmem_max/wmem_max). */
  socketBufferBytes?: number;
  /** A socket error after start-up; default: counted only. */
  onError?: (error: Error) => void;
}

export interface RawLowerLayerStats {
  received: number;
  ignored: number;
  sent: number;
  sendErrors: number;
  /** Readiness events that found packets (received + ignored over this: packets per event). */
  readinessEvents: number;
}

/** The abstract-namespace name that claims `port` on this host. */
export function claimName(port: number): string {
  return `rserpool-sctp-${port}`;
}

/** Whether some process of this network namespace holds the claim of `port` (from /proc/net/unix). */
function claimedOnHost(port: number): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return false;
  }
  // Abstract names are shown with a leading '@' and NULs as '@'; Node binds the whole sun_path
  // (the name padded with NULs), so the padding is dropped before comparing.
  const wanted = ` @${claimName(port)}`;
  return table.split('\n').some((line) => line.replace(/@+$/, '').endsWith(wanted));
}

function claimError(port: number): LowerLayerBindError {
  return new LowerLayerBindError(
    `SCTP port ${port} is in use by another process on this host (raw mode: one process per SCTP port): choose another port, or use --transport udp`,
    'EADDRINUSE',
    port,
  );
}

interface Family {
  family: 4 | 6;
  socket: RawSocket;
}

export class RawLowerLayer implements LowerLayer {
  readonly mode = 'raw' as const;
  readonly udpPort = undefined;
  readonly localAddresses: readonly string[];
  readonly stats: RawLowerLayerStats = { received: 0, ignored: 0, sent: 0, sendErrors: 0, readinessEvents: 0 };
  readonly #families: Family[];
  readonly #ports = new Map<number, PacketReceiver>();
  /** The host-wide claims we hold or are taking, by port (a listening abstract Unix socket each). */
  readonly #claims = new Map<number, Promise<net.Server>>();
  readonly #onError: ((error: Error) => void) | undefined;
  #queued = 0;
  #closing: Promise<void> | null = null;
  #drained: (() => void) | null = null;

  private constructor(families: Family[], localAddresses: string[], options: RawLowerLayerOptions) {
    this.#families = families;
    this.localAddresses = localAddresses;
    this.#onError = options.onError;
    const perEvent = options.packetsPerReadiness ?? MAX_PACKETS_PER_READINESS;
    for (const f of families) {
      f.socket.on('error', (error) => this.#onError?.(error));
      const wrap = f.socket.wrap;
      const buffer = f.socket.buffer;
      if (perEvent > 1 && wrap !== undefined && buffer !== undefined && typeof wrap.recv === 'function' && typeof wrap.removeAllListeners === 'function') {
        // Our own readiness handler in place of the addon's one-packet one (see the header).
        wrap.removeAllListeners('recvReady');
        wrap.on('recvReady', () => this.#drain(wrap, buffer, f.family, perEvent));
      } else {
        f.socket.on('message', (packet, source) => {
          this.stats.readinessEvents++;
          this.#receive(packet, source, f.family);
        });
      }
    }
  }

  /**
   * Opens a raw SCTP socket per address family. Throws the clear privilege/addon Error when the
   * addon is missing or the socket cannot be opened.
   */
  static open(options: RawLowerLayerOptions = {}): RawLowerLayer {
    const raw = loadRawSocket();
    const addresses = [...(options.addresses ?? [])];
    const wanted = new Set<4 | 6>();
    const local: string[] = [];
    for (const a of addresses) {
      const family = isIP(a);
      if (family !== 4 && family !== 6) throw new TypeError(`local address ${a} is not an IPv4 or IPv6 literal`);
      wanted.add(family);
      if (a !== '0.0.0.0' && a !== '::') local.push(a);
    }
    const optionalV6 = addresses.length === 0 && hostHasIpv6();
    if (addresses.length === 0) wanted.add(4);
    const families: Family[] = [];
    const bufferBytes = options.socketBufferBytes ?? SOCKET_BUFFER_BYTES;
    const open = (family: 4 | 6): RawSocket => {
      const socket = raw.createSocket({
        protocol: IPPROTO_SCTP,
        addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6,
        bufferSize: RECEIVE_BUFFER_BYTES,
      });
      // The default (about 200 KiB) overflows with a burst of INITs or SACKs (package note 6);
      // a raw socket also gets every SCTP packet of the host, not only ours.
      try {
        socket.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_RCVBUF, bufferBytes);
        socket.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_SNDBUF, bufferBytes);
      } catch {
        /* the kernel's default then */
      }
      return socket;
    };
    try {
      for (const family of wanted) families.push({ family, socket: open(family) });
    } catch (error) {
      for (const f of families) f.socket.close();
      throw new Error(`${RAW_PRIVILEGE_HINT} (${(error as Error).message})`);
    }
    if (optionalV6) {
      try {
        families.push({ family: 6, socket: open(6) });
      } catch {
        /* a host without a working IPv6 stack: IPv4 only */
      }
    }
    return new RawLowerLayer(families, local, options);
  }

  get families(): ReadonlySet<4 | 6> {
    return new Set(this.#families.map((f) => f.family));
  }

  get boundPorts(): readonly number[] {
    return [...this.#ports.keys()];
  }

  /**
   * Claims `port` host-wide (race-free, unlike the check in bind()); rejects with a clear Error
   * when another process holds it. bind() afterwards uses this claim.
   */
  claim(port: number): Promise<void> {
    checkPort(port);
    let claim = this.#claims.get(port);
    if (claim === undefined) {
      const server = net.createServer((connection) => connection.destroy());
      claim = new Promise<net.Server>((resolve, reject) => {
        server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? claimError(port) : error));
        server.listen({ path: `\0${claimName(port)}` }, () => {
          // The claim must not keep the process alive; the kernel drops it when the process dies.
          server.unref();
          resolve(server);
        });
      });
      const mine = claim;
      this.#claims.set(port, mine);
      mine.catch(() => {
        if (this.#claims.get(port) === mine) this.#claims.delete(port);
      });
    }
    return claim.then(() => undefined);
  }

  /**
   * Claims `port` and delivers its packets to `receiver`. Throws when this layer bound it, or when
   * another process on this host claimed it. Without a prior claim() the claim is taken in the
   * background; losing that race (another process took it in the same instant) unbinds the port
   * and reports the error through onError.
   */
  bind(port: number, receiver: PacketReceiver): void {
    if (this.#closing !== null) throw new Error('the raw lower layer is closed');
    checkPort(port);
    if (this.#ports.has(port)) throw new LowerLayerBindError(`SCTP port ${port} is already bound in this process: choose another SCTP port`, 'EADDRINUSE', port);
    if (!this.#claims.has(port)) {
      if (claimedOnHost(port)) throw claimError(port);
      this.claim(port).catch((error: Error) => {
        if (this.#ports.get(port) === receiver) this.unbind(port);
        this.#onError?.(error);
      });
    }
    this.#ports.set(port, receiver);
  }

  unbind(port: number): void {
    this.#ports.delete(port);
    this.#release(port);
  }

  /**
   * Sends one SCTP packet; the kernel adds the IP header (source: its route's choice, `from` is
   * not honoured without IP_HDRINCL). The addon queues `packet` until the socket is writable:
   * it is kept, not copied (the stack hands over memory of its own, PacketWriter.finish()).
   */
  send(packet: Uint8Array, to: PeerTransport, _from?: string): void {
    const family = isIP(to.address);
    const f = this.#families.find((x) => x.family === family);
    if (f === undefined || this.#queued >= MAX_SEND_QUEUE) {
      this.stats.sendErrors++;
      return;
    }
    const buffer = Buffer.isBuffer(packet) ? packet : Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    this.#queued++;
    try {
      f.socket.send(buffer, 0, buffer.length, to.address, (error) => {
        if (error) this.stats.sendErrors++;
        if (--this.#queued === 0) this.#drained?.();
      });
      this.stats.sent++;
    } catch {
      this.#queued--;
      this.stats.sendErrors++;
    }
  }

  /**
   * Releases the raw socket(s) when no port is bound; while some port still is, does nothing
   * (each endpoint unbinds its port and calls close(): the last one closes the layer).
   */
  close(): Promise<void> {
    if (this.#ports.size > 0) return Promise.resolve();
    if (this.#closing === null) {
      for (const port of [...this.#claims.keys()]) this.#release(port);
      // The addon sends once the socket is writable: let queued packets (a closing endpoint's
      // ABORTs) leave first, for at most CLOSE_DRAIN_MS.
      const drained =
        this.#queued === 0
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, CLOSE_DRAIN_MS);
              this.#drained = () => {
                clearTimeout(timer);
                resolve();
              };
            });
      this.#closing = drained.then(() => {
        for (const f of this.#families) f.socket.close();
      });
    }
    return this.#closing;
  }

  #release(port: number): void {
    const claim = this.#claims.get(port);
    this.#claims.delete(port);
    claim?.then(
      (server) => server.close(),
      () => {},
    );
  }

  /** Reads up to `max` packets of one readiness event, until the socket is empty. */
  #drain(wrap: RawSocketWrap, buffer: Buffer, family: 4 | 6, max: number): void {
    let got = 0;
    const deliver = (b: Buffer, bytes: number, source: string): void => {
      got++;
      this.#receive(b.subarray(0, bytes), source, family);
    };
    for (let i = 0; i < max; i++) {
      const before = got;
      try {
        wrap.recv(buffer, deliver);
      } catch (error) {
        // Empty (a spurious wake-up, or everything read): the normal end. Anything else is
        // reported as the addon would have.
        if (!EMPTY.test((error as Error).message)) this.#onError?.(error as Error);
        break;
      }
      if (got === before) break;
    }
    if (got > 0) this.stats.readinessEvents++;
  }

  #receive(buffer: Buffer, source: string, family: 4 | 6): void {
    let start = 0;
    let local: string | undefined;
    if (family === 4) {
      // IPv4 raw sockets deliver the IP header (RFC 791 §3.1): skip it by its IHL.
      if (buffer.length < 20 || buffer[0]! >> 4 !== 4) {
        this.stats.ignored++;
        return;
      }
      start = (buffer[0]! & 0x0f) * 4;
      if (start < 20) {
        this.stats.ignored++;
        return;
      }
      local = `${buffer[16]}.${buffer[17]}.${buffer[18]}.${buffer[19]}`;
    } else if (this.localAddresses.length === 1 && isIP(this.localAddresses[0]!) === 6) {
      // IPv6 raw sockets give no IP header (RFC 3542 §3): the destination is known only when
      // we have a single IPv6 address.
      local = this.localAddresses[0];
    }
    if (buffer.length - start < COMMON_HEADER_BYTES) {
      this.stats.ignored++;
      return;
    }
    const receiver = this.#ports.get(buffer.readUInt16BE(start + 2));
    if (receiver === undefined) {
      // Another process's port, or nobody's: never answered from here (RFC 9260 §8.4 is the
      // business of whoever owns the port).
      this.stats.ignored++;
      return;
    }
    this.stats.received++;
    // The addon's buffer is reused for the next packet (package note 7): copy the SCTP packet out.
    receiver(new Uint8Array(buffer.subarray(start)), { address: source }, local);
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port <= 0 || port > 0xffff) throw new RangeError(`SCTP port ${port} is out of range`);
}
