// GET /metrics on the control channel: the registrar in Prometheus' text format (prom-client).
// The gauges follow the objects of the RSerPool MIB (RFC 5525: the handlespace's pools and
// PEs, the ENRP peers and their states); the counters count messages by ASAP/ENRP type,
// Operation Error causes, keep-alive timeouts, unreachable reports, takeovers, mentor syncs and
// handle resolutions by policy; per thread: event-loop delay, each shard's queue depth and
// batch sizes; SCTP: associations, send-queue bytes, path errors (retransmission timeouts).
//
// Every label set is bounded: message types by name (all others "unknown"), causes by name,
// policies by name, shards by index (--shards), peer states (four), endpoints (asap, enrp),
// counter names (a fixed set). Never a label per PE, per pool or per peer.
//
// Nothing here runs per message: the hot paths count into typed arrays (metrics-counts.ts);
// a scrape asks the shards for theirs over the stats path and folds them here, on the I/O thread.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControlPeer, ControlRoute, ControlSource } from './control.js';
import {
  ASAP_TYPE_LABELS,
  CAUSE_LABELS,
  ENRP_TYPE_LABELS,
  EventLoopDelayMonitor,
  POLICY_LABELS,
  byLabel,
  type EventLoopDelay,
  type ShardMetrics,
} from '../shard/metrics-counts.js';
import type { RegistrarStats } from './registrar.js';
import { AsapType } from '../wire/constants.js';
import { PROCESS_FAULT_KINDS } from './process-fault-counts.js';

/** Everything a scrape exports, gathered by the registrar (Registrar.metrics()). */
export interface ScrapeFigures {
  stats: RegistrarStats;
  ready: boolean;
  /** Per shard (index = shard), null for a shard being restarted. */
  shardMetrics: Array<(ShardMetrics & { queueDepth: number }) | null>;
  /** Counts by type byte (256 entries) on the I/O thread. */
  asapReceived: ArrayLike<number>;
  asapSent: ArrayLike<number>;
  /** Causes of the ASAP_ERRORs the I/O thread sent, by cause slot. */
  asapCausesSent: ArrayLike<number>;
  enrpReceived: ArrayLike<number>;
  enrpSent: ArrayLike<number>;
  /** Causes of the ENRP_ERRORs sent, by cause slot. */
  enrpCausesSent: ArrayLike<number>;
  peers: ControlPeer[];
  /** Per SCTP endpoint: bytes waiting in the associations' send queues, and their paths' error counts. */
  sendQueueBytes: { asap: number; enrp: number };
  pathErrors: { asap: number; enrp: number };
  enrpAssociations: number;
  /** The registrar as RFC 5525's rserpoolENRPTable describes it. */
  info: { asapPort: number; enrpPort: number; asapAnnounce: string; enrpAnnounce: string; uptimeSeconds: number };
}

/** The bounded-label counts the dashboard and the admin API show (ControlSource.counters). */
export interface MessageCounters {
  asapReceived: Record<string, number>;
  asapSent: Record<string, number>;
  enrpReceived: Record<string, number>;
  enrpSent: Record<string, number>;
  /** Causes sent in ASAP_ERRORs and rejecting ASAP responses. */
  errorCauses: Record<string, number>;
  /** Causes sent in ENRP_ERRORs. */
  enrpErrorCauses: Record<string, number>;
  keepAliveTimeouts: number;
  unreachableReports: number;
  takeovers: number;
  mentorSyncs: number;
  handleResolutions: Record<string, number>;
}

/** Sum of each slot over the shards (and `extra`, the I/O thread's). */
function sumSlots(length: number, rows: Array<ArrayLike<number> | undefined>): number[] {
  const out = new Array<number>(length).fill(0);
  for (const row of rows) if (row !== undefined) for (let i = 0; i < length && i < row.length; i++) out[i]! += row[i]!;
  return out;
}

function bySlotLabel(counts: ArrayLike<number>, labels: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < labels.length; i++) out[labels[i]!] = (out[labels[i]!] ?? 0) + (counts[i] ?? 0);
  return out;
}

/** A shard counter summed over the shards. */
function shardSum(stats: RegistrarStats, name: string): number {
  let n = 0;
  for (const s of stats.shards) n += s.counters[name] ?? 0;
  return n;
}

/** The counts of a snapshot by bounded labels. */
export function countersOf(s: ScrapeFigures): MessageCounters {
  const causes = sumSlots(CAUSE_LABELS.length, [s.asapCausesSent, ...s.shardMetrics.map((m) => m?.causesSent)]);
  const policies = sumSlots(POLICY_LABELS.length, s.shardMetrics.map((m) => m?.resolutionsByPolicy));
  const e = s.stats.enrp;
  return {
    asapReceived: byLabel(s.asapReceived, ASAP_TYPE_LABELS),
    asapSent: byLabel(s.asapSent, ASAP_TYPE_LABELS),
    enrpReceived: byLabel(s.enrpReceived, ENRP_TYPE_LABELS),
    enrpSent: byLabel(s.enrpSent, ENRP_TYPE_LABELS),
    errorCauses: bySlotLabel(causes, CAUSE_LABELS),
    enrpErrorCauses: bySlotLabel(s.enrpCausesSent, CAUSE_LABELS),
    keepAliveTimeouts: shardSum(s.stats, 'keepAliveTimeouts'),
    unreachableReports: s.asapReceived[AsapType.EndpointUnreachable] ?? 0,
    takeovers: e.takeoversWon,
    mentorSyncs: e.tablePagesReceived,
    handleResolutions: bySlotLabel(policies, POLICY_LABELS),
  };
}

/** The peer states a gauge counts (PeerStatus in enrp-peers.ts, and asked: silent, asked to answer). */
export const PEER_STATES = ['active', 'asked', 'not-active', 'taking-over'] as const;

/**
 * The Prometheus registry of one control channel: each scrape sets every metric from a fresh
 * snapshot, then prom-client writes the text. Scrapes run one at a time.
 */
export class RegistrarMetrics {
  readonly registry = new Registry();
  private readonly ioLoop = new EventLoopDelayMonitor();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly set: (snapshot: ScrapeFigures, ioDelay: EventLoopDelay) => void;

  constructor() {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name: `rserpool_${name}`, help, labelNames, registers: [r] });
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name: `rserpool_${name}`, help, labelNames, registers: [r] });

    const info = gauge('registrar_info', 'This registrar: 1; its server ID, ports and announce groups as labels (RFC 5525 rserpoolENRPIdentifier, Port, ASAPAnnounceAddr/Port, ENRPAnnounceAddr/Port; "off": none)', ['registrar_id', 'asap_port', 'enrp_port', 'asap_announce', 'enrp_announce']);
    const uptime = gauge('registrar_uptime_seconds', 'Seconds since the registrar started (RFC 5525 rserpoolENRPUptime)');
    const poolsByPolicy = gauge('pools_by_policy', 'Pools by their policy (RFC 5525 rserpoolENRPPolicyID)', ['policy']);
    const elementsByPolicy = gauge('pool_elements_by_policy', 'Pool elements by their pool\'s policy', ['policy']);
    const lastHeard = gauge('enrp_peer_last_heard_max_seconds', 'The longest any peer has not been heard (RFC 5525 rserpoolENRPPeerLastHeard, the oldest); 0 without peers');
    const ready = gauge('registrar_ready', '1 once the mentor search is over and every shard is attached (GET /ready)');
    const pools = gauge('pools', 'Pools in the handlespace (RFC 5525 rserpoolENRPPoolTable)');
    const elements = gauge('pool_elements', 'Pool elements in the handlespace (RFC 5525 rserpoolENRPPoolElementTable)');
    const timers = gauge('pool_element_timers', 'Pending keep-alive and lifetime timers of pool elements');
    const shardPools = gauge('shard_pools', 'Pools held by each shard', ['shard']);
    const shardElements = gauge('shard_pool_elements', 'Pool elements held by each shard', ['shard']);
    const shardRestarts = counter('shard_restarts_total', 'Shard worker threads restarted after they died', ['shard']);
    const peers = gauge('enrp_peers', 'ENRP peers by state (RFC 5525 rserpoolENRPPeerTable): active, asked (silent, asked to answer), not-active (another takes it over), taking-over (we do)', ['state']);
    const mismatch = gauge('enrp_peers_checksum_mismatch', 'Peers whose announced PE checksum differs from ours of their PEs (an audit follows, RFC 5353 §3.6.2)');
    const asapIn = counter('asap_messages_received_total', 'ASAP messages received, by type (unknown types together)', ['type']);
    const asapOut = counter('asap_messages_sent_total', 'ASAP messages sent, by type', ['type']);
    const enrpIn = counter('enrp_messages_received_total', 'ENRP messages received (associations and multicast), by type (unknown types together)', ['type']);
    const enrpOut = counter('enrp_messages_sent_total', 'ENRP messages sent point to point, by type', ['type']);
    const causes = counter('asap_error_causes_sent_total', 'Operation Error causes sent (ASAP_ERROR and rejecting responses), by cause (RFC 5354 §3.12)', ['cause']);
    const enrpCauses = counter('enrp_error_causes_sent_total', 'Operation Error causes sent in ENRP_ERRORs, by cause (RFC 5354 §3.12)', ['cause']);
    const resolutions = counter('handle_resolutions_total', 'Handle resolutions served, by the pool\'s policy (unknown-pool: no such pool)', ['policy']);
    const keepAliveTimeouts = counter('keep_alive_timeouts_total', 'Pool elements removed because they did not acknowledge a keep-alive (RFC 5352 §3.5)');
    const unreachable = counter('unreachable_reports_total', 'ENDPOINT_UNREACHABLE reports received (RFC 5352 §3.5)');
    const unreachableRemovals = counter('unreachable_removals_total', 'Pool elements removed after MAX-BAD-PE-REPORT reports');
    const registrations = counter('registrations_total', 'ASAP registrations by outcome', ['outcome']);
    const deregistrations = counter('deregistrations_total', 'Pool elements deregistered (by themselves or by an operator)');
    const takeovers = counter('takeovers_total', 'ENRP takeovers of dead peers by outcome (RFC 5353 §3.5)', ['outcome']);
    const mentorSyncs = counter('mentor_sync_pages_total', 'Handle table pages received from a mentor or in audits (RFC 5353 §3.2.3, §3.6.3)');
    const audits = counter('enrp_audits_total', 'Audits of a peer\'s PEs after a checksum mismatch (RFC 5353 §3.6.3)');
    const asapEvents = counter('asap_events_total', 'Every count the shards keep (sum over shards), by name', ['event']);
    const enrpEvents = counter('enrp_events_total', 'Every count the ENRP service keeps, by name', ['event']);
    const rateLimited = counter('asap_rate_limited_total', 'ASAP requests dropped over their association\'s rate (RFC 5355 §6)', ['kind']);
    const ioEvents = counter('io_events_total', 'Counts of the I/O thread: wrong PPIDs, errors sent, answers dropped on a full send queue, associations aborted over it', ['event']);
    const loopDelay = gauge('event_loop_delay_seconds', 'Event-loop delay per thread since the last scrape (io: the I/O thread; shard-N), by statistic', ['thread', 'stat']);
    const queueDepth = gauge('shard_queue_depth', 'ASAP messages handed to a shard and not yet taken by it when it answered the scrape', ['shard']);
    const batches = counter('shard_batches_total', 'Batches a shard took from the I/O thread', ['shard']);
    const batchMessages = counter('shard_batch_messages_total', 'ASAP messages in those batches (mean batch size: this over shard_batches_total)', ['shard']);
    const batchMax = gauge('shard_batch_max_messages', 'The largest batch of a shard since the last scrape', ['shard']);
    const associations = gauge('sctp_associations', 'SCTP associations by endpoint (asap: PEs and PUs; enrp: peers)', ['endpoint']);
    const streamAssociations = gauge('stream_associations', 'ASAP associations over TCP and TLS', ['protocol']);
    const sendQueue = gauge('sctp_send_queue_bytes', 'Bytes waiting in the associations\' send queues, by endpoint', ['endpoint']);
    const pathErrors = gauge('sctp_path_errors', 'Sum over the associations\' paths of their error counts (retransmission timeouts in a row, RFC 9260 §8.2)', ['endpoint']);
    const peAssociations = gauge('pe_associations', 'Associations this registrar started to pool elements (after a takeover or a warm restart), open or waiting for --pe-association-rate', ['state']);
    const peAssociationEvents = counter('pe_association_events_total', 'Associations to pool elements started, first messages delayed by --pe-association-rate, messages refused over --max-pe-associations', ['event']);
    const streamEvents = counter('stream_events_total', 'The TCP and TLS endpoints\' counts (connections accepted, refused, framing aborts, TLS handshakes failed, ENRP over TLS refusals...) and TLS access refusals, by endpoint (tcp, tls, enrp-tls, tls-access) and name', ['endpoint', 'event']);
    const sctpEvents = counter('sctp_events_total', 'The SCTP endpoints\' counts (packets received, dropped, out of the blue, INITs...), by endpoint and name', ['endpoint', 'event']);
    const processFaults = counter('process_faults_total', 'Faults of the registrar process that escaped every handler and were served on (each also a BUG line on stderr), by kind: unhandled_rejection (an uncaught exception exits 70 instead)', ['kind']);

    const setCounter = (c: Counter, labels: Record<string, string>, value: number): void => {
      c.inc(labels, Math.max(0, value));
    };
    const setAll = (c: Counter, values: Record<string, number>, label: string): void => {
      c.reset();
      for (const [k, v] of Object.entries(values)) if (typeof v === 'number') setCounter(c, { [label]: k }, v);
    };
    const setOne = (c: Counter, value: number): void => {
      c.reset();
      c.inc(Math.max(0, value));
    };

    this.set = (s, ioDelay) => {
      const st = s.stats;
      info.reset();
      info.set(
        {
          registrar_id: `0x${(st.registrarId >>> 0).toString(16).padStart(8, '0')}`,
          asap_port: String(s.info.asapPort),
          enrp_port: String(s.info.enrpPort),
          asap_announce: s.info.asapAnnounce,
          enrp_announce: s.info.enrpAnnounce,
        },
        1,
      );
      uptime.set(s.info.uptimeSeconds);
      const policyPools = sumSlots(POLICY_LABELS.length, s.shardMetrics.map((m) => m?.poolsByPolicy));
      const policyElements = sumSlots(POLICY_LABELS.length, s.shardMetrics.map((m) => m?.elementsByPolicy));
      poolsByPolicy.reset();
      elementsByPolicy.reset();
      POLICY_LABELS.forEach((policy, i) => {
        if (policy === 'unknown-pool') return;
        poolsByPolicy.set({ policy }, policyPools[i]!);
        elementsByPolicy.set({ policy }, policyElements[i]!);
      });
      lastHeard.set(s.peers.reduce((m, p) => Math.max(m, p.lastHeardMsAgo / 1000), 0));
      ready.set(s.ready ? 1 : 0);
      let p = 0;
      let e = 0;
      let t = 0;
      for (const shard of st.shards) {
        p += shard.pools;
        e += shard.poolElements;
        t += shard.timers;
        shardPools.set({ shard: String(shard.shard) }, shard.pools);
        shardElements.set({ shard: String(shard.shard) }, shard.poolElements);
      }
      pools.set(p);
      elements.set(e);
      timers.set(t);
      shardRestarts.reset();
      for (const shard of st.shards) setCounter(shardRestarts, { shard: String(shard.shard) }, shard.restarts);
      for (const state of PEER_STATES) peers.set({ state }, 0);
      let mismatches = 0;
      for (const peer of s.peers) {
        peers.inc({ state: peer.state });
        if (peer.announcedChecksum !== null && peer.localChecksum !== null && peer.announcedChecksum !== peer.localChecksum) mismatches++;
      }
      mismatch.set(mismatches);
      const c = countersOf(s);
      setAll(asapIn, c.asapReceived, 'type');
      setAll(asapOut, c.asapSent, 'type');
      setAll(enrpIn, c.enrpReceived, 'type');
      setAll(enrpOut, c.enrpSent, 'type');
      setAll(causes, c.errorCauses, 'cause');
      setAll(enrpCauses, c.enrpErrorCauses, 'cause');
      setAll(resolutions, c.handleResolutions, 'policy');
      setOne(keepAliveTimeouts, c.keepAliveTimeouts);
      setOne(unreachable, c.unreachableReports);
      setOne(unreachableRemovals, shardSum(st, 'unreachableRemovals'));
      setAll(registrations, { new: shardSum(st, 'registrations'), renewed: shardSum(st, 'reregistrations'), rejected: shardSum(st, 'rejections') }, 'outcome');
      setOne(deregistrations, shardSum(st, 'deregistrations'));
      setAll(takeovers, { started: st.enrp.takeoversStarted, won: st.enrp.takeoversWon, yielded: st.enrp.takeoversYielded, refused: st.enrp.takeoversRefused, limited: st.enrp.takeoversLimited }, 'outcome');
      setOne(mentorSyncs, c.mentorSyncs);
      setOne(audits, st.enrp.audits);
      const shardCounts: Record<string, number> = {};
      for (const shard of st.shards) for (const [k, v] of Object.entries(shard.counters)) shardCounts[k] = (shardCounts[k] ?? 0) + v;
      setAll(asapEvents, shardCounts, 'event');
      setAll(enrpEvents, st.enrp as unknown as Record<string, number>, 'event');
      setAll(rateLimited, st.rateLimited as unknown as Record<string, number>, 'kind');
      setAll(ioEvents, { droppedWrongPpid: st.droppedWrongPpid, errorsSent: st.errorsSent, answersDropped: st.answersDropped, sendQueueAborts: st.sendQueueAborts }, 'event');
      peAssociations.set({ state: 'open' }, st.peAssociations.open);
      peAssociations.set({ state: 'waiting' }, st.peAssociations.waiting);
      setAll(peAssociationEvents, { started: st.peAssociations.started, delayed: st.peAssociations.delayed, refused: st.peAssociations.refused }, 'event');
      loopDelay.reset();
      const delay = (thread: string, d: EventLoopDelay): void => {
        loopDelay.set({ thread, stat: 'p50' }, d.p50 / 1000);
        loopDelay.set({ thread, stat: 'p99' }, d.p99 / 1000);
        loopDelay.set({ thread, stat: 'max' }, d.max / 1000);
        loopDelay.set({ thread, stat: 'mean' }, d.mean / 1000);
      };
      delay('io', ioDelay);
      queueDepth.reset();
      batches.reset();
      batchMessages.reset();
      batchMax.reset();
      s.shardMetrics.forEach((m, i) => {
        if (m === null) return;
        const shard = String(i);
        delay(`shard-${i}`, m.eventLoopDelay);
        queueDepth.set({ shard }, m.queueDepth);
        setCounter(batches, { shard }, m.batches);
        setCounter(batchMessages, { shard }, m.batchRecords);
        batchMax.set({ shard }, m.batchMax);
      });
      associations.set({ endpoint: 'asap' }, st.associations - st.streams.reduce((n, x) => n + x.associations, 0));
      associations.set({ endpoint: 'enrp' }, s.enrpAssociations);
      streamAssociations.reset();
      for (const x of st.streams) streamAssociations.set({ protocol: x.protocol }, x.associations);
      sendQueue.set({ endpoint: 'asap' }, s.sendQueueBytes.asap);
      sendQueue.set({ endpoint: 'enrp' }, s.sendQueueBytes.enrp);
      pathErrors.set({ endpoint: 'asap' }, s.pathErrors.asap);
      pathErrors.set({ endpoint: 'enrp' }, s.pathErrors.enrp);
      streamEvents.reset();
      const streamCounts = (endpoint: string, values: object): void => {
        for (const [k, v] of Object.entries(values)) if (typeof v === 'number' && k !== 'port' && k !== 'associations') setCounter(streamEvents, { endpoint, event: k }, v);
      };
      for (const x of st.streams) streamCounts(x.protocol, x);
      if (st.enrpTls !== null) streamCounts('enrp-tls', st.enrpTls);
      streamCounts('tls-access', st.tlsAccess);
      sctpEvents.reset();
      for (const endpoint of ['asap', 'enrp'] as const) {
        for (const [k, v] of Object.entries(st.sctp[endpoint] as Record<string, unknown>)) if (typeof v === 'number') setCounter(sctpEvents, { endpoint, event: k }, v);
      }
      processFaults.reset();
      for (const { kind, count } of PROCESS_FAULT_KINDS) setCounter(processFaults, { kind }, st.processFaults[count]);
    };
  }

  /** One scrape: a fresh snapshot into the metrics, then the text (one scrape at a time). */
  scrape(take: () => Promise<ScrapeFigures>): Promise<string> {
    const run = this.queue.then(async () => {
      const snapshot = await take();
      this.set(snapshot, this.ioLoop.report());
      return this.registry.metrics();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.ioLoop.close();
  }
}

/** GET /metrics, for a source that gathers snapshots (the registrar). */
export function metricsRoutes(source: ControlSource): ControlRoute[] {
  if (source.metrics === undefined) return [];
  const take = (): Promise<ScrapeFigures> => source.metrics!({ resetWindows: true });
  const metrics = new RegistrarMetrics();
  return [
    {
      path: '/metrics',
      handle: async ({ request, response }) => {
        const text = await metrics.scrape(take);
        response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      close: () => metrics.close(),
    },
  ];
}
