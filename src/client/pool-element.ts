// A pool element (RFC 5352 §3.1-3.4): registers under a pool handle at the home registrar of
// its ASAP endpoint, re-registers on T4-reregistration and whenever its policy values change,
// answers keep-alives (through the endpoint), registers again at a new home after a
// registrar failure, and deregisters on close().
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PolicyType } from '../wire/constants.js';
import type { PoolElementParameter } from '../wire/parameters.js';
import { policySettings, type PolicySettings } from '../wire/policy-settings.js';
import type { AsapEndpoint, HomedPoolElement } from './asap-endpoint.js';
import { reregistrationInterval } from './asap-timers.js';
import { ClosedError, RegistrarConnectionLostError, RegistrationRejectedError, RequestTimeoutError, NoRegistrarError } from './errors.js';
import { poolHandleBytes } from './pool-handle.js';
import type { RegistrarConnection } from './registrar-connection.js';
import { toTransportParameter, type UserTransportInit } from './user-transport.js';

/** A policy by type with some of its values; the rest are 0 (see `policySettings`). */
export type PolicyInit = { type: number } & Partial<Omit<PolicySettings, 'type'>>;

export interface PoolElementOptions {
  poolHandle: string | Uint8Array;
  /** PE Identifier (RFC 5352 §3.1 R2.2); default a random non-zero 32-bit number. */
  peId?: number;
  /** Member selection policy and its values (RFC 5356); default Round Robin. */
  policy?: PolicyInit;
  /** The service this PE offers (RFC 5352 §3.1 R2.4). */
  userTransport: UserTransportInit;
  /** Registration life in ms (RFC 5352 §3.1 R2.3; ms on the wire, as RSPLIB). Default 300 s. */
  registrationLife?: number;
  /** T4-reregistration override, ms; default from the life (RFC 5352 §7.1). */
  reregistrationInterval?: number;
}

export interface PoolElementEvents {
  /** Registered (or re-registered) at this registrar. */
  registered: [connection: RegistrarConnection];
  /** A registration attempt failed; the PE keeps trying unless it was rejected. */
  failure: [error: Error];
}

export const DEFAULT_REGISTRATION_LIFE = 300_000;

/** Pool Element parameter load values are fractions of 0xFFFFFFFF (RFC 5356 §5). */
export function loadFromFraction(fraction: number): number {
  const f = Math.min(1, Math.max(0, fraction));
  return Math.round(f * 0xffffffff) >>> 0;
}

type State = 'idle' | 'registering' | 'registered' | 'rejected' | 'closed';

export class PoolElement extends EventEmitter<PoolElementEvents> implements HomedPoolElement {
  readonly asap: AsapEndpoint;
  readonly poolHandle: Uint8Array;
  readonly peId: number;
  /** The Pool Element parameter sent in every (re-)registration; policy values change in place. */
  readonly parameter: PoolElementParameter;
  readonly #t4: number;
  #state: State = 'idle';
  /** Registrar connection of the last successful registration. */
  #registeredAt: RegistrarConnection | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** The registration run under way, and a follow-up requested while it runs. */
  #running: Promise<void> | null = null;
  #followUp: Promise<void> | null = null;

  constructor(asap: AsapEndpoint, options: PoolElementOptions) {
    super();
    this.asap = asap;
    this.poolHandle = poolHandleBytes(options.poolHandle);
    if (this.poolHandle.length === 0) throw new RangeError('empty pool handle');
    this.peId = options.peId ?? randomInt(1, 0x100000000);
    if (!Number.isInteger(this.peId) || this.peId <= 0 || this.peId > 0xffffffff) throw new RangeError(`PE ID ${this.peId} is not a non-zero 32-bit number`);
    const life = options.registrationLife ?? DEFAULT_REGISTRATION_LIFE;
    if (!Number.isInteger(life) || life < 0 || life > 0x7fffffff) throw new RangeError(`registration life ${life} ms out of range`);
    const p = options.policy ?? { type: PolicyType.RoundRobin };
    this.parameter = {
      peId: this.peId,
      homeRegistrarId: 0,
      registrationLife: life,
      userTransport: toTransportParameter(options.userTransport, asap.localAddresses),
      policy: policySettings(p.type, p),
      // Over TCP/TLS: our SCTP endpoint, for a registrar's keep-alives after a takeover.
      asapTransport: asap.asapTransport,
    };
    this.#t4 = options.reregistrationInterval ?? reregistrationInterval(life);
  }

  get policy(): PolicySettings {
    return this.parameter.policy;
  }

  /** True while the last registration attempt succeeded and no failure came since. */
  get registered(): boolean {
    return this.#state === 'registered';
  }

  get state(): State {
    return this.#state;
  }

  /** Connection of the current registration. */
  get registrar(): RegistrarConnection | null {
    return this.#registeredAt;
  }

  /**
   * Registers (RFC 5352 §3.1). Resolves once registered; rejects with
   * RegistrationRejectedError (the PE then stops: §3.1 "MUST NOT re-attempt registration
   * without correcting the error") or NoRegistrarError (no home within the endpoint's
   * homeTimeout). After the first success the PE stays registered on its own: T4, new home.
   */
  register(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('pool element'));
    if (this.#state === 'idle' || this.#state === 'rejected') {
      this.#state = 'registering';
      this.asap.attach(this);
    }
    return this.#schedule();
  }

  /** Changes the load (RFC 5356 §5, 32-bit fraction; see loadFromFraction) and re-registers. */
  updateLoad(load: number): Promise<void> {
    return this.updatePolicy({ load });
  }

  /** Changes policy values and re-registers (RFC 5352 §3.1: "update its ... Policy Value"). */
  updatePolicy(values: Partial<Omit<PolicySettings, 'type' | 'raw'>>): Promise<void> {
    const p = this.parameter.policy;
    if (values.weight !== undefined) p.weight = values.weight >>> 0;
    if (values.priority !== undefined) p.priority = values.priority >>> 0;
    if (values.load !== undefined) p.load = values.load >>> 0;
    if (values.loadDegradation !== undefined) p.loadDegradation = values.loadDegradation >>> 0;
    if (values.loadDpf !== undefined) p.loadDpf = values.loadDpf >>> 0;
    if (values.weightDpf !== undefined) p.weightDpf = values.weightDpf >>> 0;
    if (values.distance !== undefined) p.distance = values.distance >>> 0;
    if (this.#state === 'idle') return Promise.resolve();
    return this.register();
  }

  /** Deregisters (RFC 5352 §3.2) if registered, and stops. Never rejects. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasActive = this.#state === 'registered' || this.#state === 'registering';
    this.#state = 'closed';
    this.#clearTimer();
    this.asap.detach(this);
    const home = this.asap.home;
    if (!wasActive || home === null || !home.isUp) return;
    try {
      await home.deregister(this.poolHandle, this.peId);
    } catch {
      // Best effort: an unanswered deregistration lets the registration life run out (§3.2).
    }
  }

  /** HomedPoolElement: a new home registrar (RFC 5352 §3.6 SH6 / KA2.4). */
  homeChanged(home: RegistrarConnection): void {
    if (this.#state !== 'registered' && this.#state !== 'registering') return;
    if (this.#registeredAt === home) return;
    // A run under way asks for the home again before it ends (see #run).
    if (this.#running !== null) return;
    this.#schedule().catch(() => {
      /* reported through 'failure' */
    });
  }

  /** One registration run at a time; calls during a run share one follow-up run. */
  #schedule(): Promise<void> {
    if (this.#running === null) return this.#start();
    if (this.#followUp === null) {
      this.#followUp = this.#running
        .catch(() => {})
        .then(() => {
          this.#followUp = null;
          return this.#state === 'closed' ? Promise.reject(new ClosedError('pool element')) : this.#start();
        });
    }
    return this.#followUp;
  }

  #start(): Promise<void> {
    const run = this.#run();
    this.#running = run;
    const clear = (): void => {
      if (this.#running === run) this.#running = null;
    };
    run.then(clear, clear);
    return run;
  }

  async #run(): Promise<void> {
    const firstTime = this.#registeredAt === null;
    for (;;) {
      if (this.#isClosed()) throw new ClosedError('pool element');
      let home: RegistrarConnection;
      try {
        home = await this.asap.homeConnection();
      } catch (error) {
        this.emit('failure', error as Error);
        // A PE that registered before keeps hunting (the endpoint hunts while PEs exist).
        if (firstTime || !(error instanceof NoRegistrarError)) {
          if (firstTime && this.#state === 'registering') this.#fail();
          throw error;
        }
        continue;
      }
      if (this.#isClosed()) throw new ClosedError('pool element');
      try {
        await home.register(this.poolHandle, this.parameter);
      } catch (error) {
        this.emit('failure', error as Error);
        if (error instanceof RegistrationRejectedError) {
          this.#state = 'rejected';
          this.#registeredAt = null;
          this.#clearTimer();
          this.asap.detach(this);
          throw error;
        }
        if (!this.#isClosed()) this.#state = 'registering';
        if (error instanceof RequestTimeoutError) {
          // §3.1: T2 expired MAX-REG-ATTEMPT times: hunt for another home, then register there.
          this.asap.homeFailed(home);
          continue;
        }
        if (error instanceof RegistrarConnectionLostError) continue;
        throw error;
      }
      if (this.#isClosed()) return;
      this.#state = 'registered';
      this.#registeredAt = home;
      this.#armT4();
      this.emit('registered', home);
      // The home moved while the request was under way (SH6, KA2.4): register there too.
      const current = this.asap.home;
      if (current !== null && current !== home) continue;
      return;
    }
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #fail(): void {
    this.#state = 'idle';
    this.asap.detach(this);
  }

  /**
   * T4-reregistration (RFC 5352 §3.1). Node keeps timers of equal duration in one list, so
   * thousands of PEs with the same interval cost one list insertion each, not a heap.
   */
  #armT4(): void {
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#schedule().catch(() => {
        /* reported through 'failure' */
      });
    }, this.#t4);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
