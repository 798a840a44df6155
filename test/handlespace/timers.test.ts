import { describe, expect, it } from 'vitest';
import { Partition, PartitionEvent } from '../../src/handlespace/partition.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { seededRandom } from '../../src/policy/random-source.js';
import { OWN, PEER, VirtualScheduler, handle, registration } from './helpers.js';

function setup(jitter = 0) {
  const clock = new VirtualScheduler();
  const log: [number, PartitionEvent, number][] = [];
  const p = new Partition({
    ownRegistrarId: OWN,
    scheduler: clock,
    keepAliveInterval: 5000,
    keepAliveTimeout: 5000,
    jitter,
    random: seededRandom(11),
    onEvent: (event, el: PoolElement) => log.push([clock.now(), event, el.peId]),
  });
  return { p, clock, log };
}

describe('keep-alive monitoring of own PEs (RFC 5352 §3.4-3.5)', () => {
  it('sends a keep-alive after the interval and removes the PE after the timeout', () => {
    const { p, clock, log } = setup();
    p.register(registration('a', 1));
    clock.advance(4999);
    expect(log).toEqual([]);
    clock.advance(5000);
    expect(log).toEqual([[5000, PartitionEvent.SendKeepAlive, 1]]);
    clock.advance(9999);
    expect(p.elementCount).toBe(1);
    clock.advance(10_000);
    expect(log[1]).toEqual([10_000, PartitionEvent.KeepAliveTimedOut, 1]);
    expect(p.elementCount).toBe(0);
    clock.advance(100_000);
    expect(log).toHaveLength(2);
  });

  it('an acknowledgement re-arms the next keep-alive', () => {
    const { p, clock, log } = setup();
    p.register(registration('a', 1));
    clock.advance(5000);
    clock.advance(7000);
    expect(p.acknowledge(p.findElement(handle('a'), 1)!)).toBe(true);
    clock.advance(11_999);
    expect(log).toHaveLength(1);
    clock.advance(12_000);
    expect(log[1]).toEqual([12_000, PartitionEvent.SendKeepAlive, 1]);
    expect(p.findElement(handle('a'), 99)).toBeUndefined();
  });

  it('re-registration restarts the cycle', () => {
    const { p, clock, log } = setup();
    p.register(registration('a', 1));
    clock.advance(3000);
    p.register(registration('a', 1));
    clock.advance(7999);
    expect(log).toEqual([]);
    clock.advance(8000);
    expect(log).toEqual([[8000, PartitionEvent.SendKeepAlive, 1]]);
  });

  it('jitters intervals within [0.875, 1.125] x the interval', () => {
    const { p, clock, log } = setup(0.125);
    for (let i = 1; i <= 200; i++) p.register(registration('a', i));
    clock.advance(4374);
    expect(log).toEqual([]);
    clock.advance(5625);
    expect(log).toHaveLength(200);
    const times = new Set(log.map(([t]) => t));
    expect(times.size).toBeGreaterThan(1);
    for (const t of times) expect(t >= 4375 && t <= 5625).toBe(true);
  });
});

describe('registration life of foreign PEs (RFC 5353 §3)', () => {
  it('expires after its life unless renewed', () => {
    const { p, clock, log } = setup();
    p.register(registration('a', 1, { homeRegistrarId: PEER, registrationLife: 20_000, associationId: 0 }));
    p.register(registration('a', 2, { homeRegistrarId: PEER, registrationLife: 20_000, associationId: 0 }));
    clock.advance(15_000);
    p.register(registration('a', 2, { homeRegistrarId: PEER, registrationLife: 20_000, associationId: 0 }));
    clock.advance(20_000);
    expect(log).toEqual([[20_000, PartitionEvent.LifetimeExpired, 1]]);
    clock.advance(35_000);
    expect(log[1]).toEqual([35_000, PartitionEvent.LifetimeExpired, 2]);
    expect(p.elementCount).toBe(0);
  });
});

describe('one wake-up for the partition', () => {
  it('100,000 timers cost one scheduled wake-up', () => {
    const { p, clock } = setup(0.125);
    for (let i = 1; i <= 100_000; i++) p.register(registration(`pool${i % 100}`, i));
    expect(clock.pending).toBe(1);
    expect(p.timerCount).toBe(100_000);
  });

  it('deregistered PEs fire nothing and an emptied schedule wakes harmlessly', () => {
    const { p, clock, log } = setup();
    for (let i = 1; i <= 3000; i++) p.register(registration('a', i));
    for (let i = 1; i <= 3000; i++) p.deregister(handle('a'), i);
    expect(p.timerCount).toBe(0);
    clock.advance(60_000);
    expect(log).toEqual([]);
    p.dispose();
  });
});

describe('timers re-armed to another time', () => {
  it('each fires once, at its latest time, never at an earlier one it was re-armed from', () => {
    const { p, clock, log } = setup();
    for (let i = 1; i <= 200; i++) {
      clock.advance(i);
      p.register(registration('a', i, { homeRegistrarId: PEER, registrationLife: 1000, associationId: 0 }));
    }
    // Renew every second PE three times, each to a later expiry; the schedule stays a heap.
    for (let round = 1; round <= 3; round++) {
      clock.advance(200 + round * 100);
      for (let i = 2; i <= 200; i += 2) p.register(registration('a', i, { homeRegistrarId: PEER, registrationLife: 1000, associationId: 0 }));
      p.checkConsistency();
    }
    clock.advance(1200);
    // The odd ones expired at registration + 1000; the even ones are still there.
    expect(log.map(([, , id]) => id)).toEqual(Array.from({ length: 100 }, (_, k) => 2 * k + 1));
    for (const [at, event, id] of log) {
      expect(event).toBe(PartitionEvent.LifetimeExpired);
      expect(at).toBe(id + 1000);
    }
    p.checkConsistency();
    clock.advance(5000);
    // The even ones at their last renewal (time 500) + 1000, not at an earlier expiry.
    const even = log.slice(100);
    expect(even).toHaveLength(100);
    for (const [at] of even) expect(at).toBe(1500);
    expect(p.elementCount).toBe(0);
  });

  it('a timer re-armed to an earlier time moves up at once', () => {
    const { p, clock, log } = setup();
    p.register(registration('a', 1, { homeRegistrarId: PEER, registrationLife: 10_000, associationId: 0 }));
    p.register(registration('a', 2, { homeRegistrarId: PEER, registrationLife: 10_000, associationId: 0 }));
    p.register(registration('a', 2, { homeRegistrarId: PEER, registrationLife: 100, associationId: 0 }));
    clock.advance(100);
    expect(log).toEqual([[100, PartitionEvent.LifetimeExpired, 2]]);
    p.checkConsistency();
  });
});
