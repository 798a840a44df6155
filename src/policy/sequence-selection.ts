// Selection for policies ordered by sequence number alone (Round Robin): the circular list of
// RFC 5356 §4.1.2. The list is always in ascending sequence order, because a selected element
// gets the pool's next (largest) sequence number and moves to the tail; so this gives exactly
// the order OrderedSelection would, with O(1) add, remove and per-pick update.
import type { OrderedPolicyDefinition, PolicyEntry, Selection } from './policy.js';

export class SequenceSelection implements Selection {
  readonly definition: OrderedPolicyDefinition;
  private head: PolicyEntry | null = null;
  private tail: PolicyEntry | null = null;
  private count = 0;
  private nextSequence = 0;

  constructor(definition: OrderedPolicyDefinition) {
    this.definition = definition;
  }

  get size(): number {
    return this.count;
  }

  add(entry: PolicyEntry): void {
    entry.degradation = 0;
    entry.selectionKey = 0;
    entry.selectionKey2 = 0;
    this.definition.initialize?.(entry, this);
    entry.selectionIndex = 0;
    this.append(entry);
    this.count++;
  }

  remove(entry: PolicyEntry): void {
    this.unlink(entry);
    entry.selectionIndex = -1;
    this.count--;
  }

  update(entry: PolicyEntry): void {
    entry.degradation = 0;
  }

  currentRound(): number {
    return 0;
  }

  select(out: PolicyEntry[], n: number, maxIncrement = 0): number {
    const k = n < this.count ? n : this.count;
    if (k <= 0) return 0;
    const base = out.length;
    let e = this.head;
    for (let i = 0; i < k; i++) {
      out.push(e!);
      e = e!.selectionNext;
    }
    const increment = maxIncrement > 0 ? maxIncrement : this.definition.defaultMaxIncrement;
    const updates = k < increment ? k : increment;
    const update = this.definition.update;
    for (let i = 0; i < updates; i++) {
      const entry = out[base + i]!;
      if (update !== undefined) update(entry);
      this.unlink(entry);
      this.append(entry);
    }
    return k;
  }

  *entries(): IterableIterator<PolicyEntry> {
    for (let e = this.head; e !== null; e = e.selectionNext) yield e;
  }

  /** Test hook: links agree and sequences ascend. */
  checkInvariant(): boolean {
    let n = 0;
    let prev: PolicyEntry | null = null;
    for (let e = this.head; e !== null; e = e.selectionNext) {
      if (e.selectionPrev !== prev || (prev !== null && prev.sequence >= e.sequence)) return false;
      prev = e;
      n++;
    }
    return prev === this.tail && n === this.count;
  }

  private append(entry: PolicyEntry): void {
    entry.sequence = this.nextSequence++;
    entry.selectionNext = null;
    entry.selectionPrev = this.tail;
    if (this.tail !== null) this.tail.selectionNext = entry;
    else this.head = entry;
    this.tail = entry;
  }

  private unlink(entry: PolicyEntry): void {
    const prev = entry.selectionPrev;
    const next = entry.selectionNext;
    if (prev !== null) prev.selectionNext = next;
    else this.head = next;
    if (next !== null) next.selectionPrev = prev;
    else this.tail = prev;
    entry.selectionPrev = null;
    entry.selectionNext = null;
  }
}
