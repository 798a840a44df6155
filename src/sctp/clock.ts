// Time for the SCTP stack: every timer of an association (T1-init, T1-cookie, T2-shutdown,
// T3-rtx, delayed SACK, HEARTBEAT) goes through a Clock, so tests run in virtual time.

/** An armed timer; pass it back to clearTimer(). */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds. Timers never keep the process alive. */
  setTimer(ms: number, callback: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** Calls `callback` once after the current event-loop turn (used to bundle one packet per turn). */
  defer(callback: () => void): void;
}

/** Node.js timers on the monotonic clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, callback) {
    const timer = setTimeout(callback, Math.min(Math.max(0, ms), 0x7fffffff));
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
  defer(callback) {
    setImmediate(callback);
  },
};

interface VirtualTimer {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * Virtual time for tests: nothing happens until advance() or runDeferred() is called; timers
 * fire in due-time order (ties in arming order), deferred callbacks before any timer.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: VirtualTimer[] = [];
  #deferred: (() => void)[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, callback: () => void): TimerHandle {
    const timer: VirtualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback, cancelled: false };
    this.#timers.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    if (handle !== undefined && handle !== null) (handle as VirtualTimer).cancelled = true;
  }

  defer(callback: () => void): void {
    this.#deferred.push(callback);
  }

  /** Runs deferred callbacks (and those they defer) until none is left. */
  runDeferred(): void {
    for (let guard = 0; this.#deferred.length > 0; guard++) {
      if (guard > 1_000_000) throw new Error('deferred callbacks keep deferring');
      const batch = this.#deferred;
      this.#deferred = [];
      for (const callback of batch) callback();
    }
  }

  /** Armed timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    this.runDeferred();
    for (;;) {
      let next: VirtualTimer | undefined;
      for (const t of this.#timers) {
        if (t.cancelled || t.at > end) continue;
        if (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = t;
      }
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next && !t.cancelled);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      this.runDeferred();
    }
    this.#now = end;
  }
}
