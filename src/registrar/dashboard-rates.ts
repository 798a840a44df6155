// Message rates for the live dashboard (src/registrar/dashboard.ts): the registrar's counters
// (monotonic since start, ControlCounters) sampled on each dashboard update; the rates are the
// differences between consecutive samples. The history holds the last `windowMs` (5 minutes),
// so its size is bounded by window / update interval, and the counters' label sets are
// bounded (message types by name, the rest "unknown"), so each sample is too.
import type { ControlCounters } from './control.js';

/** How far back the dashboard draws message rates, ms. */
export const RATE_WINDOW_MS = 5 * 60_000;
/** The per-type table averages over this much of the history, ms. */
export const RATE_TABLE_SPAN_MS = 60_000;

/** One point of the rates chart: messages per second over the interval that ends at `t`. */
export interface RatePoint {
  /** End of the interval, ms since the epoch. */
  t: number;
  asapIn: number;
  asapOut: number;
  enrpIn: number;
  enrpOut: number;
}

/** One row of the per-type table: messages per second over the last RATE_TABLE_SPAN_MS. */
export interface TypeRate {
  protocol: 'ASAP' | 'ENRP';
  direction: 'in' | 'out';
  type: string;
  perSecond: number;
  total: number;
}

export interface RatesView {
  windowMs: number;
  points: RatePoint[];
  byType: TypeRate[];
  /** Counts since start that are not per message type. */
  totals: { keepAliveTimeouts: number; unreachableReports: number; takeovers: number; mentorSyncs: number };
}

interface Sample {
  t: number;
  counters: ControlCounters;
}

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
const CHANNELS = [
  ['ASAP', 'in', 'asapReceived'],
  ['ASAP', 'out', 'asapSent'],
  ['ENRP', 'in', 'enrpReceived'],
  ['ENRP', 'out', 'enrpSent'],
] as const;

export class RateHistory {
  private samples: Sample[] = [];

  constructor(private readonly windowMs = RATE_WINDOW_MS) {}

  /** Adds the counters as read at `t` (ms); samples older than the window are let go. */
  add(t: number, counters: ControlCounters): void {
    const last = this.samples[this.samples.length - 1];
    // A clock that went back, or a registrar whose counters restarted: start over.
    if (last !== undefined && (t <= last.t || sum(counters.asapReceived) < sum(last.counters.asapReceived))) this.samples = [];
    this.samples.push({ t, counters });
    // Keep one sample at or beyond the window's start, so the first point spans into it.
    while (this.samples.length > 2 && this.samples[1]!.t <= t - this.windowMs) this.samples.shift();
  }

  /** Forgets every sample (no one watched for a while: the next rates must not span the gap). */
  clear(): void {
    this.samples = [];
  }

  get size(): number {
    return this.samples.length;
  }

  view(): RatesView {
    const points: RatePoint[] = [];
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1]!;
      const b = this.samples[i]!;
      const seconds = (b.t - a.t) / 1000;
      const rate = (key: (typeof CHANNELS)[number][2]): number => round((sum(b.counters[key]) - sum(a.counters[key])) / seconds);
      points.push({ t: b.t, asapIn: rate('asapReceived'), asapOut: rate('asapSent'), enrpIn: rate('enrpReceived'), enrpOut: rate('enrpSent') });
    }
    const last = this.samples[this.samples.length - 1];
    const byType: TypeRate[] = [];
    if (last !== undefined) {
      // The oldest sample within the table's span (or the oldest there is).
      const first = this.samples.find((s) => s.t >= last.t - RATE_TABLE_SPAN_MS - 1) ?? last;
      const seconds = (last.t - first.t) / 1000;
      for (const [protocol, direction, key] of CHANNELS) {
        for (const [type, total] of Object.entries(last.counters[key])) {
          if (total === 0) continue;
          const before = first.counters[key][type] ?? 0;
          byType.push({ protocol, direction, type, total, perSecond: seconds > 0 ? round((total - before) / seconds) : 0 });
        }
      }
      byType.sort((x, y) => y.perSecond - x.perSecond || y.total - x.total);
    }
    const c = last?.counters;
    return {
      windowMs: this.windowMs,
      points,
      byType,
      totals: {
        keepAliveTimeouts: c?.keepAliveTimeouts ?? 0,
        unreachableReports: c?.unreachableReports ?? 0,
        takeovers: c?.takeovers ?? 0,
        mentorSyncs: c?.mentorSyncs ?? 0,
      },
    };
  }
}

/** Two decimals: rates of a few messages per second stay readable, large ones exact enough. */
function round(x: number): number {
  return Math.round(x * 100) / 100;
}
