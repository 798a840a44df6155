// Test helpers: bare policy entries (what the handlespace's PoolElement carries) and a
// chi-square check.
import type { PolicyEntry } from '../../src/policy/policy.js';
import { policySettings, type PolicySettings } from '../../src/wire/policy-settings.js';

export interface TestEntry extends PolicyEntry {
  id: number;
}

export function entry(id: number, type: number, values: Partial<Omit<PolicySettings, 'type'>> = {}): TestEntry {
  return {
    id,
    policy: policySettings(type, values),
    selectionIndex: -1,
    sequence: 0,
    degradation: 0,
    roundCounter: 0,
    virtualCounter: 0,
    selectionKey: 0,
    selectionKey2: 0,
    selectionPrev: null,
    selectionNext: null,
  };
}

export function ids(out: PolicyEntry[]): number[] {
  return out.map((e) => (e as TestEntry).id);
}

/** Pearson chi-square statistic of observed counts against expected probabilities. */
export function chiSquare(observed: number[], probabilities: number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  let x2 = 0;
  for (let i = 0; i < observed.length; i++) {
    const expected = total * probabilities[i]!;
    x2 += (observed[i]! - expected) ** 2 / expected;
  }
  return x2;
}

/** Upper 0.1 % critical values of chi-square for small degrees of freedom. */
export const CHI2_999: Record<number, number> = { 1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32, 9: 27.88, 19: 43.82 };
