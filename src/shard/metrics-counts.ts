// Counts behind /metrics (src/registrar/metrics.ts) kept on the hot paths, on the I/O thread
// and in the shards (so this lives in src/shard/, which imports nothing of src/registrar/): each count is an increment into a preallocated typed array
// indexed by a byte of the message, so counting a message allocates nothing. Labels are made
// at scrape time only, from bounded tables: the known message types and causes by name,
// everything else under one "unknown" (a hostile peer sending every type byte adds no label).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { AsapType, Cause, EnrpType, PolicyType } from '../wire/constants.js';

/** Messages by their type byte (the first byte of ASAP and ENRP messages, RFC 5352 §2.1, RFC 5353 §2). */
export class MessageTypeCounts {
  readonly byType = new Float64Array(256);

  /** Counts one message (its first byte is its type; an empty one counts as type 0). */
  count(message: Uint8Array): void {
    this.byType[message.length > 0 ? message[0]! : 0]++;
  }

  countType(type: number): void {
    this.byType[type & 0xff]++;
  }
}

/** Operation Error causes (RFC 5354 §3.12) by code; codes past the table count in the last slot. */
export const CAUSE_SLOTS = 16;

export class CauseCounts {
  readonly byCause = new Float64Array(CAUSE_SLOTS);

  count(cause: number): void {
    this.byCause[cause >= 0 && cause < CAUSE_SLOTS - 1 ? cause : CAUSE_SLOTS - 1]++;
  }
}

/** Policies by their index in POLICY_NAMES; an unknown policy (or an unknown pool) its own slot. */
const POLICY_INDEX = new Map<number, number>();
/** Metric label of each policy (RFC 5356 names, lower case with dashes), then the extra slots. */
export const POLICY_LABELS: readonly string[] = (() => {
  const labels: string[] = [];
  for (const [name, type] of Object.entries(PolicyType)) {
    POLICY_INDEX.set(type, labels.length);
    labels.push(name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase());
  }
  labels.push('unknown-pool', 'other');
  return labels;
})();
const UNKNOWN_POOL_SLOT = POLICY_LABELS.length - 2;
const OTHER_POLICY_SLOT = POLICY_LABELS.length - 1;

/** Handle resolutions by the pool's policy (no pool: "unknown-pool"). */
export class PolicyCounts {
  readonly byPolicy = new Float64Array(POLICY_LABELS.length);

  /** `policyType` null: the pool is not known. */
  count(policyType: number | null): void {
    this.byPolicy[policyType === null ? UNKNOWN_POOL_SLOT : (POLICY_INDEX.get(policyType >>> 0) ?? OTHER_POLICY_SLOT)]++;
  }
}

/**
 * Pools and PEs by policy slot (RFC 5525 rserpoolENRPPolicyID, summed): one pass over the
 * pools, not over the PEs.
 */
export function policyCensus(pools: Iterable<{ policyType: number; elements: { size: number } }>): { poolsByPolicy: number[]; elementsByPolicy: number[] } {
  const poolsByPolicy = new Array<number>(POLICY_LABELS.length).fill(0);
  const elementsByPolicy = new Array<number>(POLICY_LABELS.length).fill(0);
  for (const pool of pools) {
    const slot = POLICY_INDEX.get(pool.policyType >>> 0) ?? OTHER_POLICY_SLOT;
    poolsByPolicy[slot]!++;
    elementsByPolicy[slot]! += pool.elements.size;
  }
  return { poolsByPolicy, elementsByPolicy };
}

/** Shard batch sizes (records per batch): count, sum and the largest since the last report. */
export class BatchSizes {
  batches = 0;
  records = 0;
  max = 0;

  add(records: number): void {
    this.batches++;
    this.records += records;
    if (records > this.max) this.max = records;
  }
}

/** A thread's event-loop delay, sampled by Node (perf_hooks), in milliseconds since the last report. */
export interface EventLoopDelay {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Samples this thread's event-loop delay; `report()` returns and resets the figures. */
export class EventLoopDelayMonitor {
  private readonly histogram: IntervalHistogram;

  constructor(resolutionMs = 10) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.histogram.enable();
  }

  /** The figures since the last reset; `reset` starts a new window (a scrape does; the dashboard's samples do not). */
  report(reset = true): EventLoopDelay {
    const h = this.histogram;
    const ms = (ns: number): number => (Number.isFinite(ns) ? ns / 1e6 : 0);
    const figures = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) };
    if (reset) h.reset();
    return figures;
  }

  close(): void {
    this.histogram.disable();
  }
}

/** What a shard reports with its stats (src/shard/worker.ts), merged on the I/O thread. */
export interface ShardMetrics {
  /** ASAP Operation Error causes this shard sent (ASAP_ERROR and rejecting responses), by code slot. */
  causesSent: number[];
  /** Handle resolutions by policy slot (POLICY_LABELS). */
  resolutionsByPolicy: number[];
  /** ASAP messages this shard has taken from its batches since it started. */
  asapProcessed: number;
  batches: number;
  batchRecords: number;
  /** The largest batch since the last report. */
  batchMax: number;
  eventLoopDelay: EventLoopDelay;
  /** Pools and their PEs by policy slot (policyCensus). */
  poolsByPolicy: number[];
  elementsByPolicy: number[];
}

/** Label of an ASAP message type: its RFC 5352 name in snake case, or "unknown". */
export const ASAP_TYPE_LABELS = typeLabels(AsapType);
/** Label of an ENRP message type: its RFC 5353 name in snake case, or "unknown". */
export const ENRP_TYPE_LABELS = typeLabels(EnrpType);
/** Label of a cause slot: its RFC 5354 name, the last slot "other". */
export const CAUSE_LABELS: readonly string[] = (() => {
  const labels = new Array<string>(CAUSE_SLOTS).fill('other');
  for (const [name, code] of Object.entries(Cause)) if (code < CAUSE_SLOTS - 1) labels[code] = snake(name);
  return labels;
})();

function snake(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

function typeLabels(types: Record<string, number>): Map<number, string> {
  const m = new Map<number, string>();
  for (const [name, type] of Object.entries(types)) m.set(type, snake(name));
  return m;
}

/**
 * Folds counts by type byte into counts by bounded label: each known type by name (0 too),
 * all others summed under "unknown".
 */
export function byLabel(counts: ArrayLike<number>, labels: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of labels.values()) out[name] = 0;
  out.unknown = 0;
  for (let t = 0; t < counts.length; t++) {
    const n = counts[t]!;
    if (n === 0) continue;
    const name = labels.get(t) ?? 'unknown';
    out[name] = (out[name] ?? 0) + n;
  }
  return out;
}
