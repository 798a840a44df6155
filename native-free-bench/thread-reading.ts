// What the probes preloaded into every thread of a registrar child (`node -r`: a Worker inherits
// the preloads of execArgv) share: the bench asks over the child's IPC channel; the main thread
// asks every worker over a BroadcastChannel and answers with all the readings, by thread ("io"
// for the main thread, "shard-0", "shard-1"... for the workers in the order they started).
// Each thread's `take()` reads its figure and starts counting afresh.
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

export type ThreadReadingRequest<K extends string> = { kind: K; id: number };
export type ThreadReadingReply<K extends string, T> = { kind: K; id: number; threads: Record<string, T> };

/** Answers the bench's requests of `kind` with every thread's `take()`; workers get `workerReplyMs` to answer. */
export function answerThreadReadings<T>(kind: string, take: () => T, workerReplyMs: number): void {
  const channel = new BroadcastChannel(`rserpool-${kind}-probe`);
  // Never keep a thread alive: the registrar must exit on SIGTERM as it would without the probe.
  channel.unref();
  if (!isMainThread) {
    channel.onmessage = (event: unknown): void => {
      const data = (event as { data?: { ask?: number } }).data;
      if (data?.ask === undefined) return;
      channel.postMessage({ id: data.ask, threadId, reading: take() });
    };
    return;
  }
  if (typeof process.send !== 'function') return;
  const pending = new Map<number, Array<{ threadId: number; reading: T }>>();
  channel.onmessage = (event: unknown): void => {
    const data = (event as { data?: { id?: number; threadId?: number; reading?: T } }).data;
    if (data?.id === undefined || data.reading === undefined) return;
    pending.get(data.id)?.push({ threadId: data.threadId ?? 0, reading: data.reading });
  };
  process.on('message', (message: ThreadReadingRequest<string>) => {
    if (message?.kind !== kind) return;
    const workers: Array<{ threadId: number; reading: T }> = [];
    pending.set(message.id, workers);
    channel.postMessage({ ask: message.id });
    const main = take();
    setTimeout(() => {
      pending.delete(message.id);
      const threads: Record<string, T> = { io: main };
      workers.sort((a, b) => a.threadId - b.threadId).forEach((w, i) => (threads[`shard-${i}`] = w.reading));
      process.send!({ kind, id: message.id, threads } satisfies ThreadReadingReply<string, T>);
    }, workerReplyMs).unref();
  });
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}
