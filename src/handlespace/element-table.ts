// A pool's elements by PE ID (RFC 5351 §2.1: a PE is identified by pool handle and PE ID), in
// the order they registered: a table of its own instead of a `Map<number, PoolElement>`.
//
// Two arrays. The index is an open-addressing hash table whose slots hold the elements
// themselves; a probe compares the element's own peId, so a lookup reads one slot and then the
// element it needs anyway (a Map reads a bucket, then an entry, then the element: one cache
// miss more at 100,000 PEs). The order is a dense array in registration order, which walks go
// through (dumps, snapshots, handle tables list PEs as they came); each element knows its
// place in it (PoolElement.tableIndex). A removal leaves a marker in both and moves nothing:
// no neighbour is touched and nothing is allocated (V8 rebuilds a Map as it shrinks: most of
// a deregistration's garbage was that).
//
// Index: linear probing, a power-of-two capacity, at most half of it in use (elements and
// removal markers); an insert that would pass half rebuilds it (twice the size when more than
// a quarter is live, else the same size: the markers go); a removal that leaves a sixteenth
// or less live rebuilds it at a quarter of the size (a quarter live again: a pool that empties
// allocates ~11 bytes per removal for it, where halving at an eighth cost ~32). Order:
// appended to; compacted when its holes outnumber its elements. Every rebuild and compaction
// is O(size) after Θ(size) inserts or removals, so each operation stays amortized O(1); the
// index is never more than 16 slots per element, the order 2 places (the pool's element limit
// bounds the elements).
//
// Walks (values(), the handle table cursor) behave like Map iterators: an element that stays
// is visited exactly once, one removed is not visited after its removal, one added before the
// walk ends is visited at the end. Compaction is the only move: the table then re-points every
// unfinished walk to the same element. The table holds its walks weakly, so a walk dropped
// half-way costs nothing.
import type { PoolElement } from './pool-element.js';

/** A removed element's index slot: probes continue past it, an insert may reuse it. */
const REMOVED = Object.freeze({}) as PoolElement;
/** Smallest index capacity (slots). */
const MIN_CAPACITY = 8;

/**
 * Multiply-shift hashing with a random odd multiplier drawn per process (Dietzfelbinger et al.:
 * two IDs share a home slot with probability at most 2 / capacity): PE IDs come from the
 * network, and with a fixed multiplier a registrant could pick IDs that all probe the same
 * run of slots, making every operation on the pool linear in its size.
 */
const MULTIPLIER = globalThis.crypto.getRandomValues(new Uint32Array(1))[0]! | 1;

function slotOf(peId: number, shift: number): number {
  return Math.imul(peId | 0, MULTIPLIER) >>> shift;
}

export class ElementTable implements Iterable<PoolElement> {
  private slots: (PoolElement | null)[] = new Array<PoolElement | null>(MIN_CAPACITY).fill(null);
  /** 32 - log2(capacity): slotOf's shift. */
  private shift = 32 - Math.log2(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;
  /** Index slots that hold REMOVED. */
  private removed = 0;
  /** Elements in registration order; null where one was removed. */
  private order: (PoolElement | null)[] = [];
  /** Unfinished walks (null while there are none: the common case costs one test). */
  private walks: WeakRef<ElementWalk>[] | null = null;
  /** Walks recorded before the list is pruned of ended and collected ones. */
  private pruneAt = 8;
  /** Walks neither ended nor found collected: at 0 the list goes (a walked pool keeps nothing). */
  private openWalks = 0;

  /** Elements in the table. */
  get size(): number {
    return this.count;
  }

  /** Index slots (a power of two): for tests and memory accounting. */
  get capacity(): number {
    return this.mask + 1;
  }

  /** Places in the order (elements and holes): walks and the slab read `at(0 .. length-1)`. */
  get length(): number {
    return this.order.length;
  }

  /** The element at place `i` of the order, or null (a hole). */
  at(i: number): PoolElement | null {
    return this.order[i] ?? null;
  }

  get(peId: number): PoolElement | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = slotOf(peId, this.shift); ; i = (i + 1) & mask) {
      const e = slots[i]!;
      if (e === null) return undefined;
      if (e !== REMOVED && e.peId === peId) return e;
    }
  }

  has(peId: number): boolean {
    return this.get(peId) !== undefined;
  }

  /** Adds an element whose PE ID is not in the table yet (the caller looked it up). */
  add(element: PoolElement): void {
    if ((this.count + this.removed + 1) * 2 > this.mask + 1) {
      this.rebuild((this.count + 1) * 4 > this.mask + 1 ? (this.mask + 1) * 2 : this.mask + 1);
    }
    const slots = this.slots;
    const mask = this.mask;
    let i = slotOf(element.peId, this.shift);
    for (;;) {
      const e = slots[i]!;
      if (e === null) break;
      if (e === REMOVED) {
        this.removed--;
        break;
      }
      i = (i + 1) & mask;
    }
    slots[i] = element;
    element.tableIndex = this.order.length;
    this.order.push(element);
    this.count++;
  }

  /** Removes `element` (by identity); false if it is not in the table. */
  delete(element: PoolElement): boolean {
    const place = element.tableIndex;
    const order = this.order;
    if (place < 0 || place >= order.length || order[place] !== element) return false;
    const slots = this.slots;
    const mask = this.mask;
    for (let i = slotOf(element.peId, this.shift); ; i = (i + 1) & mask) {
      const e = slots[i]!;
      if (e === element) {
        slots[i] = REMOVED;
        break;
      }
    }
    order[place] = null;
    element.tableIndex = -1;
    this.removed++;
    this.count--;
    const capacity = mask + 1;
    if (capacity > MIN_CAPACITY && this.count * 16 <= capacity) this.rebuild(Math.max(MIN_CAPACITY, capacity / 4));
    const holes = order.length - this.count;
    if (holes > 16 && holes > this.count) this.compact();
    return true;
  }

  /** A walk over the elements in registration order that follows later changes. */
  values(): ElementWalk {
    const walk = new ElementWalk(this);
    if (this.walks !== null && this.walks.length >= this.pruneAt) {
      this.walks = this.openWalkRefs();
      this.pruneAt = Math.max(8, 2 * this.walks.length);
    }
    (this.walks ??= []).push(new WeakRef(walk));
    this.openWalks++;
    return walk;
  }

  /** A walk of this table ended (its last next(), or return()). */
  walkEnded(): void {
    if (--this.openWalks > 0) return;
    this.walks = null;
    this.pruneAt = 8;
  }

  /** The walks still open (neither ended nor collected); the count follows. */
  private openWalkRefs(): WeakRef<ElementWalk>[] {
    const open = (this.walks ?? []).filter((ref) => {
      const w = ref.deref();
      return w !== undefined && !w.ended;
    });
    this.openWalks = open.length;
    return open;
  }

  [Symbol.iterator](): ElementWalk {
    return this.values();
  }

  /** Test hook: counts, index and order agree. */
  checkInvariant(): boolean {
    let live = 0;
    let removed = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const e = this.slots[i]!;
      if (e === REMOVED) removed++;
      else if (e !== null) {
        live++;
        if (this.get(e.peId) !== e || this.order[e.tableIndex] !== e) return false;
      }
    }
    let ordered = 0;
    for (let i = 0; i < this.order.length; i++) {
      const e = this.order[i];
      if (e === null) continue;
      if (e === undefined || e.tableIndex !== i) return false;
      ordered++;
    }
    return live === this.count && ordered === live && removed === this.removed && (live + removed) * 2 <= this.mask + 1;
  }

  /**
   * The index at `capacity` slots, without the removal markers. Elements do not move. It reads
   * them through the order: registration order is mostly the order they lie in memory, so the
   * reads go forward instead of jumping (the old slots' hash order would be a miss each).
   */
  private rebuild(capacity: number): void {
    const order = this.order;
    const slots = new Array<PoolElement | null>(capacity).fill(null);
    const mask = capacity - 1;
    const shift = 32 - Math.log2(capacity);
    for (let j = 0; j < order.length; j++) {
      const e = order[j];
      if (e === null || e === undefined) continue;
      let i = slotOf(e.peId, shift);
      while (slots[i] !== null) i = (i + 1) & mask;
      slots[i] = e;
    }
    this.slots = slots;
    this.mask = mask;
    this.shift = shift;
    this.removed = 0;
  }

  /** Closes the order's holes, in place; every unfinished walk keeps its next element. */
  private compact(): void {
    const order = this.order;
    let walks: ElementWalk[] = [];
    if (this.walks !== null) {
      this.walks = this.openWalkRefs();
      walks = this.walks.map((ref) => ref.deref()!).sort((a, b) => a.place - b.place);
    }
    let k = 0;
    let n = 0;
    for (let i = 0; i < order.length; i++) {
      // A walk standing at place i moves to where the next element lands (walks by place: one
      // pass over them).
      while (k < walks.length && walks[k]!.place === i) walks[k++]!.place = n;
      const e = order[i];
      if (e === null || e === undefined) continue;
      e.tableIndex = n;
      order[n++] = e;
    }
    while (k < walks.length) walks[k++]!.place = n;
    order.length = n;
  }
}

/** A walk over an ElementTable in registration order (an iterator; see ElementTable). */
export class ElementWalk implements IterableIterator<PoolElement> {
  private table: ElementTable | null;
  /** The next place of the order to look at (compaction moves it). */
  place = 0;

  constructor(table: ElementTable) {
    this.table = table;
  }

  get ended(): boolean {
    return this.table === null;
  }

  next(): IteratorResult<PoolElement, undefined> {
    const table = this.table;
    if (table === null) return { done: true, value: undefined };
    while (this.place < table.length) {
      const e = table.at(this.place++);
      if (e !== null) return { done: false, value: e };
    }
    return this.return();
  }

  /** Ends the walk (for-of calls it on break). */
  return(): IteratorResult<PoolElement, undefined> {
    const table = this.table;
    this.table = null;
    table?.walkEnded();
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): ElementWalk {
    return this;
  }
}
