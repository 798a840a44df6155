// The ENRP Server Hunt (RFC 5352 §3.6 SH1-SH6): associate with up to three known
// registrars at once; the first association that comes up becomes the home registrar and the
// others are abandoned. T5-Serverhunt bounds each round and doubles after each expiry, capped
// at RETRAN-MAX; a successful round resets it.
import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type TimerHandle } from '../sctp/clock.js';
import type { Association, SctpEndpoint } from '../transport/sctp-provider.js';
import type { KnownRegistrar, RegistrarTable } from './registrar-table.js';

/** SH1: an ASAP endpoint MUST NOT establish more than three associations at once. */
export const MAX_HUNT_ASSOCIATIONS = 3;

export interface ServerHuntOptions {
  /** T5-Serverhunt initial value, ms (RFC 5352 §7.1). */
  t5ServerHunt: number;
  /** RETRAN-MAX, ms (RFC 5352 §7.3). */
  retranMax: number;
  /** At most this many associations per round (≤ 3). */
  maxAssociations?: number;
  /** T5's timer (default: Node's timers); tests pass a virtual clock. */
  clock?: Clock;
}

export interface ServerHuntEvents {
  /** SH6: this association is up and its registrar becomes home. */
  found: [association: Association, registrar: KnownRegistrar];
  /** A round started with these registrars and this T5 value (empty: none known, waiting). */
  round: [registrars: readonly KnownRegistrar[], t5: number];
}

export class ServerHunt extends EventEmitter<ServerHuntEvents> {
  /** Whatever opens associations to registrars: an SCTP endpoint, or a TCP/TLS connector. */
  readonly #endpoint: Pick<SctpEndpoint, 'associate'>;
  readonly #table: RegistrarTable;
  readonly #initialT5: number;
  readonly #retranMax: number;
  readonly #max: number;
  readonly #clock: Clock;
  #t5: number;
  #running = false;
  #timer: TimerHandle | null = null;
  /** Associations of the current round that are still connecting. */
  readonly #attempts = new Map<Association, KnownRegistrar>();

  constructor(endpoint: Pick<SctpEndpoint, 'associate'>, table: RegistrarTable, options: ServerHuntOptions) {
    super();
    this.#endpoint = endpoint;
    this.#table = table;
    this.#initialT5 = options.t5ServerHunt;
    this.#retranMax = options.retranMax;
    this.#max = Math.max(1, Math.min(MAX_HUNT_ASSOCIATIONS, options.maxAssociations ?? MAX_HUNT_ASSOCIATIONS));
    this.#clock = options.clock ?? systemClock;
    this.#t5 = this.#initialT5;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Current T5 value (for tests and logs). */
  get t5(): number {
    return this.#t5;
  }

  /** Starts hunting unless a hunt runs already. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#round();
  }

  /** A registrar became known: a hunt that has nobody to try starts a round now. */
  registrarAdded(): void {
    if (this.#running && this.#attempts.size === 0) {
      if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
      this.#timer = null;
      this.#round();
    }
  }

  /** Stops the hunt and abandons its associations. */
  stop(): void {
    this.#running = false;
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#abandon(false);
  }

  #round(): void {
    if (!this.#running) return;
    const candidates = this.#table.candidates(this.#max);
    this.emit('round', candidates, this.#t5);
    for (const registrar of candidates) {
      let association: Association;
      try {
        association = this.#endpoint.associate(registrar.remote);
      } catch {
        // e.g. an association with that address exists already: try the others.
        this.#table.markFailed(registrar.remote);
        continue;
      }
      this.#attempts.set(association, registrar);
      association.once('up', () => this.#up(association));
      association.once('down', () => {
        if (this.#attempts.delete(association)) this.#table.markFailed(registrar.remote);
      });
    }
    // SH2: T5 bounds the round. SH4: failed ones are replaced in the next round.
    this.#timer = this.#clock.setTimer(this.#t5, () => this.#expired());
  }

  #expired(): void {
    this.#timer = null;
    if (!this.#running) return;
    // SH5.1: double T5, capped at RETRAN-MAX; SH5.2: stop the attempts, try another set.
    this.#t5 = Math.min(this.#t5 * 2, this.#retranMax);
    this.#abandon(true);
    this.#round();
  }

  #up(association: Association): void {
    if (!this.#attempts.has(association)) return;
    const registrar = this.#attempts.get(association)!;
    this.#attempts.delete(association);
    if (!this.#running) {
      association.abort();
      return;
    }
    // SH3: stop T5 and reset it to its initial value; SH6: this one is home.
    this.#running = false;
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#t5 = this.#initialT5;
    this.#abandon(false);
    this.emit('found', association, registrar);
  }

  #abandon(failed: boolean): void {
    for (const [association, registrar] of this.#attempts) {
      if (failed) this.#table.markFailed(registrar.remote);
      association.removeAllListeners('up');
      association.removeAllListeners('down');
      association.abort();
    }
    this.#attempts.clear();
  }
}
