// The takeover rules of issue 11 (src/registrar/takeover.ts), in virtual time: who may be taken
// over, and how many takeovers start per MAX-TIME-LAST-HEARD interval.
import { describe, expect, it } from 'vitest';
import { TakeoverBudget, mayTakeOver, yieldsTo } from '../../src/registrar/takeover.js';

describe('mayTakeOver', () => {
  it('only a peer heard with a presence and once more after it (it ran a heartbeat)', () => {
    expect(mayTakeOver(0)).toBe(false);
    expect(mayTakeOver(1)).toBe(false);
    expect(mayTakeOver(2)).toBe(true);
    expect(mayTakeOver(500)).toBe(true);
    // A peer that answered a request of ours (our mentor) is a working server, even if we heard one presence.
    expect(mayTakeOver(1, true)).toBe(true);
    expect(mayTakeOver(0, true)).toBe(true);
  });
});

describe('TakeoverBudget', () => {
  it('allows `max` per interval; the next window opens one interval after the first of the last', () => {
    const b = new TakeoverBudget(3, 1000);
    expect([b.take(0), b.take(10), b.take(20), b.take(30), b.take(999)]).toEqual([true, true, true, false, false]);
    expect(b.take(1000)).toBe(true); // a new window, opened at 1000
    expect([b.take(1001), b.take(1002), b.take(1003)]).toEqual([true, true, false]);
    expect(b.take(1999)).toBe(false);
    expect(b.take(5000)).toBe(true);
  });

  it('a flood of dead peers starts at most max takeovers per interval', () => {
    const b = new TakeoverBudget(16, 5000);
    let started = 0;
    // 1,013 dead peers checked every 100 ms for 20 s.
    for (let t = 0; t < 20_000; t += 100) for (let i = 0; i < 1013; i++) if (b.take(t)) started++;
    expect(started).toBe(16 * 4);
  });
});

describe('yieldsTo (RSPLIB order)', () => {
  it('our attempt yields to a lower initiator ID, unsigned', () => {
    expect(yieldsTo(0x20, 0x10)).toBe(true);
    expect(yieldsTo(0x10, 0x20)).toBe(false);
    expect(yieldsTo(0x10, 0xf0000000 | 0)).toBe(false);
  });
});
