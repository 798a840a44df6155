// The values a Pool Member Selection Policy parameter carries (RFC 5354 §3.8, RFC 5356 §4-5,
// and RSPLIB's extension codes). Shared by the wire codec and the policy engine.
import { PolicyType } from './constants.js';

/**
 * A pool element's policy and its values. Every field is always present (0 when the policy
 * type does not carry it), so that every PolicySettings object has one shape.
 * Load, load degradation, load DPF and weight DPF are 32-bit fractions of 0xFFFFFFFF.
 */
export interface PolicySettings {
  type: number;
  weight: number;
  priority: number;
  load: number;
  loadDegradation: number;
  loadDpf: number;
  weightDpf: number;
  /** Distance in milliseconds (DPF policies, RSPLIB). */
  distance: number;
  /** Value bytes after the type field of a policy type this code does not know; else null. */
  raw: Uint8Array | null;
}

export type PolicyField = 'weight' | 'priority' | 'load' | 'loadDegradation' | 'loadDpf' | 'weightDpf' | 'distance';

/** The 32-bit fields each known policy type carries after its type field, in wire order. */
export const policyFields: ReadonlyMap<number, readonly PolicyField[]> = new Map<number, readonly PolicyField[]>([
  [PolicyType.RoundRobin, []],
  [PolicyType.WeightedRoundRobin, ['weight']],
  [PolicyType.Random, []],
  [PolicyType.WeightedRandom, ['weight']],
  [PolicyType.Priority, ['priority']],
  [PolicyType.LeastUsed, ['load']],
  [PolicyType.LeastUsedDegradation, ['load', 'loadDegradation']],
  [PolicyType.PriorityLeastUsed, ['load', 'loadDegradation']],
  [PolicyType.RandomizedLeastUsed, ['load']],
  [PolicyType.RandomizedPriorityLeastUsed, ['load', 'loadDegradation']],
  [PolicyType.RandomizedLeastUsedDegradation, ['load', 'loadDegradation']],
  [PolicyType.PriorityLeastUsedDegradation, ['load', 'loadDegradation']],
  [PolicyType.RandomizedPriorityLeastUsedDegradation, ['load', 'loadDegradation']],
  [PolicyType.WeightedRandomDpf, ['weight', 'weightDpf', 'distance']],
  [PolicyType.LeastUsedDpf, ['load', 'loadDpf', 'distance']],
  [PolicyType.LeastUsedDegradationDpf, ['load', 'loadDegradation', 'loadDpf', 'distance']],
  [PolicyType.PriorityLeastUsedDpf, ['load', 'loadDegradation', 'loadDpf', 'distance']],
  [PolicyType.PriorityLeastUsedDegradationDpf, ['load', 'loadDegradation', 'loadDpf', 'distance']],
]);

/** A PolicySettings of the given type, every value field 0 unless given. */
export function policySettings(type: number, values: Partial<Omit<PolicySettings, 'type'>> = {}): PolicySettings {
  return {
    type,
    weight: values.weight ?? 0,
    priority: values.priority ?? 0,
    load: values.load ?? 0,
    loadDegradation: values.loadDegradation ?? 0,
    loadDpf: values.loadDpf ?? 0,
    weightDpf: values.weightDpf ?? 0,
    distance: values.distance ?? 0,
    raw: values.raw ?? null,
  };
}
