// Round Robin and Weighted Round Robin (RFC 5356 §4.1, §4.2).
import { PolicyType } from '../wire/constants.js';
import type { OrderedPolicyDefinition } from './policy.js';

/** RR: the order is the sequence alone; a selection moves the head by max-increment (default 1). */
export const roundRobin: OrderedPolicyDefinition = {
  kind: 'ordered',
  type: PolicyType.RoundRobin,
  name: 'RoundRobin',
  defaultMaxIncrement: 1,
  key: () => 0,
  sequenceOnly: true,
};

/**
 * WRR: rounds in which each element is picked `weight` times (RFC 5356 §4.2.2). The order is
 * (round, picks left in the round, sequence), as RSPLIB orders it; a new element joins the
 * pool's current round. A weight of 0 is treated as 1, so every element stays reachable.
 */
export const weightedRoundRobin: OrderedPolicyDefinition = {
  kind: 'ordered',
  type: PolicyType.WeightedRoundRobin,
  name: 'WeightedRoundRobin',
  defaultMaxIncrement: 1,
  initialize(entry, selection) {
    entry.roundCounter = selection.currentRound();
    entry.virtualCounter = entry.policy.weight > 0 ? entry.policy.weight : 1;
  },
  update(entry) {
    if (entry.virtualCounter > 1) {
      entry.virtualCounter--;
    } else {
      entry.roundCounter++;
      entry.virtualCounter = entry.policy.weight > 0 ? entry.policy.weight : 1;
    }
  },
  key: (entry) => entry.roundCounter,
  key2: (entry) => entry.virtualCounter,
};

export const roundRobinFamily = [roundRobin, weightedRoundRobin] as const;
