import { describe, expect, it } from 'vitest';
import { createSelection, knownPolicies, policyDefinition } from '../../src/policy/registry.js';
import { seededRandom } from '../../src/policy/random-source.js';
import type { PolicyEntry, Selection } from '../../src/policy/policy.js';
import { FULL_LOAD, PolicyType } from '../../src/wire/constants.js';
import { policySettings, type PolicySettings } from '../../src/wire/policy-settings.js';
import { CHI2_999, chiSquare, entry, type TestEntry } from './helpers.js';

function pool(type: number, values: Partial<Omit<PolicySettings, 'type'>>[], seed = 1): { s: Selection; es: TestEntry[] } {
  const s = createSelection(type, { random: seededRandom(seed) })!;
  const es = values.map((v, i) => entry(i, type, v));
  for (const e of es) s.add(e);
  return { s, es };
}

/** Counts of first picks over `draws` single-item resolutions. */
function firstPicks(s: Selection, size: number, draws: number): number[] {
  const counts = new Array<number>(size).fill(0);
  const out: PolicyEntry[] = [];
  for (let i = 0; i < draws; i++) {
    out.length = 0;
    s.select(out, 1);
    counts[(out[0] as TestEntry).id]!++;
  }
  return counts;
}

const invariant = (s: Selection): boolean => (s as unknown as { checkInvariant(): boolean }).checkInvariant();

describe('Random (RFC 5356 §4.3)', () => {
  it('is uniform', () => {
    const { s } = pool(PolicyType.Random, Array.from({ length: 10 }, () => ({})));
    const counts = firstPicks(s, 10, 50_000);
    expect(chiSquare(counts, new Array(10).fill(0.1))).toBeLessThan(CHI2_999[9]!);
  });

  it('never repeats an element within one resolution and restores the draw afterwards', () => {
    const { s } = pool(PolicyType.Random, Array.from({ length: 5 }, () => ({})));
    const out: PolicyEntry[] = [];
    for (let i = 0; i < 1000; i++) {
      out.length = 0;
      expect(s.select(out, 5)).toBe(5);
      expect(new Set(out).size).toBe(5);
    }
    expect(invariant(s)).toBe(true);
    expect(s.select((out.length = 0, out), 9)).toBe(5);
  });

  it('pools of one and two', () => {
    const one = pool(PolicyType.Random, [{}]).s;
    const out: PolicyEntry[] = [];
    expect(one.select(out, 3)).toBe(1);
    const two = pool(PolicyType.Random, [{}, {}]).s;
    const counts = firstPicks(two, 2, 20_000);
    expect(chiSquare(counts, [0.5, 0.5])).toBeLessThan(CHI2_999[1]!);
  });
});

describe('Weighted Random (RFC 5356 §4.4)', () => {
  it('picks in proportion to weight', () => {
    const weights = [1, 2, 3, 4, 10];
    const { s } = pool(PolicyType.WeightedRandom, weights.map((weight) => ({ weight })));
    const sum = weights.reduce((a, b) => a + b);
    const counts = firstPicks(s, weights.length, 60_000);
    expect(chiSquare(counts, weights.map((w) => w / sum))).toBeLessThan(CHI2_999[4]!);
  });

  it('second picks follow the weights of the remaining elements (no duplicates)', () => {
    const weights = [1, 1, 8];
    const { s } = pool(PolicyType.WeightedRandom, weights.map((weight) => ({ weight })), 5);
    const second = [0, 0, 0];
    const out: PolicyEntry[] = [];
    for (let i = 0; i < 30_000; i++) {
      out.length = 0;
      s.select(out, 2);
      expect(out[0]).not.toBe(out[1]);
      second[(out[1] as TestEntry).id]!++;
    }
    // P(second = i) = sum over first j != i of w_j/W * w_i/(W - w_j).
    const W = 10;
    const p = weights.map((wi, i) => weights.reduce((acc, wj, j) => (j === i ? acc : acc + (wj / W) * (wi / (W - wj))), 0));
    expect(chiSquare(second, p)).toBeLessThan(CHI2_999[2]!);
  });

  it('a weight of 0 is never picked', () => {
    const { s } = pool(PolicyType.WeightedRandom, [{ weight: 0 }, { weight: 5 }]);
    const out: PolicyEntry[] = [];
    for (let i = 0; i < 100; i++) {
      out.length = 0;
      expect(s.select(out, 2)).toBe(1);
      expect((out[0] as TestEntry).id).toBe(1);
    }
  });

  it('re-registration changes the weight in the draw', () => {
    const { s, es } = pool(PolicyType.WeightedRandom, [{ weight: 1 }, { weight: 1 }], 9);
    es[0]!.policy = policySettings(PolicyType.WeightedRandom, { weight: 9 });
    s.update(es[0]!);
    expect(invariant(s)).toBe(true);
    const counts = firstPicks(s, 2, 20_000);
    expect(chiSquare(counts, [0.9, 0.1])).toBeLessThan(CHI2_999[1]!);
  });
});

describe('Randomized Least Used (RFC 5356 §5.4) and extensions', () => {
  const pct = (p: number) => Math.round((FULL_LOAD * p) / 100);

  it('picks in proportion to unused capacity', () => {
    const loads = [0, 25, 50, 75];
    const { s } = pool(PolicyType.RandomizedLeastUsed, loads.map((p) => ({ load: pct(p) })));
    const free = loads.map((p) => 100 - p);
    const sum = free.reduce((a, b) => a + b);
    const counts = firstPicks(s, 4, 60_000);
    expect(chiSquare(counts, free.map((f) => f / sum))).toBeLessThan(CHI2_999[3]!);
  });

  it('a fully loaded element keeps value 1', () => {
    const { es } = pool(PolicyType.RandomizedLeastUsed, [{ load: FULL_LOAD }]);
    expect(es[0]!.selectionKey).toBe(1);
  });

  it('RPLU subtracts load degradation too', () => {
    const { es } = pool(PolicyType.RandomizedPriorityLeastUsed, [{ load: 100, loadDegradation: 50 }]);
    expect(es[0]!.selectionKey).toBe(FULL_LOAD - 150);
  });

  it('RLUD and RPLUD degrade the first pick and reset on re-registration', () => {
    for (const type of [PolicyType.RandomizedLeastUsedDegradation, PolicyType.RandomizedPriorityLeastUsedDegradation]) {
      const { s, es } = pool(type, [{ load: 10, loadDegradation: 1000 }]);
      const out: PolicyEntry[] = [];
      s.select(out, 1);
      s.select((out.length = 0, out), 1);
      expect(es[0]!.degradation).toBe(2000);
      const base = type === PolicyType.RandomizedLeastUsedDegradation ? 10 : 1010;
      expect(es[0]!.selectionKey).toBe(FULL_LOAD - base - 2000);
      s.update(es[0]!);
      expect(es[0]!.degradation).toBe(0);
      expect(invariant(s)).toBe(true);
    }
  });

  it('Weighted Random DPF reduces the weight by distance', () => {
    // weightDpf = 1/1000 of full per ms, distance 200 ms: weight 100 -> 100 - 20 = 80.
    const { es } = pool(PolicyType.WeightedRandomDpf, [
      { weight: 100, weightDpf: Math.round(FULL_LOAD / 1000), distance: 200 },
      { weight: 100, weightDpf: FULL_LOAD, distance: 5 },
    ]);
    expect(es[0]!.selectionKey).toBe(80);
    expect(es[1]!.selectionKey).toBe(1);
  });
});

describe('large pools', () => {
  it('weighted picks over 100,000 elements stay exact and distinct', () => {
    const s = createSelection(PolicyType.WeightedRandom, { random: seededRandom(3) })!;
    const es: TestEntry[] = [];
    for (let i = 0; i < 100_000; i++) {
      const e = entry(i, PolicyType.WeightedRandom, { weight: i < 10 ? 1_000_000_000 : 1 });
      es.push(e);
      s.add(e);
    }
    for (let i = 10; i < 100_000; i += 3) s.remove(es[i]!);
    expect(invariant(s)).toBe(true);
    const out: PolicyEntry[] = [];
    s.select(out, 10);
    // The ten heavy elements carry all but ~6e-5 of the weight.
    expect(new Set(out.map((e) => (e as TestEntry).id)).size).toBe(10);
    expect(Math.max(...out.map((e) => (e as TestEntry).id))).toBeLessThan(10);
  });
});

describe('registry', () => {
  it('knows all nine RFC 5356 policies and the nine RSPLIB extensions', () => {
    const codes = Object.values(PolicyType);
    expect(codes).toHaveLength(18);
    for (const code of codes) expect(policyDefinition(code)?.type).toBe(code);
    expect([...knownPolicies()]).toHaveLength(18);
    expect(createSelection(0x12345678)).toBeUndefined();
  });
});
