// A pool user (RFC 5352 §3.3, §3.5): resolves pool handles to pool elements at the home
// registrar of its ASAP endpoint, with a cache (§3.3 C1-C4) and unreachability reports.
// The session layer (cookies, business cards, failover, RFC 5352 §3.8-3.9) builds on this.
import type { AsapHandleResolutionResponse } from '../wire/messages.js';
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

export class PoolUser {
  readonly asap: AsapEndpoint;
  readonly #cache: HandleResolutionCache<ResolvedPoolElement[]>;
  /** Requests under way per cached handle, so concurrent misses share one (cache on only). */
  readonly #inFlight = new Map<string, Promise<ResolvedPoolElement[]>>();
  #closed = false;

  constructor(asap: AsapEndpoint, options: PoolUserOptions = {}) {
    this.asap = asap;
    this.#cache = new HandleResolutionCache(options.staleCacheValue ?? DEFAULT_STALE_CACHE_VALUE);
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
    return this.#withHome((home) => home.resolveHandle(poolHandleBytes(poolHandle), items));
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
  }

  async #ask(handle: Uint8Array, items: number): Promise<ResolvedPoolElement[]> {
    const response = await this.#withHome((home) => home.resolveHandle(handle, items));
    return resolvedPoolElements(response.poolElements);
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
