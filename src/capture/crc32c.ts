// CRC32c (Castagnoli), the SCTP checksum (RFC 4960 §6.8 and Appendix B; RFC 3309).
// Table-driven, reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF.

const POLYNOMIAL_REFLECTED = 0x82f63b78;

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32c of `bytes[start, end)`, as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The SCTP packet checksum: CRC32c over the whole packet with the checksum field (bytes 8-11)
 * taken as zero. RFC 4960 Appendix B stores the reflected CRC least significant byte first,
 * which is the CRC read as a little-endian 32-bit number from the wire.
 */
export function sctpChecksum(packet: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < packet.length; i++) {
    const b = i >= 8 && i < 12 ? 0 : packet[i]!;
    crc = TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Writes the SCTP checksum into bytes 8-11 of `packet` (the SCTP common header). */
export function writeSctpChecksum(packet: Uint8Array): void {
  const crc = sctpChecksum(packet);
  new DataView(packet.buffer, packet.byteOffset, packet.byteLength).setUint32(8, crc, true);
}

/** True when bytes 8-11 of `packet` hold its correct SCTP checksum. */
export function verifySctpChecksum(packet: Uint8Array): boolean {
  if (packet.length < 12) return false;
  const stored = new DataView(packet.buffer, packet.byteOffset, packet.byteLength).getUint32(8, true);
  return stored === sctpChecksum(packet);
}
