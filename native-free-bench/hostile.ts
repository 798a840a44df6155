// Hostile-flood benchmark (issue 11, RFC 5355 §6): a registrar child process (the e2e bench's,
// with the registrar's default limits) serves 100 legitimate PEs and a pool user resolving at a
// steady rate, while attackers send mutated ASAP messages (hostile-messages.ts) over a few
// associations and made-up ENRP servers send handle updates and presences to its ENRP port.
// Reported: the pool user's rate and latency before, during and after each flood; the
// registrar's RSS and per-thread heaps (after a full GC) before and after each flood, so that
// a second flood shows whether memory ratchets; ENRP messages out per message in; the
// registrar's drop/reject counters; and whether the legitimate PEs are exactly as before.
// Run: rserpool bench hostile [--asap N] [--enrp N] [--floods N] [--settle S] [--json]
//      (compiled: node dist/native-free-bench/hostile.js takes the same flags).
import { pathToFileURL } from 'node:url';
import { defaultRegistrarConfig } from '../src/registrar/config.js';
import { openSctpEndpoint, type Association } from '../src/transport/index.js';
import { AsapType, PPID_ENRP, PolicyType, decodeAsap, encodeMessage, type Message } from '../src/wire/index.js';
import { BenchClient, connectClients, poolHandle, registerAll, registrationMessages } from './e2e-load.js';
import { freeTcpPort, freeUdpPort } from './free-ports.js';
import { PoolUserThread, type PuPhase } from './hostile-pool-user.js';
import { RegistrarProcess } from './e2e-registrar-process.js';
import type { RegistrarMemory } from './e2e-memory-probe.js';
import { HostileGenerator, type Victims } from './hostile-messages.js';
import { memoryMap, type MemoryMap } from './smaps.js';

export interface HostileBenchOptions {
  /** Hostile ASAP messages per flood (default 1,000,000). */
  asap?: number;
  /** Hostile ENRP messages per flood (default 100,000). */
  enrp?: number;
  /** Floods one after another (default 2: does memory ratchet?). */
  floods?: number;
  /** Seconds after each flood before memory is measured (default 10). */
  settle?: number;
  /** Seconds of the pool user measured before the first flood (default 5). */
  before?: number;
  /** Registrar shard workers (default 2). */
  shards?: number;
  /** Legitimate PEs (default 100) and their pools (default 10). */
  pes?: number;
  pools?: number;
  /** The pool user's resolutions per second (default 1000). */
  puRate?: number;
  /** Attacking ASAP associations (default 4). */
  attackers?: number;
  /** Keep the attackers' associations up after the flood (their PEs stay). Default: closed. */
  keepAttackers?: boolean;
  /** Registrar without the per-association limits (rates 0, PEs per association 10^7). */
  noLimits?: boolean;
  seed?: number;
  /** Write heap snapshots of every registrar thread here after the last flood. */
  heapSnapshot?: string;
  json?: boolean;
}

export interface MemoryPoint {
  label: string;
  rssMiB: number;
  /** Live heap after a full GC: the I/O thread, then each shard worker. */
  heapUsedMiB: number[];
  heapTotalMiB: number[];
  /** Per thread as heapUsedMiB: memory of C++ objects bound to JS (ArrayBuffers included), and V8's own malloc. */
  externalMiB: number[];
  mallocedMiB: number[];
  arrayBuffersMiB: number;
  /** The I/O thread's V8 new space (young generation semi-spaces), part of its heapTotal. */
  newSpaceMiB: number;
  /** The registrar's RSS by kind of mapping (smaps.ts). */
  map: MemoryMap | null;
  /** PEs and pools in the handlespace, all shards. */
  poolElements: number;
  pools: number;
}

export interface FloodOutcome {
  flood: number;
  asapSent: number;
  enrpSent: number;
  seconds: number;
  /** Peak RSS sampled during the flood. */
  peakRssMiB: number;
  /** ENRP messages the made-up servers received back, per ENRP message they sent. */
  enrpBackPerIn: number;
  /** The registrar's ENRP counters over the flood: messages it counted in, and what it counted as sent. */
  enrpCountedIn: number;
  enrpCountedOut: number;
  /** ASAP answers the attackers received per hostile ASAP message. */
  asapBackPerIn: number;
  /** PEs in the handlespace at the end of the flood (attackers still up). */
  poolElementsAtEnd: number;
  poolsAtEnd: number;
}

export interface HostileBenchResult {
  settings: Required<Omit<HostileBenchOptions, 'heapSnapshot' | 'json'>>;
  pu: PuPhase[];
  memory: MemoryPoint[];
  floods: FloodOutcome[];
  legitimateUnchanged: boolean;
  legitimateDiff: { before: string[]; after: string[] } | null;
  /** The registrar's counters at the end (GET /stats), for what was dropped and rejected. */
  stats: unknown;
}

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function settingsOf(o: HostileBenchOptions): HostileBenchResult['settings'] {
  return {
    asap: o.asap ?? 1_000_000,
    enrp: o.enrp ?? 100_000,
    floods: o.floods ?? 2,
    settle: o.settle ?? 10,
    before: o.before ?? 5,
    shards: o.shards ?? 2,
    pes: o.pes ?? 100,
    pools: o.pools ?? 10,
    puRate: o.puRate ?? 1000,
    attackers: o.attackers ?? 4,
    keepAttackers: o.keepAttackers ?? false,
    noLimits: o.noLimits ?? false,
    seed: o.seed ?? 11,
  };
}

async function registrarStats(controlPort: number): Promise<RegistrarStatsView> {
  const response = await fetch(`http://127.0.0.1:${controlPort}/stats`);
  return (await response.json()) as RegistrarStatsView;
}

interface RegistrarStatsView {
  enrp: Record<string, number>;
  shards: Array<{ pools: number; poolElements: number; counters: Record<string, number> }>;
  [key: string]: unknown;
}

/** ENRP messages the registrar counted as sent: its `sent` total if it has one, else every `...Sent` counter. */
function enrpOut(s: RegistrarStatsView): number {
  if (typeof s.enrp['sent'] === 'number') return s.enrp['sent'];
  return Object.entries(s.enrp).reduce((n, [k, v]) => (k.endsWith('Sent') ? n + v : n), 0);
}

/** Every legitimate pool resolved with 128 items: "pool/PE ID:port" lines, sorted. */
async function legitimateView(client: BenchClient, pools: number): Promise<string[]> {
  const out: string[] = [];
  for (let p = 0; p < pools; p++) {
    const handle = poolHandle(p);
    const answer = new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer for pool ${p}`)), 5000);
      client.onResponse = (m) => {
        const r = decodeAsap(m);
        if (r.ok && r.message.protocol === 'asap' && r.message.type === AsapType.HandleResolutionResponse && Buffer.from(r.message.poolHandle).equals(handle)) {
          clearTimeout(timer);
          resolve(r.message);
        }
      };
    });
    client.send(encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: handle, items: 128 } as Message));
    const m = await answer;
    if (m.protocol !== 'asap' || m.type !== AsapType.HandleResolutionResponse) continue;
    for (const e of m.poolElements) out.push(`${p}/${e.peId}:${e.userTransport.port}`);
  }
  return out.sort();
}

// ------------------------------------------------------------------ the flood

/** Sends `count` messages from `next()` over `a`, as fast as it takes them (waits for 'drain' when full). */
async function pump(a: Association, count: number, next: () => Uint8Array, ppid: number, sent: { n: number }): Promise<void> {
  let wake: (() => void) | null = null;
  const onDrain = (): void => wake?.();
  a.on('drain', onDrain);
  a.on('down', onDrain);
  try {
    while (sent.n < count && a.state !== 'down') {
      let accepted = true;
      for (let k = 0; k < 64 && accepted && sent.n < count; k++) {
        try {
          accepted = a.send(next(), ppid);
          sent.n++;
        } catch {
          accepted = false; // the hard send-queue limit: wait for room
        }
      }
      if (accepted) await new Promise((resolve) => setImmediate(resolve));
      else await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(1000)]);
    }
  } finally {
    a.off('drain', onDrain);
    a.off('down', onDrain);
  }
}

async function drained(a: Association, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (a.state !== 'down' && a.bufferedAmount > 0 && performance.now() < until) await sleep(20);
}

interface FloodContext {
  registrar: RegistrarProcess;
  target: { address: string; port: number; udpPort: number };
  controlPort: number;
  generator: HostileGenerator;
  pu: PoolUserThread;
  flood: number;
  portBase: number;
}

async function runFlood(c: FloodContext, s: HostileBenchResult['settings']): Promise<{ outcome: FloodOutcome; close: () => Promise<void> }> {
  const attackers = await connectClients(c.target, s.attackers, c.portBase);
  let asapBack = 0;
  for (const a of attackers) a.onResponse = () => void asapBack++;
  const enrpEndpoint = await openSctpEndpoint({ mode: 'udp', port: c.portBase + 50, udpPort: 0, address: '127.0.0.1' });
  const enrpAssociation = await enrpEndpoint.connect({ address: c.target.address, port: defaultRegistrarConfig().enrpPort, udpPort: c.target.udpPort });
  let enrpBack = 0;
  enrpAssociation.on('message', () => void enrpBack++);
  const statsBefore = await registrarStats(c.controlPort);

  const asapSent = attackers.map(() => ({ n: 0 }));
  const enrpSent = { n: 0 };
  const perAttacker = Math.ceil(s.asap / s.attackers);
  let peakRss = c.registrar.rssBytes();
  const started = performance.now();
  const progress = setInterval(() => {
    const rss = c.registrar.rssBytes();
    peakRss = Math.max(peakRss, rss);
    const asap = asapSent.reduce((n, x) => n + x.n, 0);
    void c.pu.liveRate().then((live) =>
      process.stderr.write(`[flood ${c.flood}] ASAP ${fmt(asap)}/${fmt(s.asap)}  ENRP ${fmt(enrpSent.n)}/${fmt(s.enrp)}  PU ${fmt(live)}/s  RSS ${fmt(rss / MiB)} MiB\n`),
    );
  }, 2000);
  try {
    await Promise.all([
      ...attackers.map((a, i) => pump(a.association, Math.min(perAttacker, s.asap - i * perAttacker), () => c.generator.asap(), 11, asapSent[i]!)),
      pump(enrpAssociation, s.enrp, () => c.generator.enrp(), PPID_ENRP, enrpSent),
    ]);
    await Promise.all([...attackers.map((a) => drained(a.association, 30_000)), drained(enrpAssociation, 30_000)]);
    // What is in flight on the wire and in the shards' queues.
    await sleep(1000);
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - started) / 1000;
  peakRss = Math.max(peakRss, c.registrar.rssBytes());
  const statsAfter = await registrarStats(c.controlPort);
  const asapTotal = asapSent.reduce((n, x) => n + x.n, 0);
  const outcome: FloodOutcome = {
    flood: c.flood,
    asapSent: asapTotal,
    enrpSent: enrpSent.n,
    seconds,
    peakRssMiB: peakRss / MiB,
    enrpBackPerIn: enrpSent.n === 0 ? 0 : enrpBack / enrpSent.n,
    enrpCountedIn: statsAfter.enrp['received']! - statsBefore.enrp['received']!,
    enrpCountedOut: enrpOut(statsAfter) - enrpOut(statsBefore),
    asapBackPerIn: asapTotal === 0 ? 0 : asapBack / asapTotal,
    poolElementsAtEnd: statsAfter.shards.reduce((n, x) => n + x.poolElements, 0),
    poolsAtEnd: statsAfter.shards.reduce((n, x) => n + x.pools, 0),
  };
  const close = async (): Promise<void> => {
    for (const a of attackers) await a.close();
    await enrpEndpoint.close();
  };
  return { outcome, close };
}

async function memoryPoint(label: string, registrar: RegistrarProcess, shards: number, controlPort: number, snapshotDir?: string): Promise<MemoryPoint> {
  // A registrar still busy with the flood's aftermath (ENRP takeovers) may not answer the probe
  // within its 10 s: asked again, up to a minute.
  let m: RegistrarMemory | undefined;
  for (let attempt = 1; m === undefined; attempt++) {
    try {
      m = await registrar.memory(shards, snapshotDir);
    } catch (error) {
      if (attempt >= 6) throw error;
      process.stderr.write(`[memory ${label}] ${(error as Error).message}; asking again\n`);
    }
  }
  const s = await registrarStats(controlPort);
  return {
    label,
    rssMiB: m.rss / MiB,
    heapUsedMiB: [m.main.heapUsed, ...m.workers.map((w) => w.heapUsed)].map((x) => x / MiB),
    heapTotalMiB: [m.main.heapTotal, ...m.workers.map((w) => w.heapTotal)].map((x) => x / MiB),
    externalMiB: [m.main.external, ...m.workers.map((w) => w.external)].map((x) => x / MiB),
    mallocedMiB: [m.main.malloced, ...m.workers.map((w) => w.malloced)].map((x) => x / MiB),
    arrayBuffersMiB: m.main.arrayBuffers / MiB,
    newSpaceMiB: m.main.newSpace / MiB,
    map: memoryMap(registrar.pid),
    poolElements: s.shards.reduce((n, x) => n + x.poolElements, 0),
    pools: s.shards.reduce((n, x) => n + x.pools, 0),
  };
}

export async function run(options: HostileBenchOptions = {}): Promise<HostileBenchResult> {
  const s = settingsOf(options);
  const d = defaultRegistrarConfig();
  const controlPort = await freeTcpPort();
  // The e2e launcher lifts the rates for its load generator; here the registrar's defaults hold.
  const limits = s.noLimits
    ? ['--report-rate', '0']
    : ['--registration-rate', String(d.registrationRate), '--resolution-rate', String(d.resolutionRate), '--report-rate', String(d.unreachableReportRate), '--max-pes-per-association', String(d.maxElementsPerAssociation)];
  const registrar = await RegistrarProcess.start({ shards: s.shards, udpPort: await freeUdpPort(), asapPort: 3863, keepAliveInterval: d.keepAliveInterval, controlPort, extraArgs: limits });
  const closers: Array<() => Promise<void>> = [];
  try {
    const target = registrar.address;
    // The legitimate PEs: 10 associations (10 PEs each at the defaults), RoundRobin pools.
    const peClients = await connectClients(target, Math.min(10, s.pes), 42_000);
    closers.push(...peClients.map((c) => () => c.close()));
    const registered = await registerAll(peClients, registrationMessages(s.pes, s.pools, PolicyType.RoundRobin), 4, { done: 0 });
    if (registered.failed > 0) throw new Error(`${registered.failed} legitimate registrations were rejected`);
    const observer = await BenchClient.connect(target, 42_100);
    closers.push(() => observer.close());
    const legitBefore = await legitimateView(observer, s.pools);
    if (legitBefore.length !== s.pes) throw new Error(`expected ${s.pes} legitimate PEs, resolved ${legitBefore.length}`);

    // Memory first: the probe's full GCs pause the registrar, which the PU would count.
    const memory: MemoryPoint[] = [await memoryPoint('before', registrar, s.shards, controlPort)];
    const pu = await PoolUserThread.start({ target, localPort: 42_101, pools: s.pools, rate: s.puRate });
    closers.push(() => pu.stop());
    await sleep(2000);
    await pu.phase('before');
    await sleep(s.before * 1000);

    const victims: Victims = {
      pools: Array.from({ length: s.pools }, (_, p) => poolHandle(p)),
      peIds: Array.from({ length: s.pools }, (_, p) => Array.from({ length: Math.ceil(s.pes / s.pools) }, (_, k) => p + k * s.pools + 1).filter((id) => id <= s.pes)),
    };
    const generator = new HostileGenerator(s.seed, victims);
    const floods: FloodOutcome[] = [];
    for (let f = 1; f <= s.floods; f++) {
      await pu.phase(`during ${f}`);
      const { outcome, close } = await runFlood({ registrar, target, controlPort, generator, pu, flood: f, portBase: 43_000 + f * 100 }, s);
      floods.push(outcome);
      process.stderr.write(`[flood ${f}] done in ${outcome.seconds.toFixed(1)} s; ${fmt(outcome.poolElementsAtEnd)} PEs in ${fmt(outcome.poolsAtEnd)} pools; settling ${s.settle} s\n`);
      if (s.keepAttackers) closers.push(close);
      else await close();
      await pu.phase(`after ${f}`);
      await sleep(s.settle * 1000);
      await pu.phase(null);
      const last = f === s.floods;
      memory.push(await memoryPoint(`after ${f} (+${s.settle} s)`, registrar, s.shards, controlPort, last ? options.heapSnapshot : undefined));
    }
    const legitAfter = await legitimateView(observer, s.pools);
    const unchanged = legitAfter.join('\n') === legitBefore.join('\n');
    const result: HostileBenchResult = {
      settings: s,
      pu: pu.phases,
      memory,
      floods,
      legitimateUnchanged: unchanged,
      legitimateDiff: unchanged ? null : { before: legitBefore.filter((x) => !legitAfter.includes(x)), after: legitAfter.filter((x) => !legitBefore.includes(x)) },
      stats: await registrarStats(controlPort),
    };
    if (options.json) console.log(JSON.stringify(result, null, 2));
    else print(result);
    return result;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await registrar.stop();
  }
}

function print(r: HostileBenchResult): void {
  const s = r.settings;
  console.log(`hostile flood: ${fmt(s.asap)} ASAP + ${fmt(s.enrp)} ENRP messages x ${s.floods}, ${s.attackers} ASAP attackers, ${s.pes} legitimate PEs, PU ${fmt(s.puRate)}/s, ${s.shards} shards, limits ${s.noLimits ? 'off' : 'default'}`);
  console.log('\npool user        rate/s    p50 ms   p99 ms   max ms   empty    lost');
  for (const p of r.pu) console.log(`${p.phase.padEnd(14)} ${fmt(p.rate).padStart(8)} ${p.p50.toFixed(2).padStart(9)} ${p.p99.toFixed(2).padStart(8)} ${p.max.toFixed(1).padStart(8)} ${String(p.empty).padStart(7)} ${String(p.lost).padStart(7)}`);
  console.log('\nflood   seconds   ASAP/s    ASAP back/in   ENRP back/in   ENRP counted out/in   peak RSS MiB   PEs (pools) at end');
  for (const f of r.floods) {
    const counted = f.enrpCountedIn === 0 ? 'n/a' : `${fmt(f.enrpCountedOut)}/${fmt(f.enrpCountedIn)} = ${(f.enrpCountedOut / f.enrpCountedIn).toFixed(2)}`;
    console.log(`${String(f.flood).padEnd(7)} ${f.seconds.toFixed(1).padStart(7)} ${fmt(f.asapSent / f.seconds).padStart(8)} ${f.asapBackPerIn.toFixed(2).padStart(14)} ${f.enrpBackPerIn.toFixed(2).padStart(14)}   ${counted.padEnd(20)} ${fmt(f.peakRssMiB).padStart(13)}   ${fmt(f.poolElementsAtEnd)} (${fmt(f.poolsAtEnd)})`);
  }
  console.log('\nmemory (after full GC)   RSS MiB   per thread (I/O, shards...) MiB: heapUsed / heapTotal / external / malloced   PEs (pools)');
  for (const m of r.memory) {
    const threads = m.heapUsedMiB.map((u, i) => `${u.toFixed(1)}/${m.heapTotalMiB[i]!.toFixed(0)}/${m.externalMiB[i]!.toFixed(1)}/${m.mallocedMiB[i]!.toFixed(1)}`).join('  ');
    console.log(`${m.label.padEnd(24)} ${fmt(m.rssMiB).padStart(7)}   ${threads.padEnd(70)} ${fmt(m.poolElements)} (${fmt(m.pools)})`);
  }
  console.log('\nRSS by mapping, MiB       V8 pages   [heap] (main malloc)   thread arenas   other anon   files   I/O new space');
  for (const m of r.memory) {
    const x = m.map;
    if (x === null) continue;
    console.log(`${m.label.padEnd(24)} ${x.v8PagesMiB.toFixed(1).padStart(9)} ${x.brkHeapMiB.toFixed(1).padStart(22)} ${x.threadArenasMiB.toFixed(1).padStart(15)} ${x.otherAnonMiB.toFixed(1).padStart(12)} ${x.fileMiB.toFixed(1).padStart(7)} ${m.newSpaceMiB.toFixed(1).padStart(15)}`);
  }
  console.log(`\nlegitimate PEs unchanged: ${r.legitimateUnchanged ? 'yes' : `NO (gone: ${r.legitimateDiff!.before.length}, new or moved: ${r.legitimateDiff!.after.length})`}`);
  const st = r.stats as Record<string, unknown>;
  const sum = (k: string): number => (st['shards'] as Array<{ counters: Record<string, number> }>).reduce((n, x) => n + (x.counters[k] ?? 0), 0);
  const shardCounters = [...new Set((st['shards'] as Array<{ counters: Record<string, number> }>).flatMap((x) => Object.keys(x.counters)))];
  console.log(`registrar: rateLimited ${JSON.stringify(st['rateLimited'] ?? null)}, errorsSent ${st['errorsSent']}, answersDropped ${st['answersDropped']}`);
  console.log(`shards: ${shardCounters.filter((k) => sum(k) > 0).map((k) => `${k} ${fmt(sum(k))}`).join(', ')}`);
  console.log(`enrp: ${Object.entries(st['enrp'] as Record<string, number>).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`);
}

function parseArgs(argv: string[]): HostileBenchOptions {
  const o: HostileBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): number => Number(argv[++i]);
    if (a === '--json') o.json = true;
    else if (a === '--asap') o.asap = value();
    else if (a === '--enrp') o.enrp = value();
    else if (a === '--floods') o.floods = value();
    else if (a === '--settle') o.settle = value();
    else if (a === '--before') o.before = value();
    else if (a === '--shards') o.shards = value();
    else if (a === '--pes') o.pes = value();
    else if (a === '--pools') o.pools = value();
    else if (a === '--pu-rate') o.puRate = value();
    else if (a === '--attackers') o.attackers = value();
    else if (a === '--seed') o.seed = value();
    else if (a === '--keep-attackers') o.keepAttackers = true;
    else if (a === '--no-limits') o.noLimits = true;
    else if (a === '--heap-snapshot') o.heapSnapshot = argv[++i]!;
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
