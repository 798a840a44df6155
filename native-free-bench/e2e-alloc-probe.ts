// Preloaded (`node -r`) into the registrar child of `bench alloc` (message-allocation.ts), and so
// into every thread of it (a Worker inherits the preloads of execArgv): each thread counts the
// bytes it allocates on its V8 heap and its scavenges. Bytes allocated between two readings =
// heap used now - heap used at the last reading + what every GC in between freed (v8.GCProfiler
// records the heap before and after each one). Read by thread ("io", "shard-0", ...) through
// thread-reading.ts. A reading allocates a little itself (a few KB: the messages, the
// profiler's record); the bench measures that and subtracts it.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { getHeapStatistics, GCProfiler } from 'node:v8';
import { threadId } from 'node:worker_threads';
import { answerThreadReadings } from './thread-reading.js';

// With RSERPOOL_ALLOC_PROFILE_DIR: V8's sampling heap profiler runs in every thread, garbage
// included (what a scavenge collects is what this probe is about), and each reading writes the
// interval's profile as DIR/<pid>-<thread id>-<reading>.heapprofile (open it in Chrome DevTools).
const profileDir = process.env.RSERPOOL_ALLOC_PROFILE_DIR;
const session = profileDir === undefined ? null : new Session();
let readings = 0;
const SAMPLING = { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
if (session !== null) {
  session.connect();
  session.post('HeapProfiler.startSampling', SAMPLING);
}

function writeProfile(): void {
  if (session === null) return;
  const n = ++readings;
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err === null) writeFileSync(`${profileDir}/${process.pid}-${threadId}-${n}.heapprofile`, JSON.stringify(result.profile));
    session.post('HeapProfiler.startSampling', SAMPLING);
  });
}

/** One thread's V8 heap allocation since the last reading. */
export interface ThreadAllocation {
  bytes: number;
  scavenges: number;
  /** Other (mark-compact) collections. */
  fullGcs: number;
}


const WORKER_REPLY_MS = 300;

interface GcRecord {
  gcType: string;
  beforeGC: { heapStatistics: { usedHeapSize: number } };
  afterGC: { heapStatistics: { usedHeapSize: number } };
}

let profiler = new GCProfiler();
profiler.start();
let lastUsed = getHeapStatistics().used_heap_size;

function take(): ThreadAllocation {
  const stats = profiler.stop() as unknown as { statistics: GcRecord[] } | undefined;
  const used = getHeapStatistics().used_heap_size;
  profiler = new GCProfiler();
  profiler.start();
  let freed = 0;
  let scavenges = 0;
  let fullGcs = 0;
  for (const gc of stats?.statistics ?? []) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    if (gc.gcType === 'Scavenge') scavenges++;
    else fullGcs++;
  }
  const out = { bytes: used - lastUsed + freed, scavenges, fullGcs };
  writeProfile();
  lastUsed = getHeapStatistics().used_heap_size;
  return out;
}

answerThreadReadings('e2e-alloc', take, WORKER_REPLY_MS);
