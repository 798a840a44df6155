// One pool element as the handlespace holds it (RFC 5351 §2.1; RFC 5354 §3.1 Pool Element
// parameter). Every index the partition keeps lives in fields of this object, so adding,
// moving and removing are pointer updates with no side tables.
import type { PolicyEntry } from '../policy/policy.js';
import type { PolicySettings } from '../wire/policy-settings.js';
import type { Pool } from './pool.js';

/** What a PE's single pending timer will do (RFC 5352 §3.4-3.5, RFC 5353 §3). */
export const TimerKind = {
  None: 0,
  /** Own PE: send ENDPOINT_KEEP_ALIVE. */
  KeepAliveTransmission: 1,
  /** Own PE after a takeover: send ENDPOINT_KEEP_ALIVE with the H bit (RFC 5353 §3.9). */
  KeepAliveTransmissionHome: 2,
  /** Own PE: no ENDPOINT_KEEP_ALIVE_ACK in time, remove it. */
  KeepAliveTimeout: 3,
  /** Foreign PE: its registration life ran out, remove it. */
  LifetimeExpiry: 4,
} as const;
export type TimerKind = (typeof TimerKind)[keyof typeof TimerKind];

export class PoolElement implements PolicyEntry {
  readonly pool: Pool;
  readonly peId: number;
  homeRegistrarId: number;
  registrationLife: number;
  policy: PolicySettings;
  transportProtocol: number;
  transportPort: number;
  transportUse: number;
  addressCount: number;
  associationId: number;
  /** The Pool Element parameter, pre-encoded by the registrar. */
  encoded: Uint8Array;
  /** Distinct associations that reported the PE unreachable since its last keep-alive ACK. */
  unreachableReports = 0;
  /** Their association numbers (at most MAX-BAD-PE-REPORT: the PE goes at that many). */
  private reporters: number[] | null = null;
  /** False once removed from the partition. */
  registered = true;

  // PolicyEntry: owned by the pool's selection structure.
  selectionIndex = -1;
  sequence = 0;
  degradation = 0;
  roundCounter = 0;
  virtualCounter = 0;
  selectionKey = 0;
  selectionKey2 = 0;
  selectionCount = 0;
  selectionPrev: PoolElement | null = null;
  selectionNext: PoolElement | null = null;
  // Association index: intrusive doubly linked list per association.
  associationPrev: PoolElement | null = null;
  associationNext: PoolElement | null = null;

  // Timer: owned by the partition's timer schedule.
  timerAt = 0;
  timerKind: TimerKind = TimerKind.None;
  timerIndex = -1;

  constructor(
    pool: Pool,
    peId: number,
    homeRegistrarId: number,
    registrationLife: number,
    policy: PolicySettings,
    transportProtocol: number,
    transportPort: number,
    transportUse: number,
    addressCount: number,
    associationId: number,
    encoded: Uint8Array,
  ) {
    this.pool = pool;
    this.peId = peId;
    this.homeRegistrarId = homeRegistrarId;
    this.registrationLife = registrationLife;
    this.policy = policy;
    this.transportProtocol = transportProtocol;
    this.transportPort = transportPort;
    this.transportUse = transportUse;
    this.addressCount = addressCount;
    this.associationId = associationId;
    this.encoded = encoded;
  }

  /** Records an unreachability report from `association`; false if it reported already. */
  addReporter(association: number): boolean {
    const list = this.reporters;
    if (list === null) this.reporters = [association];
    else if (list.includes(association)) return false;
    else list.push(association);
    this.unreachableReports++;
    return true;
  }

  clearReports(): void {
    this.unreachableReports = 0;
    this.reporters = null;
  }

  get poolHandle(): Uint8Array {
    return this.pool.handle;
  }

  /**
   * A new home registrar (takeover, re-registration elsewhere): the field and the Home ENRP
   * Server Identifier inside the pre-encoded Pool Element parameter (RFC 5354 §3.13: bytes
   * 8-11, after the TLV header and the PE ID), which handle resolution responses carry as is.
   * Otherwise a PE taken over would still be resolved with its dead registrar as home.
   */
  setHome(registrarId: number): void {
    this.homeRegistrarId = registrarId >>> 0;
    const e = this.encoded;
    if (e.length < 12) return; // not a Pool Element parameter (unit tests' stand-ins)
    e[8] = registrarId >>> 24;
    e[9] = (registrarId >>> 16) & 0xff;
    e[10] = (registrarId >>> 8) & 0xff;
    e[11] = registrarId & 0xff;
  }
}
