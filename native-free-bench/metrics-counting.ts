// What counting a message for /metrics costs on the I/O thread (src/shard/metrics-counts.ts):
// MessageTypeCounts.count over 256 type bytes, against a loop that only reads the type byte,
// and the heap before and after each run (after a GC when node runs with --expose-gc).
//   npm run build && node --expose-gc dist/native-free-bench/metrics-counting.js
import { MessageTypeCounts } from '../src/shard/metrics-counts.js';

const N = 50_000_000;
const RUNS = 5;
const counts = new MessageTypeCounts();
const messages = Array.from({ length: 256 }, (_, t) => new Uint8Array([t, 0, 0, 8, 0, 0, 0, 0]));
const gc = (globalThis as { gc?: () => void }).gc;

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

for (let i = 0; i < 1_000_000; i++) counts.count(messages[i & 255]!); // warm up
const perCount: number[] = [];
const heapGrowth: number[] = [];
for (let r = 0; r < RUNS; r++) {
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) counts.count(messages[i & 255]!);
  perCount.push(Number(process.hrtime.bigint() - t0) / N);
  heapGrowth.push(process.memoryUsage().heapUsed - before);
}
let sink = 0;
const baseline: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += messages[i & 255]![0]!;
  baseline.push(Number(process.hrtime.bigint() - t0) / N);
}
console.log(
  JSON.stringify({
    counts: N,
    runs: RUNS,
    nsPerCountMedian: Number(median(perCount).toFixed(2)),
    nsBaselineLoopMedian: Number(median(baseline).toFixed(2)),
    heapGrowthBytesPerRun: heapGrowth,
    gc: gc !== undefined,
    sink: sink > 0,
  }),
);
