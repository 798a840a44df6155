export type {
  OrderedPolicyDefinition,
  PolicyDefinition,
  PolicyEntry,
  RandomSource,
  Selection,
  SelectionOptions,
  WeightedPolicyDefinition,
} from './policy.js';
export { loadSum } from './policy.js';
export { createSelection, knownPolicies, policyByName, policyDefinition, registerPolicy } from './registry.js';
export { OrderedSelection } from './ordered-selection.js';
export { WeightedSelection } from './weighted-selection.js';
export { SequenceSelection } from './sequence-selection.js';
export { seededRandom } from './random-source.js';
export { dpfDistance } from './distance-penalty.js';
