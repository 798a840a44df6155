// Pool handles (RFC 5354 §3.9) as the client holds them: bytes, compared and hashed without
// allocating so responses can be matched per message at load-generator rates.

const encoder = new TextEncoder();

/** A pool handle from text (UTF-8) or bytes. */
export function poolHandleBytes(handle: string | Uint8Array): Uint8Array {
  return typeof handle === 'string' ? encoder.encode(handle) : handle;
}

// One hash and one comparison of pool handle bytes for the whole project (the handlespace's).
export { poolHandleHash } from '../handlespace/pool-handle.js';
export { bytesEqual } from '../wire/bytes-equal.js';

/** Text form for logs and map keys outside hot paths. */
export function poolHandleText(h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('latin1');
}
