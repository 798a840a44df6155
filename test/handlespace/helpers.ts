// Test helpers: a virtual-time scheduler and registration builders.
import type { Registration } from '../../src/handlespace/registration.js';
import type { Scheduler } from '../../src/handlespace/timer-schedule.js';
import { ParamType, PolicyType, TransportUse } from '../../src/wire/constants.js';
import { policySettings, type PolicySettings } from '../../src/wire/policy-settings.js';

interface Wakeup {
  at: number;
  callback: () => void;
  cancelled: boolean;
}

/** Time moves only through advance(); wake-ups run in time order. */
export class VirtualScheduler implements Scheduler {
  time = 0;
  private wakeups: Wakeup[] = [];

  now(): number {
    return this.time;
  }

  schedule(at: number, callback: () => void): unknown {
    const w = { at, callback, cancelled: false };
    this.wakeups.push(w);
    return w;
  }

  cancel(handle: unknown): void {
    (handle as Wakeup).cancelled = true;
  }

  /** Wake-ups scheduled and not cancelled nor run. */
  get pending(): number {
    return this.wakeups.filter((w) => !w.cancelled).length;
  }

  advance(to: number): void {
    for (;;) {
      this.wakeups = this.wakeups.filter((w) => !w.cancelled);
      let next: Wakeup | undefined;
      for (const w of this.wakeups) if (w.at <= to && (next === undefined || w.at < next.at)) next = w;
      if (next === undefined) break;
      this.wakeups.splice(this.wakeups.indexOf(next), 1);
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = to;
  }
}

export const OWN = 0x11111111;
export const PEER = 0x22222222;

export function handle(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function registration(pool: string, peId: number, over: Partial<Registration> & { policy?: PolicySettings } = {}): Registration {
  return {
    poolHandle: handle(pool),
    peId,
    homeRegistrarId: OWN,
    registrationLife: 30_000,
    policy: policySettings(PolicyType.RoundRobin),
    userTransport: { protocol: ParamType.SctpTransport, port: 5000, use: TransportUse.DataOnly, addressCount: 1 },
    associationId: 1,
    encoded: new Uint8Array([peId & 0xff]),
    ...over,
  };
}
