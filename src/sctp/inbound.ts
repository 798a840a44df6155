// The receiving half of data transfer (RFC 9260 §6.2, §6.5, §6.6, §6.7, §6.9): which TSNs
// arrived, reassembly of fragmented messages, ordered delivery per stream, and the SACK that
// reports it all.
//
// Everything here comes from the peer and is hostile until proven otherwise, so every structure
// is bounded:
// - received TSNs above the cumulative TSN live in a bitmap ring of at most `maxTsnSpan` bits
//   (grown lazily; empty while data arrives in sequence); a TSN further ahead is dropped;
// - fragments and messages waiting for an earlier SSN cost their bytes plus a fixed overhead
//   against maxReassemblyBytes; out-of-sequence data is also held to our advertised window;
// - a fragment that can never complete (its neighbour TSN is an incompatible chunk, or was
//   received and is gone) is freed at once, and an ordered message freed that way leaves a
//   "skip" for its SSN so the stream does not stall.
// A whole message that is next in its stream (the usual case) is delivered as the received
// view without entering any of these structures.

import type { DataChunk, SackInfo } from './data-chunk.js';
import { ssnAdd, ssnDiff, tsnAdd, tsnDiff, tsnLt } from './serial.js';

export interface InboundOptions {
  /** The peer's Initial TSN (from its INIT or INIT-ACK). */
  peerInitialTsn: number;
  /** Negotiated inbound streams (min of our MIS and the peer's OS). */
  inboundStreams: number;
  /** Our receive window in bytes (what a_rwnd starts at). */
  receiveWindow: number;
  /** Cap on bytes held for reassembly and ordering; beyond it new DATA is dropped (not acked). */
  maxReassemblyBytes: number;
  /** A complete user message, in order per stream (ordered) or at once (unordered). */
  deliver(payload: Uint8Array, ppid: number, streamId: number): void;
  /** Furthest a TSN may lie beyond the cumulative TSN to be kept (default 16384, at most 65535
   *  since Gap Ack Block offsets are 16 bits, §3.3.4). Further ahead: 'dropped'. */
  maxTsnSpan?: number;
  /** Most duplicate TSNs reported in one SACK (default 64). */
  maxDuplicateReports?: number;
  /** A SACK at least every this many packets carrying DATA (§6.2: default 2, "at least every
   *  second packet"; 1 acknowledges every packet at once). */
  sackFrequency?: number;
}

export type DataVerdict = 'new' | 'duplicate' | 'dropped' | 'invalid-stream';

/** What each held item (fragment, waiting message, SSN skip) costs beyond its bytes, against
 *  maxReassemblyBytes: keeps a flood of 1-byte fragments from holding a million objects. */
const HELD_OVERHEAD = 128;
const DEFAULT_TSN_SPAN = 16384;
const DEFAULT_DUPLICATE_REPORTS = 64;
/** SACK chunk header and fixed fields (§3.3.4); each gap block and duplicate TSN is 4 more. */
const SACK_FIXED_BYTES = 16;
/** The duplicates of a SACK that reports none (shared, never written). */
const NO_DUPLICATES: number[] = Object.freeze([]) as unknown as number[];

/** A run of consecutive held fragments (TSN first..last) that may become a message. */
interface Chain {
  first: number;
  last: number;
  bytes: number;
}

/** An ordered message waiting for an earlier SSN; payload undefined marks an SSN whose message
 *  was abandoned (skip it). */
interface Waiting {
  payload: Uint8Array | undefined;
  ppid: number;
}

export class Inbound {
  /** DATA chunks dropped unacknowledged (beyond the window, the TSN span or the caps). */
  droppedChunks = 0;
  /** DATA chunks with a TSN already received. */
  duplicateChunks = 0;
  /** Messages discarded after their chunks were acknowledged: inconsistent or orphaned
   *  fragments, stale or repeated SSNs, or a message larger than the cap can hold. */
  abandonedMessages = 0;
  /** Runs of fragments freed because their message's beginning is gone or never existed. */
  orphanedFragments = 0;
  /** DATA chunks on a stream we do not have (§6.5). */
  invalidStreamChunks = 0;
  /** Messages delivered. */
  deliveredMessages = 0;

  readonly #deliver: InboundOptions['deliver'];
  readonly #streams: number;
  readonly #window: number;
  readonly #cap: number;
  readonly #maxSpan: number;
  readonly #maxDups: number;
  readonly #sackFrequency: number;

  #cum: number;
  /** Highest TSN received (equals #cum while nothing is out of sequence). */
  #highest: number;
  /** Bit (tsn & (#bits - 1)) set: tsn in (#cum, #cum + #bits] received. */
  #bitmap: Uint32Array = new Uint32Array(0);
  #bits = 0;

  #bufferedBytes = 0;
  #heldItems = 0;

  /** Held fragments by TSN, and the chains they form, by first and by last TSN. */
  readonly #fragments = new Map<number, DataChunk>();
  readonly #chainByFirst = new Map<number, Chain>();
  readonly #chainByLast = new Map<number, Chain>();

  /** Next SSN to deliver per stream (§6.5). */
  readonly #nextSsn: Uint16Array;
  /** Ordered messages waiting for an earlier SSN, per stream, created when first needed. */
  readonly #waiting: (Map<number, Waiting> | undefined)[] = [];
  #waitingStreams = 0;

  #duplicates: number[] = [];
  /** What sack() returns: one record, valid until the next call (a SACK per message allocated nothing more). */
  readonly #sack: SackInfo = { cumulativeTsnAck: 0, advertisedReceiverWindow: 0, gapAckBlocks: [], duplicateTsns: [] };
  #packetsSinceSack = 0;
  /** Something in the current packet asks for an immediate SACK (§6.2, §6.7, RFC 7053). */
  #sackNow = false;
  /** A gap existed when the current packet began (a gap just closed also asks for a SACK). */
  #gapAtPacketStart = false;
  #packetOpen = false;

  constructor(options: InboundOptions) {
    this.#deliver = options.deliver;
    this.#streams = Math.max(0, Math.min(65536, Math.floor(options.inboundStreams)));
    this.#window = Math.max(0, options.receiveWindow);
    this.#cap = Math.max(0, options.maxReassemblyBytes);
    this.#maxSpan = Math.max(1, Math.min(65535, Math.floor(options.maxTsnSpan ?? DEFAULT_TSN_SPAN)));
    this.#maxDups = Math.max(0, Math.floor(options.maxDuplicateReports ?? DEFAULT_DUPLICATE_REPORTS));
    this.#sackFrequency = Math.max(1, Math.floor(options.sackFrequency ?? 2));
    this.#cum = tsnAdd(options.peerInitialTsn, -1);
    this.#highest = this.#cum;
    this.#nextSsn = new Uint16Array(this.#streams);
  }

  /** The peer's last TSN received in sequence (for SACK and SHUTDOWN). */
  get cumulativeTsn(): number {
    return this.#cum;
  }

  /** a_rwnd we would advertise now (§6.2 A-D). */
  get receiveWindowNow(): number {
    return Math.max(0, this.#window - this.#bufferedBytes);
  }

  /** User data bytes held for reassembly and ordering. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Held fragments, waiting messages and SSN skips (for tests and metrics). */
  get heldItems(): number {
    return this.#heldItems;
  }

  /** True when TSNs above the cumulative TSN have arrived (a gap to report). */
  get hasGaps(): boolean {
    return this.#highest !== this.#cum;
  }

  /** The record `chunk` is not kept (the caller may reuse it); `chunk.userData` is, as a view. */
  onData(chunk: DataChunk): DataVerdict {
    if (!this.#packetOpen) {
      this.#packetOpen = true;
      this.#gapAtPacketStart = this.#highest !== this.#cum;
    }
    if (chunk.immediate) this.#sackNow = true; // RFC 7053
    const tsn = chunk.tsn >>> 0;
    const ahead = tsnDiff(this.#cum, tsn);
    if (ahead <= 0 || (ahead > 1 && this.#isSet(tsn))) {
      this.duplicateChunks++;
      if (this.#duplicates.length < this.#maxDups) this.#duplicates.push(tsn);
      this.#sackNow = true; // §6.2: a duplicate asks for a SACK at once
      return 'duplicate';
    }
    if (ahead > this.#maxSpan) return this.#drop();

    const streamId = chunk.streamId;
    if (!(streamId >= 0 && streamId < this.#streams) || (streamId | 0) !== streamId) {
      // §6.5: acknowledged, not delivered; the association reports the error.
      this.invalidStreamChunks++;
      this.#markReceived(tsn, ahead);
      this.#orphanNeighbours(tsn);
      return 'invalid-stream';
    }

    const data = chunk.userData;
    if (chunk.beginning && chunk.ending) {
      if (chunk.unordered) {
        this.#markReceived(tsn, ahead);
        if (this.#fragments.size > 0) this.#orphanNeighbours(tsn);
        this.#deliverMessage(data, chunk.ppid, streamId);
        return 'new';
      }
      const ssnAhead = ssnDiff(this.#nextSsn[streamId]!, chunk.ssn);
      if (ssnAhead === 0) {
        // The common case: next in its stream, delivered as the received view (zero copy).
        this.#markReceived(tsn, ahead);
        if (this.#fragments.size > 0) this.#orphanNeighbours(tsn);
        this.#deliverMessage(data, chunk.ppid, streamId);
        this.#nextSsn[streamId] = ssnAdd(chunk.ssn, 1);
        if (this.#waitingStreams > 0) this.#drainStream(streamId);
        return 'new';
      }
      if (ssnAhead < 0 || this.#waiting[streamId]?.has(chunk.ssn & 0xffff)) {
        // An SSN already delivered or already waiting: inconsistent, acknowledged and discarded.
        this.#markReceived(tsn, ahead);
        if (this.#fragments.size > 0) this.#orphanNeighbours(tsn);
        this.abandonedMessages++;
        return 'new';
      }
      if (!this.#roomFor(data.length, ahead)) return this.#drop();
      this.#markReceived(tsn, ahead);
      if (this.#fragments.size > 0) this.#orphanNeighbours(tsn);
      this.#hold(streamId, chunk.ssn & 0xffff, data, chunk.ppid);
      return 'new';
    }

    // A fragment (§6.9).
    if (!this.#roomFor(data.length, ahead)) {
      if (ahead !== 1) return this.#drop();
      // In sequence and still no room: everything held lies below this TSN or waits on it, so
      // the message this fragment belongs to can never fit. Acknowledge and abandon it rather
      // than stall the association (a message larger than the cap cannot be delivered).
      this.#markReceived(tsn, ahead);
      const left = this.#chainByLast.get(tsnAdd(tsn, -1));
      if (left && this.#continues(this.#fragments.get(left.last)!, chunk)) {
        this.#discardChain(left, false);
      }
      this.#abandon(chunk);
      this.#orphanNeighbours(tsn);
      return 'new';
    }
    this.#markReceived(tsn, ahead);
    this.#addFragment(tsn, chunk);
    return 'new';
  }

  /** Call once after all chunks of a received packet that carried DATA. True: SACK now (every
   *  sackFrequency-th packet with DATA, any gap, duplicate, drop or I bit, §6.2/§6.7); false:
   *  the SACK may wait for the delayed-SACK timer (or go with the next packet we send). */
  packetDone(): boolean {
    this.#packetsSinceSack++;
    const now =
      this.#sackNow ||
      this.#packetsSinceSack >= this.#sackFrequency ||
      this.#highest !== this.#cum ||
      this.#gapAtPacketStart; // a gap just filled: tell the sender at once (§7.2.4)
    this.#sackNow = false;
    this.#packetOpen = false;
    this.#gapAtPacketStart = false;
    return now;
  }

  /** Builds the SACK for now (§3.3.4, §6.2) and resets what it reported (duplicates, packet
   *  count). Gap blocks come first, then duplicates, as many as fit in `maxBytes`. The record
   *  is the Inbound's own, valid until the next call: encode it at once. */
  sack(maxBytes: number): SackInfo {
    let entries = Math.max(0, Math.floor((maxBytes - SACK_FIXED_BYTES) / 4));
    const out = this.#sack;
    const gapAckBlocks = out.gapAckBlocks;
    // Emptied only when it holds blocks: `length = 0` gives up the backing store.
    if (gapAckBlocks.length > 0) gapAckBlocks.length = 0;
    if (this.#highest !== this.#cum) {
      const span = tsnDiff(this.#cum, this.#highest);
      const mask = this.#bits - 1;
      const map = this.#bitmap;
      let start = 0;
      for (let offset = 1; offset <= span && entries > 0; offset++) {
        const position = (this.#cum + offset) & mask;
        const word = map[position >>> 5]!;
        if (word === 0 && (position & 31) === 0 && start === 0) {
          offset += 31; // a whole empty word
          continue;
        }
        if ((word >>> (position & 31)) & 1) {
          if (start === 0) start = offset;
        } else if (start !== 0) {
          gapAckBlocks.push([start, offset - 1]);
          entries--;
          start = 0;
        }
      }
      if (start !== 0 && entries > 0) {
        gapAckBlocks.push([start, span]);
        entries--;
      }
    }
    if (this.#duplicates.length === 0) out.duplicateTsns = NO_DUPLICATES;
    else {
      out.duplicateTsns = this.#duplicates.length <= entries ? this.#duplicates : this.#duplicates.slice(0, entries);
      this.#duplicates = [];
    }
    this.#packetsSinceSack = 0;
    this.#sackNow = false;
    out.cumulativeTsnAck = this.#cum;
    out.advertisedReceiverWindow = this.receiveWindowNow;
    return out;
  }

  // ---- TSN bookkeeping -------------------------------------------------------------------

  #drop(): 'dropped' {
    this.droppedChunks++;
    this.#sackNow = true; // §6.2: a dropped chunk asks for a SACK at once
    return 'dropped';
  }

  #isSet(tsn: number): boolean {
    if (this.#bits === 0 || tsnDiff(this.#cum, tsn) > this.#bits) return false;
    const position = tsn & (this.#bits - 1);
    return ((this.#bitmap[position >>> 5]! >>> (position & 31)) & 1) === 1;
  }

  /** True when tsn was received already (acknowledged or reported). */
  #received(tsn: number): boolean {
    return !tsnLt(this.#cum, tsn) || this.#isSet(tsn);
  }

  #markReceived(tsn: number, ahead: number): void {
    if (ahead === 1) {
      this.#cum = tsn;
      if (tsnLt(this.#highest, tsn)) {
        this.#highest = tsn;
        return;
      }
      // Absorb the run that follows from the bitmap.
      const mask = this.#bits - 1;
      const map = this.#bitmap;
      for (;;) {
        const next = tsnAdd(this.#cum, 1);
        const position = next & mask;
        const bit = 1 << (position & 31);
        const word = map[position >>> 5]!;
        if ((word & bit) === 0) break;
        map[position >>> 5] = word & ~bit;
        this.#cum = next;
        if (next === this.#highest) break;
      }
      return;
    }
    if (ahead > this.#bits) this.#growBitmap(ahead);
    const position = tsn & (this.#bits - 1);
    this.#bitmap[position >>> 5]! |= 1 << (position & 31);
    if (tsnLt(this.#highest, tsn)) this.#highest = tsn;
  }

  #growBitmap(needed: number): void {
    let bits = Math.max(256, this.#bits);
    while (bits < needed) bits *= 2;
    const next = new Uint32Array(bits >>> 5);
    if (this.#bits > 0) {
      const span = tsnDiff(this.#cum, this.#highest);
      for (let offset = 1; offset <= span; offset++) {
        const tsn = tsnAdd(this.#cum, offset);
        if (!this.#isSet(tsn)) continue;
        const position = tsn & (bits - 1);
        next[position >>> 5]! |= 1 << (position & 31);
      }
    }
    this.#bitmap = next;
    this.#bits = bits;
  }

  // ---- holding -----------------------------------------------------------------------------

  /** Out-of-sequence data is held only within our advertised window (§6.2); everything held
   *  stays within maxReassemblyBytes, counting HELD_OVERHEAD per item. */
  #roomFor(bytes: number, ahead: number): boolean {
    if (ahead > 1 && this.#bufferedBytes + bytes > this.#window) return false;
    return this.#bufferedBytes + bytes + (this.#heldItems + 1) * HELD_OVERHEAD <= this.#cap;
  }

  #deliverMessage(payload: Uint8Array, ppid: number, streamId: number): void {
    this.deliveredMessages++;
    this.#deliver(payload, ppid, streamId);
  }

  /** Keeps an ordered message (or a skip, payload undefined) until its SSN is next (§6.5). */
  #hold(streamId: number, ssn: number, payload: Uint8Array | undefined, ppid: number): void {
    let waiting = this.#waiting[streamId];
    if (!waiting) {
      waiting = new Map();
      this.#waiting[streamId] = waiting;
    }
    if (waiting.size === 0) this.#waitingStreams++;
    waiting.set(ssn, { payload, ppid });
    this.#heldItems++;
    if (payload) this.#bufferedBytes += payload.length;
  }

  /** Delivers the messages (and skips) of a stream that are now next in sequence. */
  #drainStream(streamId: number): void {
    const waiting = this.#waiting[streamId];
    if (!waiting || waiting.size === 0) return;
    let ssn = this.#nextSsn[streamId]!;
    for (let item = waiting.get(ssn); item; item = waiting.get(ssn)) {
      waiting.delete(ssn);
      this.#heldItems--;
      if (item.payload) {
        this.#bufferedBytes -= item.payload.length;
        this.#deliverMessage(item.payload, item.ppid, streamId);
      }
      ssn = ssnAdd(ssn, 1);
      this.#nextSsn[streamId] = ssn;
    }
    if (waiting.size === 0) this.#waitingStreams--;
  }

  /** A complete message: delivered now or kept for its turn. Its bytes are already counted. */
  #completeMessage(payload: Uint8Array, first: DataChunk): void {
    const streamId = first.streamId;
    if (first.unordered) {
      this.#deliverMessage(payload, first.ppid, streamId);
      return;
    }
    const ssn = first.ssn & 0xffff;
    const ssnAhead = ssnDiff(this.#nextSsn[streamId]!, ssn);
    if (ssnAhead === 0) {
      this.#deliverMessage(payload, first.ppid, streamId);
      this.#nextSsn[streamId] = ssnAdd(ssn, 1);
      this.#drainStream(streamId);
    } else if (ssnAhead < 0 || this.#waiting[streamId]?.has(ssn)) {
      this.abandonedMessages++;
    } else {
      this.#hold(streamId, ssn, payload, first.ppid);
    }
  }

  /** An ordered message was lost on our side: its SSN must not block the stream (§6.5). */
  #abandon(chunk: DataChunk): void {
    this.abandonedMessages++;
    if (chunk.unordered) return;
    const streamId = chunk.streamId;
    if (!(streamId >= 0 && streamId < this.#streams)) return;
    const ssn = chunk.ssn & 0xffff;
    const ssnAhead = ssnDiff(this.#nextSsn[streamId]!, ssn);
    if (ssnAhead < 0 || this.#waiting[streamId]?.has(ssn)) return;
    if (ssnAhead === 0) {
      this.#nextSsn[streamId] = ssnAdd(ssn, 1);
      this.#drainStream(streamId);
      return;
    }
    // A skip costs HELD_OVERHEAD; at the cap the stream may stall, which only a peer that
    // sends inconsistent data can cause.
    if (this.#bufferedBytes + (this.#heldItems + 1) * HELD_OVERHEAD <= this.#cap) {
      this.#hold(streamId, ssn, undefined, 0);
    }
  }

  // ---- reassembly (§6.9): fragments of a message have consecutive TSNs ----------------------

  /** `next` may follow `previous` within one message. */
  #continues(previous: DataChunk, next: DataChunk): boolean {
    return (
      !previous.ending &&
      !next.beginning &&
      previous.streamId === next.streamId &&
      previous.unordered === next.unordered &&
      previous.ppid === next.ppid &&
      (previous.unordered || (previous.ssn & 0xffff) === (next.ssn & 0xffff))
    );
  }

  #addFragment(tsn: number, chunk: DataChunk): void {
    const fragments = this.#fragments;
    // The caller may reuse its DataChunk record (only userData, a view of the packet, is kept).
    chunk = { ...chunk };
    fragments.set(tsn, chunk);
    this.#bufferedBytes += chunk.userData.length;
    this.#heldItems++;
    let chain: Chain = { first: tsn, last: tsn, bytes: chunk.userData.length };
    this.#chainByFirst.set(tsn, chain);
    this.#chainByLast.set(tsn, chain);
    let orphan = false;

    const before = tsnAdd(tsn, -1);
    const left = this.#chainByLast.get(before);
    if (left) {
      const leftChunk = fragments.get(before)!;
      if (this.#continues(leftChunk, chunk)) {
        chain = this.#join(left, chain);
      } else {
        if (!leftChunk.ending) this.#discardChain(left, true); // its successor is not its own
        if (!chunk.beginning) orphan = true;
      }
    } else if (!chunk.beginning && this.#received(before)) {
      orphan = true; // the TSN before was received and is not a fragment of this message
    }

    const after = tsnAdd(tsn, 1);
    const right = this.#chainByFirst.get(after);
    if (right) {
      const rightChunk = fragments.get(after)!;
      if (this.#continues(chunk, rightChunk)) {
        chain = this.#join(chain, right);
      } else {
        if (!rightChunk.beginning) this.#discardChain(right, true);
        if (!chunk.ending) orphan = true;
      }
    } else if (!chunk.ending && this.#received(after)) {
      orphan = true;
    }

    if (orphan) {
      this.#discardChain(chain, true);
      return;
    }
    const head = fragments.get(chain.first)!;
    if (head.beginning && fragments.get(chain.last)!.ending) this.#assemble(chain, head);
  }

  #join(left: Chain, right: Chain): Chain {
    this.#chainByLast.delete(left.last);
    this.#chainByFirst.delete(right.first);
    left.last = right.last;
    left.bytes += right.bytes;
    this.#chainByLast.set(left.last, left);
    return left;
  }

  #removeChain(chain: Chain): void {
    this.#chainByFirst.delete(chain.first);
    this.#chainByLast.delete(chain.last);
    this.#bufferedBytes -= chain.bytes;
  }

  /** Concatenates a complete message once (§6.9) and hands it on. */
  #assemble(chain: Chain, head: DataChunk): void {
    this.#removeChain(chain);
    const payload = new Uint8Array(chain.bytes);
    let offset = 0;
    for (let tsn = chain.first; ; tsn = tsnAdd(tsn, 1)) {
      const fragment = this.#fragments.get(tsn)!;
      this.#fragments.delete(tsn);
      this.#heldItems--;
      payload.set(fragment.userData, offset);
      offset += fragment.userData.length;
      if (tsn === chain.last) break;
    }
    // An ordered message that must wait is counted again by #hold().
    this.#completeMessage(payload, head);
  }

  /** Frees a chain that can never complete; `abandon` also skips its SSN. */
  #discardChain(chain: Chain, abandon: boolean): void {
    this.#removeChain(chain);
    const head = this.#fragments.get(chain.first)!;
    for (let tsn = chain.first; ; tsn = tsnAdd(tsn, 1)) {
      this.#fragments.delete(tsn);
      this.#heldItems--;
      if (tsn === chain.last) break;
    }
    if (!abandon) return;
    if (head.beginning) {
      this.#abandon(head);
    } else {
      // The rest of a message abandoned before, or fragments that never had a beginning: the
      // SSN still must not block the stream, but it is not another message.
      this.orphanedFragments++;
      const before = this.abandonedMessages;
      this.#abandon(head);
      this.abandonedMessages = before;
    }
  }

  /** A chunk at `tsn` arrived that is not a fragment held here: neighbouring chains waiting for
   *  a fragment at `tsn` can never complete. */
  #orphanNeighbours(tsn: number): void {
    if (this.#fragments.size === 0) return;
    const before = tsnAdd(tsn, -1);
    const left = this.#chainByLast.get(before);
    if (left && !this.#fragments.get(before)!.ending) this.#discardChain(left, true);
    const after = tsnAdd(tsn, 1);
    const right = this.#chainByFirst.get(after);
    if (right && !this.#fragments.get(after)!.beginning) this.#discardChain(right, true);
  }
}
