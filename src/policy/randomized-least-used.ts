// Randomized Least Used (RFC 5356 §5.4) and RSPLIB's randomized extensions: a random pick with
// probability proportional to the unused capacity, 0xFFFFFFFF minus the load terms, at least 1
// so that a fully loaded element can still be found.
import { FULL_LOAD, PolicyType } from '../wire/constants.js';
import { degrade } from './least-used.js';
import type { PolicyEntry, WeightedPolicyDefinition } from './policy.js';

/** FULL_LOAD minus the terms, clamped to [1, FULL_LOAD]. */
export function unusedCapacity(a: number, b = 0, c = 0): number {
  const v = FULL_LOAD - a - b - c;
  return v < 1 ? 1 : v;
}

function family(type: number, name: string, terms: (e: PolicyEntry) => number, degrading: boolean): WeightedPolicyDefinition {
  const def: WeightedPolicyDefinition = {
    kind: 'weighted',
    type,
    name,
    defaultMaxIncrement: 1,
    value: (entry) => unusedCapacity(terms(entry)),
  };
  return degrading ? { ...def, update: degrade } : def;
}

export const randomizedLeastUsed = family(PolicyType.RandomizedLeastUsed, 'RandomizedLeastUsed', (e) => e.policy.load, false);
export const randomizedPriorityLeastUsed = family(
  PolicyType.RandomizedPriorityLeastUsed,
  'RandomizedPriorityLeastUsed',
  (e) => e.policy.load + e.policy.loadDegradation,
  false,
);
export const randomizedLeastUsedDegradation = family(
  PolicyType.RandomizedLeastUsedDegradation,
  'RandomizedLeastUsedDegradation',
  (e) => e.policy.load + e.degradation,
  true,
);
export const randomizedPriorityLeastUsedDegradation = family(
  PolicyType.RandomizedPriorityLeastUsedDegradation,
  'RandomizedPriorityLeastUsedDegradation',
  (e) => e.policy.load + e.policy.loadDegradation + e.degradation,
  true,
);

export const randomizedLeastUsedFamily = [
  randomizedLeastUsed,
  randomizedPriorityLeastUsed,
  randomizedLeastUsedDegradation,
  randomizedPriorityLeastUsedDegradation,
] as const;
