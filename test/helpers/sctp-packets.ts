// SCTP packets for the lower-layer tests (test/sctp/udp-lower-layer.test.ts,
// raw-lower-layer.test.ts): a lower layer reads only the ports of the common header, so these
// packets carry the two ports and a text body, nothing else (tag and checksum zero). Tests of
// the stack itself build real chunks with PacketWriter (src/sctp/packet.ts).

/** Bytes of the SCTP common header (RFC 9260 §3.1); the body starts here. */
export const COMMON_HEADER_BYTES = 12;

/** The common header with `srcPort` and `dstPort`, then `body` in latin1. */
export function minimalSctpPacket(srcPort: number, dstPort: number, body: string): Uint8Array {
  const b = Buffer.alloc(COMMON_HEADER_BYTES + body.length);
  b.writeUInt16BE(srcPort, 0);
  b.writeUInt16BE(dstPort, 2);
  b.write(body, COMMON_HEADER_BYTES, 'latin1');
  return b;
}
