// Handlespace partition benchmark: registration, re-registration, handle resolution (3 items)
// and deregistration per policy and pool shape, plus heap bytes per pool element at a million.
//
// Hand-timed, not tinybench: every operation takes well under a microsecond, where tinybench's
// per-iteration bookkeeping (a closure call and a high-resolution clock read per sample) would
// dominate. Each phase runs one tight loop over all prepared inputs and is timed as a whole
// with process.hrtime.bigint(); each scenario repeats `runs` times and reports the median.
// Inputs (registrations, pool handles) are built before timing. The partition's scheduler is a
// virtual clock, so timer-index updates are included but no Node.js timer fires.
// Each registration carries 64 pre-encoded bytes (a Pool Element parameter with one IPv4 SCTP
// transport is about that), which the partition copies into the pool's slab as a registrar's
// does; deregistration removes the PEs in a random order (seeded), not the order they came in.
// Besides wall time, each phase's CPU time of the whole process (every thread: GC helpers
// included) is taken: on a shared machine operations per CPU second compare builds where
// wall time measures the neighbours.
//
// By default every policy the engine knows (the 18 of RFC 5356 and RSPLIB, src/policy/registry.ts)
// runs on every pool shape of SCENARIOS; --quick runs every policy on QUICK_SCENARIOS once,
// without the heap measurement. Progress goes to stderr, results to stdout.
//
//   npx tsx native-free-bench/handlespace.ts [--quick --pes N --pools N --policy NAME --runs N --json]
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Partition } from '../src/handlespace/partition.js';
import type { PoolElement } from '../src/handlespace/pool-element.js';
import type { Registration } from '../src/handlespace/registration.js';
import type { Scheduler } from '../src/handlespace/timer-schedule.js';
import { seededRandom } from '../src/policy/random-source.js';
import { knownPolicies, policyByName } from '../src/policy/registry.js';
import { ParamType, TransportUse } from '../src/wire/constants.js';
import { policySettings } from '../src/wire/policy-settings.js';

export interface HandlespaceBenchOptions {
  pes?: number;
  pools?: number;
  /** One policy by name or code, or 'all' (the default): every known policy. */
  policy?: string;
  json?: boolean;
  runs?: number;
  /** Small pool shapes, one run each, no heap measurement: seconds instead of minutes. */
  quick?: boolean;
  /** Progress lines (default: stderr). */
  progress?: (line: string) => void;
}

export interface HandlespaceBenchResult {
  pools: number;
  pesPerPool: number;
  policy: string;
  /** Median operations per second (wall time). */
  register: number;
  reregister: number;
  handleResolution: number;
  deregister: number;
  /** Median operations per CPU second of the process (all threads). */
  cpu: { register: number; reregister: number; handleResolution: number; deregister: number };
}

/** The standard matrix: pools x PEs per pool. */
export const SCENARIOS: ReadonlyArray<readonly [pools: number, pes: number]> = [
  [1, 1_000],
  [1, 100_000],
  [100, 1_000],
  [10_000, 10],
  [1, 1_000_000],
];

/** --quick: one small pool and many small pools. */
export const QUICK_SCENARIOS: ReadonlyArray<readonly [pools: number, pes: number]> = [
  [1, 1_000],
  [100, 100],
];

/** Every policy the engine implements, by name, in the registry's order. */
export function allPolicyNames(): string[] {
  return [...knownPolicies()].map((d) => d.name);
}

/** A policy by name (RSPLIB spelling or RFC 5356 short name) or type code (decimal or 0x hex). */
function resolvePolicy(name: string): { type: number; name: string } {
  const code = /^(0x[0-9a-f]+|\d+)$/i.test(name.trim()) ? Number(name.trim()) : undefined;
  const def = code !== undefined ? [...knownPolicies()].find((d) => d.type === code) : policyByName(name);
  if (def === undefined) throw new Error(`unknown policy ${name} (known: ${allPolicyNames().join(', ')})`);
  return { type: def.type, name: def.name };
}

/** A clock that only moves when told: timer updates are measured, timers never fire. */
function virtualScheduler(): Scheduler {
  return { now: () => 0, schedule: () => undefined, cancel: () => undefined };
}

function handles(pools: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < pools; i++) out.push(new TextEncoder().encode(`bench-pool-${i.toString().padStart(6, '0')}`));
  return out;
}

/** Registrations for pools x pes elements, interleaved so consecutive ones hit different pools. */
function registrations(poolHandles: Uint8Array[], pes: number, policyType: number, seed: number, perPeBytes: boolean): Registration[] {
  const rnd = seededRandom(seed);
  // The partition copies the bytes into its slab: one source array serves every timed registration.
  const shared = new Uint8Array(64);
  const list: Registration[] = [];
  for (let j = 0; j < pes; j++) {
    for (let i = 0; i < poolHandles.length; i++) {
      list.push({
        poolHandle: poolHandles[i]!,
        peId: j + 1,
        homeRegistrarId: 0x11111111,
        registrationLife: 30_000,
        policy: policySettings(policyType, {
          weight: 1 + Math.floor(rnd() * 100),
          priority: Math.floor(rnd() * 10),
          load: Math.floor(rnd() * 0xffffffff),
          loadDegradation: Math.floor(rnd() * 0x10000000),
        }),
        userTransport: { protocol: ParamType.SctpTransport, port: 1024 + (j & 0x7fff), use: TransportUse.DataPlusControl, addressCount: 1 },
        associationId: 1 + (j % 1000),
        // A Pool Element parameter with one IPv4 SCTP transport, a policy and the ASAP transport is about 64 bytes.
        encoded: perPeBytes ? new Uint8Array(64) : shared,
      });
    }
  }
  return list;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A phase's start: wall clock and the process's CPU time. */
interface Mark {
  wall: bigint;
  cpu: NodeJS.CpuUsage;
}

function mark(): Mark {
  return { cpu: process.cpuUsage(), wall: process.hrtime.bigint() };
}

/** Operations per wall second and per CPU second since `start`. */
function rates(ops: number, start: Mark): [wall: number, cpu: number] {
  const ns = Number(process.hrtime.bigint() - start.wall);
  const used = process.cpuUsage(start.cpu);
  const cpuUs = Math.max(1, used.user + used.system);
  return [(ops * 1e9) / ns, (ops * 1e6) / cpuUs];
}

/** 0..n-1 in a seeded random order (Fisher-Yates). */
function shuffled(n: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rnd = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** `minResolutions`: handle resolutions timed per run at least (a million at most). */
export function measure(pools: number, pes: number, policy: string, runs: number, minResolutions = 200_000): HandlespaceBenchResult {
  const { type, name } = resolvePolicy(policy);
  const poolHandles = handles(pools);
  const regs = registrations(poolHandles, pes, type, 42, false);
  const total = regs.length;
  const resolutions = Math.max(minResolutions, Math.min(total, 1_000_000));
  const order = shuffled(total, 4242);
  const phases = ['register', 'reregister', 'handleResolution', 'deregister'] as const;
  const wall = { register: [] as number[], reregister: [] as number[], handleResolution: [] as number[], deregister: [] as number[] };
  const cpu = { register: [] as number[], reregister: [] as number[], handleResolution: [] as number[], deregister: [] as number[] };
  const record = (phase: (typeof phases)[number], [w, c]: [number, number]): void => {
    wall[phase].push(w);
    cpu[phase].push(c);
  };
  const out: PoolElement[] = [];
  for (let run = 0; run < runs; run++) {
    const partition = new Partition({ ownRegistrarId: 0x11111111, scheduler: virtualScheduler(), random: seededRandom(run + 1) });
    let t = mark();
    for (let i = 0; i < total; i++) partition.register(regs[i]!);
    record('register', rates(total, t));
    if (partition.elementCount !== total) throw new Error(`registered ${partition.elementCount} of ${total}`);

    t = mark();
    for (let i = 0; i < total; i++) partition.register(regs[i]!);
    record('reregister', rates(total, t));

    t = mark();
    let found = 0;
    for (let i = 0; i < resolutions; i++) found += partition.handleResolution(poolHandles[i % pools]!, 3, out);
    record('handleResolution', rates(resolutions, t));
    if (found < resolutions) throw new Error('handle resolution returned nothing');

    t = mark();
    for (let i = 0; i < total; i++) {
      const r = regs[order[i]!]!;
      partition.deregister(r.poolHandle, r.peId);
    }
    record('deregister', rates(total, t));
    if (partition.elementCount !== 0) throw new Error('deregistration left elements');
    partition.dispose();
  }
  return {
    pools,
    pesPerPool: pes,
    policy: name,
    register: median(wall.register),
    reregister: median(wall.reregister),
    handleResolution: median(wall.handleResolution),
    deregister: median(wall.deregister),
    cpu: {
      register: median(cpu.register),
      reregister: median(cpu.reregister),
      handleResolution: median(cpu.handleResolution),
      deregister: median(cpu.deregister),
    },
  };
}

/**
 * Heap bytes per PE at `count` PEs in one pool, after GC (needs --expose-gc): everything the
 * partition keeps alive, including each PE's PolicySettings object and its 64 encoded bytes.
 */
export function heapPerElement(count: number, policy: string): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run node with --expose-gc');
  const { type } = resolvePolicy(policy);
  const poolHandles = handles(1);
  gc();
  gc();
  const before = process.memoryUsage();
  let regs: Registration[] | undefined = registrations(poolHandles, count, type, 7, true);
  const partition = new Partition({ ownRegistrarId: 0x11111111, scheduler: virtualScheduler() });
  for (const r of regs) partition.register(r);
  regs = undefined; // the partition keeps the policy objects and encoded bytes, not the inputs
  gc();
  gc();
  const after = process.memoryUsage();
  const bytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  if (partition.elementCount !== count) throw new Error('registration failed');
  return bytes / count;
}

function heapInChild(count: number, policy: string): number | undefined {
  if ((globalThis as { gc?: () => void }).gc !== undefined) return heapPerElement(count, policy);
  const file = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', '--max-old-space-size=4096', file, '--heap-child', String(count), policy], {
    encoding: 'utf8',
  });
  const match = /HEAP_PER_PE (\S+)/.exec(child.stdout ?? '');
  return match ? Number(match[1]) : undefined;
}

function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${(v / 1e3).toFixed(0)} k`;
}

function seconds(since: bigint): string {
  return `${(Number(process.hrtime.bigint() - since) / 1e9).toFixed(1)} s`;
}

export async function run(options: HandlespaceBenchOptions = {}): Promise<void> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const scenarios: ReadonlyArray<readonly [number, number]> =
    options.pes !== undefined || options.pools !== undefined
      ? [[options.pools ?? 1, options.pes ?? 100_000]]
      : options.quick
        ? QUICK_SCENARIOS
        : SCENARIOS;
  const names = options.policy === undefined || options.policy === 'all' ? allPolicyNames() : [resolvePolicy(options.policy).name];
  const nameWidth = Math.max(...names.map((n) => n.length));
  const results: HandlespaceBenchResult[] = [];
  const started = process.hrtime.bigint();
  const cases = scenarios.length * names.length;
  progress(
    `bench handlespace: ${names.length} ${names.length === 1 ? 'policy' : 'policies'} x ${scenarios.length} pool ${scenarios.length === 1 ? 'shape' : 'shapes'} (` +
      `${scenarios.map(([pools, pes]) => `${pools} x ${pes}`).join(', ')}) = ${cases} cases${options.quick ? ', quick' : ''}`,
  );
  // Warm-up so the first scenario is not measured while the JIT is still compiling.
  const minResolutions = options.quick ? 20_000 : 200_000;
  for (const policy of names) measure(10, options.quick ? 200 : 2_000, policy, options.quick ? 1 : 2, minResolutions);
  progress(`  warmed up (${seconds(started)})`);
  let done = 0;
  for (const [pools, pes] of scenarios) {
    for (const policy of names) {
      const runs = options.runs ?? (options.quick || pools * pes >= 1_000_000 ? 1 : 3);
      const r = measure(pools, pes, policy, runs, minResolutions);
      results.push(r);
      done++;
      progress(`  [${done}/${cases}] ${pools} x ${pes} ${policy} (${seconds(started)})`);
      if (!options.json) {
        console.log(
          `${`${pools} x ${pes}`.padEnd(14)} ${policy.padEnd(nameWidth)} register ${fmt(r.register).padStart(8)}/s  re-register ${fmt(r.reregister).padStart(8)}/s  ` +
            `resolve(3) ${fmt(r.handleResolution).padStart(8)}/s  deregister ${fmt(r.deregister).padStart(8)}/s`,
        );
        console.log(
          `${''.padEnd(14)} ${'per CPU s'.padEnd(nameWidth)} register ${fmt(r.cpu.register).padStart(8)}     re-register ${fmt(r.cpu.reregister).padStart(8)}     ` +
            `resolve(3) ${fmt(r.cpu.handleResolution).padStart(8)}     deregister ${fmt(r.cpu.deregister).padStart(8)}`,
        );
      }
    }
  }
  const heapCount = options.pes !== undefined ? (options.pools ?? 1) * options.pes : 1_000_000;
  let heap: number | undefined;
  if (!options.quick) {
    progress(`  heap per pool element at ${heapCount} PEs (${names[0]}) in a child process`);
    heap = heapInChild(heapCount, names[0]!);
  }
  progress(`bench handlespace: done in ${seconds(started)}`);
  if (options.json) {
    console.log(JSON.stringify(options.quick ? { results } : { results, heapBytesPerElement: heap, heapElements: heapCount }, null, 2));
  } else if (!options.quick) {
    console.log(`heap per pool element at ${heapCount} PEs (${names[0]}): ${heap === undefined ? 'n/a' : `${heap.toFixed(0)} bytes`}`);
  }
}

function parseArgs(argv: string[]): HandlespaceBenchOptions {
  const o: HandlespaceBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--quick') o.quick = true;
    else if (a === '--pes') o.pes = Number(argv[++i]);
    else if (a === '--pools') o.pools = Number(argv[++i]);
    else if (a === '--policy') o.policy = argv[++i]!;
    else if (a === '--runs') o.runs = Number(argv[++i]);
  }
  return o;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--heap-child') {
    console.log(`HEAP_PER_PE ${heapPerElement(Number(argv[1]), argv[2] ?? 'RoundRobin')}`);
  } else {
    run(parseArgs(argv)).catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
  }
}
