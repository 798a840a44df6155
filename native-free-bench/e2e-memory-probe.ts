// Preloaded (`node -r`) into the registrar child of the e2e benchmark, and so into every thread
// of it (a Worker inherits the preloads of execArgv): it reports what the registrar's memory is
// made of without the registrar knowing. The bench asks over the child's IPC channel; the main
// thread collects garbage (with --expose-gc), asks every shard worker over a BroadcastChannel
// to do the same and report its own heap, and answers with all of it. Worker threads share the
// process RSS, so only their heaps tell one thread from another.
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';

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
}

export interface RegistrarMemory {
  rss: number;
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
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return { threadId, heapUsed: h.used_heap_size, heapTotal: h.total_heap_size, newSpace, external: m.external, arrayBuffers: m.arrayBuffers, malloced: h.malloced_memory };
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
      const memory: RegistrarMemory = { rss: process.memoryUsage.rss(), main: { ...threadHeap(), spaces }, workers: workers.sort((a, b) => a.threadId - b.threadId) };
      process.send!({ kind: 'e2e-memory', id: message.id, memory } satisfies ProbeReply);
    };
    setTimeout(finish, 10);
  });
  // The IPC channel must not keep the registrar alive either.
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}
