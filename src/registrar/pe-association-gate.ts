// Associations the registrar starts towards PEs' ASAP transports (keep-alives with the H bit
// after a takeover, a warm restart or a takeover suggestion: RFC 5353 §3.5.2, RFC 5352 §3.4):
// one per distinct address:port. Their number and the rate at which they are started are
// limited (--max-pe-associations, --pe-association-rate): a hostile peer that hands us 100,000
// PEs with distinct ASAP transports must not make us send 100,000 INITs. Beyond the rate the
// first message to an endpoint waits (in arrival order) until the rate allows its INIT; beyond
// the number it is refused. A PE whose keep-alive is refused or waits too long does not answer
// within the keep-alive timeout and is removed like any unreachable PE (RFC 5352 §3.5).
import type { Scheduler } from '../handlespace/timer-schedule.js';

export interface PeAssociationLimits {
  /** Associations started towards PEs that may be open (or waiting to be started) at a time. */
  maxPeAssociations: number;
  /** Associations started towards PEs per second (a token bucket of one second's burst). */
  peAssociationRate: number;
}

export interface PeAssociationCounters {
  /** Associations started. */
  started: number;
  /** First messages that waited for the rate. */
  delayed: number;
  /** Messages refused: the number of associations or of waiting messages was at its limit. */
  refused: number;
}

/**
 * Decides when an association to a PE endpoint is started. `open()`: associations started
 * towards PEs that are still up; `start(key, messages)`: starts one and sends the messages.
 */
export class PeAssociationGate {
  readonly counters: PeAssociationCounters = { started: 0, delayed: 0, refused: 0 };
  private readonly waiting = new Map<string, Uint8Array[]>();
  private waitingMessages = 0;
  private tokens: number;
  private last: number;
  private wakeup: unknown = null;

  constructor(
    private readonly limits: PeAssociationLimits,
    private readonly scheduler: Scheduler,
    private readonly open: () => number,
    private readonly start: (key: string, messages: Uint8Array[]) => void,
  ) {
    this.tokens = limits.peAssociationRate;
    this.last = scheduler.now();
  }

  /** Endpoints waiting for their INIT. */
  get waitingEndpoints(): number {
    return this.waiting.size;
  }

  /** `message` for the endpoint `key`, with which no association is up. */
  send(key: string, message: Uint8Array): void {
    const queued = this.waiting.get(key);
    if (queued !== undefined) {
      // Several PEs of one endpoint: bounded by the waiting endpoints' share of the handlespace.
      if (this.waitingMessages >= this.limits.maxPeAssociations * 16) {
        this.counters.refused++;
        return;
      }
      queued.push(message);
      this.waitingMessages++;
      return;
    }
    if (this.open() + this.waiting.size >= this.limits.maxPeAssociations) {
      this.counters.refused++;
      return;
    }
    this.refill();
    if (this.waiting.size === 0 && this.tokens >= 1) {
      this.tokens--;
      this.counters.started++;
      this.start(key, [message]);
      return;
    }
    this.counters.delayed++;
    this.waiting.set(key, [message]);
    this.waitingMessages++;
    this.arm();
  }

  /** Stops the wake-up; waiting messages are dropped. */
  close(): void {
    if (this.wakeup !== null) this.scheduler.cancel(this.wakeup);
    this.wakeup = null;
    this.waiting.clear();
    this.waitingMessages = 0;
  }

  private refill(): void {
    const now = this.scheduler.now();
    const rate = this.limits.peAssociationRate;
    this.tokens = Math.min(rate, this.tokens + ((now - this.last) * rate) / 1000);
    this.last = now;
  }

  private arm(): void {
    if (this.wakeup !== null || this.waiting.size === 0) return;
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.limits.peAssociationRate));
    this.wakeup = this.scheduler.schedule(this.scheduler.now() + wait, () => {
      this.wakeup = null;
      this.drain();
    });
  }

  private drain(): void {
    this.refill();
    for (const [key, messages] of this.waiting) {
      if (this.tokens < 1) break;
      this.waiting.delete(key);
      this.waitingMessages -= messages.length;
      this.tokens--;
      this.counters.started++;
      this.start(key, messages);
    }
    this.arm();
  }
}
