// Timers and thresholds of an ASAP endpoint (RFC 5352 §7), in milliseconds. Every value is
// configurable so tests and benchmarks can run with short ones.

export interface AsapTimers {
  /** T1-ENRPrequest: handle resolution answer timeout (RFC 5352 §7.1: 15 s). */
  t1EnrpRequest: number;
  /** T2-registration (§7.1: 30 s). */
  t2Registration: number;
  /** T3-deregistration (§7.1: 30 s). */
  t3Deregistration: number;
  /** T5-Serverhunt initial value (§7.1: 10 s); doubled on each expiry up to `retranMax`. */
  t5ServerHunt: number;
  /** T7-ENRPoutdate: how long an announced registrar stays known (§7.1: 5 s). */
  t7EnrpOutdate: number;
  /** RETRAN-MAX: ceiling of the T5 backoff (§7.3: 60 s). */
  retranMax: number;
  /** MAX-REQUEST-RETRANSMIT: retransmissions of a handle resolution (§7.3: 2). */
  maxRequestRetransmit: number;
  /** MAX-REG-ATTEMPT: sends of a (de)registration before the home is given up (§7.3: 2). */
  maxRegAttempt: number;
}

export const DEFAULT_ASAP_TIMERS: Readonly<AsapTimers> = Object.freeze({
  t1EnrpRequest: 15_000,
  t2Registration: 30_000,
  t3Deregistration: 30_000,
  t5ServerHunt: 10_000,
  t7EnrpOutdate: 5_000,
  retranMax: 60_000,
  maxRequestRetransmit: 2,
  maxRegAttempt: 2,
});

export function asapTimers(overrides: Partial<AsapTimers> = {}): AsapTimers {
  return { ...DEFAULT_ASAP_TIMERS, ...overrides };
}

/**
 * T4-reregistration for a registration life (RFC 5352 §7.1): 10 minutes or 20 s less than
 * the life, whichever is less. Lives of 40 s and under (tests) re-register at half the life
 * so that the registration never lapses.
 */
export function reregistrationInterval(registrationLifeMs: number): number {
  const margin = registrationLifeMs > 40_000 ? registrationLifeMs - 20_000 : registrationLifeMs / 2;
  return Math.max(1, Math.min(600_000, Math.floor(margin)));
}

/**
 * stale_cache_value (RFC 5352 §7.2) default. The RFC gives no number; 5 s keeps a PU's view
 * of a pool as fresh as T7-ENRPoutdate keeps its view of the registrars.
 */
export const DEFAULT_STALE_CACHE_VALUE = 5_000;
