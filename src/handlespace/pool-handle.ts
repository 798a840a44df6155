// Pool handles are opaque byte strings (RFC 5351 §2.1, RFC 5354 §3.9). Inside a partition a
// pool is keyed by the latin1 string of its bytes: one code unit per byte, so the mapping is
// exact and JS Map hashing applies.
const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/** The partition's key of a pool handle. */
export function poolHandleKey(handle: Uint8Array): string {
  return latin1Slice.call(handle, 0, handle.length);
}

/** The bytes of a pool handle key (inverse of poolHandleKey). */
export function poolHandleFromKey(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}

/** A pool handle from text, as the tools and tests name pools. */
export function poolHandleFromString(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
