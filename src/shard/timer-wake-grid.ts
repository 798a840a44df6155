// The shard's wake-ups for its PE timers (keep-alive transmissions and timeouts, RFC 5352
// §3.4-3.5; lifetimes of peers' PEs) on a grid of WAKE_GRID_MS. The partition asks to be woken
// at its earliest due timer; with keep-alives spread over the interval, that is every
// millisecond (20,000 PEs at 5 s: 4 keep-alives a millisecond), and each wake-up sends its few
// keep-alives to the I/O thread in a batch of their own, and the I/O thread to the PEs in a
// datagram each. On the grid the shard wakes 100 times a second instead of 1,000, its
// keep-alives of one turn go out in one batch, and those for one association in one SCTP
// packet (the association bundles what is sent in a turn): fewer thread wake-ups, batches,
// datagrams and SACKs for the same keep-alives (issue 14, docs/benchmarks.md "Latency with
// keep-alives"). Keep-alives leave at most WAKE_GRID_MS late, nothing next to their seconds.
import { systemScheduler, type Scheduler } from '../handlespace/index.js';

/** Grid of the shard's timer wake-ups, ms. */
export const WAKE_GRID_MS = 10;

/**
 * `base` (Node's timers), with every wake-up moved to the next multiple of `gridMs` on the
 * monotonic clock: wake-ups asked for within one grid step share one timer turn.
 */
export function timerWakeGrid(gridMs = WAKE_GRID_MS, base: Scheduler = systemScheduler): Scheduler {
  return {
    now: () => base.now(),
    schedule: (at, callback) => base.schedule(Math.ceil(at / gridMs) * gridMs, callback),
    cancel: (handle) => base.cancel(handle),
  };
}
