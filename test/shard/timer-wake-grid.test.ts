// The shard's PE timers wake on a 10-ms grid (src/shard/timer-wake-grid.ts, issue 14): keep-alives
// spread over the interval leave in one turn per grid step instead of one per millisecond, none
// before it is due and none more than one grid step late; every PE that answers stays, one that
// does not is removed at its timeout (RFC 5352 §3.5) as without the grid. Virtual time.
import { describe, expect, it } from 'vitest';
import { Partition, PartitionEvent } from '../../src/handlespace/partition.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { seededRandom } from '../../src/policy/random-source.js';
import { WAKE_GRID_MS, timerWakeGrid } from '../../src/shard/timer-wake-grid.js';
import { OWN, VirtualScheduler, handle, registration } from '../handlespace/helpers.js';

/** 1,000 PEs registered one per millisecond (spread keep-alives), on the grid or on plain wake-ups. */
function run(grid: boolean, answer: (peId: number) => boolean) {
  const clock = new VirtualScheduler();
  const sends: Array<{ at: number; peId: number; due: number }> = [];
  const removed: number[] = [];
  const wakeTimes = new Set<number>();
  // When each PE's next keep-alive is due (read when it is armed: registration, acknowledgement).
  const dueOf = new Map<number, number>();
  const scheduler = grid ? timerWakeGrid(WAKE_GRID_MS, clock) : clock;
  const p: Partition = new Partition({
    ownRegistrarId: OWN,
    scheduler,
    keepAliveInterval: 5000,
    keepAliveTimeout: 5000,
    random: seededRandom(7),
    onEvent: (event, el: PoolElement) => {
      wakeTimes.add(clock.now());
      if (event === PartitionEvent.SendKeepAlive) {
        sends.push({ at: clock.now(), peId: el.peId, due: dueOf.get(el.peId)! });
        // The PE answers a little later (its ACK comes over the network).
        if (answer(el.peId)) {
          const at = clock.now() + 3;
          clock.schedule(at, () => {
            const e = p.findElement(handle('pool'), el.peId);
            if (e !== undefined && p.acknowledge(e)) dueOf.set(el.peId, e.timerAt);
          });
        }
      }
      if (event === PartitionEvent.KeepAliveTimedOut) removed.push(el.peId);
    },
  });
  for (let i = 1; i <= 1000; i++) {
    clock.advance(i);
    p.register(registration('pool', i));
    dueOf.set(i, p.findElement(handle('pool'), i)!.timerAt);
  }
  return { p, clock, sends, removed, wakeTimes };
}

describe('timer wake-ups on a grid (keep-alives, issue 14)', () => {
  it('moves every wake-up to the next grid step, never earlier', () => {
    const clock = new VirtualScheduler();
    const s = timerWakeGrid(10, clock);
    const fired: number[] = [];
    s.schedule(1, () => fired.push(clock.now()));
    s.schedule(10, () => fired.push(clock.now()));
    const h = s.schedule(11, () => fired.push(-1));
    s.cancel(h);
    s.schedule(19.5, () => fired.push(clock.now()));
    clock.advance(100);
    expect(fired).toEqual([10, 10, 20]);
    expect(s.now()).toBe(100);
  });

  it('sends spread keep-alives in one turn per grid step, at most one step late, and keeps every PE that answers', () => {
    const plain = run(false, () => true);
    const grid = run(true, () => true);
    plain.clock.advance(60_000);
    grid.clock.advance(60_000);
    // The same keep-alives either way (jitter drawn from the same seed).
    expect(grid.sends.length).toBeGreaterThan(10_000);
    expect(Math.abs(grid.sends.length - plain.sends.length)).toBeLessThan(plain.sends.length * 0.01);
    for (const s of grid.sends) {
      expect(s.at % WAKE_GRID_MS).toBe(0);
      expect(s.at).toBeGreaterThanOrEqual(s.due);
      expect(s.at - s.due).toBeLessThan(WAKE_GRID_MS);
    }
    // At most one turn per grid step, each sending what fell due in it: more keep-alives per
    // turn (here 200/s, about 2 per step; at 20,000 PEs 40) than on millisecond wake-ups.
    const turns = (sends: Array<{ at: number }>) => new Set(sends.map((s) => s.at)).size;
    expect(turns(grid.sends)).toBeLessThanOrEqual(60_000 / WAKE_GRID_MS);
    expect(grid.sends.length / turns(grid.sends)).toBeGreaterThan((2 * plain.sends.length) / turns(plain.sends));
    // And no burst: a turn holds about a grid step's share (1,000 PEs / 5 s x 10 ms = 2), never hundreds.
    const perTurn = new Map<number, number>();
    for (const s of grid.sends) perTurn.set(s.at, (perTurn.get(s.at) ?? 0) + 1);
    expect(Math.max(...perTurn.values())).toBeLessThan(20);
    expect(grid.removed).toEqual([]);
    expect(grid.p.elementCount).toBe(1000);
  });

  it('removes a PE that does not answer at its keep-alive timeout, as without the grid', () => {
    const grid = run(true, (peId) => peId !== 500);
    grid.clock.advance(30_000);
    expect(grid.removed).toEqual([500]);
    expect(grid.p.elementCount).toBe(999);
  });
});
