// End-to-end benchmark: a registrar in a child process (`rserpool registrar`, SCTP over UDP on
// loopback) and load-generating PEs and PUs in this process. Phases: registration of every PE,
// re-registration of every PE, handle resolutions for a while (closed loop), then handle
// resolutions paced at half the measured rate. Per phase: rate, p50/p99 latency, and the
// registrar's CPU time per operation (its /proc times, all threads, over the phase).
// With several shard counts (--shards 1,2,4) and --runs N the shard counts alternate run by
// run, and the medians are compared. --transport sctp|tcp|tls (or a list, alternating the same
// way) sets what the generator's associations run over: SCTP over UDP, plain TCP, or TLS with
// a PSK (RFC 5352 §6); over TCP and TLS each run ends with connection setups per second (for
// TLS: handshakes). Each run also reports what the registrar's memory is made
// of, empty and with every PE registered (e2e-memory-probe.ts, preloaded into every thread of
// the child).
// Run: rserpool bench e2e [--shards 1,2,4] [--transport sctp,tcp,tls] [--pes N] [--pools N]
//      [--pus N] [--policy NAME] [--duration S] [--runs N] [--address IP] [--json];
//      RSERPOOL_BENCH_CPU_PROF=dir profiles the registrar.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { policyByName } from '../src/policy/registry.js';
import { defaultShardCount } from '../src/registrar/config.js';
import { loadTlsCredentials, type TlsCredentials } from '../src/transport/tls-credentials.js';
import { PORT_ASAP_TLS, PORT_SCTP_OVER_UDP } from '../src/wire/index.js';
import type { RegistrarMemory } from './e2e-memory-probe.js';
import { freeTcpPort, freeUdpPort } from './free-ports.js';
import {
  BENCH_TRANSPORTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  connectClients,
  connectRepeatedly,
  handleResolutionMessages,
  registerAll,
  registrationMessages,
  resolveClosedLoop,
  resolvePaced,
  type BenchClient,
  type BenchTransport,
  type ClientSettings,
  type PhaseOutcome,
  type RegistrarTarget,
  type RequestLimits,
  type PhaseProgress,
} from './e2e-load.js';
import { RegistrarProcess, processCpuSeconds, processRssBytes, threadSchedule, type ThreadSchedule } from './e2e-registrar-process.js';
import { parseRegistrarAddress } from '../src/cli/client-options.js';
import { WIRE_TRACE_ENV, WIRE_TRACE_LABEL_ENV, resetWireTrace, startWireTrace, summarizeWireTrace, writeWireTrace, type WireTraceSummary } from './e2e-wire-trace.js';

export interface E2eBenchOptions {
  /** One shard count or several ("1,2,4"); default: the registrar's (cores - 1, at least 1). */
  shards?: number | string;
  /** Address of the registrar, the generator's endpoints and every PE; default 127.0.0.1 (::1 works too). */
  address?: string;
  /**
   * A registrar already running, "host:port[:udpPort]" (ports default 3863 and 9899), driven
   * instead of starting our own: any ASAP registrar over SCTP over UDP (RSPLIB's too).
   */
  registrar?: string;
  /**
   * With `registrar`: its process ID on this host, for its CPU time, run-queue wait and RSS
   * (/proc); several (summed) for a registrar made of several processes (a virtual machine's).
   */
  registrarPid?: number | number[];
  /**
   * What the generator's associations run over: 'sctp' (SCTP over UDP, default), 'tcp' (plain
   * TCP) or 'tls' (TLS with a PSK), or a list ("sctp,tcp,tls"): runs alternate between them
   * (and between shard counts). Our registrar gets a TCP port and a TLS port with a PSK file
   * written for the run; a --registrar is reached on its TCP port (the port of `registrar`,
   * IANA asap-tcp 3863 like SCTP) or its TLS port (`registrarTlsPort`).
   */
  transport?: string;
  /** With `registrar` and TLS: its TLS port; default 3864 (IANA asap-tcp-tls). */
  registrarTlsPort?: number;
  /** With `registrar` and TLS: a PSK file (identity:hex-key lines, the first is offered) the registrar knows. */
  registrarTlsPsk?: string;
  /** Seconds of the connection-setup phase over TCP and TLS; default `duration`, at most 5. */
  connectSeconds?: number;
  /**
   * Local addresses of the generator's associations, one per association in turn (PE
   * associations first, then PU associations); every PE advertises the address of the
   * association it registers over. Default: --address, or with --registrar the address this
   * host sends from towards it.
   */
  localAddress?: string[];
  /** Local UDP encapsulation port of the first association, the next ones count up; default 0: any free port each. */
  localUdpPort?: number;
  /** A request unanswered this long (ms) is counted as a timeout and frees its slot; default 5000. Three times this with no answer at all ends a phase. */
  requestTimeout?: number;
  pes?: number;
  pools?: number;
  pus?: number;
  policy?: string;
  /** Seconds of measured handle resolutions (and of the paced run). */
  duration?: number;
  /** Associations the PEs register over (PEs are spread over them). */
  peAssociations?: number;
  /** Requests in flight per association in the closed-loop phases. */
  window?: number;
  runs?: number;
  /** Rate of the paced phase, requests/s; default half the measured closed-loop rate. */
  rate?: number;
  /** Registrar keep-alive interval, ms; long by default so keep-alives stay out of the phases. */
  keepAliveInterval?: number;
  /** Directory for `node --cpu-prof` profiles of the registrar child. */
  cpuProf?: string;
  /** Directory for heap snapshots of every registrar thread with every PE registered (after the phases). */
  heapSnapshot?: string;
  /**
   * Directory for a wire-level trace of both processes (or RSERPOOL_BENCH_WIRE_TRACE): each
   * paced request split into generator -> registrar, in the registrar, registrar -> generator
   * (e2e-wire-trace.ts); the summary is in `pacedWireTrace` of each run.
   */
  wireTrace?: string;
  json?: boolean;
}

export interface PhaseResult {
  /** Requests answered (positively or negatively). */
  operations: number;
  seconds: number;
  /** Answers per second. */
  perSecond: number;
  /** Negative answers and timeouts. */
  failed: number;
  /** `failed` by cause ("timeout", "ASAP_ERROR <cause>", "rejected <cause>", ...). */
  failures: Record<string, number>;
  /** Why the phase ended before its work was done (the registrar stopped answering, an association went down), or null. */
  ended: string | null;
  /** Registrations the phase did not get to send because it ended early. */
  notSent: number;
  p50Ms: number;
  p99Ms: number;
  /** Registrar CPU seconds (all threads) during the phase. */
  registrarCpuSeconds: number;
  /** Registrar CPU per operation, microseconds. */
  registrarCpuPerOpUs: number;
  /** CPU of the registrar's I/O (main) thread per operation, microseconds: 1e6 / this is the
   * registrar's ceiling while that one thread does all SCTP work. */
  ioThreadCpuPerOpUs: number;
  /** Share of one core the registrar's I/O (main) thread used during the phase (1 = saturated). */
  registrarIoThreadLoad: number;
  /** Cores the whole registrar (I/O thread + shards) used on average during the phase. */
  registrarCores: number;
  /** This process's (the load generator's) CPU per operation, microseconds. */
  generatorCpuPerOpUs: number;
  /**
   * Milliseconds per second of the phase that the registrar's threads (all, summed) spent
   * runnable but waiting for a core (/proc schedstat): CPU contention, from the generator or
   * other processes on the machine. Latency percentiles mean little without it.
   */
  registrarRunQueueWaitMsPerS: number;
  /** The same for the registrar's I/O thread alone. */
  ioThreadRunQueueWaitMsPerS: number;
  /** The same for the load generator's process (all threads). */
  generatorRunQueueWaitMsPerS: number;
}

/** The registrar's memory at one moment, after a full GC in every thread (bytes). */
export interface MemoryBreakdown {
  rss: number;
  /** The I/O thread's heap: live objects, and what the isolate holds. */
  ioHeapUsed: number;
  ioHeapTotal: number;
  /** C++ memory bound to the I/O thread's objects, ArrayBuffers included (process.memoryUsage().external). */
  ioExternal: number;
  ioArrayBuffers: number;
  /** Of ioHeapTotal, the young generation (semi-spaces grown under load, kept after GC). */
  ioNewSpace: number;
  /** The shard workers' heaps, summed, and external memory summed. */
  workersHeapUsed: number;
  workersHeapTotal: number;
  workersNewSpace: number;
  workersExternal: number;
  /** RSS not accounted for by any heap's total or external memory: V8 isolates, code, stacks, libuv, the allocator. */
  unaccounted: number;
}

export interface E2eRunResult {
  /** Shard count of our registrar (0: its one shard on the I/O thread); EXTERNAL (-1) for a registrar given with --registrar. */
  shards: number;
  /** What the generator's associations ran over. */
  transport: BenchTransport;
  registration: PhaseResult;
  reregistration: PhaseResult;
  resolution: PhaseResult;
  /** Paced at half of `resolution.perSecond`. */
  pacedResolution: PhaseResult & { targetPerSecond: number };
  /**
   * Over TCP and TLS: connections set up (TLS: handshakes complete and accepted by the
   * registrar) and closed, 4 at a time, per second; registrar CPU per setup. Not over SCTP.
   */
  connectionSetup?: PhaseResult;
  registrarRssBytes: number;
  /** Registrar memory just started (shards up, no association), and after the phases (every PE registered); ours only. */
  memoryEmpty?: MemoryBreakdown;
  memoryLoaded?: MemoryBreakdown;
  /** (loaded - empty) / PEs, of RSS and of the heaps. */
  rssBytesPerPe: number;
  workersHeapBytesPerPe: number;
  ioHeapBytesPerPe: number;
  /** 1-minute load average of the machine before and after the run (others share the cores). */
  loadAverage: [before: number, after: number];
  /** With --wire-trace: where the paced requests' time went, segment by segment (ms). */
  pacedWireTrace?: WireTraceSummary;
}

export interface E2eBenchResult {
  settings: {
    pes: number;
    pools: number;
    pus: number;
    policy: string;
    duration: number;
    peAssociations: number;
    window: number;
    runs: number;
    keepAliveInterval: number;
    cores: number;
    address: string;
    /** The registrar driven, "host:port:udpPort" when not ours (--registrar), else null. */
    registrar: string | null;
    /** Local address of each association (PE associations, then PU associations). */
    localAddresses: string[];
    /** Local UDP port of the first association (0: any). */
    localUdpPort: number;
    requestTimeoutMs: number;
    /** The transports compared (runs alternate between them). */
    transports: BenchTransport[];
    /** Seconds of the connection-setup phase (TCP, TLS). */
    connectSeconds: number;
  };
  /** Per shard count and transport: every run, and the median of each number over the runs. */
  results: Array<{ shards: number; transport: BenchTransport; runs: E2eRunResult[]; median: E2eRunResult }>;
}

/** The `shards` of results against a registrar given with --registrar (not ours: no shard count). */
export const EXTERNAL = -1;

function resolvePolicy(name: string): { type: number; name: string } {
  const def = policyByName(name);
  if (def === undefined) throw new Error(`unknown policy ${name}`);
  return { type: def.type, name: def.name };
}

function shardCounts(value: number | string | undefined): number[] {
  if (value === undefined) return [defaultShardCount()];
  const list = String(value)
    .split(',')
    .map((s) => Number(s.trim()));
  // 0: the registrar's one shard on its I/O thread (`registrar --shards 0`).
  if (list.some((n) => !Number.isInteger(n) || n < 0 || n > 256)) throw new Error(`--shards: expected counts in 0..256, got "${value}"`);
  return list;
}

function transportList(value: string | undefined): BenchTransport[] {
  if (value === undefined) return ['sctp'];
  const list = value.split(',').map((t) => t.trim().toLowerCase());
  const bad = list.find((t) => !(BENCH_TRANSPORTS as readonly string[]).includes(t));
  if (bad !== undefined || list.length === 0) throw new Error(`--transport: expected sctp, tcp or tls, or a list of them ("sctp,tcp,tls"), got "${value}"`);
  return [...new Set(list)] as BenchTransport[];
}


/** The TLS side of a run: the PSK file our registrar reads, and the client's credentials. */
interface TlsSetup {
  pskFile: string;
  credentials: TlsCredentials;
}

// ------------------------------------------------------------------ progress on stderr

class Progress {
  private timer: NodeJS.Timeout | undefined;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly prefix: string) {}

  follow(phase: string, progress: PhaseProgress, total?: number): void {
    this.end();
    let lastDone = 0;
    let lastAt = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const rate = ((progress.done - lastDone) * 1000) / (now - lastAt);
      lastDone = progress.done;
      lastAt = now;
      const count = total === undefined ? fmt(progress.done) : `${fmt(progress.done)}/${fmt(total)}`;
      const line = `${this.prefix} ${phase}: ${count} (${fmt(rate)}/s)`;
      process.stderr.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
    }, 1000);
  }

  note(text: string): void {
    this.end();
    process.stderr.write(`${this.prefix} ${text}\n`);
  }

  end(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}

// ------------------------------------------------------------------ one run

interface CpuMark {
  registrar: number;
  ioThread: number;
  generator: number;
  registrarSchedule: ThreadSchedule;
  generatorSchedule: ThreadSchedule;
  at: number;
}

function breakdown(m: RegistrarMemory): MemoryBreakdown {
  const sum = (f: (w: RegistrarMemory['workers'][number]) => number): number => m.workers.reduce((t, w) => t + f(w), 0);
  const out: MemoryBreakdown = {
    rss: m.rss,
    ioHeapUsed: m.main.heapUsed,
    ioHeapTotal: m.main.heapTotal,
    ioExternal: m.main.external,
    ioArrayBuffers: m.main.arrayBuffers,
    ioNewSpace: m.main.newSpace,
    workersHeapUsed: sum((w) => w.heapUsed),
    workersHeapTotal: sum((w) => w.heapTotal),
    workersNewSpace: sum((w) => w.newSpace),
    workersExternal: sum((w) => w.external),
    unaccounted: 0,
  };
  out.unaccounted = out.rss - out.ioHeapTotal - out.ioExternal - out.workersHeapTotal - out.workersExternal;
  return out;
}

async function runOnce(
  shards: number,
  transport: BenchTransport,
  tlsSetup: TlsSetup | null,
  s: E2eBenchResult['settings'],
  messages: { registrations: Uint8Array[]; resolutions: Uint8Array[] },
  options: E2eBenchOptions,
  progress: Progress,
): Promise<E2eRunResult> {
  const cpuProf = options.cpuProf ?? process.env.RSERPOOL_BENCH_CPU_PROF;
  const traceDir = options.wireTrace ?? process.env[WIRE_TRACE_ENV];
  const traceLabel = `run-${++traceRuns}`;
  lastPacedWindow = [];
  if (traceDir !== undefined) {
    // The registrar child inherits both (its preload writes <label>-registrar.json at exit).
    process.env[WIRE_TRACE_ENV] = traceDir;
    process.env[WIRE_TRACE_LABEL_ENV] = `${traceLabel}-registrar`;
    startWireTrace();
    resetWireTrace();
  }
  const external = options.registrar !== undefined ? registrarTarget(options.registrar) : null;
  // Our registrar serves the stream transport of the run on a free port.
  const streamPort = external === null && transport !== 'sctp' ? await freeTcpPort(s.address) : 0;
  const registrar =
    external === null
      ? await RegistrarProcess.start({
          shards,
          address: s.address,
          asapPort: 3863,
          udpPort: await freeUdpPort(),
          keepAliveInterval: s.keepAliveInterval,
          ...(transport === 'tcp' ? { tcpPort: streamPort } : {}),
          ...(transport === 'tls' ? { tlsPort: streamPort, tlsPsk: tlsSetup!.pskFile } : {}),
          ...(cpuProf !== undefined ? { cpuProfileDir: cpuProf } : {}),
        })
      : null;
  const base: RegistrarTarget = registrar?.address ?? external!;
  const target: RegistrarTarget =
    transport === 'sctp'
      ? base
      : {
          ...base,
          stream: {
            protocol: transport,
            // A --registrar: TCP on its ASAP port (IANA asap-tcp is 3863 like SCTP), TLS on --registrar-tls-port.
            port: external === null ? streamPort : transport === 'tcp' ? base.port : (options.registrarTlsPort ?? PORT_ASAP_TLS),
            ...(transport === 'tls' ? { tls: tlsSetup!.credentials } : {}),
          },
        };
  // Another implementation's registrar: its CPU and RSS only if its process ID was given.
  const given = options.registrarPid;
  const pids = registrar !== null ? [registrar.pid] : given === undefined ? [] : Array.isArray(given) ? given : [given];
  const clients: BenchClient[] = [];
  const loadBefore = loadavg()[0]!;
  try {
    const noSchedule: ThreadSchedule = { runMs: NaN, waitMs: NaN, mainRunMs: NaN, mainWaitMs: NaN };
    const cpu = (): CpuMark => {
      const u = process.cpuUsage();
      const r = pids.length > 0 ? sumOver(pids, processCpuSeconds) : { total: NaN, ioThread: NaN };
      return {
        registrar: r.total,
        ioThread: r.ioThread,
        generator: (u.user + u.system) / 1e6,
        registrarSchedule: pids.length > 0 ? sumOver(pids, threadSchedule) : noSchedule,
        generatorSchedule: threadSchedule('self'),
        at: performance.now(),
      };
    };
    const phase = (outcome: PhaseOutcome, from: CpuMark, to: CpuMark): PhaseResult => {
      const [p50, p99] = outcome.latency.percentiles(0.5, 0.99);
      const registrarCpu = to.registrar - from.registrar;
      return {
        operations: outcome.operations,
        seconds: outcome.seconds,
        perSecond: outcome.seconds > 0 ? outcome.operations / outcome.seconds : 0,
        failed: outcome.failed,
        failures: outcome.failures,
        ended: outcome.ended,
        notSent: outcome.notSent,
        p50Ms: p50!,
        p99Ms: p99!,
        registrarCpuSeconds: registrarCpu,
        registrarCpuPerOpUs: (registrarCpu * 1e6) / outcome.operations,
        ioThreadCpuPerOpUs: ((to.ioThread - from.ioThread) * 1e6) / outcome.operations,
        registrarIoThreadLoad: ((to.ioThread - from.ioThread) * 1000) / (to.at - from.at),
        registrarCores: (registrarCpu * 1000) / (to.at - from.at),
        generatorCpuPerOpUs: ((to.generator - from.generator) * 1e6) / outcome.operations,
        registrarRunQueueWaitMsPerS: ((to.registrarSchedule.waitMs - from.registrarSchedule.waitMs) * 1000) / (to.at - from.at),
        ioThreadRunQueueWaitMsPerS: ((to.registrarSchedule.mainWaitMs - from.registrarSchedule.mainWaitMs) * 1000) / (to.at - from.at),
        generatorRunQueueWaitMsPerS: ((to.generatorSchedule.waitMs - from.generatorSchedule.waitMs) * 1000) / (to.at - from.at),
      };
    };
    // Empty: shards started, no association yet (a moment for the workers to settle).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const memoryEmpty = registrar !== null ? breakdown(await registrar.memory(shards)) : undefined;
    // Association i (PE associations, then PU associations) binds the i-th local address in
    // turn and, with --local-udp-port P, UDP port P + i.
    const local = (first: number) => (i: number): ClientSettings => ({
      address: s.localAddresses[(first + i) % s.localAddresses.length]!,
      udpPort: s.localUdpPort === 0 ? 0 : s.localUdpPort + first + i,
    });
    const pes = await connectClients(target, s.peAssociations, 40_000, local(0));
    clients.push(...pes);
    const pus = await connectClients(target, s.pus, 40_000 + s.peAssociations, local(s.peAssociations));
    clients.push(...pus);
    const limits: RequestLimits = { timeoutMs: s.requestTimeoutMs };
    const live: PhaseProgress = { done: 0 };

    // Registration, then the same messages again: re-registration (RFC 5352 §3.1, an update).
    progress.follow('registration', live, s.pes);
    let a = cpu();
    const reg = await registerAll(pes, messages.registrations, s.window, live, limits);
    const registration = phase(reg, a, cpu());
    progress.note(`registration: ${fmt(registration.perSecond)}/s, p99 ${registration.p99Ms.toFixed(2)} ms${failureNote(registration)}`);

    progress.follow('re-registration', live, s.pes);
    a = cpu();
    const rereg = await registerAll(pes, messages.registrations, s.window, live, limits);
    const reregistration = phase(rereg, a, cpu());
    progress.note(`re-registration: ${fmt(reregistration.perSecond)}/s, p99 ${reregistration.p99Ms.toFixed(2)} ms${failureNote(reregistration)}`);

    // Handle resolutions, closed loop, 1 s unmeasured warm-up.
    progress.follow('handle resolution', live);
    let from: CpuMark = a;
    let to: CpuMark = a;
    const mark = (which: 'start' | 'end'): void => {
      if (which === 'start') from = cpu();
      else to = cpu();
    };
    const res = await resolveClosedLoop(pus, messages.resolutions, { ...limits, pools: s.pools, window: s.window, warmupSeconds: 1, seconds: s.duration, mark }, live);
    const resolution = phase(res, from, to);
    progress.note(`handle resolution: ${fmt(resolution.perSecond)}/s, p99 ${resolution.p99Ms.toFixed(2)} ms${failureNote(resolution)}`);

    // Half that rate (or --rate), paced: latency when the registrar is not saturated.
    const targetRate = options.rate ?? Math.max(1, Math.round(resolution.perSecond / 2));
    progress.follow(`handle resolution paced at ${fmt(targetRate)}/s`, live);
    const pacedMark = (which: 'start' | 'end'): void => {
      lastPacedWindow.push(Number(process.hrtime.bigint()) / 1e6);
      mark(which);
    };
    const paced = await resolvePaced(pus, messages.resolutions, { ...limits, pools: s.pools, rate: targetRate, seconds: s.duration, mark: pacedMark }, live);
    const pacedResolution = { ...phase(paced, from, to), targetPerSecond: targetRate };
    progress.note(`paced at ${fmt(targetRate)}/s: p50 ${pacedResolution.p50Ms.toFixed(2)} ms, p99 ${pacedResolution.p99Ms.toFixed(2)} ms${failureNote(pacedResolution)}`);

    // TCP and TLS: new connections (TLS handshakes) per second, 4 setting up at a time.
    let connectionSetup: PhaseResult | undefined;
    if (target.stream !== undefined) {
      const what = transport === 'tls' ? 'TLS handshakes' : 'TCP connections';
      progress.follow(what, live);
      const setups = await connectRepeatedly({ ...target, stream: target.stream }, { concurrency: 4, seconds: s.connectSeconds, mark }, live);
      connectionSetup = phase(setups, from, to);
      progress.note(`${what}: ${fmt(connectionSetup.perSecond)}/s, registrar CPU ${connectionSetup.registrarCpuPerOpUs.toFixed(0)} µs each${failureNote(connectionSetup)}`);
    }

    const registrarRssBytes = pids.length > 0 ? pids.reduce((sum, p) => sum + processRssBytes(p), 0) : NaN;
    if (options.heapSnapshot !== undefined && registrar !== null) mkdirSync(options.heapSnapshot, { recursive: true });
    const memoryLoaded = registrar !== null ? breakdown(await registrar.memory(shards, options.heapSnapshot)) : undefined;
    const perPe = (f: (m: MemoryBreakdown) => number): number =>
      memoryLoaded !== undefined && memoryEmpty !== undefined ? (f(memoryLoaded) - f(memoryEmpty)) / s.pes : NaN;
    return {
      shards,
      transport,
      registration,
      reregistration,
      resolution,
      pacedResolution,
      ...(connectionSetup !== undefined ? { connectionSetup } : {}),
      registrarRssBytes,
      ...(memoryEmpty !== undefined ? { memoryEmpty } : {}),
      ...(memoryLoaded !== undefined ? { memoryLoaded } : {}),
      rssBytesPerPe: perPe((m) => m.rss),
      workersHeapBytesPerPe: perPe((m) => m.workersHeapUsed),
      ioHeapBytesPerPe: perPe((m) => m.ioHeapUsed),
      loadAverage: [loadBefore, loadavg()[0]!],
    };
  } finally {
    progress.end();
    await Promise.all(clients.map((c) => c.close()));
    await registrar?.stop();
  }
}

/** Field by field sum of a per-process measurement over several processes (the first one's main thread for the I/O thread). */
function sumOver<T extends object>(pids: number[], measure: (pid: number) => T): T {
  const all = pids.map(measure);
  const out = { ...all[0]! } as Record<string, number>;
  for (const m of all.slice(1)) {
    for (const [key, value] of Object.entries(m)) if (key !== 'ioThread' && !key.startsWith('main')) out[key] = out[key]! + (value as number);
  }
  return out as T;
}

/** ", 12 failed (timeout 10, ASAP_ERROR ...); ended: why" for a progress line, or ''. */
function failureNote(p: PhaseResult): string {
  const causes = Object.entries(p.failures).map(([cause, n]) => `${cause} ${fmt(n)}`);
  const failed = p.failed > 0 ? `, ${fmt(p.failed)} failed (${causes.join(', ')})` : '';
  const ended = p.ended !== null ? `; ended early: ${p.ended}${p.notSent > 0 ? `, ${fmt(p.notSent)} not sent` : ''}` : '';
  return failed + ended;
}

let traceRuns = 0;
/** process.hrtime (ms) of the last paced phase's start and end. */
let lastPacedWindow: number[] = [];

/** runOnce, and with a wire trace its summary (the registrar's file exists once it stopped). */
async function runTraced(...args: Parameters<typeof runOnce>): Promise<E2eRunResult> {
  const result = await runOnce(...args);
  const [, , , s, , options] = args;
  const traceDir = options.wireTrace ?? process.env[WIRE_TRACE_ENV];
  if (traceDir === undefined) return result;
  const label = `run-${traceRuns}`;
  writeWireTrace(`${label}-generator`, { paced: lastPacedWindow });
  const ports = Array.from({ length: s.pus }, (_, i) => 40_000 + s.peAssociations + i);
  result.pacedWireTrace = summarizeWireTrace(traceDir, `${label}-generator`, `${label}-registrar`, 3863, ports);
  return result;
}

// ------------------------------------------------------------------ medians and output

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of every number field over the runs (each field on its own). */
function medianRun(runs: E2eRunResult[]): E2eRunResult {
  const combine = (values: unknown[]): unknown => {
    const first = values.find((v) => v !== undefined && v !== null);
    // A count missing from a run (a failure cause seen in another run only) is 0 there.
    if (typeof first === 'number') return median(values.map((v) => (typeof v === 'number' ? v : 0)));
    if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
      const out: Record<string, unknown> = {};
      const keys = new Set(values.flatMap((v) => (v !== null && typeof v === 'object' ? Object.keys(v) : [])));
      for (const key of keys) out[key] = combine(values.map((v) => (v as Record<string, unknown> | undefined)?.[key]));
      return out;
    }
    if (Array.isArray(first)) return first.map((_, i) => combine(values.map((v) => (v as unknown[] | undefined)?.[i])));
    return first ?? values[0];
  };
  return combine(runs) as E2eRunResult;
}

function fmt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

export function printTable(result: E2eBenchResult): void {
  const s = result.settings;
  console.log(
    `e2e: ${fmt(s.pes)} PEs in ${s.pools} pools (${s.policy}) over ${s.peAssociations} associations, ${s.pus} PU associations (${s.transports.join(', ')}), ` +
      `${s.window} in flight each, ${s.duration} s resolutions; ${s.cores} cores; ${s.runs === 1 ? 'one run' : `median of ${s.runs} runs`}`,
  );
  const head = ['shards', 'transport', 'phase', 'ops/s', 'p50 ms', 'p99 ms', 'registrar CPU µs/op', 'I/O thread µs/op', 'I/O thread busy', 'generator CPU µs/op', 'run-queue wait ms/s reg / gen', 'failed'];
  const rows: string[][] = [];
  const label = (shards: number): string => (shards === EXTERNAL ? 'ext' : String(shards));
  for (const { shards, transport, median: m } of result.results) {
    const row = (name: string, p: PhaseResult): string[] => [
      label(shards),
      transport,
      name,
      fmt(p.perSecond),
      p.p50Ms.toFixed(2),
      p.p99Ms.toFixed(2),
      p.registrarCpuPerOpUs.toFixed(1),
      p.ioThreadCpuPerOpUs.toFixed(1),
      `${(p.registrarIoThreadLoad * 100).toFixed(0)} %`,
      p.generatorCpuPerOpUs.toFixed(1),
      `${p.registrarRunQueueWaitMsPerS.toFixed(0)} / ${p.generatorRunQueueWaitMsPerS.toFixed(0)}`,
      fmt(p.failed),
    ];
    rows.push(row('registration', m.registration));
    rows.push(row('re-registration', m.reregistration));
    rows.push(row('handle resolution', m.resolution));
    rows.push(row(`resolution paced ${fmt(m.pacedResolution.targetPerSecond)}/s`, m.pacedResolution));
    if (m.connectionSetup !== undefined) rows.push(row(transport === 'tls' ? 'TLS handshake' : 'TCP connect', m.connectionSetup));
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i <= 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  // Negative answers and timeouts by cause, and phases that ended early.
  for (const { shards, transport, median: m } of result.results) {
    const phases: Array<[string, PhaseResult]> = [['registration', m.registration], ['re-registration', m.reregistration], ['handle resolution', m.resolution], ['paced resolution', m.pacedResolution]];
    if (m.connectionSetup !== undefined) phases.push(['connection setup', m.connectionSetup]);
    for (const [name, p] of phases) {
      const note = failureNote(p);
      if (note !== '') console.log(`${label(shards)} ${transport} ${name}: ${note.replace(/^[,;] /, '')}`);
    }
  }
  // Beside SCTP: each transport's median as a ratio of SCTP's (same shard count).
  const sctp = new Map(result.results.filter((r) => r.transport === 'sctp').map((r) => [r.shards, r.median]));
  for (const { shards, transport, median: m } of result.results) {
    const base = sctp.get(shards);
    if (transport === 'sctp' || base === undefined) continue;
    const ratio = (p: PhaseResult, q: PhaseResult, f: (x: PhaseResult) => number): string => `${(f(p) / f(q)).toFixed(2)}x`;
    console.log(
      `${label(shards)} ${transport} / sctp: resolutions/s ${ratio(m.resolution, base.resolution, (p) => p.perSecond)}, registrar CPU per resolution ${ratio(m.resolution, base.resolution, (p) => p.registrarCpuPerOpUs)}, ` +
        `registrations/s ${ratio(m.registration, base.registration, (p) => p.perSecond)}, CPU per registration ${ratio(m.registration, base.registration, (p) => p.registrarCpuPerOpUs)}`,
    );
  }
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
  for (const { shards, transport, median: m } of result.results) {
    const rss = Number.isFinite(m.registrarRssBytes) ? `registrar RSS ${(m.registrarRssBytes / 2 ** 20).toFixed(0)} MiB after the run` : 'registrar RSS unknown (--registrar-pid)';
    console.log(`${shards === EXTERNAL ? `registrar ${s.registrar}` : `shards ${shards}`} ${transport}: ${rss}; machine load average ${m.loadAverage[0].toFixed(1)} before, ${m.loadAverage[1].toFixed(1)} after`);
    if (m.memoryEmpty === undefined || m.memoryLoaded === undefined) continue;
    for (const [when, b] of [['empty', m.memoryEmpty], [`${fmt(s.pes)} PEs`, m.memoryLoaded]] as const) {
      console.log(
        `  memory ${when} (after GC): RSS ${mib(b.rss)} = I/O thread heap ${mib(b.ioHeapUsed)} used / ${mib(b.ioHeapTotal)} total (young ${mib(b.ioNewSpace)}), ` +
          `external ${mib(b.ioExternal)} (array buffers ${mib(b.ioArrayBuffers)}); shard heaps ${mib(b.workersHeapUsed)} used / ${mib(b.workersHeapTotal)} total (young ${mib(b.workersNewSpace)}), ` +
          `external ${mib(b.workersExternal)}; rest ${mib(b.unaccounted)}`,
      );
    }
    console.log(`  per PE: RSS ${m.rssBytesPerPe.toFixed(0)} B, shard heap ${m.workersHeapBytesPerPe.toFixed(0)} B, I/O thread heap ${m.ioHeapBytesPerPe.toFixed(0)} B`);
  }
}

export async function run(options: E2eBenchOptions = {}): Promise<E2eBenchResult> {
  const { type, name } = resolvePolicy(options.policy ?? 'RoundRobin');
  const settings: E2eBenchResult['settings'] = {
    pes: options.pes ?? 100_000,
    pools: options.pools ?? 100,
    pus: options.pus ?? 10,
    policy: name,
    duration: options.duration ?? 10,
    peAssociations: options.peAssociations ?? 10,
    window: options.window ?? 32,
    runs: options.runs ?? 1,
    keepAliveInterval: options.keepAliveInterval ?? 600_000,
    cores: availableParallelism(),
    address: options.address ?? '127.0.0.1',
    registrar: null,
    localAddresses: [],
    localUdpPort: options.localUdpPort ?? 0,
    requestTimeoutMs: options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
    transports: transportList(options.transport),
    connectSeconds: 0,
  };
  settings.connectSeconds = options.connectSeconds ?? Math.min(settings.duration, 5);
  const streams = settings.transports.some((t) => t !== 'sctp');
  // A stream association's local address and port are the kernel's choice (the route's source).
  if (streams && options.localAddress !== undefined && options.localAddress.length > 0) throw new Error('--local-address: SCTP only (over TCP and TLS the kernel picks the source address)');
  if (streams && options.localUdpPort !== undefined && options.localUdpPort !== 0) throw new Error('--local-udp-port: SCTP only');
  if (streams && (options.wireTrace ?? process.env[WIRE_TRACE_ENV]) !== undefined) throw new Error('--wire-trace: SCTP only (it traces UDP datagrams)');
  if (settings.transports.includes('tls') && options.registrar !== undefined && options.registrarTlsPsk === undefined) {
    throw new Error('--transport tls with --registrar needs --registrar-tls-psk FILE (identity:hex-key lines; the first is offered)');
  }
  settings.peAssociations = Math.min(settings.peAssociations, settings.pes);
  let external: RegistrarTarget | null = null;
  if (options.registrar !== undefined) {
    external = registrarTarget(options.registrar);
    settings.registrar = `${external.address.includes(':') ? `[${external.address}]` : external.address}:${external.port}:${external.udpPort}`;
  }
  settings.localAddresses =
    options.localAddress !== undefined && options.localAddress.length > 0
      ? options.localAddress.map(checkLocalAddress)
      : [external !== null ? await sourceAddressTowards(external.address) : settings.address];
  if (settings.localUdpPort !== 0 && settings.localUdpPort + settings.peAssociations + settings.pus - 1 > 65535) {
    throw new Error(`--local-udp-port ${settings.localUdpPort}: ${settings.peAssociations + settings.pus} associations need ports up to ${settings.localUdpPort + settings.peAssociations + settings.pus - 1}`);
  }
  // PE association j binds localAddresses[j mod n]; registerAll sends PE i over association i mod
  // peAssociations: PE i advertises that association's address.
  const peAddresses = Array.from({ length: settings.peAssociations }, (_, j) => settings.localAddresses[j % settings.localAddresses.length]!);
  const messages = {
    registrations: registrationMessages(settings.pes, settings.pools, type, peAddresses),
    resolutions: handleResolutionMessages(settings.pools),
  };
  // A registrar that is not ours has no shard count of ours: one series, EXTERNAL ("ext").
  const counts = external !== null ? [EXTERNAL] : shardCounts(options.shards);
  const series = counts.flatMap((shards) => settings.transports.map((transport) => ({ shards, transport })));
  // TLS: a PSK for the run (our registrar reads the file), or the one of --registrar-tls-psk.
  let tlsSetup: TlsSetup | null = null;
  let tlsDir: string | null = null;
  let result: E2eBenchResult;
  try {
    if (settings.transports.includes('tls')) {
      let pskFile = options.registrarTlsPsk;
      if (pskFile === undefined) {
        tlsDir = mkdtempSync(join(tmpdir(), 'rserpool-bench-e2e-'));
        pskFile = join(tlsDir, 'psk.txt');
        writeFileSync(pskFile, `bench-e2e:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
      }
      tlsSetup = { pskFile, credentials: loadTlsCredentials({ psk: pskFile }, 'client') };
    }
    // Strictly alternating (run 1 of each shard count and transport, then run 2 of each...):
    // drift in the machine's load (others share the cores) falls on every series alike.
    const runs = series.map((): E2eRunResult[] => []);
    for (let r = 0; r < settings.runs; r++) {
      for (const [i, { shards, transport }] of series.entries()) {
        const over = settings.transports.length > 1 || transport !== 'sctp' ? ` over ${transport.toUpperCase()}` : '';
        const prefix = shards === EXTERNAL ? `[${settings.registrar}${over}, run ${r + 1}/${settings.runs}]` : `[shards ${shards}${over}, run ${r + 1}/${settings.runs}]`;
        runs[i]!.push(await runTraced(shards, transport, tlsSetup, settings, messages, options, new Progress(prefix)));
      }
    }
    result = { settings, results: series.map(({ shards, transport }, i) => ({ shards, transport, runs: runs[i]!, median: medianRun(runs[i]!) })) };
  } finally {
    if (tlsDir !== null) rmSync(tlsDir, { recursive: true, force: true });
  }
  if (options.json) console.log(JSON.stringify(result, null, 2));
  else printTable(result);
  return result;
}

/** --registrar host:port[:udpPort] ([IPv6]:port[:udpPort]); ports default to 3863 and 9899. */
function registrarTarget(text: string): RegistrarTarget {
  const r = parseRegistrarAddress(text);
  return { address: r.address, port: r.port, udpPort: r.udpPort ?? PORT_SCTP_OVER_UDP };
}

/** A --local-address: an IPv4 or IPv6 literal that is not the wildcard (PEs advertise it). */
function checkLocalAddress(text: string): string {
  const a = text.trim();
  if (isIP(a) === 0) throw new Error(`--local-address: "${text}" is not an IPv4 or IPv6 address`);
  if (a === '0.0.0.0' || a === '::') throw new Error(`--local-address: ${a} is the wildcard; give the address PEs should advertise`);
  return a;
}

/** The address this host sends from towards `address` (its route's source): a connected UDP socket's local end. */
async function sourceAddressTowards(address: string): Promise<string> {
  const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(9, address, () => resolve());
    });
    return socket.address().address;
  } catch (err) {
    throw new Error(`no route from this host to the registrar ${address} (${(err as Error).message}); give --local-address`);
  } finally {
    socket.close();
  }
}

function parseArgs(argv: string[]): E2eBenchOptions {
  const o: E2eBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => argv[++i] ?? '';
    if (a === '--json') o.json = true;
    else if (a === '--shards') o.shards = value();
    else if (a === '--transport') o.transport = value();
    else if (a === '--registrar-tls-port') o.registrarTlsPort = Number(value());
    else if (a === '--registrar-tls-psk') o.registrarTlsPsk = value();
    else if (a === '--connect-seconds') o.connectSeconds = Number(value());
    else if (a === '--address') o.address = value();
    else if (a === '--pes') o.pes = Number(value());
    else if (a === '--pools') o.pools = Number(value());
    else if (a === '--pus') o.pus = Number(value());
    else if (a === '--policy') o.policy = value();
    else if (a === '--duration') o.duration = Number(value());
    else if (a === '--pe-associations') o.peAssociations = Number(value());
    else if (a === '--window') o.window = Number(value());
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--rate') o.rate = Number(value());
    else if (a === '--keep-alive-interval') o.keepAliveInterval = Number(value());
    else if (a === '--cpu-prof') o.cpuProf = value();
    else if (a === '--heap-snapshot') o.heapSnapshot = value();
    else if (a === '--wire-trace') o.wireTrace = value();
    else if (a === '--registrar') o.registrar = value();
    else if (a === '--registrar-pid') o.registrarPid = value().split(',').map(Number);
    else if (a === '--local-address') (o.localAddress ??= []).push(value());
    else if (a === '--local-udp-port') o.localUdpPort = Number(value());
    else if (a === '--request-timeout') o.requestTimeout = Number(value());
  }
  return o;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  run(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
