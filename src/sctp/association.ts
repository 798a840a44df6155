// One SCTP association (RFC 9260 §4): the state machine of setup (§5), the verification tag
// rules (§8.5), fault management (§8.1-§8.3), multi-homing (§6.4, §5.4) and shutdown (§9).
// Data transfer itself is Inbound and Outbound's; this file bundles what they produce into
// packets, one flush per event-loop turn (a SACK rides with the DATA of the same turn).

import { EventEmitter } from 'node:events';
import { randomBytes, randomFillSync } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { SendQueueFullError } from '../transport/sctp-provider.js';
import type { Association, AssociationDownReason, AssociationEvents, RemoteAddress } from '../transport/sctp-provider.js';
import {
  ChunkFlag,
  ChunkType,
  DATA_CHUNK_HEADER,
  decodeData,
  decodeErrorCauses,
  decodeHeartbeatInfo,
  decodeInit,
  decodeSack,
  ErrorCauseCode,
  ERROR_CAUSE_NAMES,
  errorCause,
  invalidStreamCause,
  noUserDataCause,
  ParameterType,
  protocolViolationCause,
  readU16,
  readU32,
  restartWithNewAddressesCause,
  staleCookieCause,
  unrecognizedChunkAction,
  unrecognizedChunkCause,
  unrecognizedParametersCause,
  UnrecognizedAction,
  userInitiatedAbortCause,
  writeU16,
  writeU32,
  type InitChunk,
} from './chunk.js';
import type { Clock, TimerHandle } from './clock.js';
import type { StateCookie } from './cookie.js';
import { Inbound } from './inbound.js';
import type { DataChunk, SackInfo } from './data-chunk.js';
import type { LowerLayer, PeerTransport } from './lower-layer.js';
import type { ResolvedSctpOptions } from './options.js';
import { Outbound, type RetransmissionCounts } from './outbound.js';
import { COMMON_HEADER, PacketWriter, type PacketReader } from './packet.js';
import { Path } from './path.js';

/** Association states (RFC 9260 §4). */
export const State = {
  CLOSED: 0,
  COOKIE_WAIT: 1,
  COOKIE_ECHOED: 2,
  ESTABLISHED: 3,
  SHUTDOWN_PENDING: 4,
  SHUTDOWN_SENT: 5,
  SHUTDOWN_RECEIVED: 6,
  SHUTDOWN_ACK_SENT: 7,
} as const;
export type State = (typeof State)[keyof typeof State];
export const STATE_NAMES = ['CLOSED', 'COOKIE-WAIT', 'COOKIE-ECHOED', 'ESTABLISHED', 'SHUTDOWN-PENDING', 'SHUTDOWN-SENT', 'SHUTDOWN-RECEIVED', 'SHUTDOWN-ACK-SENT'] as const;

/** What the association needs of its endpoint. */
export interface AssociationHost {
  readonly lower: LowerLayer;
  readonly clock: Clock;
  readonly options: ResolvedSctpOptions;
  readonly port: number;
  readonly writer: PacketWriter;
  /** The endpoint's retransmission totals, which every association's Outbound adds to. */
  readonly stats: RetransmissionCounts;
  /** IPv4/IPv6 Address parameters of our addresses for INIT / INIT ACK (none on the wildcard). */
  readonly addressParameters: readonly Uint8Array[];
  /** Answers an INIT statelessly with an INIT ACK and a State Cookie (§5.1.3, §5.2.1, §5.2.2). */
  sendInitAck(init: InitChunk, from: PeerTransport, peerPort: number, tags: InitAckTags, to: PeerTransport): void;
  /** Authenticates and unpacks a State Cookie. */
  openCookie(bytes: Uint8Array): { ok: true; cookie: StateCookie; stalenessMs: number } | { ok: false };
  /** Claims `address` for this association in the endpoint's lookup; false if another owns it. */
  claimAddress(association: StackAssociation, address: string): boolean;
  /** The association went down: forget it. */
  released(association: StackAssociation): void;
  /** §5.2.4 action A: replaces `old` by a new association made from `cookie`; returns it. */
  restart(old: StackAssociation, cookie: StateCookie, from: PeerTransport): StackAssociation | undefined;
}

export interface InitAckTags {
  localTag: number;
  localInitialTsn: number;
  localTieTag: number;
  peerTieTag: number;
}

let nextAssociationId = 1;

/** Lines a peer's packets can make us log per LOG_INTERVAL_MS, per association (or endpoint). */
const LOG_LINES_PER_INTERVAL = 5;
const LOG_INTERVAL_MS = 10_000;

/**
 * A log a peer must not be able to flood (every line costs us, and a log that grows without
 * bound is memory and disk the peer controls): at most LOG_LINES_PER_INTERVAL lines per
 * interval; what was left out is counted and said on the next line that goes out.
 */
export class RateLimitedLog {
  #windowStart = -Infinity;
  #lines = 0;
  #suppressed = 0;
  constructor(
    readonly clock: Clock,
    readonly log: ((message: string) => void) | undefined,
  ) {}

  write(message: string): void {
    if (this.log === undefined) return;
    const now = this.clock.now();
    if (now - this.#windowStart >= LOG_INTERVAL_MS) {
      this.#windowStart = now;
      this.#lines = 0;
    }
    if (this.#lines >= LOG_LINES_PER_INTERVAL) {
      this.#suppressed++;
      return;
    }
    this.#lines++;
    if (this.#suppressed > 0) {
      message += ` (${this.#suppressed} similar line(s) left out before)`;
      this.#suppressed = 0;
    }
    this.log(message);
  }
}

/** A random 32-bit value other than 0 (§5.3.1). */
export function randomTag(): number {
  for (;;) {
    const v = randomBytes(4).readUInt32BE(0);
    if (v !== 0) return v;
  }
}

/** One peer transport address and its heartbeat (§8.3) and verification (§5.4) state. */
class PathEntry {
  hbTimer: TimerHandle | undefined = undefined;
  /** A HEARTBEAT is out and not yet acknowledged. */
  hbOutstanding = false;
  hbSentAt = 0;
  hbNonceHi = 0;
  hbNonceLo = 0;
  /** IP header bytes of this address family (v4 20, v6 40), worked out once. */
  readonly ipHeader: number;
  constructor(
    readonly path: Path,
    readonly index: number,
  ) {
    this.ipHeader = isIPv6(path.peer.address) ? 40 : 20;
  }
  get address(): string {
    return this.path.peer.address;
  }
}

interface PendingChunk {
  type: number;
  flags: number;
  causes: Uint8Array[] | undefined;
  value: Uint8Array | undefined;
}

/** Heartbeat Information we send (§3.3.5): path index, nonce, sending time. */
const HB_INFO_LENGTH = 24;
/** Bound on control chunks waiting for the next flush (hostile input cannot grow it). */
const MAX_PENDING_CONTROL = 32;

const nonceBytes = new Uint8Array(8);

export class StackAssociation extends EventEmitter<AssociationEvents> implements Association {
  readonly id = nextAssociationId++;
  readonly localPort: number;
  #remote: RemoteAddress;
  #state: State = State.CLOSED;
  #myTag = 0;
  #peerTag = 0;
  #myInitialTsn = 0;
  #paths: PathEntry[] = [];
  /**
   * The peer's listed addresses we send nothing to: we list none of ours (the wildcard), so the
   * peer knows us by the one address of the handshake only, and a packet to another of its
   * addresses may leave from another of ours (the kernel's route picks it): out of the blue for
   * the peer, answered by an ABORT that ends the association (RFC 9260 §8.4 rule 8, §8.5.1 B).
   * Still the peer's addresses: they find this association and are in remoteAddresses.
   */
  #unusedAddresses: string[] = [];
  /** The path the upper layer named or the peer's INIT came from (§6.4 primary). */
  #primary: PathEntry | undefined;
  /** Where data goes now: the primary, or another active path while it is inactive. */
  #current: PathEntry | undefined;
  #inbound: Inbound | undefined;
  #outbound: Outbound | undefined;
  #outboundStreams = 0;
  #inboundStreams = 0;
  /** Messages sent before the association was up (Outbound needs the negotiated values). */
  #early: Array<{ payload: Uint8Array; ppid: number; stream: number }> = [];
  #earlyBytes = 0;
  #errorCount = 0;
  #t1: TimerHandle | undefined = undefined;
  #t1Count = 0;
  #t1Rto = 0;
  #t2: TimerHandle | undefined = undefined;
  #sackTimer: TimerHandle | undefined = undefined;
  #flushScheduled = false;
  /** A SACK goes in the next packet (§6.2: every sackFrequency-th packet, gaps, duplicates). */
  #sackNeeded = false;
  /** DATA arrived that no SACK reported yet: it rides with the next packet we send, or the
   *  delayed-SACK timer sends it (§6.2: within sackDelay). */
  #sackOwed = false;
  /** Where the replies of this turn go: the source of the last packet that asked for one (§6.4). */
  #replyPath: PathEntry | undefined;
  /** An active address other than the one whose T3-rtx expired, for the retransmissions (§6.4.1). */
  #retransmitPath: PathEntry | undefined;
  #cookieAckNeeded = false;
  #shutdownNeeded = false;
  #shutdownAckNeeded = false;
  #pendingControl: PendingChunk[] = [];
  /** The DATA chunk being handled (Inbound keeps no reference to the record itself). */
  readonly #scratchData: DataChunk = { tsn: 0, streamId: 0, ssn: 0, ppid: 0, unordered: false, beginning: false, ending: false, immediate: false, userData: new Uint8Array(0) };
  /** The SACK being handled (Outbound keeps no reference to it). */
  readonly #scratchSack: SackInfo = { cumulativeTsnAck: 0, advertisedReceiverWindow: 0, gapAckBlocks: [], duplicateTsns: [] };
  /** Our INIT (parameters kept for retransmission and collisions, §5.2.1). */
  #initParameters: Uint8Array[] = [];
  /** The COOKIE ECHO to retransmit on T1-cookie, and an ERROR bundled with it (§3.3.3). */
  #cookieEcho: Uint8Array | undefined;
  #cookieEchoError: Uint8Array[] | undefined;
  #closeRequested = false;
  #needDrain = false;
  #downEmitted = false;
  readonly #host: AssociationHost;
  readonly #options: ResolvedSctpOptions;
  readonly #clock: Clock;
  /** What the peer's packets make us log (ERROR chunks...), rate-limited. */
  readonly #peerLog: RateLimitedLog;
  /** Error causes received in ERROR chunks (§3.3.10), each counted even when not logged. */
  peerErrorCauses = 0;

  constructor(host: AssociationHost, remote: RemoteAddress) {
    super();
    this.#host = host;
    this.#options = host.options;
    this.#clock = host.clock;
    this.#peerLog = new RateLimitedLog(host.clock, host.options.log);
    this.localPort = host.port;
    this.#remote = { ...remote };
  }

  // ------------------------------------------------------------------------------------------
  // Association interface

  get remote(): RemoteAddress {
    return this.#remote;
  }

  get remoteAddresses(): readonly string[] {
    const first = this.#current ?? this.#primary;
    const list: string[] = first ? [first.address] : [this.#remote.address];
    for (const e of this.#paths) if (e !== first) list.push(e.address);
    for (const a of this.#unusedAddresses) list.push(a);
    return list;
  }

  get state(): 'connecting' | 'up' | 'down' {
    if (this.#state === State.CLOSED) return this.#downEmitted ? 'down' : 'connecting';
    if (this.#state === State.COOKIE_WAIT || this.#state === State.COOKIE_ECHOED) return 'connecting';
    return 'up';
  }

  /** The protocol state (§4), for diagnostics and tests. */
  get protocolState(): (typeof STATE_NAMES)[number] {
    return STATE_NAMES[this.#state]!;
  }

  get outboundStreams(): number {
    return this.state === 'up' ? this.#outboundStreams : 0;
  }

  get inboundStreams(): number {
    return this.#inboundStreams;
  }

  get bufferedAmount(): number {
    return this.#earlyBytes + (this.#outbound ? this.#outbound.bufferedAmount : 0);
  }

  /** Our Verification Tag and the peer's (diagnostics and tests). */
  get tags(): { local: number; peer: number } {
    return { local: this.#myTag, peer: this.#peerTag };
  }

  /** The paths to the peer (diagnostics and tests). */
  get paths(): readonly Path[] {
    return this.#paths.map((e) => e.path);
  }

  /** The path data goes to now. */
  get currentPath(): Path | undefined {
    return this.#current?.path;
  }

  /** The peer transport address data goes to now: `remote` (the primary) until a failover
   *  moves data to another active address (§6.4.1), and back when the primary recovers. */
  get currentRemote(): RemoteAddress {
    const e = this.#current;
    if (e === undefined || e.address === this.#remote.address) return this.#remote;
    const udpPort = e.path.peer.udpPort;
    return { address: e.address, port: this.#remote.port, ...(udpPort !== undefined ? { udpPort } : {}) };
  }

  send(payload: Uint8Array, ppid: number, stream = 0): boolean {
    if (!Number.isInteger(ppid) || ppid < 0 || ppid > 0xffffffff) throw new RangeError(`ppid ${ppid} is not a 32-bit unsigned integer`);
    if (!Number.isInteger(stream) || stream < 0 || stream > 0xffff || (this.#outbound !== undefined && stream >= this.#outboundStreams)) {
      throw new RangeError(`stream ${stream} is outside the association's outbound streams`);
    }
    if (this.#state === State.CLOSED || this.#closeRequested || this.#state >= State.SHUTDOWN_PENDING) return false;
    const limit = this.#options.maxSendQueueBytes;
    if (this.#outbound === undefined) {
      if (this.#earlyBytes + payload.length > limit) throw new SendQueueFullError(this.id, limit);
      this.#early.push({ payload, ppid, stream });
      this.#earlyBytes += payload.length;
    } else {
      if (!this.#outbound.send(payload, ppid, stream, false)) throw new SendQueueFullError(this.id, limit);
      this.#scheduleFlush();
    }
    if (this.bufferedAmount > this.#options.highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  close(): void {
    if (this.#state === State.CLOSED || this.#closeRequested) return;
    this.#closeRequested = true;
    if (this.#state === State.ESTABLISHED) {
      this.#state = State.SHUTDOWN_PENDING;
      this.#maybeShutdown();
    }
    // COOKIE-WAIT/ECHOED: SHUTDOWN-PENDING is entered once up (queued data goes first).
  }

  abort(reason?: string): void {
    this.#abortWith([userInitiatedAbortCause(reason)], 'local-abort');
  }

  // ------------------------------------------------------------------------------------------
  // Setup

  /** Active open (§5.1 A): INIT, T1-init, COOKIE-WAIT. */
  start(): void {
    this.#myTag = randomTag();
    this.#myInitialTsn = randomTag();
    const entry = this.#addPath({ address: this.#remote.address, ...(this.#remote.udpPort !== undefined ? { udpPort: this.#remote.udpPort } : {}) }, true);
    this.#primary = this.#current = entry;
    this.#host.claimAddress(this, this.#remote.address);
    // §5.1.2: our addresses (none on the wildcard: the peer uses the source address), and the
    // address types we support when we list none (the peer then may pick either family).
    const params: Uint8Array[] = [...this.#host.addressParameters];
    const types = new Uint8Array(8);
    writeU16(types, 0, ParameterType.SUPPORTED_ADDRESS_TYPES);
    writeU16(types, 2, 8);
    writeU16(types, 4, ParameterType.IPV4_ADDRESS);
    writeU16(types, 6, ParameterType.IPV6_ADDRESS);
    params.push(types);
    this.#initParameters = params;
    this.#state = State.COOKIE_WAIT;
    this.#t1Count = 0;
    this.#t1Rto = this.#options.rtoInitial;
    this.#sendInit();
    this.#armT1();
  }

  /** Passive open from a valid State Cookie (§5.1.5 step 4-5): ESTABLISHED at once. */
  startFromCookie(cookie: StateCookie, from: PeerTransport): void {
    this.#myTag = cookie.localTag;
    this.#peerTag = cookie.peerTag;
    this.#myInitialTsn = cookie.localInitialTsn;
    const entry = this.#addPath(from, true); // §5.4 rule 2: where the INIT ACK went
    this.#primary = this.#current = entry;
    this.#host.claimAddress(this, from.address);
    this.#addPeerAddresses(cookie.peerAddresses, from);
    this.#setupTransfer(cookie.peerInitialTsn, cookie.peerReceiveWindow, cookie.outboundStreams, cookie.inboundStreams);
    this.#state = State.ESTABLISHED;
    this.#cookieAckNeeded = true;
    this.#scheduleFlush();
    this.#startHeartbeats();
  }

  /** Emits 'up' (the endpoint calls it after announcing a passive association). */
  announceUp(): void {
    this.#becameUp();
  }

  #sendInit(): void {
    const w = this.#host.writer;
    const entry = this.#primary!;
    w.begin(this.localPort, this.#remote.port, 0, 0xffff);
    w.addInit(ChunkType.INIT, this.#myTag, this.#options.receiveWindow, this.#options.outboundStreams, this.#options.inboundStreams, this.#myInitialTsn, this.#initParameters);
    this.#host.lower.send(w.finish(), entry.path.peer);
  }

  #armT1(): void {
    this.#clock.clearTimer(this.#t1);
    this.#t1 = this.#clock.setTimer(this.#t1Rto, this.#onT1);
  }

  /** T1-init / T1-cookie expired (§5.1 C, §5.1.6): retransmit with back-off, or give up. */
  readonly #onT1 = (): void => {
    this.#t1 = undefined;
    this.#guard(() => {
      if (this.#state !== State.COOKIE_WAIT && this.#state !== State.COOKIE_ECHOED) return;
      this.#t1Count++;
      if (this.#t1Count > this.#options.maxInitRetransmits) {
        this.#goDown('timeout');
        return;
      }
      this.#t1Rto = Math.min(this.#t1Rto * 2, this.#options.rtoMax);
      if (this.#state === State.COOKIE_WAIT) this.#sendInit();
      else this.#sendCookieEcho();
      this.#armT1();
    });
  };

  #sendCookieEcho(): void {
    const w = this.#host.writer;
    const entry = this.#primary!;
    w.begin(this.localPort, this.#remote.port, this.#peerTag, 0xffff);
    w.addChunk(ChunkType.COOKIE_ECHO, 0, this.#cookieEcho);
    if (this.#cookieEchoError) w.addCauses(ChunkType.ERROR, 0, this.#cookieEchoError);
    this.#host.lower.send(w.finish(), entry.path.peer);
  }

  #setupTransfer(peerInitialTsn: number, peerReceiveWindow: number, outboundStreams: number, inboundStreams: number): void {
    this.#outboundStreams = outboundStreams;
    this.#inboundStreams = inboundStreams;
    this.#outbound?.stop();
    const o = this.#options;
    this.#inbound = new Inbound({
      peerInitialTsn,
      inboundStreams,
      receiveWindow: o.receiveWindow,
      maxReassemblyBytes: o.maxReassemblyBytes,
      sackFrequency: o.sackFrequency,
      deliver: this.#deliver,
    });
    this.#outbound = new Outbound({
      clock: this.#clock,
      initialTsn: this.#myInitialTsn,
      peerReceiveWindow,
      outboundStreams,
      maxQueueBytes: o.maxSendQueueBytes,
      maxFragmentSize: this.#maxFragmentSize(),
      maxBurst: o.maxBurst,
      onRetransmissionTimeout: this.#onRetransmissionTimeout,
      onSendable: this.#onSendable,
      totals: this.#host.stats,
    });
  }

  readonly #deliver = (payload: Uint8Array, ppid: number, streamId: number): void => {
    this.emit('message', payload, ppid, streamId);
  };

  readonly #onSendable = (): void => {
    this.#scheduleFlush();
  };

  /** §6.9: user data per DATA chunk on the smallest path MTU. */
  #maxFragmentSize(): number {
    let smallest = Infinity;
    for (const e of this.#paths) smallest = Math.min(smallest, this.#packetLimit(e));
    if (!Number.isFinite(smallest)) smallest = this.#options.mtu - 40;
    return Math.max(64, smallest - COMMON_HEADER - DATA_CHUNK_HEADER);
  }

  /** Bytes of SCTP packet that fit the path MTU: minus IP (v4 20, v6 40) and UDP (8) headers. */
  #packetLimit(e: PathEntry): number {
    const udp = this.#host.lower.mode === 'udp' ? 8 : 0;
    return e.path.mtu - e.ipHeader - udp;
  }

  #becameUp(): void {
    // Messages sent while connecting go first, in order.
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const m of early) {
      if (m.stream >= this.#outboundStreams) {
        this.#options.log?.(`association ${this.id}: message on stream ${m.stream} dropped, the peer allows ${this.#outboundStreams}`);
        continue;
      }
      this.#outbound!.send(m.payload, m.ppid, m.stream, false);
    }
    if (this.#closeRequested && this.#state === State.ESTABLISHED) this.#state = State.SHUTDOWN_PENDING;
    this.#scheduleFlush();
    this.emit('up');
    this.#maybeShutdown();
    this.#maybeDrain();
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  /**
   * Handles a packet for this association from chunk `first` on (after a COOKIE ECHO the
   * endpoint handled). The verification tag rules of §8.5 and §8.5.1 apply first.
   */
  receive(r: PacketReader, from: PeerTransport, first = 0, tagChecked = false): void {
    if (this.#state === State.CLOSED) return;
    const vtag = r.verificationTag;
    const type0 = r.types[first]!;
    const source = this.#notePeer(from);
    if (!tagChecked) {
      if (type0 === ChunkType.INIT) {
        // §8.5.1 A: an INIT is alone in its packet, with Verification Tag 0.
        if (vtag === 0 && r.count === 1) this.#onInit(r, from);
        return;
      }
      if (type0 === ChunkType.COOKIE_ECHO) {
        // §8.5.1 D: the tag is checked against the cookie (§5.2.4).
        this.#onCookieEcho(r, from);
        return;
      }
      if (vtag !== this.#myTag) {
        this.#wrongTag(r, from);
        return;
      }
    }
    let gotData = false;
    const b = r.bytes;
    for (let i = first; i < r.count; i++) {
      if (this.#isClosed()) return;
      const type = r.types[i]!;
      const o = r.offsets[i]!;
      const len = r.lengths[i]!;
      switch (type) {
        case ChunkType.DATA:
          if (this.#onData(b, o, len)) gotData = true;
          else if (this.#isClosed()) return;
          break;
        case ChunkType.SACK:
          this.#onSack(b, o, len);
          break;
        case ChunkType.HEARTBEAT:
          this.#onHeartbeat(b, o, len, from);
          break;
        case ChunkType.HEARTBEAT_ACK:
          this.#onHeartbeatAck(b, o, len);
          break;
        case ChunkType.INIT_ACK:
          if (i === first) this.#onInitAck(r, i, from);
          break;
        case ChunkType.COOKIE_ACK:
          this.#onCookieAck();
          break;
        case ChunkType.ABORT:
          // §8.5.1 B: with the T bit the tag must be the peer's; we are here with ours.
          if ((r.flags[i]! & ChunkFlag.T) === 0 || this.#peerTag === this.#myTag) this.#onAbort(b, o, len);
          return;
        case ChunkType.SHUTDOWN:
          this.#onShutdown(b, o, len);
          break;
        case ChunkType.SHUTDOWN_ACK:
          this.#onShutdownAck(r, from);
          break;
        case ChunkType.SHUTDOWN_COMPLETE:
          if ((r.flags[i]! & ChunkFlag.T) === 0 && this.#state === State.SHUTDOWN_ACK_SENT) this.#goDown('shutdown');
          return;
        case ChunkType.ERROR:
          this.#onError(b, o, len);
          break;
        case ChunkType.INIT:
        case ChunkType.COOKIE_ECHO:
          // Not first in the packet: §8.5.1 A discards the packet with an INIT; a COOKIE ECHO
          // only counts first.
          if (type === ChunkType.INIT) return;
          break;
        case ChunkType.ECNE:
        case ChunkType.CWR:
          break; // we never advertise ECN capability
        default:
          if (!this.#unrecognizedChunk(r, i)) i = r.count;
      }
    }
    if (source !== undefined && (gotData || this.#pendingControl.length > 0)) this.#replyPath = source;
    if (gotData && this.#inbound) {
      this.#sackOwed = true;
      if (this.#inbound.packetDone()) this.#sackNow();
      // A flush already scheduled in this turn (the upper layer answered at once) carries the
      // SACK with its DATA; otherwise the delayed-SACK timer (§6.2) runs.
      else if (!this.#flushScheduled) this.#armSackTimer();
    }
  }

  /** RFC 6951 §5.4: the UDP port of a path follows the peer's last packet from it. */
  #notePeer(from: PeerTransport): PathEntry | undefined {
    const paths = this.#paths;
    for (let i = 0; i < paths.length; i++) {
      const e = paths[i]!;
      if (e.path.peer.address === from.address) {
        if (from.udpPort !== undefined && e.path.peer.udpPort !== from.udpPort) e.path.peer.udpPort = from.udpPort;
        return e;
      }
    }
    return undefined;
  }

  /** A packet whose Verification Tag is not ours (§8.5, §8.5.1 B, C, E). */
  #wrongTag(r: PacketReader, from: PeerTransport): void {
    const vtag = r.verificationTag;
    for (let i = 0; i < r.count; i++) {
      const type = r.types[i]!;
      const tBit = (r.flags[i]! & ChunkFlag.T) !== 0;
      if (type === ChunkType.ABORT) {
        if (tBit && this.#peerTag !== 0 && vtag === this.#peerTag) this.#onAbort(r.bytes, r.offsets[i]!, r.lengths[i]!);
        return;
      }
      if (type === ChunkType.SHUTDOWN_COMPLETE) {
        if (tBit && this.#peerTag !== 0 && vtag === this.#peerTag && this.#state === State.SHUTDOWN_ACK_SENT) this.#goDown('shutdown');
        return;
      }
      if (type === ChunkType.SHUTDOWN_ACK && (this.#state === State.COOKIE_WAIT || this.#state === State.COOKIE_ECHOED)) {
        // §8.5.1 E: handled as out of the blue (§8.4 item 5).
        this.#sendSingle(from, vtag, ChunkType.SHUTDOWN_COMPLETE, ChunkFlag.T, undefined);
        return;
      }
    }
    // Otherwise silently discarded (§8.5).
  }

  #unrecognizedChunk(r: PacketReader, i: number): boolean {
    const action = unrecognizedChunkAction(r.types[i]!);
    if (action === UnrecognizedAction.STOP_REPORT || action === UnrecognizedAction.SKIP_REPORT) {
      this.#queueControl(ChunkType.ERROR, 0, [unrecognizedChunkCause(r.chunk(i))]);
    }
    return action === UnrecognizedAction.SKIP || action === UnrecognizedAction.SKIP_REPORT;
  }

  /** Returns true when the chunk counts as DATA received (for the SACK rules). */
  #onData(b: Uint8Array, o: number, len: number): boolean {
    // §6: DATA is received in ESTABLISHED, SHUTDOWN-PENDING and SHUTDOWN-SENT only.
    const s = this.#state;
    if (s !== State.ESTABLISHED && s !== State.SHUTDOWN_PENDING && s !== State.SHUTDOWN_SENT) return false;
    const chunk = decodeData(b, o, len, this.#scratchData);
    if (chunk === undefined) return false;
    if (chunk.userData.length === 0) {
      // §6.2: a DATA chunk without user data ABORTs the association with "No User Data".
      this.#abortWith([noUserDataCause(chunk.tsn)], 'abort');
      return false;
    }
    const verdict = this.#inbound!.onData(chunk);
    if (verdict === 'invalid-stream') this.#queueControl(ChunkType.ERROR, 0, [invalidStreamCause(chunk.streamId)]);
    if (s === State.SHUTDOWN_SENT) this.#shutdownNeeded = true; // §9.2: SHUTDOWN with each SACK
    return true;
  }

  #onSack(b: Uint8Array, o: number, len: number): void {
    const s = this.#state;
    if (s !== State.ESTABLISHED && s !== State.SHUTDOWN_PENDING && s !== State.SHUTDOWN_RECEIVED && s !== State.SHUTDOWN_SENT) return;
    const sack = decodeSack(b, o, len, this.#scratchSack);
    if (sack === undefined || this.#outbound === undefined) return;
    if (this.#outbound.onSack(sack)) {
      this.#errorCount = 0; // §8.1
      this.#scheduleFlush();
      this.#maybeShutdown();
      this.#maybeDrain();
    }
  }

  #maybeDrain(): void {
    if (this.#needDrain && this.bufferedAmount <= this.#options.highWaterMark && this.#state !== State.CLOSED) {
      this.#needDrain = false;
      this.emit('drain');
    }
  }

  #armSackTimer(): void {
    if (this.#sackTimer === undefined) this.#sackTimer = this.#clock.setTimer(this.#options.sackDelay, this.#onSackTimer);
  }

  readonly #onSackTimer = (): void => {
    this.#sackTimer = undefined;
    if (this.#sackOwed) this.#guard(() => this.#sackNow());
  };

  #sackNow(): void {
    this.#sackNeeded = true;
    this.#scheduleFlush();
  }

  /** §5.2.1, §5.2.2: an INIT for an existing association. */
  #onInit(r: PacketReader, from: PeerTransport): void {
    const init = decodeInit(r.bytes, r.offsets[0]!, r.lengths[0]!);
    if (init === undefined) return;
    if (init.invalid !== undefined) {
      if (init.initiateTag !== 0) {
        this.#sendSingle(from, init.initiateTag, ChunkType.ABORT, 0, [errorCause(ErrorCauseCode.INVALID_MANDATORY_PARAMETER)]);
      }
      return;
    }
    const s = this.#state;
    if (s === State.SHUTDOWN_ACK_SENT) {
      // §9.2: discard the INIT and retransmit the SHUTDOWN ACK.
      this.#shutdownAckNeeded = true;
      this.#scheduleFlush();
      return;
    }
    if (s !== State.COOKIE_WAIT) {
      const known = new Set(this.remoteAddresses);
      const added = init.addresses.filter((a) => !known.has(a));
      if (added.length > 0) {
        // §5.2.1 (COOKIE-ECHOED), §5.2.2: new addresses: ABORT with the INIT's tag, change nothing.
        this.#sendSingle(from, init.initiateTag, ChunkType.ABORT, 0, [restartWithNewAddressesCause(added)]);
        return;
      }
    }
    if (s === State.COOKIE_WAIT || s === State.COOKIE_ECHOED) {
      // §5.2.1: our original parameters, to where our INIT went; tie-tags in COOKIE-ECHOED.
      const tags: InitAckTags = {
        localTag: this.#myTag,
        localInitialTsn: this.#myInitialTsn,
        localTieTag: s === State.COOKIE_ECHOED ? this.#myTag : 0,
        peerTieTag: s === State.COOKIE_ECHOED ? this.#peerTag : 0,
      };
      this.#host.sendInitAck(init, from, r.sourcePort, tags, this.#primary!.path.peer);
      return;
    }
    // §5.2.2: a new Initiate Tag, our current tags as the tie-tags; nothing else changes.
    this.#host.sendInitAck(init, from, r.sourcePort, { localTag: randomTag(), localInitialTsn: randomTag(), localTieTag: this.#myTag, peerTieTag: this.#peerTag }, from);
  }

  /** §5.1 C, §5.2.3: the INIT ACK, in COOKIE-WAIT only. */
  #onInitAck(r: PacketReader, i: number, from: PeerTransport): void {
    if (this.#state !== State.COOKIE_WAIT) return;
    const init = decodeInit(r.bytes, r.offsets[i]!, r.lengths[i]!);
    if (init === undefined) return;
    if (init.invalid !== undefined || init.stateCookie === undefined) {
      const cause = init.stateCookie === undefined ? errorCause(ErrorCauseCode.MISSING_MANDATORY_PARAMETER, missingCookie()) : errorCause(ErrorCauseCode.INVALID_MANDATORY_PARAMETER);
      this.#peerTag = init.initiateTag;
      this.#abortWith([cause], 'abort');
      return;
    }
    if (init.hostNameAddress) {
      // RFC 9260 §3.3.2.1: a Host Name Address is not supported: ABORT, Unresolvable Address.
      this.#peerTag = init.initiateTag;
      this.#abortWith([errorCause(ErrorCauseCode.UNRESOLVABLE_ADDRESS)], 'abort');
      return;
    }
    this.#peerTag = init.initiateTag;
    this.#addPeerAddresses(init.addresses, from);
    const outbound = Math.min(this.#options.outboundStreams, init.inboundStreams);
    const inbound = Math.min(this.#options.inboundStreams, init.outboundStreams, this.#options.maxInboundStreams);
    this.#setupTransfer(init.initialTsn, init.advertisedReceiverWindow, outbound, inbound);
    this.#cookieEcho = Uint8Array.from(init.stateCookie); // kept for retransmission
    this.#cookieEchoError = init.unrecognized.length > 0 ? [unrecognizedParametersCause(init.unrecognized)] : undefined;
    this.#state = State.COOKIE_ECHOED;
    this.#t1Count = 0;
    this.#t1Rto = this.#primary!.path.rto;
    this.#sendCookieEcho();
    this.#armT1();
  }

  #onCookieAck(): void {
    if (this.#state !== State.COOKIE_ECHOED) return; // §5.2.5
    this.#clock.clearTimer(this.#t1);
    this.#t1 = undefined;
    this.#state = State.ESTABLISHED;
    this.#cookieEcho = undefined;
    this.#cookieEchoError = undefined;
    this.#startHeartbeats();
    this.#becameUp();
  }

  /** §5.2.4: a COOKIE ECHO while a TCB exists. */
  #onCookieEcho(r: PacketReader, from: PeerTransport): void {
    const bytes = r.chunk(0).subarray(4);
    const verdict = this.#host.openCookie(bytes);
    if (!verdict.ok) return; // §5.1.5 step 2: silently discarded
    const c = verdict.cookie;
    if (r.verificationTag !== c.localTag || c.peerPort !== r.sourcePort || c.localPort !== this.localPort || c.peerAddresses[0] !== from.address) return;
    const myTag = this.#myTag;
    const peerTag = this.#peerTag;
    const tagsMatch = c.localTag === myTag && c.peerTag === peerTag;
    if (verdict.stalenessMs > 0 && !tagsMatch) {
      // §5.2.4 step 3: stale and not ours: discard the packet, report "Stale Cookie".
      this.#sendSingle(from, c.peerTag, ChunkType.ERROR, 0, [staleCookieCause(verdict.stalenessMs)]);
      return;
    }
    let rest = true;
    if (c.localTag !== myTag && c.peerTag !== peerTag && peerTag !== 0 && c.localTieTag === myTag && c.peerTieTag === peerTag) {
      // Action A: the peer restarted.
      if (this.#state === State.SHUTDOWN_ACK_SENT) {
        this.#shutdownAckNeeded = true;
        this.#queueControl(ChunkType.ERROR, 0, [errorCause(ErrorCauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN)]);
        this.#scheduleFlush();
        return;
      }
      const fresh = this.#host.restart(this, c, from);
      if (fresh !== undefined && r.count > 1) fresh.receive(r, from, 1, true);
      return;
    } else if (c.localTag === myTag && (c.peerTag !== peerTag || peerTag === 0)) {
      // Action B: collision; the peer's tag (and its TSN space) comes from the cookie.
      this.#peerTag = c.peerTag;
      this.#addPeerAddresses(c.peerAddresses, from);
      this.#setupTransfer(c.peerInitialTsn, c.peerReceiveWindow, c.outboundStreams, c.inboundStreams);
      this.#enterEstablishedFromCookie();
    } else if (c.localTag !== myTag && c.peerTag === peerTag && c.localTieTag === 0 && c.peerTieTag === 0) {
      return; // Action C: a late cookie, silently discarded
    } else if (tagsMatch) {
      // Action D (and case E, a retransmitted COOKIE ECHO).
      if (this.#state === State.COOKIE_ECHOED) this.#enterEstablishedFromCookie();
      else {
        this.#cookieAckNeeded = true;
        this.#scheduleFlush();
      }
    } else {
      rest = false; // not in Table 2: silently discarded
    }
    if (rest && r.count > 1) this.receive(r, from, 1, true);
  }

  #enterEstablishedFromCookie(): void {
    this.#clock.clearTimer(this.#t1);
    this.#t1 = undefined;
    this.#cookieAckNeeded = true;
    this.#scheduleFlush();
    if (this.#state === State.COOKIE_WAIT || this.#state === State.COOKIE_ECHOED) {
      this.#state = State.ESTABLISHED;
      this.#cookieEcho = undefined;
      this.#startHeartbeats();
      this.#becameUp();
    }
  }

  #onAbort(b: Uint8Array, o: number, len: number): void {
    const causes = decodeErrorCauses(b, o, len);
    if (causes && causes.length > 0 && this.#options.log) {
      this.#options.log(`association ${this.id}: ABORT from the peer: ${causes.map((c) => ERROR_CAUSE_NAMES[c.code] ?? `cause ${c.code}`).join(', ')}`);
    }
    this.#goDown('abort');
  }

  #onError(b: Uint8Array, o: number, len: number): void {
    const causes = decodeErrorCauses(b, o, len);
    if (causes === undefined) return;
    for (const c of causes) {
      if (c.code === ErrorCauseCode.STALE_COOKIE && this.#state === State.COOKIE_ECHOED) {
        // §5.2.6 alternative 1: a new INIT for a new cookie (counted as a T1 retransmission).
        this.#t1Count++;
        if (this.#t1Count > this.#options.maxInitRetransmits) {
          this.#goDown('timeout');
          return;
        }
        this.#state = State.COOKIE_WAIT;
        this.#peerTag = 0;
        this.#sendInit();
        this.#armT1();
        return;
      }
      this.peerErrorCauses++;
      this.#peerLog.write(`association ${this.id}: ERROR from the peer: ${ERROR_CAUSE_NAMES[c.code] ?? `cause ${c.code}`}`);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Shutdown (§9.2)

  #onShutdown(b: Uint8Array, o: number, len: number): void {
    if (len < 8) return;
    const s = this.#state;
    if (s === State.SHUTDOWN_SENT) {
      // Both ends shut down: SHUTDOWN ACK at once, T2 restarted.
      this.#state = State.SHUTDOWN_ACK_SENT;
      this.#shutdownAckNeeded = true;
      this.#armT2();
      this.#scheduleFlush();
      return;
    }
    if (s !== State.ESTABLISHED && s !== State.SHUTDOWN_PENDING && s !== State.SHUTDOWN_RECEIVED) return;
    this.#outbound?.onCumulativeAck(readU32(b, o + 4));
    this.#state = State.SHUTDOWN_RECEIVED;
    this.#maybeShutdown();
  }

  #onShutdownAck(r: PacketReader, from: PeerTransport): void {
    const s = this.#state;
    if (s === State.COOKIE_WAIT || s === State.COOKIE_ECHOED) {
      this.#sendSingle(from, r.verificationTag, ChunkType.SHUTDOWN_COMPLETE, ChunkFlag.T, undefined);
      return;
    }
    if (s !== State.SHUTDOWN_SENT && s !== State.SHUTDOWN_ACK_SENT) return;
    this.#sendSingle(this.#current!.path.peer, this.#peerTag, ChunkType.SHUTDOWN_COMPLETE, 0, undefined);
    this.#goDown('shutdown');
  }

  /** Sends SHUTDOWN or SHUTDOWN ACK once nothing is outstanding (§9.2). */
  #maybeShutdown(): void {
    const s = this.#state;
    if (s !== State.SHUTDOWN_PENDING && s !== State.SHUTDOWN_RECEIVED) return;
    if (this.#outbound !== undefined && !this.#outbound.idle) return;
    if (s === State.SHUTDOWN_PENDING) {
      this.#state = State.SHUTDOWN_SENT;
      this.#shutdownNeeded = true;
    } else {
      this.#state = State.SHUTDOWN_ACK_SENT;
      this.#shutdownAckNeeded = true;
    }
    this.#armT2();
    this.#scheduleFlush();
  }

  #armT2(): void {
    this.#clock.clearTimer(this.#t2);
    this.#t2 = this.#clock.setTimer(this.#current!.path.rto, this.#onT2);
  }

  /** T2-shutdown expired (§9.2): retransmit, counting errors (§8.1). */
  readonly #onT2 = (): void => {
    this.#t2 = undefined;
    this.#guard(() => {
      const s = this.#state;
      if (s !== State.SHUTDOWN_SENT && s !== State.SHUTDOWN_ACK_SENT) return;
      const entry = this.#current!;
      entry.path.backOff();
      if (this.#countAssociationError()) return;
      this.#pathError(entry);
      if (s === State.SHUTDOWN_SENT) this.#shutdownNeeded = true;
      else this.#shutdownAckNeeded = true;
      this.#armT2();
      this.#scheduleFlush();
    });
  };

  // ------------------------------------------------------------------------------------------
  // Fault management (§8)

  /** §8.1: true when Association.Max.Retrans was exceeded and the association went down. */
  #countAssociationError(): boolean {
    this.#errorCount++;
    if (this.#errorCount > this.#options.associationMaxRetrans) {
      this.#abortWith([protocolViolationCause('Association.Max.Retrans exceeded')], 'timeout');
      return true;
    }
    return false;
  }

  /** §8.2: an error on a path; an inactive primary hands over to another active path. */
  #pathError(e: PathEntry): void {
    if (e.path.countError()) {
      this.#peerLog.write(`association ${this.id}: path ${e.address} inactive`);
      if (e === this.#current) this.#selectPath();
      this.#outbound?.pathFailed(e.path);
      this.#scheduleFlush();
    }
  }

  /** The primary when it is active and confirmed, else another active confirmed path (§6.4.1). */
  #selectPath(): void {
    const p = this.#primary;
    if (p && p.path.active && p.path.confirmed) {
      this.#current = p;
      return;
    }
    for (const e of this.#paths) {
      if (e.path.active && e.path.confirmed) {
        this.#current = e;
        return;
      }
    }
    // None active: stay where we are (the peer may come back).
  }

  readonly #onRetransmissionTimeout = (path: Path): void => {
    this.#guard(() => {
      if (this.#state === State.CLOSED) return;
      if (this.#countAssociationError()) return;
      const e = this.#paths.find((x) => x.path === path);
      if (e) this.#pathError(e);
      // §6.4.1: retransmit to an active address other than the one that timed out, if any
      // (the current path when the failed one is no longer in use).
      this.#retransmitPath = undefined;
      if (e !== undefined && this.#paths.length > 1) {
        const current = this.#current;
        if (current !== undefined && current !== e && current.path.active && current.path.confirmed) this.#retransmitPath = current;
        else for (const x of this.#paths) if (x !== e && x.path.active && x.path.confirmed) {
          this.#retransmitPath = x;
          break;
        }
      }
      this.#scheduleFlush();
    });
  };

  #startHeartbeats(): void {
    for (const e of this.#paths) this.#armHeartbeat(e, e.path.confirmed ? this.#hbDelay(e) : 0);
  }

  /** §8.3: RTO + HB.interval, jittered by +/- 50 % of the RTO. */
  #hbDelay(e: PathEntry): number {
    return this.#options.hbInterval + e.path.rto * (0.5 + Math.random());
  }

  #armHeartbeat(e: PathEntry, delay: number): void {
    this.#clock.clearTimer(e.hbTimer);
    e.hbTimer = this.#clock.setTimer(delay, () => {
      e.hbTimer = undefined;
      this.#guard(() => this.#onHeartbeatTimer(e));
    });
  }

  #onHeartbeatTimer(e: PathEntry): void {
    if (this.#state === State.CLOSED || this.#state < State.ESTABLISHED) return;
    if (e.hbOutstanding) {
      // Not acknowledged within one RTO (§8.3): count it, back off.
      e.hbOutstanding = false;
      e.path.backOff();
      if (e.path.confirmed && this.#countAssociationError()) return;
      this.#pathError(e);
      if (e.path.confirmed || !e.path.active) {
        this.#armHeartbeat(e, this.#hbDelay(e) - e.path.rto);
        return;
      }
    }
    // A path with data in flight is watched by T3-rtx already.
    if (e.path.confirmed && e.path.flightSize > 0) {
      this.#armHeartbeat(e, this.#hbDelay(e));
      return;
    }
    this.#sendHeartbeat(e);
    this.#armHeartbeat(e, e.path.rto);
  }

  #sendHeartbeat(e: PathEntry): void {
    randomFillSync(nonceBytes);
    e.hbNonceHi = readU32(nonceBytes, 0);
    e.hbNonceLo = readU32(nonceBytes, 4);
    e.hbSentAt = this.#clock.now();
    e.hbOutstanding = true;
    const info = new Uint8Array(HB_INFO_LENGTH);
    writeU16(info, 0, ParameterType.HEARTBEAT_INFO);
    writeU16(info, 2, HB_INFO_LENGTH);
    writeU16(info, 4, e.index);
    writeU32(info, 8, e.hbNonceHi);
    writeU32(info, 12, e.hbNonceLo);
    new DataView(info.buffer).setFloat64(16, e.hbSentAt);
    this.#sendSingle(e.path.peer, this.#peerTag, ChunkType.HEARTBEAT, 0, info);
  }

  #onHeartbeat(b: Uint8Array, o: number, len: number, from: PeerTransport): void {
    if (this.#state < State.COOKIE_ECHOED) return;
    const info = decodeHeartbeatInfo(b, o, len);
    if (info === undefined) return;
    // §8.3: the HEARTBEAT ACK goes back to the source address, with the info unchanged.
    this.#sendSingle(from, this.#peerTag, ChunkType.HEARTBEAT_ACK, 0, info);
  }

  #onHeartbeatAck(b: Uint8Array, o: number, len: number): void {
    const info = decodeHeartbeatInfo(b, o, len);
    if (info === undefined || info.length !== HB_INFO_LENGTH) return;
    const e = this.#paths[readU16(info, 4)];
    // A wrong nonce (forged, or an old HEARTBEAT) is ignored (§5.4, §8.3).
    if (e === undefined || !e.hbOutstanding || readU32(info, 8) !== e.hbNonceHi || readU32(info, 12) !== e.hbNonceLo) return;
    e.hbOutstanding = false;
    e.path.measureRtt(this.#clock.now() - e.hbSentAt);
    const wasUsable = e.path.active && e.path.confirmed;
    e.path.confirmReachable();
    e.path.confirmed = true;
    this.#errorCount = 0; // §8.1
    if (!wasUsable) {
      this.#selectPath(); // back to the primary when it recovers
      this.#scheduleFlush();
    }
    this.#armHeartbeat(e, this.#hbDelay(e));
  }

  // ------------------------------------------------------------------------------------------
  // Paths

  #addPath(peer: PeerTransport, confirmed: boolean): PathEntry {
    const o = this.#options;
    const path = new Path({ address: peer.address, ...(peer.udpPort !== undefined ? { udpPort: peer.udpPort } : {}) }, { rtoInitial: o.rtoInitial, rtoMin: o.rtoMin, rtoMax: o.rtoMax, mtu: o.mtu, pathMaxRetrans: o.pathMaxRetrans }, this.#clock);
    path.confirmed = confirmed;
    const e = new PathEntry(path, this.#paths.length);
    this.#paths.push(e);
    return e;
  }

  /**
   * The peer's addresses from INIT / INIT ACK / cookie (§5.1.2), unconfirmed (§5.4). When we
   * listed none of ours, they are known but not sent to (see #unusedAddresses).
   */
  #addPeerAddresses(addresses: readonly string[], from: PeerTransport): void {
    const sendable = this.#host.addressParameters.length > 0;
    for (const a of addresses) {
      if (this.#paths.length + this.#unusedAddresses.length >= 16) break;
      if (this.#paths.some((e) => e.address === a) || this.#unusedAddresses.includes(a)) continue;
      if (!this.#host.claimAddress(this, a)) continue; // another association owns it: hostile or stale
      if (!sendable) {
        this.#unusedAddresses.push(a);
        continue;
      }
      const entry = this.#addPath({ address: a, ...(from.udpPort !== undefined ? { udpPort: from.udpPort } : {}) }, false);
      if (this.#state >= State.ESTABLISHED) this.#armHeartbeat(entry, 0);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sending

  #queueControl(type: number, flags: number, causes: Uint8Array[] | undefined, value?: Uint8Array): void {
    if (this.#pendingControl.length >= MAX_PENDING_CONTROL) return;
    this.#pendingControl.push({ type, flags, causes, value });
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#clock.defer(this.#flush);
  }

  /** One packet train per turn: control chunks first (§6.10), the SACK, then DATA. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    try {
      this.#flushNow();
    } catch (error) {
      this.failed(error);
    }
  };

  #flushNow(): void {
    if (this.#state === State.CLOSED || this.#peerTag === 0) return;
    const e = this.#current;
    if (e === undefined) return;
    const w = this.#host.writer;
    // §6.4: replies (SACK, COOKIE ACK, SHUTDOWN ACK, ERROR) go to the source address of the
    // packet they answer; with DATA bundled too when that is where data goes anyway.
    const replyPath = this.#replyPath;
    this.#replyPath = undefined;
    // Never to an UNCONFIRMED address (§5.4: only HEARTBEATs and their ACKs go there).
    let to = replyPath !== undefined && replyPath !== e && replyPath.path.confirmed && replyPath.path.active ? replyPath : e;
    let limit = this.#packetLimit(to);
    w.begin(this.localPort, this.#remote.port, this.#peerTag, limit);
    if (this.#cookieAckNeeded) {
      this.#cookieAckNeeded = false;
      w.addEmpty(ChunkType.COOKIE_ACK);
    }
    if (this.#pendingControl.length > 0) {
      const pending = this.#pendingControl;
      this.#pendingControl = [];
      for (const c of pending) {
        if (w.chunkCount > 0 && w.room() < 4 + (c.value?.length ?? 0) + (c.causes ? c.causes.reduce((n, x) => n + x.length + 3, 0) : 0)) this.#transmit(to, limit);
        if (c.causes) w.addCauses(c.type, c.flags, c.causes);
        else w.addChunk(c.type, c.flags, c.value);
      }
    }
    if (this.#shutdownAckNeeded) {
      this.#shutdownAckNeeded = false;
      if (w.room() < 4) this.#transmit(to, limit);
      w.addEmpty(ChunkType.SHUTDOWN_ACK);
    }
    const s = this.#state;
    const out = this.#outbound;
    const dataAllowed = out !== undefined && (s === State.ESTABLISHED || s === State.SHUTDOWN_PENDING || s === State.SHUTDOWN_RECEIVED);
    // A SACK owed rides with whatever this turn sends (§6.2: "the SACK SHOULD be bundled with
    // outbound DATA"), which also spares the delayed-SACK timer.
    if (this.#inbound && (this.#sackNeeded || (this.#sackOwed && (w.chunkCount > 0 || this.#shutdownNeeded || (dataAllowed && out!.hasSendable))))) {
      this.#sackNeeded = false;
      this.#sackOwed = false;
      // The delayed-SACK timer, if armed, stays: it finds nothing owed, or DATA that came
      // since, SACKed sooner than sackDelay. (Cleared and armed anew per message, it was a
      // timer object per message received.)
      if (w.room() < 64 && w.chunkCount > 0) this.#transmit(to, limit);
      w.addSack(this.#inbound.sack(Math.max(16, w.room())));
    }
    if (to !== e) {
      // The replies leave on their own; what follows is not a reply and goes where data goes.
      if (w.chunkCount > 0) this.#send(to);
      to = e;
      limit = this.#packetLimit(e);
      w.begin(this.localPort, this.#remote.port, this.#peerTag, limit);
    }
    if (this.#shutdownNeeded && this.#inbound) {
      this.#shutdownNeeded = false;
      if (w.room() < 8) this.#transmit(e, limit);
      w.addShutdown((this.#inbound.cumulativeTsn) >>> 0);
    }
    if (out !== undefined && dataAllowed) {
      out.beginFlush(this.#clock.now());
      // §6.4.1: chunks that timed out go to another active address when the peer has one.
      const alternate = this.#retransmitPath;
      if (alternate !== undefined) {
        if (out.retransmitPending === 0 || !alternate.path.active || alternate === e) this.#retransmitPath = undefined;
        else {
          if (w.chunkCount > 0) this.#send(e);
          const altLimit = this.#packetLimit(alternate);
          w.begin(this.localPort, this.#remote.port, this.#peerTag, altLimit);
          this.#fill(out, alternate, altLimit, true);
          if (w.chunkCount > 0) this.#send(alternate);
          w.begin(this.localPort, this.#remote.port, this.#peerTag, limit);
        }
      }
      this.#fill(out, e, limit, false);
      out.endFlush();
    }
    if (w.chunkCount > 0) this.#send(e);
    if (this.#sackOwed) this.#armSackTimer();
  }

  /** DATA for `e` into the writer's packet and as many more packets as Outbound allows; the
   *  last packet is left open (it may be empty). */
  #fill(out: Outbound, e: PathEntry, limit: number, retransmissionsOnly: boolean): void {
    const w = this.#host.writer;
    const path = e.path;
    for (;;) {
      const chunk = out.nextChunk(path, w.room(), retransmissionsOnly);
      if (chunk !== undefined) {
        w.addData(chunk);
        continue;
      }
      if (w.chunkCount === 0) return;
      this.#transmit(e, limit);
      const next = out.nextChunk(path, w.room(), retransmissionsOnly);
      if (next === undefined) return;
      w.addData(next);
    }
  }

  /** Sends the writer's packet to `e`. */
  #send(e: PathEntry): void {
    this.#host.lower.send(this.#host.writer.finish(), e.path.peer);
  }

  /** Sends the writer's packet to `e` and begins the next one to it. */
  #transmit(e: PathEntry, limit: number): void {
    const w = this.#host.writer;
    this.#host.lower.send(w.finish(), e.path.peer);
    w.begin(this.localPort, this.#remote.port, this.#peerTag, limit);
  }

  /** A packet of one chunk, now, to `to` (HEARTBEAT, HEARTBEAT ACK, ABORT, SHUTDOWN COMPLETE...). */
  #sendSingle(to: PeerTransport, vtag: number, type: number, flags: number, value: Uint8Array | Uint8Array[] | undefined): void {
    const w = this.#host.writer;
    w.begin(this.localPort, this.#remote.port, vtag, 0xffff);
    if (Array.isArray(value)) w.addCauses(type, flags, value);
    else w.addChunk(type, flags, value);
    this.#host.lower.send(w.finish(), to);
  }

  // ------------------------------------------------------------------------------------------
  // Ending

  /** Sends ABORT (§9.1) with `causes` when the peer knows us, and goes down. */
  #abortWith(causes: Uint8Array[], reason: AssociationDownReason): void {
    if (this.#state === State.CLOSED) return;
    const e = this.#current ?? this.#primary;
    if (e !== undefined) {
      // In COOKIE-WAIT the peer's tag is unknown and the peer holds no state (§5.1.3): no ABORT.
      if (this.#peerTag !== 0) this.#sendSingle(e.path.peer, this.#peerTag, ChunkType.ABORT, 0, causes);
    }
    this.#goDown(reason);
  }

  /** The endpoint closes: ABORT and 'endpoint-closed'. */
  endpointClosing(): void {
    this.#abortWith([userInitiatedAbortCause('endpoint closed')], 'endpoint-closed');
  }

  /** An exception inside the stack while handling this association: ABORT it (logged). */
  failed(error: unknown): void {
    this.#options.log?.(`association ${this.id}: aborted after an internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    if (this.#state === State.CLOSED) return;
    this.#abortWith([protocolViolationCause('internal error')], 'local-abort');
  }

  /** Leaves without a word (action A: the new association takes over). */
  replacedByRestart(): void {
    this.#goDown('restart');
  }

  #isClosed(): boolean {
    return this.#state === State.CLOSED;
  }

  #goDown(reason: AssociationDownReason): void {
    if (this.#state === State.CLOSED && this.#downEmitted) return;
    this.#state = State.CLOSED;
    this.#clock.clearTimer(this.#t1);
    this.#clock.clearTimer(this.#t2);
    this.#clock.clearTimer(this.#sackTimer);
    this.#t1 = this.#t2 = this.#sackTimer = undefined;
    this.#sackOwed = this.#sackNeeded = false;
    for (const e of this.#paths) {
      this.#clock.clearTimer(e.hbTimer);
      e.hbTimer = undefined;
    }
    this.#outbound?.stop();
    this.#early = [];
    this.#earlyBytes = 0;
    this.#pendingControl = [];
    this.#host.released(this);
    if (this.#downEmitted) return;
    this.#downEmitted = true;
    try {
      this.emit('down', reason);
    } catch (error) {
      this.#options.log?.(`association ${this.id}: a 'down' listener threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Runs `fn` from a timer or deferred flush: an exception aborts this association only. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.failed(error);
    }
  }
}

function missingCookie(): Uint8Array {
  // §3.3.10.2: number of missing parameters (1) and their types (State Cookie).
  const info = new Uint8Array(6);
  writeU32(info, 0, 1);
  writeU16(info, 4, ParameterType.STATE_COOKIE);
  return info;
}
