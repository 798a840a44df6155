// The response matcher of RegistrarConnection: ASAP responses carry no transaction id, so
// they are matched by pool handle (+ PE ID), oldest first (RFC 5352 §2.2.3-2.2.6).
import { describe, expect, it } from 'vitest';
import { PendingRequest, RequestKind, RequestMatcher } from '../../src/client/request-matcher.js';
import { poolHandleBytes } from '../../src/client/pool-handle.js';
import { AsapType } from '../../src/wire/constants.js';
import type { AsapMessage } from '../../src/wire/messages.js';

const h = (s: string): Uint8Array => poolHandleBytes(s);

function resolution(handle: string): PendingRequest {
  const message: AsapMessage = { protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: h(handle), items: null };
  return new PendingRequest(RequestKind.HandleResolution, h(handle), 0, message);
}

function registration(handle: string, peId: number): PendingRequest {
  const message: AsapMessage = { protocol: 'asap', type: AsapType.Deregistration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: h(handle), peId };
  return new PendingRequest(RequestKind.Registration, h(handle), peId, message);
}

describe('RequestMatcher', () => {
  it('matches handle resolutions by pool handle, oldest first among equals', () => {
    const m = new RequestMatcher();
    const a1 = resolution('a');
    const b1 = resolution('b');
    const a2 = resolution('a');
    m.add(a1, 10);
    m.add(b1, 11);
    m.add(a2, 12);
    expect(m.size).toBe(3);
    expect(m.match(RequestKind.HandleResolution, h('a'), 0)).toBe(a1);
    expect(m.match(RequestKind.HandleResolution, h('a'), 0)).toBe(a2);
    expect(m.match(RequestKind.HandleResolution, h('a'), 0)).toBeNull();
    expect(m.match(RequestKind.HandleResolution, h('b'), 0)).toBe(b1);
    expect(m.size).toBe(0);
  });

  it('matches registrations by PE ID and pool handle, not by handle alone', () => {
    const m = new RequestMatcher();
    const x = registration('pool', 7);
    const y = registration('pool', 8);
    const z = registration('other', 7);
    m.add(x, 1);
    m.add(y, 1);
    m.add(z, 1);
    // Responses in another order than the requests.
    expect(m.match(RequestKind.Registration, h('other'), 7)).toBe(z);
    expect(m.match(RequestKind.Registration, h('pool'), 8)).toBe(y);
    // A deregistration response does not answer a registration.
    expect(m.match(RequestKind.Deregistration, h('pool'), 7)).toBeNull();
    expect(m.match(RequestKind.Registration, h('pool'), 7)).toBe(x);
  });

  it('does not confuse handles whose hashes collide in a chain', () => {
    const m = new RequestMatcher();
    // Distinct handles of one length; whatever their hashes, only equal bytes match.
    const many = Array.from({ length: 200 }, (_, i) => resolution(`h${i}`));
    many.forEach((r, i) => m.add(r, i));
    for (let i = 199; i >= 0; i--) expect(m.match(RequestKind.HandleResolution, h(`h${i}`), 0)).toBe(many[i]);
  });

  it('expires requests in deadline order and skips answered or re-armed ones', () => {
    const m = new RequestMatcher();
    const r1 = resolution('a');
    const r2 = resolution('b');
    const r3 = registration('c', 1);
    m.add(r1, 100);
    m.add(r2, 200);
    m.add(r3, 150);
    expect(m.nextDeadline()).toBe(100);
    m.match(RequestKind.HandleResolution, h('a'), 0); // answered
    expect(m.nextDeadline()).toBe(150);
    const due: PendingRequest[] = [];
    m.expire(160, due);
    expect(due).toEqual([r3]);
    // Retransmitted: its new deadline replaces the old queue entry.
    m.setDeadline(r3, 400);
    due.length = 0;
    m.expire(250, due);
    expect(due).toEqual([r2]);
    m.remove(r2);
    expect(m.nextDeadline()).toBe(400);
    due.length = 0;
    m.expire(1000, due);
    expect(due).toEqual([r3]);
    m.remove(r3);
    expect(m.size).toBe(0);
    expect(m.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('drains every pending request', () => {
    const m = new RequestMatcher();
    const all = [resolution('a'), resolution('a'), registration('a', 1), registration('a', 1)];
    all.forEach((r) => m.add(r, 5));
    const drained = m.drain();
    expect(new Set(drained)).toEqual(new Set(all));
    expect(drained.every((r) => r.done)).toBe(true);
    expect(m.size).toBe(0);
    expect(m.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });
});
