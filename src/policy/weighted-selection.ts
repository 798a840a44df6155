// Selection for the random policy families (Random, Weighted Random, Randomized Least Used and
// their extensions): elements sit in a dense slot array and a Fenwick tree keeps prefix sums
// of their values, so a pick proportional to value is one O(log n) descent. Picks within one
// handle resolution are distinct (RFC 5356 §4.3.2): a picked element's value is zeroed for the
// rest of the resolution and restored afterwards. Values are integers below 2^32, so sums stay
// exact in doubles up to 2^21 elements per pool.
import type { PolicyEntry, RandomSource, Selection, SelectionOptions, WeightedPolicyDefinition } from './policy.js';

export class WeightedSelection implements Selection {
  readonly definition: WeightedPolicyDefinition;
  private slots: (PolicyEntry | undefined)[] = [];
  private count = 0;
  /** 1-based Fenwick tree over slots; length capacity + 1, capacity a power of two. */
  private tree = new Float64Array(1 + 8);
  private capacity = 8;
  private total = 0;
  private nextSequence = 0;
  private readonly random: RandomSource;

  constructor(definition: WeightedPolicyDefinition, options: SelectionOptions = {}) {
    this.definition = definition;
    this.random = options.random ?? Math.random;
  }

  get size(): number {
    return this.count;
  }

  /** Sum of all values (the denominator of every pick probability). */
  get valueSum(): number {
    return this.total;
  }

  add(entry: PolicyEntry): void {
    if (this.count === this.capacity) this.grow();
    entry.sequence = this.nextSequence++;
    entry.degradation = 0;
    entry.selectionKey2 = 0;
    this.definition.initialize?.(entry, this);
    const slot = this.count++;
    this.slots[slot] = entry;
    entry.selectionIndex = slot;
    const v = this.definition.value(entry);
    entry.selectionKey = v;
    this.addAt(slot, v);
  }

  remove(entry: PolicyEntry): void {
    const slot = entry.selectionIndex;
    const last = --this.count;
    if (slot !== last) {
      // The last element moves into the slot: two tree updates (one when the values are equal,
      // as in a Random pool) instead of three.
      const moved = this.slots[last]!;
      const delta = moved.selectionKey - entry.selectionKey;
      if (delta !== 0) this.addAt(slot, delta);
      this.addAt(last, -moved.selectionKey);
      this.slots[slot] = moved;
      moved.selectionIndex = slot;
    } else {
      this.addAt(slot, -entry.selectionKey);
    }
    this.slots[last] = undefined;
    entry.selectionIndex = -1;
  }

  update(entry: PolicyEntry): void {
    entry.degradation = 0;
    this.revalue(entry);
  }

  currentRound(): number {
    return 0;
  }

  select(out: PolicyEntry[], n: number, maxIncrement = 0): number {
    const k = n < this.count ? n : this.count;
    const increment = maxIncrement > 0 ? maxIncrement : this.definition.defaultMaxIncrement;
    const update = this.definition.update;
    const base = out.length;
    let picked = 0;
    while (picked < k) {
      if (this.total < 1) break; // only zero-valued elements left: they are never picked
      const r = Math.floor(this.random() * this.total);
      const entry = this.slots[this.find(r)]!;
      out.push(entry);
      entry.sequence = this.nextSequence++;
      if (picked < increment && update !== undefined) update(entry);
      picked++;
      if (picked < k) {
        // Take it out of the draw for the rest of this resolution.
        this.addAt(entry.selectionIndex, -entry.selectionKey);
        entry.selectionKey = 0;
      } else {
        this.revalue(entry);
      }
    }
    // Restore the values of those taken out of the draw (recomputed: degradation may have grown).
    const restore = picked < k ? picked : picked - 1;
    for (let i = 0; i < restore; i++) this.revalue(out[base + i]!);
    return picked;
  }

  *entries(): IterableIterator<PolicyEntry> {
    for (let i = 0; i < this.count; i++) yield this.slots[i]!;
  }

  /** Test hook: the tree's sums agree with the element values. */
  checkInvariant(): boolean {
    let sum = 0;
    for (let i = 0; i < this.count; i++) {
      const e = this.slots[i]!;
      if (e.selectionIndex !== i || e.selectionKey !== this.definition.value(e)) return false;
      sum += e.selectionKey;
      if (this.prefix(i + 1) !== sum) return false;
    }
    return sum === this.total;
  }

  private revalue(entry: PolicyEntry): void {
    const v = this.definition.value(entry);
    const delta = v - entry.selectionKey;
    if (delta !== 0) {
      entry.selectionKey = v;
      this.addAt(entry.selectionIndex, delta);
    }
  }

  private addAt(slot: number, delta: number): void {
    const tree = this.tree;
    const cap = this.capacity;
    for (let i = slot + 1; i <= cap; i += i & -i) tree[i]! += delta;
    this.total += delta;
  }

  private prefix(n: number): number {
    let s = 0;
    for (let i = n; i > 0; i -= i & -i) s += this.tree[i]!;
    return s;
  }

  /** The slot whose cumulative value range contains r (0 <= r < total). */
  private find(r: number): number {
    const tree = this.tree;
    let pos = 0;
    for (let step = this.capacity; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.capacity) {
        const v = tree[next]!;
        if (v <= r) {
          pos = next;
          r -= v;
        }
      }
    }
    // pos slots have cumulative value <= r; the next slot holds r. Guard against a zero tail.
    return pos < this.count ? pos : this.count - 1;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const tree = new Float64Array(capacity + 1);
    // O(n) Fenwick build.
    for (let i = 0; i < this.count; i++) tree[i + 1] = this.slots[i]!.selectionKey;
    for (let i = 1; i <= capacity; i++) {
      const j = i + (i & -i);
      if (j <= capacity) tree[j]! += tree[i]!;
    }
    this.tree = tree;
    this.capacity = capacity;
  }
}
