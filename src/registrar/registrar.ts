// The registrar process's I/O thread (ARCHITECTURE.md "Shape"): it owns the SCTP endpoint
// and the associations, checks PPIDs, peeks at each ASAP message's pool handle to pick the
// shard that owns the pool, ships per-shard batches, sends what the shards answer, and sends
// ASAP_SERVER_ANNOUNCE on the multicast channel (RFC 5352 §3.6).
import { randomInt } from 'node:crypto';
import { createLogger, type Logger } from '../log.js';
import { ShardSet, type ShardStats } from '../shard/shard-set.js';
import type { FromShardHandler } from '../shard/thread-protocol.js';
import { AnnounceSender, openSctpEndpoint, type Association, type SctpEndpoint } from '../transport/index.js';
import { AsapType, Cause, ParamType, PPID_ASAP, TransportUse, addressToString, decodeAsap, encodeMessage, parseAddress, transportParameter } from '../wire/index.js';
import { asapError } from '../shard/asap-service.js';
import { advertisedAddresses, bindAddresses, defaultRegistrarConfig, type RegistrarConfig } from './config.js';
import type { DumpRow } from '../shard/enrp-handlespace.js';
import { EnrpService, type EnrpCounters } from './enrp-service.js';
import { readAsapTransport } from '../shard/pe-asap-transport.js';
import { peekPoolHandle } from './peek.js';
import { CONTROL_ADDRESS, ControlServer, checkControlBinding, controlLimits, isLoopbackAddress, type ControlPeer } from './control.js';
import { readControlToken } from './control-auth.js';
import { readControlTls, type ControlTls } from './control-tls.js';
import { countersOf, type MessageCounters, type ScrapeFigures } from './metrics.js';
import { CauseCounts, MessageTypeCounts } from '../shard/metrics-counts.js';
import { PeerStatus } from './enrp-peers.js';
import { SendQueueGuard } from './send-queue.js';
import { AssociationRates, ratedKind, type RateLimitCounters } from './rate-limit.js';
import type { DumpPool } from '../shard/handlespace-dump.js';
import { loadAsapStreamCredentials, openAsapStreamPorts } from '../transport/stream-asap-ports.js';
import { TlsCredentialError } from '../transport/tls-credentials.js';
import { asapAccessSettings, asapGateFor, asapVerdict, plainRegistrationRestricted, type AsapAccessCounters, type AsapAccessSettings, type AsapGate } from './tls-authorization.js';
import { EnrpTlsEndpoint, loadEnrpTlsCredentials, refusePlainEnrp, type EnrpTlsCounters } from './enrp-tls-endpoint.js';
import type { StreamEndpoint, StreamEndpointCounters } from '../transport/stream-endpoint.js';
import { hexId } from '../wire/identifier-text.js';
import { assembleSnapshot, type SnapshotReader } from '../snapshot/snapshot-format.js';
import { loadStartSnapshot, SnapshotKeeper, WarmRestore } from '../snapshot/warm-restart.js';
import { PeAssociationGate, type PeAssociationCounters } from './pe-association-gate.js';
import { systemScheduler } from '../handlespace/timer-schedule.js';
import { processFaultCounts, type ProcessFaultCounts } from './process-fault-counts.js';

/** The rate limits' clock: monotonic milliseconds. */
const monotonicMs = (): number => performance.now();

export interface RegistrarAddress {
  /** Address PEs and PUs connect to. */
  address: string;
  /** SCTP port of the ASAP endpoint. */
  port: number;
  /** UDP encapsulation port (RFC 6951) in udp mode. */
  udpPort: number | undefined;
}

export interface RegistrarStats {
  registrarId: number;
  mode: string;
  associations: number;
  droppedWrongPpid: number;
  /** ASAP_ERRORs sent by the I/O thread (messages without a readable pool handle); shards count theirs. */
  errorsSent: number;
  /** ASAP answers dropped because the association's send queue was full (maxSendQueueBytes). */
  answersDropped: number;
  /** ASAP associations aborted for staying over the send-queue limit longer than sendQueueTimeout. */
  sendQueueAborts: number;
  /** ASAP requests dropped over the per-association rates (registrationRate, resolutionRate, unreachableReportRate). */
  rateLimited: RateLimitCounters;
  enrp: EnrpCounters;
  peers: number[];
  shards: ShardStats[];
  /** ASAP over TCP and TLS: each open port and what it turned away (framing, handshakes, idle, limit). */
  streams: Array<{ protocol: 'tcp' | 'tls'; port: number; associations: number } & StreamEndpointCounters>;
  /** ASAP refused by --tls-only or per-pool authorization (src/registrar/tls-authorization.ts). */
  tlsAccess: AsapAccessCounters;
  /** ENRP over TLS (--enrp-tls-port): its port, links, handshakes and refusals; null when ENRP runs over SCTP. */
  enrpTls: ({ port: number; associations: number } & StreamEndpointCounters & EnrpTlsCounters) | null;
  /** The SCTP endpoints' own counts (src/sctp/endpoint.ts SctpEndpointStats): packets dropped, OOTB, refused INITs... */
  sctp: { asap: object; enrp: object };
  /** Associations we started to PEs' ASAP transports (--max-pe-associations, --pe-association-rate): open, waiting for the rate, started, delayed, refused. */
  peAssociations: { open: number; waiting: number } & PeAssociationCounters;
  /** Faults of this process that escaped every handler and were served on (src/registrar/process-fault-counts.ts). */
  processFaults: ProcessFaultCounts;
}

export class Registrar {
  readonly id: number;
  readonly config: RegistrarConfig;
  private readonly log: Logger;
  private endpoint!: SctpEndpoint;
  private shards!: ShardSet;
  private announcer: AnnounceSender | null = null;
  private announceTimer: NodeJS.Timeout | undefined;
  private readonly associations = new Map<number, Association>();
  /** ENRP (RFC 5353): peers, presence, tables, updates, takeover. */
  enrp!: EnrpService;
  private enrpEndpoint!: SctpEndpoint;
  /** Associations we started to PEs' ASAP transports (takeover keep-alives), by address:port. */
  private readonly toPoolElements = new Map<string, Association>();
  /** Their number and the rate of their INITs (src/registrar/pe-association-gate.ts). */
  private readonly peGate: PeAssociationGate;
  private droppedWrongPpid = 0;
  /** Per-association token buckets (src/registrar/rate-limit.ts); gone with the association. */
  private readonly rates = new WeakMap<Association, AssociationRates>();
  private readonly rateLimited: RateLimitCounters = { registrations: 0, resolutions: 0, unreachableReports: 0 };
  private errorsSent = 0;
  /** Every ASAP send: a full send queue drops the answer, a peer stuck over it is aborted. */
  private readonly asapSends: SendQueueGuard;
  private control: ControlServer | null = null;
  /** ASAP messages by type received and sent by this thread, causes of its ASAP_ERRORs (/metrics; counting allocates nothing). */
  private readonly asapIn = new MessageTypeCounts();
  private readonly asapOut = new MessageTypeCounts();
  private readonly causesOut = new CauseCounts();
  /** ASAP over TCP and TLS (RFC 5352 §6): associations from these go the way of SCTP ones. */
  private streamPorts: StreamEndpoint[] = [];
  /** ENRP over TLS (enrp-tls-endpoint.ts), when the scope speaks it; the ENRP service's endpoint then. */
  private enrpTls: EnrpTlsEndpoint | null = null;
  /** --tls-only and per-pool authorization (tls-authorization.ts), decided per association in accept(). */
  private access: AsapAccessSettings = { tlsOnly: false, poolMap: null };
  private readonly accessCounters: AsapAccessCounters = { rejected: 0, dropped: 0 };
  private closed = false;
  /** --snapshot (src/snapshot/): the file read at start, until restored, and the periodic writer. */
  private startSnapshot: SnapshotReader | null = null;
  private snapshots: SnapshotKeeper | null = null;
  /** The shards' restore of the start snapshot, in the background while serving (src/snapshot/restore.ts). */
  private warmRestore: WarmRestore | null = null;

  private constructor(config: RegistrarConfig, log: Logger) {
    this.config = config;
    this.id = config.registrarId || randomInt(1, 0xffffffff);
    this.log = log.child({ registrar: hexId(this.id) });
    this.asapSends = new SendQueueGuard({ timeout: config.sendQueueTimeout, protocol: 'ASAP', log: this.log });
    this.peGate = new PeAssociationGate(config, systemScheduler, () => this.toPoolElements.size, (key, messages) => this.startPeAssociation(key, messages));
  }

  static async start(config: Partial<RegistrarConfig> = {}, log?: Logger): Promise<Registrar> {
    const full: RegistrarConfig = { ...defaultRegistrarConfig(), ...config };
    // `address` is the one-address shorthand of `addresses`.
    if (config.addresses === undefined && config.address !== undefined) full.addresses = [config.address];
    // Without an explicit choice, the ENRP presence channel follows the ASAP announces: a
    // registrar told to stay off multicast (tests, unicast-only sites) stays off both.
    if (config.enrpAnnounce === undefined) full.enrpAnnounce = full.announce;
    const logger = log ?? createLogger('registrar', full.logLevel);
    // Warm restart: the snapshot writer's ID is ours unless --id says otherwise, so that the
    // restored PEs and the peers know this registrar again (src/snapshot/warm-restart.ts).
    const warm = full.snapshot !== null ? await loadStartSnapshot(full.snapshot, logger) : null;
    if (warm !== null && full.registrarId === 0) full.registrarId = warm.header.registrarId;
    const registrar = new Registrar(full, logger);
    registrar.startSnapshot = warm;
    try {
      await registrar.open();
    } catch (error) {
      // Fatal at start (a port taken, raw sockets without privilege): nothing stays open
      // behind the rejection (shard threads, sockets), so the caller can exit.
      await registrar.close().catch(() => undefined);
      throw error;
    }
    return registrar;
  }

  get asapAddress(): RegistrarAddress {
    const address = bindAddresses(this.config)[0] ?? '127.0.0.1';
    return { address, port: this.endpoint.port, udpPort: this.endpoint.udpPort };
  }

  /** Shards' worker threads (fault tests kill one). */
  get shardThreads(): ReadonlyArray<{ terminate(): Promise<number> }> {
    return this.shards.threads;
  }

  private async open(): Promise<void> {
    const c = this.config;
    this.checkControl(); // a bad --control-address/--control-token-file ends the start before anything opens
    // TLS files first: a bad one ends the start before any thread or port exists.
    const tlsCredentials = loadAsapStreamCredentials(c);
    if (c.tlsOnly && tlsCredentials === null) {
      throw new TlsCredentialError('--tls-only without TLS', 'give --tls-psk, or --tls-cert, --tls-key and --tls-ca (and a --tls-port other than 0)');
    }
    this.access = asapAccessSettings(c, tlsCredentials !== null);
    if (plainRegistrationRestricted(this.access)) this.log.warn('plain SCTP/TCP associations may resolve but not register (--tls-ca or --tls-pool-map: pools named in credentials hold over SCTP too; a pool map line "plain POOL..." or "plain *" opens pools to them)');
    const enrpTlsCredentials = loadEnrpTlsCredentials(c, this.access.poolMap);
    // Multicast presences carry no credentials: in a scope that speaks ENRP over TLS they would
    // let anyone add peers and keep a dead one "heard". Peers come from --peer and server lists.
    if (enrpTlsCredentials !== null && c.enrpAnnounce) {
      c.enrpAnnounce = false;
      this.log.info('ENRP over TLS: the multicast presence channel is off (its presences are unauthenticated); peers come from --peer and their server lists');
    }
    // --shards 0: one shard, run on the I/O thread (ShardSetOptions.inline).
    const shardCount = Math.max(1, c.shards);
    this.shards = new ShardSet(
      shardCount,
      {
        registrarId: this.id,
        keepAliveInterval: c.keepAliveInterval,
        keepAliveTimeout: c.keepAliveTimeout,
        shardCount,
        // A pool lives in one shard: per pool is exact. The total is checked against every
        // shard's count together (a shared census). Per association: counted per shard, so one
        // association holds at most shards x the limit (its pools may hash to several shards).
        limits: {
          maxBadPeReports: c.maxBadPeReports,
          defaultHandleResolutionItems: c.handleResolutionItems,
          maxHandleResolutionItems: c.maxHandleResolutionItems,
          maxPoolElementsPerPool: c.maxElementsPerPool,
          maxPoolElements: c.maxElements,
          maxPoolElementsPerAssociation: c.maxElementsPerAssociation,
        },
        allowForeignAddresses: c.allowForeignAddresses,
        maxElementsPerPeer: c.maxElementsPerPeer,
        subscriptions: { interval: c.subscriptionInterval, maxPerAssociation: c.maxSubscriptionsPerAssociation, maxPerPool: c.maxSubscriptionsPerPool },
        takeoverSuggestion: c.takeoverSuggestion,
      },
      {
        output: this.shardOutput,
        log: (level, fields, message) => this.log[level](fields, message),
        attached: (shard, restarted, orphaned) => {
          if (!restarted) return;
          // The new worker knows no association: tell it the live ones.
          const batch = this.shards.to(shard);
          for (const a of this.associations.values()) batch.associationUp(a.id, a.remote, a.remoteAddresses);
          this.log.warn({ shard, orphaned: orphaned.length }, 'shard worker restarted');
          this.recoverShard(shard, orphaned);
        },
      },
      { inline: c.shards === 0 },
    );
    await this.shards.start();
    const addresses = bindAddresses(c);
    const limits = { maxSendQueueBytes: c.maxSendQueueBytes, maxAssociations: c.maxAssociations, maxInboundStreams: c.maxInboundStreams, maxReassemblyBytes: c.maxReassemblyBytes };
    this.endpoint = await fatal(
      `cannot open the ASAP endpoint (SCTP port ${c.asapPort}${c.transport === 'raw' ? '' : `, UDP port ${c.udpPort} in udp mode`}${addresses.length > 0 ? ` on ${addresses.join(', ')}` : ''})`,
      openSctpEndpoint({
        mode: c.transport,
        port: c.asapPort,
        udpPort: c.udpPort,
        ...(addresses.length > 0 ? { addresses } : {}),
        ...limits,
        log: (message) => this.log.info(message),
      }),
    );
    this.endpoint.on('association', this.incoming);
    this.endpoint.on('error', (error) => this.log.error({ error: error.message }, 'SCTP endpoint error'));
    // ENRP on its own SCTP port; in udp mode on the same UDP socket as ASAP (as RSPLIB's
    // sctplib does on 9899), so one UDP port per registrar serves both.
    // In raw mode the same raw socket serves both ports (src/transport: openPort).
    this.enrpEndpoint = await fatal(`cannot open the ENRP endpoint (SCTP port ${c.enrpPort})`, this.endpoint.openPort(c.enrpPort));
    // Outgoing ENRP associations start from this same port, as RSPLIB's do: RSPLIB keeps
    // only those Server Information addresses that match the association's address AND port
    // (a presence from any other port is "no usable ENRP endpoint addresses").
    // ENRP over TLS: the service speaks it instead of SCTP, whose ENRP associations are refused.
    if (enrpTlsCredentials !== null) {
      const log = (level: 'debug' | 'info' | 'warn', fields: Record<string, unknown>, message: string): void => this.log[level](fields, message);
      const { port, server, client, serverIds } = enrpTlsCredentials;
      this.enrpTls = await fatal(
        `cannot open ENRP over TLS (TCP port ${port}${addresses.length > 0 ? ` on ${addresses.join(', ')}` : ''})`,
        EnrpTlsEndpoint.open({ port, addresses, server, client, poolMap: this.access.poolMap, serverIds, maxAssociations: c.maxAssociations, maxSendQueueBytes: c.maxSendQueueBytes, handshakeTimeout: c.tlsHandshakeTimeout, idleTimeout: c.streamIdleTimeout, log }),
      );
      refusePlainEnrp(this.enrpEndpoint, this.enrpTls.counters, log);
      this.log.info({ enrpTlsPort: this.enrpTls.port }, 'ENRP over TLS listening (ENRP over SCTP refused)');
    }
    this.enrp = new EnrpService(this.id, c, this.enrpTls ?? this.enrpEndpoint, this.shards, this.log);
    await this.restoreSnapshot();
    // The control channel opens before the mentor search: /health answers and /ready says 503 meanwhile.
    await this.openControl();
    await this.enrp.start();
    this.streamPorts = await openAsapStreamPorts(c, addresses, (level, fields, message) => this.log[level](fields, message), tlsCredentials);
    for (const ports of this.streamPorts) {
      ports.on('association', this.incoming);
      ports.on('error', (error) => this.log.error({ error: error.message, protocol: ports.protocol }, 'ASAP stream endpoint error'));
    }
    if (c.announce) await this.startAnnounces();
    this.log.info(
      { asap: `${formatAddresses(bindAddresses(c))}:${this.endpoint.port}`, mode: this.endpoint.mode, udpPort: this.endpoint.udpPort, shards: c.shards, announce: c.announce ? `${c.announceGroup.address}:${c.announceGroup.port}` : 'off' },
      'registrar started',
    );
  }

  /**
   * An association from a PE or PU on any ASAP port (SCTP, TCP, TLS). RFC 5353 §3.2.3 step 5:
   * ASAP is served once the handlespace is loaded; a PE that associates earlier is turned
   * away and hunts again (RFC 5352 §3.6).
   */
  private readonly incoming = (a: Association): void => {
    if (this.enrp?.isReady === true) this.accept(a);
    else a.abort('registrar still starting (ENRP handlespace download)');
  };

  /** `started`: an association we started to a PE's ASAP transport (sendToPoolElement). */
  private accept(a: Association, started = false): void {
    this.associations.set(a.id, a);
    this.log.debug({ association: a.id, remote: `${a.remote.address}:${a.remote.port}` }, 'association up');
    this.shards.toAll((batch) => batch.associationUp(a.id, a.remote, a.remoteAddresses));
    // Most associations have no gate: their messages cost no check (tls-authorization.ts).
    const gate = asapGateFor(a, this.access, started);
    if (gate === null) a.on('message', (payload, ppid) => this.receive(a, payload, ppid));
    else a.on('message', (payload, ppid) => this.receiveGated(a, gate, payload, ppid));
    a.on('down', (reason) => {
      this.associations.delete(a.id);
      this.log.debug({ association: a.id, reason }, 'association down');
      if (this.closed) return;
      // Aborted by us after a shard restart: the other shards keep its PEs (recoverShard()).
      if (this.detaching.delete(a.id)) this.shards.associationDetached(a.id);
      else this.shards.associationDown(a.id);
    });
  }

  private receive(a: Association, payload: Uint8Array, ppid: number): void {
    // RFC 5352 §5: ASAP messages use PPID 11; a registrar has no data channel, so anything
    // else on this port is not for us (RSPLIB even sends empty PPID-0 DATA). Dropped, counted.
    if (ppid !== PPID_ASAP) {
      if (this.droppedWrongPpid++ % 1000 === 0) this.log.warn({ association: a.id, ppid, dropped: this.droppedWrongPpid }, 'message with a PPID other than ASAP dropped');
      return;
    }
    this.asapIn.count(payload);
    // RFC 5355 §6: registrations, resolutions and unreachable reports beyond the association's
    // rate are dropped here, before a shard spends anything on them; counted, logged sparingly.
    if (!this.admit(a, payload[0])) return;
    const handle = peekPoolHandle(payload);
    if (handle !== null) {
      this.shards.asapMessage(this.shards.route(handle), a.id, payload);
      return;
    }
    this.withoutPoolHandle(a, payload);
  }

  /** A message over an association with a TLS gate: refused ones reach no shard (RFC 5352 §9.3). */
  private receiveGated(a: Association, gate: AsapGate, payload: Uint8Array, ppid: number): void {
    const verdict = ppid === PPID_ASAP ? asapVerdict(gate, payload) : null;
    if (verdict === null || verdict.action === 'pass') {
      this.receive(a, payload, ppid);
      return;
    }
    if (verdict.action === 'drop') {
      this.accessCounters.dropped++;
      return;
    }
    if (!this.admit(a, payload[0])) return;
    if (this.accessCounters.rejected++ % 1000 === 0) {
      this.log.warn({ association: a.id, remote: `${a.remote.address}:${a.remote.port}`, type: payload[0], poolHandle: verdict.poolHandle === null ? null : Buffer.from(verdict.poolHandle).toString('latin1'), rejected: this.accessCounters.rejected }, `ASAP request rejected due to security considerations: ${verdict.reason}`);
    }
    this.asapSends.send(a, verdict.response, PPID_ASAP);
  }

  /** Charges a message of ASAP type `type` to its association's bucket; false: dropped. Unrated types cost one switch. */
  private admit(a: Association, type: number | undefined): boolean {
    const kind = ratedKind(type);
    if (kind === null) return true;
    let rates = this.rates.get(a);
    if (rates === undefined) {
      rates = new AssociationRates(this.config, monotonicMs, this.rateLimited, (n) =>
        this.log.warn({ association: a.id, remote: `${a.remote.address}:${a.remote.port}`, kind: n.kind, dropped: n.dropped }, 'ASAP requests over the association\'s rate dropped'),
      );
      this.rates.set(a, rates);
    }
    return rates.admit(kind);
  }

  /** A message with no readable pool handle: decode it here and answer (RFC 5354 §3-4). */
  private withoutPoolHandle(a: Association, payload: Uint8Array): void {
    const result = decodeAsap(payload);
    if (!result.ok) {
      if (result.error.report) this.sendError(a, result.error.cause, result.error.offending);
      return;
    }
    if (result.message.type === AsapType.Error) {
      this.log.warn({ association: a.id }, 'ASAP_ERROR received');
      return;
    }
    if (result.message.type === AsapType.ServerAnnounce) return; // another registrar's announce on the wrong channel
    this.sendError(a, Cause.UnrecognizedMessage, payload);
  }

  private sendError(a: Association, cause: number, offending: Uint8Array | null): void {
    this.errorsSent++;
    this.asapOut.countType(AsapType.Error);
    this.causesOut.count(cause);
    // asapError() without a writer returns bytes of their own (the association keeps them).
    this.asapSends.send(a, asapError(cause, offending), PPID_ASAP);
  }

  /** What the shards send back, record by record (src/shard/thread-protocol.ts). */
  private readonly shardOutput: FromShardHandler = {
    sendAsap: (associationId, message) => {
      const a = this.associations.get(associationId);
      if (a === undefined) return; // it went down meanwhile
      this.asapOut.count(message);
      this.asapSends.send(a, owned(message), PPID_ASAP);
    },
    abortAssociation: (associationId) => {
      const a = this.associations.get(associationId);
      if (a !== undefined) this.abortIfUnused(a);
    },
    // ENRP and takeover keep-alives: rare; copied, so that no batch is pinned by a queue.
    enrpHandleUpdate: (message) => this.enrp.broadcastUpdate(message.slice()),
    handleTablePage: (session, more, message) => this.enrp.pageReady(session, more, message),
    sendAsapToTransport: (asapTransport, message) => this.sendToPoolElement(asapTransport, message.slice()),
  };

  /** Associations aborted by recoverShard(), until they are down. */
  private readonly detaching = new Set<number>();

  /**
   * A shard worker died and was restarted empty: the PEs it held are gone there. Their PEs
   * re-register at once on the loss of their association (RFC 5352 §3.5; RSPLIB's PE and
   * ours hunt and re-register), so the associations that had registered PEs in that shard
   * are aborted. Such an association may also carry PEs of pools in other shards: those
   * shards are told it is detached, not down, so they keep serving its PEs until the
   * re-registrations move them to the new association. With ENRP peers, the shard's pools
   * are also reloaded from a peer's handle table (peers' PEs come back without any PE acting).
   */
  private recoverShard(shard: number, orphaned: number[]): void {
    let aborted = 0;
    for (const id of orphaned) {
      const a = this.associations.get(id);
      if (a === undefined || a.state === 'down') continue;
      this.detaching.add(id);
      a.abort('shard restarted: re-register');
      aborted++;
    }
    this.log.warn({ shard, aborted }, 'shard restarted: associations of its pool elements aborted so that they re-register');
    this.enrp.reloadShard(shard);
  }

  /**
   * An ASAP message for a PE we have no association with: after a takeover, the keep-alive
   * with the H bit goes to the PE's ASAP transport (RFC 5353 §3.5.2 step 2). One association
   * per PE endpoint, shared by its PEs, then served like any PE association.
   */
  private sendToPoolElement(transportTlv: Uint8Array, message: Uint8Array): void {
    const t = readAsapTransport(transportTlv);
    if (t === null || this.closed) return;
    const address = addressToString(t.address);
    const key = `${address}:${t.port}`;
    let a = this.toPoolElements.get(key);
    if (a === undefined || a.state === 'down') {
      const existing = this.endpoint.associations.find((x) => x.remote.address === address && x.remote.port === t.port && x.state !== 'down');
      // A new association: within --max-pe-associations and --pe-association-rate.
      if (existing === undefined) return this.peGate.send(key, message);
      a = existing;
      this.toPoolElements.set(key, a);
    }
    this.asapOut.count(message);
    this.asapSends.send(a, message, PPID_ASAP);
  }

  /** Starts the association to a PE endpoint (`address:port`) the gate let through and sends its messages. */
  private startPeAssociation(key: string, messages: Uint8Array[]): void {
    if (this.closed) return;
    const at = key.lastIndexOf(':');
    const address = key.slice(0, at);
    let a = this.toPoolElements.get(key);
    if (a === undefined || a.state === 'down') {
      try {
        a = this.endpoint.associate({ address, port: Number(key.slice(at + 1)), udpPort: this.config.peUdpPort });
      } catch (error) {
        this.log.warn({ pe: key, error: (error as Error).message }, 'cannot associate to a pool element');
        return;
      }
      this.accept(a, true);
      const started = a;
      a.once('down', () => {
        if (this.toPoolElements.get(key) === started) this.toPoolElements.delete(key);
      });
      this.toPoolElements.set(key, a);
    }
    for (const message of messages) {
      this.asapOut.count(message);
      this.asapSends.send(a, message, PPID_ASAP);
    }
  }

  /**
   * A shard's last PE on this association failed its keep-alive (RFC 5352 §3.5). The
   * association is aborted so the PE notices, but only if no shard has a PE on it any more:
   * one PE process may register PEs of pools in several shards over one association.
   */
  private abortIfUnused(a: Association): void {
    this.shards.associationElements(a.id).then(
      (count) => {
        if (count > 0 || this.closed || this.associations.get(a.id) !== a) return;
        this.log.info({ association: a.id }, 'aborting association of a pool element that failed its keep-alive');
        a.abort('keep-alive timeout');
      },
      (error: Error) => this.log.error({ association: a.id, error: error.message }, 'association check failed'),
    );
  }

  // ------------------------------------------------------------------ RFC 5352 §3.6

  private async startAnnounces(): Promise<void> {
    const c = this.config;
    this.announcer = await AnnounceSender.open({ group: c.announceGroup, ttl: c.announceTtl });
    const message = this.announceMessage();
    // A failure (no multicast route: a host with only lo) is said once, and again when it changes.
    let failing: string | null = null;
    const cycle = (): void => {
      this.announcer?.send(message).then(
        () => {
          if (failing !== null) this.log.info({ group: `${c.announceGroup.address}:${c.announceGroup.port}` }, 'announces sent again');
          failing = null;
        },
        (error: Error) => {
          if (failing !== error.message) this.log.warn({ error: error.message, group: `${c.announceGroup.address}:${c.announceGroup.port}` }, 'announce not sent (said once until it changes; a multicast route is needed, or --announce off)');
          failing = error.message;
        },
      );
      this.announceTimer = setTimeout(cycle, jitter(c.announceInterval));
    };
    cycle();
  }

  /** ASAP_SERVER_ANNOUNCE with our SCTP transport: every address we listen on (RFC 5352 §2.2.7, RFC 5354 §3.3). */
  private announceMessage(): Uint8Array {
    const addresses = advertisedAddresses(this.config).map((a) => parseAddress(a)).filter((a) => a !== null);
    // A secured registrar announces its TLS port instead, as a TCP transport (RFC 5352 §2.2.10
    // allows SCTP and TCP ones; no parameter says TLS): clients over TLS hunt with it. Only
    // under --tls-only, where a TCP transport cannot be mistaken for plain TCP; and not its
    // SCTP port, where it refuses registrations and resolutions (SCTP clients would pick it).
    const transports = this.config.tlsOnly ? [] : [transportParameter(ParamType.SctpTransport, this.endpoint.port, addresses, TransportUse.DataOnly)];
    const tls = this.config.tlsOnly ? this.streamPorts.find((p) => p.protocol === 'tls') : undefined;
    if (tls !== undefined) transports.push(transportParameter(ParamType.TcpTransport, tls.port, addresses, TransportUse.DataOnly));
    return encodeMessage({ protocol: 'asap', type: AsapType.ServerAnnounce, flags: 0, paddedLength: false, unknownParams: null, serverId: this.id, transports });
  }

  async stats(): Promise<RegistrarStats> {
    return {
      registrarId: this.id,
      mode: this.endpoint.mode,
      associations: this.associations.size,
      droppedWrongPpid: this.droppedWrongPpid,
      errorsSent: this.errorsSent,
      answersDropped: this.asapSends.dropped,
      sendQueueAborts: this.asapSends.aborted,
      rateLimited: { ...this.rateLimited },
      enrp: { ...this.enrp.counters },
      peers: [...this.enrp.peers.all()].map((p) => p.serverId),
      shards: await this.shards.stats(),
      streams: this.streamPorts.map((ports) => ({ protocol: ports.protocol, port: ports.port, associations: ports.associations.length, ...ports.counters })),
      tlsAccess: { ...this.accessCounters },
      enrpTls: this.enrpTls === null ? null : { port: this.enrpTls.port, associations: this.enrpTls.associations.length, ...this.enrpTls.listenerCounters, ...this.enrpTls.counters },
      sctp: { asap: { ...this.endpoint.stats }, enrp: { ...this.enrpEndpoint.stats } },
      peAssociations: { open: this.toPoolElements.size, waiting: this.peGate.waitingEndpoints, ...this.peGate.counters },
      processFaults: { ...processFaultCounts },
    };
  }

  /** The whole handlespace, every shard's PEs: [pool handle hex, PE ID, home registrar], sorted. */
  dump(): Promise<DumpRow[]> {
    return this.shards.dump();
  }

  /** Operator snapshot of the handlespace: pools, policies, elements with transports and timers. */
  handlespace(): Promise<DumpPool[]> {
    return this.shards.handlespace();
  }

  /** The handlespace as a snapshot file's bytes (src/snapshot/); each shard encodes its part in parallel. */
  async snapshot(): Promise<Uint8Array> {
    const parts = await this.shards.snapshotParts();
    // A shard that did not answer (restarting) would leave its pools out: no partial snapshot.
    if (parts.length !== this.shards.count) throw new Error(`${this.shards.count - parts.length} shard(s) did not answer: snapshot not taken`);
    return assembleSnapshot(this.id, Date.now(), parts);
  }

  /**
   * Warm restart (--snapshot): the shards take their pools from the snapshot read at start,
   * own PEs get their keep-alive with the H bit (src/snapshot/restore.ts); then the periodic
   * writes begin. Before ENRP starts: the handlespace is served as soon as ASAP is, a pool not
   * yet restored in the background (--snapshot-restore-slice) restored when first asked for.
   */
  private async restoreSnapshot(): Promise<void> {
    const c = this.config;
    if (c.snapshot === null) return;
    const warm = this.startSnapshot;
    this.startSnapshot = null;
    if (warm !== null) this.warmRestore = await WarmRestore.begin(this.shards, warm.bytes, { path: c.snapshot, sliceMs: c.snapshotRestoreSlice, log: this.log });
    this.snapshots = new SnapshotKeeper({ path: c.snapshot, interval: c.snapshotInterval, take: () => this.snapshot(), log: this.log });
    this.snapshots.start();
  }

  /** Writes the --snapshot file now (tests, operators); null when there is none or it failed (logged). */
  async saveSnapshot(): Promise<{ bytes: number; ms: number } | null> {
    return (await this.snapshots?.save()) ?? null;
  }

  /** Port of the control channel (src/registrar/control.ts), or null when it is off. */
  get controlPort(): number | null {
    return this.control?.port ?? null;
  }

  /**
   * The operators' HTTP control channel (127.0.0.1 unless --control-address; elsewhere only
   * with --control-token-file); a taken port, an unreadable token file or a non-loopback
   * address without a token is fatal at start, like the SCTP ports.
   */
  private async openControl(): Promise<void> {
    const port = this.config.controlPort ?? 0;
    if (port <= 0) return;
    const address = this.config.controlAddress ?? CONTROL_ADDRESS;
    const token = this.controlToken;
    const tls = this.controlTls;
    this.control = await fatal(`cannot open the control channel (TCP ${address}:${port})`, ControlServer.open(this, { port, address, token, tls, ...controlLimits(this.config) }));
    this.log.info(
      { control: `${address.includes(':') ? `[${address}]` : address}:${this.control.port}`, token: token !== null, ...(tls !== null ? { https: tls.subject, clientCertificates: tls.ca !== null } : {}) },
      'control channel listening (/metrics, /health, /ready, /api, /handlespace, /stats)',
    );
    // Without --control-tls-cert the control server speaks plain HTTP: off loopback, the bearer
    // token in every request can be read on the way, and with it a PE removed.
    if (tls === null && !isLoopbackAddress(address)) {
      this.log.warn(
        { control: `${address.includes(':') ? `[${address}]` : address}:${this.control.port}` },
        'control channel is plain HTTP on a non-loopback address: its bearer token and what it serves cross the network in clear (anyone on the path can read the token, then remove PEs); give it --control-tls-cert and --control-tls-key (HTTPS), or serve it through a TLS-terminating proxy or a tunnel (ssh -L, WireGuard), or keep --control-address on loopback',
      );
    }
  }

  /** When the registrar was made (performance.now()), for rserpool_registrar_uptime_seconds. */
  private readonly startedAt = performance.now();

  /** The control channel's token (--control-token-file), read and checked before anything opens. */
  private controlToken: string | null = null;
  /** The control channel's HTTPS files (--control-tls-cert/-key/-ca), read and checked before anything opens. */
  private controlTls: ControlTls | null = null;

  private checkControl(): void {
    if ((this.config.controlPort ?? 0) <= 0) return;
    const tokenFile = this.config.controlTokenFile;
    try {
      this.controlToken = tokenFile === undefined ? null : readControlToken(tokenFile);
      checkControlBinding(this.config.controlAddress ?? CONTROL_ADDRESS, this.controlToken);
      this.controlTls = readControlTls({ cert: this.config.controlTlsCert, key: this.config.controlTlsKey, ca: this.config.controlTlsCa });
    } catch (error) {
      if (error instanceof TlsCredentialError) throw error; // names the flag and the file, with a hint
      throw new RegistrarStartError(`cannot open the control channel: ${(error as Error).message}`, undefined);
    }
  }

  // ---------------------------------------------------------- what the control channel shows

  /** GET /ready: the mentor search is over (RFC 5353 §3.2.3) and every shard is attached. */
  ready(): boolean {
    return !this.closed && this.enrp?.isReady === true && this.shards?.attachedCount === this.shards?.count;
  }

  /** The ENRP peers with their state and both checksums of their PEs (announced, ours). */
  async peers(): Promise<ControlPeer[]> {
    const peers = [...this.enrp.peers.all()];
    const ours = peers.length === 0 ? [] : await this.shards.peChecksums(peers.map((p) => p.serverId));
    const t = performance.now();
    return peers.map((p, i) => ({
      id: hexId(p.serverId),
      serverId: p.serverId,
      state: p.status === PeerStatus.NotActive ? 'not-active' : p.status === PeerStatus.TakingOver ? 'taking-over' : p.askedAt !== 0 ? 'asked' : 'active',
      lastHeardMsAgo: Math.max(0, Math.round(t - p.lastHeard)),
      announcedChecksum: p.announcedChecksum,
      localChecksum: ours[i] ?? null,
      address: p.transport === null ? null : `${p.transport.address.includes(':') ? `[${p.transport.address}]` : p.transport.address}:${p.transport.port}`,
      associated: p.association !== null && p.association.state !== 'down',
    }));
  }

  /** Everything GET /metrics exports, the shards' figures merged here (src/registrar/metrics.ts). */
  async metrics(options: { resetWindows?: boolean } = {}): Promise<ScrapeFigures> {
    const [stats, shardMetrics, peers] = await Promise.all([this.stats(), this.shards.metrics(options.resetWindows === true), this.peers()]);
    const queued = (endpoint: SctpEndpoint): { bytes: number; pathErrors: number } => {
      let bytes = 0;
      let pathErrors = 0;
      for (const a of endpoint.associations) {
        bytes += a.bufferedAmount;
        const paths = (a as { paths?: ReadonlyArray<{ errorCount: number }> }).paths;
        if (paths !== undefined) for (const p of paths) pathErrors += p.errorCount;
      }
      return { bytes, pathErrors };
    };
    const asap = queued(this.endpoint);
    const enrp = queued(this.enrpEndpoint);
    return {
      stats,
      ready: this.ready(),
      shardMetrics,
      asapReceived: this.asapIn.byType,
      asapSent: this.asapOut.byType,
      asapCausesSent: this.causesOut.byCause,
      enrpReceived: this.enrp.typesReceived.byType,
      enrpSent: this.enrp.typesSent.byType,
      enrpCausesSent: this.enrp.causesSent.byCause,
      peers,
      sendQueueBytes: { asap: asap.bytes, enrp: enrp.bytes },
      pathErrors: { asap: asap.pathErrors, enrp: enrp.pathErrors },
      enrpAssociations: this.enrpEndpoint.associations.length,
      info: {
        asapPort: this.endpoint.port,
        enrpPort: this.enrpEndpoint.port,
        asapAnnounce: this.config.announce ? `${this.config.announceGroup.address}:${this.config.announceGroup.port}` : 'off',
        enrpAnnounce: this.config.enrpAnnounce ? `${this.config.enrpGroup.address}:${this.config.enrpGroup.port}` : 'off',
        uptimeSeconds: (performance.now() - this.startedAt) / 1000,
      },
    };
  }

  /** Message counts by bounded labels (the dashboard, GET /api/stats). */
  async counters(): Promise<MessageCounters> {
    return countersOf(await this.metrics());
  }

  /** Pools without elements, and one pool with them (the admin API). */
  pools(): ReturnType<ShardSet['poolSummaries']> {
    return this.shards.poolSummaries();
  }

  pool(poolHandle: Uint8Array): ReturnType<ShardSet['pool']> {
    return this.shards.pool(poolHandle);
  }

  /** An operator removes an own PE as a deregistration would: the shard tells the peers (DEL_PE). */
  async removeElement(poolHandle: Uint8Array, peId: number): ReturnType<ShardSet['removeElement']> {
    const outcome = await this.shards.removeElement(poolHandle, peId);
    if (outcome === 'removed') this.log.warn({ pool: Buffer.from(poolHandle).toString('hex'), peId: hexId(peId) }, 'pool element removed by the operator (control channel)');
    return outcome;
  }

  /** Where peers reach our ENRP endpoint. */
  get enrpAddress(): RegistrarAddress {
    const address = bindAddresses(this.config)[0] ?? '127.0.0.1';
    return { address, port: this.enrpEndpoint.port, udpPort: this.enrpEndpoint.udpPort };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.warmRestore?.close();
    await this.snapshots?.close(); // the last snapshot, while the shards still run
    clearTimeout(this.announceTimer);
    this.peGate.close();
    this.asapSends.close();
    await this.control?.close();
    await this.announcer?.close();
    await this.enrp?.close();
    await this.enrpTls?.close();
    await this.enrpEndpoint?.close();
    await Promise.all(this.streamPorts.map((ports) => ports.close()));
    await this.endpoint?.close();
    await this.shards?.close();
    this.log.info('registrar stopped');
  }
}

/** Addresses for the log: '0.0.0.0' for the wildcard, IPv6 in brackets before a port. */
function formatAddresses(addresses: string[]): string {
  if (addresses.length === 0) return '0.0.0.0';
  return addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',');
}

/** A start-up step whose failure ends the start: rejects with `what` and the cause's message. */
async function fatal<T>(what: string, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RegistrarStartError(`${what}: ${(error as Error).message}`, code);
  }
}

/** Why a registrar could not start; `code` is the system error code when there is one (EADDRINUSE, EPERM...). */
export class RegistrarStartError extends Error {
  override readonly name = 'RegistrarStartError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * A shard's answer is a view into the batch the shard transferred. The association keeps what
 * it is given until acknowledged, so a view would pin the whole batch (every other record of
 * it) for as long as a slow peer leaves it unacknowledged: a view that is most of its buffer
 * is kept as is, a smaller one is copied, so what a send queue holds is at most twice its bytes.
 * The copy goes into Node's shared Buffer pool (8 KiB slabs), not an ArrayBuffer of its own:
 * our SCTP stack keeps each answer until the peer's SACK, and one off-heap ArrayBuffer per
 * answer kept that long made V8 run a mark-compact on the I/O thread every ~0.5 s under load
 * (2-25 ms pauses: the paced p99, docs/benchmarks.md); pooled, none ran. The price: an
 * unacknowledged answer pins its slab (at most 8 KiB, shared with other answers), still
 * within the association's send-queue limit in messages.
 */
function owned(payload: Uint8Array): Uint8Array {
  if (payload.byteLength * 2 >= payload.buffer.byteLength) return payload;
  const copy = Buffer.allocUnsafe(payload.byteLength);
  copy.set(payload);
  return copy;
}

/** RSPLIB jitters every periodic cycle uniformly in [0.875x, 1.125x]. */
function jitter(ms: number): number {
  return ms * (0.875 + Math.random() * 0.25);
}
