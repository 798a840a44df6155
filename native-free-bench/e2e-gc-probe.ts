// Preloaded (`node -r`) into the registrar child of `bench e2e --soak`, and so into every thread
// of it (a Worker inherits the preloads of execArgv): each thread counts its own garbage
// collection pauses (perf_hooks 'gc' entries: count, total and longest, and how many were full
// mark-compacts). The bench asks over the child's IPC channel; the main thread asks every
// worker over a BroadcastChannel and answers with all of them, by thread ("io" for the main
// thread, "shard-0", "shard-1"... for the workers in the order they started), and every
// thread starts counting afresh: one answer per window of the soak.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

/** One thread's GC pauses since the last report. */
export interface GcPauses {
  pauses: number;
  totalMs: number;
  maxMs: number;
  /** Of `pauses`, full (mark-compact) collections. */
  major: number;
}

export type GcProbeRequest = { kind: 'e2e-gc'; id: number };
export type GcProbeReply = { kind: 'e2e-gc'; id: number; threads: Record<string, GcPauses> };

const CHANNEL = 'rserpool-e2e-gc-probe';
/** How long the main thread waits for the workers' answers. */
const WORKER_REPLY_MS = 500;

let counts: GcPauses = { pauses: 0, totalMs: 0, maxMs: 0, major: 0 };
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    counts.pauses++;
    counts.totalMs += entry.duration;
    if (entry.duration > counts.maxMs) counts.maxMs = entry.duration;
    if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
  }
});
observer.observe({ entryTypes: ['gc'] });

function take(): GcPauses {
  const out = counts;
  counts = { pauses: 0, totalMs: 0, maxMs: 0, major: 0 };
  return out;
}

const channel = new BroadcastChannel(CHANNEL);
// Never keep a thread alive: the registrar must exit on SIGTERM as it would without the probe.
channel.unref();

if (!isMainThread) {
  channel.onmessage = (event: unknown): void => {
    const data = (event as { data?: { kind?: string; id?: number } }).data;
    if (data?.kind !== 'ask') return;
    channel.postMessage({ kind: 'gc', id: data.id, threadId, gc: take() });
  };
} else if (typeof process.send === 'function') {
  const pending = new Map<number, Array<{ threadId: number; gc: GcPauses }>>();
  channel.onmessage = (event: unknown): void => {
    const data = (event as { data?: { kind?: string; id?: number; threadId?: number; gc?: GcPauses } }).data;
    if (data?.kind !== 'gc' || data.id === undefined || data.gc === undefined) return;
    pending.get(data.id)?.push({ threadId: data.threadId ?? 0, gc: data.gc });
  };
  process.on('message', (message: GcProbeRequest) => {
    if (message?.kind !== 'e2e-gc') return;
    const workers: Array<{ threadId: number; gc: GcPauses }> = [];
    pending.set(message.id, workers);
    channel.postMessage({ kind: 'ask', id: message.id });
    const main = take();
    setTimeout(() => {
      pending.delete(message.id);
      const threads: Record<string, GcPauses> = { io: main };
      workers.sort((a, b) => a.threadId - b.threadId).forEach((w, i) => (threads[`shard-${i}`] = w.gc));
      process.send!({ kind: 'e2e-gc', id: message.id, threads } satisfies GcProbeReply);
    }, WORKER_REPLY_MS).unref();
  });
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}
