// The ordered adaptive policies (RFC 5356 §5.1-5.3 and RSPLIB's Priority Least Used with
// Degradation): ascending by a sum of load terms, capped at full load; ties rotate by sequence.
import { PolicyType } from '../wire/constants.js';
import { loadSum, type OrderedPolicyDefinition, type PolicyEntry } from './policy.js';

/** RFC 5356 §5.2.2: each selection adds the element's load degradation (saturating). */
export function degrade(entry: PolicyEntry): void {
  entry.degradation = loadSum(entry.degradation, entry.policy.loadDegradation);
}

/** LU: lowest load first (RFC 5356 §5.1). */
export const leastUsed: OrderedPolicyDefinition = {
  kind: 'ordered',
  type: PolicyType.LeastUsed,
  name: 'LeastUsed',
  defaultMaxIncrement: 1,
  key: (entry) => entry.policy.load,
};

/** LUD: lowest load + accumulated degradation; degradation resets on re-registration (§5.2). */
export const leastUsedDegradation: OrderedPolicyDefinition = {
  kind: 'ordered',
  type: PolicyType.LeastUsedDegradation,
  name: 'LeastUsedDegradation',
  defaultMaxIncrement: 1,
  update: degrade,
  key: (entry) => loadSum(entry.policy.load, entry.degradation),
};

/** PLU: lowest load + load degradation, i.e. the load after accepting one more request (§5.3). */
export const priorityLeastUsed: OrderedPolicyDefinition = {
  kind: 'ordered',
  type: PolicyType.PriorityLeastUsed,
  name: 'PriorityLeastUsed',
  defaultMaxIncrement: 1,
  key: (entry) => loadSum(entry.policy.load, entry.policy.loadDegradation),
};

/** PLUD (RSPLIB 0xb0001003): PLU plus the accumulated degradation. */
export const priorityLeastUsedDegradation: OrderedPolicyDefinition = {
  kind: 'ordered',
  type: PolicyType.PriorityLeastUsedDegradation,
  name: 'PriorityLeastUsedDegradation',
  defaultMaxIncrement: 1,
  update: degrade,
  key: (entry) => loadSum(entry.policy.load, entry.policy.loadDegradation, entry.degradation),
};

export const leastUsedFamily = [leastUsed, leastUsedDegradation, priorityLeastUsed, priorityLeastUsedDegradation] as const;
