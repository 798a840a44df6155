// The faults of this process that escaped every handler and that it served on, as counted by
// the handlers `rserpool registrar` installs (src/cli/process-faults.ts): GET /stats shows them
// as `processFaults`, GET /metrics as `rserpool_process_faults_total{kind}`. Process-wide, as
// those handlers are (process.on); all zero in a process that did not install them (an embedder).
//
// Not counted here: an uncaught exception ends the process at once (exit 70), so no scrape
// could see it; a shard thread's fault ends that thread, which is restarted and counted in
// rserpool_shard_restarts_total.

export interface ProcessFaultCounts {
  /** Unhandled promise rejections, each reported as a BUG on stderr and served on. */
  unhandledRejections: number;
}

/** Each count and its `kind` label on /metrics: a fixed, bounded label set. */
export const PROCESS_FAULT_KINDS: ReadonlyArray<{ readonly kind: string; readonly count: keyof ProcessFaultCounts }> = [
  { kind: 'unhandled_rejection', count: 'unhandledRejections' },
];

/** This process's counts (the handlers add to them; /stats and /metrics read a copy). */
export const processFaultCounts: ProcessFaultCounts = { unhandledRejections: 0 };
