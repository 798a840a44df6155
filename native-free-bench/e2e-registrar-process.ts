// The registrar under test as a child process (`rserpool registrar`, compiled), so that its
// CPU time is measured apart from the load generator's: utime + stime of /proc/<pid>/stat
// count every thread of the process, the I/O thread and the shard workers alike.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { GcPauses } from './e2e-gc-probe.js';
import type { ThreadAllocation } from './e2e-alloc-probe.js';
import type { ThreadReadingReply, ThreadReadingRequest } from './thread-reading.js';
import type { ProbeReply, ProbeRequest, RegistrarMemory } from './e2e-memory-probe.js';

export interface RegistrarProcessOptions {
  shards: number;
  udpPort: number;
  asapPort: number;
  keepAliveInterval: number;
  /** Directory for `node --cpu-prof` profiles of the registrar (every thread), or none. */
  cpuProfileDir?: string;
  /** Local address of the registrar; default 127.0.0.1. */
  address?: string;
  /** TCP port of ASAP over plain TCP (`--tcp-port`); default 0: off. */
  tcpPort?: number;
  /** TCP port of ASAP over TLS (`--tls-port`), served with `tlsPsk`; default: none. */
  tlsPort?: number;
  /** PSK file of the TLS port (`--tls-psk`, identity:hex-key lines). */
  tlsPsk?: string;
  /** TCP port of its control channel (GET /stats); default 0: off. */
  controlPort?: number;
  /** Preload e2e-gc-probe.js into every thread: GC pauses per thread (gcPauses()). */
  gcProbe?: boolean;
  /** Preload e2e-alloc-probe.js into every thread: V8 heap bytes allocated per thread (allocations()). */
  allocProbe?: boolean;
  /** More `rserpool registrar` flags, after the defaults here (a later flag wins). */
  extraArgs?: string[];
  /**
   * Node/V8 flags for the registrar child (e.g. `--max-semi-space-size=1`). Default: those of
   * RSERPOOL_BENCH_REGISTRAR_NODE_ARGS (space-separated; set but empty: none), else those on
   * the `rserpool` bin's shebang line, so the registrar runs as shipped (the child is started
   * as `node FLAGS dist/src/cli/main.js`, where the shebang itself does not apply).
   */
  nodeArgs?: string[];
}

/** Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK); 100 on Linux). */
const CLOCK_TICKS = 100;

/** `dist/src/cli/main.js`, found from the source tree (tsx) or from the compiled tree. */
export function compiledCli(): string {
  for (const relative of ['../src/cli/main.js', '../dist/src/cli/main.js']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('compiled CLI dist/src/cli/main.js not found: run "npm run build"');
}

/** The node flags on a script's shebang line (`#!/usr/bin/env -S node --flag ...`); none if it has none. */
export function shebangNodeFlags(script: string): string[] {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env(?: -S)? node((?: --\S+)*)\s*$/.exec(first);
  return m === null ? [] : m[1]!.split(' ').filter((a) => a !== '');
}

/** The compiled memory probe, preloaded into every thread of the registrar. */
function compiledProbe(): string {
  for (const relative of ['./e2e-memory-probe.js', '../dist/native-free-bench/e2e-memory-probe.js']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('compiled dist/native-free-bench/e2e-memory-probe.js not found: run "npm run build"');
}

export class RegistrarProcess {
  private exited: Promise<number | null>;
  private probeId = 0;

  private constructor(
    private readonly child: ChildProcess,
    readonly address: { address: string; port: number; udpPort: number },
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts `rserpool registrar` and resolves once it logged "registrar started". */
  static async start(options: RegistrarProcessOptions): Promise<RegistrarProcess> {
    // --expose-gc for the probe: heap figures are of live objects, after a full GC (asked for
    // only outside the measured phases).
    const nodeArgs: string[] = ['--expose-gc', '-r', compiledProbe()];
    const flagsFromEnv = process.env.RSERPOOL_BENCH_REGISTRAR_NODE_ARGS;
    nodeArgs.push(...(options.nodeArgs ?? (flagsFromEnv !== undefined ? flagsFromEnv.split(' ').filter((a) => a !== '') : shebangNodeFlags(compiledCli()))));
    if (options.cpuProfileDir !== undefined) {
      mkdirSync(options.cpuProfileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
    }
    // bench e2e --wire-trace: the registrar's UDP datagrams timestamped (e2e-wire-trace.ts).
    if (options.gcProbe === true) nodeArgs.push('-r', compiledProbe().replace(/e2e-memory-probe\.js$/, 'e2e-gc-probe.js'));
    if (options.allocProbe === true) nodeArgs.push('-r', compiledProbe().replace(/e2e-memory-probe\.js$/, 'e2e-alloc-probe.js'));
    if (process.env.RSERPOOL_BENCH_WIRE_TRACE !== undefined) nodeArgs.push('-r', compiledProbe().replace(/e2e-memory-probe\.js$/, 'e2e-wire-trace.js'));
    const args = [
      ...nodeArgs,
      compiledCli(),
      'registrar',
      '--transport', 'udp',
      '--address', options.address ?? '127.0.0.1',
      '--asap-port', String(options.asapPort),
      '--udp-port', String(options.udpPort),
      '--shards', String(options.shards),
      '--keep-alive-interval', String(options.keepAliveInterval),
      '--announce', 'off',
      // The generator does 100,000s of registrations and resolutions per second over a few
      // associations: far over the per-association rates a real client is held to.
      '--registration-rate', '0',
      '--resolution-rate', '0',
      // 100,000 PEs over 10 associations (--pe-associations) is 10,000 per association; runs
      // with more PEs, or all in one pool (--pools 1), stay under the pool and total limits too.
      '--max-pes-per-association', '10000000',
      '--max-pes-per-pool', '100000000',
      '--max-pes', '100000000',
      '--control-port', String(options.controlPort ?? 0),
      // TCP and TLS only when the generator uses them, on ports it chose: a TCP listener on
      // 3863 would collide with other registrars on the host.
      '--tcp-port', String(options.tcpPort ?? 0),
      ...(options.tlsPsk !== undefined ? ['--tls-port', String(options.tlsPort ?? 0), '--tls-psk', options.tlsPsk] : ['--tls-port', '0']),
      ...(options.extraArgs ?? []),
      // info only to see "registrar started"; at info it logs nothing per message.
      '--log-level', 'info',
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info' };
    // The IPC channel is the memory probe's.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], env });
    const registrar = new RegistrarProcess(child, { address: options.address ?? '127.0.0.1', port: options.asapPort, udpPort: options.udpPort });
    await new Promise<void>((resolve, reject) => {
      let started = false;
      // The last lines before an early exit (a start-up error is plain text, not a JSON log line).
      const early: string[] = [];
      // readline gives a last line without its newline too, when stderr ends.
      createInterface({ input: child.stderr!, crlfDelay: Infinity }).on('line', (line) => {
        if (!started && line.includes('"registrar started"')) {
          started = true;
          resolve();
        } else if (isWarningOrWorse(line)) {
          process.stderr.write(`registrar: ${line}\n`);
        } else if (!started) {
          early.push(line);
          if (early.length > 10) early.shift();
        }
      });
      // 'close', not 'exit': after stderr has ended, so its last lines have been read.
      child.once('close', (code, signal) => {
        if (!started) reject(new Error(`registrar exited before it started (code ${code}, signal ${signal})${early.length > 0 ? `: ${early.join('\n').trim()}` : ''}`));
      });
      child.once('error', reject);
    });
    return registrar;
  }

  /** CPU seconds (user + system) the registrar has used so far: all threads, and its main (I/O) thread. */
  cpuSeconds(): { total: number; ioThread: number } {
    return processCpuSeconds(this.pid);
  }

  /** Milliseconds the registrar's threads have run and waited for a core so far (schedstat). */
  schedule(): ThreadSchedule {
    return threadSchedule(this.pid);
  }

  /** Resident set size in bytes. */
  rssBytes(): number {
    return processRssBytes(this.pid);
  }

  /**
   * What the registrar's memory is made of now, after a full GC in every thread: RSS, the I/O
   * thread's heap, external and ArrayBuffer memory, and each of the `workers` shard workers' heaps.
   */
  memory(workers: number, snapshotDir?: string): Promise<RegistrarMemory> {
    const id = ++this.probeId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off('message', onMessage);
        reject(new Error('registrar memory probe: no answer'));
      }, snapshotDir !== undefined ? 300_000 : 10_000);
      const onMessage = (message: ProbeReply): void => {
        if (message?.kind !== 'e2e-memory' || message.id !== id) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(message.memory);
      };
      this.child.on('message', onMessage);
      this.child.send({ kind: 'e2e-memory', id, workers, ...(snapshotDir !== undefined ? { snapshotDir } : {}) } satisfies ProbeRequest);
    });
  }

  /** GC pauses of every thread since the last call (needs `gcProbe`): "io", "shard-0"... */
  gcPauses(): Promise<Record<string, GcPauses>> {
    return this.threadReadings<'e2e-gc', GcPauses>('e2e-gc', 'GC probe');
  }

  /** V8 heap bytes every thread allocated since the last call (needs `allocProbe`): "io", "shard-0"... */
  allocations(): Promise<Record<string, ThreadAllocation>> {
    return this.threadReadings<'e2e-alloc', ThreadAllocation>('e2e-alloc', 'allocation probe');
  }

  /** Every thread's reading of a preloaded probe (thread-reading.ts). */
  private threadReadings<K extends string, T>(kind: K, probe: string): Promise<Record<string, T>> {
    const id = ++this.probeId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off('message', onMessage);
        reject(new Error(`registrar ${probe}: no answer`));
      }, 10_000);
      const onMessage = (message: ThreadReadingReply<K, T>): void => {
        if (message?.kind !== kind || message.id !== id) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(message.threads);
      };
      this.child.on('message', onMessage);
      this.child.send({ kind, id } satisfies ThreadReadingRequest<K>);
    });
  }

  /** SIGTERM (the registrar closes and exits, writing CPU profiles if asked), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Time on a core and time runnable but waiting for one (the run queue), in ms, summed over a
 * process's threads, from /proc/<pid>/task/<tid>/schedstat (fields 1 and 2, in ns). Waiting
 * is what CPU contention adds to latency: every wake-up of a thread on a request's path
 * (generator, I/O thread, shard) queues behind whatever else holds the cores.
 */
export interface ThreadSchedule {
  runMs: number;
  waitMs: number;
  /** The same for the main thread alone (the registrar's I/O thread, the generator's loop). */
  mainRunMs: number;
  mainWaitMs: number;
}

export function threadSchedule(pid: number | 'self'): ThreadSchedule {
  const out: ThreadSchedule = { runMs: 0, waitMs: 0, mainRunMs: 0, mainWaitMs: 0 };
  const main = pid === 'self' ? String(process.pid) : String(pid);
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { runMs: NaN, waitMs: NaN, mainRunMs: NaN, mainWaitMs: NaN };
  }
  for (const tid of tasks) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const [run, wait] = text.split(' ').map(Number);
    const runMs = (run ?? 0) / 1e6;
    const waitMs = (wait ?? 0) / 1e6;
    out.runMs += runMs;
    out.waitMs += waitMs;
    if (tid === main) {
      out.mainRunMs = runMs;
      out.mainWaitMs = waitMs;
    }
  }
  return out;
}

/**
 * CPU seconds (user + system) a process on this host has used so far: all its threads, and its
 * main thread (a registrar's I/O thread). NaN once it is gone. Also for a registrar that is
 * not ours (bench e2e --registrar-pid).
 */
export function processCpuSeconds(pid: number): { total: number; ioThread: number } {
  try {
    return { total: statCpuSeconds(`/proc/${pid}/stat`), ioThread: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return { total: NaN, ioThread: NaN };
  }
}

/** Resident set size of a process on this host in bytes; NaN once it is gone. */
export function processRssBytes(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m === null ? NaN : Number(m[1]) * 1024;
}

/** utime + stime of a /proc stat file, in seconds. */
function statCpuSeconds(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // The command name (field 2) may hold spaces; fields are counted after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function isWarningOrWorse(line: string): boolean {
  const m = /"level":(\d+)/.exec(line);
  return m !== null && Number(m[1]) >= 40;
}
