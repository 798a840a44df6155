// How many pool elements the whole handlespace holds when it is split into partitions on
// several threads (the shards): each partition writes its own count into its cell of one
// shared array, and any partition reads the sum. The handlespace-wide limit on PEs
// (maxPoolElements, RFC 5355 §6) is checked against that sum, so it holds for the registrar
// as a whole however unevenly the pools hash over the shards. Only concurrent additions in
// different shards at the same instant can pass it together (at most shards - 1 over).
// A partition that restarts empty writes 0 into its cell: the PEs of the thread that died
// no longer count.

/** What a partition needs of a census. */
export interface ElementCensus {
  /** PEs in every partition together. */
  total(): number;
  /** This partition now holds `count` PEs. */
  report(count: number): void;
}

/** Cells of a census shared by `partitions` threads (pass the buffer to each). */
export function censusBuffer(partitions: number): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * Math.max(1, partitions));
}

/** Partition `index`'s view of a shared census; its own cell starts at 0. */
export class SharedElementCensus implements ElementCensus {
  private readonly cells: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly index: number,
  ) {
    this.cells = new Int32Array(buffer);
    if (index < 0 || index >= this.cells.length) throw new RangeError(`census cell ${index} outside 0..${this.cells.length - 1}`);
    Atomics.store(this.cells, index, 0);
  }

  total(): number {
    let sum = 0;
    for (let i = 0; i < this.cells.length; i++) sum += Atomics.load(this.cells, i);
    return sum;
  }

  report(count: number): void {
    Atomics.store(this.cells, this.index, count);
  }
}
