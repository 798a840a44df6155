// Wire codec micro-benchmarks (RFC 5352/5354 messages on the registrar hot path):
// decode, encode and decode+encode of a Registration, a Handle Resolution, and Handle
// Resolution Responses with 3 and 128 pool elements (objects, and from cached PE bytes).
//   npx tsx native-free-bench/codec.ts [--json] [--time ms]     or     rserpool bench codec
import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import {
  AsapType,
  decodeMessage,
  encodeHandleResolutionResponse,
  encodeMessage,
  encodePoolElement,
  ParamType,
  parseAddress,
  policySettings,
  PolicyType,
  transportParameter,
  TransportUse,
  Writer,
  type AsapHandleResolution,
  type AsapHandleResolutionResponse,
  type AsapRegistration,
  type Message,
  type PoolElementParameter,
} from '../src/wire/index.js';

/** Operations per timed iteration: one call is well under the timer's resolution. */
const BATCH = 200;

function poolElement(i: number): PoolElementParameter {
  return {
    peId: 0x10000000 + i,
    homeRegistrarId: 0x11111111,
    registrationLife: 180_000,
    userTransport: transportParameter(ParamType.SctpTransport, 20000 + i, [parseAddress(`10.77.${i >> 8}.${i & 0xff}`)!], TransportUse.DataPlusControl),
    policy: policySettings(PolicyType.LeastUsed, { load: i * 1000 }),
    asapTransport: transportParameter(ParamType.SctpTransport, 30000 + i, [parseAddress(`10.77.${i >> 8}.${i & 0xff}`)!], TransportUse.DataOnly),
  };
}

const handle = new TextEncoder().encode('EchoPool');

function registration(): AsapRegistration {
  return { protocol: 'asap', type: AsapType.Registration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: handle, poolElement: poolElement(1) };
}

function handleResolution(): AsapHandleResolution {
  return { protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: handle, items: 3 };
}

function response(n: number): AsapHandleResolutionResponse {
  const pes: PoolElementParameter[] = [];
  for (let i = 0; i < n; i++) pes.push(poolElement(i));
  return { protocol: 'asap', type: AsapType.HandleResolutionResponse, flags: 0, paddedLength: false, unknownParams: null, poolHandle: handle, policy: policySettings(PolicyType.LeastUsed), poolElements: pes, error: null };
}

interface Row {
  case: string;
  bytes: number;
  medianNs: number;
  meanNs: number;
  opsPerSecond: number;
  samples: number;
}

export async function run(options: { json?: boolean; time?: number } = {}): Promise<void> {
  const time = options.time ?? 500;
  const bench = new Bench({ time, warmupTime: Math.min(200, time) });
  const writer = new Writer(64 * 1024);
  const sizes = new Map<string, number>();
  let sink = 0;

  const messageCases: [string, Message][] = [
    ['Registration', registration()],
    ['Handle Resolution', handleResolution()],
    ['Handle Resolution Response, 3 PEs', response(3)],
    ['Handle Resolution Response, 128 PEs', response(128)],
  ];
  for (const [name, message] of messageCases) {
    const bytes = encodeMessage(message);
    const decoded = decodeMessage('asap', bytes);
    if (!decoded.ok) throw new Error(`${name}: ${decoded.error.reason}`);
    const m = decoded.message;
    for (const op of ['decode', 'encode', 'decode+encode']) sizes.set(`${op} ${name}`, bytes.length);
    bench.add(`decode ${name}`, () => {
      for (let i = 0; i < BATCH; i++) {
        const r = decodeMessage('asap', bytes);
        if (r.ok) sink += r.message.flags;
      }
    });
    bench.add(`encode ${name}`, () => {
      for (let i = 0; i < BATCH; i++) {
        writer.reset();
        sink += encodeMessage(m, writer).length;
      }
    });
    bench.add(`decode+encode ${name}`, () => {
      for (let i = 0; i < BATCH; i++) {
        const r = decodeMessage('asap', bytes);
        writer.reset();
        if (r.ok) sink += encodeMessage(r.message, writer).length;
      }
    });
  }
  for (const n of [3, 128]) {
    const cached = response(n).poolElements.map(encodePoolElement);
    const policy = policySettings(PolicyType.LeastUsed);
    const name = `encode Handle Resolution Response, ${n} cached PEs`;
    writer.reset();
    sizes.set(name, encodeHandleResolutionResponse(writer, 0, handle, policy, cached).length);
    bench.add(name, () => {
      for (let i = 0; i < BATCH; i++) {
        writer.reset();
        sink += encodeHandleResolutionResponse(writer, 0, handle, policy, cached).length;
      }
    });
  }

  await bench.run();
  const rows: Row[] = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
    const medianNs = (r.latency.p50 * 1e6) / BATCH;
    rows.push({
      case: task.name,
      bytes: sizes.get(task.name) ?? 0,
      medianNs: Math.round(medianNs),
      meanNs: Math.round((r.latency.mean * 1e6) / BATCH),
      opsPerSecond: Math.round(1e9 / medianNs),
      samples: r.latency.samplesCount,
    });
  }
  if (sink === -1) console.log(sink);
  if (options.json) {
    console.log(JSON.stringify({ suite: 'codec', node: process.version, batch: BATCH, timeMs: time, results: rows }, null, 2));
    return;
  }
  console.log(`wire codec, node ${process.version}, ${BATCH} ops per sample, ${time} ms per case`);
  console.log(`${'case'.padEnd(52)} ${'bytes'.padStart(6)} ${'ns/op (median)'.padStart(15)} ${'ops/s'.padStart(12)}`);
  for (const row of rows) {
    console.log(`${row.case.padEnd(52)} ${String(row.bytes).padStart(6)} ${String(row.medianNs).padStart(15)} ${row.opsPerSecond.toLocaleString('en-US').padStart(12)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--time');
  await run({ json: args.includes('--json'), time: t >= 0 ? Number(args[t + 1]) : undefined });
}
