// CRC32c (Castagnoli), the SCTP checksum (RFC 9260 §6.8 and Appendix A; RFC 3309).
// Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF. It runs over every
// packet sent and received, so it uses slicing-by-16: sixteen 256-entry tables let the loop
// consume sixteen bytes per step with independent lookups instead of one byte per step, and on
// little-endian hosts the sixteen bytes are read as four 32-bit words through an Int32Array
// (half the time of byte loads: ~0.55 ns per byte, where slicing-by-8 with byte loads took ~1.1).

import { endianness } from 'node:os';

const POLYNOMIAL_REFLECTED = 0x82f63b78;

/** TABLES[k * 256 + n]: the CRC of byte n followed by k zero bytes (signed 32-bit values). */
const TABLES: Int32Array = (() => {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** Word loads read bytes in little-endian order only on a little-endian host. */
const WORD_LOADS = endianness() === 'LE';

/** Sixteen bytes (as four little-endian words, the first already XORed with the CRC) folded in. */
function fold16(t: Int32Array, a: number, b: number, c: number, d: number): number {
  return (
    t[3840 + (a & 0xff)]! ^
    t[3584 + ((a >>> 8) & 0xff)]! ^
    t[3328 + ((a >>> 16) & 0xff)]! ^
    t[3072 + (a >>> 24)]! ^
    t[2816 + (b & 0xff)]! ^
    t[2560 + ((b >>> 8) & 0xff)]! ^
    t[2304 + ((b >>> 16) & 0xff)]! ^
    t[2048 + (b >>> 24)]! ^
    t[1792 + (c & 0xff)]! ^
    t[1536 + ((c >>> 8) & 0xff)]! ^
    t[1280 + ((c >>> 16) & 0xff)]! ^
    t[1024 + (c >>> 24)]! ^
    t[768 + (d & 0xff)]! ^
    t[512 + ((d >>> 8) & 0xff)]! ^
    t[256 + ((d >>> 16) & 0xff)]! ^
    t[d >>> 24]!
  );
}

/** Bytes from which a buffer not viewed yet gets a word view (below: byte loads, no allocation). */
const WORD_VIEW_MIN_BYTES = 512;

/** The last buffer read by words and its Int32Array view: a packet writer's own buffer is
 *  checksummed packet after packet without a new view each time. */
let viewedBuffer: ArrayBufferLike | undefined;
let view: Int32Array<ArrayBufferLike> = new Int32Array(0);

/** Continues a running (not yet finalised) CRC over `bytes[start, end)`. */
function update(crc: number, bytes: Uint8Array, start: number, end: number): number {
  const t = TABLES;
  let i = start;
  if (end - i >= 32) {
    // Word loads need an Int32Array view of the buffer: kept for the buffer checksummed last
    // (the packet writer's, packet after packet). A received packet comes in a buffer of its
    // own, whose view would be garbage after one use: a short one takes the byte loads.
    if (WORD_LOADS && (bytes.buffer === viewedBuffer || end - i >= WORD_VIEW_MIN_BYTES)) {
      // Bytes up to a 4-byte boundary of the underlying buffer, then aligned words.
      for (; ((bytes.byteOffset + i) & 3) !== 0; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
      const words = ((end - i) >>> 4) << 2;
      const buffer = bytes.buffer;
      if (buffer !== viewedBuffer) {
        viewedBuffer = buffer;
        view = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
      }
      const w = view;
      const first = (bytes.byteOffset + i) >>> 2;
      const last = first + words;
      for (let j = first; j < last; j += 4) crc = fold16(t, crc ^ w[j]!, w[j + 1]!, w[j + 2]!, w[j + 3]!);
      i += words << 2;
    } else {
      for (const end16 = end - 15; i < end16; i += 16) {
        crc = fold16(
          t,
          crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)),
          bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24),
          bytes[i + 8]! | (bytes[i + 9]! << 8) | (bytes[i + 10]! << 16) | (bytes[i + 11]! << 24),
          bytes[i + 12]! | (bytes[i + 13]! << 8) | (bytes[i + 14]! << 16) | (bytes[i + 15]! << 24),
        );
      }
    }
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** CRC32c of `bytes[start, end)`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return (update(0xffffffff, bytes, start, end) ^ 0xffffffff) >>> 0;
}

/**
 * The SCTP packet checksum: CRC32c over the whole packet with the checksum field (bytes 8-11)
 * taken as zero (RFC 9260 §6.8). `length`: the packet is bytes [0, length) of `packet`.
 */
export function sctpChecksum(packet: Uint8Array, length = packet.length): number {
  if (length < 12) return crc32c(packet, 0, length);
  const t = TABLES;
  let crc = update(0xffffffff, packet, 0, 8);
  // four zero bytes in place of the checksum field
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = update(crc, packet, 12, length);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Writes the SCTP checksum into bytes 8-11 of `packet`. RFC 9260 Appendix A stores the
 * reflected CRC least significant byte first: the CRC as a little-endian 32-bit number.
 */
export function writeSctpChecksum(packet: Uint8Array): void {
  const crc = sctpChecksum(packet);
  packet[8] = crc & 0xff;
  packet[9] = (crc >>> 8) & 0xff;
  packet[10] = (crc >>> 16) & 0xff;
  packet[11] = crc >>> 24;
}

/** True when bytes 8-11 of `packet` hold its correct SCTP checksum. */
export function verifySctpChecksum(packet: Uint8Array): boolean {
  if (packet.length < 12) return false;
  const stored = (packet[8]! | (packet[9]! << 8) | (packet[10]! << 16) | (packet[11]! << 24)) >>> 0;
  return stored === sctpChecksum(packet);
}
