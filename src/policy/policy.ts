// The contract between the policy engine and the data it orders (RFC 5356 §3-5).
// A policy is a definition (how to order or weigh one pool element); a Selection is the
// per-pool structure that applies it. The handlespace's pool element implements PolicyEntry.
import type { PolicySettings } from '../wire/policy-settings.js';

/** The per-element state a selection keeps inside the element (no side tables). */
export interface PolicyEntry {
  policy: PolicySettings;
  /** Position inside the pool's selection structure; -1 while not linked. */
  selectionIndex: number;
  /** Per-pool sequence number: ties between equal keys rotate by it (RFC 5356 §4.1.2, §5.1.2). */
  sequence: number;
  /** Least Used with Degradation counter, as a load fraction (RFC 5356 §5.2.2). */
  degradation: number;
  /** Weighted Round Robin: the round the element is in, and picks left in that round. */
  roundCounter: number;
  virtualCounter: number;
  /** Cached order key (ordered policies) or selection value (random policies). */
  selectionKey: number;
  /** Secondary order key (Weighted Round Robin's picks left); 0 elsewhere. */
  selectionKey2: number;
  /** Neighbours in a sequence-ordered list (Round Robin); null elsewhere. */
  selectionPrev: PolicyEntry | null;
  selectionNext: PolicyEntry | null;
}

/** Random numbers in [0, 1). Injectable so tests are reproducible. */
export type RandomSource = () => number;

interface PolicyDefinitionBase {
  readonly type: number;
  readonly name: string;
  /** How many of the selected elements get a new sequence number and their update. */
  readonly defaultMaxIncrement: number;
  /** Called when an element joins a pool (before it is linked). */
  initialize?(entry: PolicyEntry, selection: Selection): void;
  /** Called for each of the first max-increment selected elements (degradation, WRR counters). */
  update?(entry: PolicyEntry): void;
}

/** Picks the first n elements by (key, key2, sequence), ascending. */
export interface OrderedPolicyDefinition extends PolicyDefinitionBase {
  readonly kind: 'ordered';
  key(entry: PolicyEntry): number;
  key2?(entry: PolicyEntry): number;
  /** The order is the sequence number alone: a circular list does it in O(1) (RFC 5356 §4.1.2). */
  readonly sequenceOnly?: boolean;
}

/** Picks n distinct elements at random, each with probability proportional to value(). */
export interface WeightedPolicyDefinition extends PolicyDefinitionBase {
  readonly kind: 'weighted';
  /** A non-negative integer below 2^32. */
  value(entry: PolicyEntry): number;
}

export type PolicyDefinition = OrderedPolicyDefinition | WeightedPolicyDefinition;

/** The pool's selection structure. */
export interface Selection {
  readonly definition: PolicyDefinition;
  readonly size: number;
  add(entry: PolicyEntry): void;
  remove(entry: PolicyEntry): void;
  /** The entry's policy values changed (re-registration): resets its degradation (RFC 5356 §5.2.2). */
  update(entry: PolicyEntry): void;
  /**
   * Handle resolution: appends up to n distinct entries to out and returns how many.
   * maxIncrement 0 means the policy's default.
   */
  select(out: PolicyEntry[], n: number, maxIncrement?: number): number;
  /** The first entry in selection order (ordered) or any entry, for tests and dumps. */
  entries(): IterableIterator<PolicyEntry>;
  /** Lowest round counter in the pool (Weighted Round Robin joins new elements there). */
  currentRound(): number;
}

export interface SelectionOptions {
  random?: RandomSource;
}

/** Adds two load terms, capped at the full load (RSPLIB saturates instead of wrapping). */
export function loadSum(a: number, b: number, c = 0): number {
  const v = a + b + c;
  return v > 0xffffffff ? 0xffffffff : v;
}
