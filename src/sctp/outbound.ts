// The sending half of data transfer (RFC 9260 §6.1-§6.4, §6.9, §7.2): the send queue,
// fragmentation, TSN assignment, the outstanding chunks and their retransmission (T3-rtx and
// fast retransmit), the peer's rwnd and each path's congestion window.
//
// Chunks not yet sent wait in a FIFO ring; once sent they move, in TSN order, to the
// outstanding ring, so TSN n is at index n - (first outstanding TSN): a SACK is a walk from the
// head, never a lookup in a map. Fragments of one message are queued together and therefore
// get consecutive TSNs, as §6.9 requires.

import type { Clock } from './clock.js';
import type { DataChunk, SackInfo } from './data-chunk.js';
import type { Path } from './path.js';
import { ssnAdd, tsnAdd, tsnDiff, tsnLt } from './serial.js';

export interface OutboundOptions {
  clock: Clock;
  /** Our Initial TSN. */
  initialTsn: number;
  /** The peer's a_rwnd from INIT/INIT-ACK. */
  peerReceiveWindow: number;
  /** Negotiated outbound streams (min of our OS and the peer's MIS). */
  outboundStreams: number;
  /** Hard cap on bytes queued plus in flight; send() beyond it returns false and queues nothing. */
  maxQueueBytes: number;
  /** User data bytes per DATA chunk before fragmenting (§6.9). */
  maxFragmentSize: number;
  /** Max.Burst (§6.1): at most this many packets' worth of new data per flush. */
  maxBurst: number;
  /** T3-rtx expired on `path` (§6.3.3); Outbound has already backed off the RTO, reduced cwnd
   *  (§7.2.3) and marked the chunks for retransmission. */
  onRetransmissionTimeout(path: Path): void;
  /** Something became sendable outside a call by the association (a timer): flush soon. */
  onSendable(): void;
  /** The endpoint's running totals, counted too (they outlive the association). */
  totals?: RetransmissionCounts;
}

/** Retransmission counts, of one association (Outbound's own fields) or of an endpoint. */
export interface RetransmissionCounts {
  /** Chunks retransmitted (T3-rtx, fast retransmit, failover). */
  retransmissions: number;
  /** Fast retransmit events (§7.2.4). */
  fastRetransmits: number;
  /** T3-rtx expirations (§6.3.3). */
  retransmissionTimeouts: number;
}

/** A DATA chunk we send, with its transmission state. nextChunk() returns this record itself:
 *  encode it at once and do not keep or change it. */
interface OutChunk extends DataChunk {
  /** clock.now() of the last transmission. */
  sentAt: number;
  /** Transmissions so far (Karn's rule, §6.3.1 C5). */
  sendCount: number;
  /** Where it was last sent. */
  path: Path | undefined;
  /** Acknowledged by a Gap Ack Block (may be reneged, §6.2.1 D iii). */
  gapAcked: boolean;
  /** Counted in its path's flightSize. */
  inFlight: boolean;
  /** Marked for retransmission (§6.3.3 E3, §7.2.4). */
  retransmit: boolean;
  /** Sent by fast retransmit once: not again by fast retransmit (§7.2.4 step 5). */
  fastRetransmitted: boolean;
  missIndications: number;
}

/** Acknowledged chunk records an Outbound keeps for reuse at most. */
const MAX_SPARE_CHUNKS = 64;
const NO_DATA = new Uint8Array(0);

function newChunk(): OutChunk {
  return {
    tsn: 0,
    streamId: 0,
    ssn: 0,
    ppid: 0,
    unordered: false,
    beginning: false,
    ending: false,
    immediate: false,
    userData: NO_DATA,
    sentAt: 0,
    sendCount: 0,
    path: undefined,
    gapAcked: false,
    inFlight: false,
    retransmit: false,
    fastRetransmitted: false,
    missIndications: 0,
  };
}

/** DATA chunk header (§3.3.1); a chunk takes this plus its data padded to 4 bytes. */
const DATA_CHUNK_HEADER = 16;

function chunkSize(chunk: DataChunk): number {
  return DATA_CHUNK_HEADER + ((chunk.userData.length + 3) & ~3);
}

/** A growable FIFO ring with indexed access. */
class Ring<T> {
  #items: (T | undefined)[] = new Array(16);
  #mask = 15;
  #head = 0;
  length = 0;

  push(item: T): void {
    if (this.length > this.#mask) this.#grow();
    this.#items[(this.#head + this.length) & this.#mask] = item;
    this.length++;
  }

  at(index: number): T {
    return this.#items[(this.#head + index) & this.#mask] as T;
  }

  shift(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.length--;
    return item;
  }

  #grow(): void {
    const size = (this.#mask + 1) * 2;
    const items: (T | undefined)[] = new Array(size);
    for (let i = 0; i < this.length; i++) items[i] = this.at(i);
    this.#items = items;
    this.#mask = size - 1;
    this.#head = 0;
  }
}

/**
 * The few paths one SACK touched, kept without allocating: an array emptied with
 * `length = 0` gives up its backing store, and its next push allocates one anew (~150 bytes
 * per SACK).
 */
class PathList {
  readonly #items: Path[] = [];
  length = 0;

  at(i: number): Path {
    return this.#items[i]!;
  }

  includes(path: Path): boolean {
    for (let i = 0; i < this.length; i++) if (this.#items[i] === path) return true;
    return false;
  }

  /** Adds `path` unless it is in the list already. */
  add(path: Path): void {
    if (!this.includes(path)) this.#items[this.length++] = path;
  }

  clear(): void {
    this.length = 0;
  }
}

export class Outbound implements RetransmissionCounts {
  /** SACKs refused as stale or lying (§6.2.1 D i; cum ack beyond anything sent). */
  rejectedSacks = 0;
  /** Gap Ack Blocks ignored: out of order, overlapping, empty or beyond the highest TSN sent. */
  ignoredGapBlocks = 0;
  /** Chunks retransmitted (T3-rtx, fast retransmit, failover). */
  retransmissions = 0;
  /** Fast retransmit events (§7.2.4). */
  fastRetransmits = 0;
  /** T3-rtx expirations (§6.3.3). */
  retransmissionTimeouts = 0;

  readonly #clock: Clock;
  readonly #maxQueueBytes: number;
  readonly #maxFragmentSize: number;
  readonly #maxBurst: number;
  readonly #streams: number;
  readonly #onRetransmissionTimeout: (path: Path) => void;
  readonly #onSendable: () => void;
  readonly #totals: RetransmissionCounts | undefined;

  /** Next SSN per outbound stream (§6.6), assigned at send() to ordered messages. */
  readonly #nextSsn: Uint16Array;
  readonly #queue = new Ring<OutChunk>();
  /** Chunk records acknowledged and free for reuse (#recycle). */
  readonly #spare: OutChunk[] = [];
  #queuedBytes = 0;
  /** Sent, not cumulatively acknowledged, in TSN order; at(0).tsn === #cumAck + 1. */
  readonly #outstanding = new Ring<OutChunk>();
  #outstandingBytes = 0;
  /** Bytes in flight over all paths (sent, not acked, not marked for retransmission). */
  #flightBytes = 0;
  #gapAckedCount = 0;
  #retransmitCount = 0;
  /** Outstanding index from which to look for chunks marked for retransmission. */
  #retransmitScan = 0;

  #nextTsn: number;
  /** Cumulative TSN Ack Point (§6.2.1). */
  #cumAck: number;
  /** Peer's rwnd (§6.2.1). */
  #peerRwnd: number;
  #inFastRecovery = false;
  #fastRecoveryExit = 0;
  /** Bytes that fast retransmit may still send ignoring cwnd (one packet, §7.2.4 step 3). */
  #fastRetransmitBudget = 0;
  /** New data bytes sent in this flush (Max.Burst, §6.1). */
  #burstBytes = 0;
  /** The time of the flush in progress, when the association gave one. */
  #flushTime: number | undefined = undefined;
  readonly #paths = new Set<Path>();
  readonly #touched = new PathList();
  /** The paths of the chunks a SACK's cumulative ack freed (§6.3.2 R3). */
  readonly #earliestAcked = new PathList();
  /** The paths of the chunks a SACK marked for fast retransmission (§7.2.4). */
  readonly #marked = new PathList();
  #stopped = false;

  constructor(options: OutboundOptions) {
    this.#clock = options.clock;
    this.#maxQueueBytes = options.maxQueueBytes;
    this.#maxFragmentSize = Math.max(1, Math.floor(options.maxFragmentSize));
    this.#maxBurst = Math.max(1, options.maxBurst);
    this.#streams = Math.max(0, Math.min(65536, Math.floor(options.outboundStreams)));
    this.#onRetransmissionTimeout = options.onRetransmissionTimeout;
    this.#onSendable = options.onSendable;
    this.#totals = options.totals;
    this.#nextSsn = new Uint16Array(this.#streams);
    this.#nextTsn = options.initialTsn >>> 0;
    this.#cumAck = tsnAdd(this.#nextTsn, -1);
    this.#peerRwnd = Math.max(0, options.peerReceiveWindow);
  }

  /** True when nothing is queued or outstanding (SHUTDOWN may proceed). */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#outstanding.length === 0;
  }

  /** Chunks wait to be sent or retransmitted (whether cwnd and rwnd allow it now or not). */
  get hasSendable(): boolean {
    return this.#queue.length > 0 || this.#retransmitCount > 0;
  }

  /** Bytes queued not yet sent plus outstanding unacknowledged. */
  get bufferedAmount(): number {
    return this.#queuedBytes + this.#outstandingBytes;
  }

  /** The peer's rwnd as we track it (§6.2.1). */
  get peerReceiveWindow(): number {
    return this.#peerRwnd;
  }

  /** Cumulative TSN Ack Point. */
  get cumulativeTsnAck(): number {
    return this.#cumAck;
  }

  /** Chunks sent and not cumulatively acknowledged. */
  get outstandingChunks(): number {
    return this.#outstanding.length;
  }

  /** Chunks marked for retransmission and not yet resent (send them on an alternate active
   *  path when there is one, §6.4). */
  get retransmitPending(): number {
    return this.#retransmitCount;
  }

  get inFastRecovery(): boolean {
    return this.#inFastRecovery;
  }

  /** Queues a user message, fragmented by maxFragmentSize (§6.9). The payload is not copied:
   *  Outbound keeps views into it until they are acknowledged. Returns false and queues
   *  nothing if maxQueueBytes would be exceeded. Throws RangeError for a stream id outside the
   *  negotiated outbound streams or an empty payload (a DATA chunk needs user data, §6.2):
   *  the association checks those first. */
  send(payload: Uint8Array, ppid: number, streamId: number, unordered: boolean): boolean {
    if (!(streamId >= 0 && streamId < this.#streams) || (streamId | 0) !== streamId) {
      throw new RangeError(`stream ${streamId} is not one of the ${this.#streams} outbound streams`);
    }
    const length = payload.length;
    if (length === 0) throw new RangeError('an SCTP message needs at least one byte of user data');
    if (this.bufferedAmount + length > this.#maxQueueBytes) return false;
    let ssn = 0;
    if (!unordered) {
      ssn = this.#nextSsn[streamId]!;
      this.#nextSsn[streamId] = ssnAdd(ssn, 1);
    }
    const size = this.#maxFragmentSize;
    for (let offset = 0; offset < length; offset += size) {
      const end = Math.min(length, offset + size);
      const chunk = this.#spare.pop() ?? newChunk();
      chunk.tsn = 0;
      chunk.streamId = streamId;
      chunk.ssn = ssn;
      chunk.ppid = ppid >>> 0;
      chunk.unordered = unordered;
      chunk.beginning = offset === 0;
      chunk.ending = end === length;
      chunk.immediate = false;
      chunk.userData = offset === 0 && end === length ? payload : payload.subarray(offset, end);
      chunk.sentAt = 0;
      chunk.sendCount = 0;
      chunk.path = undefined;
      chunk.gapAcked = false;
      chunk.inFlight = false;
      chunk.retransmit = false;
      chunk.fastRetransmitted = false;
      chunk.missIndications = 0;
      this.#queue.push(chunk);
    }
    this.#queuedBytes += length;
    return true;
  }

  /** A new flush begins (resets the burst count, §6.1). `now`, when given, is the time of
   *  every chunk sent until endFlush() (one clock read per flush instead of one per chunk). */
  beginFlush(now?: number): void {
    this.#burstBytes = 0;
    this.#flushTime = now;
  }

  /** The flush begun with a time is over: the clock is read again. */
  endFlush(): void {
    this.#flushTime = undefined;
  }

  /** The next DATA chunk for a packet to `path` with `room` bytes of chunk space left,
   *  retransmissions first (§6.1 C); undefined when cwnd, the peer's rwnd, Max.Burst or room
   *  allow nothing. `retransmissionsOnly`: no new data (a packet to an alternate path, §6.4.1). */
  nextChunk(path: Path, room: number, retransmissionsOnly = false): DataChunk | undefined {
    if (this.#stopped) return undefined;
    if (this.#retransmitCount > 0) {
      const chunk = this.#nextRetransmission();
      if (chunk) {
        if (chunkSize(chunk) > room) return undefined;
        const fast = chunk.fastRetransmitted && this.#fastRetransmitBudget > 0;
        // §7.2.4 step 3: one packet of fast retransmissions ignores cwnd; others wait for it.
        if (!fast && path.flightSize >= path.cwnd) return undefined;
        if (fast) this.#fastRetransmitBudget -= chunkSize(chunk);
        this.#retransmitChunk(chunk, path);
        return chunk;
      }
    }
    if (retransmissionsOnly || this.#queue.length === 0) return undefined;
    const chunk = this.#queue.at(0);
    const size = chunkSize(chunk);
    if (size > room) return undefined;
    const now = this.#flushTime ?? this.#clock.now();
    if (path.flightSize === 0) path.decayIdleCwnd(now); // §7.2.1
    if (path.flightSize >= path.cwnd) return undefined; // §6.1 B
    // §6.1 A: no new data into a closed window, except one chunk when nothing is in flight.
    if (this.#peerRwnd < chunk.userData.length && this.#flightBytes > 0) return undefined;
    if (this.#burstBytes >= this.#maxBurst * path.mtu) return undefined; // Max.Burst
    this.#queue.shift();
    const length = chunk.userData.length;
    this.#queuedBytes -= length;
    chunk.tsn = this.#nextTsn;
    this.#nextTsn = tsnAdd(this.#nextTsn, 1);
    this.#outstanding.push(chunk);
    this.#outstandingBytes += length;
    this.#burstBytes += size;
    chunk.sentAt = now;
    chunk.sendCount = 1;
    chunk.path = path;
    chunk.inFlight = true;
    path.flightSize += length;
    path.outstandingChunks++;
    path.lastSent = now;
    this.#flightBytes += length;
    this.#peerRwnd = Math.max(0, this.#peerRwnd - length); // §6.2.1 B
    if (path.timedTsn === undefined) {
      path.timedTsn = chunk.tsn; // §6.3.1 C4: one measurement per round trip
      path.timedAt = now;
    }
    this.#paths.add(path);
    if (path.t3Deadline === undefined) this.#startT3(path); // §6.3.2 R1
    return chunk;
  }

  /** Processes a SACK (§6.2.1, §7.2, §7.2.4). Returns false, changing nothing, for a SACK whose
   *  cumulative TSN ack is behind the ack point or beyond the highest TSN sent. */
  onSack(sack: SackInfo): boolean {
    return this.#processSack(sack.cumulativeTsnAck >>> 0, sack.gapAckBlocks, sack.advertisedReceiverWindow);
  }

  /** The peer's cumulative TSN ack in SHUTDOWN (§9.2): as a SACK without gap information. */
  onCumulativeAck(tsn: number): void {
    this.#processSack(tsn >>> 0, undefined, undefined);
  }

  /** Moves outstanding chunks of a failed path to be retransmitted elsewhere (§6.4.1). */
  pathFailed(path: Path): void {
    this.#stopT3(path);
    path.timedTsn = undefined;
    this.#markForRetransmission(path);
  }

  /** Stops every timer (association ended). */
  stop(): void {
    this.#stopped = true;
    for (const path of this.#paths) {
      path.t3Deadline = undefined;
      if (path.t3 !== undefined) this.#clock.clearTimer(path.t3);
      path.t3 = undefined;
    }
  }

  // ---- SACK processing -------------------------------------------------------------------

  #processSack(cumAck: number, blocks: SackInfo['gapAckBlocks'] | undefined, aRwnd: number | undefined): boolean {
    const highestSent = tsnAdd(this.#nextTsn, -1);
    if (tsnLt(cumAck, this.#cumAck) || tsnLt(highestSent, cumAck)) {
      this.rejectedSacks++;
      return false;
    }
    const now = this.#clock.now();
    const touched = this.#touched;
    const cumAdvanced = cumAck !== this.#cumAck;
    let highestNewlyAcked: number | undefined;

    // Cumulative TSN ack: free everything up to it.
    const earliestAcked = this.#earliestAcked;
    earliestAcked.clear();
    while (this.#outstanding.length > 0 && !tsnLt(cumAck, this.#outstanding.at(0).tsn)) {
      const chunk = this.#outstanding.shift();
      const length = chunk.userData.length;
      this.#outstandingBytes -= length;
      if (this.#retransmitScan > 0) this.#retransmitScan--;
      const path = chunk.path!;
      if (chunk.gapAcked) this.#gapAckedCount--;
      else {
        this.#acknowledge(chunk, path, now);
        highestNewlyAcked = chunk.tsn;
        earliestAcked.add(path);
      }
      this.#recycle(chunk);
    }
    this.#cumAck = cumAck;

    // Gap Ack Blocks (§6.2.1, §6.7), validated as we go: ascending, non-overlapping, within
    // what was sent. A chunk acked before and not now was reneged (RFC 9260 §6.2.1 D iii).
    const limit = tsnDiff(cumAck, highestSent);
    if (blocks !== undefined && (blocks.length > 0 || this.#gapAckedCount > 0)) {
      const highestByGaps = this.#walkGapBlocks(blocks, limit, now);
      if (highestByGaps !== undefined) highestNewlyAcked = highestByGaps;
    }

    // §7.2.1/§7.2.2: cwnd grows only when the cumulative ack point advances.
    for (let i = 0; i < touched.length; i++) {
      const path = touched.at(i);
      if (cumAdvanced && !this.#inFastRecovery) {
        if (path.cwnd <= path.ssthresh) {
          if (path.sackFlightBefore >= path.cwnd) path.cwnd += Math.min(path.sackBytesAcked, path.mtu);
        } else {
          path.partialBytesAcked += path.sackBytesAcked;
          if (path.partialBytesAcked >= path.cwnd && path.sackFlightBefore >= path.cwnd) {
            path.partialBytesAcked -= path.cwnd;
            path.cwnd += path.mtu;
          }
        }
      }
      path.confirmReachable();
    }

    // §6.2.1 D iv: Fast Recovery ends once its exit point is acked.
    if (this.#inFastRecovery && !tsnLt(cumAck, this.#fastRecoveryExit)) this.#inFastRecovery = false;

    // §7.2.4: miss indications (HTNA), fast retransmit on the third.
    if (blocks !== undefined && this.#outstanding.length > 0 && (highestNewlyAcked !== undefined || this.#gapAckedCount > 0)) {
      this.#countMisses(highestNewlyAcked, cumAdvanced);
    }

    // §6.2.1 D ii
    if (aRwnd !== undefined) this.#peerRwnd = Math.max(0, (aRwnd >>> 0) - this.#flightBytes);

    // §6.3.2 R2, R3 and §7.2.2's reset of partial_bytes_acked.
    for (let i = 0; i < touched.length; i++) {
      const path = touched.at(i);
      if (path.outstandingChunks === 0) {
        this.#stopT3(path);
        path.partialBytesAcked = 0;
      } else if (earliestAcked.includes(path)) {
        this.#startT3(path); // R3
      }
      path.sackBytesAcked = 0;
      path.sackFlightBefore = 0;
    }
    touched.clear();
    earliestAcked.clear();
    if (this.#outstanding.length === 0) {
      this.#retransmitScan = 0;
      this.#inFastRecovery = false;
    }
    return true;
  }

  /**
   * Gap Ack Blocks (§6.2.1, §6.7), validated as we go: ascending, non-overlapping, within
   * what was sent. A chunk acked before and not now was reneged (RFC 9260 §6.2.1 D iii).
   * Returns the highest TSN the blocks newly acknowledged, if any. (A method of its own: its
   * closure's context is allocated only for a SACK with gaps.)
   */
  #walkGapBlocks(blocks: SackInfo['gapAckBlocks'], limit: number, now: number): number | undefined {
    let highest: number | undefined;
    let blockIndex = 0;
    let previousEnd = 0;
    let start = 0;
    let end = 0;
    const nextBlock = (): boolean => {
      while (blockIndex < blocks.length) {
        const block = blocks[blockIndex++]!;
        const s = block[0];
        let e = block[1];
        if (!(Number.isInteger(s) && Number.isInteger(e)) || s <= previousEnd || e < s || s > limit) {
          this.ignoredGapBlocks++;
          continue;
        }
        if (e > limit) e = limit;
        start = s;
        end = e;
        previousEnd = e;
        return true;
      }
      start = end = 0x7fffffff;
      return false;
    };
    nextBlock();
    for (let i = 0; i < this.#outstanding.length; i++) {
      const chunk = this.#outstanding.at(i);
      const offset = i + 1; // at(i).tsn === cumAck + 1 + i
      while (offset > end && nextBlock());
      if (offset >= start && offset <= end) {
        if (!chunk.gapAcked) {
          chunk.gapAcked = true;
          this.#gapAckedCount++;
          this.#acknowledge(chunk, chunk.path!, now);
          highest = chunk.tsn;
        }
      } else if (chunk.gapAcked) {
        chunk.gapAcked = false; // reneged: outstanding again, retransmitted by T3 or fast rtx
        this.#gapAckedCount--;
        const path = chunk.path!;
        path.outstandingChunks++;
        if (path.t3Deadline === undefined) this.#startT3(path); // §6.3.2 R4
      } else if (start === 0x7fffffff && this.#gapAckedCount === 0) {
        break; // no more blocks and nothing acked above: the rest is simply outstanding
      }
    }
    if (blockIndex < blocks.length) this.ignoredGapBlocks += blocks.length - blockIndex;
    return highest;
  }

  /**
   * A chunk the cumulative ack freed goes back to the spares, up to MAX_SPARE_CHUNKS, for the
   * next send(): a record per message sent was ~190 bytes of garbage. Nothing holds it any
   * more (nextChunk's caller encodes it at once); its payload and path are let go.
   */
  #recycle(chunk: OutChunk): void {
    chunk.userData = NO_DATA;
    chunk.path = undefined;
    if (this.#spare.length < MAX_SPARE_CHUNKS) this.#spare.push(chunk);
  }

  /** A chunk newly acknowledged (cumulatively or by a gap block). */
  #acknowledge(chunk: OutChunk, path: Path, now: number): void {
    const length = chunk.userData.length;
    if (path.sackBytesAcked === 0 && !this.#touched.includes(path)) {
      this.#touched.add(path);
      path.sackFlightBefore = path.flightSize;
    }
    path.sackBytesAcked += length;
    if (chunk.inFlight) {
      chunk.inFlight = false;
      path.flightSize -= length;
      this.#flightBytes -= length;
    }
    if (chunk.retransmit) {
      chunk.retransmit = false;
      this.#retransmitCount--;
    }
    path.outstandingChunks--;
    // §6.3.1 C4, C5: the timed chunk, sent once.
    if (path.timedTsn === chunk.tsn) {
      if (chunk.sendCount === 1) path.measureRtt(now - path.timedAt);
      path.timedTsn = undefined;
    }
  }

  #countMisses(highestNewlyAcked: number | undefined, cumAdvanced: boolean): void {
    // In Fast Recovery a SACK that advances the ack point counts every reported hole.
    const all = this.#inFastRecovery && cumAdvanced;
    let end = this.#outstanding.length;
    if (!all) {
      if (highestNewlyAcked === undefined) return;
      end = Math.min(end, tsnDiff(this.#outstanding.at(0).tsn, highestNewlyAcked));
    } else {
      // Holes only exist below the highest gap-acked chunk.
      while (end > 0 && !this.#outstanding.at(end - 1).gapAcked) end--;
    }
    const marked = this.#marked;
    marked.clear();
    for (let i = 0; i < end; i++) {
      const chunk = this.#outstanding.at(i);
      if (chunk.gapAcked || chunk.retransmit || chunk.fastRetransmitted) continue;
      if (++chunk.missIndications < 3) continue;
      chunk.missIndications = 0;
      chunk.fastRetransmitted = true;
      const path = chunk.path!;
      this.#mark(chunk);
      marked.add(path);
    }
    if (marked.length === 0) return;
    this.fastRetransmits++;
    if (this.#totals !== undefined) this.#totals.fastRetransmits++;
    this.#fastRetransmitBudget = marked.at(0).mtu;
    if (!this.#inFastRecovery) {
      // §7.2.3 on the paths the missing chunks were last sent to, once per Fast Recovery.
      for (let i = 0; i < marked.length; i++) {
        const path = marked.at(i);
        path.ssthresh = Math.max(Math.floor(path.cwnd / 2), 4 * path.mtu);
        path.cwnd = path.ssthresh;
        path.partialBytesAcked = 0;
      }
      this.#inFastRecovery = true;
      this.#fastRecoveryExit = tsnAdd(this.#nextTsn, -1);
    }
    this.#onSendable();
  }

  // ---- retransmission --------------------------------------------------------------------

  /** Marks one chunk for retransmission: out of flight, its bytes back in rwnd (§6.2.1 C). */
  #mark(chunk: OutChunk): void {
    if (chunk.retransmit || chunk.gapAcked) return;
    chunk.retransmit = true;
    this.#retransmitCount++;
    if (chunk.inFlight) {
      chunk.inFlight = false;
      const length = chunk.userData.length;
      chunk.path!.flightSize -= length;
      this.#flightBytes -= length;
      this.#peerRwnd += length;
    }
    if (chunk.path?.timedTsn === chunk.tsn) chunk.path.timedTsn = undefined; // Karn
    this.#retransmitScan = 0;
  }

  #markForRetransmission(path: Path): void {
    for (let i = 0; i < this.#outstanding.length; i++) {
      const chunk = this.#outstanding.at(i);
      if (chunk.path === path) this.#mark(chunk);
    }
  }

  #nextRetransmission(): OutChunk | undefined {
    for (let i = this.#retransmitScan; i < this.#outstanding.length; i++) {
      const chunk = this.#outstanding.at(i);
      if (chunk.retransmit) {
        this.#retransmitScan = i;
        return chunk;
      }
    }
    this.#retransmitScan = this.#outstanding.length;
    return undefined;
  }

  #retransmitChunk(chunk: OutChunk, path: Path): void {
    const length = chunk.userData.length;
    const lowest = this.#outstanding.at(0) === chunk;
    chunk.retransmit = false;
    this.#retransmitCount--;
    const previous = chunk.path!;
    previous.outstandingChunks--;
    path.outstandingChunks++;
    chunk.path = path;
    chunk.sendCount++;
    chunk.missIndications = 0;
    chunk.inFlight = true;
    const now = this.#clock.now();
    chunk.sentAt = now;
    path.flightSize += length;
    path.lastSent = now;
    this.#flightBytes += length;
    this.#peerRwnd = Math.max(0, this.#peerRwnd - length);
    this.retransmissions++;
    if (this.#totals !== undefined) this.#totals.retransmissions++;
    // §6.3.1 C5 implementation note: a retransmission spoils any timing of a later TSN.
    for (const p of this.#paths) if (p.timedTsn !== undefined && !tsnLt(p.timedTsn, chunk.tsn)) p.timedTsn = undefined;
    this.#paths.add(path);
    if (previous !== path && previous.outstandingChunks === 0) this.#stopT3(previous);
    // §6.3.2 R1, and §6.1: restart when the earliest outstanding chunk is retransmitted.
    if (path.t3Deadline === undefined || lowest) this.#startT3(path);
  }

  /** Starts or restarts T3-rtx with the path's RTO (§6.3.2 R1, R3). The clock timer already
   *  armed is kept when it is due no later than the new deadline: it re-arms itself for the
   *  rest when it fires early, so restarting per SACK costs no timer call. */
  #startT3(path: Path): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const deadline = now + path.rto;
    path.t3Deadline = deadline;
    if (path.t3 !== undefined) {
      if (path.t3Due <= deadline) return;
      this.#clock.clearTimer(path.t3);
    }
    path.t3Due = deadline;
    path.t3 = this.#clock.setTimer(path.rto, () => this.#onT3Timer(path));
  }

  /** T3-rtx no longer runs (§6.3.2 R2); its clock timer, if armed, expires unnoticed. */
  #stopT3(path: Path): void {
    path.t3Deadline = undefined;
  }

  #onT3Timer(path: Path): void {
    path.t3 = undefined;
    const deadline = path.t3Deadline;
    if (this.#stopped || deadline === undefined) return;
    const remaining = deadline - this.#clock.now();
    if (remaining > 0) {
      path.t3Due = deadline;
      path.t3 = this.#clock.setTimer(remaining, () => this.#onT3Timer(path));
      return;
    }
    path.t3Deadline = undefined;
    this.#onT3(path);
  }

  /** T3-rtx expired (§6.3.3 E1-E3, §7.2.3). */
  #onT3(path: Path): void {
    if (this.#stopped || path.outstandingChunks === 0) return;
    this.retransmissionTimeouts++;
    if (this.#totals !== undefined) this.#totals.retransmissionTimeouts++;
    path.backOff(); // E2
    path.ssthresh = Math.max(Math.floor(path.cwnd / 2), 4 * path.mtu); // E1, §7.2.3
    path.cwnd = path.mtu;
    path.partialBytesAcked = 0;
    path.timedTsn = undefined;
    this.#inFastRecovery = false;
    this.#markForRetransmission(path); // E3: sent as cwnd allows, earliest first
    this.#onRetransmissionTimeout(path);
    this.#onSendable();
  }
}
