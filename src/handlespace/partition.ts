// One shard's part of the handlespace (RFC 5351 §2.1): pools by handle, pool elements by
// (pool handle, PE ID), and the indexes a registrar needs: by owner (home registrar) for
// takeover, handle tables with the W flag and PE checksums (RFC 5353 §3.6, §3.9); by
// association for "a lost association removes every PE registered over it"; and one timer
// schedule for keep-alives (own PEs, RFC 5352 §3.4-3.5) and registration lifetimes (foreign
// PEs, RFC 5353 §3). Every operation costs O(log n) at most, none is proportional to the
// partition, and nothing is copied on handle resolution.
import { createSelection, policyDefinition } from '../policy/registry.js';
import type { RandomSource } from '../policy/policy.js';
import { Cause, ParamType, TransportUse } from '../wire/constants.js';
import { hexId } from '../wire/identifier-text.js';
import type { ElementCensus } from './element-census.js';
import { HandleTableCursor } from './handle-table-cursor.js';
import { OwnerSet } from './owner-set.js';
import { computePeChecksum, finishPeChecksum, peWordSum, wordSum } from './pe-checksum.js';
import { PoolElement, TimerKind } from './pool-element.js';
import { poolHandleEquals, poolHandleHash, poolHandleKey } from './pool-handle.js';
import { Pool } from './pool.js';
import {
  HANDLE_RESOLUTION_ITEMS_LIMIT,
  defaultPartitionLimits,
  rejection,
  type PartitionLimits,
  type Registration,
  type RegistrationRejection,
} from './registration.js';
import { TimerSchedule, systemScheduler, type Scheduler } from './timer-schedule.js';

/** What fell due; the values are the TimerKind that fired. */
export const PartitionEvent = {
  /** Send ENDPOINT_KEEP_ALIVE to this own PE; the keep-alive timeout is now armed. */
  SendKeepAlive: TimerKind.KeepAliveTransmission,
  /** Same, with the H bit: this registrar just became the PE's home (RFC 5353 §3.9). */
  SendKeepAliveHome: TimerKind.KeepAliveTransmissionHome,
  /** No ENDPOINT_KEEP_ALIVE_ACK in time: the PE has been removed (tell peers DEL_PE). */
  KeepAliveTimedOut: TimerKind.KeepAliveTimeout,
  /** A foreign PE's registration life ran out: it has been removed. */
  LifetimeExpired: TimerKind.LifetimeExpiry,
} as const;
export type PartitionEvent = (typeof PartitionEvent)[keyof typeof PartitionEvent];

export type PartitionEventHandler = (event: PartitionEvent, element: PoolElement) => void;

export interface PartitionOptions {
  /** This registrar's server ID: PEs with this home are monitored by keep-alives. */
  ownRegistrarId: number;
  limits?: Partial<PartitionLimits>;
  /** Keep-alive transmission interval and timeout in ms (RSPLIB: 5 s / 5 s). */
  keepAliveInterval?: number;
  keepAliveTimeout?: number;
  /** Keep-alive intervals vary uniformly by +/- this fraction (RSPLIB cycles: 0.125; RFC 5352 §3.5). */
  jitter?: number;
  scheduler?: Scheduler;
  /** Random source for jitter and the random policies (tests inject a seeded one). */
  random?: RandomSource;
  onEvent?: PartitionEventHandler;
  /**
   * The handlespace's PE count over every partition (shards): limits.maxPoolElements is then
   * the limit of the whole handlespace, not of this partition. Without: of this partition.
   */
  census?: ElementCensus;
}

export interface RegistrationAcceptance {
  readonly ok: true;
  readonly element: PoolElement;
  /** False for a re-registration (RFC 5352 §3.1 rule 3). */
  readonly created: boolean;
}
export type RegistrationResult = RegistrationAcceptance | RegistrationRejection;

/** Outcome of an ENDPOINT_UNREACHABLE report (RFC 5352 §3.5). */
export const UnreachableOutcome = {
  UnknownElement: 0,
  /** A new reporter: counted. */
  Counted: 1,
  /** The count of distinct reporters reached MAX-BAD-PE-REPORT: the PE has been removed. */
  Removed: 2,
  /** This reporter has reported the PE already (since its last keep-alive ACK): not counted again. */
  Duplicate: 3,
} as const;
export type UnreachableOutcome = (typeof UnreachableOutcome)[keyof typeof UnreachableOutcome];

/** handleResolution's result when the pool handle is unknown (answer Cause.UnknownPoolHandle). */
export const UNKNOWN_POOL = -1;

/** The PEs registered over one association: an intrusive list through the elements. */
class AssociationList {
  head: PoolElement | null = null;
  count = 0;
}

export { OwnerSet } from './owner-set.js';

const TRANSPORT_PROTOCOLS: ReadonlySet<number> = new Set([
  ParamType.SctpTransport,
  ParamType.TcpTransport,
  ParamType.UdpTransport,
  ParamType.UdpLiteTransport,
  ParamType.DccpTransport,
]);

const Rejected = {
  emptyHandle: rejection(Cause.InvalidValues, 'empty pool handle'),
  longHandle: rejection(Cause.InvalidValues, 'pool handle too long'),
  peId: rejection(Cause.InvalidValues, 'PE identifier must be 1..2^32-1'),
  port: rejection(Cause.InvalidValues, 'transport port must be 1..65535'),
  noAddress: rejection(Cause.InvalidValues, 'user transport has no address'),
  manyAddresses: rejection(Cause.InvalidValues, 'too many addresses in user transport'),
  protocol: rejection(Cause.InvalidValues, 'unknown user transport protocol'),
  use: rejection(Cause.InvalidValues, 'unknown transport use'),
  life: rejection(Cause.InvalidValues, 'invalid registration life'),
  policy: rejection(Cause.InvalidValues, 'unknown pool member selection policy'),
  inconsistentPolicy: rejection(Cause.InconsistentPoolingPolicy, "policy type differs from the pool's"),
  inconsistentTransport: rejection(Cause.InconsistentTransportType, "user transport protocol differs from the pool's"),
  inconsistentUse: rejection(Cause.InconsistentDataControlConfiguration, "transport use differs from the pool's"),
  poolFull: rejection(Cause.LackOfResources, 'pool element limit of the pool reached', 'pool'),
  partitionFull: rejection(Cause.LackOfResources, 'pool element limit of the handlespace reached', 'total'),
  associationFull: rejection(Cause.LackOfResources, 'pool element limit of the association reached', 'association'),
};

export class Partition {
  readonly ownRegistrarId: number;
  readonly limits: Readonly<PartitionLimits>;
  readonly keepAliveInterval: number;
  readonly keepAliveTimeout: number;
  readonly jitter: number;
  onEvent: PartitionEventHandler | undefined;

  /** Pools by handle key, in creation order (iteration, handle tables). */
  private readonly pools = new Map<string, Pool>();
  /** Pools by handle hash with collision chains (every lookup). */
  private readonly poolsByHash = new Map<number, Pool>();
  private readonly owners = new Map<number, OwnerSet>();
  private readonly associations = new Map<number, AssociationList>();
  private readonly timers = new TimerSchedule();
  private readonly scheduler: Scheduler;
  private readonly random: RandomSource;
  private readonly census: ElementCensus | undefined;
  private elementTotal = 0;
  private wakeAt = Number.POSITIVE_INFINITY;
  private wakeHandle: unknown = undefined;
  private readonly wake = (): void => {
    this.wakeHandle = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
    this.processTimers();
  };

  constructor(options: PartitionOptions) {
    this.ownRegistrarId = options.ownRegistrarId >>> 0;
    const limits = { ...defaultPartitionLimits, ...options.limits };
    limits.maxHandleResolutionItems = Math.min(Math.max(1, limits.maxHandleResolutionItems), HANDLE_RESOLUTION_ITEMS_LIMIT);
    this.limits = Object.freeze(limits);
    this.keepAliveInterval = options.keepAliveInterval ?? 5000;
    this.keepAliveTimeout = options.keepAliveTimeout ?? 5000;
    this.jitter = options.jitter ?? 0.125;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.random = options.random ?? Math.random;
    this.onEvent = options.onEvent;
    this.census = options.census;
  }

  get poolCount(): number {
    return this.pools.size;
  }

  get elementCount(): number {
    return this.elementTotal;
  }

  /** Pending PE timers (one per PE). */
  get timerCount(): number {
    return this.timers.size;
  }

  // ---------------------------------------------------------------- registration

  /**
   * ASAP_REGISTRATION at this registrar (home = own ID) or a PE learned over ENRP (home = the
   * peer's ID): RFC 5352 §3.1 rules 1-5. A re-registration (same pool, same PE ID) updates the
   * element in place; a differing home registrar moves it between owner sets.
   */
  register(r: Registration): RegistrationResult {
    const handle = r.poolHandle;
    const limits = this.limits;
    if (handle.length === 0) return Rejected.emptyHandle;
    if (handle.length > limits.maxPoolHandleLength) return Rejected.longHandle;
    const peId = r.peId;
    if (!(peId >= 1 && peId <= 0xffffffff) || peId !== Math.floor(peId)) return Rejected.peId;
    const t = r.userTransport;
    if (!(t.port >= 1 && t.port <= 0xffff)) return Rejected.port;
    if (!(t.addressCount >= 1)) return Rejected.noAddress;
    if (t.addressCount > limits.maxAddresses) return Rejected.manyAddresses;
    if (!TRANSPORT_PROTOCOLS.has(t.protocol)) return Rejected.protocol;
    if (t.use !== TransportUse.DataOnly && t.use !== TransportUse.DataPlusControl) return Rejected.use;
    if (!(r.registrationLife >= 0)) return Rejected.life;
    const policyType = r.policy.type >>> 0;

    const hash = poolHandleHash(handle);
    let pool = this.lookup(handle, hash);
    if (pool !== undefined) {
      // RFC 5352 §3.1 rules 2 and 3: the same tests for new members and re-registrations.
      if (pool.policyType !== policyType) return Rejected.inconsistentPolicy;
      if (pool.transportProtocol !== t.protocol) return Rejected.inconsistentTransport;
      if (pool.transportUse !== t.use) return Rejected.inconsistentUse;
      const existing = pool.elements.get(peId);
      if (existing !== undefined) {
        // Moving to another association counts against that association's limit.
        if (r.associationId !== 0 && existing.associationId !== r.associationId && this.associationFull(r.associationId)) return Rejected.associationFull;
        this.update(existing, r);
        return { ok: true, element: existing, created: false };
      }
      if (pool.elements.size >= limits.maxPoolElementsPerPool) return Rejected.poolFull;
      if (this.handlespaceFull()) return Rejected.partitionFull;
      if (r.associationId !== 0 && this.associationFull(r.associationId)) return Rejected.associationFull;
    } else {
      if (policyDefinition(policyType) === undefined) return Rejected.policy;
      if (this.handlespaceFull()) return Rejected.partitionFull;
      if (r.associationId !== 0 && this.associationFull(r.associationId)) return Rejected.associationFull;
      const selection = createSelection(policyType, { random: this.random })!;
      // Copy the handle: the caller's bytes may be a view of a reused receive buffer.
      const own = handle.slice();
      const key = poolHandleKey(own);
      pool = new Pool(own, key, hash, policyType, t.protocol, t.use, wordSum(own), selection);
      this.pools.set(key, pool);
      pool.hashNext = this.poolsByHash.get(hash) ?? null;
      this.poolsByHash.set(hash, pool);
    }

    const home = r.homeRegistrarId >>> 0;
    const element = new PoolElement(pool, peId, home, r.registrationLife, pool.internPolicy(r.policy), t.port, t.addressCount, r.associationId);
    pool.slab.store(element, r.encoded, pool.elements);
    pool.elements.add(element);
    pool.selection.add(element);
    this.elementTotal++;
    this.census?.report(this.elementTotal);
    const owner = this.ownerSet(home);
    owner.add(element);
    owner.wordSum += peWordSum(pool.handleWordSum, peId);
    if (r.associationId !== 0) this.joinAssociation(element);
    this.armLifeTimer(element, this.scheduler.now());
    return { ok: true, element, created: true };
  }

  private update(element: PoolElement, r: Registration): void {
    const t = r.userTransport;
    const pool = element.pool;
    element.policy = pool.internPolicy(r.policy);
    pool.selection.update(element);
    element.registrationLife = r.registrationLife;
    element.setTransport(t.port, t.addressCount);
    // A re-registration usually repeats the bytes it registered with: nothing to store then.
    if (!pool.slab.holds(element, r.encoded)) {
      pool.slab.forget(element);
      pool.slab.store(element, r.encoded, pool.elements);
    }
    element.clearReports();
    if (element.associationId !== r.associationId) {
      if (element.associationId !== 0) this.leaveAssociation(element);
      element.associationId = r.associationId;
      if (r.associationId !== 0) this.joinAssociation(element);
    }
    // RFC 5352 §3.1 rule 4: the accepting registrar becomes (or stays) the owner.
    this.moveOwner(element, r.homeRegistrarId >>> 0);
    this.armLifeTimer(element, this.scheduler.now());
  }

  // ---------------------------------------------------------------- removal

  /**
   * ASAP_DEREGISTRATION (RFC 5352 §3.2) or ENRP DEL_PE: removes the PE. Returns the removed
   * element, or undefined if it was unknown (which RSPLIB still answers with success).
   */
  deregister(poolHandle: Uint8Array, peId: number): PoolElement | undefined {
    const element = this.findElement(poolHandle, peId);
    if (element !== undefined) this.remove(element);
    return element;
  }

  /** Removes an element (no-op if already removed). */
  remove(element: PoolElement): void {
    if (!element.registered) return;
    const pool = element.pool;
    pool.elements.delete(element);
    // Unlinked from the selection, the element is no longer registered (PoolElement.registered).
    pool.selection.remove(element);
    // RFC 5351 §2.1: a pool exists while it has an element.
    if (pool.elements.size === 0) this.dropPool(pool);
    else pool.slab.release(element.encodedLength, pool.elements);
    const owner = this.owners.get(element.homeRegistrarId)!;
    owner.delete(element);
    owner.wordSum -= peWordSum(pool.handleWordSum, element.peId);
    if (element.associationId !== 0) this.leaveAssociation(element);
    this.timers.discard(element);
    this.elementTotal--;
    this.census?.report(this.elementTotal);
  }

  /** A lost association removes every PE registered over it (RSPLIB behaviour). */
  removeAssociation(associationId: number): PoolElement[] {
    const removed = this.elementsOfAssociation(associationId);
    for (const element of removed) this.remove(element);
    return removed;
  }

  /** Elements registered over an association (a snapshot). */
  elementsOfAssociation(associationId: number): PoolElement[] {
    const list: PoolElement[] = [];
    for (let e = this.associations.get(associationId)?.head ?? null; e !== null; e = e.associationNext) list.push(e);
    return list;
  }

  /** PEs registered over an association in this partition. O(1). */
  associationElementCount(associationId: number): number {
    return this.associations.get(associationId)?.count ?? 0;
  }

  /**
   * ASAP_ENDPOINT_UNREACHABLE (RFC 5352 §3.5) from association `reporter`: each reporter counts
   * once (until the PE's next keep-alive ACK clears the reports), so one pool user cannot
   * evict a PE alone; at MAX-BAD-PE-REPORT distinct reporters the PE is removed. The reporters
   * a PE remembers are bounded by that threshold. The registrar checks the PE itself
   * (checkNow(), an immediate keep-alive): a live PE acknowledges and its reports are cleared.
   */
  reportUnreachable(poolHandle: Uint8Array, peId: number, reporter: number): UnreachableOutcome {
    const element = this.findElement(poolHandle, peId);
    if (element === undefined) return UnreachableOutcome.UnknownElement;
    // Enough distinct reporters are known (the check decides now): more are not recorded.
    if (element.unreachableReports >= this.limits.maxBadPeReports && this.checking(element)) return UnreachableOutcome.Duplicate;
    if (!element.addReporter(reporter)) return UnreachableOutcome.Duplicate;
    // An own PE whose check (the keep-alive the first report sent) is still out is judged by
    // that check: removed at its timeout, kept if it acknowledges. Otherwise a few pool users
    // (or one attacker with several associations) would evict a live PE faster than it can
    // answer.
    if (element.unreachableReports >= this.limits.maxBadPeReports && !this.checking(element)) {
      this.remove(element);
      return UnreachableOutcome.Removed;
    }
    return UnreachableOutcome.Counted;
  }

  /** A keep-alive to this PE is out and unanswered: an ACK is due. */
  awaitingAck(element: PoolElement): boolean {
    return element.registered && element.timerKind === TimerKind.KeepAliveTimeout;
  }

  /** An own PE whose keep-alive is out and unanswered (its timeout decides about it). */
  private checking(element: PoolElement): boolean {
    return element.registered && element.homeRegistrarId === this.ownRegistrarId && element.timerKind === TimerKind.KeepAliveTimeout;
  }

  /**
   * Check an own PE now (an unreachability report, or a conflicting registration): the
   * keep-alive timeout is armed as if the periodic keep-alive had just gone out. True: the
   * caller sends ENDPOINT_KEEP_ALIVE now. False: a foreign PE, or a keep-alive is out already
   * (its timeout stands: checks cannot postpone it), or one with the H bit is about to go.
   */
  checkNow(element: PoolElement): boolean {
    if (!element.registered || element.homeRegistrarId !== this.ownRegistrarId) return false;
    const kind = element.timerKind;
    if (kind === TimerKind.KeepAliveTimeout || kind === TimerKind.KeepAliveTransmissionHome) return false;
    this.setTimer(element, this.scheduler.now() + this.keepAliveTimeout, TimerKind.KeepAliveTimeout);
    return true;
  }

  // ---------------------------------------------------------------- lookup and resolution

  findPool(poolHandle: Uint8Array): Pool | undefined {
    return this.lookup(poolHandle, poolHandleHash(poolHandle));
  }

  findPoolByKey(key: string): Pool | undefined {
    return this.pools.get(key);
  }

  findElement(poolHandle: Uint8Array, peId: number): PoolElement | undefined {
    return this.lookup(poolHandle, poolHandleHash(poolHandle))?.elements.get(peId);
  }

  allPools(): IterableIterator<Pool> {
    return this.pools.values();
  }

  /**
   * Handle resolution (RFC 5352 §3.3): fills `out` (cleared first) with up to `items` elements
   * chosen by the pool's policy; 0 items means the default (3). Returns how many, or
   * UNKNOWN_POOL. The elements are the partition's own objects: their `encoded` bytes build
   * the response.
   */
  handleResolution(poolHandle: Uint8Array, items: number, out: PoolElement[]): number {
    const pool = this.lookup(poolHandle, poolHandleHash(poolHandle));
    out.length = 0;
    if (pool === undefined) return UNKNOWN_POOL;
    return this.selectFrom(pool, items, out);
  }

  /** Handle resolution on a pool already looked up. */
  selectFrom(pool: Pool, items: number, out: PoolElement[]): number {
    const limits = this.limits;
    let n = items > 0 ? items : limits.defaultHandleResolutionItems;
    if (n > limits.maxHandleResolutionItems) n = limits.maxHandleResolutionItems;
    return pool.selection.select(out, n);
  }

  // ---------------------------------------------------------------- ownership and checksums

  /** The PE checksum (RFC 5353 §3.6.2) of the PEs `owner` owns, as sent in ENRP_PRESENCE. O(1). */
  peChecksum(owner: number): number {
    return finishPeChecksum(this.owners.get(owner >>> 0)?.wordSum ?? 0);
  }

  /** The same checksum recomputed from every owned PE's byte block (for audits and tests). */
  peChecksumFromScratch(owner: number): number {
    return computePeChecksum(this.owners.get(owner >>> 0)?.values() ?? []);
  }

  ownedCount(owner: number): number {
    return this.owners.get(owner >>> 0)?.count ?? 0;
  }

  /** Owners that own at least one PE here. */
  ownerIds(): number[] {
    const ids: number[] = [];
    for (const set of this.owners.values()) if (set.count > 0) ids.push(set.id);
    return ids;
  }

  /** The PEs `owner` owns; the one just returned may be removed or moved before the next. */
  elementsOwnedBy(owner: number): IterableIterator<PoolElement> {
    return this.ownerSet(owner >>> 0).values();
  }

  /**
   * Moves a PE to another home registrar (takeover, RFC 5353 §3.9). Becoming ours arms an
   * immediate keep-alive with the H bit; becoming foreign arms the registration-life expiry.
   */
  changeOwner(element: PoolElement, newOwner: number): void {
    if (!element.registered) return;
    const was = element.homeRegistrarId;
    newOwner >>>= 0;
    if (!this.moveOwner(element, newOwner)) return;
    const now = this.scheduler.now();
    if (newOwner === this.ownRegistrarId) {
      this.setTimer(element, now, TimerKind.KeepAliveTransmissionHome);
    } else if (was === this.ownRegistrarId) {
      this.setTimer(element, now + element.registrationLife, TimerKind.LifetimeExpiry);
    }
  }

  /** Takeover: every PE of `fromOwner` now belongs to `toOwner`. Returns how many moved. */
  takeOver(fromOwner: number, toOwner: number): number {
    const set = this.owners.get(fromOwner >>> 0);
    if (set === undefined || fromOwner >>> 0 === toOwner >>> 0) return 0;
    let moved = 0;
    // values() steps past each element before it moves to the other owner's list.
    for (const element of set.values()) {
      this.changeOwner(element, toOwner);
      moved++;
    }
    return moved;
  }

  /** A paged, resumable walk over all PEs or one owner's (ENRP handle tables, RFC 5353 §2.3). */
  cursor(owner?: number): HandleTableCursor {
    return owner === undefined ? HandleTableCursor.overPools(this.pools) : HandleTableCursor.overOwner(this.ownerSet(owner >>> 0));
  }

  // ---------------------------------------------------------------- timers

  /**
   * ENDPOINT_KEEP_ALIVE_ACK (RFC 5352 §3.4) of an element looked up: the PE lives, its unreachability reports are
   * cleared (RFC 5352 §3.5) and the next keep-alive is scheduled. False for a foreign PE.
   */
  acknowledge(element: PoolElement): boolean {
    if (!element.registered || element.homeRegistrarId !== this.ownRegistrarId) return false;
    element.clearReports();
    this.setTimer(element, this.scheduler.now() + this.jittered(this.keepAliveInterval), TimerKind.KeepAliveTransmission);
    return true;
  }

  /**
   * Handles every timer due at the scheduler's current time and reports it to onEvent.
   * Called by the scheduled wake-up; tests may call it after advancing virtual time.
   * Returns the number of events.
   */
  processTimers(): number {
    const now = this.scheduler.now();
    let events = 0;
    for (;;) {
      const element = this.timers.popDue(now);
      if (element === undefined) break;
      events++;
      const fired = element.timerKind;
      if (fired === TimerKind.KeepAliveTransmission || fired === TimerKind.KeepAliveTransmissionHome) {
        this.timers.set(element, now + this.keepAliveTimeout, TimerKind.KeepAliveTimeout);
      } else {
        this.remove(element);
      }
      this.onEvent?.(fired as PartitionEvent, element);
    }
    this.ensureWake();
    return events;
  }

  /** Cancels the scheduled wake-up (shutdown). */
  dispose(): void {
    if (this.wakeHandle !== undefined) this.scheduler.cancel(this.wakeHandle);
    this.wakeHandle = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
  }

  /** Test hook: every index agrees with every other. Throws a description of the first fault. */
  checkConsistency(): void {
    let total = 0;
    const seen = new Set<PoolElement>();
    for (const [key, pool] of this.pools) {
      if (pool.key !== key || pool.elements.size === 0) throw new Error(`pool ${key}: bad key or empty`);
      if (pool.selection.size !== pool.elements.size) throw new Error(`pool ${key}: selection size`);
      const check = (pool.selection as { checkInvariant?: () => boolean }).checkInvariant;
      if (check !== undefined && !check.call(pool.selection)) throw new Error(`pool ${key}: selection invariant`);
      if (!pool.elements.checkInvariant()) throw new Error(`pool ${key}: element table`);
      for (const e of pool.elements.values()) {
        const peId = e.peId;
        if (e.pool !== pool || !e.registered) throw new Error(`PE ${hexId(peId)}: bad pool link`);
        if (e.associationId !== 0 && !this.elementsOfAssociation(e.associationId).includes(e)) throw new Error(`PE ${hexId(peId)}: not in association list`);
        if (e.timerIndex < 0) throw new Error(`PE ${hexId(peId)}: no timer`);
        seen.add(e);
        total++;
      }
    }
    if (total !== this.elementTotal) throw new Error(`element count ${this.elementTotal} != ${total}`);
    let owned = 0;
    for (const set of this.owners.values()) {
      // Every list element is a registered PE of this owner, and the lists together hold them all.
      if (!set.checkLinks()) throw new Error(`owner ${set.id}: list links`);
      for (const e of set.values()) if (!seen.has(e)) throw new Error('stale owner entry');
      owned += set.count;
      if (this.peChecksum(set.id) !== this.peChecksumFromScratch(set.id)) throw new Error(`owner ${set.id}: checksum`);
    }
    if (owned !== total) throw new Error('owner sets do not cover the partition');
    for (const [id, list] of this.associations) {
      const members = this.elementsOfAssociation(id);
      if (members.length !== list.count || list.count === 0) throw new Error('association list count');
      for (const e of members) if (!seen.has(e) || e.associationId !== id) throw new Error('stale association entry');
    }
    for (const [hash, head] of this.poolsByHash) for (let p: Pool | null = head; p !== null; p = p.hashNext) if (p.hash !== hash || this.pools.get(p.key) !== p) throw new Error('hash chain');
    if (this.timers.size !== total || !this.timers.checkInvariant()) throw new Error('timer schedule');
  }

  // ---------------------------------------------------------------- internals

  /** The handlespace (with a census: every partition) holds maxPoolElements PEs. */
  private handlespaceFull(): boolean {
    const max = this.limits.maxPoolElements;
    if (max === Number.POSITIVE_INFINITY) return false;
    return (this.census !== undefined ? this.census.total() : this.elementTotal) >= max;
  }

  private associationFull(associationId: number): boolean {
    return this.associationElementCount(associationId) >= this.limits.maxPoolElementsPerAssociation;
  }

  private ownerSet(id: number): OwnerSet {
    let set = this.owners.get(id);
    if (set === undefined) {
      set = new OwnerSet(id);
      this.owners.set(id, set);
    }
    return set;
  }

  private lookup(handle: Uint8Array, hash: number): Pool | undefined {
    let p = this.poolsByHash.get(hash);
    while (p !== undefined) {
      if (poolHandleEquals(p.handle, handle)) return p;
      p = p.hashNext ?? undefined;
    }
    return undefined;
  }

  private dropPool(pool: Pool): void {
    this.pools.delete(pool.key);
    let p = this.poolsByHash.get(pool.hash)!;
    if (p === pool) {
      if (pool.hashNext === null) this.poolsByHash.delete(pool.hash);
      else this.poolsByHash.set(pool.hash, pool.hashNext);
    } else {
      while (p.hashNext !== pool) p = p.hashNext!;
      p.hashNext = pool.hashNext;
    }
    pool.hashNext = null;
  }

  private joinAssociation(element: PoolElement): void {
    let list = this.associations.get(element.associationId);
    if (list === undefined) {
      list = new AssociationList();
      this.associations.set(element.associationId, list);
    }
    element.associationPrev = null;
    element.associationNext = list.head;
    if (list.head !== null) list.head.associationPrev = element;
    list.head = element;
    list.count++;
  }

  private leaveAssociation(element: PoolElement): void {
    const list = this.associations.get(element.associationId);
    if (list === undefined) return;
    const prev = element.associationPrev;
    const next = element.associationNext;
    if (prev !== null) prev.associationNext = next;
    else list.head = next;
    if (next !== null) next.associationPrev = prev;
    element.associationPrev = null;
    element.associationNext = null;
    if (--list.count === 0) this.associations.delete(element.associationId);
  }

  /** Moves the element between owner sets; false if the owner is unchanged. */
  private moveOwner(element: PoolElement, newOwner: number): boolean {
    const was = element.homeRegistrarId;
    if (was === newOwner) return false;
    const part = peWordSum(element.pool.handleWordSum, element.peId);
    const from = this.owners.get(was)!;
    from.delete(element);
    from.wordSum -= part;
    const to = this.ownerSet(newOwner);
    to.add(element);
    to.wordSum += part;
    element.setHome(newOwner);
    return true;
  }

  /** Own PEs: next keep-alive after a jittered interval; foreign PEs: expiry after their life. */
  private armLifeTimer(element: PoolElement, now: number): void {
    if (element.homeRegistrarId === this.ownRegistrarId) {
      this.setTimer(element, now + this.jittered(this.keepAliveInterval), TimerKind.KeepAliveTransmission);
    } else {
      this.setTimer(element, now + element.registrationLife, TimerKind.LifetimeExpiry);
    }
  }

  private jittered(interval: number): number {
    const j = this.jitter;
    return j > 0 ? interval * (1 - j + 2 * j * this.random()) : interval;
  }

  private setTimer(element: PoolElement, at: number, kind: TimerKind): void {
    this.timers.set(element, at, kind);
    if (at < this.wakeAt) this.ensureWake();
  }

  private ensureWake(): void {
    const earliest = this.timers.earliest;
    if (earliest >= this.wakeAt) return;
    if (this.wakeHandle !== undefined) this.scheduler.cancel(this.wakeHandle);
    this.wakeAt = earliest;
    this.wakeHandle = earliest === Number.POSITIVE_INFINITY ? undefined : this.scheduler.schedule(earliest, this.wake);
  }
}
