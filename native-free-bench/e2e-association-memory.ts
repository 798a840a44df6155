// What one SCTP association costs a server: this process is the server (one
// endpoint over UDP on loopback, answering every message), a child process opens N client
// associations and exchanges one ASAP-sized message on each. The server's heap (after full GCs)
// with N associations minus without, over N, is the cost of one association; with
// --snapshot FILE the heap is also summarized by constructor (objects that number about N or
// more are the per-association ones).
// Run (compiled, node --expose-gc): node --expose-gc dist/native-free-bench/e2e-association-memory.js
//      [--associations N] [--snapshot DIR]
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { openSctpEndpoint } from '../src/transport/index.js';
import { freeUdpPort } from './e2e-load.js';
import { summarizeHeapSnapshot } from './e2e-heap-summary.js';

const MESSAGE_BYTES = 100;
const PPID = 11;

interface Sample {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

function sample(): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapUsed: getHeapStatistics().used_heap_size, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
}

async function server(associations: number, snapshotDir: string | undefined): Promise<void> {
  const udpPort = await freeUdpPort();
  const endpoint = await openSctpEndpoint({ mode: 'udp', port: 3863, udpPort, address: '127.0.0.1' });
  endpoint.on('association', (a) => a.on('message', (payload, ppid) => a.send(Uint8Array.from(payload), ppid)));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = sample();
  const child = fork(fileURLToPath(import.meta.url), ['--client', String(udpPort), String(associations)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`client exited (${code})`)));
  });
  // Let delayed SACKs and timers settle.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const live = endpoint.associations.length;
  const after = sample();
  const per = (k: keyof Sample): string => ((after[k] - before[k]) / live).toFixed(0);
  console.log(
    `${live} associations; per association: heap ${per('heapUsed')} B, external ${per('external')} B (array buffers ${per('arrayBuffers')} B), RSS ${per('rss')} B`,
  );
  if (snapshotDir !== undefined) {
    const file = writeHeapSnapshot(join(snapshotDir, 'association-memory.heapsnapshot'));
    console.log(`  heap by constructor, groups of at least ${Math.floor(live * 0.9)} (count, bytes, bytes per association):`);
    for (const g of summarizeHeapSnapshot(file, Math.floor(live * 0.9)).slice(0, 30)) {
      console.log(`  ${g.name.padEnd(48)} ${String(g.count).padStart(8)} ${String(g.bytes).padStart(10)} ${(g.bytes / live).toFixed(0).padStart(6)}`);
    }
  }
  child.kill('SIGTERM');
  await endpoint.close();
}

async function client(udpPort: number, associations: number): Promise<void> {
  const endpoint = await openSctpEndpoint({ mode: 'udp', port: 20_000, udpPort: 0, address: '127.0.0.1' });
  const message = new Uint8Array(MESSAGE_BYTES);
  // Batches of 100: an INIT flood beyond the server's backlog is not what is measured.
  for (let first = 0; first < associations; first += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, associations - first) }, async (_, k) => {
        const port = first + k === 0 ? endpoint : await endpoint.openPort(20_001 + first + k);
        const a = await port.connect({ address: '127.0.0.1', port: 3863, udpPort });
        await new Promise<void>((resolve) => {
          a.once('message', () => resolve());
          a.send(Uint8Array.from(message), PPID);
        });
      }),
    );
  }
  process.send!('ready');
  await new Promise((resolve) => setTimeout(resolve, 600_000).unref());
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--client') return client(Number(argv[1]), Number(argv[2]));
  let associations = 2000;
  let snapshotDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--associations') associations = Number(argv[++i]);
    else if (argv[i] === '--snapshot') snapshotDir = argv[++i];
  }
  await server(associations, snapshotDir);
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
