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
//   warm     a real registrar (2 shard workers) started with --snapshot of `--warm-pes` PEs
//            (default 100,000): start time, restore time, first handle resolution answered;
//            then its shutdown save
//
//   npx tsx native-free-bench/snapshot.ts [--pes N --pools N --parts N --runs N --warm-pes N --json]
//   rserpool bench snapshot [same options]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AsapEndpoint, PoolUser } from '../src/client/index.js';
import { Registrar } from '../src/registrar/index.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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

export interface WarmStartResult {
  pes: number;
  shards: number;
  /** Registrar.start() with the snapshot, until it serves ASAP (file read, restore, ports). */
  startMs: number;
  /** The restore in the shards, as the registrar logs it. */
  restoreMs: number;
  /** From the start until a pool user's first handle resolution is answered with PEs. */
  firstAnswerMs: number;
  /** PEs the registrar holds after the start. */
  served: number;
  /** The snapshot written at close, in the registrar (shards encode in parallel). */
  shutdownSave: { bytes: number; ms: number } | null;
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
      warmStart: (options.warmPes ?? 100_000) > 0 ? await warmStart(options.warmPes ?? 100_000, Math.min(pools, options.warmPes ?? 100_000), 2, join(dir, 'warm.rshs'), progress) : null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A real registrar (2 shard workers, SCTP over UDP on loopback) started with a snapshot of
 * `pes` PEs: how long until it serves them. Own PEs' ASAP transports name 127.0.0.1 on a UDP
 * port nobody listens on: their keep-alives go unanswered (they would be dropped after the
 * keep-alive timeout), which changes nothing for the measurement.
 */
async function warmStart(pes: number, pools: number, shards: number, file: string, progress: (line: string) => void): Promise<WarmStartResult> {
  progress(`warm start: a snapshot of ${pes} PEs for a registrar with ${shards} shards...`);
  {
    const built = build(pes, pools, shards, new Uint8Array([127, 0, 0, 1]));
    await writeSnapshotFile(file, assembleSnapshot(OWN, Date.now(), built.map((s) => encodePart(s.partition, s.transports, OWN))));
  }
  (globalThis as { gc?: () => void }).gc?.();
  const records: Array<{ msg: string; ms?: number; bytes?: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') records.push(JSON.parse(line) as { msg: string });
      done();
    },
  });
  const started = performance.now();
  const registrar = await Registrar.start(
    { transport: 'udp', udpPort: 0, address: '127.0.0.1', announce: false, shards, snapshot: file, snapshotInterval: 0, controlPort: 0, tcpPort: 0, peUdpPort: await freeUdpPort() },
    pino({ level: 'info' }, sink),
  );
  const startMs = performance.now() - started;
  let asap: AsapEndpoint | null = null;
  try {
    const a = registrar.asapAddress;
    asap = await AsapEndpoint.open({ announces: false, registrars: [{ address: '127.0.0.1', port: a.port, udpPort: a.udpPort! }], sctp: { mode: 'udp', address: '127.0.0.1', udpPort: 0 }, localAddresses: ['127.0.0.1'] });
    const pu = new PoolUser(asap);
    const response = await pu.resolveResponse('pool-0', 3);
    const firstAnswerMs = performance.now() - started;
    if (response.poolElements.length === 0) throw new Error('the first handle resolution found no PEs');
    const served = (await registrar.stats()).shards.reduce((n, s) => n + s.poolElements, 0);
    const restoreMs = records.find((r) => r.msg.startsWith('handlespace restored'))?.ms ?? NaN;
    await asap.close();
    asap = null;
    await registrar.close();
    const saved = records.find((r) => r.msg === 'handlespace snapshot written at shutdown');
    const result: WarmStartResult = { pes, shards, startMs, restoreMs, firstAnswerMs, served, shutdownSave: saved === undefined ? null : { bytes: saved.bytes ?? 0, ms: saved.ms ?? 0 } };
    progress(`warm start: serving ${served} PEs ${firstAnswerMs.toFixed(0)} ms after the start (restore ${restoreMs} ms)`);
    return result;
  } finally {
    await asap?.close().catch(() => undefined);
    await registrar.close();
  }
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
    ...(r.warmStart === null
      ? []
      : [
          `Warm start of a registrar (${r.warmStart.shards} shards) from a snapshot of ${r.warmStart.pes} PEs (wall time)`,
          `  start           ${f(r.warmStart.startMs)} ms (restore in the shards ${f(r.warmStart.restoreMs)} ms), first handle resolution answered ${f(r.warmStart.firstAnswerMs)} ms after the start; ${r.warmStart.served} PEs served`,
          `  shutdown save   ${r.warmStart.shutdownSave === null ? '-' : `${f(r.warmStart.shutdownSave.ms)} ms, ${r.warmStart.shutdownSave.bytes} bytes`}`,
        ]),
  ].join('\n');
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
