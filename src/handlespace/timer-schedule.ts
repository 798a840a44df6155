// The partition's PE timers: one indexed binary heap ordered by due time, each element holding
// its own heap position so re-arming or cancelling is O(log n), and a single scheduler wake-up
// for the earliest due time. Idle timers cost nothing: no per-PE Node.js timers exist.
import { TimerKind, type PoolElement } from './pool-element.js';

/** Time source and wake-up service; injectable so tests run in virtual time. Times in ms. */
export interface Scheduler {
  now(): number;
  /** Calls callback once at (or after) time `at`; returns a handle for cancel(). */
  schedule(at: number, callback: () => void): unknown;
  cancel(handle: unknown): void;
}

/** Node.js timers on the monotonic clock. The wake-up does not keep the process alive. */
export const systemScheduler: Scheduler = {
  now: () => performance.now(),
  schedule(at, callback) {
    const delay = Math.min(Math.max(0, at - performance.now()), 0x7fffffff);
    const t = setTimeout(callback, delay);
    t.unref();
    return t;
  },
  cancel(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export class TimerSchedule {
  private heap: PoolElement[] = [];
  /** Entries discarded but still in the heap (see discard()). */
  private dead = 0;

  /** Armed timers. */
  get size(): number {
    return this.heap.length - this.dead;
  }

  /** Earliest due time (possibly of a dead entry: waking early is harmless), or Infinity. */
  get earliest(): number {
    return this.heap.length > 0 ? this.heap[0]!.timerAt : Number.POSITIVE_INFINITY;
  }

  peek(): PoolElement | undefined {
    return this.heap[0];
  }

  /**
   * Arms or re-arms the element's timer, due at `at` rounded up to a whole millisecond (Node's
   * timers wake in whole milliseconds anyway; and see PoolElement.timerAt).
   */
  set(element: PoolElement, due: number, kind: TimerKind): void {
    const at = Math.ceil(due);
    const old = element.timerAt;
    element.timerAt = at;
    element.timerKind = kind;
    if (element.timerIndex < 0) {
      const i = this.heap.length;
      this.heap.push(element);
      element.timerIndex = i;
      this.up(i);
    } else if (at < old) {
      this.up(element.timerIndex);
    } else if (at > old) {
      this.down(element.timerIndex);
    }
  }

  cancel(element: PoolElement): void {
    if (element.timerIndex < 0) return;
    this.unlink(element);
    element.timerKind = TimerKind.None;
  }

  /**
   * Cancels the timer of an element that will never be re-armed (it left the partition) in
   * O(1): the entry stays in the heap, marked dead, until it surfaces or the dead entries
   * outnumber the live ones and the heap is rebuilt. Deregistration then costs no sift.
   */
  discard(element: PoolElement): void {
    if (element.timerIndex < 0 || element.timerKind === TimerKind.None) return;
    element.timerKind = TimerKind.None;
    if (++this.dead > 1024 && this.dead * 2 > this.heap.length) this.compact();
  }

  /** Removes and returns the earliest element if it is due at `now`; its timerKind says what fell due. */
  popDue(now: number): PoolElement | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.timerAt > now) return undefined;
      this.unlink(top);
      if (top.timerKind !== TimerKind.None) return top;
      this.dead--;
    }
  }

  /** Drops dead entries and re-heapifies in O(n), in place (no new array: no garbage). */
  private compact(): void {
    const heap = this.heap;
    let live = 0;
    for (let i = 0; i < heap.length; i++) {
      const e = heap[i]!;
      if (e.timerKind !== TimerKind.None) {
        heap[live] = e;
        e.timerIndex = live++;
      } else {
        e.timerIndex = -1;
      }
    }
    heap.length = live;
    this.dead = 0;
    for (let i = (live >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private unlink(element: PoolElement): void {
    const i = element.timerIndex;
    const heap = this.heap;
    const last = heap.pop()!;
    element.timerIndex = -1;
    if (last !== element) {
      heap[i] = last;
      last.timerIndex = i;
      if (!this.up(i)) this.down(i);
    }
  }

  /** Test hook: heap order and back-pointers agree, and the dead count is right. */
  checkInvariant(): boolean {
    const heap = this.heap;
    let dead = 0;
    for (let i = 0; i < heap.length; i++) {
      if (heap[i]!.timerKind === TimerKind.None) dead++;
      if (heap[i]!.timerIndex !== i) return false;
      if (i > 0 && heap[i]!.timerAt < heap[(i - 1) >> 1]!.timerAt) return false;
    }
    return dead === this.dead;
  }

  private up(i: number): boolean {
    const heap = this.heap;
    const e = heap[i]!;
    const start = i;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.timerAt <= e.timerAt) break;
      heap[i] = parent;
      parent.timerIndex = i;
      i = p;
    }
    heap[i] = e;
    e.timerIndex = i;
    return i !== start;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const e = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1]!.timerAt < heap[c]!.timerAt) c++;
      const child = heap[c]!;
      if (child.timerAt >= e.timerAt) break;
      heap[i] = child;
      child.timerIndex = i;
      i = c;
    }
    heap[i] = e;
    e.timerIndex = i;
  }
}
