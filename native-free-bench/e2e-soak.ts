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
// window figures. A window's latencies are counted in e2e-soak-latency.ts; the summary and the
// printed report are e2e-soak-report.ts.
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
import { HISTOGRAM_BOUNDS_MS, WindowLatency } from './e2e-soak-latency.js';
import { LOOP_SAMPLING_MS, fmt, printSoak, soakWindowLine, summarizeSoak, type LoopDelay, type SoakBenchResult, type SoakWindow } from './e2e-soak-report.js';

// The window accumulator and the report's figures, where they were before they had files of their own.
export { HISTOGRAM_BOUNDS_MS, WindowLatency } from './e2e-soak-latency.js';
export { LOOP_SAMPLING_MS, slopePerHour, type LoopDelay, type SoakBenchResult, type SoakWindow } from './e2e-soak-report.js';

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
    const result: SoakBenchResult = { settings, registration, windows, summary: summarizeSoak(windows, s, ended), histogramBoundsMs: HISTOGRAM_BOUNDS_MS };
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
        say(soakWindowLine(w));
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
