// The PEs one registrar owns, their home registrar (RFC 5353 §3.6.2 PE checksum, §3.9
// takeover, W-flag handle tables): an intrusive doubly linked list through the elements
// (PoolElement.ownerPrev/ownerNext) with the running checksum word sum. Adding and removing
// are pointer updates: no hash of the element, no hash table to grow or shrink (a Set here
// cost a deregistration more than the pool's own heap removal, and ~10 bytes per PE).
//
// A walk (OwnerWalk) over the list survives changes as a Set iterator would: a PE that stays
// is visited exactly once, one removed (or moved to another owner) is not visited after
// that, one added later is visited at the end. The set moves the walks that stand on a PE it
// unlinks; it holds them weakly, so a walk that is dropped half-way costs nothing.
import type { PoolElement } from './pool-element.js';

/** A resumable walk over one owner's PEs in list order (see OwnerSet). */
export class OwnerWalk {
  /** The next PE to visit; null at the end of the list. */
  next: PoolElement | null;
  /** The walk reached the end once: it stays ended, as an iterator does. */
  finished = false;

  constructor(first: PoolElement | null) {
    this.next = first;
  }

  /** The next PE, or undefined when the walk is over. */
  take(): PoolElement | undefined {
    const e = this.next;
    if (e === null || this.finished) {
      this.finished = true;
      return undefined;
    }
    this.next = e.ownerNext;
    return e;
  }
}

export class OwnerSet {
  readonly id: number;
  head: PoolElement | null = null;
  tail: PoolElement | null = null;
  /** PEs in the list. */
  count = 0;
  /** Exact sum of the 16-bit words of every owned PE's checksum block (pe-checksum.ts). */
  wordSum = 0;
  /** Walks not yet finished (null while there are none: the common case costs one test). */
  private walks: WeakRef<OwnerWalk>[] | null = null;

  constructor(id: number) {
    this.id = id;
  }

  get size(): number {
    return this.count;
  }

  /** Appends `element` (not in any owner list). */
  add(element: PoolElement): void {
    const tail = this.tail;
    element.ownerPrev = tail;
    element.ownerNext = null;
    if (tail !== null) tail.ownerNext = element;
    else this.head = element;
    this.tail = element;
    this.count++;
    // A walk that reached the end but has not reported it yet visits the newcomer.
    if (this.walks !== null) this.forWalks((w) => {
      if (w.next === null) w.next = element;
    });
  }

  /** Unlinks `element` (in this list). */
  delete(element: PoolElement): void {
    const prev = element.ownerPrev;
    const next = element.ownerNext;
    if (this.walks !== null) this.forWalks((w) => {
      if (w.next === element) w.next = next;
    });
    if (prev !== null) prev.ownerNext = next;
    else this.head = next;
    if (next !== null) next.ownerPrev = prev;
    else this.tail = prev;
    element.ownerPrev = null;
    element.ownerNext = null;
    this.count--;
  }

  /** A walk from the head that follows later changes (HandleTableCursor). */
  walk(): OwnerWalk {
    const w = new OwnerWalk(this.head);
    (this.walks ??= []).push(new WeakRef(w));
    return w;
  }

  /**
   * The PEs in list order. The element just returned may be removed or moved to another owner
   * before the next step (takeover does); other changes during the iteration: use walk().
   */
  *values(): IterableIterator<PoolElement> {
    let e = this.head;
    while (e !== null) {
      const next = e.ownerNext;
      yield e;
      e = next;
    }
  }

  [Symbol.iterator](): IterableIterator<PoolElement> {
    return this.values();
  }

  /** Test hook: links agree both ways and with the count. */
  checkLinks(): boolean {
    let n = 0;
    let prev: PoolElement | null = null;
    for (let e = this.head; e !== null; e = e.ownerNext) {
      if (e.ownerPrev !== prev || e.homeRegistrarId !== this.id) return false;
      prev = e;
      n++;
    }
    return prev === this.tail && n === this.count;
  }

  /** Calls `f` for every live, unfinished walk and forgets the others. */
  private forWalks(f: (w: OwnerWalk) => void): void {
    const walks = this.walks!;
    let kept = 0;
    for (let i = 0; i < walks.length; i++) {
      const w = walks[i]!.deref();
      if (w === undefined || w.finished) continue;
      f(w);
      walks[kept++] = walks[i]!;
    }
    walks.length = kept;
    if (kept === 0) this.walks = null;
  }
}
