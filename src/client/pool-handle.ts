// Pool handles (RFC 5354 §3.9) as the client holds them: bytes, compared and hashed without
// allocating so responses can be matched per message at load-generator rates.

const encoder = new TextEncoder();

/** A pool handle from text (UTF-8) or bytes. */
export function poolHandleBytes(handle: string | Uint8Array): Uint8Array {
  return typeof handle === 'string' ? encoder.encode(handle) : handle;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** FNV-1a over the handle bytes: a number key for maps (collisions are resolved by bytesEqual). */
export function poolHandleHash(h: Uint8Array): number {
  let x = 0x811c9dc5;
  for (let i = 0; i < h.length; i++) x = Math.imul(x ^ h[i]!, 0x01000193);
  return x >>> 0;
}

/** Text form for logs and map keys outside hot paths. */
export function poolHandleText(h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('latin1');
}
