// A resumable walk for ENRP handle table transfer (RFC 5353 §2.3, §3.6.3): pages of up to N
// PEs with the M ("more to send") flag. It rides on a live Map iterator over the pools, which
// ECMAScript defines to survive modification, each pool's ElementTable walk (element-table.ts)
// and, for one owner's PEs, an OwnerWalk, which behave alike: an entry that stays is visited
// exactly once, a removed one is not visited after its removal (one added later may or may
// not be: peers learn it from a handle update anyway). A pool that empties and is re-created
// is a new pool, appended to the walk.
import type { OwnerSet, OwnerWalk } from './owner-set.js';
import type { PoolElement } from './pool-element.js';
import type { Pool } from './pool.js';

export class HandleTableCursor {
  private poolIterator: Iterator<Pool> | undefined;
  private elementIterator: Iterator<PoolElement> | undefined;
  private ownerWalk: OwnerWalk | undefined;
  /** One element read ahead, so a page knows whether more follow. */
  private lookahead: PoolElement | undefined;
  private exhausted = false;

  private constructor(pools: Iterator<Pool> | undefined, elements: Iterator<PoolElement> | undefined) {
    this.poolIterator = pools;
    this.elementIterator = elements;
  }

  static overPools(pools: Map<string, Pool>): HandleTableCursor {
    return new HandleTableCursor(pools.values(), undefined);
  }

  static overOwner(owner: OwnerSet): HandleTableCursor {
    const cursor = new HandleTableCursor(undefined, undefined);
    cursor.ownerWalk = owner.walk();
    return cursor;
  }

  /**
   * Fills `out` (cleared first) with up to `max` PEs still registered and returns true if more
   * follow (the M flag), false when the walk is complete.
   */
  next(max: number, out: PoolElement[]): boolean {
    out.length = 0;
    while (out.length < max) {
      const e = this.advance();
      if (e === undefined) return false;
      out.push(e);
    }
    this.lookahead = this.advance();
    return this.lookahead !== undefined;
  }

  /** True once the walk has reached its end. */
  get done(): boolean {
    return this.exhausted && this.lookahead === undefined;
  }

  private advance(): PoolElement | undefined {
    const ahead = this.lookahead;
    if (ahead !== undefined) {
      this.lookahead = undefined;
      if (ahead.registered) return ahead;
    }
    if (this.exhausted) return undefined;
    if (this.ownerWalk !== undefined) {
      const e = this.ownerWalk.take();
      if (e !== undefined) return e;
      this.exhausted = true;
      return undefined;
    }
    for (;;) {
      if (this.elementIterator !== undefined) {
        const r = this.elementIterator.next();
        if (!r.done) return r.value;
        this.elementIterator = undefined;
      }
      if (this.poolIterator === undefined) break;
      const p = this.poolIterator.next();
      if (p.done) break;
      this.elementIterator = p.value.elements.values();
    }
    this.exhausted = true;
    return undefined;
  }
}
