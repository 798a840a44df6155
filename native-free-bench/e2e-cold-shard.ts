// Cold start of one shard, without the network: the real shard entry (src/shard/worker.ts
// `attach`) on a MessageChannel in this thread, fed batches of 32 registrations as the I/O
// thread ships them, answered batch by batch. Prints the CPU per registration of each 1,024 in
// turn, for a fresh isolate, and optionally after a warm-up of W registrations and their
// deregistrations (what a warm-up at shard start would buy; issue 14).
// Run: node [--max-semi-space-size=1] dist/native-free-bench/e2e-cold-shard.js [PES] [WARM-UP]
import { MessageChannel } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import attach from '../src/shard/worker.js';
import { ToShardWriter } from '../src/shard/thread-protocol.js';
import { AsapType, PolicyType, encodeMessage } from '../src/wire/index.js';
import { poolHandle, registrationMessages } from './e2e-load.js';

const BATCH = 32;
const ASSOCIATIONS = 10;

export interface ColdShardResult {
  /** CPU µs per operation of each 1,024 operations in turn. */
  perThousand: number[];
  meanUs: number;
}

export async function coldShard(pes: number, warmUp: number): Promise<{ warmUp?: ColdShardResult; warmUpDeregistration?: ColdShardResult; registration: ColdShardResult }> {
  const { port1, port2 } = new MessageChannel();
  attach({
    shard: 0,
    config: {
      registrarId: 1,
      keepAliveInterval: 600_000,
      keepAliveTimeout: 60_000,
      limits: { maxPoolElementsPerAssociation: 1e7, maxPoolElementsPerPool: 1e8, maxPoolElements: 1e8 },
      shardCount: 1,
    },
    port: port2,
  });
  const registrations = registrationMessages(pes, 100, PolicyType.RoundRobin);
  const up = new ToShardWriter();
  for (let a = 1; a <= ASSOCIATIONS; a++) up.associationUp(a, { address: '127.0.0.1', port: 40_000 + a }, ['127.0.0.1']);
  const first = up.take();
  port1.postMessage(first, [first]);
  let answered: (() => void) | null = null;
  port1.on('message', (m: unknown) => {
    if (m instanceof ArrayBuffer && answered !== null) {
      const a = answered;
      answered = null;
      a();
    }
  });
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const phase = async (messages: Uint8Array[]): Promise<ColdShardResult> => {
    const perThousand: number[] = [];
    const start = cpu();
    let mark = start;
    let sinceMark = 0;
    for (let i = 0; i < messages.length; i += BATCH) {
      const w = new ToShardWriter();
      const end = Math.min(messages.length, i + BATCH);
      for (let k = i; k < end; k++) w.asapMessage(1 + (k % ASSOCIATIONS), messages[k]!);
      const done = new Promise<void>((resolve) => (answered = resolve));
      const batch = w.take();
      port1.postMessage(batch, [batch]);
      await done;
      sinceMark += end - i;
      if (sinceMark >= 1024 || end === messages.length) {
        const now = cpu();
        perThousand.push((now - mark) / sinceMark);
        mark = now;
        sinceMark = 0;
      }
    }
    return { perThousand, meanUs: (cpu() - start) / messages.length };
  };
  const out: { warmUp?: ColdShardResult; warmUpDeregistration?: ColdShardResult; registration: ColdShardResult } = { registration: { perThousand: [], meanUs: NaN } };
  if (warmUp > 0) {
    out.warmUp = await phase(registrations.slice(0, warmUp));
    const deregistrations = Array.from({ length: warmUp }, (_, i) =>
      encodeMessage({ protocol: 'asap', type: AsapType.Deregistration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: poolHandle(i % 100), peId: i + 1 }),
    );
    out.warmUpDeregistration = await phase(deregistrations);
  }
  out.registration = await phase(registrations);
  port1.close();
  return out;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const pes = Number(process.argv[2] ?? 10_000);
  const warmUp = Number(process.argv[3] ?? 0);
  coldShard(pes, warmUp)
    .then((r) => {
      const line = (name: string, x: ColdShardResult | undefined): void => {
        if (x !== undefined) console.log(`${name.padEnd(22)} mean ${x.meanUs.toFixed(1)} µs; per 1,024: ${x.perThousand.map((v) => v.toFixed(0)).join(' ')}`);
      };
      line(`warm-up ${warmUp}`, r.warmUp);
      line('warm-up deregistration', r.warmUpDeregistration);
      line(`registration ${pes}`, r.registration);
      process.exit(0);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
