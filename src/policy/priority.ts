// Priority (RFC 5356 §4.5): highest priority first, reported in decreasing order; equal
// priorities rotate by sequence number.
import { PolicyType } from '../wire/constants.js';
import type { OrderedPolicyDefinition } from './policy.js';

export const priority: OrderedPolicyDefinition = {
  kind: 'ordered',
  type: PolicyType.Priority,
  name: 'Priority',
  defaultMaxIncrement: 1,
  key: (entry) => -entry.policy.priority,
};

export const priorityFamily = [priority] as const;
