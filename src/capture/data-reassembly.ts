// Reassembly of fragmented SCTP user messages (RFC 4960 §6.9): the fragments of one message
// carry consecutive TSNs, the first with the B bit, the last with the E bit, all on one stream.
// Kept per association direction; a retransmitted fragment (same TSN) replaces the earlier copy.
import { DataChunkFlag, type SctpDataChunk } from './sctp-packet.js';

export interface ReassembledMessage {
  /** TSN of the first fragment. */
  tsn: number;
  stream: number;
  ppid: number;
  flags: number;
  fragments: number;
  /** Frame number of the first fragment. */
  firstFrame: number;
  /** A view into the capture when the message came whole; a new buffer when it was reassembled. */
  userData: Uint8Array;
}

interface Fragment {
  chunk: SctpDataChunk;
  frame: number;
}

/** Fragments held per direction before the oldest are dropped (a lost fragment never completes). */
const MAX_PENDING_FRAGMENTS = 4096;
/** The longest message this will reassemble, in fragments. */
const MAX_FRAGMENTS_PER_MESSAGE = 65536;

export class DataReassembler {
  readonly #pending = new Map<string, Map<number, Fragment>>();

  /**
   * Adds one DATA chunk seen in `frame` on the association direction `direction`. Returns the
   * user message it completes, or null while fragments are missing.
   */
  push(direction: string, chunk: SctpDataChunk, frame: number): ReassembledMessage | null {
    const whole = DataChunkFlag.Beginning | DataChunkFlag.Ending;
    if ((chunk.flags & whole) === whole) {
      return {
        tsn: chunk.tsn,
        stream: chunk.stream,
        ppid: chunk.ppid,
        flags: chunk.flags,
        fragments: 1,
        firstFrame: frame,
        userData: chunk.userData,
      };
    }
    let fragments = this.#pending.get(direction);
    if (fragments === undefined) {
      fragments = new Map();
      this.#pending.set(direction, fragments);
    }
    fragments.delete(chunk.tsn); // keep insertion order = age, so a retransmission is young again
    fragments.set(chunk.tsn, { chunk, frame });
    if (fragments.size > MAX_PENDING_FRAGMENTS) {
      const oldest = fragments.keys().next().value;
      if (oldest !== undefined) fragments.delete(oldest);
    }
    return this.#complete(fragments, chunk);
  }

  /** Number of fragments still waiting for the rest of their message. */
  get pendingFragments(): number {
    let n = 0;
    for (const f of this.#pending.values()) n += f.size;
    return n;
  }

  #complete(fragments: Map<number, Fragment>, chunk: SctpDataChunk): ReassembledMessage | null {
    // Walk back to the B fragment and forward to the E fragment through consecutive TSNs.
    let first = chunk.tsn;
    let steps = 0;
    for (;;) {
      const f = fragments.get(first);
      if (f === undefined || f.chunk.stream !== chunk.stream) return null;
      if (f.chunk.flags & DataChunkFlag.Beginning) break;
      first = (first - 1) >>> 0;
      if (++steps > MAX_FRAGMENTS_PER_MESSAGE) return null;
    }
    let last = chunk.tsn;
    for (;;) {
      const f = fragments.get(last);
      if (f === undefined || f.chunk.stream !== chunk.stream) return null;
      if (f.chunk.flags & DataChunkFlag.Ending) break;
      last = (last + 1) >>> 0;
      if (++steps > MAX_FRAGMENTS_PER_MESSAGE) return null;
    }
    const parts: Fragment[] = [];
    for (let tsn = first; ; tsn = (tsn + 1) >>> 0) {
      parts.push(fragments.get(tsn)!);
      fragments.delete(tsn);
      if (tsn === last) break;
    }
    let length = 0;
    for (const p of parts) length += p.chunk.userData.length;
    const userData = new Uint8Array(length);
    let offset = 0;
    for (const p of parts) {
      userData.set(p.chunk.userData, offset);
      offset += p.chunk.userData.length;
    }
    const head = parts[0]!;
    return {
      tsn: first,
      stream: head.chunk.stream,
      ppid: head.chunk.ppid,
      flags: head.chunk.flags,
      fragments: parts.length,
      firstFrame: head.frame,
      userData,
    };
  }
}
