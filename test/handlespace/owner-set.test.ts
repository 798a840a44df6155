// The owner index (owner-set.ts): an intrusive list per home registrar. Its walks (the W-flag
// handle table cursor) must behave like a Set iterator while PEs are added, removed and moved
// between owners (takeover, a re-registration elsewhere) between pages.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Partition } from '../../src/handlespace/partition.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { OWN, PEER, VirtualScheduler, handle, registration } from './helpers.js';

function partition(): Partition {
  return new Partition({ ownRegistrarId: OWN, scheduler: new VirtualScheduler() });
}

function ids(elements: Iterable<PoolElement>): number[] {
  return [...elements].map((e) => e.peId);
}

describe('owner index', () => {
  it('lists an owner\'s PEs in the order they came, without the removed and the moved', () => {
    const p = partition();
    for (let i = 1; i <= 6; i++) p.register(registration('a', i, { homeRegistrarId: i % 2 === 0 ? PEER : OWN }));
    expect(ids(p.elementsOwnedBy(OWN))).toEqual([1, 3, 5]);
    expect(ids(p.elementsOwnedBy(PEER))).toEqual([2, 4, 6]);
    p.deregister(handle('a'), 3);
    p.changeOwner(p.findElement(handle('a'), 4)!, OWN);
    expect(ids(p.elementsOwnedBy(OWN))).toEqual([1, 5, 4]);
    expect(ids(p.elementsOwnedBy(PEER))).toEqual([2, 6]);
    expect(p.ownedCount(OWN)).toBe(3);
    expect(p.ownedCount(PEER)).toBe(2);
    p.checkConsistency();
  });

  it('a W-flag cursor steps over the PE it stands on when that PE is removed or moves away', () => {
    const p = partition();
    for (let i = 1; i <= 6; i++) p.register(registration('a', i));
    const cursor = p.cursor(OWN);
    const page: PoolElement[] = [];
    // Page one: 1, 2; PE 3 is read ahead.
    expect(cursor.next(2, page)).toBe(true);
    expect(ids(page)).toEqual([1, 2]);
    // The walk stands on 4 (3 was read ahead): 4 leaves, 5 moves to a peer, 7 and 5 come back in.
    p.deregister(handle('a'), 4);
    p.changeOwner(p.findElement(handle('a'), 5)!, PEER);
    p.register(registration('a', 7));
    const visited: number[] = [];
    while (cursor.next(2, page)) visited.push(...ids(page));
    visited.push(...ids(page));
    expect(visited).toEqual([3, 6, 7]);
    expect(cursor.done).toBe(true);
  });

  it('a walk at the end of the list visits a PE added before it reported the end', () => {
    const p = partition();
    p.register(registration('a', 1));
    const cursor = p.cursor(OWN);
    const page: PoolElement[] = [];
    // One PE in a page of one: the read-ahead found the end.
    expect(cursor.next(1, page)).toBe(false);
    p.register(registration('a', 2));
    expect(cursor.next(1, page)).toBe(false);
    expect(page).toEqual([]);
    // A fresh cursor of two pages of one: PE 2 is added while the walk stands at the end.
    const c2 = p.cursor(OWN);
    expect(c2.next(1, page)).toBe(true); // 1, with 2 read ahead
    p.register(registration('a', 3));
    expect(c2.next(1, page)).toBe(true);
    expect(ids(page)).toEqual([2]);
    expect(c2.next(1, page)).toBe(false);
    expect(ids(page)).toEqual([3]);
  });

  it('takeover moves every PE and keeps both lists consistent', () => {
    const p = partition();
    for (let i = 1; i <= 50; i++) p.register(registration(`pool${i % 3}`, i, { homeRegistrarId: i % 5 === 0 ? OWN : PEER }));
    expect(p.takeOver(PEER, OWN)).toBe(40);
    expect(p.ownedCount(PEER)).toBe(0);
    expect(ids(p.elementsOwnedBy(OWN)).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    p.checkConsistency();
  });

  it('an owner cursor neither repeats nor skips PEs that stay with the owner, under removals, additions and moves', () => {
    const change = fc.record({ kind: fc.constantFrom('add', 'remove', 'move'), pool: fc.nat(2), pe: fc.integer({ min: 1, max: 30 }), toOwn: fc.boolean() });
    fc.assert(
      fc.property(fc.array(change, { maxLength: 150 }), fc.integer({ min: 1, max: 7 }), (changes, pageSize) => {
        const p = partition();
        for (let pool = 0; pool < 3; pool++) for (let pe = 1; pe <= 15; pe++) p.register(registration(`pool${pool}`, pe, { homeRegistrarId: pe % 3 === 0 ? PEER : OWN }));
        const initial = new Set(p.elementsOwnedBy(OWN));
        const movedAway = new Set<PoolElement>();
        const cursor = p.cursor(OWN);
        const visited: PoolElement[] = [];
        const page: PoolElement[] = [];
        let i = 0;
        for (;;) {
          const more = cursor.next(pageSize, page);
          visited.push(...page);
          for (let k = 0; k < 4 && i < changes.length; k++, i++) {
            const c = changes[i]!;
            const h = handle(`pool${c.pool}`);
            if (c.kind === 'add') {
              // Re-registering a PE under another home registrar moves it too.
              const e = p.findElement(h, c.pe);
              if (e !== undefined && !c.toOwn && e.homeRegistrarId === OWN) movedAway.add(e);
              p.register(registration(`pool${c.pool}`, c.pe, { homeRegistrarId: c.toOwn ? OWN : PEER }));
            }
            else if (c.kind === 'remove') p.deregister(h, c.pe);
            else {
              const e = p.findElement(h, c.pe);
              if (e !== undefined) {
                if (!c.toOwn && e.homeRegistrarId === OWN) movedAway.add(e);
                p.changeOwner(e, c.toOwn ? OWN : PEER);
              }
            }
          }
          if (!more) break;
        }
        p.checkConsistency();
        // A PE that moved away and came back is a new member (visited again, as a Set would).
        const stayed = visited.filter((e) => !movedAway.has(e));
        expect(new Set(stayed).size).toBe(stayed.length);
        for (const e of initial) if (e.registered && !movedAway.has(e) && e.homeRegistrarId === OWN) expect(visited).toContain(e);
      }),
      { numRuns: 200 },
    );
  });
});
