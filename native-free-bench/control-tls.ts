// What HTTPS costs on the control channel (--control-tls-cert): two `rserpool registrar`
// processes on loopback, one plain HTTP, one HTTPS (an EC P-256 certificate made here with
// openssl), measured in alternating rounds: a Prometheus-like scrape (GET /metrics over one
// kept connection) and a probe-like request on a new connection each time (GET /health: TCP
// connect, TLS handshake, answer). Per request: wall time at the client, and the registrar's
// CPU time (/proc/PID/stat utime+stime). Medians over the rounds.
//
//   npm run build && node dist/native-free-bench/control-tls.js [--rounds 7] [--scrapes 400] [--connects 200] [--json]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freeTcpPort, freeUdpPort } from './free-ports.js';

/** Clock ticks per second of /proc/<pid>/stat (sysconf(_SC_CLK_TCK); 100 on Linux). */
const CLOCK_TICKS = 100;

export interface ControlTlsBenchOptions {
  rounds: number;
  scrapes: number;
  connects: number;
}

interface Mode {
  name: 'http' | 'https';
  child: ChildProcess;
  port: number;
  ca: Buffer | null;
}

function cli(): string {
  for (const relative of ['../src/cli/main.js', '../dist/src/cli/main.js']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('compiled CLI dist/src/cli/main.js not found: run "npm run build"');
}

function certificates(dir: string): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench-ca');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'control.key', '-out', 'control.csr', '-subj', '/CN=bench-control');
  writeFileSync(join(dir, 'control.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'control.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'control.pem', '-days', '2', '-extfile', 'control.ext');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'control.pem'), key: join(dir, 'control.key') };
}

async function startRegistrar(extra: string[]): Promise<{ child: ChildProcess; port: number }> {
  const port = await freeTcpPort();
  const child = spawn(
    process.execPath,
    [cli(), 'registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--address', '127.0.0.1', '--shards', '1', '--announce', 'off', '--enrp-announce', 'off', '--mentor-discovery-timeout', '0', '--tcp-port', '0', '--tls-port', '0', '--control-port', String(port), '--control-max-connections-per-address', '1000', '--control-max-connections', '1000', '--log-level', 'info', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const start = Date.now();
  while (!stderr.includes('"registrar started"')) {
    if (child.exitCode !== null) throw new Error(`registrar exited (${child.exitCode}):\n${stderr}`);
    if (Date.now() - start > 30_000) throw new Error(`registrar not started within 30 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port };
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

let reused = 0;

/** One GET; resolves with the body's length in bytes. */
function get(mode: Mode, path: string, agent: HttpAgent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const options: RequestOptions = { host: '127.0.0.1', port: mode.port, path, agent };
    const done = (response: import('node:http').IncomingMessage): void => {
      if (response.statusCode !== 200) reject(new Error(`${mode.name} ${path}: ${response.statusCode}`));
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve(bytes));
    };
    const r = mode.ca !== null ? httpsRequest({ ...options, ca: mode.ca }, done) : httpRequest(options, done);
    r.on('error', reject);
    r.on('socket', () => {
      if (r.reusedSocket) reused++;
    });
    r.end();
  });
}

/** Wall ms and registrar CPU ms per request, over `n` requests one after another. */
async function batch(mode: Mode, n: number, path: string, kept: boolean): Promise<{ wallMs: number; cpuMs: number; bytes: number }> {
  const agent = kept ? (mode.ca !== null ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: mode.ca }) : new HttpAgent({ keepAlive: true, maxSockets: 1 })) : false;
  // The control server announces Keep-Alive: timeout=1 (keepAliveTimeout 1 s), which Node's
  // agent takes as too short to reuse a socket (it keeps a 1 s margin): every request would
  // open a new connection. The requests here follow each other at once, so the socket is kept.
  if (agent !== false) {
    agent.keepSocketAlive = (): boolean => true;
  }
  if (agent !== false) await get(mode, path, agent); // the connection (and handshake) before the clock starts
  reused = 0;
  const cpu0 = cpuSeconds(mode.child.pid!);
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < n; i++) bytes += await get(mode, path, agent);
  const wallMs = (performance.now() - t0) / n;
  const cpuMs = ((cpuSeconds(mode.child.pid!) - cpu0) * 1000) / n;
  if (agent !== false) {
    if (reused < n) throw new Error(`${mode.name} ${path}: ${n - reused} of ${n} requests on a new connection`);
    agent.destroy();
  }
  return { wallMs, cpuMs, bytes: bytes / n };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface ControlTlsBenchResult {
  rounds: number;
  /** ms per request, medians over the rounds. */
  scrape: Record<'http' | 'https', { wallMs: number; cpuMs: number }>;
  /** Bytes of one /metrics body (the HTTP registrar's, last round). */
  scrapeBytes: number;
  connect: Record<'http' | 'https', { wallMs: number; cpuMs: number }>;
}

export async function run(options: ControlTlsBenchOptions): Promise<ControlTlsBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'rserpool-control-tls-bench-'));
  const modes: Mode[] = [];
  try {
    const files = certificates(dir);
    const plain = await startRegistrar([]);
    modes.push({ name: 'http', child: plain.child, port: plain.port, ca: null });
    const secure = await startRegistrar(['--control-tls-cert', files.cert, '--control-tls-key', files.key]);
    modes.push({ name: 'https', child: secure.child, port: secure.port, ca: readFileSync(files.ca) });
    type Sample = { wallMs: number; cpuMs: number; bytes: number };
    const samples = { scrape: { http: [] as Sample[], https: [] as Sample[] }, connect: { http: [] as Sample[], https: [] as Sample[] } };
    for (let round = 0; round < options.rounds; round++) {
      // Alternating which goes first, so neither always runs on a warmer machine.
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) samples.scrape[mode.name].push(await batch(mode, options.scrapes, '/metrics', true));
      for (const mode of order) samples.connect[mode.name].push(await batch(mode, options.connects, '/health', false));
      process.stderr.write(`round ${round + 1}/${options.rounds} done\n`);
    }
    const summary = (list: Sample[]): { wallMs: number; cpuMs: number } => ({ wallMs: median(list.map((s) => s.wallMs)), cpuMs: median(list.map((s) => s.cpuMs)) });
    return {
      rounds: options.rounds,
      scrape: { http: summary(samples.scrape.http), https: summary(samples.scrape.https) },
      connect: { http: summary(samples.connect.http), https: summary(samples.connect.https) },
      scrapeBytes: Math.round(samples.scrape.http.at(-1)?.bytes ?? 0),
    };
  } finally {
    for (const mode of modes) mode.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const number = (flag: string, fallback: number): number => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const result = await run({ rounds: number('--rounds', 7), scrapes: number('--scrapes', 400), connects: number('--connects', 200) });
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const f = (x: number): string => x.toFixed(3);
    process.stdout.write(`control channel, ${result.rounds} rounds, medians, ms per request (client wall / registrar CPU); /metrics body ${result.scrapeBytes} bytes:\n`);
    for (const kind of ['scrape', 'connect'] as const) {
      const r = result[kind];
      const label = kind === 'scrape' ? 'GET /metrics, kept connection' : 'GET /health, new connection each';
      process.stdout.write(`  ${label.padEnd(34)} http ${f(r.http.wallMs)} / ${f(r.http.cpuMs)}   https ${f(r.https.wallMs)} / ${f(r.https.cpuMs)}   ratio wall ${(r.https.wallMs / r.http.wallMs).toFixed(2)}x, cpu ${(r.https.cpuMs / r.http.cpuMs).toFixed(2)}x\n`);
    }
  }
  process.exit(0);
}
