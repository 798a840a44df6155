// Policy registry: policy type code -> definition. Adding a policy is adding a module that
// exports a definition and listing it here.
import { distancePenaltyFamily } from './distance-penalty.js';
import { leastUsedFamily } from './least-used.js';
import { OrderedSelection } from './ordered-selection.js';
import type { PolicyDefinition, Selection, SelectionOptions } from './policy.js';
import { priorityFamily } from './priority.js';
import { randomFamily } from './random.js';
import { randomizedLeastUsedFamily } from './randomized-least-used.js';
import { roundRobinFamily } from './round-robin.js';
import { SequenceSelection } from './sequence-selection.js';
import { WeightedSelection } from './weighted-selection.js';
import { PolicyType } from '../wire/constants.js';

const definitions = new Map<number, PolicyDefinition>();

/** Makes a policy type known; a later definition of the same code replaces the earlier one. */
export function registerPolicy(definition: PolicyDefinition): void {
  definitions.set(definition.type >>> 0, definition);
}

for (const family of [
  roundRobinFamily,
  priorityFamily,
  leastUsedFamily,
  randomFamily,
  randomizedLeastUsedFamily,
  distancePenaltyFamily,
]) {
  for (const definition of family) registerPolicy(definition);
}

/** The definition of a policy type code, or undefined if this engine does not implement it. */
export function policyDefinition(type: number): PolicyDefinition | undefined {
  return definitions.get(type >>> 0);
}

/** Every known policy, in registration order. */
export function knownPolicies(): IterableIterator<PolicyDefinition> {
  return definitions.values();
}

/** RFC 5356's short names (§4-5: RR, WRR, RAND, WRAND, PRIO, LU, LUD, PLU, RLU). */
const ABBREVIATIONS: ReadonlyMap<string, number> = new Map([
  ['rr', PolicyType.RoundRobin],
  ['wrr', PolicyType.WeightedRoundRobin],
  ['rand', PolicyType.Random],
  ['wrand', PolicyType.WeightedRandom],
  ['prio', PolicyType.Priority],
  ['lu', PolicyType.LeastUsed],
  ['lud', PolicyType.LeastUsedDegradation],
  ['plu', PolicyType.PriorityLeastUsed],
  ['rlu', PolicyType.RandomizedLeastUsed],
]);

/**
 * A policy's definition by name, for tools: its RSPLIB spelling or RFC 5356 short name, any
 * case, dashes, underscores and spaces ignored ("round-robin", "RoundRobin", "rr").
 */
export function policyByName(name: string): PolicyDefinition | undefined {
  const key = name.toLowerCase().replace(/[-_ ]/g, '');
  const abbreviated = ABBREVIATIONS.get(key);
  if (abbreviated !== undefined) return definitions.get(abbreviated);
  for (const d of definitions.values()) if (d.name.toLowerCase() === key) return d;
  return undefined;
}

/** A new, empty selection structure for a pool of the given policy type; undefined if unknown. */
export function createSelection(type: number, options: SelectionOptions = {}): Selection | undefined {
  const definition = definitions.get(type >>> 0);
  if (definition === undefined) return undefined;
  if (definition.kind === 'weighted') return new WeightedSelection(definition, options);
  return definition.sequenceOnly === true ? new SequenceSelection(definition) : new OrderedSelection(definition);
}
