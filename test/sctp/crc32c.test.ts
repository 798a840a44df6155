import { describe, expect, it } from 'vitest';
import { crc32c, sctpChecksum, verifySctpChecksum, writeSctpChecksum } from '../../src/sctp/crc32c.js';

/** Bytewise reference (RFC 9260 Appendix A), to check the slicing-by-8 tables. */
function reference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('check values', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });
  it('matches the bytewise reference for every length and offset', () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= 300; end += 7) expect(crc32c(data, start, end)).toBe(reference(data.subarray(start, end)));
    }
  });
  it('word loads (the buffer checksummed last, or 512 bytes and more) and byte loads (a fresh short buffer) agree with the reference', () => {
    const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 197 + seed) & 0xff);
    for (let n = 0; n <= 700; n += 13) {
      // A buffer of its own each time, as a received datagram: byte loads below 512 bytes.
      const fresh = pattern(n + 5, n);
      expect(crc32c(fresh, 5, n + 5)).toBe(reference(fresh.subarray(5, n + 5)));
    }
    // One buffer, first read at 600 bytes (it gets the word view), then short ranges of it:
    // the word loads on the cached view, at every alignment.
    const shared = pattern(700, 3);
    expect(crc32c(shared, 0, 600)).toBe(reference(shared.subarray(0, 600)));
    for (let start = 0; start < 8; start++) {
      for (let end = start + 30; end <= 200; end += 17) expect(crc32c(shared, start, end)).toBe(reference(shared.subarray(start, end)));
    }
  });
  it('the SCTP checksum takes bytes 8-11 as zero and is stored little-endian', () => {
    const p = Uint8Array.from({ length: 64 }, (_, i) => i);
    writeSctpChecksum(p);
    const zeroed = Uint8Array.from(p);
    zeroed.fill(0, 8, 12);
    expect(sctpChecksum(p)).toBe(reference(zeroed));
    expect(p[8]).toBe(reference(zeroed) & 0xff);
    expect(verifySctpChecksum(p)).toBe(true);
    p[20]! ^= 4;
    expect(verifySctpChecksum(p)).toBe(false);
    expect(verifySctpChecksum(new Uint8Array(8))).toBe(false);
  });
});
