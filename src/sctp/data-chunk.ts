// The seam between the association (chunks on the wire) and data transfer (inbound.ts,
// outbound.ts): DATA and SACK chunk contents as plain records. The chunk codec converts
// between these and bytes; data transfer never sees bytes of a packet.

/** A DATA chunk (RFC 9260 §3.3.1). `userData` is a view into the received packet. */
export interface DataChunk {
  tsn: number;
  streamId: number;
  /** Stream Sequence Number; ignored for unordered chunks. */
  ssn: number;
  ppid: number;
  /** U bit */
  unordered: boolean;
  /** B bit: first fragment of a user message. */
  beginning: boolean;
  /** E bit: last fragment of a user message. */
  ending: boolean;
  /** I bit (RFC 7053): the receiver should SACK at once. */
  immediate: boolean;
  userData: Uint8Array;
}

/** A SACK chunk (RFC 9260 §3.3.4). Gap Ack Block offsets are relative to the cumulative TSN ack. */
export interface SackInfo {
  cumulativeTsnAck: number;
  advertisedReceiverWindow: number;
  /** [start, end] offsets, inclusive, ascending, non-overlapping. */
  gapAckBlocks: Array<[start: number, end: number]>;
  duplicateTsns: number[];
}
