// Peer links (RFC 5353 §3.1, §3.4.1) as a state machine: the one SCTP association per peer
// registrar, who starts it, backing off after a failed attempt, messages held until it is up,
// and restarting associations that are stuck. Fed the links' events ('up', 'down') and ticks of
// an injected clock; it does its I/O through LinkIo (start an association, send, abort), so a
// test drives it with fake links in virtual time. No timers inside: the ENRP service
// (enrp-service.ts) calls tick() at nextDeadline().
//
// Rules it keeps:
// - one association per peer, on the ENRP ports of both. Without one, the lower server ID
//   associates at once; the higher one first waits a moment for the lower one's INIT (both
//   sending INIT at once on one port pair is an INIT collision, RFC 9260 §5.2.1, which the
//   userland SCTP does not settle in raw mode), holding the messages, and associates itself if
//   nothing came;
// - an attempt of ours that goes down before up backs off (jittered) before the next one;
//   an association of ours still not up after MAX-TIME-NO-RESPONSE is started afresh, so that
//   messages held for the peer (a takeover's INIT_TAKEOVER among them) go out in time;
// - messages for a peer whose association is not up are held here (at most MAX_PENDING, the
//   oldest go first), not in the association, whose queue is lost if it never comes up;
// - a request of ours (a presence with reply-required, a list request) unanswered for
//   MAX-TIME-NO-RESPONSE over an association SCTP calls up, while the peer is heard otherwise,
//   restarts the association (abort, associate anew): the peer's SCTP may answer HEARTBEATs and
//   never acknowledge our DATA (seen with RSPLIB). Handle table requests have their own timeout
//   in MentorSync, which asks restart() for its download.
import type { Logger } from '../log.js';
import type { RemoteAddress } from '../transport/index.js';
import { EnrpFlag, EnrpType } from '../wire/constants.js';
import { hexId } from '../wire/identifier-text.js';
import { type Link, type Peer, PeerStatus, type PeerTable } from './enrp-peers.js';

/** The I/O the links need; the service does it (and counts it). */
export interface LinkIo<L extends Link> {
  /**
   * Starts an association from our ENRP endpoint to `remote` and says who we are on it (a
   * presence with reply-required, RFC 5353 §3.4.1); null when it cannot be started. This is
   * where a connection to a peer is opened.
   */
  dial(remote: RemoteAddress): L | null;
  /** Sends an ENRP message over the link (a full send queue drops it). */
  transmit(link: L, message: Uint8Array): void;
  /** Aborts the link (RFC 9260 §9.1). */
  abort(link: L, reason: string): void;
  /**
   * A link of this peer is being restarted: returns the response types that wait on it besides
   * the ones tracked here (a handle table download in flight, for the log); such a download
   * waits for the new link.
   */
  restarting(peer: number): number[];
  /** The restarted peer's new link (null: it cannot be associated again). */
  relinked(peer: number, link: L | null): void;
}

export interface LinkTimes {
  maxTimeLastHeard: number;
  maxTimeNoResponse: number;
  /** UDP encapsulation port assumed for a remote that does not name one. */
  peerUdpPort: number;
}

export interface LinkCounters {
  associationRestarts: number;
}

/** Messages held per peer while we wait for its association (presences repeat anyway). */
export const MAX_PENDING = 256;

interface Reconnect {
  at: number;
  remote: RemoteAddress;
  peer: Peer | undefined;
}

export class PeerLinks<L extends Link> {
  /** Links we know of (every association attached to the ENRP endpoint), until down. */
  private readonly links = new Set<L>();
  /** Which peer a link belongs to (bound by a presence over it, or by us associating for it). */
  private readonly owner = new Map<L, number>();
  /** Links whose peer said who it is with a PRESENCE over them (see enrp-peers.ts speaker()). */
  private readonly confirmedLinks = new WeakSet<L>();
  /** Links we started that are not up yet, and since when. */
  private readonly connecting = new Map<L, number>();
  /** Per remote ENRP transport: no new attempt of ours before then (after one failed). */
  private readonly retryAfter = new Map<string, number>();
  /** Requests of ours not answered yet, per link: the response type → when the oldest went out. */
  private readonly unanswered = new Map<L, Map<number, number>>();
  /** Restarted links to associate anew on the next tick (once the ABORT has left). */
  private readonly reconnects: Reconnect[] = [];
  /** Peers holding messages until their wait ends (waitUntil). */
  private readonly waiting = new Set<Peer>();
  /** The periodic check (stale attempts, silent links, expired back-offs), and the last one. */
  private readonly checkEvery: number;
  private lastCheck = -Infinity;
  private wake = Infinity;
  private closed = false;

  constructor(
    private readonly ownId: number,
    private readonly times: LinkTimes,
    private readonly peers: PeerTable,
    private readonly io: LinkIo<L>,
    private readonly counters: LinkCounters,
    private readonly log: Logger,
    /** ENRP from this address is heard (an open scope, or inside --enrp-allow). */
    private readonly inScope: (address: string) => boolean = () => true,
    private readonly random: () => number = Math.random,
  ) {
    this.checkEvery = Math.max(20, Math.min(times.maxTimeLastHeard, times.maxTimeNoResponse) / 5);
  }

  /** The next time tick() has something to do (Infinity: nothing). */
  nextDeadline(): number {
    return this.wake;
  }

  // ------------------------------------------------------------------ link events

  /** An association on our ENRP endpoint (the peer's or ours). */
  attached(link: L): void {
    this.links.add(link);
  }

  /** The link came up: what its peers held goes out. */
  up(link: L, t: number): void {
    this.connecting.delete(link);
    for (const peer of this.peers.all()) if (peer.association === link) this.flush(peer, t);
  }

  /** The link went down; returns the peer it belonged to, if any. */
  down(link: L, t: number): number | undefined {
    this.links.delete(link);
    this.unanswered.delete(link);
    // Down before up: the peer is not there yet, or our INIT met its INIT and the peer's
    // association won (RFC 9260 §5.2.1). Its association may be on its way: give it a moment
    // before trying again.
    if (this.connecting.delete(link)) this.backOff(link.remote, t);
    const id = this.owner.get(link);
    this.owner.delete(link);
    for (const peer of [...this.peers.all()]) {
      if (peer.association !== link) continue;
      peer.association = null;
      // Never up, or lost: what it held is still ours; try again after the back-off.
      if (peer.pending.length > 0 && !this.holding(peer, t)) this.flush(peer, t);
    }
    return id;
  }

  /** The peer the link belongs to. */
  peerOf(link: L): number | undefined {
    return this.owner.get(link);
  }

  confirmed(link: L): boolean {
    return this.confirmedLinks.has(link);
  }

  /** The first message accepted over the link (a PRESENCE, or the peer we opened it for): it is `peer`'s for good. */
  confirm(link: L, peer: number): void {
    this.owner.set(link, peer >>> 0);
    this.confirmedLinks.add(link);
  }

  /** A live link with this remote, whoever started it. */
  linkWith(remote: RemoteAddress): L | undefined {
    const udpPort = remote.udpPort ?? this.times.peerUdpPort;
    for (const x of this.links) {
      if (x.state === 'down' || x.remote.address !== remote.address || x.remote.port !== remote.port) continue;
      if (x.remote.udpPort === undefined || x.remote.udpPort === udpPort) return x;
    }
    return undefined;
  }

  // ------------------------------------------------------------------ associating

  /**
   * Associates to a peer's ENRP transport, or returns the link we already have with it (either
   * side may have started it); null while a failed attempt of ours backs off.
   */
  contact(remote: RemoteAddress, t: number): L | null {
    if (this.closed || !this.inScope(remote.address)) return null;
    const existing = this.linkWith(remote);
    if (existing !== undefined) {
      // An INIT sent before the peer listened waits for its retransmission (RTO.Initial 3 s):
      // start afresh after MAX-TIME-NO-RESPONSE.
      const since = this.connecting.get(existing);
      if (existing.state !== 'connecting' || since === undefined || t - since < this.times.maxTimeNoResponse) return existing;
      this.connecting.delete(existing);
      this.links.delete(existing);
      this.io.abort(existing, 'not up in time; retrying');
    }
    if ((this.retryAfter.get(remoteKey(remote)) ?? 0) > t) return null;
    const link = this.io.dial(remote);
    if (link === null) return null;
    this.links.add(link);
    if (link.state === 'connecting') {
      this.connecting.set(link, t);
      this.due(t + this.checkEvery);
    }
    return link;
  }

  /**
   * Sends to a peer point to point (RFC 5353 §3.1) over its one link (see the rules above).
   * False when it cannot (no way to reach it): the caller's monitoring notices.
   */
  send(peer: Peer, message: Uint8Array, t: number): boolean {
    let a = peer.association as L | null;
    if (a === null || a.state === 'down') {
      a = peer.transport === null ? null : (this.linkWith(peer.transport) ?? null);
      if (a === null) {
        if (peer.transport === null || this.closed) return false;
        if (!this.holding(peer, t)) {
          a = this.contact(peer.transport, t);
          // Backing off after a failed attempt: hold the message until the next one.
          if (a === null && !this.holding(peer, t)) return false;
        }
      }
      if (a !== null && !this.bind(peer, a, t)) return false;
    }
    if (a !== null && a.state === 'up' && peer.pending.length === 0) {
      // A message dropped for a full send queue counts as sent: the peer's monitoring and the
      // send-queue timeout deal with a peer that does not acknowledge.
      this.transmit(a, message, t);
      return true;
    }
    if (peer.pending.length >= MAX_PENDING) peer.pending.shift();
    peer.pending.push(message);
    return true;
  }

  /**
   * The peer's messages go over `link` from now on. False when the link belongs to another
   * peer that confirmed it (a stale or made-up ID pointing at its address); a confirmed link
   * stays its peer's also once that peer left the list (the association is the peer).
   */
  bind(peer: Peer, link: L, t: number): boolean {
    if (peer.association === link) return true;
    if (this.confirmedLinks.has(link)) {
      const other = this.owner.get(link);
      if (other !== undefined && other !== peer.serverId) return false;
    }
    peer.association = link;
    this.owner.set(link, peer.serverId);
    if (link.state === 'up') this.flush(peer, t);
    return true;
  }

  /** Sends over a link and notes a request that waits for an answer over it (see tick()). */
  transmit(link: L, message: Uint8Array, t: number): void {
    this.io.transmit(link, message);
    const expected = link.state === 'up' ? expectedAnswer(message) : undefined;
    if (expected === undefined) return;
    let waiting = this.unanswered.get(link);
    if (waiting === undefined) this.unanswered.set(link, (waiting = new Map()));
    if (!waiting.has(expected)) waiting.set(expected, t); // the oldest one counts
    this.due(t + this.times.maxTimeNoResponse + 1);
  }

  /** A message of `type` arrived over `link`: requests that wait for it are answered. */
  answered(link: L, type: number): void {
    const waiting = this.unanswered.get(link);
    if (waiting === undefined) return;
    // An ENRP_ERROR says the peer read what we sent: nothing is left waiting.
    if (type === EnrpType.Error) waiting.clear();
    else waiting.delete(type);
    if (waiting.size === 0) this.unanswered.delete(link);
  }

  /** True while we leave associating to the peer (lower server ID first; back-off after a failure). */
  private holding(peer: Peer, t: number): boolean {
    if (peer.waitUntil === 0 && this.ownId > peer.serverId) this.holdUntil(peer, t + this.retryBackoff());
    const backoff = peer.transport === null ? 0 : (this.retryAfter.get(remoteKey(peer.transport)) ?? 0);
    if (backoff > t && backoff > peer.waitUntil) this.holdUntil(peer, backoff);
    return t < peer.waitUntil;
  }

  private holdUntil(peer: Peer, at: number): void {
    peer.waitUntil = at;
    this.waiting.add(peer);
    this.due(at + 1);
  }

  /** Held messages go out now: over the peer's link once up, or one we start. */
  private flush(peer: Peer, t: number): void {
    if (this.closed || this.peers.get(peer.serverId) !== peer || peer.pending.length === 0) return;
    const a = peer.association as L | null;
    if (a !== null && a.state === 'up') {
      for (const m of peer.pending.splice(0)) this.transmit(a, m, t);
      return;
    }
    if (a !== null && a.state === 'connecting') return; // flushed on its 'up'
    const found = peer.transport === null ? undefined : this.linkWith(peer.transport);
    const next = found ?? (peer.transport === null || this.holding(peer, t) ? null : this.contact(peer.transport, t));
    if (next !== null && this.bind(peer, next, t)) return;
    if (!this.holding(peer, t)) peer.pending.length = 0; // cannot associate: drop (monitoring notices)
  }

  /** After a failed attempt of ours; also how long a higher server ID waits for a lower one's INIT. */
  private retryBackoff(): number {
    return Math.max(50, Math.min(1000, this.times.maxTimeNoResponse / 4));
  }

  private backOff(remote: RemoteAddress, t: number): void {
    const at = t + this.retryBackoff() * (0.875 + this.random() * 0.25);
    this.retryAfter.set(remoteKey(remote), at);
    this.due(at);
  }

  // ------------------------------------------------------------------ restarts

  /**
   * Aborts `link` and associates anew on the next tick (once the ABORT has left: an INIT ahead
   * of it would meet the old association at the peer), at once whoever started the old one:
   * waiting for the peer to associate could last forever. LinkIo.relinked() is told the new
   * link.
   */
  restart(link: L, t: number, silentMs: number): void {
    const id = this.owner.get(link);
    const peer = id === undefined ? undefined : this.peers.get(id);
    const remote: RemoteAddress = peer?.transport ?? { address: link.remote.address, port: link.remote.port, ...(link.remote.udpPort !== undefined ? { udpPort: link.remote.udpPort } : {}) };
    const waiting = [...(this.unanswered.get(link)?.keys() ?? []), ...(peer === undefined ? [] : this.io.restarting(peer.serverId))];
    this.unanswered.delete(link);
    this.links.delete(link);
    this.connecting.delete(link);
    this.counters.associationRestarts++;
    const where = `${remote.address.includes(':') ? `[${remote.address}]` : remote.address}:${remote.port}`;
    this.log.warn(
      { peer: id === undefined ? null : hexId(id), association: link.id, addresses: link.remoteAddresses, unanswered: waiting.map((type) => enrpTypeName(type)), restarts: this.counters.associationRestarts },
      `ENRP association to ${where} restarted: no response for ${Math.round(silentMs)} ms although up`,
    );
    this.io.abort(link, 'ENRP: no response although the association is up');
    if (this.closed) return;
    this.reconnects.push({ at: t, remote, peer });
    this.due(t);
  }

  /**
   * When the oldest unanswered request of `types` (all: undefined) over `link` went out, if the
   * link is up and its peer was heard since (by any message, over any channel): the peer is
   * alive and talking, so what goes missing is on the way to it. A peer heard from no more is
   * not restarted: monitoring and takeover decide about it (RFC 5353 §3.4.3, §3.5).
   */
  private unansweredSince(link: L): number | undefined {
    const waiting = this.unanswered.get(link);
    if (waiting === undefined || link.state !== 'up') return undefined;
    const id = this.owner.get(link);
    const peer = id === undefined ? undefined : this.peers.get(id);
    if (peer === undefined) return undefined;
    let oldest = Infinity;
    for (const at of waiting.values()) oldest = Math.min(oldest, at);
    return oldest !== Infinity && peer.lastHeard > oldest ? oldest : undefined;
  }

  // ------------------------------------------------------------------ time

  /** Time passed: associate restarted links anew, flush held messages, the periodic check. */
  tick(t: number): void {
    if (this.closed) return;
    for (const r of this.reconnects.splice(0)) {
      if (r.at > t) {
        this.reconnects.push(r);
        continue;
      }
      this.retryAfter.delete(remoteKey(r.remote));
      const next = this.contact(r.remote, t);
      const current = r.peer !== undefined && this.peers.get(r.peer.serverId) === r.peer;
      if (current && next !== null) this.bind(r.peer!, next, t);
      if (r.peer !== undefined) this.io.relinked(r.peer.serverId, current ? next : null);
    }
    for (const peer of [...this.waiting]) {
      if (t < peer.waitUntil) continue;
      this.waiting.delete(peer);
      this.flush(peer, t);
    }
    if (t - this.lastCheck >= this.checkEvery) this.check(t);
    this.wake = this.deadline();
  }

  /**
   * The periodic check: back-offs that ran out are forgotten (the map holds only addresses being
   * waited for), links that carry no answers are restarted, and ours still not up after
   * MAX-TIME-NO-RESPONSE are started afresh.
   */
  private check(t: number): void {
    this.lastCheck = t;
    for (const [key, until] of this.retryAfter) if (until <= t) this.retryAfter.delete(key);
    for (const link of [...this.unanswered.keys()]) {
      const since = this.unansweredSince(link);
      if (since !== undefined && t - since > this.times.maxTimeNoResponse) this.restart(link, t, t - since);
    }
    for (const peer of [...this.peers.all()]) {
      if (peer.status !== PeerStatus.Active) continue;
      const a = peer.association as L | null;
      if (a === null || a.state !== 'connecting' || peer.transport === null) continue;
      const next = this.contact(peer.transport, t); // the same one while it is not stale yet
      if (next !== null && next !== a) this.bind(peer, next, t);
    }
  }

  private deadline(): number {
    let next = Infinity;
    for (const r of this.reconnects) next = Math.min(next, r.at);
    for (const peer of this.waiting) next = Math.min(next, peer.waitUntil + 1);
    if (this.unanswered.size > 0 || this.connecting.size > 0 || this.retryAfter.size > 0) next = Math.min(next, this.lastCheck + this.checkEvery);
    return next;
  }

  private due(at: number): void {
    if (at < this.wake) this.wake = at;
  }

  close(): void {
    this.closed = true;
    this.waiting.clear();
    this.reconnects.length = 0;
  }
}

/**
 * The message type that answers an ENRP request of ours, from the encoded header (type, flags):
 * a presence with the reply-required flag (RFC 5353 §3.4.2) or a list request (§3.2.2.2).
 * Others are not answered (updates, presences), or have their own timers: a handle table
 * request (MentorSync), a takeover (§3.5, PeerMonitoring).
 */
function expectedAnswer(message: Uint8Array): number | undefined {
  switch (message[0]) {
    case EnrpType.Presence:
      return ((message[1] ?? 0) & EnrpFlag.ReplyRequired) !== 0 ? EnrpType.Presence : undefined;
    case EnrpType.ListRequest:
      return EnrpType.ListResponse;
    default:
      return undefined;
  }
}

function enrpTypeName(type: number): string {
  for (const [name, value] of Object.entries(EnrpType)) if (value === type) return name;
  return String(type);
}

function remoteKey(r: RemoteAddress): string {
  return `${r.address}|${r.port}|${r.udpPort ?? ''}`;
}
