// The load generator's requests in flight on one association, and what a negative answer was.
// A registrar under test may answer late, never, or with ASAP_ERROR instead of the response the
// request asked for: every request ends exactly once (answered, rejected, or timed out) and frees
// its slot, so a closed loop never stalls on a lost request (issue 14).
import { AsapType, ParamType, causeName } from '../src/wire/index.js';

/**
 * Requests in flight, in the order they were sent (a ring that grows): each carries a key (the
 * PE index of a registration, the pool index of a handle resolution) and its send time.
 * Answers of one key come in order, so an answer ends the oldest request of its key.
 */
export class OutstandingRequests {
  private keys = new Int32Array(64);
  private sentAt = new Float64Array(64);
  private live = new Uint8Array(64);
  private head = 0;
  private tail = 0;
  /** Requests in flight now. */
  size = 0;

  add(key: number, at: number): void {
    if (this.tail - this.head === this.keys.length) this.grow();
    const i = this.tail++ & (this.keys.length - 1);
    this.keys[i] = key;
    this.sentAt[i] = at;
    this.live[i] = 1;
    this.size++;
  }

  /** Ends the oldest request of `key`; its send time, or undefined if none is in flight (late answer). */
  take(key: number): number | undefined {
    const mask = this.keys.length - 1;
    for (let n = this.head; n < this.tail; n++) {
      const i = n & mask;
      if (this.live[i] === 1 && this.keys[i] === key) return this.end(i);
    }
    return undefined;
  }

  /** Ends the oldest request of any key (an answer that names none, such as ASAP_ERROR): its key, or -1. */
  takeOldest(): number {
    const mask = this.keys.length - 1;
    for (let n = this.head; n < this.tail; n++) {
      const i = n & mask;
      if (this.live[i] === 1) {
        const key = this.keys[i]!;
        this.end(i);
        return key;
      }
    }
    return -1;
  }

  /** Ends every request sent at or before `before`; calls `expired` with each one's key. Returns how many. */
  expire(before: number, expired: (key: number) => void): number {
    const mask = this.keys.length - 1;
    let n = 0;
    while (this.head < this.tail) {
      const i = this.head & mask;
      if (this.live[i] === 1) {
        if (this.sentAt[i]! > before) break;
        const key = this.keys[i]!;
        this.end(i);
        n++;
        expired(key);
      } else {
        this.head++;
      }
    }
    return n;
  }

  private end(i: number): number {
    this.live[i] = 0;
    this.size--;
    const mask = this.keys.length - 1;
    while (this.head < this.tail && this.live[this.head & mask] === 0) this.head++;
    return this.sentAt[i]!;
  }

  private grow(): void {
    const n = this.keys.length;
    const keys = new Int32Array(n * 2);
    const sentAt = new Float64Array(n * 2);
    const live = new Uint8Array(n * 2);
    for (let k = 0; k < n; k++) {
      const from = (this.head + k) & (n - 1);
      keys[k] = this.keys[from]!;
      sentAt[k] = this.sentAt[from]!;
      live[k] = this.live[from]!;
    }
    this.keys = keys;
    this.sentAt = sentAt;
    this.live = live;
    this.tail -= this.head;
    this.head = 0;
  }
}

/** Counts of requests that did not succeed, by cause ("timeout", "ASAP_ERROR UnknownPoolHandle", ...). */
export class FailureCounts {
  readonly byCause = new Map<string, number>();
  total = 0;

  add(cause: string): void {
    this.byCause.set(cause, (this.byCause.get(cause) ?? 0) + 1);
    this.total++;
  }

  count(cause: string): number {
    return this.byCause.get(cause) ?? 0;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.byCause].sort((a, b) => b[1] - a[1]));
  }
}

/** The cause a timed-out request is counted under. */
export const TIMEOUT = 'timeout';

/** Offset of the value of the first top-level parameter of `type`, its length in `found`; -1 if none. */
export function findParameter(message: Uint8Array, type: number, found: { length: number }): number {
  const end = Math.min(message.length, (message[2]! << 8) | message[3]!);
  let p = 4;
  while (p + 4 <= end) {
    const t = (message[p]! << 8) | message[p + 1]!;
    const length = (message[p + 2]! << 8) | message[p + 3]!;
    if (length < 4) return -1;
    if (t === type) {
      found.length = length - 4;
      return p + 4;
    }
    p += (length + 3) & ~3;
  }
  return -1;
}

/**
 * Why a message was negative, by the first cause of its Operation Error (RFC 5352 §2.2.13,
 * RFC 5354 §3.3.10): "<prefix> <cause name>", or "<prefix> (no cause)" when it carries none.
 */
export function negativeCause(message: Uint8Array, prefix: string): string {
  const scratch = { length: 0 };
  const at = findParameter(message, ParamType.OperationError, scratch);
  if (at < 0 || scratch.length < 4) return `${prefix} (no cause)`;
  const code = (message[at]! << 8) | message[at + 1]!;
  return `${prefix} ${causeName.get(code) ?? `cause 0x${code.toString(16)}`}`;
}

/**
 * The PE ID of the registration an ASAP_ERROR names, when its first cause carries the offending
 * message (RFC 5352 §2.2.14: Unrecognized Message and the like echo it); -1 when it does not.
 */
export function offendingRegistrationPeId(message: Uint8Array): number {
  const scratch = { length: 0 };
  const at = findParameter(message, ParamType.OperationError, scratch);
  if (at < 0 || scratch.length < 8) return -1;
  const causeLength = (message[at + 2]! << 8) | message[at + 3]!;
  const info = message.subarray(at + 4, Math.min(at + scratch.length, at + causeLength));
  if (info.length < 12 || info[0] !== AsapType.Registration) return -1;
  // RFC 5354 §3.12: a Pool Element parameter's value starts with the PE Identifier.
  const pe = findParameter(info, ParamType.PoolElement, scratch);
  if (pe < 0 || scratch.length < 4) return -1;
  return ((info[pe]! << 24) | (info[pe + 1]! << 16) | (info[pe + 2]! << 8) | info[pe + 3]!) >>> 0;
}

/** The name an ASAP_ERROR is counted under. */
export function asapErrorCause(message: Uint8Array): string {
  return negativeCause(message, 'ASAP_ERROR');
}

export function isAsapError(message: Uint8Array): boolean {
  return message[0] === AsapType.Error;
}
