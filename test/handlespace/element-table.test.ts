// A pool's elements by PE ID (src/handlespace/element-table.ts): found after growth and
// shrinking, walked in registration order, and walks that behave exactly like a Map's
// iterators while elements come and go; its arrays stay bounded by the elements it holds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ElementTable } from '../../src/handlespace/element-table.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { seededRandom } from '../../src/policy/random-source.js';

/** The table reads only peId and tableIndex: a stand-in element. */
function element(peId: number): PoolElement {
  return { peId, tableIndex: -1 } as unknown as PoolElement;
}

function ids(walk: Iterable<PoolElement>): number[] {
  return [...walk].map((e) => e.peId);
}

describe('element table', () => {
  it('finds every element through growth and shrinking, and stays within 16 slots per element', () => {
    const table = new ElementTable();
    const rnd = seededRandom(7);
    const byId = new Map<number, PoolElement>();
    // Random 32-bit IDs, the extremes, and IDs that differ only in their high bits.
    const wanted = [1, 0xffffffff, 0x80000000, 0x7fffffff];
    for (let i = 1; i < 4096; i++) wanted.push(i * 0x100000);
    while (wanted.length < 20_000) wanted.push(1 + Math.floor(rnd() * 0xfffffffe));
    for (const id of wanted) {
      if (byId.has(id)) continue;
      const e = element(id);
      table.add(e);
      byId.set(id, e);
      expect(table.capacity).toBeLessThanOrEqual(Math.max(8, 4 * table.size));
    }
    expect(table.size).toBe(byId.size);
    expect(table.checkInvariant()).toBe(true);
    for (const [id, e] of byId) expect(table.get(id)).toBe(e);
    expect(table.get(2)).toBeUndefined();
    expect(table.has(0xffffffff)).toBe(true);

    // Remove all but every 50th: the index and the order shrink with them.
    let n = 0;
    for (const [id, e] of byId) {
      if (n++ % 50 === 0) continue;
      expect(table.delete(e)).toBe(true);
      expect(table.delete(e)).toBe(false);
      byId.delete(id);
      expect(table.capacity).toBeLessThanOrEqual(Math.max(8, 16 * table.size));
      expect(table.length).toBeLessThanOrEqual(Math.max(33, 2 * table.size + 1));
    }
    expect(table.size).toBe(byId.size);
    expect(table.checkInvariant()).toBe(true);
    for (const [id, e] of byId) expect(table.get(id)).toBe(e);
    // Still in registration order after the order was compacted.
    expect(ids(table)).toEqual([...byId.keys()]);
    for (const e of [...byId.values()]) table.delete(e);
    expect(table.size).toBe(0);
    expect(table.capacity).toBe(8);
    expect(ids(table)).toEqual([]);
  });

  it('an element of another table is not removed', () => {
    const a = new ElementTable();
    const b = new ElementTable();
    const x = element(5);
    a.add(x);
    b.add(element(5));
    expect(b.delete(x)).toBe(false);
    expect(b.size).toBe(1);
    expect(a.get(5)).toBe(x);
  });

  it('walks step exactly like Map iterators while elements are added and removed', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('add' as const), id: fc.integer({ min: 1, max: 60 }) }),
            fc.record({ op: fc.constant('delete' as const), id: fc.integer({ min: 1, max: 60 }) }),
            fc.record({ op: fc.constant('step' as const), walk: fc.nat(2) }),
            fc.record({ op: fc.constant('walk' as const), walk: fc.nat(2) }),
          ),
          { maxLength: 400 },
        ),
        (ops) => {
          const table = new ElementTable();
          const model = new Map<number, PoolElement>();
          const walks: { table: Iterator<PoolElement>; model: Iterator<PoolElement> }[] = [];
          for (let id = 1; id <= 30; id++) {
            const e = element(id);
            table.add(e);
            model.set(id, e);
          }
          for (let w = 0; w < 3; w++) walks.push({ table: table.values(), model: model.values() });
          for (const o of ops) {
            if (o.op === 'add') {
              if (model.has(o.id)) continue;
              const e = element(o.id);
              table.add(e);
              model.set(o.id, e);
            } else if (o.op === 'delete') {
              const e = model.get(o.id);
              if (e === undefined) continue;
              table.delete(e);
              model.delete(o.id);
            } else if (o.op === 'walk') {
              walks[o.walk] = { table: table.values(), model: model.values() };
            } else {
              const w = walks[o.walk]!;
              const got = w.table.next();
              const want = w.model.next();
              expect(got.done).toBe(want.done);
              expect(got.value).toBe(want.value);
            }
          }
          expect(table.checkInvariant()).toBe(true);
          for (const w of walks) expect(ids({ [Symbol.iterator]: () => w.table })).toEqual(ids({ [Symbol.iterator]: () => w.model }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finished walks are forgotten: walks started again and again do not pile up', () => {
    const table = new ElementTable();
    for (let id = 1; id <= 100; id++) table.add(element(id));
    for (let i = 0; i < 10_000; i++) expect(ids(table.values())).toHaveLength(100);
    // Unfinished walks are held weakly (collected with the cursor that held them); finished
    // ones are pruned whenever the list has doubled.
    expect((table as unknown as { walks: unknown[] | null }).walks?.length ?? 0).toBeLessThanOrEqual(8);
  });

  it('a pool walked to the end, or left by a break, keeps no walk list; one left open keeps its place through a compaction', () => {
    const table = new ElementTable();
    const walks = () => (table as unknown as { walks: unknown[] | null }).walks;
    for (let id = 1; id <= 100; id++) table.add(element(id));
    expect(ids(table.values())).toHaveLength(100);
    expect(walks()).toBeNull();
    for (const e of table) if (e.peId === 10) break;
    expect(walks()).toBeNull();
    const open = table.values();
    for (let i = 0; i < 50; i++) open.next();
    expect(walks()).toHaveLength(1);
    for (let id = 1; id <= 80; id++) table.delete(table.get(id)!); // compacts the order
    expect(ids(open)).toEqual(Array.from({ length: 20 }, (_, i) => 81 + i));
    expect(walks()).toBeNull();
  });
});
