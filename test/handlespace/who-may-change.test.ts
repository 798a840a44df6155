// The partition's part of issue 11 (RFC 5355 §5-6), in virtual time: unreachability reports
// count once per reporting association and a report-triggered keep-alive that is acknowledged
// keeps the PE; the PE limits per association, per pool and in total (with a census shared
// by several partitions).
import { describe, expect, it } from 'vitest';
import { Partition, PartitionEvent, UnreachableOutcome } from '../../src/handlespace/partition.js';
import { SharedElementCensus, censusBuffer } from '../../src/handlespace/element-census.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { TimerKind } from '../../src/handlespace/pool-element.js';
import { Cause } from '../../src/wire/constants.js';
import { OWN, PEER, VirtualScheduler, handle, registration } from './helpers.js';

function setup(limits: ConstructorParameters<typeof Partition>[0]['limits'] = {}) {
  const clock = new VirtualScheduler();
  const log: [number, PartitionEvent, number][] = [];
  const p = new Partition({
    ownRegistrarId: OWN,
    scheduler: clock,
    keepAliveInterval: 5000,
    keepAliveTimeout: 1000,
    jitter: 0,
    limits,
    onEvent: (event, el: PoolElement) => log.push([clock.now(), event, el.peId]),
  });
  return { p, clock, log };
}

describe('unreachability reports (RFC 5352 §3.5, MAX-BAD-PE-REPORT distinct reporters)', () => {
  it('one association counts once, however often it reports', () => {
    const { p } = setup();
    p.register(registration('a', 1));
    expect(p.reportUnreachable(handle('a'), 1, 7)).toBe(UnreachableOutcome.Counted);
    for (let i = 0; i < 100; i++) expect(p.reportUnreachable(handle('a'), 1, 7)).toBe(UnreachableOutcome.Duplicate);
    expect(p.findElement(handle('a'), 1)!.unreachableReports).toBe(1);
    expect(p.reportUnreachable(handle('a'), 1, 8)).toBe(UnreachableOutcome.Counted);
    expect(p.reportUnreachable(handle('a'), 1, 9)).toBe(UnreachableOutcome.Removed);
    expect(p.elementCount).toBe(0);
    expect(p.reportUnreachable(handle('a'), 1, 10)).toBe(UnreachableOutcome.UnknownElement);
    p.checkConsistency();
  });

  it('a report checks the PE at once: an ACK keeps it and clears its reports', () => {
    const { p, clock, log } = setup();
    p.register(registration('a', 1));
    const e = p.findElement(handle('a'), 1)!;
    clock.advance(2000);
    expect(p.reportUnreachable(handle('a'), 1, 7)).toBe(UnreachableOutcome.Counted);
    expect(p.checkNow(e)).toBe(true);
    // A second check while the keep-alive is out sends nothing and does not postpone the timeout.
    clock.advance(2500);
    expect(p.reportUnreachable(handle('a'), 1, 8)).toBe(UnreachableOutcome.Counted);
    expect(p.checkNow(e)).toBe(false);
    expect(e.timerKind).toBe(TimerKind.KeepAliveTimeout);
    expect(e.timerAt).toBe(3000);
    clock.advance(2900);
    expect(p.acknowledge(e)).toBe(true);
    expect(e.unreachableReports).toBe(0);
    // The same reporters count again after the ACK (the PE may have failed since).
    expect(p.reportUnreachable(handle('a'), 1, 7)).toBe(UnreachableOutcome.Counted);
    expect(p.reportUnreachable(handle('a'), 1, 8)).toBe(UnreachableOutcome.Counted);
    expect(p.elementCount).toBe(1);
    // The periodic cycle goes on from the ACK: next keep-alive 5000 ms after it.
    clock.advance(7899);
    expect(log).toEqual([]);
    clock.advance(7900);
    expect(log).toEqual([[7900, PartitionEvent.SendKeepAlive, 1]]);
    p.checkConsistency();
  });

  it('a checked PE that does not answer is removed at the keep-alive timeout', () => {
    const { p, clock, log } = setup();
    p.register(registration('a', 1));
    clock.advance(100);
    p.reportUnreachable(handle('a'), 1, 7);
    expect(p.checkNow(p.findElement(handle('a'), 1)!)).toBe(true);
    clock.advance(1099);
    expect(p.elementCount).toBe(1);
    clock.advance(1100);
    expect(log).toEqual([[1100, PartitionEvent.KeepAliveTimedOut, 1]]);
    expect(p.elementCount).toBe(0);
    p.checkConsistency();
  });

  it('foreign PEs are not checked (their home does that) and their ACKs are not taken', () => {
    const { p } = setup();
    p.register(registration('a', 1, { homeRegistrarId: PEER, associationId: 0 }));
    const e = p.findElement(handle('a'), 1)!;
    expect(p.checkNow(e)).toBe(false);
    expect(p.reportUnreachable(handle('a'), 1, 7)).toBe(UnreachableOutcome.Counted);
    expect(p.acknowledge(e)).toBe(false);
    expect(e.unreachableReports).toBe(1);
    expect(e.timerKind).toBe(TimerKind.LifetimeExpiry);
  });

  it('a re-registration clears the reports', () => {
    const { p } = setup();
    p.register(registration('a', 1));
    p.reportUnreachable(handle('a'), 1, 7);
    p.reportUnreachable(handle('a'), 1, 8);
    p.register(registration('a', 1));
    expect(p.reportUnreachable(handle('a'), 1, 7)).toBe(UnreachableOutcome.Counted);
    expect(p.reportUnreachable(handle('a'), 1, 8)).toBe(UnreachableOutcome.Counted);
    expect(p.elementCount).toBe(1);
  });
});

describe('PE limits (Lack of Resources, RFC 5354 §3.12.7)', () => {
  it('per association: new PEs and PEs moving to the association count; others do not', () => {
    const { p } = setup({ maxPoolElementsPerAssociation: 2 });
    expect(p.register(registration('a', 1, { associationId: 5 })).ok).toBe(true);
    expect(p.register(registration('b', 2, { associationId: 5 })).ok).toBe(true);
    const full = p.register(registration('c', 3, { associationId: 5 }));
    expect(full.ok).toBe(false);
    if (full.ok) throw new Error('unexpected');
    expect(full.cause).toBe(Cause.LackOfResources);
    expect(full.limit).toBe('association');
    // Re-registering one of its own is fine; another association is not affected.
    expect(p.register(registration('a', 1, { associationId: 5 })).ok).toBe(true);
    expect(p.register(registration('c', 3, { associationId: 6 })).ok).toBe(true);
    expect(p.register(registration('d', 4, { associationId: 6 })).ok).toBe(true);
    // PE 3 moving from association 6 to the full association 5: refused, left where it was.
    const move = p.register(registration('c', 3, { associationId: 5 }));
    expect(!move.ok && move.limit).toBe('association');
    expect(p.findElement(handle('c'), 3)!.associationId).toBe(6);
    // ENRP-learned PEs (no association) are not counted against any.
    expect(p.register(registration('e', 9, { associationId: 0, homeRegistrarId: PEER })).ok).toBe(true);
    // Freed room can be used again.
    p.deregister(handle('a'), 1);
    expect(p.register(registration('c', 3, { associationId: 5 })).ok).toBe(true);
    expect(p.associationElementCount(5)).toBe(2);
    expect(p.associationElementCount(6)).toBe(1);
    p.checkConsistency();
  });

  it('per pool and in total, with the limit kind for the counters', () => {
    const { p } = setup({ maxPoolElementsPerPool: 2, maxPoolElements: 3 });
    p.register(registration('a', 1));
    p.register(registration('a', 2));
    const pool = p.register(registration('a', 3));
    expect(!pool.ok && pool.limit).toBe('pool');
    p.register(registration('b', 1));
    const total = p.register(registration('c', 1));
    expect(!total.ok && total.limit).toBe('total');
    const totalExisting = p.register(registration('b', 2));
    expect(!totalExisting.ok && totalExisting.limit).toBe('total');
    expect(p.elementCount).toBe(3);
    expect(p.poolCount).toBe(2);
    p.checkConsistency();
  });

  it('in total over partitions sharing a census: the sum counts, a restarted partition starts at 0', () => {
    const buffer = censusBuffer(2);
    const clock = new VirtualScheduler();
    const a = new Partition({ ownRegistrarId: OWN, scheduler: clock, limits: { maxPoolElements: 3 }, census: new SharedElementCensus(buffer, 0) });
    const b = new Partition({ ownRegistrarId: OWN, scheduler: clock, limits: { maxPoolElements: 3 }, census: new SharedElementCensus(buffer, 1) });
    expect(a.register(registration('x', 1)).ok).toBe(true);
    expect(a.register(registration('x', 2)).ok).toBe(true);
    expect(b.register(registration('y', 1)).ok).toBe(true);
    const full = b.register(registration('y', 2));
    expect(!full.ok && full.limit).toBe('total');
    const fullToo = a.register(registration('x', 3));
    expect(!fullToo.ok && fullToo.limit).toBe('total');
    a.deregister(handle('x'), 1);
    expect(b.register(registration('y', 2)).ok).toBe(true);
    // Partition 1 dies; its replacement's cell starts at 0, so its 2 PEs no longer count.
    const census = new SharedElementCensus(buffer, 1);
    expect(census.total()).toBe(1);
    const b2 = new Partition({ ownRegistrarId: OWN, scheduler: clock, limits: { maxPoolElements: 3 }, census });
    expect(b2.register(registration('y', 1)).ok).toBe(true);
    expect(b2.register(registration('y', 2)).ok).toBe(true);
    expect(census.total()).toBe(3);
  });
});
