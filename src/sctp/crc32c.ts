// CRC32c (Castagnoli), the SCTP checksum (RFC 9260 §6.8 and Appendix A; RFC 3309).
// Reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF. It runs over every
// packet sent and received, so it uses slicing-by-8: eight 256-entry tables let the loop
// consume eight bytes per step with independent lookups instead of one byte per step.

const POLYNOMIAL_REFLECTED = 0x82f63b78;

/** TABLES[k * 256 + n]: the CRC of byte n followed by k zero bytes. */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
})();

/** Continues a running (not yet finalised) CRC over `bytes[start, end)`. */
function update(crc: number, bytes: Uint8Array, start: number, end: number): number {
  const t = TABLES;
  let i = start;
  const end8 = end - 7;
  for (; i < end8; i += 8) {
    const lo = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
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
 * taken as zero (RFC 9260 §6.8).
 */
export function sctpChecksum(packet: Uint8Array): number {
  if (packet.length < 12) return crc32c(packet);
  const t = TABLES;
  let crc = update(0xffffffff, packet, 0, 8);
  // four zero bytes in place of the checksum field
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = t[crc & 0xff]! ^ (crc >>> 8);
  crc = update(crc, packet, 12, packet.length);
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
