// Selection for the ordered policies (Round Robin, Weighted Round Robin, Priority and the
// Least Used family): an indexed binary heap ordered by (key, key2, sequence). The first n
// elements in order are read without modifying the heap by a best-first walk from the root
// (O(n log n) comparisons, independent of the pool size); each element that gets a new
// sequence number is re-sifted in O(log pool size). Equal keys rotate because a selected
// element's new sequence number is the pool's largest (RFC 5356 §4.1.2, §5.1.2).
import type { OrderedPolicyDefinition, PolicyEntry, Selection } from './policy.js';

/** Scratch for the best-first walk: candidate heap positions, at most 2 * 128 + 1. */
const candidates = new Int32Array(512);

function less(a: PolicyEntry, b: PolicyEntry): boolean {
  if (a.selectionKey !== b.selectionKey) return a.selectionKey < b.selectionKey;
  if (a.selectionKey2 !== b.selectionKey2) return a.selectionKey2 < b.selectionKey2;
  return a.sequence < b.sequence;
}

export class OrderedSelection implements Selection {
  readonly definition: OrderedPolicyDefinition;
  private readonly heap: PolicyEntry[] = [];
  private nextSequence = 0;

  constructor(definition: OrderedPolicyDefinition) {
    this.definition = definition;
  }

  get size(): number {
    return this.heap.length;
  }

  add(entry: PolicyEntry): void {
    entry.sequence = this.nextSequence++;
    entry.degradation = 0;
    this.definition.initialize?.(entry, this);
    this.refreshKey(entry);
    const i = this.heap.length;
    this.heap.push(entry);
    entry.selectionIndex = i;
    this.siftUp(i);
  }

  remove(entry: PolicyEntry): void {
    const heap = this.heap;
    const i = entry.selectionIndex;
    const last = heap.pop()!;
    entry.selectionIndex = -1;
    if (last !== entry) {
      heap[i] = last;
      last.selectionIndex = i;
      this.fix(i);
    }
  }

  update(entry: PolicyEntry): void {
    entry.degradation = 0;
    this.refreshKey(entry);
    this.fix(entry.selectionIndex);
  }

  currentRound(): number {
    return this.heap.length > 0 ? this.heap[0]!.roundCounter : 0;
  }

  select(out: PolicyEntry[], n: number, maxIncrement = 0): number {
    const heap = this.heap;
    const size = heap.length;
    const k = n < size ? n : size;
    if (k <= 0) return 0;
    const base = out.length;
    if (k === 1) {
      out.push(heap[0]!);
    } else {
      // Best-first walk: a small binary heap of candidate positions, seeded with the root.
      let count = 1;
      candidates[0] = 0;
      for (let taken = 0; taken < k; taken++) {
        const top = candidates[0]!;
        out.push(heap[top]!);
        // Replace the popped candidate by its children.
        const left = 2 * top + 1;
        count--;
        if (count > 0) {
          candidates[0] = candidates[count]!;
          this.candidateDown(0, count);
        }
        if (left < size) {
          candidates[count] = left;
          this.candidateUp(count++);
          if (left + 1 < size) {
            candidates[count] = left + 1;
            this.candidateUp(count++);
          }
        }
      }
    }
    const increment = maxIncrement > 0 ? maxIncrement : this.definition.defaultMaxIncrement;
    const updates = k < increment ? k : increment;
    const update = this.definition.update;
    for (let i = 0; i < updates; i++) {
      const entry = out[base + i]!;
      entry.sequence = this.nextSequence++;
      if (update !== undefined) update(entry);
      this.refreshKey(entry);
      this.fix(entry.selectionIndex);
    }
    return k;
  }

  *entries(): IterableIterator<PolicyEntry> {
    yield* this.heap;
  }

  /** Heap invariant check for tests: every parent orders before its children. */
  checkInvariant(): boolean {
    const heap = this.heap;
    for (let i = 0; i < heap.length; i++) {
      if (heap[i]!.selectionIndex !== i) return false;
      if (i > 0 && less(heap[i]!, heap[(i - 1) >> 1]!)) return false;
    }
    return true;
  }

  private refreshKey(entry: PolicyEntry): void {
    entry.selectionKey = this.definition.key(entry);
    entry.selectionKey2 = this.definition.key2 !== undefined ? this.definition.key2(entry) : 0;
  }

  private fix(i: number): void {
    if (!this.siftUp(i)) this.siftDown(i);
  }

  private siftUp(i: number): boolean {
    const heap = this.heap;
    const entry = heap[i]!;
    const start = i;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (!less(entry, parent)) break;
      heap[i] = parent;
      parent.selectionIndex = i;
      i = p;
    }
    heap[i] = entry;
    entry.selectionIndex = i;
    return i !== start;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const size = heap.length;
    const entry = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      let child = heap[c]!;
      if (c + 1 < size) {
        const right = heap[c + 1]!;
        if (less(right, child)) {
          c++;
          child = right;
        }
      }
      if (!less(child, entry)) break;
      heap[i] = child;
      child.selectionIndex = i;
      i = c;
    }
    heap[i] = entry;
    entry.selectionIndex = i;
  }

  private candidateUp(i: number): void {
    const heap = this.heap;
    const pos = candidates[i]!;
    const entry = heap[pos]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ppos = candidates[p]!;
      if (!less(entry, heap[ppos]!)) break;
      candidates[i] = ppos;
      i = p;
    }
    candidates[i] = pos;
  }

  private candidateDown(i: number, count: number): void {
    const heap = this.heap;
    const pos = candidates[i]!;
    const entry = heap[pos]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= count) break;
      if (c + 1 < count && less(heap[candidates[c + 1]!]!, heap[candidates[c]!]!)) c++;
      const cpos = candidates[c]!;
      if (!less(heap[cpos]!, entry)) break;
      candidates[i] = cpos;
      i = c;
    }
    candidates[i] = pos;
  }
}
