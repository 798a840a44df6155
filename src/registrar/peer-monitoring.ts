// Peer monitoring and server takeover (RFC 5353 §3.4.3, §3.5) as a state machine: fed the
// messages of the takeover protocol and ticks of an injected clock, it returns what to send and
// what the shards must change; no timers, no sockets, no shard calls inside. The ENRP service
// (enrp-service.ts) applies the actions and calls tick() at nextDeadline().
//
// Rules it keeps:
// - a peer silent for MAX-TIME-LAST-HEARD is asked with a reply-required presence (§3.4.3);
//   one that stays silent for MAX-TIME-NO-RESPONSE after that is dead;
// - a dead peer that ran the heartbeat (mayTakeOver()) is taken over, at most --max-takeovers
//   per MAX-TIME-LAST-HEARD (TakeoverBudget); one heard once is forgotten with its PEs;
// - arbitration (§3.5.1): INIT_TAKEOVER to every peer, won when every other peer acknowledged
//   or at the takeover expiry; a lower initiator ID wins (yieldsTo(), RSPLIB's order);
// - a presence from the target stops our takeover; an INIT_TAKEOVER or TAKEOVER_SERVER for a
//   peer we heard within MAX-TIME-LAST-HEARD is refused: not
//   acknowledged, the peer stays monitored (for us it has not failed); a TAKEOVER_SERVER for a
//   server that is not our peer is refused (no PE is re-homed for it); an INIT_TAKEOVER or
//   TAKEOVER_SERVER naming us is answered with presences.
import type { Logger } from '../log.js';
import { type Peer, PeerStatus, type PeerTable } from './enrp-peers.js';
import { Takeover, TakeoverBudget, mayTakeOver, yieldsTo } from './takeover.js';
import { hexId } from '../wire/identifier-text.js';

/** What the service must do, in this order. `to`, `target`, `home`: server IDs. */
export type MonitorAction =
  /** ENRP_PRESENCE to a peer (reply-required when asked). */
  | { kind: 'presence'; to: number; replyRequired: boolean }
  /** ENRP_PRESENCE with reply-required to a silent peer; report a failed send with unreachable(). */
  | { kind: 'ask'; to: number }
  | { kind: 'initTakeover'; to: number; target: number }
  | { kind: 'initTakeoverAck'; to: number; target: number }
  /** ENRP_TAKEOVER_SERVER (receiver ID 0, as sent to every peer). */
  | { kind: 'takeoverServer'; to: number; target: number }
  /** Every PE of `target` now has `home` as its home registrar (§3.5.2). */
  | { kind: 'takeOver'; target: number; home: number }
  /** Every PE of `target` goes (a peer never established, see mayTakeOver()). */
  | { kind: 'forget'; target: number };

export interface MonitorTimes {
  peerHeartbeatCycle: number;
  maxTimeLastHeard: number;
  maxTimeNoResponse: number;
  takeoverExpiry: number;
  maxTakeoversPerInterval: number;
}

export interface TakeoverCounters {
  takeoversStarted: number;
  takeoversWon: number;
  takeoversYielded: number;
  takeoversRefused: number;
  takeoversLimited: number;
}

export class PeerMonitoring {
  private readonly takeovers = new Map<number, Takeover>();
  private readonly budget: TakeoverBudget;
  /** When we last announced ourselves to every peer for an INIT_TAKEOVER or TAKEOVER_SERVER naming us. */
  private aliveAnnouncedAt = -Infinity;
  /** The earliest deadline made since the last tick (tick() recomputes it). */
  private wake = Infinity;
  /** When the last takeover was decided (benchmarks measure from here). */
  decidedAt = 0;

  constructor(
    private readonly ownId: number,
    private readonly times: MonitorTimes,
    /** The peer list, shared with the service (which keeps the associations in it). */
    readonly peers: PeerTable,
    private readonly counters: TakeoverCounters,
    private readonly log: Logger,
  ) {
    this.budget = new TakeoverBudget(times.maxTakeoversPerInterval, times.maxTimeLastHeard);
  }

  /** The next time tick() has something to do (Infinity: nothing). */
  nextDeadline(): number {
    return this.wake;
  }

  /** True while we arbitrate a takeover of `target`. */
  takingOver(target: number): boolean {
    return this.takeovers.has(target >>> 0);
  }

  /** A peer was heard now (any message; the service updated the peer list): watched from now. */
  heard(peer: Peer): void {
    this.due(peer.lastHeard + this.times.maxTimeLastHeard + 1);
  }

  /** An ENRP_PRESENCE from `peer`: counted, and a takeover of it stops (§3.5.1, last paragraph). */
  presence(peer: Peer): MonitorAction[] {
    peer.presences++;
    this.heard(peer);
    this.cancel(peer.serverId, 'target is alive');
    return [];
  }

  /** The reply-required presence of an 'ask' could not be sent: the peer is dead at the next tick. */
  unreachable(serverId: number): void {
    const peer = this.peers.get(serverId);
    if (peer === undefined || peer.askedAt === 0) return;
    peer.askedAt -= this.times.maxTimeNoResponse;
    this.due(peer.askedAt + this.times.maxTimeNoResponse + 1);
  }

  /** ENRP_INIT_TAKEOVER from `from` (§3.5.1). */
  initTakeover(from: Peer, target: number, t: number): MonitorAction[] {
    if (target === this.ownId) return this.announceAlive(from, t); // step 1: we are alive
    const ours = this.takeovers.get(target);
    if (ours !== undefined) {
      if (!yieldsTo(this.ownId, from.serverId)) return []; // step 2B: ignore, we go on
      this.cancel(target, 'a lower server ID takes it over');
      this.counters.takeoversYielded++;
    }
    const p = this.peers.get(target);
    if (ours === undefined && p !== undefined && p.status === PeerStatus.Active && t - p.lastHeard < this.times.maxTimeLastHeard) {
      // We hear the target: for us it is not failed (a false failure detection, §3.5.1 step
      // 1, or a peer that lies). Not acknowledged, and it stays monitored and updated: the
      // initiator proceeds at its expiry at most, and its TAKEOVER_SERVER is refused while we
      // still hear the target (takeoverServer()).
      if (this.counters.takeoversRefused++ % 1000 === 0) {
        this.log.warn({ target: hexId(target), by: hexId(from.serverId), heardMsAgo: Math.round(t - p.lastHeard), refused: this.counters.takeoversRefused }, 'INIT_TAKEOVER for a peer we hear not acknowledged');
      }
      return [];
    }
    if (p !== undefined) {
      // Steps 2A/3: stop monitoring it, until the initiator's TAKEOVER_SERVER (or see tick()).
      p.status = PeerStatus.NotActive;
      p.yieldedAt = t;
      p.yieldedTo = from.serverId;
      this.due(t + 2 * this.times.takeoverExpiry + 1);
    }
    return [{ kind: 'initTakeoverAck', to: from.serverId, target }];
  }

  /** ENRP_INIT_TAKEOVER_ACK from `from`. */
  initTakeoverAck(from: Peer, target: number, t: number): MonitorAction[] {
    const takeover = this.takeovers.get(target);
    if (takeover === undefined || !takeover.acknowledged(from.serverId)) return [];
    return this.complete(takeover, 'all peers acknowledged', t);
  }

  /** ENRP_TAKEOVER_SERVER from `from` (§3.5.2). */
  takeoverServer(from: Peer, target: number, t: number): MonitorAction[] {
    if (target === this.ownId) return this.announceAlive(from, t); // taken over while alive: say so
    const p = this.peers.get(target);
    if (p === undefined) {
      // A server we never knew (or one already taken over or forgotten): nothing of ours to
      // update, and its PEs (if a table brought any) are not re-homed on a stranger's word.
      if (this.counters.takeoversRefused++ % 1000 === 0) {
        this.log.warn({ target: hexId(target), by: hexId(from.serverId), refused: this.counters.takeoversRefused }, 'TAKEOVER_SERVER for a server that is not our peer refused');
      }
      return [];
    }
    if (t - p.lastHeard < this.times.maxTimeLastHeard) {
      // We heard the target within MAX-TIME-LAST-HEARD: not dead, whoever says so (§3.5.1
      // stops a takeover of a target that is heard; an INIT_TAKEOVER we acknowledged does not
      // change that). Its PEs stay its own.
      this.counters.takeoversRefused++;
      this.log.warn({ target: hexId(target), by: hexId(from.serverId) }, 'TAKEOVER_SERVER for a peer we hear refused');
      return [];
    }
    this.cancel(target, 'another registrar took it over');
    this.peers.remove(target);
    return [{ kind: 'takeOver', target, home: from.serverId }];
  }

  /** Time passed: ask silent peers, declare dead ones, end takeovers at their expiry. */
  tick(t: number): MonitorAction[] {
    const out: MonitorAction[] = [];
    const c = this.times;
    // Peers that never acknowledged may be dead as well: RSPLIB proceeds at expiry.
    for (const takeover of [...this.takeovers.values()]) {
      if (t - takeover.startedAt >= c.takeoverExpiry && this.takeovers.get(takeover.target) === takeover) out.push(...this.complete(takeover, 'takeover expiry', t));
    }
    for (const peer of [...this.peers.all()]) {
      if (this.peers.get(peer.serverId) !== peer) continue; // removed by a takeover above
      if (peer.status === PeerStatus.NotActive && t - peer.yieldedAt > 2 * c.takeoverExpiry) {
        // The initiator we acknowledged decides within its takeover expiry; no TAKEOVER_SERVER
        // since then: it died (or lost) before announcing, and the target's PEs would have no
        // live home. Watch the target again: asked once more, taken over if it stays silent.
        this.log.warn({ target: hexId(peer.serverId), initiator: hexId(peer.yieldedTo), sinceMs: Math.round(t - peer.yieldedAt) }, 'takeover acknowledged but never announced: monitoring the peer again');
        peer.status = PeerStatus.Active;
        peer.askedAt = t;
        out.push({ kind: 'presence', to: peer.serverId, replyRequired: true });
        continue;
      }
      if (peer.status !== PeerStatus.Active) continue;
      if (peer.askedAt === 0 && t - peer.lastHeard > c.maxTimeLastHeard) {
        peer.askedAt = t;
        this.log.info({ peer: hexId(peer.serverId), silentMs: Math.round(t - peer.lastHeard) }, 'peer silent: presence with reply-required sent');
        out.push({ kind: 'ask', to: peer.serverId });
      } else if (peer.askedAt !== 0 && t - peer.askedAt > c.maxTimeNoResponse) {
        out.push(...this.dead(peer, t));
      }
    }
    this.wake = this.deadline(t);
    return out;
  }

  /** A deadline was made at `at`: tick() is due by then. */
  private due(at: number): void {
    if (at < this.wake) this.wake = at;
  }

  /** The earliest moment after `t` at which tick() changes something. */
  private deadline(t: number): number {
    const c = this.times;
    let next = Infinity;
    for (const takeover of this.takeovers.values()) next = Math.min(next, takeover.startedAt + c.takeoverExpiry);
    for (const peer of this.peers.all()) {
      let at = Infinity;
      if (peer.status === PeerStatus.NotActive) at = peer.yieldedAt + 2 * c.takeoverExpiry + 1;
      else if (peer.status !== PeerStatus.Active) continue;
      else if (peer.askedAt === 0) at = peer.lastHeard + c.maxTimeLastHeard + 1;
      else {
        at = peer.askedAt + c.maxTimeNoResponse + 1;
        if (at <= t) at = Math.max(t + 1, this.budget.nextWindow); // dead, over the budget: the next window
      }
      next = Math.min(next, at);
    }
    return next;
  }

  /**
   * RFC 5353 §3.4.3: the peer is dead. Established peers (mayTakeOver()) are taken over, at
   * most --max-takeovers per MAX-TIME-LAST-HEARD (the rest wait, still dead, for the next
   * interval); others are forgotten with their PEs (nothing is adopted from a server ID that
   * never ran a heartbeat), and nothing is sent for them.
   */
  private dead(peer: Peer, t: number): MonitorAction[] {
    if (!mayTakeOver(peer.presences, peer.answeredUs)) {
      this.counters.takeoversRefused++;
      this.peers.remove(peer.serverId);
      this.log.warn({ peer: hexId(peer.serverId), presences: peer.presences }, 'silent peer never established: forgotten with its PEs, not taken over');
      return [{ kind: 'forget', target: peer.serverId }];
    }
    if (!this.budget.take(t)) {
      if (!peer.takeoverDeferred) {
        peer.takeoverDeferred = true;
        this.counters.takeoversLimited++;
        this.log.warn({ peer: hexId(peer.serverId), limit: this.times.maxTakeoversPerInterval }, 'takeover deferred: --max-takeovers reached in this interval');
      }
      return [];
    }
    peer.takeoverDeferred = false;
    return this.start(peer, t);
  }

  private start(target: Peer, t: number): MonitorAction[] {
    target.status = PeerStatus.TakingOver;
    const active = this.peers.active();
    const others = active.filter((p) => p.serverId !== target.serverId).map((p) => p.serverId);
    const takeover = new Takeover(target.serverId, others, t);
    this.takeovers.set(target.serverId, takeover);
    this.counters.takeoversStarted++;
    this.log.warn({ target: hexId(target.serverId), awaiting: others.map(hexId) }, 'peer dead: takeover arbitration started');
    // To every peer, the target included (RFC 5353 §3.5.1).
    const out: MonitorAction[] = active.map((p) => ({ kind: 'initTakeover', to: p.serverId, target: target.serverId }));
    this.due(t + this.times.takeoverExpiry);
    if (takeover.complete) out.push(...this.complete(takeover, 'no other peer to ask', t));
    return out;
  }

  private cancel(target: number, why: string): void {
    if (!this.takeovers.delete(target >>> 0)) return;
    const peer = this.peers.get(target);
    if (peer !== undefined && peer.status === PeerStatus.TakingOver) peer.status = PeerStatus.Active;
    this.log.info({ target: hexId(target) }, `takeover stopped: ${why}`);
  }

  /** RFC 5353 §3.5.2: announce, then own every PE of the target (keep-alives with H follow). */
  private complete(takeover: Takeover, why: string, t: number): MonitorAction[] {
    this.takeovers.delete(takeover.target);
    this.counters.takeoversWon++;
    this.peers.remove(takeover.target);
    const out: MonitorAction[] = this.peers.active().map((p) => ({ kind: 'takeoverServer', to: p.serverId, target: takeover.target }));
    out.push({ kind: 'takeOver', target: takeover.target, home: this.ownId });
    this.decidedAt = t;
    this.log.warn({ target: hexId(takeover.target), arbitrationMs: Math.round(t - takeover.startedAt) }, `takeover: the target's pool elements are now ours (${why})`);
    return out;
  }

  /**
   * An INIT_TAKEOVER or TAKEOVER_SERVER names us: a presence to its sender at once, and to
   * every other peer at most once per PEER-HEARTBEAT-CYCLE (a flood of them must not make
   * each one a message to every peer).
   */
  private announceAlive(sender: Peer, t: number): MonitorAction[] {
    const out: MonitorAction[] = [{ kind: 'presence', to: sender.serverId, replyRequired: false }];
    if (t - this.aliveAnnouncedAt < this.times.peerHeartbeatCycle) return out;
    this.aliveAnnouncedAt = t;
    for (const p of this.peers.all()) if (p !== sender) out.push({ kind: 'presence', to: p.serverId, replyRequired: false });
    return out;
  }
}

