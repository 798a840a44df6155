// The live dashboard on the control channel (issue 13): a page for a browser, updated by
// server-sent events.
//   GET /  and  GET /dashboard   the page (HTML, CSS and script in one document: no assets)
//   GET /dashboard/events        text/event-stream: an `update` event every --dashboard-interval
//                                ms with pools and PEs (policy values), peers and their state,
//                                message rates over the last 5 minutes
// Bounded: at most --dashboard-clients streams at once (beyond: 503; 0 turns the dashboard
// off); an update is a bounded view of the handlespace (dashboard-state.ts); a stream whose
// reader falls behind by more than MAX_STREAM_BACKLOG_BYTES is dropped. One sampler serves
// every stream, and it runs only while some stream is open. It asks the shards for every
// pool's count and for the elements of the pools shown only; if that still takes long (many
// pools), it is done less often (at most ~10 % of the time), peers and rates every interval.
import type { ServerResponse } from 'node:http';
import { hexId } from '../wire/identifier-text.js';
import type { ControlCounters, ControlPeer, ControlRequest, ControlRoute, ControlSource } from './control.js';
import { countersOf } from './metrics.js';
import { DASHBOARD_PAGE } from './dashboard-page.js';
import { RateHistory, type RatesView } from './dashboard-rates.js';
import type { PoolSummary, DumpPool } from '../shard/handlespace-dump.js';
import { dashboardHandlespace, dashboardPeers, poolsToShow, summarize, type DashboardHandlespace } from './dashboard-state.js';

export const DASHBOARD_PATH = '/dashboard';
export const DASHBOARD_EVENTS_PATH = '/dashboard/events';
export const DEFAULT_DASHBOARD_CLIENTS = 8;
export const DEFAULT_DASHBOARD_INTERVAL = 2000;
/** Bytes an event stream may have waiting to be read before it is dropped. */
export const MAX_STREAM_BACKLOG_BYTES = 1024 * 1024;
/** The handlespace gather may take at most this share of the time between updates. */
const GATHER_SHARE = 0.1;

export interface DashboardOptions {
  /** Event streams at once (--dashboard-clients); 0: the dashboard is off. */
  maxClients: number;
  /** Update interval, ms (--dashboard-interval). */
  interval: number;
  /** Backlog after which a slow stream is dropped, bytes. */
  maxBacklogBytes: number;
}

/** The body of each `update` event. */
export interface DashboardUpdate extends DashboardHandlespace {
  registrarId: string;
  time: string;
  intervalMs: number;
  /** Rates over the last minutes, or null when the registrar does not count messages. */
  rates: RatesView | null;
  clients: { connected: number; max: number; dropped: number };
}

/** What the dashboard reads beyond ControlSource: the registrar's flags (`Registrar.config`). */
type DashboardSource = ControlSource & { readonly config?: { readonly dashboardClients?: number; readonly dashboardInterval?: number } };

/** The dashboard's routes, for controlRoutes() in control.ts. */
export function dashboardRoutes(source: DashboardSource, options: Partial<DashboardOptions> = {}): ControlRoute[] {
  const o: DashboardOptions = {
    maxClients: options.maxClients ?? source.config?.dashboardClients ?? DEFAULT_DASHBOARD_CLIENTS,
    interval: options.interval ?? source.config?.dashboardInterval ?? DEFAULT_DASHBOARD_INTERVAL,
    maxBacklogBytes: options.maxBacklogBytes ?? MAX_STREAM_BACKLOG_BYTES,
  };
  if (o.maxClients <= 0) return [];
  const dashboard = new Dashboard(source, o);
  const page = (r: ControlRequest): void => {
    r.response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Everything the page needs is in it; it talks only to this server.
      'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    });
    r.response.end(r.method === 'HEAD' ? undefined : DASHBOARD_PAGE);
  };
  return [
    { path: '/', handle: page },
    { path: DASHBOARD_PATH, handle: page },
    { path: DASHBOARD_EVENTS_PATH, methods: ['GET'], handle: (r) => dashboard.stream(r) },
  ];
}

class Dashboard {
  private readonly streams = new Set<ServerResponse>();
  private readonly rates = new RateHistory();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Bumped on each start and stop: a tick of an earlier run that was awaiting ends quietly. */
  private generation = 0;
  private dropped = 0;
  /** The handlespace part of the last update, and when it was gathered (performance.now()). */
  private handlespace: DashboardHandlespace | null = null;
  private handlespaceAt = -Infinity;
  private gatherMs = 0;
  private last: string | null = null;

  constructor(
    private readonly source: DashboardSource,
    private readonly options: DashboardOptions,
  ) {}

  stream(r: ControlRequest): void {
    if (this.streams.size >= this.options.maxClients) {
      r.response.setHeader('retry-after', '30');
      r.json(503, { error: `${this.streams.size} dashboard viewers already, the most this registrar serves (--dashboard-clients ${this.options.maxClients})` });
      return;
    }
    const response = r.response;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // A browser reconnects by itself after this many ms when the stream ends.
    response.write(`retry: ${Math.max(1000, this.options.interval)}\n\n`);
    this.streams.add(response);
    const gone = (): void => {
      this.streams.delete(response);
      if (this.streams.size === 0) this.stop();
    };
    response.once('close', gone);
    response.once('error', gone);
    // No socket timeout on a stream (the server's defaults are for requests).
    r.request.socket.setTimeout(0);
    if (this.last !== null) this.send(response, this.last);
    if (!this.running) this.start();
  }

  private start(): void {
    this.running = true;
    void this.tick(++this.generation);
  }

  private stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    // Rates resume from the next viewer's first sample, not across the gap.
    this.rates.clear();
    this.handlespace = null;
    this.handlespaceAt = -Infinity;
    this.last = null;
  }

  private async tick(generation: number): Promise<void> {
    const started = performance.now();
    try {
      const { counters, peers } = await this.countersAndPeers();
      if (generation !== this.generation) return;
      if (counters !== null) this.rates.add(Date.now(), counters);
      // The handlespace: each interval, unless gathering it takes more than its share.
      if (this.handlespace === null || started - this.handlespaceAt >= Math.max(this.options.interval, this.gatherMs / GATHER_SHARE) - 1) {
        const t0 = performance.now();
        const { pools, detailed } = await this.gather();
        if (generation !== this.generation) return;
        this.gatherMs = performance.now() - t0;
        this.handlespaceAt = t0;
        this.handlespace = dashboardHandlespace(this.source.id, pools, detailed, peers);
      } else {
        // Peers are cheap (the I/O thread has them): they stay current every interval.
        this.handlespace = { ...this.handlespace, totals: { ...this.handlespace.totals, peers: peers.length }, peers: dashboardPeers(peers) };
      }
      const update: DashboardUpdate = {
        registrarId: hexId(this.source.id),
        time: new Date().toISOString(),
        intervalMs: this.options.interval,
        ...this.handlespace,
        rates: counters === null ? null : this.rates.view(),
        clients: { connected: this.streams.size, max: this.options.maxClients, dropped: this.dropped },
      };
      this.last = `event: update\ndata: ${JSON.stringify(update)}\n\n`;
      for (const response of this.streams) this.send(response, this.last);
    } catch (error) {
      if (generation !== this.generation) return;
      // A registrar that is closing, a shard that restarts: say so, try again next interval.
      const message = `event: problem\ndata: ${JSON.stringify({ error: (error as Error).message })}\n\n`;
      for (const response of this.streams) this.send(response, message);
    }
    if (generation === this.generation) this.timer = setTimeout(() => void this.tick(generation), Math.max(0, this.options.interval - (performance.now() - started)));
  }

  /**
   * The message counts and the peers, gathered once: the registrar's counts come from its
   * metrics figures, which hold the peers already (each gather of the peers asks every shard
   * for its checksums of their PEs). A source without metrics() is asked for each.
   */
  private async countersAndPeers(): Promise<{ counters: ControlCounters | null; peers: ControlPeer[] }> {
    if (this.source.metrics !== undefined) {
      const figures = await this.source.metrics();
      return { counters: countersOf(figures), peers: figures.peers };
    }
    const counters = this.source.counters ? await this.source.counters() : null;
    const peers = this.source.peers ? await this.source.peers() : [];
    return { counters, peers };
  }

  /**
   * Every pool's count, and the elements of the pools shown only (the largest ones): with the
   * registrar's summary and one-pool requests, the shards copy no more than those pools; a
   * source without them gives its whole handlespace.
   */
  private async gather(): Promise<{ pools: PoolSummary[]; detailed: Map<string, DumpPool> }> {
    const detailed = new Map<string, DumpPool>();
    const { pools: summaries, pool: onePool } = this.source;
    if (summaries === undefined || onePool === undefined) {
      const all = await this.source.handlespace();
      for (const pool of all) detailed.set(pool.handleHex, pool);
      return { pools: summarize(all), detailed };
    }
    const pools = await summaries.call(this.source);
    const shown = await Promise.all(poolsToShow(pools).map((p) => onePool.call(this.source, Buffer.from(p.handleHex, 'hex'))));
    for (const pool of shown) if (pool !== null) detailed.set(pool.handleHex, pool);
    return { pools, detailed };
  }

  /** Writes one event, or drops the stream if its reader is too far behind. */
  private send(response: ServerResponse, event: string): void {
    if (response.destroyed) return;
    if (response.writableLength > this.options.maxBacklogBytes) {
      this.dropped++;
      this.streams.delete(response);
      response.destroy();
      if (this.streams.size === 0) this.stop();
      return;
    }
    response.write(event);
  }
}
