// Takeover arbitration (RFC 5353 §3.5.1): the initiating registrar waits for an
// ENRP_INIT_TAKEOVER_ACK from each known peer except the target; concurrent attempts on the
// same target are settled by server ID. RSPLIB lets the LOWER server ID win
// (shared/notes/rsplib-facts.md), the order this implementation follows so that RSPLIB
// registrars and ours agree on one winner (RFC 5353 §3.5.1 step 2A reads the other way).

export class Takeover {
  /** Peers whose acknowledgement is still awaited. */
  readonly awaited: Set<number>;
  readonly startedAt: number;

  constructor(
    readonly target: number,
    peers: Iterable<number>,
    now: number,
  ) {
    this.awaited = new Set(peers);
    this.awaited.delete(target);
    this.startedAt = now;
  }

  /** An acknowledgement arrived; true when none is awaited any more (we won). */
  acknowledged(serverId: number): boolean {
    this.awaited.delete(serverId >>> 0);
    return this.awaited.size === 0;
  }

  get complete(): boolean {
    return this.awaited.size === 0;
  }
}

/**
 * Step 2 of RFC 5353 §3.5.1 with RSPLIB's order: our own attempt yields to an initiator with
 * a lower server ID (we abort and acknowledge); otherwise the other's INIT_TAKEOVER is ignored.
 */
export function yieldsTo(ownId: number, initiatorId: number): boolean {
  return initiatorId >>> 0 < ownId >>> 0;
}

/**
 * Only a peer that has run the heartbeat is taken over (RFC 5353 §3.4.2, §3.5): it announced
 * itself with a PRESENCE and again at least once after (the reply to our reply-required
 * presence, then its PEER-HEARTBEAT-CYCLE), or it answered a request of ours (a handle table
 * or server list we asked for: a mentor), so it was a working server that fell silent. A
 * server ID heard once (one presence, possibly a made-up one) that falls silent is forgotten
 * with its PEs instead: adopting them would make us home of PEs no real server ever held.
 */
export function mayTakeOver(presencesHeard: number, answeredUs = false): boolean {
  return presencesHeard >= 2 || answeredUs;
}

/**
 * At most `max` takeovers started per `interval` ms (MAX-TIME-LAST-HEARD; --max-takeovers):
 * a fixed window that opens with the first takeover after the previous one closed. A peer
 * over the budget waits (still dead) for the next window.
 */
export class TakeoverBudget {
  private windowStart = -Infinity;
  private used = 0;

  constructor(
    private readonly max: number,
    private readonly interval: number,
  ) {}

  /** True (and one is used) when a takeover may start at `now`. */
  take(now: number): boolean {
    if (now - this.windowStart >= this.interval) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }

  /** When the next window opens (a takeover refused now may start then). */
  get nextWindow(): number {
    return this.windowStart + this.interval;
  }
}
