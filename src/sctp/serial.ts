// Serial number arithmetic (RFC 1982; RFC 9260 §1.6): TSNs are 32-bit and SSNs 16-bit
// counters that wrap, so "less than" means "less than within half the ring". Every value is a
// JS number holding the unsigned value; results are normalised back to unsigned.

/** Signed distance b - a in the 32-bit ring, in [-2^31, 2^31). */
export function tsnDiff(a: number, b: number): number {
  return (b - a) | 0;
}
export function tsnLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function tsnLte(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function tsnGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function tsnGte(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** a + n modulo 2^32 (n may be negative). */
export function tsnAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** The later of two TSNs. */
export function tsnMax(a: number, b: number): number {
  return tsnLt(a, b) ? b : a;
}

/** Signed distance b - a in the 16-bit ring, in [-2^15, 2^15). */
export function ssnDiff(a: number, b: number): number {
  return (((b - a) << 16) >> 16);
}
export function ssnLt(a: number, b: number): boolean {
  return ssnDiff(b, a) < 0;
}
export function ssnLte(a: number, b: number): boolean {
  return ssnDiff(b, a) <= 0;
}
export function ssnGt(a: number, b: number): boolean {
  return ssnDiff(b, a) > 0;
}
export function ssnGte(a: number, b: number): boolean {
  return ssnDiff(b, a) >= 0;
}
/** a + n modulo 2^16 (n may be negative). */
export function ssnAdd(a: number, n: number): number {
  return (a + n) & 0xffff;
}
