// Pending ASAP requests of one registrar association and the matching of their responses.
//
// ASAP responses carry no transaction id (RFC 5352 §2.2.3-2.2.6): a REGISTRATION_RESPONSE or
// DEREGISTRATION_RESPONSE names the pool handle and PE ID it answers, a
// HANDLE_RESOLUTION_RESPONSE only the pool handle. Requests are therefore matched on those
// keys, the oldest first among equals (the registrar answers one association in order).
//
// Timeouts need no timer per request: each kind has one timeout value (T1, T2 or T3,
// RFC 5352 §7.1), so the deadlines of one kind are in send order and a FIFO per kind is
// already sorted. The owner arms one timer for `nextDeadline()` and calls `expire()`.
import type { AsapMessage } from '../wire/messages.js';
import { bytesEqual, poolHandleHash } from './pool-handle.js';
import type { AsapRequestKind } from './errors.js';

export const RequestKind = {
  Registration: 0,
  Deregistration: 1,
  HandleResolution: 2,
} as const;
export type RequestKind = (typeof RequestKind)[keyof typeof RequestKind];

export const requestKindName: readonly AsapRequestKind[] = ['registration', 'deregistration', 'handle-resolution'];

/** One request waiting for its response. `resolve`/`reject` settle the caller's promise. */
export class PendingRequest<T = unknown> {
  /** Times sent so far. */
  attempts = 1;
  /** When the current attempt times out (performance.now() clock). */
  deadline = 0;
  /** Answered, timed out or failed: stale entries in the deadline queues are skipped. */
  done = false;
  /** Next request with the same match key (chain in send order). */
  next: PendingRequest | null = null;
  readonly key: number;
  resolve!: (value: T) => void;
  reject!: (error: Error) => void;

  constructor(
    readonly kind: RequestKind,
    readonly poolHandle: Uint8Array,
    /** PE ID for (de)registrations; unused (0) for handle resolutions. */
    readonly peId: number,
    /** What was sent, kept to retransmit on timeout (RFC 5352 §3.7.2). */
    readonly message: AsapMessage,
  ) {
    this.key = kind === RequestKind.HandleResolution ? poolHandleHash(poolHandle) : peId >>> 0;
  }
}

/** Deadlines of one request kind, in send order: parallel arrays, consumed from `head`. */
class DeadlineQueue {
  requests: (PendingRequest | undefined)[] = [];
  deadlines: number[] = [];
  head = 0;

  push(request: PendingRequest, deadline: number): void {
    this.requests.push(request);
    this.deadlines.push(deadline);
  }

  /** Drops answered requests and superseded deadlines at the front. */
  skipStale(): void {
    const rs = this.requests;
    const ds = this.deadlines;
    let h = this.head;
    while (h < rs.length) {
      const r = rs[h]!;
      if (!r.done && r.deadline === ds[h]) break;
      rs[h] = undefined;
      h++;
    }
    this.head = h;
    this.compact();
  }

  earliest(): number {
    this.skipStale();
    return this.head < this.requests.length ? this.deadlines[this.head]! : Number.POSITIVE_INFINITY;
  }

  /** Moves requests due at `now` to `out`. */
  takeDue(now: number, out: PendingRequest[]): void {
    for (;;) {
      this.skipStale();
      if (this.head >= this.requests.length || this.deadlines[this.head]! > now) return;
      out.push(this.requests[this.head]!);
      this.requests[this.head] = undefined;
      this.head++;
    }
  }

  private compact(): void {
    if (this.head === this.requests.length) {
      this.requests.length = 0;
      this.deadlines.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.requests.length) {
      this.requests = this.requests.slice(this.head);
      this.deadlines = this.deadlines.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.requests.length = 0;
    this.deadlines.length = 0;
    this.head = 0;
  }
}

export class RequestMatcher {
  /** Per kind: match key -> oldest pending request with that key (chained by `next`). */
  readonly #chains: Map<number, PendingRequest>[] = [new Map(), new Map(), new Map()];
  readonly #queues: DeadlineQueue[] = [new DeadlineQueue(), new DeadlineQueue(), new DeadlineQueue()];
  #size = 0;

  /** Requests waiting for a response. */
  get size(): number {
    return this.#size;
  }

  /** Records a request sent now, due at `deadline`. */
  add(request: PendingRequest, deadline: number): void {
    const chains = this.#chains[request.kind]!;
    const head = chains.get(request.key);
    if (head === undefined) {
      chains.set(request.key, request);
    } else {
      let last = head;
      while (last.next !== null) last = last.next;
      last.next = request;
    }
    this.#size++;
    this.setDeadline(request, deadline);
  }

  /** Re-arms a retransmitted request's timeout. */
  setDeadline(request: PendingRequest, deadline: number): void {
    request.deadline = deadline;
    this.#queues[request.kind]!.push(request, deadline);
  }

  /**
   * The oldest pending request of `kind` for this pool handle (and PE ID, for
   * registrations and deregistrations), removed from the table; null if none.
   */
  match(kind: RequestKind, poolHandle: Uint8Array, peId: number): PendingRequest | null {
    const chains = this.#chains[kind]!;
    const key = kind === RequestKind.HandleResolution ? poolHandleHash(poolHandle) : peId >>> 0;
    let previous: PendingRequest | null = null;
    let r = chains.get(key) ?? null;
    while (r !== null) {
      if ((kind === RequestKind.HandleResolution || r.peId === peId) && bytesEqual(r.poolHandle, poolHandle)) {
        this.#unlink(chains, key, previous, r);
        return r;
      }
      previous = r;
      r = r.next;
    }
    return null;
  }

  /** Removes a request that is given up (timed out). */
  remove(request: PendingRequest): void {
    const chains = this.#chains[request.kind]!;
    let previous: PendingRequest | null = null;
    let r = chains.get(request.key) ?? null;
    while (r !== null && r !== request) {
      previous = r;
      r = r.next;
    }
    if (r !== null) this.#unlink(chains, request.key, previous, r);
  }

  #unlink(chains: Map<number, PendingRequest>, key: number, previous: PendingRequest | null, r: PendingRequest): void {
    if (previous === null) {
      if (r.next === null) chains.delete(key);
      else chains.set(key, r.next);
    } else {
      previous.next = r.next;
    }
    r.next = null;
    r.done = true;
    this.#size--;
  }

  /** Earliest deadline of any pending request, or Infinity. */
  nextDeadline(): number {
    const q = this.#queues;
    return Math.min(q[0]!.earliest(), q[1]!.earliest(), q[2]!.earliest());
  }

  /** Requests whose current attempt is due at `now` (still in the table: retransmit or remove). */
  expire(now: number, out: PendingRequest[]): void {
    for (const q of this.#queues) q.takeDue(now, out);
  }

  /** Every pending request, removed (the association is gone). */
  drain(): PendingRequest[] {
    const all: PendingRequest[] = [];
    for (const chains of this.#chains) {
      for (const head of chains.values()) {
        for (let r: PendingRequest | null = head; r !== null; ) {
          const next: PendingRequest | null = r.next;
          r.next = null;
          r.done = true;
          all.push(r);
          r = next;
        }
      }
      chains.clear();
    }
    for (const q of this.#queues) q.clear();
    this.#size = 0;
    return all;
  }
}
