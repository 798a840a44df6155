// SCTP over UDP (RFC 6951) on loopback through our stack (src/sctp/), two endpoints in one
// process, 100-byte messages: ping-pong with 1 and 32 outstanding, and one-way (one
// association, the sender kept at its high-water mark). Both ends run here, so the CPU per
// round trip is two sends and two receives of the stack plus dgram; per message is half.
//
// Run: rserpool bench sctp-pingpong [--seconds S] [--runs N] [--outstanding 1,32] [--no-one-way]
//        [--mtu BYTES] [--json]
//   or npx tsx native-free-bench/sctp-pingpong.ts [seconds-per-case] [--runs N]
//        [--outstanding 1,32] [--one-way | --no-one-way] [--mtu BYTES] [--json]
// --mtu sets both endpoints' path MTU (default the stack's, 1280). With --runs N > 1 each run
// is a child process of its own and the medians are printed; with one run it runs in this
// process.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Association } from '../src/transport/index.js';
import { PPID_ASAP } from '../src/wire/constants.js';

export interface PingPongResult {
  /** 'one-way' for the one-way case. */
  kind: 'ping-pong' | 'one-way';
  outstanding: number;
  /** Round trips (ping-pong) or messages received (one-way). */
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Process CPU (user + system) per round trip (ping-pong: both endpoints, two sends and two
   *  receives) or per message (one-way: one send and one receive, plus the SACKs). */
  cpuUs: number;
  /** UDP datagrams sent by both ends per round trip / message (the stack's lower layer counts
   *  them). */
  packets: number;
}

/** Datagrams sent so far through both endpoints' lower layers. */
type PacketCounter = () => number;

const MESSAGE_BYTES = 100;

async function pingPong(client: Association, outstanding: number, seconds: number, packets: PacketCounter): Promise<PingPongResult> {
  const packetsStart = packets();
  const payload = Buffer.alloc(MESSAGE_BYTES, 0x5a);
  // The bench's own bookkeeping stays small and typed (no arrays growing to millions of boxed
  // numbers for the GC to walk): send times in a ring (answers come back in order, one
  // stream), round-trip times in a Float64Array doubled when full, one clock read per answer.
  let ringSize = 1;
  while (ringSize < outstanding) ringSize *= 2;
  const sentAt = new Float64Array(ringSize);
  const mask = ringSize - 1;
  let rtts = new Float64Array(1 << 16);
  let sent = 0;
  let done = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const deadline = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const onMessage = (): void => {
      const now = performance.now();
      if (done === rtts.length) {
        const bigger = new Float64Array(rtts.length * 2);
        bigger.set(rtts);
        rtts = bigger;
      }
      rtts[done] = now - sentAt[done & mask]!;
      done++;
      inFlight--;
      if (now < deadline) {
        sentAt[sent++ & mask] = now;
        client.send(payload, PPID_ASAP);
        inFlight++;
      } else if (inFlight === 0) {
        client.off('message', onMessage);
        resolve();
      }
    };
    client.on('message', onMessage);
    for (let i = 0; i < outstanding; i++) {
      sentAt[sent++ & mask] = performance.now();
      client.send(payload, PPID_ASAP);
      inFlight++;
    }
  });
  const cpu = process.cpuUsage(cpuStart);
  const elapsed = (performance.now() - start) / 1000;
  const sorted = rtts.subarray(0, done).sort();
  return {
    kind: 'ping-pong',
    outstanding,
    messages: done,
    seconds: elapsed,
    messagesPerSecond: done / elapsed,
    p50Ms: sorted[Math.floor(done * 0.5)] ?? NaN,
    p99Ms: sorted[Math.floor(done * 0.99)] ?? NaN,
    cpuUs: (cpu.user + cpu.system) / Math.max(done, 1),
    packets: (packets() - packetsStart) / Math.max(done, 1),
  };
}

/**
 * One-way: the client sends 100-byte messages as fast as send() accepts them (until it returns
 * false, then on 'drain'), the server counts them. Messages/s counts what arrived; the sender
 * stops at the deadline and the clock stops when the last message has arrived.
 */
async function oneWay(client: Association, counter: { received: number; onChange?: (() => void) | undefined }, seconds: number, packets: PacketCounter): Promise<PingPongResult> {
  const packetsStart = packets();
  const payload = Buffer.alloc(MESSAGE_BYTES, 0x5a);
  counter.received = 0;
  let sent = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const deadline = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    let stopped = false;
    const pump = (): void => {
      if (stopped) return;
      if (performance.now() >= deadline) {
        stopped = true;
        client.off('drain', pump);
        if (counter.received === sent) resolve();
        else counter.onChange = () => counter.received === sent && resolve();
        return;
      }
      // At most a few thousand per turn, so the event loop runs even if send() never says
      // false.
      for (let i = 0; i < 4096; i++) {
        sent++;
        if (!client.send(payload, PPID_ASAP)) return; // 'drain' calls pump again
      }
      setImmediate(pump);
    };
    client.on('drain', pump);
    pump();
  });
  counter.onChange = undefined;
  const cpu = process.cpuUsage(cpuStart);
  const elapsed = (performance.now() - start) / 1000;
  return {
    kind: 'one-way',
    outstanding: 0,
    messages: counter.received,
    seconds: elapsed,
    messagesPerSecond: counter.received / elapsed,
    p50Ms: NaN,
    p99Ms: NaN,
    cpuUs: (cpu.user + cpu.system) / Math.max(counter.received, 1),
    packets: (packets() - packetsStart) / Math.max(counter.received, 1),
  };
}

export async function run(seconds = 3, outstandingCases: readonly number[] = [1, 32], withOneWay = true, mtu?: number): Promise<PingPongResult[]> {
  const { openSctpEndpoint } = await import('../src/transport/index.js');
  const common = {
    mode: 'udp' as const,
    udpPort: 0,
    address: '127.0.0.1',
    // Path MTU (IP packet bytes) of both endpoints; default the stack's (1280).
    ...(mtu !== undefined ? { protocol: { mtu } } : {}),
  };
  const server = await openSctpEndpoint({ ...common, port: 3863 });
  const client = await openSctpEndpoint({ ...common, port: 3864 });
  let echo = true;
  const counter: { received: number; onChange?: (() => void) | undefined } = { received: 0 };
  server.on('association', (a) =>
    a.on('message', (p, ppid, stream) => {
      if (echo) a.send(p, ppid, stream);
      else {
        counter.received++;
        counter.onChange?.();
      }
    }),
  );
  const sentBy = (e: object): number => (e as { lower?: { stats?: { sent?: number } } }).lower?.stats?.sent ?? NaN;
  const packets: PacketCounter = () => sentBy(server) + sentBy(client);
  try {
    const association = await client.connect({ address: '127.0.0.1', port: server.port, udpPort: server.udpPort! });
    const results: PingPongResult[] = [];
    for (const outstanding of outstandingCases) results.push(await pingPong(association, outstanding, seconds, packets));
    if (withOneWay) {
      echo = false;
      results.push(await oneWay(association, counter, seconds, packets));
    }
    return results;
  } finally {
    await client.close();
    await server.close();
  }
}

/** Runs this script once in a child process; its results. */
function runChild(seconds: number, outstanding: readonly number[], withOneWay: boolean, mtu: number | undefined): Promise<PingPongResult[]> {
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, String(seconds), '--json', '--outstanding', outstanding.join(','), withOneWay ? '--one-way' : '--no-one-way'];
  if (mtu !== undefined) args.push('--mtu', String(mtu));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`ping-pong child exited with ${code}`));
      else resolve(JSON.parse(out) as PingPongResult[]);
    });
  });
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
      kind: first.kind,
      outstanding: first.outstanding,
      messages: m((r) => r.messages),
      seconds: m((r) => r.seconds),
      messagesPerSecond: m((r) => r.messagesPerSecond),
      p50Ms: m((r) => r.p50Ms),
      p99Ms: m((r) => r.p99Ms),
      cpuUs: m((r) => r.cpuUs),
      packets: m((r) => r.packets),
    };
  });
}

function format(label: string, r: PingPongResult): string {
  if (r.kind === 'one-way') {
    return `${label}udp one-way: ${Math.round(r.messagesPerSecond)} messages/s, CPU ${r.cpuUs.toFixed(2)} µs/message${packetsText(r, 'message')}`;
  }
  return (
    `${label}udp ping-pong, ${String(r.outstanding).padStart(2)} outstanding: ` +
    `${Math.round(r.messagesPerSecond)} round trips/s, ` +
    `CPU ${r.cpuUs.toFixed(2)} µs/round trip (${(r.cpuUs / 2).toFixed(2)} µs/message), ` +
    `p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms${packetsText(r, 'round trip')}`
  );
}

function packetsText(r: PingPongResult, per: string): string {
  return Number.isFinite(r.packets) ? `, ${r.packets.toFixed(2)} packets/${per}` : '';
}

/** What `rserpool bench sctp-pingpong` (or this script) is asked for. */
export interface PingPongBenchOptions {
  /** Seconds per case; default 3. */
  seconds?: number;
  /** Runs, each in its own child process; medians are reported. Default 1 (in this process). */
  runs?: number;
  /** Outstanding round trips per ping-pong case ("1,32"). */
  outstanding?: string;
  /** The one-way case too; default true. */
  oneWay?: boolean;
  /** Path MTU (IP packet bytes) of both endpoints; default the stack's (1280). */
  mtu?: number;
  json?: boolean;
}

export async function bench(options: PingPongBenchOptions = {}): Promise<void> {
  const seconds = options.seconds ?? 3;
  const runs = options.runs ?? 1;
  const outstanding = (options.outstanding ?? '1,32').split(',').filter(Boolean).map(Number);
  const withOneWay = options.oneWay ?? true;
  const mtu = options.mtu;
  if (runs === 1) {
    const results = await run(seconds, outstanding, withOneWay, mtu);
    if (options.json) console.log(JSON.stringify(results));
    else for (const r of results) console.log(format('', r));
    return;
  }
  const raw: PingPongResult[][] = [];
  for (let i = 0; i < runs; i++) {
    const results = await runChild(seconds, outstanding, withOneWay, mtu);
    raw.push(results);
    if (!options.json) for (const r of results) console.error(format(`run ${i + 1} `, r));
  }
  const summary = medians(raw);
  if (options.json) {
    console.log(JSON.stringify({ runs, seconds, medians: summary, raw }));
    return;
  }
  console.log(`median of ${runs} runs (one process each), ${seconds} s per case, MTU ${mtu ?? 'default'}`);
  for (const r of summary) console.log(format('', r));
}

function parseArgs(argv: string[]): PingPongBenchOptions {
  const valued = /^--(runs|outstanding|mtu)$/;
  const positional = argv.filter((a, i) => !a.startsWith('--') && !valued.test(argv[i - 1] ?? ''));
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const o: PingPongBenchOptions = { oneWay: !argv.includes('--no-one-way'), json: argv.includes('--json') };
  if (positional[0] !== undefined) o.seconds = Number(positional[0]);
  const runs = option('--runs');
  if (runs !== undefined) o.runs = Number(runs);
  const outstanding = option('--outstanding');
  if (outstanding !== undefined) o.outstanding = outstanding;
  const mtu = option('--mtu');
  if (mtu !== undefined) o.mtu = Number(mtu);
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await bench(parseArgs(process.argv.slice(2)));
}
