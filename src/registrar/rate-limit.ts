// Per-association token buckets for the ASAP requests a client can send as fast as it likes
// (RFC 5355 §6: a registrar must survive a client flooding it). The I/O thread charges each
// REGISTRATION/DEREGISTRATION, HANDLE_RESOLUTION and ENDPOINT_UNREACHABLE to its association's
// bucket before the message reaches a shard; an empty bucket means the message is dropped and
// counted. Each bucket refills at `rate` per second and holds one second's worth (a burst of
// `rate` after a quiet second). Time comes from an injected clock, so tests run in virtual time.
import { AsapType } from '../wire/constants.js';

/** Milliseconds, monotonic (performance.now in the registrar, a counter in tests). */
export type Clock = () => number;

/** One token bucket: `rate` tokens per second, at most `capacity` (default: one second's worth) held; rate 0 = unlimited. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;

  constructor(
    private readonly rate: number,
    private readonly clock: Clock,
    capacity = rate,
  ) {
    this.capacity = Math.max(rate, capacity);
    this.tokens = this.capacity;
    this.last = clock();
  }

  /** Takes one token; false when there is none (the caller drops the message). */
  take(): boolean {
    if (this.rate <= 0) return true;
    const now = this.clock();
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The rated kinds of ASAP request, as the stats name them. */
export type RatedKind = 'registrations' | 'resolutions' | 'unreachableReports';

/** Which bucket an ASAP message type is charged to, or null for types that are not rated. */
export function ratedKind(type: number | undefined): RatedKind | null {
  switch (type) {
    case AsapType.Registration:
    case AsapType.Deregistration:
      return 'registrations';
    case AsapType.HandleResolution:
      return 'resolutions';
    case AsapType.EndpointUnreachable:
      return 'unreachableReports';
    default:
      return null;
  }
}

export interface AssociationRateSettings {
  registrationRate: number;
  /**
   * PEs an association may hold: its registration bucket holds at least this many, so that an
   * association may (re-)register everything it is allowed at once (a PE proxy reconnecting).
   */
  maxElementsPerAssociation?: number;
  resolutionRate: number;
  unreachableReportRate: number;
}

/** Messages dropped over the rates, per kind. */
export type RateLimitCounters = Record<RatedKind, number>;

/** A drop the caller should log: the first after `logInterval` of quiet, with what was dropped unlogged since. */
export interface DropNotice {
  kind: RatedKind;
  /** Drops of this association since its last logged one, this one included. */
  dropped: number;
}

/** How often at most one association's drops are logged, ms. */
export const RATE_LOG_INTERVAL = 10_000;

/** One association's three buckets, created lazily (most associations send one kind only). */
export class AssociationRates {
  private registration: TokenBucket | null = null;
  private resolution: TokenBucket | null = null;
  private report: TokenBucket | null = null;
  private unlogged = 0;
  private lastLog = -Infinity;

  constructor(
    private readonly settings: AssociationRateSettings,
    private readonly clock: Clock,
    private readonly counters: RateLimitCounters,
    /** Receives what to log, at most once per RATE_LOG_INTERVAL. */
    private readonly notice: (n: DropNotice) => void,
  ) {}

  /** Charges a message of rated kind `kind`. True: pass it on. False: dropped and counted. */
  admit(kind: RatedKind): boolean {
    if (this.bucket(kind).take()) return true;
    this.counters[kind]++;
    this.unlogged++;
    const now = this.clock();
    if (now - this.lastLog >= RATE_LOG_INTERVAL) {
      this.lastLog = now;
      this.notice({ kind, dropped: this.unlogged });
      this.unlogged = 0;
    }
    return false;
  }

  private bucket(kind: RatedKind): TokenBucket {
    const s = this.settings;
    switch (kind) {
      case 'registrations':
        return (this.registration ??= new TokenBucket(s.registrationRate, this.clock, s.maxElementsPerAssociation));
      case 'resolutions':
        return (this.resolution ??= new TokenBucket(s.resolutionRate, this.clock));
      case 'unreachableReports':
        return (this.report ??= new TokenBucket(s.unreachableReportRate, this.clock));
    }
  }
}
