// The decoding cursor over received bytes (RFC 5354 §3 TLVs). It never copies: integers are
// assembled from bytes and byte strings are handed out as views of the input's buffer.
import { Cause } from './constants.js';
import { wireError, type WireError } from './errors.js';
import { padding } from './writer.js';

/** An unrecognized parameter kept so that re-encoding a message is byte-identical. */
export interface UnknownParameter {
  /** Index among the message's top-level parameters (0 = first parameter). */
  position: number;
  /** View of the whole TLV (type, length, value; no padding). */
  bytes: Uint8Array;
}

/** Upper two bits of a parameter type: the action for an unrecognized type (RFC 5354 §3). */
export const ParamAction = {
  Stop: 0,
  StopAndReport: 1,
  Skip: 2,
  SkipAndReport: 3,
} as const;

const EMPTY = new Uint8Array(0);

export class Reader {
  bytes: Uint8Array = EMPTY;
  /**
   * A DataView of `bytes`, built on first use only: creating one costs more than decoding a
   * small message (about 90 ns on Node 20), and the reads below do byte arithmetic instead.
   */
  private dataView: DataView | null = null;
  /** `bytes.buffer` and `bytes.byteOffset`, kept so that sub() needs no accessor calls. */
  private buffer: ArrayBufferLike = EMPTY.buffer;
  private base = 0;
  error: WireError | null = null;
  /** Views of unrecognized parameters whose action bits ask for a report. */
  unrecognized: Uint8Array[] | null = null;
  /** Set when an unrecognized parameter's action bits say "stop and discard". */
  discard = false;
  /** The first parameter that made the message discarded. */
  stopParam: Uint8Array | null = null;
  stopOffset = 0;
  stopReport = false;
  /** Unknown top-level parameters, for byte-identical re-encoding. */
  unknownParams: UnknownParameter[] | null = null;
  /** Header of the parameter read by the last successful param() call. */
  pType = 0;
  pLen = 0;
  /** Where the next parameter starts: after this one's padding, capped at the container end. */
  pNext = 0;
  /**
   * Set by the decoders of parameters that nest TLVs (transports, Pool Element, Server
   * Information, Operation Error): where the last value they keep ends. That is the
   * parameter's Length in RFC 5354 §2 form; a Length beyond it covers the last nested
   * TLV's padding (RSPLIB's form), or nested TLVs that are skipped.
   */
  contentEnd = 0;
  /**
   * Set when some parameter's Length covered the padding of its last nested TLV (RSPLIB's
   * form, RFC 5354 §2 says it should not): the message is then re-encoded in that form.
   */
  paddingCovered = false;

  reset(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.dataView = null;
    this.buffer = bytes.buffer;
    this.base = bytes.byteOffset;
    this.error = null;
    this.unrecognized = null;
    this.discard = false;
    this.stopParam = null;
    this.stopOffset = 0;
    this.stopReport = false;
    this.unknownParams = null;
    this.paddingCovered = false;
  }

  /**
   * Records where a nesting parameter's kept content ends, given its Length's `end`. Every
   * TLV starts 4-aligned in the message, so an unaligned content end is followed by padding.
   */
  nestedEnd(contentEnd: number, end: number): void {
    this.contentEnd = contentEnd;
    if (contentEnd < end && (contentEnd & 3) !== 0) this.paddingCovered = true;
  }

  get view(): DataView {
    const b = this.bytes;
    return this.dataView ?? (this.dataView = new DataView(b.buffer, b.byteOffset, b.byteLength));
  }

  /**
   * A view of bytes [start, end) of the input, clamped like `subarray`. Built with the
   * Uint8Array constructor: `subarray` looks up the species constructor and measured twice
   * as slow (~34 vs ~18 ns on Node 20). Views are always plain Uint8Arrays, even of a Buffer.
   */
  sub(start: number, end: number): Uint8Array {
    const n = this.bytes.length;
    const s = start < 0 ? 0 : start > n ? n : start;
    const e = end < s ? s : end > n ? n : end;
    return new Uint8Array(this.buffer, this.base + s, e - s);
  }

  // Big-endian reads (network byte order). Callers have checked that the bytes exist.
  u8(o: number): number {
    return this.bytes[o]!;
  }
  u16(o: number): number {
    const b = this.bytes;
    return (b[o]! << 8) | b[o + 1]!;
  }
  u32(o: number): number {
    const b = this.bytes;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
  i32(o: number): number {
    const b = this.bytes;
    return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  }

  /** Records a failure; always returns false so decoders can `return r.fail(...)`. */
  fail(cause: number, offset: number, reason: string, offending: Uint8Array | null = null): false {
    if (this.error === null) {
      const max = this.bytes.length === 0 ? 0 : this.bytes.length - 1;
      this.error = wireError(cause, offset > max ? max : offset < 0 ? 0 : offset, reason, offending, true);
    }
    return false;
  }

  /** A malformed parameter: InvalidValues, carrying the offending TLV as far as it exists. */
  invalid(off: number, end: number, reason: string): false {
    const tlvEnd = off + 4 <= end ? Math.min(end, off + this.u16(off + 2)) : end;
    return this.fail(Cause.InvalidValues, off, reason, this.sub(off, Math.max(off, tlvEnd)));
  }

  /**
   * Reads the parameter header at `off` inside a container ending at `end` and checks that
   * its Length fits. Padding after the last parameter of a container may be absent (nested
   * lengths exclude it, RFC 5354 §2), so pNext is capped at `end`.
   */
  param(off: number, end: number): boolean {
    if (end - off < 4) return this.fail(Cause.InvalidValues, off, 'truncated parameter header', this.sub(off, end));
    const b = this.bytes;
    const len = (b[off + 2]! << 8) | b[off + 3]!;
    if (len < 4) return this.fail(Cause.InvalidValues, off + 2, `parameter length ${len} < 4`, this.sub(off, end));
    if (len > end - off) {
      return this.fail(Cause.InvalidValues, off + 2, `parameter length ${len} exceeds the ${end - off} bytes left`, this.sub(off, end));
    }
    this.pType = (b[off]! << 8) | b[off + 1]!;
    this.pLen = len;
    const next = off + len + padding(len);
    this.pNext = next > end ? end : next;
    return true;
  }

  /**
   * Applies the action bits of an unrecognized parameter type (RFC 5354 §3) to the
   * parameter just read at `off`. `position` is its top-level index, or -1 when nested.
   * Returns false only when decoding has failed (never for a valid action).
   */
  unknown(off: number, position: number): void {
    const tlv = this.sub(off, off + this.pLen);
    const action = this.pType >>> 14;
    if (action === ParamAction.StopAndReport || action === ParamAction.SkipAndReport) {
      if (this.unrecognized === null) this.unrecognized = [];
      this.unrecognized.push(tlv);
    }
    if ((action === ParamAction.Stop || action === ParamAction.StopAndReport) && !this.discard) {
      this.discard = true;
      this.stopParam = tlv;
      this.stopOffset = off;
      this.stopReport = action === ParamAction.StopAndReport;
    }
    if (position >= 0) {
      if (this.unknownParams === null) this.unknownParams = [];
      this.unknownParams.push({ position, bytes: tlv });
    }
  }
}
