// The I/O thread's only look inside an ASAP message: where is its pool handle? Every message
// a PE or PU sends to a registrar carries one (RFC 5352 §2.2.1-2.2.9); its bytes pick the
// shard. The shard decodes the message in full, so this checks only what it reads.
import { ParamType } from '../wire/constants.js';

const HEADER = 4;

/** A view of the first top-level Pool Handle parameter's value, or null if none is readable. */
export function peekPoolHandle(message: Uint8Array): Uint8Array | null {
  if (message.length < HEADER + 4) return null;
  const end = Math.min(message.length, (message[2]! << 8) | message[3]!);
  // ASAP_ENDPOINT_KEEP_ALIVE has a server ID before its parameters, but a registrar receives
  // none; for every type it receives, parameters start right after the header.
  let p = HEADER;
  while (p + 4 <= end) {
    const type = (message[p]! << 8) | message[p + 1]!;
    const length = (message[p + 2]! << 8) | message[p + 3]!;
    if (length < 4 || p + length > end) return null;
    if (type === ParamType.PoolHandle) return message.subarray(p + 4, p + length);
    p += (length + 3) & ~3;
  }
  return null;
}
