// The pre-encoded Pool Element parameters (RFC 5354 §3.13) of one pool's elements, kept end
// to end in one byte slab instead of one Uint8Array per PE. A Uint8Array of its own costs a
// PE ~240 bytes of heap for ~56 bytes of data (the typed array, its ArrayBuffer, the bytes);
// here a PE holds an offset and a length (docs/benchmarks.md, "Where the memory goes").
//
// Bytes are only appended: a re-registration with other bytes appends them and the old ones
// become dead space, so a view handed out earlier (PoolElement.encoded) keeps what it showed,
// and a removed element keeps its bytes (it still points at the slab array it was in: ENRP
// tells peers about it after the partition let it go).
// A small slab (up to CHUNK bytes) is one array: when it is full its live bytes move to a new
// one sized 1.5x what is live (growth and compaction in one). A large slab is a chain of
// CHUNK-sized arrays: when its last one is full and at least half of it is live, it grows by
// a new chunk, and nothing moves (moving re-points every element: at 100,000 PEs a third of
// the registration time went there). A slab whose live bytes fell under a quarter of it, or
// a large one that is half dead space and full, is rebuilt from its live bytes. Every rebuild
// is O(live bytes) after at least as many bytes appended or released, so each operation
// stays amortized O(1).

/** What the slab needs of an element: where its bytes are. */
export interface SlabEntry {
  /** The slab array the bytes are in (one of the slab's own while the element is registered). */
  encodedBytes: Uint8Array;
  encodedStart: number;
  encodedLength: number;
}

/**
 * The elements whose bytes are in the slab (the pool's ElementTable), read place by place in
 * registration order (null: a hole) only when the slab is rebuilt: no iterator, no garbage per
 * element, and elements in the order they were allocated (memory order, mostly).
 */
export interface SlabEntries {
  readonly length: number;
  at(i: number): SlabEntry | null;
}

const EMPTY = new Uint8Array(0);
/** Smallest slab, in bytes: a pool of one PE with an IPv4 address fits. */
const MIN_CAPACITY = 64;
/** A large slab's arrays: ~1,000 PEs each (an element's bytes never straddle two). */
export const SLAB_CHUNK = 64 * 1024;

export class EncodedSlab {
  /** The array appends go to (a large slab's last chunk). */
  bytes: Uint8Array = EMPTY;
  /** Appended to `bytes` so far (live and dead). */
  used = 0;
  /** Bytes of registered elements. */
  live = 0;
  /** Bytes of every array of the slab. */
  capacity = 0;

  /**
   * Stores `src` for `entry`, which is not among `entries` or holds no bytes (encodedLength 0:
   * its old ones released). `entries` are the elements whose bytes are in the slab: they
   * are moved if the slab is rebuilt.
   */
  store(entry: SlabEntry, src: Uint8Array, entries: SlabEntries): void {
    const n = src.length;
    if (this.used + n > this.bytes.length) this.makeRoom(n, entries);
    const at = this.used;
    this.bytes.set(src, at);
    this.used = at + n;
    this.live += n;
    entry.encodedBytes = this.bytes;
    entry.encodedStart = at;
    entry.encodedLength = n;
  }

  /** An element's bytes are dead (it left `entries`, which are the remaining ones). */
  release(length: number, entries: SlabEntries): void {
    this.live -= length;
    const capacity = this.capacity;
    if (capacity > 4 * MIN_CAPACITY && this.live < capacity / 4) this.rebuild(0, entries);
  }

  /** The entry (still among the entries) is about to be stored anew: its old bytes are dead. */
  forget(entry: SlabEntry): void {
    this.live -= entry.encodedLength;
    entry.encodedLength = 0;
  }

  /** True if the entry's bytes are `src` (a re-registration that changed nothing). */
  holds(entry: SlabEntry, src: Uint8Array): boolean {
    const n = src.length;
    if (entry.encodedLength !== n) return false;
    const bytes = entry.encodedBytes;
    const at = entry.encodedStart;
    for (let i = 0; i < n; i++) if (bytes[at + i] !== src[i]) return false;
    return true;
  }

  /** `n` bytes do not fit in the last array: a new chunk, or a rebuild. */
  private makeRoom(n: number, entries: SlabEntries): void {
    if (this.capacity >= SLAB_CHUNK && this.live * 2 >= this.capacity) {
      const chunk = new Uint8Array(Math.max(SLAB_CHUNK, n));
      this.bytes = chunk;
      this.used = 0;
      this.capacity += chunk.length;
    } else {
      this.rebuild(n, entries);
    }
  }

  /**
   * Live bytes into new arrays with room for `extra` more: one array of 1.5x what is live while
   * that is at most a chunk, chunks beyond.
   */
  private rebuild(extra: number, entries: SlabEntries): void {
    const want = Math.max(MIN_CAPACITY, (Math.ceil(((this.live + extra) * 3) / 2) + 7) & ~7);
    let next = new Uint8Array(Math.min(want, SLAB_CHUNK));
    let capacity = next.length;
    let at = 0;
    let live = 0;
    const places = entries.length;
    for (let j = 0; j < places; j++) {
      const e = entries.at(j);
      if (e === null) continue;
      const n = e.encodedLength;
      if (n === 0) continue;
      if (at + n > next.length) {
        next = new Uint8Array(Math.max(SLAB_CHUNK, n));
        capacity += next.length;
        at = 0;
      }
      // A byte loop, not set(subarray()): a view per element would be ~100 bytes of garbage
      // each, and a rebuild while PEs deregister touches every remaining one.
      const src = e.encodedBytes;
      const from = e.encodedStart;
      for (let i = 0; i < n; i++) next[at + i] = src[from + i]!;
      e.encodedBytes = next;
      e.encodedStart = at;
      at += n;
      live += n;
    }
    if (at + extra > next.length) {
      next = new Uint8Array(Math.max(SLAB_CHUNK, extra));
      capacity += next.length;
      at = 0;
    }
    this.bytes = next;
    this.used = at;
    this.live = live;
    this.capacity = capacity;
  }
}
