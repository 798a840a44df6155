// PE checksum (RFC 5353 §3.6.2): the Internet checksum (RFC 1071) over, for every PE owned by
// one registrar, its pool handle padded with zeros to a 32-bit boundary followed by its PE ID
// in network byte order. RSPLIB sends the complemented folded sum: an empty set gives 0xffff,
// and the single PE ("CalcAppPool", 0x0ca20001) gives 0xb667 (seen in rsplib-scope.pcapng).
//
// The partition keeps, per owner, the exact (unfolded) sum of 16-bit big-endian words: adding
// and subtracting a PE's words is exact integer arithmetic (sums stay below 2^53 for far more
// than a million PEs), and folding at read time gives the same value as a from-scratch
// computation, which ones'-complement add/subtract on 16-bit values would not always do
// (0x0000 versus 0xffff).

/** Sum of the 16-bit big-endian words of the bytes, the last odd byte padded with a zero. */
export function wordSum(bytes: Uint8Array): number {
  let sum = 0;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (even !== bytes.length) sum += bytes[even]! << 8;
  return sum;
}

/** A PE's contribution: its pool handle's word sum plus the two words of its PE ID. */
export function peWordSum(handleWordSum: number, peId: number): number {
  return handleWordSum + (peId >>> 16) + (peId & 0xffff);
}

/** Folds an exact word sum with end-around carry and complements it: the wire value. */
export function finishPeChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** The checksum computed from scratch, byte block by byte block, as RFC 5353 §3.6.2 writes it. */
export function computePeChecksum(elements: Iterable<{ readonly poolHandle: Uint8Array; readonly peId: number }>): number {
  let sum = 0;
  for (const { poolHandle, peId } of elements) {
    const padded = (poolHandle.length + 3) & ~3;
    const block = new Uint8Array(padded + 4);
    block.set(poolHandle);
    new DataView(block.buffer).setUint32(padded, peId >>> 0);
    for (let i = 0; i < block.length; i += 2) {
      sum += (block[i]! << 8) | block[i + 1]!;
      // Fold as RFC 1071 does, so the result does not depend on exact big-number sums.
      if (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    }
  }
  return ~sum & 0xffff;
}
