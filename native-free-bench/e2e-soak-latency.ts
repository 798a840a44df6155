// The latencies of one window of `rserpool bench e2e --soak` (e2e-soak.ts): counts per bucket
// of a fixed histogram for the report, and counts in 1-%-wide log buckets for its percentiles.

/** Upper bounds (ms) of the latency histogram's buckets: half octaves from 1/16 ms to 4 s; the last bucket is everything above. */
export const HISTOGRAM_BOUNDS_MS: readonly number[] = Array.from({ length: 37 }, (_, k) => Math.round(0.0625 * 2 ** (k / 2) * 1e4) / 1e4);

/** Fine buckets of the percentiles: 1 % wide (log scale) from FINE_FLOOR_MS up, FINE_BUCKETS of them (to ~10 minutes). */
const FINE_FLOOR_MS = 0.001;
const FINE_STEP = Math.log(1.01);
const FINE_BUCKETS = 2400;

/**
 * Latencies of one window: counts per bucket of HISTOGRAM_BOUNDS_MS (plus one above) for the
 * report, and counts in 1-%-wide buckets for the percentiles. No list of values to sort: a
 * window holds 450,000 resolutions, and sorting them at the window's end held the generator's
 * thread for ~50 ms, long enough to show in the latencies it was timing and to send the next
 * requests in a burst.
 */
export class WindowLatency {
  readonly buckets = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  private readonly fine = new Uint32Array(FINE_BUCKETS);
  count = 0;
  max = 0;

  add(ms: number): void {
    this.count++;
    if (ms > this.max) this.max = ms;
    let b = 0;
    while (b < HISTOGRAM_BOUNDS_MS.length && ms > HISTOGRAM_BOUNDS_MS[b]!) b++;
    this.buckets[b]!++;
    const f = ms <= FINE_FLOOR_MS ? 0 : Math.min(FINE_BUCKETS - 1, Math.ceil(Math.log(ms / FINE_FLOOR_MS) / FINE_STEP));
    this.fine[f]!++;
  }

  /** Percentiles (0..1) in ms, each the upper bound of its 1-% bucket (never more than the max); NaN when empty. */
  percentiles(...ps: number[]): number[] {
    return ps.map((p) => {
      if (this.count === 0) return NaN;
      const rank = Math.min(this.count - 1, Math.floor(this.count * p));
      let seen = 0;
      for (let f = 0; f < FINE_BUCKETS; f++) {
        seen += this.fine[f]!;
        if (seen > rank) return Math.min(this.max, FINE_FLOOR_MS * Math.exp(f * FINE_STEP));
      }
      return this.max;
    });
  }
}
