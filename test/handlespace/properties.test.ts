// Property tests: random operation sequences keep every index consistent (checkConsistency
// compares pools, selections, owner sets, association lists, checksums recomputed from scratch
// and the timer heap), timers fire exactly once at their time, and handle-table cursors neither
// skip nor repeat elements that stay.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Partition, PartitionEvent } from '../../src/handlespace/partition.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { seededRandom } from '../../src/policy/random-source.js';
import { PolicyType } from '../../src/wire/constants.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import { OWN, PEER, VirtualScheduler, handle, registration } from './helpers.js';

const POLICIES = [PolicyType.RoundRobin, PolicyType.LeastUsedDegradation, PolicyType.WeightedRandom, PolicyType.WeightedRoundRobin];
const OWNERS = [OWN, PEER, 0x33333333];

const op = fc.oneof(
  fc.record({ kind: fc.constant('register' as const), pool: fc.nat(5), pe: fc.integer({ min: 1, max: 12 }), owner: fc.nat(2), assoc: fc.nat(3), load: fc.nat(1000), life: fc.integer({ min: 1, max: 20_000 }) }),
  fc.record({ kind: fc.constant('deregister' as const), pool: fc.nat(5), pe: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('resolve' as const), pool: fc.nat(5), items: fc.nat(6) }),
  fc.record({ kind: fc.constant('association' as const), assoc: fc.nat(3) }),
  fc.record({ kind: fc.constant('unreachable' as const), pool: fc.nat(5), pe: fc.integer({ min: 1, max: 12 }), reporter: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('check' as const), pool: fc.nat(5), pe: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('takeover' as const), from: fc.nat(2), to: fc.nat(2) }),
  fc.record({ kind: fc.constant('ack' as const), pool: fc.nat(5), pe: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(8000) }),
);

describe('partition invariants under random operation sequences', () => {
  it('every index agrees, checksums match, timers fire once at their time', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.nat(), (ops, seed) => {
        const clock = new VirtualScheduler();
        // Expected due time of each live element's timer, tracked independently.
        const fired: { at: number; due: number; event: PartitionEvent; el: PoolElement }[] = [];
        const p = new Partition({
          ownRegistrarId: OWN,
          scheduler: clock,
          random: seededRandom(seed),
          onEvent: (event, el) => fired.push({ at: clock.now(), due: el.timerAt, event, el }),
        });
        const out: PoolElement[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case 'register': {
              const policy = POLICIES[o.pool % POLICIES.length]!;
              p.register(
                registration(`pool${o.pool}`, o.pe, {
                  homeRegistrarId: OWNERS[o.owner]!,
                  associationId: o.assoc,
                  registrationLife: o.life,
                  policy: policySettings(policy, { load: o.load, weight: o.load % 5, loadDegradation: 7 }),
                }),
              );
              break;
            }
            case 'deregister':
              p.deregister(handle(`pool${o.pool}`), o.pe);
              break;
            case 'resolve': {
              const n = p.handleResolution(handle(`pool${o.pool}`), o.items, out);
              if (n >= 0) {
                expect(new Set(out).size).toBe(n);
                for (const e of out) expect(e.registered).toBe(true);
              }
              break;
            }
            case 'association':
              p.removeAssociation(o.assoc);
              break;
            case 'unreachable':
              p.reportUnreachable(handle(`pool${o.pool}`), o.pe, o.reporter);
              break;
            case 'check': {
              const e = p.findElement(handle(`pool${o.pool}`), o.pe);
              if (e !== undefined) p.checkNow(e);
              break;
            }
            case 'takeover':
              p.takeOver(OWNERS[o.from]!, OWNERS[o.to]!);
              break;
            case 'ack': {
              const e = p.findElement(handle(`pool${o.pool}`), o.pe);
              if (e !== undefined) p.acknowledge(e);
              break;
            }
            case 'advance': {
              const before = fired.length;
              clock.advance(clock.time + o.ms);
              for (const f of fired.slice(before)) {
                // A timer fires at its due time, never early; removal events leave the element out.
                if (f.event === PartitionEvent.KeepAliveTimedOut || f.event === PartitionEvent.LifetimeExpired) {
                  expect(f.el.registered).toBe(false);
                }
              }
              break;
            }
          }
          p.checkConsistency();
          // Nothing overdue remains after the wake-ups ran.
          for (const pool of p.allPools()) for (const e of pool.elements.values()) expect(e.timerAt).toBeGreaterThanOrEqual(clock.time);
        }
        // Each removal event happened once per element.
        const removals = fired.filter((f) => f.event === PartitionEvent.KeepAliveTimedOut || f.event === PartitionEvent.LifetimeExpired).map((f) => f.el);
        expect(new Set(removals).size).toBe(removals.length);
      }),
      { numRuns: 150 },
    );
  });

  it('timers fire exactly at their due time in virtual time', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 50_000 }), { minLength: 1, maxLength: 60 }), fc.array(fc.nat(60_000), { maxLength: 20 }), (lives, steps) => {
        const clock = new VirtualScheduler();
        const seen = new Map<number, number>();
        const p = new Partition({
          ownRegistrarId: OWN,
          scheduler: clock,
          onEvent: (event, el) => {
            expect(event).toBe(PartitionEvent.LifetimeExpired);
            expect(seen.has(el.peId)).toBe(false);
            seen.set(el.peId, clock.now());
          },
        });
        lives.forEach((life, i) => p.register(registration('x', i + 1, { homeRegistrarId: PEER, registrationLife: life, associationId: 0 })));
        for (const s of [...steps].sort((a, b) => a - b)) clock.advance(s);
        clock.advance(60_000);
        expect(seen.size).toBe(lives.length);
        lives.forEach((life, i) => expect(seen.get(i + 1)).toBe(life));
      }),
      { numRuns: 100 },
    );
  });
});

describe('handle table cursor', () => {
  it('pages through all elements and through one owner', () => {
    const p = new Partition({ ownRegistrarId: OWN, scheduler: new VirtualScheduler() });
    for (let i = 1; i <= 300; i++) p.register(registration(`pool${i % 4}`, i, { homeRegistrarId: i % 3 === 0 ? PEER : OWN }));
    const page: PoolElement[] = [];
    const all: number[] = [];
    const c = p.cursor();
    let more = true;
    let pages = 0;
    while (more) {
      more = c.next(128, page);
      pages++;
      all.push(...page.map((e) => e.peId));
    }
    expect(pages).toBe(3);
    expect(c.done).toBe(true);
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const peer: number[] = [];
    const pc = p.cursor(PEER);
    while (pc.next(7, page) || page.length > 0) {
      peer.push(...page.map((e) => e.peId));
      if (pc.done) break;
    }
    expect(peer.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => 3 * (i + 1)));
  });

  it('survives concurrent modification without skipping or repeating elements that stayed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ add: fc.boolean(), pool: fc.nat(3), pe: fc.integer({ min: 1, max: 40 }) }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        (mods, pageSize, byOwner) => {
          const p = new Partition({ ownRegistrarId: OWN, scheduler: new VirtualScheduler() });
          for (let pool = 0; pool < 4; pool++) for (let pe = 1; pe <= 20; pe++) p.register(registration(`pool${pool}`, pe));
          const initial = new Set<PoolElement>();
          for (const pool of p.allPools()) for (const e of pool.elements.values()) initial.add(e);
          const cursor = byOwner ? p.cursor(OWN) : p.cursor();
          const visited: PoolElement[] = [];
          const page: PoolElement[] = [];
          let i = 0;
          for (;;) {
            const more = cursor.next(pageSize, page);
            visited.push(...page);
            // Modify the partition between pages.
            for (let k = 0; k < 5 && i < mods.length; k++, i++) {
              const m = mods[i]!;
              if (m.add) p.register(registration(`pool${m.pool}`, m.pe));
              else p.deregister(handle(`pool${m.pool}`), m.pe);
            }
            if (!more) break;
          }
          expect(new Set(visited).size).toBe(visited.length); // no repeats
          for (const e of initial) if (e.registered) expect(visited).toContain(e); // none that stayed skipped
        },
      ),
      { numRuns: 200 },
    );
  });
});
