// Where a paced request's time goes, seen on the wire of both processes of the e2e benchmark:
// every UDP datagram an SCTP endpoint sends or receives (the stack sends and receives through dgram) is
// parsed for DATA chunks, and the first transmission of each message (a new TSN with the B bit
// when sent, with the E bit when received) is timestamped on CLOCK_MONOTONIC
// (process.hrtime, one clock for every process of the machine). Per pool-user association the
// k-th request the generator sends is the k-th the registrar receives, and (one shard: a pool
// user's answers come in order) the k-th answer: so each request splits into
//   generator send -> registrar receive (the registrar's I/O thread not reading: run queue, busy),
//   registrar receive -> registrar send (shard round trip, batching, the SCTP send window),
//   registrar send -> generator receive (the generator not reading).
// Off unless RSERPOOL_BENCH_WIRE_TRACE names a directory (`bench e2e --wire-trace DIR`). The
// registrar child loads this module with `node -r` (e2e-registrar-process.ts); the generator
// calls startWireTrace().
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

export const WIRE_TRACE_ENV = 'RSERPOOL_BENCH_WIRE_TRACE';
/** Set by the bench before it starts a registrar child: the file name the child writes. */
export const WIRE_TRACE_LABEL_ENV = 'RSERPOOL_BENCH_WIRE_TRACE_LABEL';

/** Growable list of times (ms). */
class Times {
  values = new Float64Array(1024);
  length = 0;
  push(t: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = t;
  }
}

interface Direction {
  times: Times;
  /** Highest TSN seen (serial arithmetic), -1 before the first. */
  highest: number;
}

/** "tx 40010>3863" -> times of the messages sent from SCTP port 40010 to 3863. */
let tables = new Map<string, Direction>();
let installed = false;

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const B_BIT = 0x02;
const E_BIT = 0x01;

function tap(dir: 'tx' | 'rx', b: Uint8Array): void {
  if (b.length < 16) return;
  const t = now();
  const key = `${dir} ${(b[0]! << 8) | b[1]!}>${(b[2]! << 8) | b[3]!}`;
  let d = tables.get(key);
  let o = 12;
  while (o + 16 <= b.length) {
    const length = (b[o + 2]! << 8) | b[o + 3]!;
    if (length < 4) return;
    if (b[o] === 0 && length >= 16) {
      const tsn = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
      if (d === undefined) {
        d = { times: new Times(), highest: -1 };
        tables.set(key, d);
      }
      if (d.highest < 0 || ((tsn - d.highest) | 0) > 0) {
        d.highest = tsn;
        if ((b[o + 1]! & (dir === 'tx' ? B_BIT : E_BIT)) !== 0) d.times.push(t);
      }
    }
    o += (length + 3) & ~3;
  }
}

/** Starts tapping this process's UDP sockets (once; no-op unless the environment asks). */
export function startWireTrace(): boolean {
  if (process.env[WIRE_TRACE_ENV] === undefined || installed || !isMainThread) return installed;
  installed = true;
  const proto = dgram.Socket.prototype as unknown as {
    send(this: dgram.Socket, msg: unknown, ...rest: unknown[]): void;
    emit(this: dgram.Socket, event: string | symbol, ...args: unknown[]): boolean;
  };
  const send = proto.send;
  proto.send = function (this: dgram.Socket, msg: unknown, ...rest: unknown[]): void {
    if (msg instanceof Uint8Array) tap('tx', msg);
    return send.call(this, msg, ...rest);
  };
  const emit = proto.emit;
  proto.emit = function (this: dgram.Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' && args[0] instanceof Uint8Array) tap('rx', args[0]);
    return emit.call(this, event, ...args);
  };
  return true;
}

/** Forgets what was recorded (a new run reuses the generator's port numbers). */
export function resetWireTrace(): void {
  tables = new Map();
}

/** Writes what was recorded to DIR/<name>.json: { "tx 40010>3863": [ms...], ... }. */
export function writeWireTrace(name: string, extra: Record<string, number[]> = {}): void {
  const dir = process.env[WIRE_TRACE_ENV];
  if (dir === undefined || !installed) return;
  mkdirSync(dir, { recursive: true });
  const out: Record<string, number[]> = { ...extra };
  for (const [key, d] of tables) out[key] = Array.from(d.times.values.subarray(0, d.times.length));
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(out));
}

/** Percentiles (ms) of one segment of the paced requests. */
export interface SegmentPercentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  mean: number;
  /** Mean over the slowest 1 % of requests (by generator send -> generator receive). */
  slowestMean: number;
}

export interface WireTraceSummary {
  requests: number;
  /** Generator send -> registrar receive. */
  toRegistrar: SegmentPercentiles;
  /** Registrar receive -> registrar send. */
  inRegistrar: SegmentPercentiles;
  /** Registrar send -> generator receive. */
  toGenerator: SegmentPercentiles;
  /** Generator send -> generator receive (the wire-level round trip). */
  total: SegmentPercentiles;
}

function percentiles(values: Float64Array, slow: Uint8Array): SegmentPercentiles {
  const sorted = values.slice().sort();
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
  let sum = 0;
  let slowSum = 0;
  let slowCount = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (slow[i]) {
      slowSum += values[i]!;
      slowCount++;
    }
  }
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), mean: sum / values.length, slowestMean: slowSum / slowCount };
}

/**
 * Joins the generator's file (`generator`, with "paced" = [start, end]) and the registrar's
 * (`registrar`) of one run: requests the generator sent in the paced window on associations
 * from `clientPorts` to `registrarPort`.
 */
export function summarizeWireTrace(dir: string, generator: string, registrar: string, registrarPort: number, clientPorts: number[]): WireTraceSummary {
  const g = JSON.parse(readFileSync(join(dir, `${generator}.json`), 'utf8')) as Record<string, number[]>;
  const r = JSON.parse(readFileSync(join(dir, `${registrar}.json`), 'utf8')) as Record<string, number[]>;
  const [start, end] = g.paced ?? [0, Infinity];
  const rows: Array<[number, number, number, number]> = [];
  for (const p of clientPorts) {
    const genTx = g[`tx ${p}>${registrarPort}`] ?? [];
    const regRx = r[`rx ${p}>${registrarPort}`] ?? [];
    const regTx = r[`tx ${registrarPort}>${p}`] ?? [];
    const genRx = g[`rx ${registrarPort}>${p}`] ?? [];
    const n = Math.min(genTx.length, regRx.length, regTx.length, genRx.length);
    for (let k = 0; k < n; k++) {
      if (genTx[k]! >= start! && genTx[k]! <= end!) rows.push([genTx[k]!, regRx[k]!, regTx[k]!, genRx[k]!]);
    }
  }
  const seg = (a: number, b: number): Float64Array => Float64Array.from(rows, (row) => row[b]! - row[a]!);
  const total = seg(0, 3);
  const threshold = total.slice().sort()[Math.floor(total.length * 0.99)] ?? Infinity;
  const slow = Uint8Array.from(total, (t) => (t >= threshold ? 1 : 0));
  return {
    requests: rows.length,
    toRegistrar: percentiles(seg(0, 1), slow),
    inRegistrar: percentiles(seg(1, 2), slow),
    toGenerator: percentiles(seg(2, 3), slow),
    total: percentiles(total, slow),
  };
}


// Preloaded into the registrar child: tap at once, write at exit (SIGTERM closes it normally).
if (isMainThread && process.env[WIRE_TRACE_ENV] !== undefined && process.argv.includes('registrar')) {
  startWireTrace();
  const label = process.env[WIRE_TRACE_LABEL_ENV] ?? `registrar-${process.pid}`;
  process.on('exit', () => writeWireTrace(label));
}
