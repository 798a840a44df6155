// Handlespace snapshot benchmark (src/snapshot/): save and load of a large handlespace, the
// file size, and reading one pool from the file against parsing all of it.
//
// The handlespace is built in this process as the registrar's shards hold it: `--parts`
// partitions (one per shard), pools hashed to them by shardOf(), every PE with its encoded
// Pool Element parameter and an ASAP transport, half of them own PEs. Each phase is timed as a
// whole (CPU time of the process, and wall time), `--runs` times, medians reported:
//
//   save     each part encoded (part-writer.ts; in the registrar the shards do this in
//            parallel, here one after the other: both the sum and the largest part are
//            reported), the file assembled (parts nested, CRC32c) and written atomically (fsync)
//   load     the file read and checked (identifier, version, CRC32c), then every part's
//            pools restored into fresh partitions (restore.ts: what each shard does at start)
//   pool     one pool read from the file: binary search for the handle and that pool's PEs
//            decoded, against the full parse (every pool, every PE decoded); the pool handles
//            read on the way are counted
//
//   warm     a real registrar (`rserpool registrar`, a child process, 2 shard workers) started
//            with --snapshot of `--warm-pes` PEs (default 100,000), `--runs` times with the
//            restore before serving (--snapshot-restore-slice 0) and in the background (the
//            default), alternating: from the process start and from Registrar.start(), when it
//            serves, when a handle resolution is first answered with PEs, when the last PE is
//            restored; a pool user resolves a random pool every 10 ms from "registrar started"
//            on: when each pool first answers, and the resolution p99 during the restore and
//            after it; then its shutdown save (SIGTERM). Needs `npm run build` (the CLI).
//
//   npx tsx native-free-bench/snapshot.ts [--pes N --pools N --parts N --runs N --warm-pes N --json]
//   rserpool bench snapshot [same options]
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { AsapEndpoint, PoolUser } from '../src/client/index.js';
import { defaultRegistrarConfig } from '../src/registrar/config.js';
import { Partition } from '../src/handlespace/partition.js';
import type { Scheduler } from '../src/handlespace/timer-schedule.js';
import { seededRandom } from '../src/policy/random-source.js';
import { AsapTransportTable, asapTransportTlv } from '../src/shard/pe-asap-transport.js';
import { shardOf } from '../src/shard/thread-protocol.js';
import { PoolElement as FbPoolElement } from '../src/snapshot/handlespace_generated.js';
import { encodePart } from '../src/snapshot/part-writer.js';
import { readSnapshotElement } from '../src/snapshot/part-reader.js';
import { restoreSnapshot } from '../src/snapshot/restore.js';
import { assembleSnapshot, SnapshotReader, type PartInfo } from '../src/snapshot/snapshot-format.js';
import { writeSnapshotFile } from '../src/snapshot/snapshot-file.js';
import { ParamType, PolicyType, TransportUse } from '../src/wire/constants.js';
import { encodePoolElement, transportParameter } from '../src/wire/parameters.js';
import { policySettings } from '../src/wire/policy-settings.js';
import { freeUdpPort } from './free-ports.js';
import { compiledCli, shebangNodeFlags } from './e2e-registrar-process.js';

export interface SnapshotBenchOptions {
  pes?: number;
  pools?: number;
  parts?: number;
  runs?: number;
  /** PEs of the warm start of a real registrar (0: skip it). */
  warmPes?: number;
  json?: boolean;
  progress?: (line: string) => void;
}

export interface SnapshotBenchResult {
  pes: number;
  pools: number;
  parts: number;
  runs: number;
  fileBytes: number;
  bytesPerPe: number;
  /** Medians, ms. */
  /** CPU ms (medians); wallMs: elapsed. */
  save: { encodeSumMs: number; encodeMaxPartMs: number; assembleMs: number; writeMs: number; totalMs: number; wallMs: number };
  load: { readAndCheckMs: number; restoreSumMs: number; restoreMaxPartMs: number; totalMs: number; wallMs: number };
  /** Reading one pool (median over `lookups` random pools) against the full parse. */
  pool: { pesPerPool: number; lookups: number; openMs: number; findAndDecodeUs: number; handlesCompared: number; fullParseMs: number; ratio: number };
  heapUsedMiB: number;
  /** A registrar started with --snapshot of `pes` PEs: until it answers, wall ms. */
  warmStart: WarmStartResult | null;
}

export interface LatencyFigures {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** ms until serving ASAP ("registrar started"), the first answer with PEs, the last PE restored. */
export interface WarmStartTimes {
  serving: number;
  firstAnswer: number;
  lastRestored: number;
}

/** One warm start of a registrar process; times in ms (wall). */
export interface WarmStartRun {
  /** --snapshot-restore-slice (0: the whole restore before serving). */
  sliceMs: number;
  /** Load average (1, 5, 15 min) when it started. */
  load: number[];
  /** From spawning the process: "registrar started" (ASAP served), first answer with PEs, last PE restored. */
  fromProcess: WarmStartTimes;
  /** The same from Registrar.start() (when it began reading the file). */
  fromStart: WarmStartTimes;
  /** Of the time until serving: the file read and checked (CRC32c), as logged. */
  readMs: number;
  /** And the shards' opening of their parts (the walk within the file's budget), as logged; NaN: restored before serving. */
  openMs: number;
  /** The restore as logged (from its start in the shards to the last PE). */
  restoreMs: number;
  restoredPes: number;
  poolsOnDemand: number;
  probes: number;
  answeredWithPes: number;
  /** Answers without PEs (none expected: every pool probed is in the snapshot). */
  answeredWithoutPes: number;
  /** When the probes that got no answer were sent, ms after "registrar started". */
  unansweredSentAt: number[];
  /** When the pools probed first answered with PEs, from the process start. */
  poolFirstAnswer: { pools: number; first: number; median: number; last: number };
  /**
   * Resolution latency (request to answer) of the requests sent in the first 2 s of serving,
   * while the restore went on (after "registrar started", before the last PE), and in the last
   * 2 s (the restore over, at least 2 s of serving).
   */
  firstSeconds: LatencyFigures | null;
  duringRestore: LatencyFigures | null;
  steady: LatencyFigures | null;
  /** The snapshot written at SIGTERM (2 shards encode in parallel). */
  shutdownSave: { bytes: number; ms: number } | null;
}

/** Medians over the runs of one --snapshot-restore-slice. */
export interface WarmStartSummary {
  sliceMs: number;
  fromProcess: WarmStartTimes;
  fromStart: WarmStartTimes;
  restoreMs: number;
  poolFirstAnswerMedian: number;
  firstSecondsP50: number;
  firstSecondsP99: number;
  duringRestoreP99: number;
  steadyP99: number;
  shutdownSaveMs: number;
}

export interface WarmStartResult {
  pes: number;
  pools: number;
  shards: number;
  runs: number;
  /** --snapshot-restore-slice 0: restored before serving. */
  before: WarmStartSummary;
  /** The default: served at once, restored in the background. */
  after: WarmStartSummary;
  all: WarmStartRun[];
}

const OWN = 0x5a5a0001;
const PEER = 0x5a5a0002;

/** Time stands still: no keep-alive or lifetime timer fires while the benchmark runs. */
const frozen: Scheduler = { now: () => 0, schedule: () => null, cancel: () => undefined };

/**
 * Timings are CPU time of this process (user + system), ms: on a shared machine wall time
 * measures the neighbours. The wall time of each whole save and load is reported as well.
 */
interface Mark {
  wall: bigint;
  cpu: NodeJS.CpuUsage;
}
const mark = (): Mark => ({ wall: process.hrtime.bigint(), cpu: process.cpuUsage() });
const ms = (from: Mark): number => {
  const d = process.cpuUsage(from.cpu);
  return (d.user + d.system) / 1000;
};
const wallMs = (from: Mark): number => Number(process.hrtime.bigint() - from.wall) / 1e6;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Shard {
  partition: Partition;
  transports: AsapTransportTable;
}

function newShards(parts: number): Shard[] {
  return Array.from({ length: parts }, () => ({
    partition: new Partition({ ownRegistrarId: OWN, scheduler: frozen, random: seededRandom(7), limits: { maxPoolElementsPerPool: Number.POSITIVE_INFINITY } }),
    transports: new AsapTransportTable(),
  }));
}

/** `pes` PEs over `pools` LeastUsed pools, each PE with its own address, port, load and ASAP transport. */
function build(pes: number, pools: number, parts: number, asapTransport?: Uint8Array): Shard[] {
  const shards = newShards(parts);
  const handles = Array.from({ length: pools }, (_, i) => new TextEncoder().encode(`pool-${i}`));
  const address = new Uint8Array([10, 0, 0, 0]);
  for (let i = 0; i < pes; i++) {
    const handle = handles[i % pools]!;
    const shard = shards[shardOf(handle, parts)]!;
    const peId = i + 1;
    const home = i % 2 === 0 ? OWN : PEER;
    address[1] = (i >>> 16) & 0xff;
    address[2] = (i >>> 8) & 0xff;
    address[3] = i & 0xff;
    const user = transportParameter(ParamType.SctpTransport, 1024 + (i % 60_000), [address.slice()], TransportUse.DataOnly);
    const policy = policySettings(PolicyType.LeastUsed, { load: (i * 2654435761) >>> 0 });
    const result = shard.partition.register({
      poolHandle: handle,
      peId,
      homeRegistrarId: home,
      registrationLife: 30_000,
      policy,
      userTransport: { protocol: ParamType.SctpTransport, port: user.port, use: TransportUse.DataOnly, addressCount: 1 },
      associationId: home === OWN ? 1 + (i % 1000) : 0,
      encoded: encodePoolElement({ peId, homeRegistrarId: home, registrationLife: 30_000, userTransport: user, policy, asapTransport: null }),
    });
    if (!result.ok) throw new Error(`registration ${i}: ${result.reason}`);
    shard.transports.set(result.element, asapTransportTlv({ ...user, port: 9000, addresses: asapTransport === undefined ? user.addresses : [asapTransport] }));
  }
  return shards;
}

export async function measure(options: SnapshotBenchOptions = {}): Promise<SnapshotBenchResult> {
  const pes = options.pes ?? 1_000_000;
  const pools = Math.min(options.pools ?? 1000, pes);
  const parts = options.parts ?? 4;
  const runs = options.runs ?? 3;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = await mkdtemp(join(tmpdir(), 'rserpool-snapshot-bench-'));
  const file = join(dir, 'handlespace.rshs');
  try {
    progress(`building ${pes} PEs in ${pools} pools over ${parts} partitions...`);
    let shards: Shard[] | null = build(pes, pools, parts);

    const save = { wall: [] as number[], encodeSum: [] as number[], encodeMax: [] as number[], assemble: [] as number[], write: [] as number[], total: [] as number[] };
    let fileBytes = 0;
    for (let run = 0; run < runs; run++) {
      const start = mark();
      const encoded: PartInfo[] = [];
      let sum = 0;
      let max = 0;
      for (const s of shards) {
        const t = mark();
        encoded.push(encodePart(s.partition, s.transports, OWN));
        const d = ms(t);
        sum += d;
        max = Math.max(max, d);
      }
      const t1 = mark();
      const bytes = assembleSnapshot(OWN, Date.now(), encoded);
      const assemble = ms(t1);
      const t2 = mark();
      await writeSnapshotFile(file, bytes);
      const write = ms(t2);
      const total = ms(start);
      save.wall.push(wallMs(start));
      fileBytes = bytes.length;
      save.encodeSum.push(sum);
      save.encodeMax.push(max);
      save.assemble.push(assemble);
      save.write.push(write);
      save.total.push(total);
      progress(`save run ${run + 1}/${runs}: encode ${sum.toFixed(0)} ms (largest part ${max.toFixed(0)} ms), assemble ${assemble.toFixed(0)} ms, write+fsync ${write.toFixed(0)} ms; ${fileBytes} bytes`);
    }
    shards = null; // the originals go before the loads build theirs

    const load = { wall: [] as number[], read: [] as number[], restoreSum: [] as number[], restoreMax: [] as number[], total: [] as number[] };
    let heapUsed = 0;
    for (let run = 0; run < runs; run++) {
      (globalThis as { gc?: () => void }).gc?.();
      const fresh = newShards(parts);
      const start = mark();
      const reader = new SnapshotReader(await readFile(file));
      const read = ms(start);
      let sum = 0;
      let max = 0;
      let restored = 0;
      for (let i = 0; i < parts; i++) {
        const t = mark();
        const counts = restoreSnapshot(reader.bytes, fresh[i]!.partition, fresh[i]!.transports, asapTransportTlv, OWN, (h) => shardOf(h, parts) === i);
        const d = ms(t);
        if (counts.error !== null) throw new Error(counts.error);
        restored += counts.restored;
        sum += d;
        max = Math.max(max, d);
      }
      const total = ms(start);
      load.wall.push(wallMs(start));
      if (restored !== pes) throw new Error(`restored ${restored} of ${pes} PEs`);
      load.read.push(read);
      load.restoreSum.push(sum);
      load.restoreMax.push(max);
      load.total.push(total);
      heapUsed = Math.max(heapUsed, process.memoryUsage().heapUsed);
      progress(`load run ${run + 1}/${runs}: read+check ${read.toFixed(0)} ms, restore ${sum.toFixed(0)} ms (largest part ${max.toFixed(0)} ms), ${restored} PEs`);
    }

    // One pool against everything.
    const bytes = await readFile(file);
    const opens: number[] = [];
    const lookups: number[] = [];
    const compared: number[] = [];
    const random = seededRandom(3);
    const LOOKUPS = 101;
    let pesPerPool = 0;
    const holder = new FbPoolElement();
    for (let k = 0; k < LOOKUPS; k++) {
      const handle = new TextEncoder().encode(`pool-${Math.floor(random() * pools)}`);
      const t0 = mark();
      const reader = new SnapshotReader(bytes, { verify: false });
      const open = wallMs(t0);
      const stats = { handlesCompared: 0 };
      const t1 = mark();
      const pool = reader.findPool(handle, stats)!;
      const n = pool.elementsLength();
      let decoded = 0;
      for (let i = 0; i < n; i++) if (readSnapshotElement(pool, pool.elements(i, holder)!) !== null) decoded++;
      // Wall time: a lookup is shorter than the CPU clock's resolution; the median of 101
      // skips the ones a neighbour preempted.
      lookups.push(wallMs(t1) * 1000);
      opens.push(open);
      compared.push(stats.handlesCompared);
      pesPerPool = decoded;
    }
    const full: number[] = [];
    for (let run = 0; run < runs; run++) {
      const t = mark();
      const reader = new SnapshotReader(bytes, { verify: false });
      let decoded = 0;
      for (const pool of reader.pools()) {
        const n = pool.elementsLength();
        for (let i = 0; i < n; i++) if (readSnapshotElement(pool, pool.elements(i, holder)!) !== null) decoded++;
      }
      full.push(ms(t));
      if (decoded !== pes) throw new Error(`full parse decoded ${decoded} of ${pes}`);
    }
    const findAndDecodeUs = median(lookups);
    const fullParseMs = median(full);
    progress(`one pool (${pesPerPool} PEs): ${findAndDecodeUs.toFixed(1)} µs, ${median(compared)} handles compared; full parse ${fullParseMs.toFixed(0)} ms`);
    return {
      pes,
      pools,
      parts,
      runs,
      fileBytes,
      bytesPerPe: Math.round((fileBytes / pes) * 10) / 10,
      save: { encodeSumMs: median(save.encodeSum), encodeMaxPartMs: median(save.encodeMax), assembleMs: median(save.assemble), writeMs: median(save.write), totalMs: median(save.total), wallMs: median(save.wall) },
      load: { readAndCheckMs: median(load.read), restoreSumMs: median(load.restoreSum), restoreMaxPartMs: median(load.restoreMax), totalMs: median(load.total), wallMs: median(load.wall) },
      pool: { pesPerPool, lookups: LOOKUPS, openMs: median(opens), findAndDecodeUs, handlesCompared: median(compared), fullParseMs, ratio: Math.round((fullParseMs * 1000) / findAndDecodeUs) },
      heapUsedMiB: Math.round(heapUsed / 1048576),
      warmStart: (options.warmPes ?? 100_000) > 0 ? await warmStart(options.warmPes ?? 100_000, Math.min(pools, options.warmPes ?? 100_000), 2, runs, dir, progress) : null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const percentile = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/** Resolution latencies of one window: count, median, p99, max (ms). */
function latencies(xs: number[]): LatencyFigures | null {
  return xs.length === 0 ? null : { n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs) };
}

/**
 * One warm start of `rserpool registrar --snapshot` (a child process, SCTP over UDP on
 * loopback) with this --snapshot-restore-slice. A pool user starts when the registrar logs
 * "registrar started" and resolves a random pool every 10 ms (each request on its own, not
 * waiting for the last) until 1 s after the last PE is restored.
 */
async function warmStartRun(file: string, pools: number, shards: number, sliceMs: number, progress: (line: string) => void): Promise<WarmStartRun> {
  const [udpPort, peUdpPort] = [await freeUdpPort(), await freeUdpPort()];
  const cli = compiledCli();
  const args = [
    ...shebangNodeFlags(cli), cli, 'registrar',
    '--transport', 'udp', '--address', '127.0.0.1', '--asap-port', '3863', '--udp-port', String(udpPort), '--shards', String(shards),
    '--announce', 'off', '--control-port', '0', '--tcp-port', '0', '--tls-port', '0', '--resolution-rate', '0',
    '--pe-udp-port', String(peUdpPort), '--snapshot', file, '--snapshot-interval', '0', '--snapshot-restore-slice', String(sliceMs), '--log-level', 'info',
  ];
  const load = loadavg().map((x) => Math.round(x * 100) / 100);
  const spawned = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const seen = new Map<string, { at: number; record: Record<string, unknown> }>();
  const events = new EventEmitter();
  createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      progress(`registrar: ${line}`);
      return;
    }
    const msg = String(record['msg']);
    const key = msg.startsWith('handlespace restored from the snapshot') ? 'restored' : msg.startsWith('serving from the handlespace snapshot') ? 'serving' : msg;
    if (!seen.has(key)) seen.set(key, { at: performance.now(), record });
    events.emit(key);
    if (Number(record['level']) >= 50) progress(`registrar: ${line}`);
  });
  const once = (key: string, timeoutMs: number): Promise<void> =>
    seen.has(key)
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`registrar: no "${key}" within ${timeoutMs} ms`)), timeoutMs);
          events.once(key, () => {
            clearTimeout(timer);
            resolve();
          });
          void exited.then(() => reject(new Error(`registrar exited before "${key}"`)));
        });
  let asap: AsapEndpoint | null = null;
  try {
    await once('registrar started', 120_000);
    asap = await AsapEndpoint.open({ announces: false, registrars: [{ address: '127.0.0.1', port: 3863, udpPort }], sctp: { mode: 'udp', address: '127.0.0.1', udpPort: 0 }, localAddresses: ['127.0.0.1'] });
    const pu = new PoolUser(asap);
    const random = seededRandom(11);
    const probes: { pool: number; sent: number; answered: number; pes: number }[] = [];
    const inFlight = new Set<Promise<void>>();
    let restoredAt = seen.get('restored')?.at ?? Infinity;
    events.once('restored', () => (restoredAt = seen.get('restored')!.at));
    const servingAt = seen.get('registrar started')!.at;
    const deadline = performance.now() + 120_000;
    // Until 2 s after the restore, and at least 4 s of serving (a fresh process is slow at first).
    const end = (): number => Math.min(deadline, Math.max(restoredAt, servingAt + 2000) + 2000);
    while (performance.now() < end()) {
      const pool = Math.floor(random() * pools);
      const probe = { pool, sent: performance.now(), answered: NaN, pes: 0 };
      probes.push(probe);
      const p = pu.resolveResponse(`pool-${pool}`, 3).then(
        (r) => {
          probe.answered = performance.now();
          probe.pes = r.poolElements.length;
        },
        () => undefined,
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, 5000))]);
    await asap.close().catch(() => undefined);
    asap = null;
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 120_000))]);

    // Registrar.start() began when it read the file: its log line's time minus the read.
    const read = seen.get('handlespace snapshot read');
    const startEpoch = read === undefined ? NaN : Number(read.record['time']) - Number(read.record['readMs']);
    const startedAt = startEpoch - performance.timeOrigin; // on this process's performance.now() clock
    const answered = probes.filter((p) => p.pes > 0);
    const firstAnswer = answered.length === 0 ? NaN : Math.min(...answered.map((p) => p.answered));
    const firstByPool = new Map<number, number>();
    for (const p of answered) if (!firstByPool.has(p.pool) || p.answered < firstByPool.get(p.pool)!) firstByPool.set(p.pool, p.answered);
    const poolTimes = [...firstByPool.values()].map((t) => t - spawned);
    const latency = (from: number, to: number): LatencyFigures | null => latencies(answered.filter((p) => p.sent >= from && p.sent < to).map((p) => p.answered - p.sent));
    const saved = seen.get('handlespace snapshot written at shutdown')?.record;
    const restored = seen.get('restored');
    const result: WarmStartRun = {
      sliceMs,
      load,
      fromProcess: { serving: servingAt - spawned, firstAnswer: firstAnswer - spawned, lastRestored: restoredAt - spawned },
      fromStart: { serving: servingAt - startedAt, firstAnswer: firstAnswer - startedAt, lastRestored: restoredAt - startedAt },
      readMs: Number(read?.record['readMs'] ?? NaN),
      openMs: Number(seen.get('serving')?.record['ms'] ?? NaN),
      restoreMs: Number(restored?.record['ms'] ?? NaN),
      restoredPes: Number(restored?.record['poolElements'] ?? NaN),
      poolsOnDemand: Number(restored?.record['poolsOnDemand'] ?? NaN),
      probes: probes.length,
      answeredWithPes: answered.length,
      answeredWithoutPes: probes.filter((p) => Number.isFinite(p.answered) && p.pes === 0).length,
      unansweredSentAt: probes.filter((p) => !Number.isFinite(p.answered)).map((p) => Math.round(p.sent - servingAt)),
      poolFirstAnswer: { pools: poolTimes.length, first: percentile(poolTimes, 0), median: percentile(poolTimes, 50), last: percentile(poolTimes, 100) },
      firstSeconds: latency(servingAt, servingAt + 2000),
      duringRestore: latency(servingAt, restoredAt),
      steady: latency(end() - 2000, Infinity),
      shutdownSave: saved === undefined ? null : { bytes: Number(saved['bytes']), ms: Number(saved['ms']) },
    };
    progress(
      `warm start, --snapshot-restore-slice ${sliceMs}: serving ${result.fromProcess.serving.toFixed(0)} ms after the process start, first answer with PEs ${result.fromProcess.firstAnswer.toFixed(0)} ms, last PE restored ${result.fromProcess.lastRestored.toFixed(0)} ms; ` +
        `resolution p99: first 2 s ${result.firstSeconds?.p99.toFixed(1) ?? '-'} ms, during the restore ${result.duringRestore?.p99.toFixed(1) ?? '-'} ms (${result.duringRestore?.n ?? 0} requests), steady ${result.steady?.p99.toFixed(1) ?? '-'} ms; load ${load.join(' ')}`,
    );
    return result;
  } finally {
    await asap?.close().catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/**
 * A real registrar (`rserpool registrar`, 2 shard workers, SCTP over UDP on loopback) started
 * with --snapshot of `pes` PEs, with the restore before serving (--snapshot-restore-slice 0,
 * as before) and in the background (the default), runs alternating: how long until it serves,
 * answers, and has every PE back, and how fast it answers meanwhile. Own PEs' ASAP transports
 * name 127.0.0.1 on a UDP port nobody listens on: their keep-alives go unanswered (they are
 * dropped after the keep-alive timeout), as for a registrar whose PEs died with it. Each run
 * starts from a fresh copy of the file (the registrar writes it again at SIGTERM).
 */
async function warmStart(pes: number, pools: number, shards: number, runs: number, dir: string, progress: (line: string) => void): Promise<WarmStartResult> {
  progress(`warm start: a snapshot of ${pes} PEs for a registrar with ${shards} shards...`);
  const master = join(dir, 'warm-master.rshs');
  {
    const built = build(pes, pools, shards, new Uint8Array([127, 0, 0, 1]));
    await writeSnapshotFile(master, assembleSnapshot(OWN, Date.now(), built.map((s) => encodePart(s.partition, s.transports, OWN))));
  }
  (globalThis as { gc?: () => void }).gc?.();
  const slices = [0, defaultRegistrarConfig().snapshotRestoreSlice];
  const all: WarmStartRun[] = [];
  for (let run = 0; run < runs; run++) {
    // Alternating, the order swapped every run.
    for (const sliceMs of run % 2 === 0 ? slices : [...slices].reverse()) {
      const file = join(dir, `warm-${run}-${sliceMs}.rshs`);
      await copyFile(master, file);
      all.push(await warmStartRun(file, pools, shards, sliceMs, progress));
      await rm(file, { force: true });
    }
  }
  const med = (xs: WarmStartRun[], f: (r: WarmStartRun) => number | undefined): number => median(xs.map((r) => f(r) ?? NaN));
  const summary = (sliceMs: number): WarmStartSummary => {
    const rs = all.filter((r) => r.sliceMs === sliceMs);
    return {
      sliceMs,
      fromProcess: { serving: med(rs, (r) => r.fromProcess.serving), firstAnswer: med(rs, (r) => r.fromProcess.firstAnswer), lastRestored: med(rs, (r) => r.fromProcess.lastRestored) },
      fromStart: { serving: med(rs, (r) => r.fromStart.serving), firstAnswer: med(rs, (r) => r.fromStart.firstAnswer), lastRestored: med(rs, (r) => r.fromStart.lastRestored) },
      restoreMs: med(rs, (r) => r.restoreMs),
      poolFirstAnswerMedian: med(rs, (r) => r.poolFirstAnswer.median),
      firstSecondsP50: med(rs, (r) => r.firstSeconds?.p50),
      firstSecondsP99: med(rs, (r) => r.firstSeconds?.p99),
      duringRestoreP99: med(rs, (r) => r.duringRestore?.p99),
      steadyP99: med(rs, (r) => r.steady?.p99),
      shutdownSaveMs: med(rs, (r) => r.shutdownSave?.ms),
    };
  };
  return { pes, pools, shards, runs, before: summary(slices[0]!), after: summary(slices[1]!), all };
}

export function format(r: SnapshotBenchResult): string {
  const f = (x: number): string => x.toFixed(0);
  return [
    `Handlespace snapshot: ${r.pes} PEs in ${r.pools} pools, ${r.parts} parts (shards), medians of ${r.runs} runs`,
    `  file            ${r.fileBytes} bytes (${(r.fileBytes / 1048576).toFixed(1)} MiB), ${r.bytesPerPe} bytes per PE`,
    `  (CPU time of the process; wall time of save ${f(r.save.wallMs)} ms, of load ${f(r.load.wallMs)} ms)`,
    `  save            ${f(r.save.totalMs)} ms: encode ${f(r.save.encodeSumMs)} ms (largest part ${f(r.save.encodeMaxPartMs)} ms: the time with one shard per part in parallel), assemble ${f(r.save.assembleMs)} ms, write+fsync ${f(r.save.writeMs)} ms`,
    `  load            ${f(r.load.totalMs)} ms: read+check (CRC32c) ${f(r.load.readAndCheckMs)} ms, restore ${f(r.load.restoreSumMs)} ms (largest part ${f(r.load.restoreMaxPartMs)} ms)`,
    `  one pool        ${r.pool.findAndDecodeUs.toFixed(1)} µs to find and decode its ${r.pool.pesPerPool} PEs (${r.pool.handlesCompared} pool handles read; opening the file ${r.pool.openMs.toFixed(3)} ms)`,
    `  full parse      ${f(r.pool.fullParseMs)} ms (every pool, every PE): ${r.pool.ratio}x one pool`,
    `  heap            ${r.heapUsedMiB} MiB used at most during the loads`,
    ...(r.warmStart === null ? [] : formatWarmStart(r.warmStart)),
  ].join('\n');
}

function formatWarmStart(w: WarmStartResult): string[] {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
  const g = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const row = (label: string, s: WarmStartSummary): string =>
    `  ${label.padEnd(22)} ${f(s.fromProcess.serving).padStart(6)} ${f(s.fromProcess.firstAnswer).padStart(6)} ${f(s.fromProcess.lastRestored).padStart(6)}   ${f(s.fromStart.serving).padStart(6)} ${f(s.fromStart.firstAnswer).padStart(6)} ${f(s.fromStart.lastRestored).padStart(6)}   ${g(s.firstSecondsP99).padStart(7)} ${g(s.duringRestoreP99).padStart(7)} ${g(s.steadyP99).padStart(7)}`;
  return [
    `Warm start of \`rserpool registrar --snapshot\` (${w.shards} shards), ${w.pes} PEs in ${w.pools} pools, medians of ${w.runs} runs each, alternating (wall ms)`,
    `                         from the process start   from Registrar.start()   resolution p99`,
    `                         serves  first   last     serves  first   last     first 2s restoring steady`,
    row('restore, then serve', w.before),
    row('serve, restore behind', w.after),
    `  (first: first handle resolution answered with PEs; last: last PE restored; p99 of the requests sent in the first 2 s of serving, while restoring, in the last 2 s)`,
    `  load averages: ${w.all.map((r) => r.load[0]).join(', ')}; shutdown save ${f(w.after.shutdownSaveMs)} ms`,
  ];
}

export async function run(options: SnapshotBenchOptions = {}): Promise<SnapshotBenchResult> {
  const result = await measure(options);
  process.stdout.write(options.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${format(result)}\n`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const value = (name: string): number | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  await run({ pes: value('--pes'), pools: value('--pools'), parts: value('--parts'), runs: value('--runs'), warmPes: value('--warm-pes'), json: args.includes('--json') });
}
