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

/** A policy's definition by its name (RSPLIB spelling, case-insensitive), for tools. */
export function policyByName(name: string): PolicyDefinition | undefined {
  const lower = name.toLowerCase();
  for (const d of definitions.values()) if (d.name.toLowerCase() === lower) return d;
  return undefined;
}

/** A new, empty selection structure for a pool of the given policy type; undefined if unknown. */
export function createSelection(type: number, options: SelectionOptions = {}): Selection | undefined {
  const definition = definitions.get(type >>> 0);
  if (definition === undefined) return undefined;
  if (definition.kind === 'weighted') return new WeightedSelection(definition, options);
  return definition.sequenceOnly === true ? new SequenceSelection(definition) : new OrderedSelection(definition);
}
