import { describe, expect, it } from 'vitest';
import { createSelection } from '../../src/policy/registry.js';
import type { PolicyEntry, Selection } from '../../src/policy/policy.js';
import { FULL_LOAD, PolicyType } from '../../src/wire/constants.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import { entry, ids, type TestEntry } from './helpers.js';

function pool(type: number, entries: TestEntry[]): Selection {
  const s = createSelection(type)!;
  for (const e of entries) s.add(e);
  return s;
}

function resolve(s: Selection, n: number, maxIncrement = 0): number[] {
  const out: PolicyEntry[] = [];
  s.select(out, n, maxIncrement);
  return ids(out);
}

function rounds(s: Selection, count: number, n = 1): number[][] {
  const r: number[][] = [];
  for (let i = 0; i < count; i++) r.push(resolve(s, n));
  return r;
}

const invariant = (s: Selection): boolean => (s as unknown as { checkInvariant(): boolean }).checkInvariant();

describe('Round Robin (RFC 5356 §4.1)', () => {
  it('rotates the head by one per resolution', () => {
    const s = pool(PolicyType.RoundRobin, [1, 2, 3, 4].map((i) => entry(i, PolicyType.RoundRobin)));
    expect(rounds(s, 5, 3)).toEqual([
      [1, 2, 3],
      [2, 3, 4],
      [3, 4, 1],
      [4, 1, 2],
      [1, 2, 3],
    ]);
    expect(invariant(s)).toBe(true);
  });

  it('max increment moves that many to the tail', () => {
    const s = pool(PolicyType.RoundRobin, [1, 2, 3, 4, 5].map((i) => entry(i, PolicyType.RoundRobin)));
    expect(resolve(s, 3, 3)).toEqual([1, 2, 3]);
    expect(resolve(s, 3, 3)).toEqual([4, 5, 1]);
  });

  it('pools of one and two elements', () => {
    const one = pool(PolicyType.RoundRobin, [entry(7, PolicyType.RoundRobin)]);
    expect(rounds(one, 3, 3)).toEqual([[7], [7], [7]]);
    const two = pool(PolicyType.RoundRobin, [entry(1, PolicyType.RoundRobin), entry(2, PolicyType.RoundRobin)]);
    expect(rounds(two, 3, 3)).toEqual([
      [1, 2],
      [2, 1],
      [1, 2],
    ]);
  });

  it('new and re-registered elements join a running rotation', () => {
    const es = [1, 2, 3].map((i) => entry(i, PolicyType.RoundRobin));
    const s = pool(PolicyType.RoundRobin, es);
    expect(resolve(s, 1)).toEqual([1]);
    s.add(entry(4, PolicyType.RoundRobin)); // joins at the tail, after 1
    s.update(es[1]!); // re-registration keeps its place
    expect(rounds(s, 5)).toEqual([[2], [3], [1], [4], [2]]);
    s.remove(es[2]!);
    expect(rounds(s, 3)).toEqual([[1], [4], [2]]);
    expect(invariant(s)).toBe(true);
  });
});

describe('Weighted Round Robin (RFC 5356 §4.2)', () => {
  it('picks each element weight times per round', () => {
    const s = pool(PolicyType.WeightedRoundRobin, [entry(1, PolicyType.WeightedRoundRobin, { weight: 3 }), entry(2, PolicyType.WeightedRoundRobin, { weight: 1 })]);
    const seq = rounds(s, 12).map((r) => r[0]);
    // Each round of 4 holds element 1 three times and element 2 once.
    expect(seq).toEqual([2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1]);
  });

  it('keeps the ratio of weights over many rounds', () => {
    const weights = [1, 2, 5];
    const s = pool(
      PolicyType.WeightedRoundRobin,
      weights.map((w, i) => entry(i, PolicyType.WeightedRoundRobin, { weight: w })),
    );
    const counts = [0, 0, 0];
    for (const r of rounds(s, 8 * 50)) counts[r[0]!]!++;
    expect(counts).toEqual([50, 100, 250]);
    expect(invariant(s)).toBe(true);
  });

  it('a new element joins the current round', () => {
    const s = pool(PolicyType.WeightedRoundRobin, [entry(1, PolicyType.WeightedRoundRobin, { weight: 2 })]);
    expect(rounds(s, 3).flat()).toEqual([1, 1, 1]); // round counter now 1 (one pick left)
    s.add(entry(2, PolicyType.WeightedRoundRobin, { weight: 1 }));
    // Round 1: element 1's last pick and element 2's only one; then rounds of {2, 1, 1}.
    expect(rounds(s, 6).flat()).toEqual([1, 2, 2, 1, 1, 2]);
  });
});

describe('Priority (RFC 5356 §4.5)', () => {
  it('reports the highest priorities in decreasing order, rotating equal ones', () => {
    const s = pool(PolicyType.Priority, [
      entry(1, PolicyType.Priority, { priority: 5 }),
      entry(2, PolicyType.Priority, { priority: 9 }),
      entry(3, PolicyType.Priority, { priority: 9 }),
      entry(4, PolicyType.Priority, { priority: 1 }),
    ]);
    expect(rounds(s, 4, 3)).toEqual([
      [2, 3, 1],
      [3, 2, 1],
      [2, 3, 1],
      [3, 2, 1],
    ]);
    expect(resolve(s, 10)).toHaveLength(4);
  });
});

describe('Least Used (RFC 5356 §5.1)', () => {
  it('sorts ascending by load and rotates ties', () => {
    const s = pool(PolicyType.LeastUsed, [
      entry(1, PolicyType.LeastUsed, { load: 300 }),
      entry(2, PolicyType.LeastUsed, { load: 100 }),
      entry(3, PolicyType.LeastUsed, { load: 100 }),
      entry(4, PolicyType.LeastUsed, { load: 200 }),
    ]);
    expect(rounds(s, 3, 3)).toEqual([
      [2, 3, 4],
      [3, 2, 4],
      [2, 3, 4],
    ]);
  });

  it('a unique least loaded element comes back every time', () => {
    const s = pool(PolicyType.LeastUsed, [entry(1, PolicyType.LeastUsed, { load: 5 }), entry(2, PolicyType.LeastUsed, { load: 9 })]);
    expect(rounds(s, 3, 1)).toEqual([[1], [1], [1]]);
  });

  it('re-registration with a new load reorders', () => {
    const es = [entry(1, PolicyType.LeastUsed, { load: 5 }), entry(2, PolicyType.LeastUsed, { load: 9 })];
    const s = pool(PolicyType.LeastUsed, es);
    es[0]!.policy = policySettings(PolicyType.LeastUsed, { load: 50 });
    s.update(es[0]!);
    expect(resolve(s, 2)).toEqual([2, 1]);
  });
});

describe('Least Used with Degradation (RFC 5356 §5.2)', () => {
  it('grows degradation per selection and resets it on re-registration', () => {
    const d = 0x1000;
    const es = [entry(1, PolicyType.LeastUsedDegradation, { load: 0, loadDegradation: d }), entry(2, PolicyType.LeastUsedDegradation, { load: 2 * d + 1, loadDegradation: d })];
    const s = pool(PolicyType.LeastUsedDegradation, es);
    // 1 has key 0, d, 2d (all below 2d+1), then 3d > 2d+1: 2 is picked once, its key becomes 3d+1.
    expect(rounds(s, 4).flat()).toEqual([1, 1, 1, 2]);
    expect(es[0]!.degradation).toBe(3 * d);
    expect(es[1]!.degradation).toBe(d);
    s.update(es[0]!); // re-registration
    expect(es[0]!.degradation).toBe(0);
    expect(resolve(s, 1)).toEqual([1]);
  });

  it('only the first max-increment selected elements degrade', () => {
    const es = [1, 2, 3].map((i) => entry(i, PolicyType.LeastUsedDegradation, { load: 10, loadDegradation: 7 }));
    const s = pool(PolicyType.LeastUsedDegradation, es);
    expect(resolve(s, 3)).toEqual([1, 2, 3]);
    expect(es.map((e) => e.degradation)).toEqual([7, 0, 0]);
  });

  it('degradation saturates at full load', () => {
    const e = entry(1, PolicyType.LeastUsedDegradation, { load: FULL_LOAD - 5, loadDegradation: 0x80000000 });
    const s = pool(PolicyType.LeastUsedDegradation, [e]);
    rounds(s, 4);
    expect(e.degradation).toBe(FULL_LOAD);
    expect(e.selectionKey).toBe(FULL_LOAD);
  });
});

describe('Priority Least Used (RFC 5356 §5.3) and the degradation extension', () => {
  it('orders by load + load degradation', () => {
    // RFC 5356 §5.3.1: A (50 % + 10 %) before B (50 % + 50 %).
    const pct = (p: number) => Math.round((FULL_LOAD * p) / 100);
    const s = pool(PolicyType.PriorityLeastUsed, [
      entry(2, PolicyType.PriorityLeastUsed, { load: pct(50), loadDegradation: pct(50) }),
      entry(1, PolicyType.PriorityLeastUsed, { load: pct(50), loadDegradation: pct(10) }),
    ]);
    expect(rounds(s, 2, 2)).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  it('PLUD adds accumulated degradation on top', () => {
    const es = [entry(1, PolicyType.PriorityLeastUsedDegradation, { load: 0, loadDegradation: 10 }), entry(2, PolicyType.PriorityLeastUsedDegradation, { load: 15, loadDegradation: 10 })];
    const s = pool(PolicyType.PriorityLeastUsedDegradation, es);
    // keys: 1 -> 10, 20, 30; 2 -> 25, 35
    expect(rounds(s, 4).flat()).toEqual([1, 1, 2, 1]);
  });
});

describe('Distance penalty (RSPLIB DPF extensions)', () => {
  it('Least Used DPF adds distance x loadDpf to the load', () => {
    const s = pool(PolicyType.LeastUsedDpf, [
      entry(1, PolicyType.LeastUsedDpf, { load: 100, loadDpf: 10, distance: 50 }), // 600
      entry(2, PolicyType.LeastUsedDpf, { load: 400, loadDpf: 1, distance: 100 }), // 500
      entry(3, PolicyType.LeastUsedDpf, { load: 550, loadDpf: 0, distance: 300 }), // 550
    ]);
    expect(resolve(s, 3)).toEqual([2, 3, 1]);
  });

  it('LUD-DPF and PLU(D)-DPF include their load terms', () => {
    const a = pool(PolicyType.PriorityLeastUsedDpf, [
      entry(1, PolicyType.PriorityLeastUsedDpf, { load: 100, loadDegradation: 300, loadDpf: 1, distance: 0 }),
      entry(2, PolicyType.PriorityLeastUsedDpf, { load: 200, loadDegradation: 0, loadDpf: 1, distance: 100 }),
    ]);
    expect(resolve(a, 2)).toEqual([2, 1]);
    const es = [entry(1, PolicyType.LeastUsedDegradationDpf, { load: 0, loadDegradation: 100, loadDpf: 1, distance: 50 }), entry(2, PolicyType.LeastUsedDegradationDpf, { load: 120, loadDegradation: 100, loadDpf: 0, distance: 0 })];
    const b = pool(PolicyType.LeastUsedDegradationDpf, es);
    expect(rounds(b, 3).flat()).toEqual([1, 2, 1]); // 50 < 120; 150 > 120; 150 < 220
    const c = pool(PolicyType.PriorityLeastUsedDegradationDpf, [entry(1, PolicyType.PriorityLeastUsedDegradationDpf, { load: 0, loadDegradation: 10, loadDpf: 0, distance: 0 })]);
    rounds(c, 2);
    expect([...c.entries()][0]!.degradation).toBe(20);
  });
});

describe('ordered selection in large pools', () => {
  it('returns the n smallest keys in order and no duplicates', () => {
    const s = createSelection(PolicyType.LeastUsed)!;
    const loads: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const load = (i * 7919) % 1000;
      loads.push(load);
      s.add(entry(i, PolicyType.LeastUsed, { load }));
    }
    const out: PolicyEntry[] = [];
    s.select(out, 128);
    const got = out.map((e) => e.policy.load);
    const expected = [...loads].sort((a, b) => a - b).slice(0, 128);
    expect(got).toEqual(expected);
    expect(new Set(out).size).toBe(128);
    expect(invariant(s)).toBe(true);
  });
});
