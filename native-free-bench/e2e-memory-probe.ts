// Preloaded (`node -r`) into the registrar child of the e2e benchmark, and so into every thread
// of it (a Worker inherits the preloads of execArgv): it reports what the registrar's memory is
// made of without the registrar knowing. The bench asks over the child's IPC channel; the main
// thread collects garbage (with --expose-gc), asks every shard worker over a BroadcastChannel
// to do the same and report its own heap, and answers with all of it. Worker threads share the
// process RSS, so only their heaps tell one thread from another.
//
// RSERPOOL_MEMORY_PROBE_FILE=PATH (in the bench's environment, which the child inherits) also
// appends each measurement to PATH as one JSON line with every thread's heap spaces (size
// and used) and the RSS split by mapping (smaps.ts): docs/benchmarks.md, "Where the memory goes".
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapCodeStatistics, getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { memoryMap, type MemoryMap } from './smaps.js';

/** One thread's heap (V8 isolate), in bytes. */
export interface ThreadHeap {
  threadId: number;
  /** Live objects after a full GC. */
  heapUsed: number;
  /** Heap reserved by the isolate (committed pages). */
  heapTotal: number;
  /** Of heapTotal, the young generation's semi-spaces (grown under allocation, kept after GC). */
  newSpace: number;
  /** Memory of C++ objects bound to this isolate's JS objects (ArrayBuffers included). */
  external: number;
  arrayBuffers: number;
  /** Memory V8 itself malloc'ed (not heap objects). */
  malloced: number;
  /** Per heap space (new_space, old_space, code_space, large_object_space...): committed size and live bytes. */
  spaceSizes?: Record<string, { size: number; used: number }>;
  /** Bytecode and metadata, and compiled code, in bytes (v8.getHeapCodeStatistics). */
  code?: { bytecodeAndMetadata: number; code: number };
}

export interface RegistrarMemory {
  rss: number;
  /** The RSS by mapping class (smaps.ts); null where /proc is not readable. */
  map?: MemoryMap | null;
  main: ThreadHeap & { spaces: Record<string, number> };
  workers: ThreadHeap[];
}

export type ProbeRequest = { kind: 'e2e-memory'; id: number; workers: number; snapshotDir?: string };
export type ProbeReply = { kind: 'e2e-memory'; id: number; memory: RegistrarMemory };

const CHANNEL = 'rserpool-e2e-memory-probe';
/** How long the main thread waits for the workers' answers. */
const WORKER_REPLY_MS = 2000;

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first full GC may leave weakly held and finalizable objects for the second.
  gc?.();
  gc?.();
}

function threadHeap(): ThreadHeap {
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  const spaces = getHeapSpaceStatistics();
  const newSpace = spaces.find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  const spaceSizes: Record<string, { size: number; used: number }> = {};
  for (const s of spaces) spaceSizes[s.space_name] = { size: s.space_size, used: s.space_used_size };
  const c = getHeapCodeStatistics();
  return {
    threadId,
    heapUsed: h.used_heap_size,
    heapTotal: h.total_heap_size,
    newSpace,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    malloced: h.malloced_memory,
    spaceSizes,
    code: { bytecodeAndMetadata: c.bytecode_and_metadata_size, code: c.code_and_metadata_size },
  };
}

const channel = new BroadcastChannel(CHANNEL);
// Never keep a thread alive: the registrar must exit on SIGTERM as it would without the probe.
channel.unref();

if (!isMainThread) {
  channel.onmessage = (event: unknown): void => {
    const data = (event as { data?: { kind?: string; id?: number; snapshotDir?: string } }).data;
    if (data?.kind !== 'measure') return;
    collect();
    if (data.snapshotDir !== undefined) writeHeapSnapshot(join(data.snapshotDir, `registrar-${process.pid}-thread-${threadId}.heapsnapshot`));
    channel.postMessage({ kind: 'heap', id: data.id, heap: threadHeap() });
  };
} else if (typeof process.send === 'function') {
  const pending = new Map<number, ThreadHeap[]>();
  channel.onmessage = (event: unknown): void => {
    const data = (event as { data?: { kind?: string; id?: number; heap?: ThreadHeap } }).data;
    if (data?.kind !== 'heap' || data.id === undefined || data.heap === undefined) return;
    pending.get(data.id)?.push(data.heap);
  };
  process.on('message', (message: ProbeRequest) => {
    if (message?.kind !== 'e2e-memory') return;
    const workers: ThreadHeap[] = [];
    pending.set(message.id, workers);
    channel.postMessage({ kind: 'measure', id: message.id, snapshotDir: message.snapshotDir });
    const started = Date.now();
    const expected = message.workers;
    // A heap snapshot of a large heap takes seconds.
    const wait = message.snapshotDir !== undefined ? 120_000 : WORKER_REPLY_MS;
    const finish = (): void => {
      if (workers.length < expected && Date.now() - started < wait) {
        setTimeout(finish, 10);
        return;
      }
      pending.delete(message.id);
      collect();
      if (message.snapshotDir !== undefined) writeHeapSnapshot(join(message.snapshotDir, `registrar-${process.pid}-thread-${threadId}.heapsnapshot`));
      const spaces: Record<string, number> = {};
      for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = s.space_used_size;
      const memory: RegistrarMemory = { rss: process.memoryUsage.rss(), map: memoryMap(process.pid), main: { ...threadHeap(), spaces }, workers: workers.sort((a, b) => a.threadId - b.threadId) };
      const file = process.env.RSERPOOL_MEMORY_PROBE_FILE;
      if (file !== undefined && file !== '') {
        try {
          appendFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), pid: process.pid, argv: process.argv.slice(2), execArgv: process.execArgv, ...memory })}\n`);
        } catch {
          // A probe must not break the registrar.
        }
      }
      process.send!({ kind: 'e2e-memory', id: message.id, memory } satisfies ProbeReply);
    };
    setTimeout(finish, 10);
  });
  // The IPC channel must not keep the registrar alive either.
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}

// Run directly: an idle registrar's memory. `node dist/native-free-bench/e2e-memory-probe.js
// [--shards N] [--wait S] [--snapshot DIR] [--node-args 'FLAGS'] [registrar flags...]` starts `rserpool registrar` (SCTP over UDP on
// loopback, free ports, no announces, with the bin's node flags as `bench e2e` starts it, or
// FLAGS),
// waits S seconds (default 10) and prints what its memory is made of as JSON (and writes a heap
// snapshot of every thread into DIR).
// (No top-level await: the registrar preloads this file with require.)
if (isMainThread && process.argv[1] !== undefined && /e2e-memory-probe\.[jt]s$/.test(process.argv[1])) void idleRegistrarMemory();

async function idleRegistrarMemory(): Promise<void> {
  const args = process.argv.slice(2);
  const take = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const value = Number(args[i + 1]);
    args.splice(i, 2);
    return value;
  };
  const shards = take('--shards', 1);
  const waitSeconds = take('--wait', 10);
  const at = args.indexOf('--snapshot');
  const snapshotDir = at >= 0 ? args.splice(at, 2)[1] : undefined;
  const na = args.indexOf('--node-args');
  const nodeArgs = na >= 0 ? args.splice(na, 2)[1]!.split(' ').filter((a) => a !== '') : undefined;
  const { RegistrarProcess } = await import('./e2e-registrar-process.js');
  const { createSocket } = await import('node:dgram');
  const freePort = (): Promise<number> =>
    new Promise((resolve) => {
      const s = createSocket('udp4');
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
  const registrar = await RegistrarProcess.start({
    shards,
    asapPort: 3863,
    udpPort: await freePort(),
    keepAliveInterval: 5000,
    ...(nodeArgs !== undefined ? { nodeArgs } : {}),
    extraArgs: ['--tcp-port', '0', '--enrp-announce', 'off', '--mentor-discovery-timeout', '100', ...args],
  });
  await new Promise((resolve) => setTimeout(resolve, waitSeconds * 1000));
  const rssBeforeGc = registrar.rssBytes();
  const memory = await registrar.memory(shards, snapshotDir);
  await registrar.stop();
  console.log(JSON.stringify({ shards, waitSeconds, rssBeforeGc, ...memory }, null, 2));
}
