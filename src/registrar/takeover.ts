// Takeover arbitration (RFC 5353 §3.5.1): the initiating registrar waits for an
// ENRP_INIT_TAKEOVER_ACK from each known peer except the target; concurrent attempts on the
// same target are settled by server ID. RSPLIB lets the LOWER server ID win
// (shared/notes/rsplib-facts.md), the order this implementation follows so that RSPLIB
// registrars and ours agree on one winner (RFC 5353 §3.5.1 step 2A reads the other way).

export class Takeover {
  /** Peers whose acknowledgement is still awaited. */
  readonly awaited: Set<number>;
  readonly startedAt: number;
  timer: NodeJS.Timeout | undefined;

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
