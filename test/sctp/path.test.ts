import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/sctp/clock.js';
import { Path, initialCwnd } from '../../src/sctp/path.js';

const options = { rtoInitial: 3000, rtoMin: 1000, rtoMax: 60000, mtu: 1280, pathMaxRetrans: 2 };

describe('Path', () => {
  it('starts with RTO.Initial and the §7.2.1 initial cwnd', () => {
    const path = new Path({ address: '192.0.2.1' }, options, new VirtualClock());
    expect(path.rto).toBe(3000);
    expect(path.srtt).toBeUndefined();
    expect(path.cwnd).toBe(initialCwnd(1280));
    expect(initialCwnd(1280)).toBe(4380);
    expect(initialCwnd(1500)).toBe(4380);
    expect(initialCwnd(9000)).toBe(18000);
    expect(initialCwnd(500)).toBe(2000);
  });

  it('computes SRTT, RTTVAR and RTO per §6.3.1 C2/C3, clamped to RTO.Min/Max (C6, C7)', () => {
    const path = new Path({ address: '192.0.2.1' }, { ...options, rtoMin: 10 }, new VirtualClock());
    path.measureRtt(100);
    expect(path.srtt).toBe(100);
    expect(path.rttvar).toBe(50);
    expect(path.rto).toBe(300);
    path.measureRtt(200);
    // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
    expect(path.rttvar).toBe(62.5);
    expect(path.srtt).toBe(112.5);
    expect(path.rto).toBe(112.5 + 250);
    const clamped = new Path({ address: '192.0.2.1' }, options, new VirtualClock());
    clamped.measureRtt(1);
    expect(clamped.rto).toBe(1000);
    clamped.measureRtt(100_000);
    expect(clamped.rto).toBe(60000);
    clamped.measureRtt(Number.NaN);
    clamped.measureRtt(-5);
    expect(clamped.rto).toBe(60000);
  });

  it('RTTVAR of 0 becomes the clock granularity (G1)', () => {
    const path = new Path({ address: '192.0.2.1' }, { ...options, rtoMin: 1 }, new VirtualClock());
    path.measureRtt(0);
    expect(path.rttvar).toBe(1);
    expect(path.rto).toBe(4);
  });

  it('backs off by doubling up to RTO.Max (§6.3.3 E2)', () => {
    const path = new Path({ address: '192.0.2.1' }, options, new VirtualClock());
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      path.backOff();
      seen.push(path.rto);
    }
    expect(seen).toEqual([6000, 12000, 24000, 48000, 60000, 60000]);
  });

  it('becomes inactive when errorCount exceeds Path.Max.Retrans, active again when reachable (§8.2)', () => {
    const path = new Path({ address: '192.0.2.1' }, options, new VirtualClock());
    expect(path.countError()).toBe(false);
    expect(path.countError()).toBe(false);
    expect(path.active).toBe(true);
    expect(path.countError()).toBe(true);
    expect(path.active).toBe(false);
    expect(path.countError()).toBe(false); // already inactive
    path.confirmReachable();
    expect(path.errorCount).toBe(0);
    expect(path.active).toBe(true);
  });

  it('decays cwnd to max(cwnd/2, 4*MTU) per idle RTO (§7.2.1)', () => {
    const clock = new VirtualClock();
    const path = new Path({ address: '192.0.2.1' }, options, clock);
    path.cwnd = 40 * 1280;
    clock.advance(2500);
    path.decayIdleCwnd(clock.now());
    expect(path.cwnd).toBe(40 * 1280);
    clock.advance(1000); // 3500 > one RTO of 3000
    path.decayIdleCwnd(clock.now());
    expect(path.cwnd).toBe(20 * 1280);
    path.decayIdleCwnd(clock.now()); // no second decay for the same period
    expect(path.cwnd).toBe(20 * 1280);
    clock.advance(30_000);
    path.decayIdleCwnd(clock.now());
    expect(path.cwnd).toBe(4 * 1280);
  });
});
