// Startup with a mentor and handle table downloads (RFC 5353 §3.2, §3.6.3) as a state machine:
// fed the peers heard, the handle table responses and ticks of an injected clock, it returns
// what to ask and when the registrar may serve ASAP; no timers, no sockets, no shard calls. The
// ENRP service (enrp-service.ts) applies the actions and calls tick() at nextDeadline().
//
// Rules it keeps:
// - without any way to find a peer we are alone and ready at once (§3.2.2.1); otherwise ready at
//   the mentor discovery timeout, unless the mentor's table flows by then (then: once loaded);
// - the first peer heard while starting is the mentor: an ENRP_LIST_REQUEST and a full
//   ENRP_HANDLE_TABLE_REQUEST go to it (§3.2.3); only the list we asked for is taken; a
//   rejected list request is asked again with a doubling back-off (a few times);
// - a download (from the mentor, a peer's own PEs for an audit, or for a restarted shard) asks
//   page by page, each request with MAX-TIME-NO-RESPONSE; a rejection is asked again a little
//   later; an expired request is the service's to retry once over a restarted association or
//   to give up (failed()); a failed mentor download makes us ready with what was loaded.

/** A rejected ENRP_LIST_REQUEST is asked again at most this often, */
const MAX_LIST_REJECTIONS = 6;
/** and waits at most this long (ms) before it is. */
const MAX_LIST_BACKOFF = 30_000;

export interface SyncTimes {
  mentorDiscoveryTimeout: number;
  maxTimeNoResponse: number;
}

export interface SyncCounters {
  tablePagesReceived: number;
  unsolicited: number;
}

/** A handle table we download. */
export interface Download {
  readonly peer: number;
  readonly ownOnly: boolean;
  /** Only this shard takes the table (a restarted shard reloads); null: every shard. */
  readonly shard: number | null;
  /** The association was restarted once for this download already. */
  restarted: boolean;
  /** When the request in flight went out. */
  askedAt: number;
  /** When the request in flight expires (the one download timeout); Infinity: none in flight. */
  expiresAt: number;
  /** When a rejected request is asked again; Infinity: not rejected. */
  askAgainAt: number;
}

export type SyncAction =
  /** The registrar may serve ASAP (§3.2.3 step 5). */
  | { kind: 'ready'; why: string }
  /** An ENRP_LIST_REQUEST (§3.2.2.2); `again`: after a rejection. */
  | { kind: 'listRequest'; to: number; again: boolean }
  | { kind: 'tableRequest'; to: number; ownOnly: boolean }
  /** The response just fed is a page to hand to the shards (all, or `shard`), as own-PEs-only or full. */
  | { kind: 'page'; from: number; ownOnly: boolean; shard: number | null }
  /** An audit's table is complete: whatever is still marked goes (§3.6.3 step 5). */
  | { kind: 'auditEnd'; peer: number }
  /** A restarted shard's table is complete. */
  | { kind: 'shardReloaded'; peer: number; shard: number }
  /** A request went unanswered for MAX-TIME-NO-RESPONSE: restart and ask() again, or failed(). */
  | { kind: 'expired'; download: Download }
  /** A download was given up. */
  | { kind: 'abandoned'; download: Download; why: string };

export class MentorSync {
  private readonly downloads = new Map<number, Download>();
  /**
   * Peers we sent an ENRP_LIST_REQUEST and await the response of: how often it was rejected,
   * and when it is asked again (Infinity: the request is out).
   */
  private readonly listAsked = new Map<number, { rejected: number; againAt: number }>();
  private discoveryAt = Infinity;
  private wake = Infinity;
  ready = false;
  mentor: number | null = null;

  constructor(
    private readonly times: SyncTimes,
    private readonly counters: SyncCounters,
  ) {}

  /** The next time tick() has something to do (Infinity: nothing). */
  nextDeadline(): number {
    return this.wake;
  }

  /** ENRP starts; `alone`: no configured peer and no presence channel (§3.2.2.1). */
  start(alone: boolean, t: number): SyncAction[] {
    if (alone) return this.becomeReady('no peers configured and no presence channel');
    this.discoveryAt = t + this.times.mentorDiscoveryTimeout;
    this.due(this.discoveryAt);
    return [];
  }

  /** A download from this peer is running. */
  download(peer: number): Download | undefined {
    return this.downloads.get(peer >>> 0);
  }

  /** A peer was heard (any message): while starting without a mentor, it becomes the mentor. */
  heard(peer: number, t: number): SyncAction[] {
    if (this.ready || this.mentor !== null) return [];
    this.mentor = peer >>> 0;
    // The discovery timeout keeps running until the mentor's table actually flows: two
    // registrars starting together pick each other and reject each other (§3.2.3).
    this.listAsked.set(this.mentor, { rejected: 0, againAt: Infinity });
    return [{ kind: 'listRequest', to: this.mentor, again: false }, ...this.ask(this.mentor, false, null, t)];
  }

  /**
   * An ENRP_LIST_RESPONSE from `peer`: true when we asked for it (it is taken, once). A
   * rejection (the peer is starting, §3.2.2.2) is asked again after a back-off that doubles,
   * at most MAX_LIST_REJECTIONS times; then the peers are learned from presences alone.
   */
  listResponse(peer: number, rejected: boolean, t: number): boolean {
    const asked = this.listAsked.get(peer >>> 0);
    if (asked === undefined || asked.againAt !== Infinity) {
      this.counters.unsolicited++;
      return false;
    }
    if (!rejected) {
      this.listAsked.delete(peer >>> 0);
      return true;
    }
    asked.rejected++;
    if (asked.rejected > MAX_LIST_REJECTIONS) {
      this.listAsked.delete(peer >>> 0);
      return false;
    }
    asked.againAt = t + Math.min(MAX_LIST_BACKOFF, Math.min(1000, this.times.maxTimeNoResponse) * 2 ** (asked.rejected - 1));
    this.due(asked.againAt);
    return false;
  }

  /** Asks `peer` for (the next page of) its handle table; a running download keeps its kind. */
  ask(peer: number, ownOnly: boolean, shard: number | null, t: number): SyncAction[] {
    const id = peer >>> 0;
    let d = this.downloads.get(id);
    if (d === undefined) {
      d = { peer: id, ownOnly, shard, restarted: false, askedAt: t, expiresAt: Infinity, askAgainAt: Infinity };
      this.downloads.set(id, d);
    }
    d.askedAt = t;
    d.expiresAt = t + this.times.maxTimeNoResponse;
    d.askAgainAt = Infinity;
    this.due(d.expiresAt);
    return [{ kind: 'tableRequest', to: id, ownOnly: d.ownOnly }];
  }

  /** The service restarts the association for an expired request; it asks again or fails after. */
  restarting(d: Download): void {
    d.restarted = true;
    d.expiresAt = Infinity;
  }

  /** An ENRP_HANDLE_TABLE_RESPONSE from `peer`. */
  response(peer: number, rejected: boolean, more: boolean, t: number): SyncAction[] {
    const d = this.downloads.get(peer >>> 0);
    if (d === undefined) {
      this.counters.unsolicited++; // not asked for: ignored
      return [];
    }
    d.expiresAt = Infinity;
    if (rejected) {
      // §3.2.3: rejected (the peer is busy or starting): ask again a little later.
      d.askAgainAt = t + Math.min(1000, this.times.maxTimeNoResponse);
      this.due(d.askAgainAt);
      return [];
    }
    this.counters.tablePagesReceived++;
    if (!d.ownOnly) this.discoveryAt = Infinity; // the table flows: ready once loaded
    const out: SyncAction[] = [{ kind: 'page', from: d.peer, ownOnly: d.ownOnly, shard: d.shard }];
    if (more) return [...out, ...this.ask(d.peer, d.ownOnly, d.shard, t)];
    this.downloads.delete(d.peer);
    if (d.ownOnly) out.push({ kind: 'auditEnd', peer: d.peer });
    else if (d.shard !== null) out.push({ kind: 'shardReloaded', peer: d.peer, shard: d.shard });
    else out.push(...this.becomeReady('handlespace loaded from the mentor'));
    return out;
  }

  /** The download is given up; a mentor's makes us ready with what was loaded. */
  failed(d: Download, why: string): SyncAction[] {
    if (this.downloads.get(d.peer) !== d) return [];
    this.downloads.delete(d.peer);
    const out: SyncAction[] = [{ kind: 'abandoned', download: d, why }];
    // An audit without its table sweeps nothing (its marks are replaced by the next audit).
    if (!d.ownOnly && d.shard === null) out.push(...this.becomeReady('mentor stopped answering; serving what was loaded'));
    return out;
  }

  /** Time passed: the discovery timeout, rejected requests asked again, requests expired. */
  tick(t: number): SyncAction[] {
    const out: SyncAction[] = [];
    if (t >= this.discoveryAt) out.push(...this.becomeReady('no mentor found within the mentor discovery timeout'));
    for (const [peer, asked] of this.listAsked) {
      if (t < asked.againAt) continue;
      asked.againAt = Infinity;
      out.push({ kind: 'listRequest', to: peer, again: true });
    }
    for (const d of [...this.downloads.values()]) {
      if (t >= d.askAgainAt) out.push(...this.ask(d.peer, d.ownOnly, d.shard, t));
      else if (t >= d.expiresAt) {
        d.expiresAt = Infinity;
        out.push({ kind: 'expired', download: d });
      }
    }
    this.wake = this.discoveryAt;
    for (const d of this.downloads.values()) this.wake = Math.min(this.wake, d.expiresAt, d.askAgainAt);
    for (const asked of this.listAsked.values()) this.wake = Math.min(this.wake, asked.againAt);
    return out;
  }

  private becomeReady(why: string): SyncAction[] {
    this.discoveryAt = Infinity;
    if (this.ready) return [];
    this.ready = true;
    return [{ kind: 'ready', why }];
  }

  private due(at: number): void {
    if (at < this.wake) this.wake = at;
  }
}
