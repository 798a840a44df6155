// A pool user (RFC 5352 §3.3, §3.5): resolves pool handles to pool elements at the home
// registrar of its ASAP endpoint, with a cache (§3.3 C1-C4) and unreachability reports.
// The session layer (cookies, business cards, failover, RFC 5352 §3.8-3.9) builds on this.
//
// With `subscribe`, every resolution asks for dynamic updates (the S bit, RFC 5352 §2.2.5):
// a registrar that accepts (the A bit, §2.2.6) pushes a HANDLE_RESOLUTION_RESPONSE whenever
// the pool changes. Each push replaces the cached resolution and is told as a `poolChange`
// event; a subscribed entry does not go stale while the subscription holds. Subscriptions are
// the home registrar's state, not shared in the scope: when the home changes, each is sent
// again to the new one (§2.2.5).
import { EventEmitter } from 'node:events';
import { AsapFlag, AsapType } from '../wire/constants.js';
import type { AsapHandleResolutionResponse, AsapMessage } from '../wire/messages.js';
import type { PoolElementParameter } from '../wire/parameters.js';
import type { PolicySettings } from '../wire/policy-settings.js';
import type { AsapEndpoint } from './asap-endpoint.js';
import { DEFAULT_STALE_CACHE_VALUE } from './asap-timers.js';
import { ClosedError, RegistrarConnectionLostError, RequestTimeoutError } from './errors.js';
import { HandleResolutionCache } from './handle-resolution-cache.js';
import { poolHandleBytes } from './pool-handle.js';
import type { RegistrarConnection } from './registrar-connection.js';
import { Session, type SessionOptions } from './session.js';
import { fromTransportParameter, type UserTransport } from './user-transport.js';

/** A pool element as a handle resolution names it (RFC 5354 §3.10). */
export interface ResolvedPoolElement {
  peId: number;
  /** Server ID of the registrar that owns it. */
  homeRegistrarId: number;
  /** Registration life, ms (RSPLIB's unit). */
  registrationLife: number;
  /** Its user transport; null for an opaque transport (RFC 5354 §3.16). */
  userTransport: UserTransport | null;
  policy: PolicySettings;
}

export interface ResolveOptions {
  /**
   * Elements wanted, sent as RSPLIB's Handle Resolution Option (0x803f); 0 = the
   * registrar's default (3 at RSPLIB). Default 0.
   */
  items?: number;
  /** Skip the cache and ask the registrar (the answer still refreshes the cache). */
  fresh?: boolean;
}

export interface PoolUserOptions {
  /**
   * stale_cache_value (RFC 5352 §7.2), ms: how long a resolution is reused. 0 disables the
   * cache, so every resolve() asks the registrar (and its policy picks anew).
   */
  staleCacheValue?: number;
  /**
   * Subscribe to every pool resolved (the S bit, RFC 5352 §2.2.5): the registrar pushes the
   * pool's selection when it changes (`poolChange` events, the cache kept current). Default false.
   */
  subscribe?: boolean;
}

/** A pool's current selection, pushed by the home registrar of a subscribed pool user. */
export interface PoolChange {
  poolHandle: Uint8Array;
  /** The selection for this PU (its item count, the pool's policy); empty: the pool is gone. */
  elements: ResolvedPoolElement[];
  /** Whether the subscription holds on (false: the pool is gone, or the registrar ended it). */
  subscribed: boolean;
  /** What the change was: a push, or the answer of a new home the subscription moved to. */
  cause: 'push' | 'resubscribed';
}

export interface PoolUserEvents {
  /** A subscribed pool changed (RFC 5352 §2.2.6 "upon Pool changes"). */
  poolChange: [change: PoolChange];
}

/** One pool this PU asked for updates of. */
interface Subscription {
  poolHandle: Uint8Array;
  items: number;
  /** The registrar that accepted it (A bit), or null while not (yet) accepted. */
  connection: RegistrarConnection | null;
}

/** Public form of the elements of a response. */
export function resolvedPoolElements(parameters: readonly PoolElementParameter[]): ResolvedPoolElement[] {
  const out: ResolvedPoolElement[] = new Array<ResolvedPoolElement>(parameters.length);
  for (let i = 0; i < parameters.length; i++) {
    const p = parameters[i]!;
    out[i] = {
      peId: p.peId,
      homeRegistrarId: p.homeRegistrarId,
      registrationLife: p.registrationLife,
      userTransport: fromTransportParameter(p.userTransport),
      policy: p.policy,
    };
  }
  return out;
}

/** How often a request moves to a new home after losing its registrar (RFC 5352 §3.7). */
const MAX_HOME_CHANGES = 2;

export class PoolUser extends EventEmitter<PoolUserEvents> {
  readonly asap: AsapEndpoint;
  readonly subscribe: boolean;
  readonly #cache: HandleResolutionCache<ResolvedPoolElement[]>;
  /** Requests under way per cached handle, so concurrent misses share one (cache on only). */
  readonly #inFlight = new Map<string, Promise<ResolvedPoolElement[]>>();
  /** Subscribed pools by handle (latin1 of the bytes). */
  readonly #subscriptions = new Map<string, Subscription>();
  /** Connections whose pushes we listen to. */
  readonly #listening = new WeakSet<RegistrarConnection>();
  readonly #onHomeChange = (): void => this.#resubscribeAll();
  #closed = false;

  constructor(asap: AsapEndpoint, options: PoolUserOptions = {}) {
    super();
    this.asap = asap;
    this.subscribe = options.subscribe === true;
    this.#cache = new HandleResolutionCache(options.staleCacheValue ?? DEFAULT_STALE_CACHE_VALUE);
    if (this.subscribe) {
      asap.on('home', this.#onHomeChange);
      asap.on('homeLost', this.#onHomeChange);
    }
  }

  /** Whether the home registrar pushes this pool's changes (it accepted the S bit). */
  isSubscribed(poolHandle: string | Uint8Array): boolean {
    const sub = this.#subscriptions.get(handleKey(poolHandleBytes(poolHandle)));
    return sub !== undefined && sub.connection !== null && sub.connection.isUp;
  }

  get staleCacheValue(): number {
    return this.#cache.staleCacheValue;
  }

  /**
   * Resolves a pool handle (RFC 5352 §3.3). Rejects with UnknownPoolHandleError,
   * HandleResolutionError, NoRegistrarError, RequestTimeoutError or ClosedError.
   */
  resolve(poolHandle: string | Uint8Array, options: ResolveOptions = {}): Promise<ResolvedPoolElement[]> {
    if (this.#closed) return Promise.reject(new ClosedError('pool user'));
    const handle = poolHandleBytes(poolHandle);
    const items = options.items ?? 0;
    if (!this.#cache.enabled) return this.#ask(handle, items);
    if (options.fresh !== true) {
      const hit = this.#cache.lookup(handle, items, performance.now());
      if (hit !== null) return Promise.resolve(hit);
    }
    const key = `${items}|${Buffer.from(handle).toString('latin1')}`;
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const request = this.#ask(handle, items).then((elements) => {
      this.#cache.store(handle, items, elements, performance.now());
      return elements;
    });
    this.#inFlight.set(key, request);
    const done = (): void => {
      this.#inFlight.delete(key);
    };
    request.then(done, done);
    return request;
  }

  /**
   * The raw HANDLE_RESOLUTION_RESPONSE (no cache), for callers that want the pool policy or
   * the codec's objects.
   */
  async resolveResponse(poolHandle: string | Uint8Array, items = 0): Promise<AsapHandleResolutionResponse> {
    if (this.#closed) throw new ClosedError('pool user');
    const handle = poolHandleBytes(poolHandle);
    return this.#withHome((home) => this.#request(home, handle, items));
  }

  /**
   * Ends the subscription to a pool: a resolution without the S bit (RFC 5352 §2.2.5 has no
   * other way), whose answer refreshes the cache. Further resolutions of a `subscribe` PU
   * subscribe again.
   */
  async unsubscribe(poolHandle: string | Uint8Array): Promise<void> {
    const handle = poolHandleBytes(poolHandle);
    const sub = this.#subscriptions.get(handleKey(handle));
    if (sub === undefined) return;
    this.#subscriptions.delete(handleKey(handle));
    this.#cache.pin(handle, false);
    if (sub.connection === null || !sub.connection.isUp || this.#closed) return;
    await sub.connection.resolveHandle(handle, sub.items, false).then(
      (response) => this.#cache.store(handle, sub.items, resolvedPoolElements(response.poolElements), performance.now()),
      () => undefined,
    );
  }

  /**
   * Reports a pool element unreachable (RFC 5352 §3.5, ENDPOINT_UNREACHABLE) and drops it
   * from the cache. Report once per failure event, as §3.5 asks.
   */
  async reportUnreachable(poolHandle: string | Uint8Array, peId: number): Promise<void> {
    if (this.#closed) throw new ClosedError('pool user');
    const handle = poolHandleBytes(poolHandle);
    const entry = this.#cache.peek(handle);
    if (entry !== null) entry.value = entry.value.filter((e) => e.peId !== peId);
    const home = await this.asap.homeConnection();
    home.reportUnreachable(handle, peId);
  }

  /**
   * Opens a session with a pool (RFC 5352 §6.5.1): a PE selected by the registrar's policy,
   * cookies kept, failover to another PE when it fails. See Session.
   */
  openSession(poolHandle: string | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    if (this.#closed) return Promise.reject(new ClosedError('pool user'));
    return Session.open(this, poolHandle, options);
  }

  /** CachePurgeRequest (RFC 5352 §6.4). */
  purgeCache(poolHandle?: string | Uint8Array): void {
    this.#cache.purge(poolHandle === undefined ? undefined : poolHandleBytes(poolHandle));
  }

  close(): void {
    this.#closed = true;
    this.#cache.purge();
    this.asap.off('home', this.#onHomeChange);
    this.asap.off('homeLost', this.#onHomeChange);
    // The registrar ends a subscription on a resolution without the S bit (best effort: the
    // association may be gone, and then so are the subscriptions).
    for (const sub of this.#subscriptions.values()) {
      if (sub.connection !== null && sub.connection.isUp) sub.connection.resolveHandle(sub.poolHandle, sub.items, false).catch(() => undefined);
    }
    this.#subscriptions.clear();
  }

  async #ask(handle: Uint8Array, items: number): Promise<ResolvedPoolElement[]> {
    const response = await this.#withHome((home) => this.#request(home, handle, items));
    return resolvedPoolElements(response.poolElements);
  }

  /** One resolution at `home`: with the S bit if this PU subscribes, the A bit noted. */
  async #request(home: RegistrarConnection, handle: Uint8Array, items: number): Promise<AsapHandleResolutionResponse> {
    if (!this.subscribe) return home.resolveHandle(handle, items);
    this.#listen(home);
    const key = handleKey(handle);
    let sub = this.#subscriptions.get(key);
    if (sub === undefined) {
      sub = { poolHandle: handle.slice(), items, connection: null };
      this.#subscriptions.set(key, sub);
    }
    sub.items = items;
    const response = await home.resolveHandle(handle, items, true);
    this.#accepted(sub, home, response);
    return response;
  }

  /** The A bit of a response: the subscription holds at `home`, or it does not (a limit). */
  #accepted(sub: Subscription, home: RegistrarConnection, response: AsapHandleResolutionResponse): void {
    const accepted = (response.flags & AsapFlag.Accept) !== 0 && response.error === null;
    sub.connection = accepted ? home : null;
    // A subscribed entry stays current by pushes, not by its age (resolve() stores it next).
    this.#cache.pin(sub.poolHandle, accepted);
  }

  #listen(connection: RegistrarConnection): void {
    if (this.#listening.has(connection)) return;
    this.#listening.add(connection);
    connection.on('message', (m, c) => this.#pushed(m, c));
  }

  /** A HANDLE_RESOLUTION_RESPONSE nobody asked for: a push of a subscribed pool (§2.2.6). */
  #pushed(m: AsapMessage, connection: RegistrarConnection): void {
    if (this.#closed || m.type !== AsapType.HandleResolutionResponse) return;
    const sub = this.#subscriptions.get(handleKey(m.poolHandle));
    if (sub === undefined || sub.connection !== connection) return;
    const subscribed = (m.flags & AsapFlag.Accept) !== 0 && m.error === null;
    const elements = m.error === null ? resolvedPoolElements(m.poolElements) : [];
    if (subscribed) {
      this.#cache.store(sub.poolHandle, sub.items, elements, performance.now());
    } else {
      // The pool is gone (Unknown Pool Handle) or the registrar ended the subscription.
      this.#subscriptions.delete(handleKey(sub.poolHandle));
      this.#cache.pin(sub.poolHandle, false);
      if (m.error !== null) this.#cache.purge(sub.poolHandle);
      else this.#cache.store(sub.poolHandle, sub.items, elements, performance.now());
    }
    this.emit('poolChange', { poolHandle: sub.poolHandle, elements, subscribed, cause: 'push' });
  }

  /**
   * The home changed or was lost: subscriptions are the home registrar's state only (RFC 5352
   * §2.2.5), so each is sent again to the (new) home, and its answer is told as a change.
   */
  #resubscribeAll(): void {
    if (this.#closed || this.#subscriptions.size === 0) return;
    for (const sub of this.#subscriptions.values()) {
      if (sub.connection === null || sub.connection === this.asap.home) continue;
      sub.connection = null;
      this.#cache.pin(sub.poolHandle, false);
      const handle = sub.poolHandle;
      this.#withHome((home) => this.#request(home, handle, sub.items)).then(
        (response) => {
          if (this.#closed) return;
          const elements = resolvedPoolElements(response.poolElements);
          this.#cache.store(handle, sub.items, elements, performance.now());
          this.emit('poolChange', { poolHandle: handle, elements, subscribed: sub.connection !== null, cause: 'resubscribed' });
        },
        () => {
          // No home, or the pool is gone: the subscription ends; the next resolve() tries anew.
          if (this.#subscriptions.get(handleKey(handle)) !== sub) return;
          this.#subscriptions.delete(handleKey(handle));
          if (!this.#closed) this.emit('poolChange', { poolHandle: handle, elements: [], subscribed: false, cause: 'resubscribed' });
        },
      );
    }
  }

  /** Runs a request at the home registrar, and again at a new home if that one is lost. */
  async #withHome<T>(request: (home: RegistrarConnection) => Promise<T>): Promise<T> {
    for (let changes = 0; ; changes++) {
      const home = this.asap.home ?? (await this.asap.homeConnection());
      try {
        return await request(home);
      } catch (error) {
        if (changes >= MAX_HOME_CHANGES) throw error;
        if (error instanceof RequestTimeoutError) {
          // RFC 5352 §3.7.2: after MAX-REQUEST-RETRANSMIT, give the home up and hunt.
          this.asap.homeFailed(home);
          continue;
        }
        // §3.7.1: after finding a new home, re-send the request.
        if (error instanceof RegistrarConnectionLostError) continue;
        throw error;
      }
    }
  }
}

function handleKey(handle: Uint8Array): string {
  return Buffer.from(handle.buffer, handle.byteOffset, handle.byteLength).toString('latin1');
}
