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
  // Field order is memory order (ES2022 class fields): what a lookup, a removal and a
  // selection read comes first, so those reads fall on fewer cache lines of the ~250-byte
  // object (PEs are visited in random order: every line touched is a cache miss).
  readonly peId: number;
  readonly pool: Pool;
  /** Place in the pool's ElementTable order (element-table.ts); -1 when not in it. */
  tableIndex = -1;
  // PolicyEntry: owned by the pool's selection structure.
  selectionIndex = -1;
  selectionKey = 0;
  selectionKey2 = 0;
  sequence = 0;
  /** Neighbours in a sequence-ordered list (Round Robin's selection): read by its resolutions and removals. */
  selectionPrev: PoolElement | null = null;
  selectionNext: PoolElement | null = null;
  homeRegistrarId: number;
  associationId: number;
  // Owner index: intrusive doubly linked list per home registrar (owner-set.ts).
  ownerPrev: PoolElement | null = null;
  ownerNext: PoolElement | null = null;
  // Association index: intrusive doubly linked list per association.
  associationPrev: PoolElement | null = null;
  associationNext: PoolElement | null = null;
  // Timer: owned by the partition's timer schedule. Whole milliseconds (a small integer held in
  // the object; a fractional time would be a heap number of 16 bytes more per PE).
  timerIndex = -1;
  timerKind: TimerKind = TimerKind.None;
  timerAt = 0;
  /**
   * The Pool Element parameter, pre-encoded by the registrar: `encodedLength` bytes at
   * `encodedStart` of `encodedBytes`, an array of the pool's EncodedSlab (src/handlespace/encoded-slab.ts).
   */
  encodedLength = 0;
  encodedStart = 0;
  encodedBytes: Uint8Array;
  registrationLife: number;
  /** Shared with other PEs of the pool that carry the same values (Pool.sharedPolicy). */
  policy: PolicySettings;
  /** The user transport's port and address count, as port * 4096 + count (one small integer). */
  private transport: number;
  /** Associations that reported the PE unreachable since its last keep-alive ACK (at most MAX-BAD-PE-REPORT: the PE goes at that many). */
  private reporters: number[] | null = null;
  degradation = 0;
  roundCounter = 0;
  virtualCounter = 0;

  constructor(
    pool: Pool,
    peId: number,
    homeRegistrarId: number,
    registrationLife: number,
    policy: PolicySettings,
    transportPort: number,
    addressCount: number,
    associationId: number,
  ) {
    this.pool = pool;
    this.peId = peId;
    this.homeRegistrarId = homeRegistrarId;
    this.registrationLife = registrationLife;
    this.policy = policy;
    this.transport = 0;
    this.setTransport(transportPort, addressCount);
    this.associationId = associationId;
    this.encodedBytes = pool.slab.bytes;
  }

  /**
   * False once removed from the partition: a registered element is always linked into its
   * pool's selection (a field of its own would cost every PE 4 bytes more).
   */
  get registered(): boolean {
    return this.selectionIndex >= 0;
  }

  get transportPort(): number {
    return Math.floor(this.transport / 4096);
  }

  /** Addresses the user transport lists (at most 4095 recorded: the limit is lower, 64 by default). */
  get addressCount(): number {
    return this.transport % 4096;
  }

  setTransport(port: number, addressCount: number): void {
    this.transport = (port & 0xffff) * 4096 + Math.min(addressCount, 4095);
  }

  /** The user transport's protocol (a parameter type): the pool's (RFC 5352 §3.1 rule 2). */
  get transportProtocol(): number {
    return this.pool.transportProtocol;
  }

  /** TransportUse: the pool's (RFC 5352 §3.1 rule 2). */
  get transportUse(): number {
    return this.pool.transportUse;
  }

  /**
   * The Pool Element parameter as handle resolution responses carry it: a view of the pool's
   * slab, which keeps these bytes (a later re-registration appends new ones elsewhere).
   */
  get encoded(): Uint8Array {
    const start = this.encodedStart;
    return this.encodedBytes.subarray(start, start + this.encodedLength);
  }

  /** Distinct associations that reported the PE unreachable since its last keep-alive ACK. */
  get unreachableReports(): number {
    return this.reporters === null ? 0 : this.reporters.length;
  }

  /** Records an unreachability report from `association`; false if it reported already. */
  addReporter(association: number): boolean {
    const list = this.reporters;
    if (list === null) this.reporters = [association];
    else if (list.includes(association)) return false;
    else list.push(association);
    return true;
  }

  clearReports(): void {
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
    if (this.encodedLength < 12) return; // not a Pool Element parameter (unit tests' stand-ins)
    const e = this.encodedBytes;
    const at = this.encodedStart;
    e[at + 8] = registrarId >>> 24;
    e[at + 9] = (registrarId >>> 16) & 0xff;
    e[at + 10] = (registrarId >>> 8) & 0xff;
    e[at + 11] = registrarId & 0xff;
  }
}
