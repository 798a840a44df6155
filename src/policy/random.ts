// Random and Weighted Random (RFC 5356 §4.3, §4.4): distinct picks with probability
// proportional to 1 or to the weight. As in RSPLIB, a weight of 0 is never picked.
import { PolicyType } from '../wire/constants.js';
import type { WeightedPolicyDefinition } from './policy.js';

export const random: WeightedPolicyDefinition = {
  kind: 'weighted',
  type: PolicyType.Random,
  name: 'Random',
  defaultMaxIncrement: 0,
  value: () => 1,
};

export const weightedRandom: WeightedPolicyDefinition = {
  kind: 'weighted',
  type: PolicyType.WeightedRandom,
  name: 'WeightedRandom',
  defaultMaxIncrement: 0,
  value: (entry) => entry.policy.weight >>> 0,
};

export const randomFamily = [random, weightedRandom] as const;
