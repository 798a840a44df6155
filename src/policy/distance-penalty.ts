// RSPLIB's distance-penalty-factor (DPF) policies (codes 0xb0002001-0xb0002005). A PE's
// distance (ms) is supplied by the registrar in PolicySettings.distance (see dpfDistance);
// the penalty is distance x DPF, where a DPF is a fraction of 0xFFFFFFFF per millisecond.
import { FULL_LOAD, PolicyType } from '../wire/constants.js';
import { degrade } from './least-used.js';
import type { OrderedPolicyDefinition, PolicyEntry, WeightedPolicyDefinition } from './policy.js';

/**
 * RSPLIB's distance: half the smoothed round-trip time rounded to 50 ms steps, plus the
 * registrar-to-registrar distance for elements learned over ENRP.
 */
export function dpfDistance(smoothedRttMs: number, registrarDistanceMs = 0): number {
  return Math.round(smoothedRttMs / 2 / 50) * 50 + registrarDistanceMs;
}

/** Load plus the distance penalty (and extra terms), rounded and capped at full load. */
function penalizedLoad(entry: PolicyEntry, extra: number): number {
  const p = entry.policy;
  const v = Math.round(p.load + extra + p.distance * p.loadDpf);
  return v > FULL_LOAD ? FULL_LOAD : v;
}

/** Weight reduced by weight x distance x weightDpf; a negative result becomes 1. */
export const weightedRandomDpf: WeightedPolicyDefinition = {
  kind: 'weighted',
  type: PolicyType.WeightedRandomDpf,
  name: 'WeightedRandomDPF',
  defaultMaxIncrement: 0,
  value(entry) {
    const p = entry.policy;
    const factor = (p.distance * p.weightDpf) / FULL_LOAD;
    const v = p.weight - Math.round(p.weight * factor);
    return v < 0 ? 1 : v > FULL_LOAD ? FULL_LOAD : v;
  },
};

function ordered(type: number, name: string, extra: (e: PolicyEntry) => number, degrading: boolean): OrderedPolicyDefinition {
  const def: OrderedPolicyDefinition = {
    kind: 'ordered',
    type,
    name,
    defaultMaxIncrement: 1,
    key: (entry) => penalizedLoad(entry, extra(entry)),
  };
  return degrading ? { ...def, update: degrade } : def;
}

export const leastUsedDpf = ordered(PolicyType.LeastUsedDpf, 'LeastUsedDPF', () => 0, false);
export const leastUsedDegradationDpf = ordered(PolicyType.LeastUsedDegradationDpf, 'LeastUsedDegradationDPF', (e) => e.degradation, true);
export const priorityLeastUsedDpf = ordered(
  PolicyType.PriorityLeastUsedDpf,
  'PriorityLeastUsedDPF',
  (e) => e.policy.loadDegradation,
  false,
);
export const priorityLeastUsedDegradationDpf = ordered(
  PolicyType.PriorityLeastUsedDegradationDpf,
  'PriorityLeastUsedDegradationDPF',
  (e) => e.policy.loadDegradation + e.degradation,
  true,
);

export const distancePenaltyFamily = [
  weightedRandomDpf,
  leastUsedDpf,
  leastUsedDegradationDpf,
  priorityLeastUsedDpf,
  priorityLeastUsedDegradationDpf,
] as const;
