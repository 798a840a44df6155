// Reading an SCTP packet far enough to find its DATA chunks (RFC 4960 §3, §3.3.1).

/** SCTP chunk type of DATA (RFC 4960 §3.2). */
export const SCTP_CHUNK_DATA = 0;
export const SCTP_COMMON_HEADER_LENGTH = 12;
export const SCTP_DATA_HEADER_LENGTH = 16;

/** DATA chunk flags (RFC 4960 §3.3.1; I bit: RFC 7053). */
export const DataChunkFlag = {
  /** E: the last fragment of a user message. */
  Ending: 0x01,
  /** B: the first fragment of a user message. */
  Beginning: 0x02,
  /** U: unordered delivery. */
  Unordered: 0x04,
  /** I: the receiver should send its SACK at once. */
  Immediate: 0x08,
} as const;

export interface SctpDataChunk {
  flags: number;
  tsn: number;
  stream: number;
  streamSequence: number;
  ppid: number;
  /** The user data, a view into the packet (chunk padding excluded). */
  userData: Uint8Array;
}

export interface SctpPacket {
  sourcePort: number;
  destinationPort: number;
  verificationTag: number;
  checksum: number;
  dataChunks: SctpDataChunk[];
  /** True when a chunk runs past the end of the captured bytes or has a bad length. */
  truncated: boolean;
}

/** Reads an SCTP packet's common header and its DATA chunks; null when it is shorter than a header. */
export function readSctpPacket(bytes: Uint8Array): SctpPacket | null {
  if (bytes.length < SCTP_COMMON_HEADER_LENGTH) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packet: SctpPacket = {
    sourcePort: view.getUint16(0),
    destinationPort: view.getUint16(2),
    verificationTag: view.getUint32(4),
    checksum: view.getUint32(8, true),
    dataChunks: [],
    truncated: false,
  };
  let offset = SCTP_COMMON_HEADER_LENGTH;
  while (offset + 4 <= bytes.length) {
    const type = bytes[offset]!;
    const flags = bytes[offset + 1]!;
    const length = view.getUint16(offset + 2);
    if (length < 4 || offset + length > bytes.length) {
      packet.truncated = true;
      break;
    }
    if (type === SCTP_CHUNK_DATA) {
      if (length < SCTP_DATA_HEADER_LENGTH) {
        packet.truncated = true;
        break;
      }
      packet.dataChunks.push({
        flags,
        tsn: view.getUint32(offset + 4),
        stream: view.getUint16(offset + 8),
        streamSequence: view.getUint16(offset + 10),
        ppid: view.getUint32(offset + 12),
        userData: bytes.subarray(offset + SCTP_DATA_HEADER_LENGTH, offset + length),
      });
    }
    // Chunks are padded to a multiple of 4 bytes; the padding is not in the length (§3.2).
    offset += (length + 3) & ~3;
  }
  if (offset < bytes.length && offset + 4 > bytes.length) packet.truncated = true;
  return packet;
}
