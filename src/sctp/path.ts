// One destination transport address of the peer (RFC 9260 §6.4): its RTO (§6.3), its
// congestion control variables (§7.2) and its reachability (§8.2). Outbound keeps the T3-rtx
// timer of each path in `t3`; the association keeps the heartbeat and path selection.

import type { Clock, TimerHandle } from './clock.js';
import type { PeerTransport } from './lower-layer.js';

export interface PathOptions {
  rtoInitial: number;
  rtoMin: number;
  rtoMax: number;
  mtu: number;
  pathMaxRetrans: number;
}

/** RTO.Alpha and RTO.Beta (RFC 9260 §15). */
const RTO_ALPHA = 1 / 8;
const RTO_BETA = 1 / 4;
/** Clock granularity G in ms (RFC 9260 §6.3.1 G1). */
const CLOCK_GRANULARITY = 1;

/** Initial cwnd, RFC 9260 §7.2.1: min(4*MTU, max(2*MTU, 4380)). */
export function initialCwnd(mtu: number): number {
  return Math.min(4 * mtu, Math.max(2 * mtu, 4380));
}

export class Path {
  rto: number;
  srtt: number | undefined = undefined;
  rttvar: number | undefined = undefined;
  cwnd: number;
  /** "MAY be arbitrarily high" (§7.2.1): Outbound lowers it to the peer's a_rwnd. */
  ssthresh = 0x7fffffff;
  partialBytesAcked = 0;
  /** Bytes of DATA outstanding on this path (sent, not acked, not marked for retransmission). */
  flightSize = 0;
  mtu: number;
  errorCount = 0;
  active = true;
  confirmed = false;
  /** clock.now() of the last DATA sent on this path (§7.2.1 idle rule). */
  lastSent: number;
  // Outbound's bookkeeping for this path (not part of the contract; read-only elsewhere):
  /** T3-rtx (§6.3.2): when it expires, undefined when not running. The clock timer behind it
   *  (`t3`, due at `t3Due`) is re-armed lazily, so a restart per SACK arms no new timer. */
  t3Deadline: number | undefined = undefined;
  t3: TimerHandle | undefined = undefined;
  t3Due = 0;
  /** DATA chunks last sent here and not yet acknowledged (includes those marked for retransmission). */
  outstandingChunks = 0;
  /** The TSN being timed for an RTT measurement (§6.3.1 C4, C5), or undefined. */
  timedTsn: number | undefined = undefined;
  timedAt = 0;
  /** Scratch for one SACK: bytes newly acked here and flightSize before the SACK (§7.2.1, §7.2.2). */
  sackBytesAcked = 0;
  sackFlightBefore = 0;
  #idleCheckedAt = -Infinity;
  readonly #options: PathOptions;
  readonly #clock: Clock;

  constructor(
    readonly peer: PeerTransport,
    options: PathOptions,
    clock: Clock,
  ) {
    this.#options = options;
    this.#clock = clock;
    this.rto = options.rtoInitial; // C1
    this.mtu = options.mtu;
    this.cwnd = initialCwnd(options.mtu);
    this.lastSent = clock.now();
  }

  get clock(): Clock {
    return this.#clock;
  }

  get pathMaxRetrans(): number {
    return this.#options.pathMaxRetrans;
  }

  /** RTT measurement (RFC 9260 §6.3.1 C2, C3, G1, C6, C7). */
  measureRtt(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    if (this.srtt === undefined || this.rttvar === undefined) {
      this.srtt = rttMs; // C2
      this.rttvar = rttMs / 2;
    } else {
      // C3: RTTVAR uses SRTT before its own update
      this.rttvar = (1 - RTO_BETA) * this.rttvar + RTO_BETA * Math.abs(this.srtt - rttMs);
      this.srtt = (1 - RTO_ALPHA) * this.srtt + RTO_ALPHA * rttMs;
    }
    if (this.rttvar === 0) this.rttvar = CLOCK_GRANULARITY; // G1
    this.rto = this.#clamp(this.srtt + 4 * this.rttvar);
  }

  /** T3-rtx (or HEARTBEAT) expired: RTO doubles up to RTO.Max (§6.3.3 E2). */
  backOff(): void {
    this.rto = this.#clamp(this.rto * 2);
  }

  /** §8.2: returns true when this error made the path inactive (errorCount > Path.Max.Retrans). */
  countError(): boolean {
    this.errorCount++;
    if (this.active && this.errorCount > this.#options.pathMaxRetrans) {
      this.active = false;
      return true;
    }
    return false;
  }

  /** An acknowledgement or HEARTBEAT-ACK for this path (§8.2, §8.3): errorCount = 0, active. */
  confirmReachable(): void {
    this.errorCount = 0;
    this.active = true;
  }

  /** §7.2.1: after an idle period cwnd decays to max(cwnd/2, 4*MTU) per RTO without data sent. */
  decayIdleCwnd(now: number): void {
    if (this.flightSize > 0) return;
    const since = Math.max(this.lastSent, this.#idleCheckedAt);
    if (now - since <= this.rto) return;
    const floor = 4 * this.mtu;
    let periods = Math.floor((now - since) / this.rto);
    while (periods-- > 0 && this.cwnd > floor) this.cwnd = Math.max(Math.floor(this.cwnd / 2), floor);
    this.#idleCheckedAt = now;
  }

  // C6, C7
  #clamp(rto: number): number {
    return Math.min(Math.max(rto, this.#options.rtoMin), this.#options.rtoMax);
  }
}
