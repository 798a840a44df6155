// ENRP benchmarks (RFC 5353): a new registrar loading the handlespace from its mentor, the
// takeover of a dead peer's PEs, and handle updates a registrar absorbs from a peer: alone, and
// while pool users resolve handles at the same registrar over ASAP (RFC 5351 §3.4 and §4.3
// side by side). In-process registrars on 127.0.0.1, SCTP over UDP.
//
// The update phases run the peer and the pool users in a worker thread of this process (this
// file again, see `generatorMain`), so that the registrar's I/O thread (the main thread here)
// does not also run its load generator's SCTP stacks.
// Run: rserpool bench enrp [--pes N[,N]] [--shards N] [--page-size N] [--duration S] [--json];
//      node dist/native-free-bench/enrp.js also takes --pus N --window N --pools N --runs N.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { Registrar, type RegistrarConfig } from '../src/registrar/index.js';
import type { ShardSet } from '../src/shard/shard-set.js';
import { openSctpEndpoint } from '../src/transport/index.js';
import { EnrpType, ParamType, PPID_ENRP, TransportUse, UpdateAction, encodeMessage, parseAddress, policySettings, transportParameter, type Message } from '../src/wire/index.js';
import { connectClients, freeUdpPort, handleResolutionMessages, poolHandle, resolveClosedLoop, type PhaseOutcome } from './e2e-load.js';

export interface EnrpBenchOptions {
  pes?: string;
  shards?: number;
  pageSize?: number;
  duration?: number;
  /** Pool user associations resolving handles during the update stream (default 10). */
  pus?: number;
  /** Resolutions in flight per pool user association (default 32, as in the e2e bench). */
  window?: number;
  /** Pools the streamed PEs and the resolutions are spread over (default 100). */
  pools?: number;
  /** Repetitions of the update phases; medians are reported (default 1). */
  runs?: number;
  json?: boolean;
}

const silent = pino({ level: 'silent' });
const FAKE_PEER = 0x7e7e7e7e;
/** Distinct PEs the peer's stream cycles over: each is in the handlespace before the stream. */
const STREAMED_PES = 20_000;
/** Unmeasured first second of every update phase (JIT, caches, the association's window). */
const WARMUP_SECONDS = 1;

function start(udpPort: number, peers: number[], extra: Partial<RegistrarConfig>): Promise<Registrar> {
  return Registrar.start(
    {
      transport: 'udp', address: '127.0.0.1', udpPort, asapPort: 3863, enrpPort: 9901, announce: false, enrpAnnounce: false,
      peers: peers.map((p) => ({ address: '127.0.0.1', port: 9901, udpPort: p })),
      peerHeartbeatCycle: 1000, maxTimeLastHeard: 600_000, maxTimeNoResponse: 600_000, mentorDiscoveryTimeout: 2000, logLevel: 'silent',
      ...extra,
    },
    silent,
  );
}

const benchPool = (i: number, pools: number): Uint8Array => new TextEncoder().encode(`bench-${i % pools}`);

/** ENRP_HANDLE_UPDATE ADD_PE of PE `i` owned by `home` in `pool`, with an ASAP transport. */
function addPe(i: number, home: number, pool: Uint8Array): Uint8Array {
  const address = parseAddress('127.0.0.1')!;
  return encodeMessage({
    protocol: 'enrp', type: EnrpType.HandleUpdate, flags: 0, paddedLength: false, unknownParams: null, senderId: home, receiverId: 0,
    action: UpdateAction.AddPe, reserved: 0, poolHandle: pool,
    poolElement: {
      peId: i, homeRegistrarId: home, registrationLife: 3_600_000,
      userTransport: transportParameter(ParamType.SctpTransport, 10000 + (i % 50000), [address], TransportUse.DataOnly),
      policy: policySettings(1), asapTransport: transportParameter(ParamType.SctpTransport, 20000, [address], TransportUse.DataOnly),
    },
  } as Message);
}

/** Puts `n` PEs owned by FAKE_PEER into a registrar's shards, as if a peer had announced them. */
async function inject(r: Registrar, n: number, poolOf: (i: number) => Uint8Array): Promise<void> {
  const shards = (r as unknown as { shards: ShardSet }).shards;
  for (let i = 1; i <= n; i++) {
    const pool = poolOf(i);
    shards.to(shards.route(pool)).enrpHandleUpdate(addPe(i, FAKE_PEER, pool));
    if (i % 20000 === 0) await new Promise((res) => setImmediate(res));
  }
  for (;;) {
    if ((await peCount(r)) >= n) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function peCount(r: Registrar): Promise<number> {
  return (await r.stats()).shards.reduce((a, x) => a + x.poolElements, 0);
}

// ------------------------------------------------------------------ the update phases

type PhaseName = 'updates' | 'resolutions' | 'both';

/** main → worker */
type ToGenerator = { kind: 'phase'; phase: PhaseName } | { kind: 'stop' };
/** worker → main */
type FromGenerator =
  | { kind: 'ready' }
  | { kind: 'mark'; which: 'start' | 'end'; cpuSeconds: number }
  | { kind: 'done'; sent: number; sentMeasured: number; blockedShare: number; resolution: ResolutionNumbers | null }
  | { kind: 'failed'; error: string };

interface GeneratorSettings {
  enrpBenchGenerator: true;
  udpPort: number;
  pus: number;
  window: number;
  pools: number;
  seconds: number;
}

/** CPU seconds (user + system) of the calling thread so far (Linux /proc; NaN elsewhere). */
function threadCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

interface ResolutionNumbers {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

/** Registrar-side counters of the handle update path, summed over the I/O thread and the shards. */
interface UpdateCounters {
  received: number;
  applied: number;
  rejected: number;
  resolutions: number;
  at: number;
  /** CPU seconds of this process (all threads) and of the main thread: the registrar's I/O thread. */
  processCpu: number;
  ioThreadCpu: number;
}

async function updateCounters(r: Registrar): Promise<UpdateCounters> {
  const s = await r.stats();
  const sum = (key: string): number => s.shards.reduce((a, x) => a + (x.counters[key] ?? 0), 0);
  const u = process.cpuUsage();
  return {
    received: s.enrp.handleUpdatesReceived, applied: sum('updatesApplied'), rejected: sum('updatesRejected'), resolutions: sum('handleResolutions'),
    at: performance.now(), processCpu: (u.user + u.system) / 1e6, ioThreadCpu: threadCpuSeconds(),
  };
}

export interface UpdatePhaseResult {
  phase: PhaseName;
  /** ENRP_HANDLE_UPDATEs the peer handed to its association in the measured interval, per second. */
  sentPerSecond: number;
  /** ... that the shards applied in the measured interval, per second. */
  appliedPerSecond: number;
  resolutionsPerSecond: number;
  resolutionP50Ms: number;
  resolutionP99Ms: number;
  resolutionsFailed: number;
  /** Share of the measured interval the peer spent waiting for its association's queue (past
   * its 1 MiB high-water mark, not yet taken by SCTP's windows) to drain: near 1, SCTP and the
   * registrar side bound the stream, not the peer. */
  peerBlockedShare: number;
  /** Cores used in the measured interval: the registrar's I/O thread, the load generator's
   * thread, and the rest of the process (the registrar's shards, libuv). */
  ioThreadCores: number;
  generatorCores: number;
  shardCores: number;
  /** Over the whole phase, after the registrar drained: sent − received by the I/O thread. */
  lostBeforeShards: number;
  /** received − (applied + rejected) by the shards. */
  lostInShards: number;
  rejected: number;
  /** PEs in the handlespace after the phase (STREAMED_PES expected). */
  poolElements: number;
}

/**
 * One registrar; one worker thread with the peer's association and the pool users' associations;
 * the phases in turn: the peer streams handle updates alone, the pool users resolve alone, both.
 */
async function updatePhases(shards: number, o: Required<Pick<EnrpBenchOptions, 'pus' | 'window' | 'pools' | 'duration'>>, phases: PhaseName[]): Promise<UpdatePhaseResult[]> {
  const udpPort = await freeUdpPort();
  const r = await start(udpPort, [], { shards });
  const worker = new Worker(fileURLToPath(import.meta.url), {
    workerData: { enrpBenchGenerator: true, udpPort, pus: o.pus, window: o.window, pools: o.pools, seconds: o.duration } satisfies GeneratorSettings,
  });
  const inbox: FromGenerator[] = [];
  let wake: (() => void) | null = null;
  let exited: string | null = null;
  worker.on('message', (m: FromGenerator) => {
    inbox.push(m);
    wake?.();
  });
  worker.on('error', (e) => {
    exited = e.message;
    wake?.();
  });
  worker.on('exit', (code) => {
    exited ??= `generator exited (${code})`;
    wake?.();
  });
  const receive = async (): Promise<FromGenerator> => {
    for (;;) {
      const m = inbox.shift();
      if (m !== undefined) {
        if (m.kind === 'failed') throw new Error(`load generator: ${m.error}`);
        return m;
      }
      if (exited !== null) throw new Error(exited);
      await new Promise<void>((res) => (wake = res));
      wake = null;
    }
  };
  const results: UpdatePhaseResult[] = [];
  try {
    // The streamed PEs are there before the stream: it then re-adds them (RFC 5353 §3.3.1:
    // an ADD_PE of a known PE updates it), and the pool users find every pool from the start.
    await inject(r, STREAMED_PES, (i) => poolHandle(i % o.pools));
    if ((await receive()).kind !== 'ready') throw new Error('load generator: expected ready');
    for (const phase of phases) {
      const before = await updateCounters(r);
      worker.postMessage({ kind: 'phase', phase } satisfies ToGenerator);
      let from = before;
      let to = before;
      let generatorCpu = 0;
      let done: Extract<FromGenerator, { kind: 'done' }> | undefined;
      while (done === undefined) {
        const m = await receive();
        if (m.kind === 'mark' && m.which === 'start') {
          from = await updateCounters(r);
          generatorCpu -= m.cpuSeconds;
        } else if (m.kind === 'mark') {
          to = await updateCounters(r);
          generatorCpu += m.cpuSeconds;
        } else if (m.kind === 'done') done = m;
      }
      // Drained: the I/O thread and the shards stop counting (nothing in flight any more).
      let after = await updateCounters(r);
      for (let quiet = 0; quiet < 4; ) {
        await new Promise((res) => setTimeout(res, 250));
        const now = await updateCounters(r);
        quiet = now.received === after.received && now.applied + now.rejected === after.applied + after.rejected ? quiet + 1 : 0;
        after = now;
      }
      const seconds = (to.at - from.at) / 1000;
      results.push({
        phase,
        sentPerSecond: done.sentMeasured / seconds,
        appliedPerSecond: (to.applied - from.applied) / seconds,
        resolutionsPerSecond: done.resolution?.perSecond ?? 0,
        resolutionP50Ms: done.resolution?.p50Ms ?? NaN,
        resolutionP99Ms: done.resolution?.p99Ms ?? NaN,
        resolutionsFailed: done.resolution?.failed ?? 0,
        peerBlockedShare: done.blockedShare,
        ioThreadCores: (to.ioThreadCpu - from.ioThreadCpu) / seconds,
        generatorCores: generatorCpu / seconds,
        shardCores: (to.processCpu - from.processCpu - (to.ioThreadCpu - from.ioThreadCpu) - generatorCpu) / seconds,
        lostBeforeShards: done.sent - (after.received - before.received),
        lostInShards: after.received - before.received - (after.applied - before.applied) - (after.rejected - before.rejected),
        rejected: after.rejected - before.rejected,
        poolElements: await peCount(r),
      });
    }
    worker.postMessage({ kind: 'stop' } satisfies ToGenerator);
  } finally {
    await new Promise<void>((res) => {
      if (exited !== null) return res();
      // It closes its endpoints and ends; SCTP timers may keep it a little longer.
      const timer = setTimeout(() => void worker.terminate().then(() => res()), 2_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        res();
      });
    });
    await r.close();
  }
  return results;
}

/** Whether the measured interval is on, and when it started and ended (NaN: not yet). */
interface Counting {
  measuring: boolean;
  from: number;
  to: number;
}

/**
 * The worker: the peer (its own SCTP endpoint on ENRP's port, one association to the registrar,
 * a PRESENCE first) and the pool users (e2e-load's clients and closed loop).
 */
async function generatorMain(s: GeneratorSettings): Promise<void> {
  const port = parentPort!;
  const post = (m: FromGenerator): void => port.postMessage(m);
  const target = { address: '127.0.0.1', port: 3863, udpPort: s.udpPort };
  const peer = await openSctpEndpoint({ mode: 'udp', port: 9901, udpPort: 0, address: '127.0.0.1' });
  const a = await peer.connect({ address: '127.0.0.1', port: 9901, udpPort: s.udpPort });
  a.send(encodeMessage({ protocol: 'enrp', type: EnrpType.Presence, flags: 0, paddedLength: false, unknownParams: null, senderId: FAKE_PEER, receiverId: 0, checksum: null, serverInfo: null } as Message), PPID_ENRP);
  let peerDown: string | null = null;
  a.on('down', (reason) => (peerDown = reason));
  const pus = await connectClients(target, s.pus, 41_000);
  const updates = Array.from({ length: STREAMED_PES }, (_, i) => addPe(i + 1, FAKE_PEER, poolHandle((i + 1) % s.pools)));
  const resolutions = handleResolutionMessages(s.pools);
  post({ kind: 'ready' });

  /**
   * Streams updates until `until` resolves, as fast as the association takes them: fills its
   * queue past the high-water mark, then waits for 'drain' (no spinning: the generator's CPU
   * stays off the registrar's cores). blockedShare: measured time spent waiting for 'drain'.
   */
  const stream = async (until: Promise<unknown>, counting: Counting): Promise<{ sent: number; sentMeasured: number; blockedShare: number }> => {
    let over = false;
    let sent = 0;
    let sentMeasured = 0;
    let waitedMs = 0;
    let wakeUp: (() => void) | null = null;
    void until.then(() => {
      over = true;
      wakeUp?.();
    });
    const onDrain = (): void => wakeUp?.();
    a.on('drain', onDrain);
    try {
      while (!over) {
        if (peerDown !== null) throw new Error(`peer association went down (${peerDown})`);
        let accepted = true;
        for (let k = 0; k < 200 && accepted; k++) {
          accepted = a.send(updates[sent++ % updates.length]!, PPID_ENRP);
          if (counting.measuring) sentMeasured++;
        }
        if (accepted) {
          await new Promise((res) => setImmediate(res));
          continue;
        }
        const waitFrom = performance.now();
        await new Promise<void>((res) => (wakeUp = res));
        wakeUp = null;
        // The part of this wait inside the measured interval.
        if (!Number.isNaN(counting.from)) waitedMs += Math.max(0, Math.min(performance.now(), Number.isNaN(counting.to) ? Infinity : counting.to) - Math.max(waitFrom, counting.from));
      }
    } finally {
      a.off('drain', onDrain);
    }
    return { sent, sentMeasured, blockedShare: Number.isNaN(counting.from) || Number.isNaN(counting.to) ? NaN : waitedMs / (counting.to - counting.from) };
  };
  const numbers = (out: PhaseOutcome): ResolutionNumbers => {
    const [p50, p99] = out.latency.percentiles(0.5, 0.99);
    return { perSecond: out.operations / out.seconds, p50Ms: p50!, p99Ms: p99!, failed: out.failed };
  };

  for (;;) {
    const m = await new Promise<ToGenerator>((res) => port.once('message', res));
    if (m.kind === 'stop') break;
    const counting: Counting = { measuring: false, from: NaN, to: NaN };
    let markedEnd = (): void => undefined;
    const ended = new Promise<void>((res) => (markedEnd = res));
    const mark = (which: 'start' | 'end'): void => {
      counting.measuring = which === 'start';
      if (which === 'start') counting.from = performance.now();
      else counting.to = performance.now();
      post({ kind: 'mark', which, cpuSeconds: threadCpuSeconds() });
      if (which === 'end') markedEnd();
    };
    if (m.phase === 'updates') {
      // The same timing as the closed loop's: warm-up, then the measured interval.
      setTimeout(() => {
        mark('start');
        setTimeout(() => mark('end'), s.seconds * 1000);
      }, WARMUP_SECONDS * 1000);
      const { sent, sentMeasured, blockedShare } = await stream(ended, counting);
      post({ kind: 'done', sent, sentMeasured, blockedShare, resolution: null });
    } else {
      const progress = { done: 0 };
      const loop = resolveClosedLoop(pus, resolutions, { pools: s.pools, window: s.window, warmupSeconds: WARMUP_SECONDS, seconds: s.seconds, mark }, progress);
      // The stream stops with the measured interval; the loop then only collects its answers.
      const streamed = m.phase === 'both' ? stream(ended, counting) : Promise.resolve({ sent: 0, sentMeasured: 0, blockedShare: NaN });
      const [out, { sent, sentMeasured, blockedShare }] = await Promise.all([loop, streamed]);
      post({ kind: 'done', sent, sentMeasured, blockedShare, resolution: numbers(out) });
    }
  }
  await Promise.all(pus.map((c) => c.close()));
  await peer.close();
}

// ------------------------------------------------------------------ the run

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

export async function run(opts: EnrpBenchOptions): Promise<void> {
  const sizes = (opts.pes ?? '100000,1000000').split(',').map(Number).filter((n) => n > 0);
  const shards = opts.shards ?? 2;
  const results: Record<string, unknown>[] = [];
  for (const n of sizes) {
    // 1. Load from a mentor.
    const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
    const mentor = await start(pa, [], { shards, maxHandleTableElements: opts.pageSize ?? 128 });
    const pools = Math.max(1, Math.floor(n / 1000));
    await inject(mentor, n, (i) => benchPool(i, pools));
    const t0 = performance.now();
    const fresh = await start(pb, [pa], { shards, mentorDiscoveryTimeout: 2000 });
    const loadMs = performance.now() - t0;
    const loaded = await peCount(fresh);
    // 2. Takeover of n PEs: the fan-out that moves ownership and arms keep-alives with H.
    const shardSet = (fresh as unknown as { shards: ShardSet }).shards;
    const t1 = performance.now();
    shardSet.toAll((b) => b.enrpTakeOver(FAKE_PEER, fresh.id));
    while ((await shardSet.owners()).includes(FAKE_PEER)) await new Promise((res) => setTimeout(res, 5));
    const takeoverMs = performance.now() - t1;
    await fresh.close();
    await mentor.close();
    results.push({ pes: n, shards, pageSize: opts.pageSize ?? 128, loadMs: Math.round(loadMs), loaded, takeoverMs: Math.round(takeoverMs) });
    if (!opts.json) console.log(`${n} PEs: loaded from mentor in ${Math.round(loadMs)} ms (${loaded} PEs), takeover fan-out ${Math.round(takeoverMs)} ms`);
  }
  // 3. Handle updates absorbed from a peer per second: at an otherwise idle registrar, and while
  //    pool users resolve handles at it (with resolutions alone in between for their baseline).
  const o = { pus: opts.pus ?? 10, window: opts.window ?? 32, pools: opts.pools ?? 100, duration: opts.duration ?? 5 };
  const runs: UpdatePhaseResult[][] = [];
  const loadBefore = loadavg()[0]!;
  for (let k = 0; k < (opts.runs ?? 1); k++) runs.push(await updatePhases(shards, o, ['updates', 'resolutions', 'both']));
  const loadAfter = loadavg()[0]!;
  const medians = runs[0]!.map((first, i): UpdatePhaseResult => {
    const out: Record<string, unknown> = { phase: first.phase };
    for (const key of Object.keys(first) as (keyof UpdatePhaseResult)[]) {
      if (key !== 'phase') out[key] = median(runs.map((r) => r[i]![key] as number));
    }
    return out as unknown as UpdatePhaseResult;
  });
  results.push({ updatePhases: { shards, ...o, streamedPes: STREAMED_PES, runs: runs.length, median: medians, all: runs, loadAverage: [loadBefore, loadAfter] } });
  if (opts.json) {
    console.log(JSON.stringify(results, null, 2));
    return;
  }
  console.log(
    `handle updates from one peer (ADD_PE over ${STREAMED_PES} PEs in ${o.pools} pools), ${shards} shards, ${o.pus} PU associations x ${o.window} in flight, ` +
      `${o.duration} s measured; ${runs.length === 1 ? 'one run' : `median of ${runs.length} runs`}; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
  );
  const head = ['phase', 'updates sent/s', 'applied/s', 'resolutions/s', 'p50 ms', 'p99 ms', 'failed', 'lost (I/O)', 'lost (shards)', 'rejected', 'PEs after', 'peer blocked', 'cores I/O+shards+gen'];
  const rows = medians.map((m) => [
    m.phase === 'updates' ? 'updates alone' : m.phase === 'resolutions' ? 'resolutions alone' : 'updates + resolutions',
    fmt(m.sentPerSecond), fmt(m.appliedPerSecond), fmt(m.resolutionsPerSecond),
    Number.isFinite(m.resolutionP50Ms) ? m.resolutionP50Ms.toFixed(2) : '-', Number.isFinite(m.resolutionP99Ms) ? m.resolutionP99Ms.toFixed(2) : '-',
    fmt(m.resolutionsFailed), fmt(m.lostBeforeShards), fmt(m.lostInShards), fmt(m.rejected), fmt(m.poolElements),
    Number.isFinite(m.peerBlockedShare) ? `${Math.round(m.peerBlockedShare * 100)} %` : '-',
    `${m.ioThreadCores.toFixed(2)}+${m.shardCores.toFixed(2)}+${m.generatorCores.toFixed(2)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

function parseArgs(argv: string[]): EnrpBenchOptions {
  const o: EnrpBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => argv[++i] ?? '';
    if (a === '--json') o.json = true;
    else if (a === '--pes') o.pes = value();
    else if (a === '--shards') o.shards = Number(value());
    else if (a === '--page-size') o.pageSize = Number(value());
    else if (a === '--duration') o.duration = Number(value());
    else if (a === '--pus') o.pus = Number(value());
    else if (a === '--window') o.window = Number(value());
    else if (a === '--pools') o.pools = Number(value());
    else if (a === '--runs') o.runs = Number(value());
  }
  return o;
}

if (!isMainThread && (workerData as Partial<GeneratorSettings> | null)?.enrpBenchGenerator === true) {
  generatorMain(workerData as GeneratorSettings).catch((e: unknown) => parentPort!.postMessage({ kind: 'failed', error: (e as Error).stack ?? String(e) } satisfies FromGenerator));
} else if (isMainThread && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
