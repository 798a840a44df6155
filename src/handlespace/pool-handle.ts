// Pool handles are opaque byte strings (RFC 5351 §2.1, RFC 5354 §3.9). Inside a partition a
// pool is keyed by the latin1 string of its bytes: one code unit per byte, so the mapping is
// exact and JS Map hashing applies.
const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

/**
 * FNV-1a hash of the handle bytes: lookups hash the received bytes directly instead of building
 * a string per request (a pool's string key is built once, when the pool is created).
 */
export function poolHandleHash(handle: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < handle.length; i++) h = Math.imul(h ^ handle[i]!, 0x01000193);
  return h >>> 0;
}

/** Pool handles are equal when their bytes are (RFC 5351 §2.1: opaque). */
export { bytesEqual as poolHandleEquals } from '../wire/bytes-equal.js';

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
