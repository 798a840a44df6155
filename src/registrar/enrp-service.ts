// ENRP on the registrar's I/O thread (RFC 5353 §3): the ENRP endpoint (PPID 12), the peer
// list and its associations, presence (heartbeat, checksum, reply-required), serving handle
// tables in pages the shards produce, forwarding handle updates and audits. Handlespace work
// happens in the shards: this side routes, fans out and merges, and never walks the handlespace.
// The decisions with timers are state machines fed messages and ticks, tested in virtual time:
// peer monitoring and takeover arbitration (peer-monitoring.ts), startup with a mentor and
// handle table downloads (mentor-sync.ts), the peer links: associating, back-off, held
// messages, restarts of stuck associations (peer-links.ts). This service is their shell: it
// decodes, applies what they return (sends, shard calls) and ticks all three from one timer.
import type { Logger } from '../log.js';
import type { ShardSet } from '../shard/shard-set.js';
import { AnnounceReceiver, AnnounceSender, type Association, type RemoteAddress } from '../transport/index.js';
import {
  Cause,
  EnrpFlag,
  EnrpType,
  ParamType,
  PPID_ENRP,
  TransportUse,
  addressToString,
  decodeEnrp,
  encodeMessage,
  errorCause,
  parseAddress,
  transportParameter,
  type EnrpMessage,
  type Message,
  type ServerInformation,
} from '../wire/index.js';
import { isIP } from 'node:net';
import { advertisedAddresses, bindAddresses, type RegistrarConfig } from './config.js';
import { Peer, PeerStatus, PeerTable, Speaker, associationSpeaker, fromPeerAddress } from './enrp-peers.js';
import { SendQueueGuard } from './send-queue.js';
import { PeerLinks } from './peer-links.js';
import { PeerMonitoring, type MonitorAction } from './peer-monitoring.js';
import { MentorSync, type Download, type SyncAction } from './mentor-sync.js';
import { NetworkList } from '../wire/network.js';
import { OWN_TABLE_MARK } from '../shard/enrp-authority.js';
import { hexId } from '../wire/identifier-text.js';
import type { EnrpEndpoint } from './enrp-tls-endpoint.js';
import { tlsPeerName, tlsPeerOfAssociation } from './tls-authorization.js';
import { addedPeId, suggestionTarget, withTakeoverSuggestion } from './takeover-suggestion.js';
import { CauseCounts, MessageTypeCounts } from '../shard/metrics-counts.js';

export interface EnrpCounters {
  received: number;
  droppedWrongPpid: number;
  errorsSent: number;
  errorsReceived: number;
  handleUpdatesSent: number;
  handleUpdatesReceived: number;
  tablePagesSent: number;
  tablePagesReceived: number;
  audits: number;
  takeoversStarted: number;
  takeoversWon: number;
  takeoversYielded: number;
  /** Messages dropped because the association's send queue was full (maxSendQueueBytes). */
  messagesDropped: number;
  /** Associations aborted for staying over the send-queue limit longer than sendQueueTimeout. */
  sendQueueAborts: number;
  /** Associations restarted: up, but a request of ours unanswered for MAX-TIME-NO-RESPONSE. */
  associationRestarts: number;
  /** ENRP messages sent (point to point; the periodic multicast presence is not counted). */
  sent: number;
  /** Messages over an association no PRESENCE has bound to a peer yet: ignored. */
  fromNonPeers: number;
  /** Messages whose sender ID is not the peer the association belongs to, and multicast presences with a known peer's ID from an address it is not known by: ignored. */
  senderMismatch: number;
  /** Messages whose receiver ID is another server's (RFC 5353 §2: meant for that one): ignored. */
  wrongReceiver: number;
  /** Associations aborted and multicast presences ignored from outside --enrp-allow. */
  outOfScope: number;
  /** New peers refused because the peer list is full (--max-peers). */
  peersRefused: number;
  /** Handle table or list responses nobody asked for: ignored. */
  unsolicited: number;
  /** Dead peers not taken over (never established: forgotten with their PEs), INIT_TAKEOVERs not acknowledged and TAKEOVER_SERVERs refused for a peer we hear, TAKEOVER_SERVERs for a server we never knew. */
  takeoversRefused: number;
  /** Takeovers deferred to a later interval by --max-takeovers. */
  takeoversLimited: number;
}

/** A handle table we serve to a peer, page by page (RFC 5353 §3.2.3 step 2). */
interface ServeSession {
  id: number;
  peer: number;
  owner: number;
  shard: number;
  association: Association;
  waiting: boolean;
}

const now = (): number => performance.now();

export class EnrpService {
  readonly counters: EnrpCounters = {
    received: 0,
    droppedWrongPpid: 0,
    errorsSent: 0,
    errorsReceived: 0,
    handleUpdatesSent: 0,
    handleUpdatesReceived: 0,
    tablePagesSent: 0,
    tablePagesReceived: 0,
    audits: 0,
    takeoversStarted: 0,
    takeoversWon: 0,
    takeoversYielded: 0,
    messagesDropped: 0,
    sendQueueAborts: 0,
    associationRestarts: 0,
    sent: 0,
    fromNonPeers: 0,
    senderMismatch: 0,
    wrongReceiver: 0,
    outOfScope: 0,
    peersRefused: 0,
    unsolicited: 0,
    takeoversRefused: 0,
    takeoversLimited: 0,
  };
  readonly peers = new PeerTable();
  /** ENRP messages by type, received and sent point to point (/metrics, src/registrar/metrics.ts). */
  readonly typesReceived = new MessageTypeCounts();
  readonly typesSent = new MessageTypeCounts();
  /** Causes of the ENRP_ERRORs sent (RFC 5354 §3.12), for /metrics. */
  readonly causesSent = new CauseCounts();
  /** Every ENRP send: a full send queue drops the message, a peer stuck over it is aborted. */
  private readonly sends: SendQueueGuard;
  /** The one association per peer (RFC 5353 §3.1): the state machine that manages them. */
  private readonly links: PeerLinks<Association>;
  /** Peer monitoring and takeover (RFC 5353 §3.4.3, §3.5): the state machine this service applies. */
  private readonly monitoring: PeerMonitoring;
  /** Startup with a mentor and handle table downloads (RFC 5353 §3.2, §3.6.3): the state machine this service applies. */
  private readonly sync: MentorSync;
  /** The one timer that ticks both state machines at their next deadline, and when it fires. */
  private tickTimer: NodeJS.Timeout | undefined;
  private tickAt = Infinity;
  private readonly serving = new Map<number, ServeSession>();
  private nextSession = 1;
  private readyResolve: (() => void) | null = null;
  private ownChecksum = 0xffff;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private presenceReceiver: AnnounceReceiver | null = null;
  private presenceSender: AnnounceSender | null = null;
  /** Associations without a peer that were asked once who they are (RFC 5353 §3.4.1). */
  private readonly askedWho = new WeakSet<Association>();
  /**
   * The closed scope (--enrp-allow): ENRP only from these networks. Empty: an open scope,
   * which trusts its network: anyone who reaches the ENRP port or the multicast channel and
   * sends a PRESENCE becomes a peer, and a peer speaks for its own PEs.
   */
  private readonly scope: NetworkList;
  private closed = false;

  constructor(
    private readonly ownId: number,
    private readonly config: RegistrarConfig,
    /**
     * Our ENRP endpoint: peers associate to it, and our associations to peers start from it
     * (RSPLIB accepts a presence only from the peer's ENRP address and port). One association
     * per peer: see sendTo() for who initiates.
     */
    readonly endpoint: EnrpEndpoint,
    private readonly shards: ShardSet,
    private readonly log: Logger,
  ) {
    this.scope = new NetworkList(config.enrpAllow);
    this.monitoring = new PeerMonitoring(ownId, config, this.peers, this.counters, log);
    this.sync = new MentorSync(config, this.counters);
    this.links = new PeerLinks<Association>(
      ownId,
      config,
      this.peers,
      {
        dial: (remote) => this.dial(remote),
        transmit: (a, message) => this.send(a, message),
        abort: (a, reason) => a.abort(reason),
        restarting: (peer) => this.downloadRestarting(peer),
        relinked: (peer, a) => this.downloadRelinked(peer, a),
      },
      this.counters,
      log,
      (address) => this.inScope(address),
    );
    this.sends = new SendQueueGuard({
      timeout: config.sendQueueTimeout,
      protocol: 'ENRP',
      log,
      onDrop: () => this.counters.messagesDropped++,
      onAbort: () => this.counters.sendQueueAborts++,
    });
  }

  /** True once the handlespace was loaded from the mentor, or no mentor was found in time. */
  get isReady(): boolean {
    return this.sync.ready;
  }

  /** Starts ENRP; resolves when the registrar may serve ASAP (RFC 5353 §3.2.3 step 5). */
  async start(): Promise<void> {
    const c = this.config;
    for (const p of c.peers) if (!this.inScope(p.address)) this.log.warn({ peer: p.address }, 'static peer outside --enrp-allow: it will not be heard');
    this.endpoint.on('association', (a) => this.attach(a));
    if (c.enrpAnnounce) await this.openPresenceChannel();
    const readyPromise = new Promise<void>((resolve) => (this.readyResolve = resolve));
    // RFC 5353 §3.2.2.1: without any way to find a peer, we are alone and start at once.
    const alone = c.peers.length === 0 && !c.enrpAnnounce;
    if (!alone) this.log.info({ peers: c.peers.length, presence: c.enrpAnnounce, timeoutMs: c.mentorDiscoveryTimeout }, 'looking for a mentor among the ENRP peers before serving ASAP (RFC 5353 §3.2)');
    this.applySync(this.sync.start(alone, now()));

    this.heartbeat();
    await readyPromise;
  }

  private becomeReady(why: string): void {
    const mentor = this.sync.mentor;
    this.log.info({ peers: this.peers.size, mentor: mentor === null ? null : hexId(mentor) }, `ENRP ready: ${why}`);
    this.readyResolve?.();
  }

  // ------------------------------------------------------------------ associations

  /** True when ENRP from this address is heard: an open scope, or inside --enrp-allow. */
  private inScope(address: string): boolean {
    return this.scope.size === 0 || this.scope.contains(address);
  }

  private attach(a: Association): void {
    const where = `${a.remote.address}:${a.remote.port}/${a.remote.udpPort ?? ''}`;
    if (!this.inScope(a.remote.address)) {
      // A closed scope keeps no state for strangers: aborted at once, counted.
      if (this.counters.outOfScope++ % 1000 === 0) this.log.warn({ remote: where, outOfScope: this.counters.outOfScope }, 'ENRP association from outside --enrp-allow aborted');
      a.abort('ENRP: outside the scope');
      return;
    }
    this.log.debug({ remote: where, state: a.state }, 'ENRP association attached');
    this.links.attached(a);
    a.on('up', () => {
      this.log.debug({ remote: where }, 'ENRP association up');
      this.links.up(a, now());
      this.schedule();
    });
    a.on('message', (payload, ppid) => this.receive(a, payload, ppid));
    a.on('down', (reason) => {
      this.log.debug({ remote: where, peer: this.links.peerOf(a), reason }, 'ENRP association down');
      this.links.down(a, now());
      for (const [sid, s] of this.serving) if (s.association === a) this.endServing(sid);
      this.schedule();
    });
  }

  /**
   * Opens an association to a peer's ENRP transport from our ENRP port (RSPLIB accepts a
   * presence only from the peer's ENRP address and port; one association per peer, see
   * peer-links.ts for who initiates) and tells it who we are: a static peer we do not know by
   * ID yet (RFC 5353 §3.4.1). Called by the peer links (LinkIo.dial).
   */
  private dial(remote: RemoteAddress): Association | null {
    if (this.closed) return null;
    try {
      const a = this.endpoint.associate(remote);
      this.attach(a);
      this.send(a, this.presence(true, 0));
      return a;
    } catch (error) {
      this.log.debug({ peer: `${remote.address}:${remote.port}`, error: (error as Error).message }, 'ENRP association not started');
      return null;
    }
  }

  /** Associates to a peer's ENRP transport, or the association we have with it; null while backing off. */
  private contact(remote: RemoteAddress): Association | null {
    const a = this.links.contact(remote, now());
    this.schedule();
    return a;
  }

  /**
   * Sends to a peer point to point (RFC 5353 §3.1) over the one association we have with it
   * (peer-links.ts: associating, holding, back-off). False when the peer cannot be reached.
   */
  private sendTo(peer: Peer, message: Uint8Array): boolean {
    const sent = this.links.send(peer, message, now());
    this.schedule();
    return sent;
  }

  /** Over an association, noting a request that waits for an answer (peer-links.ts restarts silent ones). */
  private transmit(a: Association, message: Uint8Array): void {
    this.links.transmit(a, message, now());
    this.schedule();
  }

  /** Sends over an association (the message is kept until acknowledged: bytes of its own). */
  private send(a: Association, message: Uint8Array): boolean {
    this.counters.sent++;
    this.typesSent.count(message);
    return this.sends.send(a, message, PPID_ENRP);
  }

  // ------------------------------------------------------------------ receive

  private receive(a: Association, payload: Uint8Array, ppid: number): void {
    // RFC 5353 §5.4: ENRP uses PPID 12; anything else on this port is dropped and counted.
    if (ppid !== PPID_ENRP) {
      if (this.counters.droppedWrongPpid++ % 1000 === 0) this.log.warn({ ppid, dropped: this.counters.droppedWrongPpid }, 'message with a PPID other than ENRP dropped');
      return;
    }
    const source: RemoteAddress = { address: a.remote.address, port: a.remote.port, ...(a.remote.udpPort !== undefined ? { udpPort: a.remote.udpPort } : {}) };
    this.handle(payload, a, source);
  }

  /**
   * One ENRP message, from an association (a) or the multicast channel (a = null). Who may
   * speak (RFC 5353 §3.4.1, RFC 5355 §2.9-2.10; see identify()):
   * - outside --enrp-allow: ignored and counted (the association was aborted on attach);
   * - a receiver ID that is neither 0 nor ours: the message is meant for another server
   *   (RFC 5353 §2: "the ID of the ENRP server to which this message is intended"): ignored;
   * - over an association, only its peer speaks: a PRESENCE binds an association to its
   *   sender, and from then on a message with another sender ID is ignored and counted;
   *   anything but a PRESENCE over an association without a peer is ignored and counted,
   *   and the association is asked once who it is (a presence with reply-required, §3.4.1).
   * Broken messages still get their ENRP_ERROR (one per message) as RFC 5354 §3 asks.
   */
  private handle(payload: Uint8Array, a: Association | null, source: RemoteAddress): void {
    if (this.closed) return;
    this.counters.received++;
    this.typesReceived.count(payload);
    if (!this.inScope(source.address)) {
      this.counters.outOfScope++;
      return;
    }
    const result = decodeEnrp(payload);
    if (!result.ok) {
      // RFC 5353 §3.7 / RFC 5354 §3-4: report what the action bits ask to have reported.
      if (result.error.report && a !== null) this.sendError(a, [errorCause(result.error.cause, this.carried(result.error.cause, result.error.offending))], peekSender(payload));
      return;
    }
    const m = result.message;
    if (m.protocol !== 'enrp') return;
    // Every unrecognized parameter to report, in one ENRP_ERROR: one answer per message.
    if (a !== null && result.unrecognized.length > 0) this.sendError(a, result.unrecognized.map((tlv) => errorCause(Cause.UnrecognizedParameter, tlv)), m.senderId);
    if (m.senderId === this.ownId || m.senderId === 0) return; // our own presence looped back, or nonsense
    if (m.receiverId !== 0 && m.receiverId !== this.ownId) {
      this.counters.wrongReceiver++;
      return;
    }
    const peer = a === null ? this.heardByMulticast(m.senderId, source) : this.identify(a, m, source);
    if (peer === null) return;
    this.schedule(); // a new peer is watched from now
    if (a !== null) this.links.answered(a, m.type);
    if (result.discard) return;
    // A presence counts (mayTakeOver()), and a takeover of a peer we hear from again stops.
    if (m.type === EnrpType.Presence) this.apply(this.monitoring.presence(peer));
    this.applySync(this.sync.heard(peer.serverId, now())); // while starting: the first peer heard is the mentor
    this.dispatch(m, peer, payload);
  }

  /**
   * The peer a message over `a` comes from, heard now; null (counted) when the sender may not
   * speak over it. See handle() for the rules.
   */
  private identify(a: Association, m: EnrpMessage, source: RemoteAddress): Peer | null {
    const sender = m.senderId >>> 0;
    // --enrp-tls-server-ids: a credential speaks only for its own IDs (counted by the endpoint).
    if (this.endpoint.mayClaim !== undefined && !this.endpoint.mayClaim(a, sender)) return null;
    const isPresence = m.type === EnrpType.Presence;
    const boundId = this.links.peerOf(a);
    const bound = boundId === undefined ? undefined : this.peers.get(boundId);
    const known = this.peers.get(sender);
    const other = known?.association as Association | null | undefined;
    const claimedElsewhere = other != null && other !== a && other.state === 'up' && this.links.confirmed(other) && other.remote.address !== a.remote.address;
    // A confirmed association stays its owner's for its life, also once that peer has left the
    // peer list (see associationSpeaker()).
    switch (associationSpeaker(boundId, bound !== undefined, this.links.confirmed(a), sender, isPresence, claimedElsewhere)) {
      case Speaker.Peer:
        // The first message accepted over it names its peer for good (not only a PRESENCE): a
        // remote we associated to for this ID, that spoke as it, cannot become another ID.
        if (!this.links.confirmed(a)) this.links.confirm(a, sender);
        this.monitoring.heard(this.peers.heard(sender, now(), null).peer);
        if (bound!.association === null || (bound!.association !== a && bound!.association.state !== 'up' && a.state === 'up')) this.links.bind(bound!, a, now());
        return bound!;
      case Speaker.Mismatch:
        if (this.counters.senderMismatch++ % 1000 === 0) {
          // Over TLS, also who authenticated (the credential that tried to speak for another ID).
          const tls = tlsPeerOfAssociation(a);
          this.log.warn({ peer: boundId === undefined ? null : hexId(boundId), sender: hexId(sender), from: a.remote.address, ...(tls !== null ? { tlsPeer: tlsPeerName(tls) } : {}), mismatches: this.counters.senderMismatch }, 'ENRP message from another sender than the association\'s peer ignored');
        }
        return null;
      case Speaker.NotAPeer:
        this.counters.fromNonPeers++;
        if (!this.askedWho.has(a)) {
          this.askedWho.add(a);
          this.transmit(a, this.presence(true, 0));
        }
        return null;
    }
    // Speaker.Binds: the association is the sender's from now on (RFC 5353 §3.4.1).
    if (known === undefined && this.peers.size >= this.config.maxPeers) {
      if (this.counters.peersRefused++ % 1000 === 0) this.log.warn({ peers: this.peers.size, refused: this.counters.peersRefused }, 'ENRP peer list full: new peer ignored');
      return null;
    }
    // Bound by us to an ID the remote does not have (a stale or made-up one): that one lets go.
    if (bound !== undefined && bound.serverId !== sender && bound.association === a) bound.association = null;
    const { peer, isNew } = this.peers.heard(sender, now(), null);
    this.monitoring.heard(peer);
    if (peer.transport === null) peer.transport = source;
    // Its association (or ours, now up) carries everything from here on.
    this.links.confirm(a, peer.serverId);
    if (peer.association === null || (peer.association !== a && peer.association.state !== 'up' && a.state === 'up')) this.links.bind(peer, a, now());
    if (isNew) this.log.info({ peer: hexId(peer.serverId), from: `${source.address}:${source.port}` }, 'new ENRP peer');
    return peer;
  }

  /** A multicast presence (RFC 5353 §3.4.1 over the ENRP channel); null when the peer list is full. */
  private heardByMulticast(senderId: number, source: RemoteAddress): Peer | null {
    const known = this.peers.get(senderId);
    if (known === undefined && this.peers.size >= this.config.maxPeers) {
      this.counters.peersRefused++;
      return null;
    }
    if (known !== undefined && !fromPeerAddress(known, source.address)) {
      // A known peer's ID from an address it is not known by: not heard (a spoofed presence
      // would keep a dead peer alive and stop its takeover).
      if (this.counters.senderMismatch++ % 1000 === 0) {
        this.log.warn({ peer: hexId(senderId), from: source.address, mismatches: this.counters.senderMismatch }, "multicast presence with a known peer's ID from another address ignored");
      }
      return null;
    }
    // A peer we talk to over an association keeps its address; a datagram names anyone.
    const { peer, isNew } = this.peers.heard(senderId, now(), known?.association?.state === 'up' ? null : source);
    this.monitoring.heard(peer);
    if (isNew) this.log.info({ peer: hexId(peer.serverId), from: `${source.address}:${source.port}`, via: 'multicast presence' }, 'new ENRP peer');
    return peer;
  }

  private dispatch(m: EnrpMessage, peer: Peer, payload: Uint8Array): void {
    switch (m.type) {
      case EnrpType.Presence:
        return this.onPresence(peer, m.flags, m.checksum, m.serverInfo);
      case EnrpType.HandleTableRequest:
        return this.onHandleTableRequest(peer, (m.flags & EnrpFlag.OwnChildrenOnly) !== 0);
      case EnrpType.HandleTableResponse:
        return this.onHandleTableResponse(peer, m.flags, payload);
      case EnrpType.HandleUpdate:
        this.counters.handleUpdatesReceived++;
        this.shards.to(this.shards.route(m.poolHandle)).enrpHandleUpdate(payload);
        return;
      case EnrpType.ListRequest:
        return this.onListRequest(peer);
      case EnrpType.ListResponse:
        return this.onListResponse(peer, m.flags, m.servers);
      case EnrpType.InitTakeover:
        return this.apply(this.monitoring.initTakeover(peer, m.targetServerId, now()));
      case EnrpType.InitTakeoverAck:
        return this.apply(this.monitoring.initTakeoverAck(peer, m.targetServerId, now()));
      case EnrpType.TakeoverServer:
        return this.apply(this.monitoring.takeoverServer(peer, m.targetServerId, now()));
      case EnrpType.Error:
        this.counters.errorsReceived++;
        this.log.warn({ peer: hexId(peer.serverId), causes: m.error.causes.map((c) => c.code) }, 'ENRP_ERROR received');
        return;
    }
  }

  /** The bytes a cause carries (RFC 5354 §3.12): the offending ones for these causes only. */
  private carried(cause: number, offending: Uint8Array | null): Uint8Array {
    const carries = cause === Cause.UnrecognizedParameter || cause === Cause.UnrecognizedMessage || cause === Cause.InvalidValues;
    return offending !== null && carries ? offending : new Uint8Array(0);
  }

  private sendError(a: Association, causes: ReturnType<typeof errorCause>[], offender: number): void {
    this.counters.errorsSent++;
    for (const cause of causes) this.causesSent.count(cause.code);
    // RFC 5353 §2.10: our ID as sender, the offender's as receiver (RSPLIB swaps them).
    this.send(a, enrp({ type: EnrpType.Error, flags: 0, senderId: this.ownId, receiverId: offender, error: { causes } }));
  }

  // ------------------------------------------------------------------ presence (§3.4)

  private async openPresenceChannel(): Promise<void> {
    const c = this.config;
    const ipv4 = bindAddresses(c).find((x) => isIP(x) === 4);
    this.presenceReceiver = await AnnounceReceiver.open({ group: c.enrpGroup, ...(ipv4 !== undefined ? { interfaceAddress: ipv4 } : {}) });
    this.presenceReceiver.on('announce', (message, from) => {
      // The sender's UDP encapsulation port is the source port when it sends from its
      // encapsulation socket (as we do); RSPLIB sends from the group port: assume the default.
      const udpPort = from.port === c.enrpGroup.port ? c.peerUdpPort : from.port;
      const r = decodeEnrp(message);
      if (!r.ok || r.message.protocol !== 'enrp' || r.message.type !== EnrpType.Presence) return;
      const port = r.message.serverInfo?.transport?.port ?? c.enrpPort;
      this.handle(message, null, { address: from.address, port, udpPort });
    });
    this.presenceReceiver.on('error', (error) => this.log.warn({ error: error.message }, 'ENRP presence channel error'));
    // In udp mode presences leave from the encapsulation socket (its source port tells our UDP
    // port, see multicastPresence); otherwise from a socket of their own.
    if (this.endpoint.sendDatagram === undefined) this.presenceSender = await AnnounceSender.open({ group: c.enrpGroup, ...(ipv4 !== undefined ? { interfaceAddress: ipv4 } : {}) });
  }

  /** ENRP_PRESENCE with our PE checksum and Server Information (RFC 5353 §2.1, §3.6.1 step 2). */
  private presence(replyRequired: boolean, receiverId: number): Uint8Array {
    return enrp({
      type: EnrpType.Presence,
      flags: replyRequired ? EnrpFlag.ReplyRequired : 0,
      senderId: this.ownId,
      receiverId,
      checksum: this.ownChecksum,
      serverInfo: this.serverInformation(),
    });
  }

  private serverInformation(): ServerInformation {
    // Every address we listen on (RFC 5353 §2.2.1 Server Information, RFC 5354 §3.3).
    const addresses = advertisedAddresses(this.config).map((x) => parseAddress(x)).filter((x) => x !== null);
    return { serverId: this.ownId, transport: transportParameter(ParamType.SctpTransport, this.endpoint.port, addresses, TransportUse.DataOnly) };
  }

  /** PEER-HEARTBEAT-CYCLE (RFC 5353 §3.4.2), jittered like RSPLIB's cycles. */
  private heartbeat(): void {
    if (this.closed) return;
    this.shards.peChecksums([this.ownId]).then(
      ([sum]) => {
        if (this.closed) return;
        this.ownChecksum = sum!;
        for (const peer of this.peers.all()) if (peer.status !== PeerStatus.NotActive) this.sendTo(peer, this.presence(false, peer.serverId));
        this.contactStaticPeers();
        this.multicastPresence();
      },
      (error: Error) => this.log.warn({ error: error.message }, 'PE checksum not computed'),
    );
    this.heartbeatTimer = setTimeout(() => this.heartbeat(), jitter(this.config.peerHeartbeatCycle));
  }

  /** Static peers we have not heard yet: keep trying to reach them. */
  private contactStaticPeers(): void {
    const c = this.config;
    for (const p of c.peers) {
      const remote = { address: p.address, port: p.port, udpPort: p.udpPort ?? c.peerUdpPort };
      if (!this.knows(remote)) this.contact(remote);
    }
  }

  private multicastPresence(): void {
    if (!this.config.enrpAnnounce) return;
    const message = this.presence(false, 0);
    const g = this.config.enrpGroup;
    const sent =
      this.endpoint.sendDatagram !== undefined ? this.endpoint.sendDatagram(message, g.port, g.address, 30) : (this.presenceSender?.send(message) ?? Promise.resolve());
    sent.catch((error: Error) => this.log.debug({ error: error.message }, 'ENRP presence not multicast'));
  }

  private knows(remote: RemoteAddress): boolean {
    for (const peer of this.peers.all()) {
      const t = peer.transport;
      if (t !== null && t.address === remote.address && t.port === remote.port && (t.udpPort ?? this.config.peerUdpPort) === remote.udpPort) return true;
      const a = peer.association;
      if (a !== null && a.remote.address === remote.address && a.remote.port === remote.port && a.remote.udpPort === remote.udpPort) return true;
    }
    return false;
  }

  private onPresence(peer: Peer, flags: number, checksum: number | null, info: ServerInformation | null): void {
    if (info?.transport != null && peer.transport !== null) {
      // Its Server Information names its ENRP SCTP port; the address we heard it from stays.
      peer.transport = { ...peer.transport, port: info.transport.port };
    }
    if ((flags & EnrpFlag.ReplyRequired) !== 0) this.sendTo(peer, this.presence(false, peer.serverId));
    if (checksum !== null) {
      peer.announcedChecksum = checksum;
      this.checkAudit(peer, checksum);
    }
  }

  /** What the monitoring decided, done: messages to peers, PEs moved or dropped in the shards. */
  private apply(actions: MonitorAction[]): void {
    for (const x of actions) {
      switch (x.kind) {
        case 'takeOver':
          // RFC 5353 §3.5.2: the target's PEs now have `home` as home.
          this.shards.toAll((batch) => batch.enrpTakeOver(x.target, x.home));
          continue;
        case 'forget':
          this.shards.toAll((batch) => {
            batch.enrpAuditBegin(x.target);
            batch.enrpAuditEnd(x.target);
          });
          continue;
      }
      const peer = this.peers.get(x.to);
      if (peer === undefined) continue;
      switch (x.kind) {
        case 'presence':
          this.sendTo(peer, this.presence(x.replyRequired, peer.serverId));
          break;
        case 'ask':
          if (!this.sendTo(peer, this.presence(true, peer.serverId))) this.monitoring.unreachable(peer.serverId); // send failed: dead now
          break;
        case 'initTakeover':
          this.sendTo(peer, enrp({ type: EnrpType.InitTakeover, flags: 0, senderId: this.ownId, receiverId: peer.serverId, targetServerId: x.target }));
          break;
        case 'initTakeoverAck':
          this.sendTo(peer, enrp({ type: EnrpType.InitTakeoverAck, flags: 0, senderId: this.ownId, receiverId: peer.serverId, targetServerId: x.target }));
          break;
        case 'takeoverServer':
          this.sendTo(peer, enrp({ type: EnrpType.TakeoverServer, flags: 0, senderId: this.ownId, receiverId: 0, targetServerId: x.target }));
          break;
      }
    }
    this.schedule();
  }

  /**
   * One timer for the monitoring, at its next deadline. When it fires, the tick runs after the
   * I/O that has arrived meanwhile (Node runs due timers before polling I/O): after a stalled
   * event loop, a lower initiator's INIT_TAKEOVER or the target's presence is read before a
   * takeover expiry claims the target's PEs, and a peer's presence before it is called silent.
   */
  private schedule(): void {
    if (this.closed) return;
    const at = Math.min(this.monitoring.nextDeadline(), this.sync.nextDeadline(), this.links.nextDeadline());
    if (at === Infinity || at >= this.tickAt) return;
    clearTimeout(this.tickTimer);
    this.tickAt = at;
    this.tickTimer = setTimeout(() => {
      this.tickAt = Infinity;
      setImmediate(() => {
        if (this.closed) return;
        const t = now();
        this.links.tick(t);
        const monitoring = this.monitoring.tick(t);
        const sync = this.sync.tick(t);
        this.apply(monitoring);
        this.applySync(sync);
        this.schedule();
      });
    }, Math.max(0, Math.ceil(at - now())));
  }

  // ------------------------------------------------------------------ startup (§3.2)

  /** Asks a peer for (the next page of) its handle table (RFC 5353 §3.2.3, §3.6.3). */
  private requestTable(peer: Peer, ownOnly: boolean, shard: number | null = null): void {
    this.applySync(this.sync.ask(peer.serverId, ownOnly, shard, now()));
  }

  private downloadFailed(d: Download, why: string): void {
    this.applySync(this.sync.failed(d, why));
  }

  /**
   * The peer's association is restarted (peer-links.ts): a download in flight from it is asked
   * again over the new one, once (its next expiry gives up, downloadFailed()).
   */
  private downloadRestarting(peer: number): number[] {
    const d = this.sync.download(peer);
    if (d === undefined) return [];
    if (!d.restarted && d.expiresAt !== Infinity) this.sync.restarting(d); // a request in flight
    else if (!waitsForLink(d)) return [];
    return [EnrpType.HandleTableResponse];
  }

  private downloadRelinked(peerId: number, a: Association | null): void {
    const d = this.sync.download(peerId);
    if (d === undefined || !waitsForLink(d)) return;
    const peer = this.peers.get(peerId);
    if (a !== null && peer !== undefined) this.requestTable(peer, d.ownOnly, d.shard);
    else this.downloadFailed(d, 'the peer cannot be associated again');
    this.schedule();
  }

  private onHandleTableResponse(peer: Peer, flags: number, payload: Uint8Array): void {
    // Our request's answer with the table (not a rejection): a working server (mayTakeOver()).
    if ((flags & EnrpFlag.Reject) === 0 && this.sync.download(peer.serverId) !== undefined) peer.answeredUs = true;
    this.applySync(this.sync.response(peer.serverId, (flags & EnrpFlag.Reject) !== 0, (flags & EnrpFlag.MoreToSend) !== 0, now()), payload);
  }

  /** What startup and the downloads decided, done; `payload`: the handle table response just fed. */
  private applySync(actions: SyncAction[], payload?: Uint8Array): void {
    for (const x of actions) {
      switch (x.kind) {
        case 'ready':
          this.becomeReady(x.why);
          break;
        case 'listRequest': {
          const peer = this.peers.get(x.to);
          if (!x.again) this.log.info({ mentor: hexId(x.to) }, 'mentor chosen');
          if (peer !== undefined) this.sendTo(peer, enrp({ type: EnrpType.ListRequest, flags: 0, senderId: this.ownId, receiverId: x.to }));
          break;
        }
        case 'tableRequest': {
          const peer = this.peers.get(x.to);
          if (peer !== undefined) this.sendTo(peer, enrp({ type: EnrpType.HandleTableRequest, flags: x.ownOnly ? EnrpFlag.OwnChildrenOnly : 0, senderId: this.ownId, receiverId: x.to }));
          break;
        }
        case 'page': {
          if (payload === undefined) break;
          // The shards apply it as the table we asked for (enrp-authority.ts), whatever its flags say.
          const page = payload.slice();
          page[1] = x.ownOnly ? page[1]! | OWN_TABLE_MARK : page[1]! & ~OWN_TABLE_MARK;
          if (x.shard === null) this.shards.toAll((batch) => batch.enrpHandleTable(page));
          else this.shards.to(x.shard).enrpHandleTable(page);
          break;
        }
        case 'auditEnd':
          // RFC 5353 §3.6.3 step 5: whatever is still marked goes.
          this.shards.toAll((batch) => batch.enrpAuditEnd(x.peer));
          this.log.info({ peer: hexId(x.peer) }, 'audit complete');
          break;
        case 'shardReloaded':
          this.log.info({ peer: hexId(x.peer), shard: x.shard }, 'restarted shard reloaded from the peer\'s handle table');
          break;
        case 'expired': {
          // RFC 5353 §3.2.3: a silent peer ends the download, unless its association is up, the
          // peer was heard since we asked (alive and talking: what goes missing is on the way to
          // it) and it was not restarted for this download yet: then restart it and ask again
          // over the new one, so a peer whose SCTP stopped acknowledging is asked over a working
          // one before we give up.
          const d = x.download;
          const peer = this.peers.get(d.peer);
          const a = peer?.association as Association | null | undefined;
          if (peer !== undefined && a != null && a.state === 'up' && !d.restarted && peer.lastHeard > d.askedAt) {
            const t = now();
            this.sync.restarting(d);
            this.links.restart(a, t, t - d.askedAt); // asked again over the new one (downloadRelinked())
            break;
          }
          this.downloadFailed(d, 'no handle table response in time');
          break;
        }
        case 'abandoned':
          this.log.warn({ peer: hexId(x.download.peer), ownOnly: x.download.ownOnly }, `handle table download abandoned: ${x.why}`);
          break;
      }
    }
    this.schedule();
  }

  private onListRequest(peer: Peer): void {
    // RFC 5353 §3.2.2.2: a registrar still starting rejects.
    if (!this.sync.ready) {
      this.sendTo(peer, enrp({ type: EnrpType.ListResponse, flags: EnrpFlag.Reject, senderId: this.ownId, receiverId: peer.serverId, servers: [] }));
      return;
    }
    const servers: ServerInformation[] = [];
    for (const p of this.peers.all()) {
      if (p.serverId === peer.serverId || p.status === PeerStatus.NotActive || p.transport === null) continue;
      const address = parseAddress(p.transport.address);
      if (address === null) continue;
      servers.push({ serverId: p.serverId, transport: transportParameter(ParamType.SctpTransport, p.transport.port, [address], TransportUse.DataOnly) });
    }
    this.sendTo(peer, enrp({ type: EnrpType.ListResponse, flags: 0, senderId: this.ownId, receiverId: peer.serverId, servers }));
  }

  private onListResponse(peer: Peer, flags: number, servers: ServerInformation[]): void {
    // Only the answer to our request (RFC 5353 §3.2.2.2): an unasked list would make us
    // associate to every server it names.
    if (!this.sync.listResponse(peer.serverId, (flags & EnrpFlag.Reject) !== 0, now())) {
      this.schedule(); // a rejection is asked again later
      return;
    }
    peer.answeredUs = true; // asked for: a working server (mayTakeOver())
    let room = this.config.maxPeers - this.peers.size;
    for (const s of servers) {
      if (room <= 0) break;
      if (s.serverId === this.ownId || this.peers.get(s.serverId) !== undefined || s.transport === null || s.transport.addresses.length === 0) continue;
      const remote = { address: addressToString(s.transport.addresses[0]!), port: s.transport.port, udpPort: this.config.peerUdpPort };
      if (!this.knows(remote) && this.inScope(remote.address) && this.contact(remote) !== null) room--;
    }
  }

  // ------------------------------------------------------------------ serving tables (§2.3)

  private onHandleTableRequest(peer: Peer, ownOnly: boolean): void {
    const a = peer.association as Association | null;
    if (a === null) return;
    if (!this.sync.ready) {
      this.sendTo(peer, enrp({ type: EnrpType.HandleTableResponse, flags: EnrpFlag.Reject, senderId: this.ownId, receiverId: peer.serverId, entries: [] }));
      return;
    }
    const owner = ownOnly ? this.ownId : 0;
    let session = [...this.serving.values()].find((s) => s.peer === peer.serverId);
    if (session !== undefined && (session.owner !== owner || session.waiting)) {
      if (session.waiting) return; // a page is on its way; this request repeats ours
      this.endServing(session.id);
      session = undefined;
    }
    if (session === undefined) {
      session = { id: this.nextSession++, peer: peer.serverId, owner, shard: 0, association: a, waiting: false };
      this.serving.set(session.id, session);
    }
    this.requestPage(session);
  }

  private requestPage(s: ServeSession): void {
    s.waiting = true;
    const c = this.config;
    this.shards.to(s.shard).handleTablePage(s.id, { owner: s.owner, maxElements: c.maxHandleTableElements, maxBytes: c.maxHandleTableBytes, senderId: this.ownId, receiverId: s.peer });
  }

  /** A shard's page (FromShard.HandleTablePage): merged into one paged download. */
  pageReady(sessionId: number, shardHasMore: boolean, page: Uint8Array): void {
    const s = this.serving.get(sessionId);
    if (s === undefined) return;
    s.waiting = false;
    // A copy: its M flag is set here, and the association keeps it until acknowledged.
    const message = page.slice();
    const empty = message.length <= 12;
    if (!shardHasMore) s.shard++;
    const more = s.shard < this.shards.count;
    if (empty && more) {
      this.requestPage(s); // this shard had nothing (left): go on with the next
      return;
    }
    message[1] = more ? EnrpFlag.MoreToSend : 0;
    this.counters.tablePagesSent++;
    this.send(s.association, message);
    if (!more) this.serving.delete(sessionId);
  }

  private endServing(sessionId: number): void {
    const s = this.serving.get(sessionId);
    if (s === undefined) return;
    this.serving.delete(sessionId);
    this.shards.toAll((batch) => batch.handleTableEnd(sessionId));
  }

  /**
   * A shard worker restarted empty: the peers' PEs of its pools come back from a peer's full
   * handle table (RFC 5353 §3.2.3, as at startup), taken by that shard alone. Our own PEs
   * there come back as they re-register (the registrar aborted their associations); until
   * then, the copies the peer holds of them are served with the peer as home.
   */
  reloadShard(shard: number): void {
    if (!this.sync.ready || this.closed) return;
    const peer = this.peers.active().find((p) => p.association !== null && this.sync.download(p.serverId) === undefined);
    if (peer === undefined) return;
    this.log.info({ peer: hexId(peer.serverId), shard }, 'reloading a restarted shard from a peer\'s handle table');
    this.requestTable(peer, false, shard);
  }

  // ------------------------------------------------------------------ updates (§3.3)

  /** An own-PE ENRP_HANDLE_UPDATE from a shard: to every peer. */
  broadcastUpdate(message: Uint8Array): void {
    for (const peer of this.peers.all()) {
      if (peer.status === PeerStatus.NotActive) continue;
      if (this.sendTo(peer, message)) this.counters.handleUpdatesSent++;
    }
    if (this.config.takeoverSuggestion) this.suggestTakeover(message);
  }

  /** RSPLIB's takeover suggestion: one more copy, with T, to the peer the XOR metric picks (takeover-suggestion.ts). */
  private suggestTakeover(message: Uint8Array): void {
    const peId = addedPeId(message);
    if (peId === null) return;
    const active = this.peers.active();
    const target = suggestionTarget(this.ownId, peId, active.map((p) => p.serverId));
    const peer = target === null ? undefined : active.find((p) => p.serverId === target);
    if (peer !== undefined && this.sendTo(peer, withTakeoverSuggestion(message))) this.counters.handleUpdatesSent++;
  }

  // ------------------------------------------------------------------ audit (§3.6)

  private checkAudit(peer: Peer, announced: number): void {
    if (this.sync.download(peer.serverId) !== undefined || !this.sync.ready) return;
    this.shards.peChecksums([peer.serverId]).then(([held]) => {
      if (held === announced || this.sync.download(peer.serverId) !== undefined || this.closed) return;
      if (this.peers.get(peer.serverId) !== peer || peer.announcedChecksum !== announced) return;
      this.counters.audits++;
      this.log.info({ peer: hexId(peer.serverId), announced: hex16(announced), held: hex16(held!) }, 'PE checksum mismatch: auditing the peer (RFC 5353 §3.6.3)');
      // Step 1: mark; step 2: ask for its own PEs.
      this.shards.toAll((batch) => batch.enrpAuditBegin(peer.serverId));
      this.requestTable(peer, true);
    }, () => undefined);
  }

  // ------------------------------------------------------------------ takeover (§3.5)

  /** When the last takeover was decided (benchmarks measure from here). */
  get takeoverDecidedAt(): number {
    return this.monitoring.decidedAt;
  }

  async close(): Promise<void> {
    // Idempotent: a registrar whose ENRP side was closed first (tests silence one this way)
    // closes it again; the multicast sockets must not be closed twice.
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.heartbeatTimer);
    this.links.close();
    this.sends.close();
    clearTimeout(this.tickTimer);
    this.readyResolve?.();
    await this.presenceReceiver?.close();
    await this.presenceSender?.close();
  }
}

type EnrpInit = { type: number; flags: number; senderId: number; receiverId: number } & Record<string, unknown>;

/** Encodes an ENRP message from its type-specific fields. */
function enrp(fields: EnrpInit): Uint8Array {
  return encodeMessage({ protocol: 'enrp', paddedLength: false, unknownParams: null, ...fields } as unknown as Message);
}

/** The sender ID of a message too broken to decode, if its header holds one. */
function peekSender(payload: Uint8Array): number {
  if (payload.length < 8) return 0;
  return ((payload[4]! << 24) | (payload[5]! << 16) | (payload[6]! << 8) | payload[7]!) >>> 0;
}

/** A download restarting() left without a request in flight: it asks again over the new association. */
function waitsForLink(d: Download): boolean {
  return d.restarted && d.expiresAt === Infinity && d.askAgainAt === Infinity;
}

function jitter(ms: number): number {
  return ms * (0.875 + Math.random() * 0.25);
}


function hex16(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}
