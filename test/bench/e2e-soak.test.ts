// `bench e2e --soak` (issue 14): a tiny soak with keep-alives every second and every PE
// re-registering every 2 s, against the registrar the bench starts. Every keep-alive the PEs
// received is answered, the registrar loses no PE, every window is reported with its latency,
// its histogram, the registrar's RSS, event-loop delay per thread and GC pauses, and the RSS
// slope is computed over the windows.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HISTOGRAM_BOUNDS_MS, WindowLatency, parseScrape, runSoak, slopePerHour } from '../../native-free-bench/e2e-soak.js';

afterEach(() => vi.restoreAllMocks());

describe('bench e2e --soak', () => {
  it('answers every keep-alive, loses no PE and reports every window', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const r = await runSoak({ soak: 3, soakWindow: 1.5, soakWarmup: 0, pes: 200, pools: 4, pus: 2, peAssociations: 2, rate: 500, keepAliveInterval: 1000, reregisterInterval: 2000, shards: 1, requestTimeout: 10_000, json: true });
    vi.restoreAllMocks();
    expect(r.summary.ended).toBeNull();
    expect(r.windows).toHaveLength(2);
    for (const w of r.windows) {
      expect(w.resolutions).toBeGreaterThan(0);
      expect(w.timeouts).toBe(0);
      expect(w.emptyAnswers).toBe(0);
      expect(w.reregistrations).toBeGreaterThan(0);
      expect(w.reregistrationFailed).toBe(0);
      expect(w.histogram.reduce((a, b) => a + b, 0)).toBe(w.resolutions);
      expect(w.p99Ms).toBeGreaterThanOrEqual(w.p50Ms);
      expect(w.registrarRssMiB).toBeGreaterThan(10);
      expect(w.registrarPes).toBe(200);
      expect(w.pesLost).toBe(0);
      // The registrar's threads and the generator, from /metrics and the generator's own monitor.
      expect(Object.keys(w.eventLoopDelay)).toEqual(expect.arrayContaining(['io', 'shard-0', 'generator']));
      expect(Object.keys(w.gc)).toEqual(expect.arrayContaining(['io', 'shard-0']));
    }
    // 200 PEs with a 1-s interval: hundreds of keep-alives, each answered.
    expect(r.summary.keepAlivesReceived).toBeGreaterThan(100);
    expect(r.summary.keepAlivesAnswered).toBe(r.summary.keepAlivesReceived);
    expect(r.summary.pesLost).toBe(0);
    expect(r.summary.pesMissingAtEnd).toBe(0);
    // Roughly 3 s x 500/s resolutions, and every PE re-registered at least once (2-s interval).
    expect(r.summary.resolutions).toBeGreaterThan(1000);
    expect(r.windows.reduce((n, w) => n + w.reregistrations, 0)).toBeGreaterThanOrEqual(200);
    expect(Number.isFinite(r.summary.rssSlopeMiBPerHour)).toBe(true);
  }, 120_000);

  it('gives percentiles within 1 % of the exact ones without keeping the values', () => {
    const w = new WindowLatency();
    const values: number[] = [];
    // 100,000 latencies from 0.05 ms to 200 ms, skewed like a real window (most under 2 ms).
    for (let i = 0; i < 100_000; i++) {
      const v = 0.05 + 2 * ((i * 7919) % 1000) / 1000 + (i % 97 === 0 ? (i % 200) : 0);
      values.push(v);
      w.add(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [0.5, 0.99, 0.999]) {
      const exact = values[Math.floor(values.length * p)]!;
      const [got] = w.percentiles(p);
      expect(got!).toBeGreaterThanOrEqual(exact * 0.999);
      expect(got!).toBeLessThanOrEqual(exact * 1.011);
    }
    expect(w.max).toBe(values.at(-1));
    expect(w.percentiles(1)[0]).toBe(w.max);
    expect(w.buckets.reduce((a, b) => a + b, 0)).toBe(100_000);
    expect(new WindowLatency().percentiles(0.5)[0]).toBeNaN();
  });

  it('fits the RSS slope by least squares, in MiB per hour', () => {
    expect(slopePerHour([[0, 100], [30, 100], [60, 100]])).toBe(0);
    // 1 MiB per minute, with noise that cancels out.
    expect(slopePerHour([[0, 100.5], [60, 100.5], [120, 102.5], [180, 102.5]])).toBeCloseTo(48, 6);
    expect(slopePerHour([[0, 1]])).toBeNaN();
  });

  it('reads the event-loop stall per thread, keep-alive timeouts and PEs from /metrics', () => {
    const s = parseScrape(
      [
        '# HELP rserpool_event_loop_delay_seconds x',
        'rserpool_event_loop_delay_seconds{thread="io",stat="p99"} 0.012',
        'rserpool_event_loop_delay_seconds{thread="io",stat="max"} 0.0225',
        'rserpool_event_loop_delay_seconds{thread="shard-0",stat="p99"} 0.0101',
        'rserpool_event_loop_delay_seconds{thread="shard-0",stat="p50"} 0.0099',
        'rserpool_keep_alive_timeouts_total 3',
        'rserpool_asap_messages_sent_total{type="endpoint_keep_alive"} 4000',
        'rserpool_pool_elements 19997',
        'rserpool_shard_batch_max_messages{shard="0"} 17',
      ].join('\n'),
    );
    // The 10-ms sampling interval is not a stall: what is beyond it is.
    expect(s.loop.io!.p99).toBeCloseTo(2);
    expect(s.loop.io!.max).toBeCloseTo(12.5);
    expect(s.loop['shard-0']!.p99).toBeCloseTo(0.1);
    expect(s.loop['shard-0']!.p50).toBe(0);
    expect(s.keepAliveTimeouts).toBe(3);
    expect(s.keepAlivesSent).toBe(4000);
    expect(s.pes).toBe(19997);
    expect(s.batchMax).toBe(17);
    expect(HISTOGRAM_BOUNDS_MS[0]).toBe(0.0625);
    expect(HISTOGRAM_BOUNDS_MS.at(-1)).toBe(16384);
  });
});
