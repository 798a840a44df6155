// Ping-pong over SCTP-over-UDP (RFC 6951) through the provider interface, on loopback,
// two endpoints in one process: 100-byte messages, 1 and 32 outstanding. Both ends run
// here, so the CPU per round trip is what the `sctp` package (and dgram) cost for two
// sends and two receives; "per message" is half of that.
//
// Run: npx tsx native-free-bench/sctp-pingpong.ts [seconds-per-case] [--runs N] [--json]
//        [--baseline-rev REV | --baseline-dir DIR] [--outstanding 1,32]
// --runs N runs N times (one child process each) and reports medians.
// --baseline-rev REV compares, in ONE invocation, the installed package against the same
// package with `patches/sctp+1.0.0.patch` as of git revision REV: the runs alternate
// (baseline, current, baseline, ...) so that load from other processes hits both alike.
// --baseline-dir DIR does the same with a ready copy of the package directory.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Association } from '../src/transport/index.js';
import { PPID_ASAP } from '../src/wire/constants.js';

export interface PingPongResult {
  outstanding: number;
  /** Round trips (request + response) completed. */
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Process CPU (user + system) per round trip: both endpoints, two sends and two receives. */
  cpuUsPerRoundTrip: number;
}

/** Environment variable naming a copy of the `sctp` package to load instead of node_modules/sctp. */
const PACKAGE_DIR_ENV = 'RSERPOOL_SCTP_PACKAGE_DIR';

async function pingPong(client: Association, outstanding: number, seconds: number): Promise<PingPongResult> {
  const payload = Buffer.alloc(100, 0x5a);
  const sentAt: number[] = [];
  const rtts: number[] = [];
  let done = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const deadline = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const onMessage = (): void => {
      const now = performance.now();
      rtts.push(now - sentAt[done]!);
      done++;
      inFlight--;
      if (now < deadline) {
        sentAt.push(performance.now());
        client.send(payload, PPID_ASAP);
        inFlight++;
      } else if (inFlight === 0) {
        client.off('message', onMessage);
        resolve();
      }
    };
    client.on('message', onMessage);
    for (let i = 0; i < outstanding; i++) {
      sentAt.push(performance.now());
      client.send(payload, PPID_ASAP);
      inFlight++;
    }
  });
  const cpu = process.cpuUsage(cpuStart);
  const elapsed = (performance.now() - start) / 1000;
  rtts.sort((a, b) => a - b);
  return {
    outstanding,
    messages: done,
    seconds: elapsed,
    messagesPerSecond: done / elapsed,
    p50Ms: rtts[Math.floor(rtts.length * 0.5)] ?? NaN,
    p99Ms: rtts[Math.floor(rtts.length * 0.99)] ?? NaN,
    cpuUsPerRoundTrip: (cpu.user + cpu.system) / Math.max(done, 1),
  };
}

/**
 * Load the `sctp` package from `dir` instead of node_modules/sctp: requests that resolve
 * into node_modules/sctp are redirected (its own dependencies still come from
 * node_modules through NODE_PATH, set by the parent).
 */
function redirectSctpPackage(dir: string): void {
  const require = createRequire(import.meta.url);
  const installed = dirname(require.resolve('sctp/package.json'));
  const Module = require('node:module') as { _resolveFilename: (...args: unknown[]) => string };
  const original = Module._resolveFilename;
  Module._resolveFilename = function resolveFilename(this: unknown, ...args: unknown[]): string {
    const resolved = original.apply(this, args);
    return resolved.startsWith(installed + '/') ? join(dir, resolved.slice(installed.length + 1)) : resolved;
  };
}

export async function run(seconds = 3, outstandingCases: readonly number[] = [1, 32]): Promise<PingPongResult[]> {
  const packageDir = process.env[PACKAGE_DIR_ENV];
  if (packageDir) redirectSctpPackage(packageDir);
  // Imported here, after the redirection, because the transport loads the package on import.
  const { openSctpEndpoint } = await import('../src/transport/index.js');
  const server = await openSctpEndpoint({ mode: 'udp', port: 3863, udpPort: 0, address: '127.0.0.1' });
  const client = await openSctpEndpoint({ mode: 'udp', port: 3864, udpPort: 0, address: '127.0.0.1' });
  server.on('association', (a) => a.on('message', (p, ppid, stream) => a.send(p, ppid, stream)));
  try {
    const association = await client.connect({ address: '127.0.0.1', port: server.port, udpPort: server.udpPort! });
    const results: PingPongResult[] = [];
    for (const outstanding of outstandingCases) results.push(await pingPong(association, outstanding, seconds));
    return results;
  } finally {
    await client.close();
    await server.close();
  }
}

/** Run this script once in a child process (optionally with another package copy); its results. */
function runChild(seconds: number, outstanding: readonly number[], packageDir?: string): Promise<PingPongResult[]> {
  const script = fileURLToPath(import.meta.url);
  const repoModules = join(dirname(script), '..', 'node_modules');
  const env = { ...process.env };
  delete env[PACKAGE_DIR_ENV];
  if (packageDir) {
    env[PACKAGE_DIR_ENV] = packageDir;
    env['NODE_PATH'] = [repoModules, env['NODE_PATH']].filter(Boolean).join(':');
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, String(seconds), '--json', '--outstanding', outstanding.join(',')], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`ping-pong child exited with ${code}`));
      else resolve(JSON.parse(out) as PingPongResult[]);
    });
  });
}

/** A copy of the installed package with the patch file of git revision `rev` instead of the current one. */
function packageAtRevision(rev: string): { dir: string; cleanup(): void } {
  const require = createRequire(import.meta.url);
  const installed = dirname(require.resolve('sctp/package.json'));
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  const root = mkdtempSync(join(tmpdir(), 'sctp-baseline-'));
  const dir = join(root, 'sctp');
  cpSync(installed, dir, { recursive: true });
  const current = join(root, 'current.patch');
  const old = join(root, 'old.patch');
  writeFileSync(current, execFileSync('git', ['-C', repo, 'show', 'HEAD:patches/sctp+1.0.0.patch']));
  writeFileSync(old, execFileSync('git', ['-C', repo, 'show', `${rev}:patches/sctp+1.0.0.patch`]));
  // node_modules/sctp carries the working-tree patch; the committed HEAD patch is what is
  // reversed, so commit (or pass --baseline-dir) before comparing.
  execFileSync('git', ['apply', '-R', '-p3', current], { cwd: dir });
  execFileSync('git', ['apply', '-p3', old], { cwd: dir });
  return { dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medians(runs: PingPongResult[][]): PingPongResult[] {
  return runs[0]!.map((first, i) => {
    const cases = runs.map((r) => r[i]!);
    const m = (pick: (r: PingPongResult) => number): number => median(cases.map(pick));
    return {
      outstanding: first.outstanding,
      messages: m((r) => r.messages),
      seconds: m((r) => r.seconds),
      messagesPerSecond: m((r) => r.messagesPerSecond),
      p50Ms: m((r) => r.p50Ms),
      p99Ms: m((r) => r.p99Ms),
      cpuUsPerRoundTrip: m((r) => r.cpuUsPerRoundTrip),
    };
  });
}

function format(label: string, r: PingPongResult): string {
  return (
    `${label}udp ping-pong, ${String(r.outstanding).padStart(2)} outstanding: ` +
    `${Math.round(r.messagesPerSecond)} round trips/s, ` +
    `CPU ${r.cpuUsPerRoundTrip.toFixed(1)} µs/round trip (${(r.cpuUsPerRoundTrip / 2).toFixed(1)} µs/message), ` +
    `p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms`
  );
}

async function main(argv: string[]): Promise<void> {
  const positional = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.match(/^--(runs|baseline-rev|baseline-dir|outstanding)$/));
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seconds = Number(positional[0] ?? 3);
  const runs = Number(option('--runs') ?? 1);
  const json = argv.includes('--json');
  const outstanding = (option('--outstanding') ?? '1,32').split(',').map(Number);
  const rev = option('--baseline-rev');
  let baselineDir = option('--baseline-dir');

  if (!rev && !baselineDir && runs === 1) {
    const results = await run(seconds, outstanding);
    if (json) console.log(JSON.stringify(results));
    else for (const r of results) console.log(format('', r));
    return;
  }
  const built = rev ? packageAtRevision(rev) : undefined;
  if (built) baselineDir = built.dir;
  try {
    const current: PingPongResult[][] = [];
    const baseline: PingPongResult[][] = [];
    for (let i = 0; i < runs; i++) {
      if (baselineDir) {
        baseline.push(await runChild(seconds, outstanding, baselineDir));
        if (!json) for (const r of baseline.at(-1)!) console.error(format(`run ${i + 1} baseline: `, r));
      }
      current.push(await runChild(seconds, outstanding));
      if (!json) for (const r of current.at(-1)!) console.error(format(`run ${i + 1} current:  `, r));
    }
    const summary = { runs, seconds, current: medians(current), ...(baselineDir ? { baseline: medians(baseline) } : {}) };
    if (json) {
      console.log(JSON.stringify({ ...summary, raw: { current, baseline } }));
      return;
    }
    console.log(`median of ${runs} run(s), ${seconds} s per case`);
    if (summary.baseline) for (const r of summary.baseline) console.log(format('baseline ', r));
    for (const r of summary.current) console.log(format(baselineDir ? 'current  ' : '', r));
  } finally {
    built?.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
