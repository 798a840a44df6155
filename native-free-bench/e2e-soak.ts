// `rserpool bench e2e --soak S` (issue 14): latency and memory of a registrar living the life of
// a production one, for S seconds. Every PE is registered once with the registrar's keep-alives
// on (its default interval unless --keep-alive-interval says otherwise), the PE side of the
// generator answers every ENDPOINT_KEEP_ALIVE with an ENDPOINT_KEEP_ALIVE_ACK (RFC 5352 §3.4),
// every PE re-registers every --reregister-interval ms (spread evenly: PE i at i/PEs of the
// interval, never in bursts), and the PU side resolves handles paced at --rate. Per window
// (--soak-window seconds): resolutions, empty answers, timeouts, p50/p99/max latency and a
// log-bucket latency histogram, keep-alives received and answered, PEs lost (the registrar's
// keep-alive timeouts), the registrar's RSS and CPU, and where the time goes: the event-loop
// delay of each registrar thread (its /metrics), of the generator, and GC pauses per thread
// (e2e-gc-probe.ts, preloaded into every thread of the registrar). At the end: the RSS slope
// (MiB per hour, least squares over the windows after --soak-warmup) and the medians of the
// window figures.
import { readFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { request } from 'node:http';
import { policyByName } from '../src/policy/registry.js';
import { defaultRegistrarConfig, defaultShardCount } from '../src/registrar/config.js';
import { AsapFlag, AsapType, ParamType } from '../src/wire/index.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  PhaseTracker,
  connectClients,
  handleResolutionMessages,
  registerAll,
  registrationMessages,
  sendTracked,
  type BenchClient,
} from './e2e-load.js';
import { asapErrorCause, findParameter, isAsapError, negativeCause, offendingRegistrationPeId } from './e2e-requests.js';
import { RegistrarProcess, processCpuSeconds, processRssBytes, threadSchedule } from './e2e-registrar-process.js';
import { freeTcpPort, freeUdpPort } from './free-ports.js';
import type { GcPauses } from './e2e-gc-probe.js';

export interface SoakBenchOptions {
  /** Seconds of the soak (after the first registration of every PE). */
  soak: number;
  /** Seconds per reported window; default 30. */
  soakWindow?: number;
  /** Windows that start before this many seconds are left out of the RSS slope and the medians; default 60 (none left: all count). */
  soakWarmup?: number;
  /** Every PE re-registers this often (ms), spread evenly; default 30000. */
  reregisterInterval?: number;
  /** Handle resolutions per second, paced; default 15000. */
  rate?: number;
  /** Registrar keep-alive interval (ms); default the registrar's own (5000). */
  keepAliveInterval?: number;
  /** Shard count of the registrar; default the registrar's (cores - 1, at least 1). One count only. */
  shards?: number | string;
  pes?: number;
  pools?: number;
  pus?: number;
  peAssociations?: number;
  policy?: string;
  window?: number;
  requestTimeout?: number;
  address?: string;
  cpuProf?: string;
  json?: boolean;
}

/** Upper bounds (ms) of the latency histogram's buckets: half octaves from 1/16 ms to 4 s; the last bucket is everything above. */
export const HISTOGRAM_BOUNDS_MS: readonly number[] = Array.from({ length: 37 }, (_, k) => Math.round(0.0625 * 2 ** (k / 2) * 1e4) / 1e4);

/** Fine buckets of the percentiles: 1 % wide (log scale) from FINE_FLOOR_MS up, FINE_BUCKETS of them (to ~10 minutes). */
const FINE_FLOOR_MS = 0.001;
const FINE_STEP = Math.log(1.01);
const FINE_BUCKETS = 2400;

/**
 * Latencies of one window: counts per bucket of HISTOGRAM_BOUNDS_MS (plus one above) for the
 * report, and counts in 1-%-wide buckets for the percentiles. No list of values to sort: a
 * window holds 450,000 resolutions, and sorting them at the window's end held the generator's
 * thread for ~50 ms, long enough to show in the latencies it was timing and to send the next
 * requests in a burst.
 */
export class WindowLatency {
  readonly buckets = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  private readonly fine = new Uint32Array(FINE_BUCKETS);
  count = 0;
  max = 0;

  add(ms: number): void {
    this.count++;
    if (ms > this.max) this.max = ms;
    let b = 0;
    while (b < HISTOGRAM_BOUNDS_MS.length && ms > HISTOGRAM_BOUNDS_MS[b]!) b++;
    this.buckets[b]!++;
    const f = ms <= FINE_FLOOR_MS ? 0 : Math.min(FINE_BUCKETS - 1, Math.ceil(Math.log(ms / FINE_FLOOR_MS) / FINE_STEP));
    this.fine[f]!++;
  }

  /** Percentiles (0..1) in ms, each the upper bound of its 1-% bucket (never more than the max); NaN when empty. */
  percentiles(...ps: number[]): number[] {
    return ps.map((p) => {
      if (this.count === 0) return NaN;
      const rank = Math.min(this.count - 1, Math.floor(this.count * p));
      let seen = 0;
      for (let f = 0; f < FINE_BUCKETS; f++) {
        seen += this.fine[f]!;
        if (seen > rank) return Math.min(this.max, FINE_FLOOR_MS * Math.exp(f * FINE_STEP));
      }
      return this.max;
    });
  }
}

/**
 * Sampling interval of the event-loop delay monitors (the registrar's, src/shard/metrics-counts.ts,
 * and the generator's): Node's histogram holds the time between two samples, so the interval
 * itself is subtracted, and what is left is how long the thread was late (stalled).
 */
export const LOOP_SAMPLING_MS = 10;

/** One thread's event-loop stall over a window (ms): its event-loop delay beyond LOOP_SAMPLING_MS. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

export interface SoakWindow {
  index: number;
  /** Seconds since the soak started, at the window's start. */
  startSeconds: number;
  seconds: number;
  /** Handle resolutions answered (with PEs, empty, or negative). */
  resolutions: number;
  /** Answers without a PE (empty or with an Operation Error). */
  emptyAnswers: number;
  timeouts: number;
  /** Every failure by cause (empty answers, timeouts, ASAP_ERRORs, send failures). */
  failures: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Resolutions per bucket of HISTOGRAM_BOUNDS_MS, the last one above the last bound. */
  histogram: number[];
  reregistrations: number;
  reregistrationFailed: number;
  reregistrationP99Ms: number;
  keepAlivesReceived: number;
  keepAlivesAnswered: number;
  /** PEs the registrar removed during the window because a keep-alive went unanswered (RFC 5352 §3.5). */
  pesLost: number;
  /** PEs in the registrar's handlespace at the window's end. */
  registrarPes: number;
  registrarKeepAlivesSent: number;
  registrarRssMiB: number;
  /** Cores the registrar (all threads) and its I/O thread used on average. */
  registrarCores: number;
  ioThreadCores: number;
  generatorCores: number;
  /** ms per second the registrar's threads / the generator's waited for a core (run queue). */
  registrarRunQueueWaitMsPerS: number;
  generatorRunQueueWaitMsPerS: number;
  /** Of registrarRunQueueWaitMsPerS, the I/O thread's: a stall of it that is waiting, not work. */
  ioThreadRunQueueWaitMsPerS: number;
  /** Event-loop delay of every registrar thread (io, shard-0, ...) and of the generator's. */
  eventLoopDelay: Record<string, LoopDelay>;
  /** GC pauses per registrar thread (io, shard-0, ...) during the window. */
  gc: Record<string, GcPauses>;
  /** The largest batch of messages a shard took in the window. */
  shardBatchMax: number;
  /** Context switches of the registrar's threads per second (voluntary and not, /proc): its wake-ups. */
  registrarContextSwitchesPerS: number;
  /** SCTP packets the registrar's ASAP endpoint received per second. */
  registrarPacketsReceivedPerS: number;
  loadAverage: number;
}

export interface SoakBenchResult {
  settings: {
    seconds: number;
    windowSeconds: number;
    warmupSeconds: number;
    reregisterIntervalMs: number;
    rate: number;
    keepAliveInterval: number;
    shards: number;
    pes: number;
    pools: number;
    pus: number;
    peAssociations: number;
    policy: string;
    cores: number;
  };
  registration: { seconds: number; perSecond: number; failed: number };
  windows: SoakWindow[];
  /** Over the windows after warm-up (all of them if none is). */
  summary: {
    windowsCounted: number;
    resolutions: number;
    emptyAnswers: number;
    timeouts: number;
    medianP50Ms: number;
    medianP99Ms: number;
    maxP99Ms: number;
    maxMs: number;
    keepAlivesReceived: number;
    keepAlivesAnswered: number;
    pesLost: number;
    /** PEs registered minus those in the registrar at the end. */
    pesMissingAtEnd: number;
    /** Least squares over the windows' RSS (MiB per hour), and the RSS at the first and last counted window. */
    rssSlopeMiBPerHour: number;
    rssFirstMiB: number;
    rssLastMiB: number;
    medianRegistrarCores: number;
    medianRegistrarContextSwitchesPerS: number;
    medianRegistrarPacketsReceivedPerS: number;
    /** Medians over the windows of the ms per second the registrar's threads (summed) and the generator waited for a core. */
    medianRegistrarRunQueueWaitMsPerS: number;
    medianGeneratorRunQueueWaitMsPerS: number;
    /** Medians over the windows of each thread's event-loop delay p99 and the largest max. */
    eventLoopDelay: Record<string, { medianP99: number; max: number }>;
    gc: Record<string, { pauses: number; totalMs: number; maxMs: number }>;
    /** The resolutions of the counted windows per bucket of HISTOGRAM_BOUNDS_MS. */
    histogram: number[];
    /** Why the soak ended early, or null. */
    ended: string | null;
  };
  histogramBoundsMs: readonly number[];
}

/** The slope (per hour) of y over x seconds by least squares; NaN with fewer than two points. */
export function slopePerHour(points: Array<[seconds: number, value: number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? NaN : (sxy / sxx) * 3600;
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

// ------------------------------------------------------------------ the registrar's /metrics

interface Scrape {
  loop: Record<string, LoopDelay>;
  keepAliveTimeouts: number;
  keepAlivesSent: number;
  pes: number;
  batchMax: number;
  packetsReceived: number;
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The figures of a /metrics text the soak reports (a scrape also starts the registrar's next event-loop window). */
export function parseScrape(text: string): Scrape {
  const out: Scrape = { loop: {}, keepAliveTimeouts: 0, keepAlivesSent: 0, pes: NaN, batchMax: 0, packetsReceived: NaN };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const [, name, labelText, valueText] = m;
    const value = Number(valueText);
    const labels: Record<string, string> = {};
    for (const l of (labelText ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    if (name === 'rserpool_event_loop_delay_seconds' && labels.thread !== undefined && labels.stat !== undefined) {
      const d = (out.loop[labels.thread] ??= { p50: NaN, p99: NaN, max: NaN });
      if (labels.stat === 'p50' || labels.stat === 'p99' || labels.stat === 'max') d[labels.stat] = Math.max(0, value * 1000 - LOOP_SAMPLING_MS);
    } else if (name === 'rserpool_keep_alive_timeouts_total') out.keepAliveTimeouts = value;
    else if (name === 'rserpool_asap_messages_sent_total' && labels.type === 'endpoint_keep_alive') out.keepAlivesSent = value;
    else if (name === 'rserpool_pool_elements') out.pes = value;
    else if (name === 'rserpool_shard_batch_max_messages') out.batchMax = Math.max(out.batchMax, value);
    else if (name === 'rserpool_sctp_events_total' && labels.endpoint === 'asap' && labels.event === 'packetsReceived') out.packetsReceived = value;
  }
  return out;
}

/** Context switches (voluntary and involuntary) of every thread of a process so far; NaN once it is gone. */
export function contextSwitches(pid: number): number {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return NaN;
  }
  let n = 0;
  for (const tid of tasks) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

// ------------------------------------------------------------------ the soak

function fmt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

function resolvePolicy(name: string): { type: number; name: string } {
  const def = policyByName(name);
  if (def === undefined) throw new Error(`unknown policy ${name}`);
  return { type: def.type, name: def.name };
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: expected a positive number, got ${value}`);
  return value;
}

export async function runSoak(options: SoakBenchOptions): Promise<SoakBenchResult> {
  const { type, name } = resolvePolicy(options.policy ?? 'RoundRobin');
  const shardsText = options.shards === undefined ? String(defaultShardCount()) : String(options.shards);
  if (!/^\d+$/.test(shardsText.trim())) throw new Error(`--soak: one shard count, got "${shardsText}"`);
  const pes = options.pes ?? 20_000;
  const settings: SoakBenchResult['settings'] = {
    seconds: positive('--soak', options.soak),
    windowSeconds: positive('--soak-window', options.soakWindow ?? 30),
    warmupSeconds: options.soakWarmup ?? 60,
    reregisterIntervalMs: positive('--reregister-interval', options.reregisterInterval ?? 30_000),
    rate: positive('--rate', options.rate ?? 15_000),
    keepAliveInterval: positive('--keep-alive-interval', options.keepAliveInterval ?? defaultRegistrarConfig().keepAliveInterval),
    shards: Number(shardsText),
    pes,
    pools: options.pools ?? 100,
    pus: options.pus ?? 10,
    peAssociations: Math.min(options.peAssociations ?? 10, pes),
    policy: name,
    cores: (await import('node:os')).availableParallelism(),
  };
  const s = settings;
  const address = options.address ?? '127.0.0.1';
  const timeoutMs = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const peAddresses = Array.from({ length: s.peAssociations }, () => address);
  const registrations = registrationMessages(s.pes, s.pools, type, peAddresses);
  const resolutions = handleResolutionMessages(s.pools);
  const controlPort = await freeTcpPort(address);
  const cpuProf = options.cpuProf ?? process.env.RSERPOOL_BENCH_CPU_PROF;
  const registrar = await RegistrarProcess.start({
    shards: s.shards,
    address,
    asapPort: 3863,
    udpPort: await freeUdpPort(address),
    keepAliveInterval: s.keepAliveInterval,
    controlPort,
    gcProbe: true,
    ...(cpuProf !== undefined ? { cpuProfileDir: cpuProf } : {}),
  });
  const clients: BenchClient[] = [];
  const say = (text: string): void => void process.stderr.write(`[soak] ${text}\n`);
  try {
    const peClients = await connectClients(registrar.address, s.peAssociations, 40_000, { address });
    clients.push(...peClients);
    const puClients = await connectClients(registrar.address, s.pus, 40_000 + s.peAssociations, { address });
    clients.push(...puClients);
    say(`registering ${fmt(s.pes)} PEs (keep-alive interval ${fmt(s.keepAliveInterval)} ms)`);
    const reg = await registerAll(peClients, registrations, options.window ?? 32, { done: 0 }, { timeoutMs });
    const registration = { seconds: reg.seconds, perSecond: reg.seconds > 0 ? reg.operations / reg.seconds : 0, failed: reg.failed };
    if (reg.ended !== null) throw new Error(`registration ended early: ${reg.ended}`);
    say(`registered in ${reg.seconds.toFixed(1)} s (${fmt(registration.perSecond)}/s, ${fmt(reg.failed)} failed); soak of ${fmt(s.seconds)} s in ${fmt(s.windowSeconds)}-s windows`);
    const scrape = async (): Promise<Scrape | null> => {
      try {
        return parseScrape(await httpGet(controlPort, '/metrics'));
      } catch (err) {
        say(`metrics: ${(err as Error).message}`);
        return null;
      }
    };
    const first = await scrape(); // starts the registrar's first event-loop window
    await registrar.gcPauses(); // and the GC probe's
    const { windows, ended } = await soakLoad(peClients, puClients, registrations, resolutions, s, timeoutMs, {
      registrar,
      scrape,
      firstScrape: first,
      say,
    });
    const result: SoakBenchResult = { settings, registration, windows, summary: summarize(windows, s, ended), histogramBoundsMs: HISTOGRAM_BOUNDS_MS };
    if (options.json) console.log(JSON.stringify(result, null, 2));
    else printSoak(result);
    return result;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await registrar.stop();
  }
}

interface Samplers {
  registrar: RegistrarProcess;
  scrape(): Promise<Scrape | null>;
  firstScrape: Scrape | null;
  say(text: string): void;
}

/**
 * The soak's load: paced resolutions on the PU clients, re-registrations spread over the
 * interval on the PE clients (PE i over client i mod K, as registerAll sent it), keep-alives
 * answered by the clients themselves; a window closed every windowSeconds.
 */
function soakLoad(
  peClients: BenchClient[],
  puClients: BenchClient[],
  registrations: Uint8Array[],
  resolutions: Uint8Array[],
  s: SoakBenchResult['settings'],
  timeoutMs: number,
  samplers: Samplers,
): Promise<{ windows: SoakWindow[]; ended: string | null }> {
  const { registrar, say } = samplers;
  const scratch = { length: 0 };
  const windows: SoakWindow[] = [];
  const generatorLoop = monitorEventLoopDelay({ resolution: LOOP_SAMPLING_MS });
  generatorLoop.enable();
  return new Promise((resolve) => {
    const start = performance.now();
    const endAt = start + s.seconds * 1000;
    let sending = true;
    let finished = false;
    let resolutionsSent = 0;
    let reregistrationsSent = 0;
    let tickTimer: NodeJS.Timeout | undefined;
    let windowTimer: NodeJS.Timeout | undefined;
    let ended: string | null = null;
    // The window being filled.
    let latency = new WindowLatency();
    let reregLatency = new WindowLatency();
    let answered = 0;
    let empty = 0;
    let reregAnswered = 0;
    let reregFailed = 0;
    let windowStart = start;
    const keepAlives = (): [number, number] => {
      let r = 0;
      let a = 0;
      for (const c of peClients) {
        r += c.keepAlivesReceived;
        a += c.keepAlivesAcked;
      }
      return [r, a];
    };
    let [kaReceived, kaAnswered] = keepAlives();
    let cpuMark = { switches: contextSwitches(registrar.pid), reg: processCpuSeconds(registrar.pid), sched: threadSchedule(registrar.pid), gen: process.cpuUsage(), genSched: threadSchedule('self'), at: performance.now() };
    let lastScrape = samplers.firstScrape;
    let pending: Promise<void> = Promise.resolve();

    const res = new PhaseTracker(
      puClients,
      { timeoutMs },
      () => undefined,
      (reason) => finish(`resolutions: ${reason}`),
    );
    const rereg = new PhaseTracker(
      peClients,
      { timeoutMs },
      () => {
        reregFailed++;
      },
      (reason) => finish(`re-registrations: ${reason}`),
    );
    puClients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        if (res.done) return;
        const answer = res.resolutionAnswer(j, m, now, scratch);
        if (answer === null) return;
        answered++;
        if (!isAsapError(m)) latency.add(now - answer.sent);
        if (answer.failure !== '') {
          empty++;
          res.failures.add(answer.failure);
        }
        maybeDone();
      };
    });
    peClients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        if (rereg.done) return;
        if (isAsapError(m)) {
          rereg.answered(now);
          const peId = offendingRegistrationPeId(m);
          const i = peId > 0 && rereg.outstanding[j]!.take(peId - 1) !== undefined ? peId - 1 : rereg.outstanding[j]!.takeOldest();
          if (i < 0) return;
          reregAnswered++;
          reregFailed++;
          rereg.failures.add(asapErrorCause(m));
          maybeDone();
          return;
        }
        if (m[0] !== AsapType.RegistrationResponse) return;
        const at = findParameter(m, ParamType.PeIdentifier, scratch);
        if (at < 0 || scratch.length !== 4) return;
        const i = (((m[at]! << 24) | (m[at + 1]! << 16) | (m[at + 2]! << 8) | m[at + 3]!) >>> 0) - 1;
        if (i < 0 || i >= registrations.length) return;
        rereg.answered(now);
        const sentAt = rereg.outstanding[j]!.take(i);
        if (sentAt === undefined) return;
        reregAnswered++;
        if ((m[1]! & AsapFlag.Reject) !== 0) {
          reregFailed++;
          rereg.failures.add(negativeCause(m, 'rejected'));
        }
        reregLatency.add(now - sentAt);
        maybeDone();
      };
    });

    const closeWindow = (): void => {
      const now = performance.now();
      const [p50, p99, p999] = latency.percentiles(0.5, 0.99, 0.999);
      const [kr, ka] = keepAlives();
      const timeouts = res.failures.count('timeout');
      const w: SoakWindow = {
        index: windows.length,
        startSeconds: (windowStart - start) / 1000,
        seconds: (now - windowStart) / 1000,
        resolutions: answered,
        emptyAnswers: empty,
        timeouts,
        failures: res.failures.toJSON(),
        p50Ms: p50!,
        p99Ms: p99!,
        p999Ms: p999!,
        maxMs: latency.max,
        histogram: latency.buckets,
        reregistrations: reregAnswered,
        reregistrationFailed: reregFailed,
        reregistrationP99Ms: reregLatency.percentiles(0.99)[0]!,
        keepAlivesReceived: kr - kaReceived,
        keepAlivesAnswered: ka - kaAnswered,
        pesLost: 0,
        registrarPes: NaN,
        registrarKeepAlivesSent: 0,
        registrarRssMiB: processRssBytes(registrar.pid) / 2 ** 20,
        registrarCores: 0,
        ioThreadCores: 0,
        generatorCores: 0,
        registrarRunQueueWaitMsPerS: 0,
        generatorRunQueueWaitMsPerS: 0,
        ioThreadRunQueueWaitMsPerS: 0,
        eventLoopDelay: {},
        gc: {},
        shardBatchMax: 0,
        registrarContextSwitchesPerS: 0,
        registrarPacketsReceivedPerS: NaN,
        loadAverage: loadavg()[0]!,
      };
      const reg = processCpuSeconds(registrar.pid);
      const sched = threadSchedule(registrar.pid);
      const gen = process.cpuUsage();
      const genSched = threadSchedule('self');
      const ms = now - cpuMark.at;
      w.registrarCores = ((reg.total - cpuMark.reg.total) * 1000) / ms;
      w.ioThreadCores = ((reg.ioThread - cpuMark.reg.ioThread) * 1000) / ms;
      w.generatorCores = (gen.user + gen.system - cpuMark.gen.user - cpuMark.gen.system) / 1000 / ms;
      w.registrarRunQueueWaitMsPerS = ((sched.waitMs - cpuMark.sched.waitMs) * 1000) / ms;
      w.generatorRunQueueWaitMsPerS = ((genSched.waitMs - cpuMark.genSched.waitMs) * 1000) / ms;
      w.ioThreadRunQueueWaitMsPerS = ((sched.mainWaitMs - cpuMark.sched.mainWaitMs) * 1000) / ms;
      const switches = contextSwitches(registrar.pid);
      w.registrarContextSwitchesPerS = ((switches - cpuMark.switches) * 1000) / ms;
      cpuMark = { switches, reg, sched, gen, genSched, at: now };
      const ns = (x: number): number => (Number.isFinite(x) ? Math.max(0, x / 1e6 - LOOP_SAMPLING_MS) : NaN);
      w.eventLoopDelay.generator = { p50: ns(generatorLoop.percentile(50)), p99: ns(generatorLoop.percentile(99)), max: ns(generatorLoop.max) };
      generatorLoop.reset();
      windows.push(w);
      // The next window.
      latency = new WindowLatency();
      reregLatency = new WindowLatency();
      answered = 0;
      empty = 0;
      reregAnswered = 0;
      reregFailed = 0;
      res.failures.byCause.clear();
      res.failures.total = 0;
      kaReceived = kr;
      kaAnswered = ka;
      windowStart = now;
      // The registrar's side of the window (its /metrics, its GC pauses): asked now, filled in when they come.
      pending = pending.then(async () => {
        const [scraped, gc] = await Promise.all([samplers.scrape(), registrar.gcPauses().catch(() => null)]);
        if (scraped !== null) {
          Object.assign(w.eventLoopDelay, scraped.loop);
          w.registrarPes = scraped.pes;
          w.shardBatchMax = scraped.batchMax;
          if (lastScrape !== null) {
            w.pesLost = scraped.keepAliveTimeouts - lastScrape.keepAliveTimeouts;
            w.registrarKeepAlivesSent = scraped.keepAlivesSent - lastScrape.keepAlivesSent;
            w.registrarPacketsReceivedPerS = (scraped.packetsReceived - lastScrape.packetsReceived) / w.seconds;
          }
          lastScrape = scraped;
        }
        if (gc !== null) w.gc = gc;
        say(windowLine(w));
      });
    };

    const maybeDone = (): void => {
      if (!sending && res.inFlight() === 0 && rereg.inFlight() === 0) finish(null);
    };
    const finish = (reason: string | null): void => {
      if (finished) return;
      finished = true;
      ended = reason;
      sending = false;
      clearTimeout(tickTimer);
      clearInterval(windowTimer);
      res.finish(reason);
      rereg.finish(reason);
      // The last window: only if it holds anything (a soak that is a whole number of windows ends on a boundary).
      if (answered > 0 || performance.now() - windowStart > 100) closeWindow();
      generatorLoop.disable();
      void pending.then(() => resolve({ windows, ended }));
    };

    const reregPerMs = s.pes / s.reregisterIntervalMs;
    const tick = (): void => {
      const now = performance.now();
      const elapsed = Math.min(now, endAt) - start;
      const due = Math.floor((elapsed / 1000) * s.rate) - resolutionsSent;
      for (let n = 0; n < due && !res.done; n++) {
        const j = resolutionsSent % puClients.length;
        const pool = resolutionsSent++ % s.pools;
        sendTracked(res, puClients, j, pool, resolutions[pool]!);
      }
      // PE i re-registers at i/PEs of every interval: the same number every millisecond.
      const reregDue = Math.floor(elapsed * reregPerMs) - reregistrationsSent;
      for (let n = 0; n < reregDue && !rereg.done; n++) {
        const i = reregistrationsSent++ % s.pes;
        sendTracked(rereg, peClients, i % peClients.length, i, registrations[i]!);
      }
      if (finished) return;
      if (now < endAt) {
        tickTimer = setTimeout(tick, 1);
        return;
      }
      sending = false;
      clearInterval(windowTimer);
      maybeDone();
    };
    windowTimer = setInterval(closeWindow, s.windowSeconds * 1000);
    tick();
  });
}

function windowLine(w: SoakWindow): string {
  const loop = Object.entries(w.eventLoopDelay)
    .map(([thread, d]) => `${thread} ${d.p99.toFixed(1)}/${d.max.toFixed(1)}`)
    .join(', ');
  const gc = Object.entries(w.gc)
    .filter(([, g]) => g.pauses > 0)
    .map(([thread, g]) => `${thread} ${g.pauses}x max ${g.maxMs.toFixed(1)}`)
    .join(', ');
  return (
    `window ${w.index + 1} (${w.startSeconds.toFixed(0)} s): ${fmt(w.resolutions)} resolutions, p50 ${w.p50Ms.toFixed(2)} p99 ${w.p99Ms.toFixed(2)} max ${w.maxMs.toFixed(1)} ms, ` +
    `${fmt(w.emptyAnswers)} empty, ${fmt(w.timeouts)} timeouts; ${fmt(w.reregistrations)} re-registrations (p99 ${w.reregistrationP99Ms.toFixed(2)} ms); ` +
    `keep-alives ${fmt(w.keepAlivesReceived)} received, ${fmt(w.keepAlivesAnswered)} answered; PEs lost ${fmt(w.pesLost)}, ${fmt(w.registrarPes)} in the registrar; ` +
    `RSS ${w.registrarRssMiB.toFixed(1)} MiB, registrar ${(w.registrarCores * 100).toFixed(0)} % (I/O ${(w.ioThreadCores * 100).toFixed(0)} %), ${fmt(w.registrarContextSwitchesPerS)} context switches/s, ${fmt(w.registrarPacketsReceivedPerS)} packets in/s; generator ${(w.generatorCores * 100).toFixed(0)} %; ` +
    `run-queue wait ms/s: registrar ${fmt(w.registrarRunQueueWaitMsPerS)} (I/O thread ${fmt(w.ioThreadRunQueueWaitMsPerS)}), generator ${fmt(w.generatorRunQueueWaitMsPerS)}; ` +
    `loop stall p99/max ms: ${loop}; GC: ${gc === '' ? 'none' : gc}; batch max ${fmt(w.shardBatchMax)}; load ${w.loadAverage.toFixed(1)}`
  );
}

function summarize(windows: SoakWindow[], s: SoakBenchResult['settings'], ended: string | null): SoakBenchResult['summary'] {
  const afterWarmup = windows.filter((w) => w.startSeconds >= s.warmupSeconds && w.seconds >= s.windowSeconds * 0.5);
  const counted = afterWarmup.length > 0 ? afterWarmup : windows;
  const sum = (f: (w: SoakWindow) => number): number => windows.reduce((t, w) => t + (Number.isFinite(f(w)) ? f(w) : 0), 0);
  const threads = new Set(counted.flatMap((w) => Object.keys(w.eventLoopDelay)));
  const eventLoopDelay: SoakBenchResult['summary']['eventLoopDelay'] = {};
  for (const t of threads) {
    eventLoopDelay[t] = {
      medianP99: median(counted.map((w) => w.eventLoopDelay[t]?.p99 ?? NaN)),
      max: Math.max(...counted.map((w) => w.eventLoopDelay[t]?.max ?? 0)),
    };
  }
  const gc: SoakBenchResult['summary']['gc'] = {};
  for (const w of counted) {
    for (const [t, g] of Object.entries(w.gc)) {
      const a = (gc[t] ??= { pauses: 0, totalMs: 0, maxMs: 0 });
      a.pauses += g.pauses;
      a.totalMs += g.totalMs;
      a.maxMs = Math.max(a.maxMs, g.maxMs);
    }
  }
  const histogram = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  for (const w of counted) w.histogram.forEach((n, i) => (histogram[i]! += n));
  const last = windows.at(-1);
  const rssPoints = counted.filter((w) => Number.isFinite(w.registrarRssMiB)).map((w): [number, number] => [w.startSeconds + w.seconds, w.registrarRssMiB]);
  return {
    windowsCounted: counted.length,
    resolutions: sum((w) => w.resolutions),
    emptyAnswers: sum((w) => w.emptyAnswers),
    timeouts: sum((w) => w.timeouts),
    medianP50Ms: median(counted.map((w) => w.p50Ms)),
    medianP99Ms: median(counted.map((w) => w.p99Ms)),
    maxP99Ms: Math.max(...counted.map((w) => (Number.isFinite(w.p99Ms) ? w.p99Ms : 0))),
    maxMs: Math.max(...windows.map((w) => w.maxMs)),
    keepAlivesReceived: sum((w) => w.keepAlivesReceived),
    keepAlivesAnswered: sum((w) => w.keepAlivesAnswered),
    pesLost: sum((w) => w.pesLost),
    pesMissingAtEnd: last !== undefined && Number.isFinite(last.registrarPes) ? s.pes - last.registrarPes : NaN,
    rssSlopeMiBPerHour: slopePerHour(rssPoints),
    rssFirstMiB: rssPoints[0]?.[1] ?? NaN,
    rssLastMiB: rssPoints.at(-1)?.[1] ?? NaN,
    medianRegistrarCores: median(counted.map((w) => w.registrarCores)),
    medianRegistrarContextSwitchesPerS: median(counted.map((w) => w.registrarContextSwitchesPerS)),
    medianRegistrarPacketsReceivedPerS: median(counted.map((w) => w.registrarPacketsReceivedPerS)),
    medianRegistrarRunQueueWaitMsPerS: median(counted.map((w) => w.registrarRunQueueWaitMsPerS)),
    medianGeneratorRunQueueWaitMsPerS: median(counted.map((w) => w.generatorRunQueueWaitMsPerS)),
    eventLoopDelay,
    gc,
    histogram,
    ended,
  };
}

function printSoak(r: SoakBenchResult): void {
  const s = r.settings;
  console.log(
    `soak: ${fmt(s.pes)} PEs in ${s.pools} pools over ${s.peAssociations} associations, keep-alive every ${fmt(s.keepAliveInterval)} ms, re-registration every ${fmt(s.reregisterIntervalMs)} ms; ` +
      `${fmt(s.rate)} resolutions/s paced over ${s.pus} PU associations; ${s.shards} shard(s), ${s.cores} cores; ${fmt(s.seconds)} s in ${fmt(s.windowSeconds)}-s windows`,
  );
  const head = ['window', 'start s', 'resolutions', 'empty', 'timeouts', 'p50 ms', 'p99 ms', 'max ms', 'KA recv/ans', 'PEs lost', 'RSS MiB', 'reg CPU %', 'stall max ms io/shards/gen', 'GC max ms', 'load'];
  const rows = r.windows.map((w) => {
    const shards = Object.entries(w.eventLoopDelay).filter(([t]) => t.startsWith('shard'));
    const gcMax = Math.max(0, ...Object.values(w.gc).map((g) => g.maxMs));
    return [
      String(w.index + 1),
      w.startSeconds.toFixed(0),
      fmt(w.resolutions),
      fmt(w.emptyAnswers),
      fmt(w.timeouts),
      w.p50Ms.toFixed(2),
      w.p99Ms.toFixed(2),
      w.maxMs.toFixed(1),
      `${fmt(w.keepAlivesReceived)}/${fmt(w.keepAlivesAnswered)}`,
      fmt(w.pesLost),
      w.registrarRssMiB.toFixed(1),
      (w.registrarCores * 100).toFixed(0),
      `${(w.eventLoopDelay.io?.max ?? NaN).toFixed(1)}/${shards.map(([, d]) => d.max.toFixed(1)).join(',') || '-'}/${(w.eventLoopDelay.generator?.max ?? NaN).toFixed(1)}`,
      gcMax.toFixed(1),
      w.loadAverage.toFixed(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(line(head));
  for (const row of rows) console.log(line(row));
  const m = r.summary;
  console.log(
    `after warm-up (${m.windowsCounted} windows): median p50 ${m.medianP50Ms.toFixed(2)} ms, median p99 ${m.medianP99Ms.toFixed(2)} ms (worst window ${m.maxP99Ms.toFixed(2)}), max ${m.maxMs.toFixed(1)} ms; ` +
      `${fmt(m.resolutions)} resolutions, ${fmt(m.emptyAnswers)} empty, ${fmt(m.timeouts)} timeouts; keep-alives ${fmt(m.keepAlivesReceived)} received, ${fmt(m.keepAlivesAnswered)} answered; ` +
      `PEs lost ${fmt(m.pesLost)}, missing at the end ${fmt(m.pesMissingAtEnd)}; RSS ${m.rssFirstMiB.toFixed(1)} -> ${m.rssLastMiB.toFixed(1)} MiB, slope ${m.rssSlopeMiBPerHour.toFixed(2)} MiB/h${m.ended !== null ? `; ended early: ${m.ended}` : ''}`,
  );
  // Where the time goes: a resolution waits for the generator's thread (sending, then reading
  // the answer), the registrar's I/O thread (twice) and its shard; each is late by its stalls
  // (GC among them) and by the run queue (cores held by the others).
  console.log(`  where the time goes (medians of the windows): registrar ${(m.medianRegistrarCores * 100).toFixed(0)} % of a core, ${fmt(m.medianRegistrarContextSwitchesPerS)} context switches/s, ${fmt(m.medianRegistrarPacketsReceivedPerS)} SCTP packets in/s; run-queue wait ms/s: registrar ${m.medianRegistrarRunQueueWaitMsPerS.toFixed(0)}, generator ${m.medianGeneratorRunQueueWaitMsPerS.toFixed(0)}`);
  const counted = r.windows.filter((w) => w.startSeconds >= s.warmupSeconds);
  const span = counted.reduce((t, w) => t + w.seconds, 0) || r.windows.reduce((t, w) => t + w.seconds, 0);
  for (const [t, d] of Object.entries(m.eventLoopDelay)) {
    const g = m.gc[t];
    const gc = g === undefined ? '' : `; GC ${fmt(g.pauses)} pauses (${(g.pauses / span).toFixed(1)}/s), ${(g.totalMs / span).toFixed(1)} ms/s, longest ${g.maxMs.toFixed(1)} ms`;
    console.log(`    ${t.padEnd(9)} event-loop stall (beyond the ${LOOP_SAMPLING_MS}-ms sampling): median p99 ${d.medianP99.toFixed(2)} ms, max ${d.max.toFixed(1)} ms${gc}`);
  }
  const total = m.histogram.reduce((a, b) => a + b, 0);
  console.log('  latency histogram (ms, upper bound: share):');
  let acc = 0;
  m.histogram.forEach((n, i) => {
    acc += n;
    if (n === 0) return;
    const bound = i < r.histogramBoundsMs.length ? `<= ${r.histogramBoundsMs[i]}` : `> ${r.histogramBoundsMs.at(-1)}`;
    console.log(`    ${bound.padStart(10)}  ${((n / total) * 100).toFixed(3).padStart(7)} %  (cumulative ${((acc / total) * 100).toFixed(3)} %)`);
  });
}
