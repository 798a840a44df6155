// Pool users subscribed to the pools of one shard (RFC 5352 §2.2.5-2.2.6): a
// HANDLE_RESOLUTION with the S bit asks the home registrar for "additional
// ASAP_HANDLE_RESOLUTION_RESPONSE messages ... when the Pool changes for the lifetime of the
// SCTP association"; the response carries the A bit when the registrar accepts.
//
// Subscriptions live in the shard that owns the pool (a pool lives in exactly one shard), keyed
// by (association, pool handle). The ASAP and ENRP sides of the shard call changed(pool) for
// every change a pool user could see (a PE added, removed, re-registered with other values, or
// moved to another home). Changes are coalesced per pool: the first change arms one timer for
// `interval` ms later, further changes until it fires ride along, and when it fires every
// subscriber gets one response with the pool's current selection for it (its own item count,
// the pool's policy). A pool of 10,000 PEs re-registering costs each subscriber one message per
// interval, not one per registration.
//
// A subscription ends when its association goes down (or is detached), when the pool user
// resolves the pool again without the S bit, or when the pool ceases to exist (its last PE
// left): the subscribers then get the negative response (Unknown Pool Handle) without the A
// bit, and, as §2.2.5 says, no updates when the pool is created again.
import type { Partition, Pool, PoolElement } from '../handlespace/index.js';
import { poolHandleFromKey, poolHandleKey } from '../handlespace/pool-handle.js';
import type { Scheduler } from '../handlespace/timer-schedule.js';
import { AsapFlag, Cause, encodeHandleResolutionResponse, errorCause, Writer, type OperationError } from '../wire/index.js';

export interface SubscriptionSettings {
  /** Changes of one pool within this many ms make one push to each subscriber. */
  interval: number;
  /** Pools one association may be subscribed to in this shard; beyond, answered without the A bit. */
  maxPerAssociation: number;
  /** Subscribers of one pool; beyond, answered without the A bit. */
  maxPerPool: number;
}

/** Defaults of the registrar's --subscription-interval, --max-subscriptions-per-association/-pool. */
export const defaultSubscriptionSettings: Readonly<SubscriptionSettings> = Object.freeze({
  interval: 100,
  maxPerAssociation: 64,
  maxPerPool: 10_000,
});

export interface SubscriptionCounters {
  /** Subscriptions held now (a gauge). */
  subscriptions: number;
  /** HANDLE_RESOLUTIONs with the S bit answered with the A bit. */
  subscriptionsAccepted: number;
  /** ... answered without it: a limit was reached (or the pool is unknown). */
  subscriptionsRefused: number;
  /** Subscriptions ended by a resolution without the S bit. */
  subscriptionsCancelled: number;
  /** Pushed HANDLE_RESOLUTION_RESPONSEs (one per subscriber per push round). */
  subscriptionPushes: number;
  /** Push rounds: coalesced changes of a pool that reached its subscribers. */
  subscriptionRounds: number;
  /** Pool changes reported while the pool had subscribers (coalesced into the rounds). */
  subscribedPoolChanges: number;
}

/** What the handlespace's changes are told to (the ENRP side holds one). */
export interface PoolWatch {
  /** Whether anyone is subscribed to the pool (else a change need not even be looked at). */
  watched(pool: Pool): boolean;
  changed(pool: Pool): void;
}

/** Where pushes go: the shard's outgoing batch. */
export type SubscriptionSend = (associationId: number, message: Uint8Array) => void;

class PoolSubscribers {
  /** Association → the items it asked for (RSPLIB's Handle Resolution Option; 0: default). */
  readonly members = new Map<number, number>();
  /** The scheduled push, while changes wait for it. */
  due: unknown = undefined;
  constructor(readonly key: string) {}
}

export class Subscriptions implements PoolWatch {
  readonly counters: SubscriptionCounters = {
    subscriptions: 0,
    subscriptionsAccepted: 0,
    subscriptionsRefused: 0,
    subscriptionsCancelled: 0,
    subscriptionPushes: 0,
    subscriptionRounds: 0,
    subscribedPoolChanges: 0,
  };
  readonly settings: Readonly<SubscriptionSettings>;
  private readonly pools = new Map<string, PoolSubscribers>();
  /** Association → keys of the pools it is subscribed to. */
  private readonly byAssociation = new Map<number, Set<string>>();
  private readonly writer = new Writer(4096);
  private readonly selected: PoolElement[] = [];
  private readonly encoded: Uint8Array[] = [];
  private static readonly GONE: OperationError = { causes: [errorCause(Cause.UnknownPoolHandle)] };

  constructor(
    private readonly partition: Partition,
    private readonly scheduler: Scheduler,
    private readonly send: SubscriptionSend,
    settings: Partial<SubscriptionSettings> = {},
  ) {
    this.settings = Object.freeze({ ...defaultSubscriptionSettings, ...settings });
  }

  /** Pools with at least one subscriber. */
  get poolCount(): number {
    return this.pools.size;
  }

  /**
   * A HANDLE_RESOLUTION with the S bit for an existing pool: true if the association is (now,
   * or still) subscribed, so the response carries the A bit; false at a limit.
   */
  subscribe(associationId: number, pool: Pool, items: number): boolean {
    let entry = this.pools.get(pool.key);
    if (entry?.members.has(associationId) === true) {
      entry.members.set(associationId, items);
      this.counters.subscriptionsAccepted++;
      return true;
    }
    const mine = this.byAssociation.get(associationId);
    if ((mine?.size ?? 0) >= this.settings.maxPerAssociation || (entry?.members.size ?? 0) >= this.settings.maxPerPool) {
      this.counters.subscriptionsRefused++;
      return false;
    }
    if (entry === undefined) {
      entry = new PoolSubscribers(pool.key);
      this.pools.set(pool.key, entry);
    }
    entry.members.set(associationId, items);
    if (mine === undefined) this.byAssociation.set(associationId, new Set([pool.key]));
    else mine.add(pool.key);
    this.counters.subscriptions++;
    this.counters.subscriptionsAccepted++;
    return true;
  }

  /** A refused S bit that is not a limit (the pool is unknown, RFC 5352 §2.2.5). */
  refused(): void {
    this.counters.subscriptionsRefused++;
  }

  /** A HANDLE_RESOLUTION without the S bit: the association's subscription to the pool, if any, ends. */
  unsubscribe(associationId: number, poolHandle: Uint8Array): void {
    const mine = this.byAssociation.get(associationId);
    if (mine === undefined) return;
    const key = poolHandleKey(poolHandle);
    if (!mine.has(key)) return;
    this.leave(associationId, key);
    this.counters.subscriptionsCancelled++;
  }

  /** The association went down (or was detached): its subscriptions end. */
  associationGone(associationId: number): void {
    const mine = this.byAssociation.get(associationId);
    if (mine === undefined) return;
    for (const key of [...mine]) this.leave(associationId, key);
  }

  watched(pool: Pool): boolean {
    return this.pools.has(pool.key);
  }

  /** Something a pool user sees in this pool changed: a push is due within the interval. */
  changed(pool: Pool): void {
    const entry = this.pools.get(pool.key);
    if (entry === undefined) return;
    this.counters.subscribedPoolChanges++;
    if (entry.due !== undefined) return;
    entry.due = this.scheduler.schedule(this.scheduler.now() + this.settings.interval, () => this.push(entry));
  }

  /** Whether the association is subscribed to the pool (tests, diagnostics). */
  has(associationId: number, poolHandle: Uint8Array): boolean {
    return this.pools.get(poolHandleKey(poolHandle))?.members.has(associationId) === true;
  }

  /** Cancels every pending push (shutdown). */
  dispose(): void {
    for (const entry of this.pools.values()) {
      if (entry.due !== undefined) this.scheduler.cancel(entry.due);
      entry.due = undefined;
    }
  }

  /** The coalescing interval ran out: every subscriber gets the pool as it is now. */
  private push(entry: PoolSubscribers): void {
    entry.due = undefined;
    if (this.pools.get(entry.key) !== entry) return;
    this.counters.subscriptionRounds++;
    const pool = this.partition.findPoolByKey(entry.key);
    const w = this.writer;
    if (pool === undefined) {
      // The last PE left: the pool no longer exists. The subscribers hear so once, without
      // the A bit, and their subscriptions end (RFC 5352 §2.2.5: updates only while it exists).
      const members = [...entry.members.keys()];
      for (const associationId of members) {
        w.reset();
        this.send(associationId, encodeHandleResolutionResponse(w, 0, poolHandleFromKey(entry.key), null, [], 0, Subscriptions.GONE));
        this.counters.subscriptionPushes++;
        this.leave(associationId, entry.key);
      }
      return;
    }
    const out = this.selected;
    const encoded = this.encoded;
    for (const [associationId, items] of entry.members) {
      const n = this.partition.selectFrom(pool, items, out);
      for (let i = 0; i < n; i++) encoded[i] = out[i]!.encoded;
      w.reset();
      this.send(associationId, encodeHandleResolutionResponse(w, AsapFlag.Accept, pool.handle, n > 0 ? out[0]!.policy : null, encoded, n));
      this.counters.subscriptionPushes++;
    }
    out.length = 0;
    encoded.length = 0;
  }

  private leave(associationId: number, key: string): void {
    const entry = this.pools.get(key);
    if (entry !== undefined && entry.members.delete(associationId)) {
      this.counters.subscriptions--;
      if (entry.members.size === 0) {
        if (entry.due !== undefined) this.scheduler.cancel(entry.due);
        this.pools.delete(key);
      }
    }
    const mine = this.byAssociation.get(associationId);
    if (mine !== undefined) {
      mine.delete(key);
      if (mine.size === 0) this.byAssociation.delete(associationId);
    }
  }
}
