// A reusable, growable output buffer for the TLV encoders (RFC 5354 §3, §4).
// Grows by doubling; finish() returns a view, not a copy; reset() makes it reusable.

/** Bytes of zero padding that bring `n` up to a multiple of 4 (RFC 5354 §3: at most 3). */
export function padding(n: number): number {
  return (4 - (n & 3)) & 3;
}

export class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  /**
   * Padding bytes written after the most recent parameter, or 0 after a fixed field. A
   * message's Length excludes the final parameter's padding (RFC 5354 §4), so the message
   * encoder subtracts this.
   */
  lastPad = 0;
  /**
   * `pos` right after the most recent parameter and its padding (-1 if none yet): when a
   * parent parameter ends there, its last nested TLV was the last thing written in it.
   */
  lastParamEnd = -1;
  /**
   * RSPLIB's form (`MessageBase.paddedLength`): a parent parameter's Length covers the
   * padding of its last nested TLV. False (RFC 5354 §2: "a nested parameter will include
   * the length of the padding between the nested parameters but not the last padding"):
   * the parent's Length stops where its last nested TLV's value ends.
   */
  nestedPadInLength = false;
  /** `bufferOf.buffer`, kept for sub(). */
  private bufferOf: Uint8Array;
  private buffer: ArrayBufferLike;

  constructor(initialSize = 512) {
    this.buf = new Uint8Array(Math.max(16, initialSize));
    this.bufferOf = this.buf;
    this.buffer = this.buf.buffer;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Forget the content; the next write starts at 0. Views handed out before are overwritten. */
  reset(): void {
    this.pos = 0;
    this.lastPad = 0;
    this.lastParamEnd = -1;
  }

  /** The bytes written since the last reset(), as a view of the internal buffer. */
  finish(): Uint8Array {
    return this.sub(0, this.pos);
  }

  /**
   * A view of bytes [start, end) of the internal buffer, 0 <= start <= end <= pos (valid
   * until the next reset()).
   * The Uint8Array constructor costs half of what subarray() does (no species lookup).
   */
  sub(start: number, end: number): Uint8Array {
    const b = this.buf;
    // The `buffer` accessor is a builtin call (~19 ns, node 20): remember it per `buf`.
    return new Uint8Array(b === this.bufferOf ? this.buffer : this.bufferOfBuf(), b.byteOffset + start, end - start);
  }

  private bufferOfBuf(): ArrayBufferLike {
    this.bufferOf = this.buf;
    return (this.buffer = this.buf.buffer);
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(this.pos + n);
  }

  private grow(needed: number): void {
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(this.pos + 2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  u32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(this.pos + 4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** Two's complement, e.g. a Registration Life of -1 (RFC 5354 §3.10). */
  i32(v: number): void {
    this.u32(v);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  setU16(at: number, v: number): void {
    this.view.setUint16(at, v);
  }

  /** `n` zero bytes, recorded as the last parameter's padding. */
  zeros(n: number): void {
    this.ensure(n);
    for (let i = 0; i < n; i++) this.buf[this.pos++] = 0;
    this.lastPad = n;
  }

  /** Writes a parameter header with a placeholder length; returns the parameter start. */
  beginParam(type: number): number {
    if (this.pos + 4 > this.buf.length) this.grow(this.pos + 4);
    const b = this.buf;
    const start = this.pos;
    b[start] = type >>> 8;
    b[start + 1] = type;
    b[start + 2] = 0;
    b[start + 3] = 0;
    this.pos = start + 4;
    return start;
  }

  /**
   * Fills in the Length (excluding the parameter's own padding, RFC 5354 §3) and pads to 4
   * bytes. When the parameter ends with a nested TLV, that TLV's padding is already written:
   * per RFC 5354 §2 the Length excludes it (it becomes this parameter's padding), unless
   * `nestedPadInLength` asks for RSPLIB's form.
   */
  endParam(start: number): void {
    let len = this.pos - start;
    let present = 0;
    if (this.lastParamEnd === this.pos && !this.nestedPadInLength) {
      present = this.lastPad;
      len -= present;
    }
    this.buf[start + 2] = len >>> 8;
    this.buf[start + 3] = len;
    const p = padding(len);
    if (p > present) {
      this.ensure(p - present);
      for (let i = present; i < p; i++) this.buf[this.pos++] = 0;
    }
    this.lastPad = p;
    this.lastParamEnd = this.pos;
  }
}
