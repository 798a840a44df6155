// The PU's cache of handle resolutions (RFC 5352 §3.3 C1-C4): consulted before a request,
// each entry stale after stale_cache_value (§7.2). A stale entry is refreshed and the caller
// waits for the refresh (C3's blocking option).
import { bytesEqual, poolHandleHash } from './pool-handle.js';

export interface CacheEntry<T> {
  poolHandle: Uint8Array;
  /** Elements the request asked for (a later request for more is not answered from here). */
  items: number;
  value: T;
  /** performance.now() when it turns stale. */
  staleAt: number;
  /**
   * Kept current by the registrar (a subscription it accepted, RFC 5352 §2.2.6): not stale
   * by age while pinned.
   */
  pinned: boolean;
}

export class HandleResolutionCache<T> {
  readonly #entries = new Map<number, CacheEntry<T>[]>();
  /** Handles (latin1 text) whose entries are pinned. */
  readonly #pinned = new Set<string>();

  constructor(readonly staleCacheValue: number) {}

  get enabled(): boolean {
    return this.staleCacheValue > 0;
  }

  /** C1/C4: a fresh entry answering a request for `items` elements, or null. */
  lookup(poolHandle: Uint8Array, items: number, now: number): T | null {
    const list = this.#entries.get(poolHandleHash(poolHandle));
    if (list === undefined) return null;
    for (const e of list) {
      if (!bytesEqual(e.poolHandle, poolHandle)) continue;
      if ((!e.pinned && e.staleAt <= now) || items > e.items) return null;
      return e.value;
    }
    return null;
  }

  store(poolHandle: Uint8Array, items: number, value: T, now: number): void {
    if (!this.enabled) return;
    const key = poolHandleHash(poolHandle);
    const pinned = this.#pinned.has(poolHandleKeyText(poolHandle));
    const entry: CacheEntry<T> = { poolHandle: poolHandle.slice(), items, value, staleAt: now + this.staleCacheValue, pinned };
    const list = this.#entries.get(key);
    if (list === undefined) {
      this.#entries.set(key, [entry]);
      return;
    }
    const i = list.findIndex((e) => bytesEqual(e.poolHandle, poolHandle));
    if (i >= 0) list[i] = entry;
    else list.push(entry);
  }

  /**
   * Pins a handle's entry (present or stored later) while a subscription keeps it current, or
   * unpins it: from then on it ages as any other (stale at once if older than staleCacheValue).
   */
  pin(poolHandle: Uint8Array, pinned: boolean): void {
    const text = poolHandleKeyText(poolHandle);
    if (pinned) this.#pinned.add(text);
    else this.#pinned.delete(text);
    const entry = this.peek(poolHandle);
    if (entry !== null) entry.pinned = pinned;
  }

  /** The cached value for a handle regardless of staleness (to edit it), or null. */
  peek(poolHandle: Uint8Array): CacheEntry<T> | null {
    const list = this.#entries.get(poolHandleHash(poolHandle));
    return list?.find((e) => bytesEqual(e.poolHandle, poolHandle)) ?? null;
  }

  /** CachePurgeRequest (RFC 5352 §6.4): one pool, or everything. */
  purge(poolHandle?: Uint8Array): void {
    if (poolHandle === undefined) {
      this.#entries.clear();
      this.#pinned.clear();
      return;
    }
    const key = poolHandleHash(poolHandle);
    const list = this.#entries.get(key);
    if (list === undefined) return;
    const rest = list.filter((e) => !bytesEqual(e.poolHandle, poolHandle));
    if (rest.length === 0) this.#entries.delete(key);
    else this.#entries.set(key, rest);
  }
}

function poolHandleKeyText(handle: Uint8Array): string {
  return Buffer.from(handle.buffer, handle.byteOffset, handle.byteLength).toString('latin1');
}
