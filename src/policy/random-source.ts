// A small seeded generator (sfc32) for reproducible tests and benchmarks; production uses
// Math.random. Two 32-bit outputs make one double with 53 random bits, so draws over value
// sums up to 2^53 stay unbiased at the granularity the Fenwick descent needs.
import type { RandomSource } from './policy.js';

export function seededRandom(seed: number): RandomSource {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next();
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}
