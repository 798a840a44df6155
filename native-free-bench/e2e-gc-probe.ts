// Preloaded (`node -r`) into the registrar child of `bench e2e --soak`, and so into every thread
// of it (a Worker inherits the preloads of execArgv): each thread counts its own garbage
// collection pauses (perf_hooks 'gc' entries: count, total and longest, and how many were full
// mark-compacts), read by thread ("io", "shard-0", ...) through thread-reading.ts, and starts
// counting afresh: one reading per window of the soak.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { answerThreadReadings } from './thread-reading.js';

/** One thread's GC pauses since the last report. */
export interface GcPauses {
  pauses: number;
  totalMs: number;
  maxMs: number;
  /** Of `pauses`, full (mark-compact) collections. */
  major: number;
}


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

answerThreadReadings('e2e-gc', take, WORKER_REPLY_MS);
