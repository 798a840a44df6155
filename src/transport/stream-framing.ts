// Message framing on a byte stream (ASAP/ENRP over TCP or TLS, RFC 5352 §6, RFC 5353 §6): TCP
// has no message boundaries, so each message is delimited by its own Message Length field
// (common header: type 1 byte, flags 1 byte, length 2 bytes, RFC 5352 §2, RFC 5353 §2). The
// length counts the header but not the padding of the last parameter, which is sent all the
// same (RFC 5354 §2: "a nested parameter will include the length of the padding between the
// nested parameters but not the last padding"; §3: the sender MUST pad): every parameter is
// 4-byte aligned, so a message takes its Message Length rounded up to a multiple of 4 on the
// stream (RSPLIB's form, whose lengths include the padding, is such a multiple already).
// A length under 4 cannot frame anything; a length above the configured limit is refused
// before a byte of the body is held. What the framer holds is at most one message (≤ the
// limit + 3): a peer that stalls mid-message holds no more than that.

/** Bytes of the common header; its Message Length field is at offset 2. */
export const COMMON_HEADER_BYTES = 4;

/** The largest message a 16-bit Message Length can describe. */
export const MAX_FRAMED_MESSAGE_BYTES = 0xffff;

/** Bytes a message of this Message Length takes on the stream: the length with its final padding. */
export function framedSize(messageLength: number): number {
  return (messageLength + 3) & ~3;
}

/** Why a stream cannot be framed any more: the connection has to go. */
export interface FramingError {
  kind: 'short-length' | 'oversize';
  /** The Message Length the peer sent. */
  length: number;
  /** The message type byte of the bad header. */
  type: number;
}

export class MessageFramer {
  readonly maxMessageBytes: number;
  /** Header bytes collected so far while fewer than 4 have arrived. */
  readonly #head = new Uint8Array(COMMON_HEADER_BYTES);
  #headHave = 0;
  /**
   * The message being collected across chunks once its header is known: its framed size and
   * copies of the bytes received so far (0 = none). Held bytes are what arrived, never the
   * size a header claims (a 4-byte header saying 65,535 costs 4 bytes until the rest comes).
   */
  #size = 0;
  #parts: Uint8Array[] = [];
  #have = 0;
  #error: FramingError | null = null;

  constructor(maxMessageBytes: number = MAX_FRAMED_MESSAGE_BYTES) {
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < COMMON_HEADER_BYTES || maxMessageBytes > MAX_FRAMED_MESSAGE_BYTES) {
      throw new RangeError(`maxMessageBytes must be in ${COMMON_HEADER_BYTES}..${MAX_FRAMED_MESSAGE_BYTES}`);
    }
    this.maxMessageBytes = maxMessageBytes;
  }

  /** Bytes held for an incomplete message (at most maxMessageBytes + 3). */
  get buffered(): number {
    return this.#size !== 0 ? this.#have : this.#headHave;
  }

  /** The error that stopped the framer, if one did. */
  get error(): FramingError | null {
    return this.#error;
  }

  /**
   * Feeds bytes from the stream; every complete message goes to `deliver` with its final
   * padding (a view into `chunk` when the message lies within it, else a copy of its own). Returns the error that
   * makes the rest of the stream unframeable (and every later call returns it again), or null.
   * Messages before the bad header in the same chunk are delivered.
   */
  push(chunk: Uint8Array, deliver: (message: Uint8Array) => void): FramingError | null {
    if (this.#error !== null) return this.#error;
    let offset = 0;
    const end = chunk.byteLength;
    while (offset < end) {
      if (this.#size !== 0) {
        // Continue a message that spans chunks.
        const n = Math.min(this.#size - this.#have, end - offset);
        this.#parts.push(chunk.slice(offset, offset + n));
        this.#have += n;
        offset += n;
        if (this.#have === this.#size) deliver(this.#complete());
        continue;
      }
      if (this.#headHave === 0 && end - offset >= COMMON_HEADER_BYTES) {
        // Fast path: the header is in this chunk.
        const length = (chunk[offset + 2]! << 8) | chunk[offset + 3]!;
        const bad = this.#check(chunk[offset]!, length);
        if (bad !== null) return bad;
        const size = framedSize(length);
        if (end - offset >= size) {
          deliver(chunk.subarray(offset, offset + size));
          offset += size;
        } else {
          this.#size = size;
          this.#parts.push(chunk.slice(offset, end));
          this.#have = end - offset;
          offset = end;
        }
        continue;
      }
      // Collect a header split over chunks.
      const n = Math.min(COMMON_HEADER_BYTES - this.#headHave, end - offset);
      this.#head.set(chunk.subarray(offset, offset + n), this.#headHave);
      this.#headHave += n;
      offset += n;
      if (this.#headHave < COMMON_HEADER_BYTES) continue;
      this.#headHave = 0;
      const length = (this.#head[2]! << 8) | this.#head[3]!;
      const bad = this.#check(this.#head[0]!, length);
      if (bad !== null) return bad;
      this.#size = framedSize(length);
      this.#parts.push(this.#head.slice());
      this.#have = COMMON_HEADER_BYTES;
      if (this.#have === this.#size) deliver(this.#complete());
    }
    return null;
  }

  #check(type: number, length: number): FramingError | null {
    if (length < COMMON_HEADER_BYTES) this.#error = { kind: 'short-length', length, type };
    else if (length > this.maxMessageBytes) this.#error = { kind: 'oversize', length, type };
    else return null;
    this.#size = 0;
    this.#parts = [];
    this.#have = 0;
    this.#headHave = 0;
    return this.#error;
  }

  /** The collected message in one buffer of its own; the framer is ready for the next header. */
  #complete(): Uint8Array {
    const message = new Uint8Array(this.#size);
    let at = 0;
    for (const part of this.#parts) {
      message.set(part, at);
      at += part.byteLength;
    }
    this.#size = 0;
    this.#parts = [];
    this.#have = 0;
    return message;
  }
}

/** "Message Length 2 is under the 4-byte common header" and the like, for logs. */
export function describeFramingError(e: FramingError, maxMessageBytes: number): string {
  return e.kind === 'short-length'
    ? `Message Length ${e.length} is under the ${COMMON_HEADER_BYTES}-byte common header (message type ${e.type}): the stream cannot be framed`
    : `Message Length ${e.length} is over the limit of ${maxMessageBytes} bytes (message type ${e.type})`;
}
