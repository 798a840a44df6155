// The peer list (RFC 5353 §3.4): every known peer registrar with the variables the RFC keeps
// for it (peer_last_heard, pe_checksum_pr, §4.1), where to reach it, and its monitoring state
// (§3.4.3: silent → asked with the reply-required flag → dead → takeover, §3.5).
import type { RemoteAddress } from '../transport/index.js';

/** What the peer list and the peer links (peer-links.ts) need of an association. */
export interface Link {
  readonly id: number;
  /** 'connecting' until 'up', 'up', then 'down'. */
  readonly state: 'connecting' | 'up' | 'down';
  /** The peer's primary transport address. */
  readonly remote: RemoteAddress;
  /** Every address of the peer (multi-homing), the primary first. */
  readonly remoteAddresses: readonly string[];
}

export const PeerStatus = {
  /** Heard recently, or asked and still within MAX-TIME-NO-RESPONSE. */
  Active: 0,
  /** Another registrar is taking it over (RFC 5353 §3.5.1 "not active"): not monitored. */
  NotActive: 1,
  /** We are taking it over. */
  TakingOver: 2,
} as const;
export type PeerStatus = (typeof PeerStatus)[keyof typeof PeerStatus];

export class Peer {
  status: PeerStatus = PeerStatus.Active;
  /** peer_last_heard (RFC 5353 §4.1), ms (performance.now()). */
  lastHeard: number;
  /** When we sent it a presence with the reply-required flag; 0: not asked. */
  askedAt = 0;
  /** While NotActive: when, and for whom, we acknowledged its takeover. */
  yieldedAt = 0;
  yieldedTo = 0;
  /** ENRP_PRESENCEs heard from it (see mayTakeOver() in takeover.ts). */
  presences = 0;
  /** It answered a request of ours (a handle table or server list we asked for). */
  answeredUs = false;
  /** It was counted as over the takeover budget while dead (counted once per wait). */
  takeoverDeferred = false;
  /** pe_checksum_pr as last announced by the peer, or null. */
  announcedChecksum: number | null = null;
  association: Link | null = null;
  /**
   * Until when we leave it to the peer to associate (ms, performance.now()); 0: never held.
   * One association per peer, on the ENRP ports of both: the higher server ID waits a moment
   * for the lower one's INIT rather than sending its own at the same time (peer-links.ts).
   */
  waitUntil = 0;
  /** Messages for it held while waiting (sent once an association exists). */
  readonly pending: Uint8Array[] = [];

  constructor(
    readonly serverId: number,
    /** Its ENRP transport address (SCTP port, UDP encapsulation port). */
    public transport: RemoteAddress | null,
    now: number,
  ) {
    this.lastHeard = now;
  }
}

export class PeerTable {
  private readonly peers = new Map<number, Peer>();

  get size(): number {
    return this.peers.size;
  }

  get(serverId: number): Peer | undefined {
    return this.peers.get(serverId >>> 0);
  }

  all(): IterableIterator<Peer> {
    return this.peers.values();
  }

  /** Peers that take part in arbitration and updates (not the ones being taken over). */
  active(): Peer[] {
    return [...this.peers.values()].filter((p) => p.status !== PeerStatus.NotActive);
  }

  /**
   * A message from `serverId` arrived (RFC 5353 §3.4.1, §3.4.3): the peer is (re)added and
   * heard now. Returns the peer and whether it is new.
   */
  heard(serverId: number, now: number, transport: RemoteAddress | null): { peer: Peer; isNew: boolean } {
    const id = serverId >>> 0;
    let peer = this.peers.get(id);
    const isNew = peer === undefined;
    if (peer === undefined) {
      peer = new Peer(id, transport, now);
      this.peers.set(id, peer);
    } else if (transport !== null) {
      peer.transport = transport;
    }
    peer.lastHeard = now;
    peer.askedAt = 0;
    if (peer.status === PeerStatus.NotActive) peer.status = PeerStatus.Active;
    return { peer, isNew };
  }

  remove(serverId: number): Peer | undefined {
    const peer = this.peers.get(serverId >>> 0);
    this.peers.delete(serverId >>> 0);
    if (peer !== undefined) peer.pending.length = 0;
    return peer;
  }
}

/**
 * May a datagram from `address` (a multicast ENRP_PRESENCE) speak for `peer`? Only from an
 * address the peer is known by: the one we reach it at, or one of its association's (SCTP
 * multi-homing). Otherwise anyone in scope could keep a dead peer alive, or stop our takeover
 * of it, with a presence carrying its ID. A peer not reached by any address yet takes the
 * first one heard. IPv4-mapped IPv6 spellings compare equal to their IPv4 form.
 */
export function fromPeerAddress(peer: Peer, address: string): boolean {
  const a = peer.association;
  if (peer.transport === null && (a === null || a.state === 'down')) return true;
  const x = plain(address);
  if (peer.transport !== null && plain(peer.transport.address) === x) return true;
  if (a === null || a.state === 'down') return false;
  return plain(a.remote.address) === x || a.remoteAddresses.some((r) => plain(r) === x);
}

function plain(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** What a message over an association is, by who sent it (see speaker()). */
export const Speaker = {
  /** The association's peer: the message is processed. */
  Peer: 0,
  /** A PRESENCE over an association without a (live, confirmed) peer: its sender becomes its peer. */
  Binds: 1,
  /** Anything but a PRESENCE over an association without a peer: ignored (fromNonPeers). */
  NotAPeer: 2,
  /** Another sender ID than the association's peer, or a peer heard elsewhere: ignored (senderMismatch). */
  Mismatch: 3,
} as const;
export type Speaker = (typeof Speaker)[keyof typeof Speaker];

/**
 * Who may speak over an association (RFC 5353 §3.4.1, RFC 5355 §2.9-2.10):
 * - `bound`: the live peer the association belongs to, if any: the one whose PRESENCE came
 *   over it (`confirmed`), or the configured/learned peer we associated to ourselves (§3.2);
 * - once confirmed, only that sender ID speaks over it; before, a PRESENCE may correct our
 *   guess (the remote has another ID than the one we associated for);
 * - over an association without a peer only a PRESENCE is heard, and it makes its sender the
 *   association's peer, unless that sender is a peer confirmed over another live association
 *   from another address (`claimedElsewhere`).
 */
export function speaker(bound: number | undefined, confirmed: boolean, sender: number, isPresence: boolean, claimedElsewhere: boolean): Speaker {
  if (bound !== undefined && (confirmed || !isPresence)) return bound >>> 0 === sender >>> 0 ? Speaker.Peer : Speaker.Mismatch;
  if (!isPresence) return Speaker.NotAPeer;
  if (claimedElsewhere) return Speaker.Mismatch;
  return Speaker.Binds;
}

/**
 * speaker() for an association as the peer links know it: `owner` is the ID it is bound to
 * (links.peerOf()), `ownerKnown` whether that peer is still in the peer list. A confirmed
 * association stays its owner's for its whole life, also once that peer has left the list
 * (forgotten, taken over): another ID over it is a Mismatch, never Binds (RFC 5353 §3.4.1,
 * RFC 5355: the association is the peer). The owner's own ID over it again is heard anew: a
 * PRESENCE re-adds it (Binds), anything else asks who it is (NotAPeer). An unconfirmed binding
 * to a peer that left the list counts for nothing.
 */
export function associationSpeaker(owner: number | undefined, ownerKnown: boolean, confirmed: boolean, sender: number, isPresence: boolean, claimedElsewhere: boolean): Speaker {
  const bound = ownerKnown || confirmed ? owner : undefined;
  const who = speaker(bound, confirmed, sender, isPresence, claimedElsewhere);
  if (who === Speaker.Peer && !ownerKnown) return isPresence ? Speaker.Binds : Speaker.NotAPeer;
  return who;
}
