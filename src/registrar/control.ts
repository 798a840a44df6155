// The registrar's control channel for operators: a small HTTP server, on 127.0.0.1 unless
// `--control-address` says otherwise (then a bearer token from `--control-token-file` is
// required: the server refuses to start on a non-loopback address without one).
//   GET /handlespace  every pool, its policy, every element (owner, transports, policy
//                     values, pending timer): what `rserpool dump` prints
//   GET /stats        the registrar's counters (associations, shards, ENRP)
//   GET /health       200 while the process serves (never needs the token)
//   GET /ready        200 once the mentor search is over and every shard is attached, else 503
//                     (never needs the token)
//   other routes      added by `ControlOptions.routes` (/metrics, /api/..., the dashboard)
// Default port 3870 (`--control-port`, 0 turns it off): near ASAP's 3863 and clear of the
// RSerPool ports (3863/3864 ASAP, 9901/9902 ENRP, 9899 SCTP over UDP).
//
// Authentication: with a token configured, every route but /health and /ready needs it, as
// `Authorization: Bearer TOKEN`, or (browsers: a page or an EventSource cannot set headers)
// `?token=TOKEN` in the URL, which also sets an HttpOnly cookie so the page's later requests
// carry it. A route marked `alwaysAuthenticated` (the admin API's DELETE) needs the token even
// on loopback, and is refused (403) when no token is configured at all.
//
// Hostile clients: without a token only a Host header naming this host (a loopback literal,
// `localhost`, or the control address) is answered, 421 otherwise (a web page that rebinds a
// DNS name to 127.0.0.1 cannot read the handlespace); connections are capped in total and per
// source address with a reserve for the probes (control-connections.ts); a request head must
// arrive within 10 s, a response make progress within 30 s (flags; the dashboard's event stream
// excepted); /handlespace is streamed (control-json-stream.ts), one body shared by the requests
// that arrive while it is gathered, and at most one large body (/handlespace, /snapshot) at a
// time per connection.
//
// HTTPS: with `ControlOptions.tls` (--control-tls-cert, --control-tls-key) the same server
// speaks TLS only (control-tls.ts); with its CA (--control-tls-ca) every request but the probes
// also needs a client certificate of that CA (403 without).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { clientCertificateProblem, controlTlsServerOptions, type ControlTls } from './control-tls.js';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { PoolSummary, DumpPool } from '../shard/handlespace-dump.js';
import { tokenMatches } from './control-auth.js';
import type { RegistrarConfig } from './config.js';
import { hexId } from '../wire/identifier-text.js';
import { metricsRoutes, type MessageCounters, type ScrapeFigures } from './metrics.js';
import { adminApiRoutes } from './admin-api.js';
import { dashboardRoutes } from './dashboard.js';
import { snapshotRoutes } from '../snapshot/control-route.js';
import { writeJsonStream } from './control-json-stream.js';
import { ControlConnections, DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS, DEFAULT_CONTROL_HEAD_TIMEOUT_MS, DEFAULT_CONTROL_MAX_CONNECTIONS, DEFAULT_CONTROL_PROBE_RESERVE, DEFAULT_CONTROL_RESPONSE_TIMEOUT_MS } from './control-connections.js';

export const DEFAULT_CONTROL_PORT = 3870;
export const CONTROL_ADDRESS = '127.0.0.1';
/** Name of the cookie a `?token=` request sets (the dashboard's later requests carry it). */
export const CONTROL_TOKEN_COOKIE = 'rserpool_control_token';
/** How often Node looks for request heads overdue (headersTimeout); its default is 30 s. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/** The registrar as the control channel sees it. */
export interface ControlSource {
  readonly id: number;
  handlespace(): Promise<DumpPool[]>;
  stats(): Promise<object>;
  /** True once the mentor search is over and every shard is attached (GET /ready). */
  ready?(): boolean;
  /** The ENRP peers: ID, state, checksums, addresses (GET /api/peers, the dashboard). */
  peers?(): Promise<ControlPeer[]>;
  /**
   * Message counts by bounded labels, shards merged: by ASAP/ENRP type, error causes,
   * keep-alive timeouts, takeovers, resolutions by policy (src/registrar/metrics.ts).
   */
  counters?(): Promise<ControlCounters>;
  /** Everything /metrics exports, shards merged (src/registrar/metrics.ts). */
  metrics?(options?: { resetWindows?: boolean }): Promise<ScrapeFigures>;
  /** Every pool without its elements (GET /api/pools). */
  pools?(): Promise<PoolSummary[]>;
  /** One pool with its elements, or null (GET /api/pools/{handle}). */
  pool?(poolHandle: Uint8Array): Promise<DumpPool | null>;
  /**
   * Removes one own PE as a deregistration by this registrar would (the peers are told over
   * ENRP): DELETE /api/pools/{handle}/elements/{peId}.
   */
  removeElement?(poolHandle: Uint8Array, peId: number): Promise<'removed' | 'unknown' | 'not-own' | 'shard-down'>;
}

/** One ENRP peer as the control channel shows it. */
export interface ControlPeer {
  /** Server ID, as hex (0x1234abcd). */
  id: string;
  serverId: number;
  /** 'active' | 'not-active' (another registrar takes it over) | 'taking-over' (we do) | ... */
  state: string;
  /** Milliseconds since it was last heard. */
  lastHeardMsAgo: number;
  /** Its pe_checksum_pr as it last announced it (RFC 5353 §4.1), or null. */
  announcedChecksum: number | null;
  /** Our checksum of the PEs it owns as we hold them, or null when unknown. */
  localChecksum: number | null;
  /** Its ENRP transport address, "address:port", or null when not known. */
  address: string | null;
  associated: boolean;
}

/** Counts by bounded label sets (known types by name, others as 'unknown'): see metrics.ts. */
export type ControlCounters = MessageCounters;

/** The body of GET /handlespace. */
export interface HandlespaceDocument {
  registrarId: number;
  time: string;
  pools: DumpPool[];
}

/** One request as a route sees it: authentication is already checked. */
export interface ControlRequest {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  /** The parsed URL (path and query; `token` removed from the query). */
  readonly url: URL;
  readonly method: string;
  /** True when the request carried the configured token (false when none is configured). */
  readonly authenticated: boolean;
  /** Answers with a JSON body (status, `content-type: application/json`, no caching). */
  json(status: number, body: unknown): void;
  /**
   * Claims this connection for one large body (/handlespace, /snapshot) until the response
   * closes. False, after answering 429, when one is already being sent on this connection.
   */
  claimLargeBody(): boolean;
}

/**
 * A route the control server dispatches to (the metrics, the admin API, the dashboard plug in
 * this way). `path` matches exactly; `prefix` matches the path and everything below it
 * (`/api` matches `/api` and `/api/...`). The first route that matches wins; the built-in
 * routes (/handlespace, /stats, /health, /ready) come first.
 */
export interface ControlRoute {
  readonly path?: string;
  readonly prefix?: string;
  /** The token is needed even when the server has no token configured (then: 403). */
  readonly alwaysAuthenticated?: boolean;
  /** Methods answered; others get 405. Default GET and HEAD. */
  readonly methods?: readonly string[];
  handle(request: ControlRequest): void | Promise<void>;
  /** Called when the server closes (timers, monitors, open event streams). */
  close?(): void;
}

export interface ControlOptions {
  /** TCP port; 0 takes any free port (see `ControlServer.port`). */
  port: number;
  /** Listening address; default 127.0.0.1. A non-loopback address needs `token`. */
  address?: string;
  /** The bearer token (the trimmed content of `--control-token-file`), or none. */
  token?: string | null;
  routes?: readonly ControlRoute[];
  /** Connections held at once (default 64); a client that sends no complete request head within `headTimeoutMs` is cut. */
  maxConnections?: number;
  /** Connections one source address holds at once (default 16). */
  maxConnectionsPerAddress?: number;
  /** Connections kept for /health and /ready beyond the caps (default 8). */
  probeReserve?: number;
  /** Time for a request head, from the connection or the previous answer, ms (default 10 s). */
  headTimeoutMs?: number;
  /** A response (but the event stream) making no progress this long is cut; default 30 s. */
  responseTimeoutMs?: number;
  /** HTTPS instead of plain HTTP (control-tls.ts: readControlTls); with its `ca`, client certificates too. */
  tls?: ControlTls | null;
}

/** The control channel's limits of a registrar's configuration (--control-max-connections, --control-max-connections-per-address, --control-probe-reserve, --control-head-timeout, --control-response-timeout). */
export function controlLimits(c: Pick<RegistrarConfig, 'controlMaxConnections' | 'controlMaxConnectionsPerAddress' | 'controlProbeReserve' | 'controlHeadTimeout' | 'controlResponseTimeout'>): Pick<ControlOptions, 'maxConnections' | 'maxConnectionsPerAddress' | 'probeReserve' | 'headTimeoutMs' | 'responseTimeoutMs'> {
  return {
    maxConnections: c.controlMaxConnections,
    ...(c.controlMaxConnectionsPerAddress !== undefined ? { maxConnectionsPerAddress: c.controlMaxConnectionsPerAddress } : {}),
    ...(c.controlProbeReserve !== undefined ? { probeReserve: c.controlProbeReserve } : {}),
    ...(c.controlHeadTimeout !== undefined ? { headTimeoutMs: c.controlHeadTimeout } : {}),
    ...(c.controlResponseTimeout !== undefined ? { responseTimeoutMs: c.controlResponseTimeout } : {}),
  };
}

/** True for an address only this host reaches (127/8, ::1, localhost). */
export function isLoopbackAddress(address: string): boolean {
  if (address === 'localhost') return true;
  if (isIP(address) === 4) return address.startsWith('127.');
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('::ffff:127.');
}

/** Thrown by `ControlServer.open` for a configuration an operator must fix. */
export class ControlConfigError extends Error {}

/**
 * True when a request's Host header names this host: a loopback literal (127/8, [::1]),
 * `localhost`, or `controlAddress`, with any port; or no Host at all (HTTP/1.0: no browser).
 * Anything else, without a token, may be a page whose DNS name was rebound to this address.
 */
export function isLocalHostHeader(host: string | undefined, controlAddress: string): boolean {
  if (host === undefined) return true;
  const h = host.trim().toLowerCase();
  let name: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return false;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return false;
    name = h.slice(1, end);
  } else {
    const m = /^([^:]+)(?::\d{1,5})?$/.exec(h);
    if (m === null) return false;
    name = m[1]!;
  }
  if (name === 'localhost' || name === controlAddress.toLowerCase()) return true;
  return (isIP(name) === 4 && name.startsWith('127.')) || name === '::1';
}

/** Throws a ControlConfigError for a non-loopback address without a token (checked before anything opens). */
export function checkControlBinding(address: string, token: string | null): void {
  if (token !== null || isLoopbackAddress(address)) return;
  throw new ControlConfigError(
    `the control channel on ${address} (not loopback) needs a bearer token: give --control-token-file FILE (a file holding a long random token), or keep --control-address 127.0.0.1`,
  );
}

function cookieToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === CONTROL_TOKEN_COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m === null ? null : m[1];
}

/**
 * The routes beyond the built-in ones, in the order they are tried. A module that serves
 * something on the control channel adds its line here (its routes get the authentication
 * above: with a token configured, every request needs it).
 */
export function controlRoutes(source: ControlSource): ControlRoute[] {
  return [
    ...metricsRoutes(source), // GET /metrics (src/registrar/metrics.ts)
    ...adminApiRoutes(source), // /api/... (src/registrar/admin-api.ts)
    ...dashboardRoutes(source), // GET /, /dashboard, /dashboard/events (src/registrar/dashboard.ts)
    ...snapshotRoutes(source), // GET /snapshot: the handlespace snapshot file (src/snapshot/control-route.ts)
  ];
}

export class ControlServer {
  private constructor(
    private readonly server: Server,
    private readonly routes: readonly ControlRoute[],
    /** True when it speaks HTTPS (--control-tls-cert). */
    readonly secure: boolean,
  ) {}

  /**
   * Listens on `options.address` (default 127.0.0.1) : `options.port`. Rejects if the port is
   * taken, or with a ControlConfigError for a non-loopback address without a token.
   * (A plain port number is the older form: loopback, no token, no extra routes.)
   */
  static async open(source: ControlSource, options: ControlOptions | number): Promise<ControlServer> {
    const o: ControlOptions = typeof options === 'number' ? { port: options } : options;
    const address = o.address ?? CONTROL_ADDRESS;
    const token = o.token === undefined || o.token === null || o.token === '' ? null : o.token;
    checkControlBinding(address, token);
    const routes = o.routes ?? controlRoutes(source);
    const headTimeoutMs = o.headTimeoutMs ?? DEFAULT_CONTROL_HEAD_TIMEOUT_MS;
    const connections = new ControlConnections({
      maxConnections: o.maxConnections ?? DEFAULT_CONTROL_MAX_CONNECTIONS,
      maxPerAddress: o.maxConnectionsPerAddress ?? DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS,
      reserve: o.probeReserve ?? DEFAULT_CONTROL_PROBE_RESERVE,
      headTimeoutMs,
    });
    // Requests for /handlespace that arrive while it is gathered share one result.
    let handlespaceInFlight: Promise<HandlespaceDocument> | null = null;
    const handlespace = (): Promise<HandlespaceDocument> => {
      handlespaceInFlight ??= source
        .handlespace()
        .then((pools): HandlespaceDocument => ({ registrarId: source.id, time: new Date().toISOString(), pools }))
        .finally(() => (handlespaceInFlight = null));
      return handlespaceInFlight;
    };
    // Connections sending a large body now (one at a time each).
    const largeBodies = new WeakSet<object>();
    const tls = o.tls ?? null;
    const handler = (request: IncomingMessage, response: ServerResponse): void => {
      // Never throws (a body JSON cannot hold answers 500; a connection gone is let go).
      const json = (status: number, body: unknown): void => {
        try {
          if (response.headersSent) {
            response.end();
            return;
          }
          let text: string;
          try {
            text = `${JSON.stringify(body, null, 2)}\n`;
          } catch (error) {
            status = 500;
            text = `${JSON.stringify({ error: `cannot encode the answer: ${(error as Error).message}` }, null, 2)}\n`;
          }
          response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
          response.end(request.method === 'HEAD' ? undefined : text);
        } catch {
          response.destroy();
        }
      };
      const socket = request.socket;
      const reserve = connections.isReserve(socket);
      if (reserve) response.setHeader('connection', 'close');
      let url: URL;
      try {
        url = new URL(request.url ?? '/', 'http://control');
      } catch {
        return json(400, { error: 'unreadable request URL' });
      }
      const method = request.method ?? 'GET';
      const path = url.pathname;
      // Authentication: header, then ?token= (sets the cookie), then the cookie.
      const queryToken = url.searchParams.get('token');
      url.searchParams.delete('token');
      const offered = bearerToken(request.headers.authorization) ?? queryToken ?? cookieToken(request.headers.cookie);
      const authenticated = token !== null && offered !== null && tokenMatches(offered, token);
      if (authenticated && queryToken !== null) {
        response.setHeader('set-cookie', `${CONTROL_TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${tls !== null ? '; Secure' : ''}`);
      }
      const refuse = (): void => {
        response.setHeader('www-authenticate', 'Bearer realm="rserpool-control"');
        json(401, { error: offered === null ? 'this control channel needs the bearer token (Authorization: Bearer TOKEN, or ?token=TOKEN)' : 'wrong token' });
      };
      const isGet = method === 'GET' || method === 'HEAD';
      const claimLargeBody = (): boolean => {
        if (largeBodies.has(socket)) {
          json(429, { error: `${path}: this connection is already receiving /handlespace or /snapshot; one at a time per connection` });
          return false;
        }
        largeBodies.add(socket);
        response.once('close', () => largeBodies.delete(socket));
        return true;
      };
      const request_: ControlRequest = { request, response, url, method, authenticated, json, claimLargeBody };
      const answer = (work: Promise<unknown>): void => {
        work.then(
          (body) => json(200, body),
          (error: Error) => json(500, { error: error.message }),
        );
      };
      // Probes: never behind the token (a load balancer or kubelet probes without one).
      if (path === '/health' || path === '/ready') {
        if (!isGet) return json(405, { error: `${method} ${path}: only GET` });
        if (path === '/health') return json(200, { status: 'serving', registrarId: hexId(source.id) });
        const ready = source.ready?.() ?? true;
        return json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', registrarId: hexId(source.id) });
      }
      if (reserve) {
        response.setHeader('retry-after', '5');
        return json(503, { error: 'too many control connections (from this address, or in all): this one may ask /health and /ready only' });
      }
      // Mutual TLS (--control-tls-ca): beyond the probes, a client certificate of that CA.
      if (tls?.ca != null) {
        const problem = clientCertificateProblem(socket as TLSSocket);
        if (problem !== null) return json(403, { error: problem });
      }
      // DNS rebinding: without a token, only requests addressed to this host by name or literal.
      if (token === null && !isLocalHostHeader(request.headers.host, address)) {
        return json(421, { error: `Host "${request.headers.host}" is not this control channel's: use 127.0.0.1, [::1], localhost or ${address} (or configure --control-token-file)` });
      }
      if (token !== null && !authenticated) return refuse();
      if (path === '/handlespace' || path === '/stats') {
        if (!isGet) return json(405, { error: `${method} ${path}: only GET` });
        if (path === '/handlespace') {
          if (!claimLargeBody()) return;
          handlespace().then(
            (document) => {
              if (response.destroyed) return;
              response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
              if (method === 'HEAD') return void response.end();
              // Streamed: a document too large for one string still goes out, piece by piece.
              writeJsonStream(response, document).catch(() => undefined);
            },
            (error: Error) => json(500, { error: error.message }),
          ).catch(() => response.destroy());
          return;
        }
        return answer(source.stats());
      }
      // The first route that matches the path and takes the method; matched by path only: 405.
      const allowed = new Set<string>();
      for (const route of routes) {
        const match = route.path !== undefined ? path === route.path : route.prefix !== undefined && (path === route.prefix || path.startsWith(`${route.prefix}/`));
        if (!match) continue;
        const methods = route.methods ?? ['GET', 'HEAD'];
        if (!methods.includes(method)) {
          for (const m of methods) allowed.add(m);
          continue;
        }
        if (route.alwaysAuthenticated === true && !authenticated) {
          if (token === null) return json(403, { error: `${method} ${path} needs the bearer token, and this registrar has none: start it with --control-token-file FILE` });
          return refuse();
        }
        try {
          const done = route.handle(request_);
          if (done instanceof Promise) done.catch((error: Error) => json(500, { error: error.message }));
        } catch (error) {
          json(500, { error: (error as Error).message });
        }
        return;
      }
      if (allowed.size > 0) {
        response.setHeader('allow', [...allowed].join(', '));
        return json(405, { error: `${method} ${path}: allowed ${[...allowed].join(', ')}` });
      }
      json(404, { error: `no such resource ${path}; try /handlespace, /stats, /metrics, /health, /ready or /api/pools` });
    };
    const serverOptions = { connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS };
    const server: Server = tls !== null ? createHttpsServer({ ...serverOptions, ...controlTlsServerOptions(tls, headTimeoutMs) }, handler) : createServer(serverOptions, handler);
    server.keepAliveTimeout = 1000;
    // Hostile clients (the channel may listen beyond loopback): bounded connections (in all,
    // per address, a reserve for the probes), a request head must arrive within the head
    // timeout (10 s; checked every second), and a response that makes no progress for the
    // response timeout (30 s) is cut (a slow reader does not pin a large body; the event stream
    // turns this off for itself).
    connections.attach(server);
    server.headersTimeout = headTimeoutMs;
    server.requestTimeout = Math.max(30_000, headTimeoutMs);
    server.timeout = o.responseTimeoutMs ?? DEFAULT_CONTROL_RESPONSE_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new ControlServer(server, routes, tls !== null);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    for (const route of this.routes) route.close?.();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
