// The dashboard against a registrar under load: 10,000 PEs in 200 pools (their keep-alives,
// some 2,000 a second, are the load), a pool user resolving as fast as it is answered. Each
// update stays bounded, arrives on time, and shows the traffic. Prints what an update costs
// (docs/benchmarks.md, "Live dashboard").
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ControlServer } from '../../src/registrar/control.js';
import { dashboardRoutes, type DashboardUpdate } from '../../src/registrar/dashboard.js';
import { MAX_ELEMENTS_SHOWN, MAX_POOLS_SHOWN } from '../../src/registrar/dashboard-state.js';
import { AsapFlag, PolicyType, policySettings } from '../../src/wire/index.js';
import { AsapPeer } from './asap-peer.js';
import { startTestRegistrar, type TestRegistrar } from './harness.js';

const ASSOCIATIONS = 20;
const PES_PER_ASSOCIATION = 500;
const POOLS = 200;
const PES = ASSOCIATIONS * PES_PER_ASSOCIATION;

describe('the dashboard under load', () => {
  let running: TestRegistrar;
  let control: ControlServer;
  const peers: AsapPeer[] = [];
  let resolving = true;
  let resolutions = 0;
  let resolver: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    running = await startTestRegistrar({ shards: 2, registrationRate: 0, resolutionRate: 0, maxElementsPerAssociation: PES_PER_ASSOCIATION });
    const { registrar } = running;
    control = await ControlServer.open(registrar, { port: 0, routes: dashboardRoutes(registrar, { interval: 1000 }) });
    const started = performance.now();
    await Promise.all(
      Array.from({ length: ASSOCIATIONS }, async (_, a) => {
        const pe = await AsapPeer.connect(registrar.asapAddress);
        peers.push(pe);
        for (let from = 0; from < PES_PER_ASSOCIATION; from += 100) {
          await Promise.all(
            Array.from({ length: 100 }, async (_, k) => {
              const i = a * PES_PER_ASSOCIATION + from + k;
              const r = await pe.register(`load-${i % POOLS}`, 0x10000 + i, policySettings(PolicyType.LeastUsed, { load: (i % 100) * 0x028f5c28 }), 5000 + (i % 1000), 30_000);
              expect(r.flags & AsapFlag.Reject).toBe(0);
            }),
          );
        }
      }),
    );
    console.info(`dashboard load: ${PES} PEs registered in ${Math.round(performance.now() - started)} ms`);
    const pu = await AsapPeer.connect(registrar.asapAddress);
    peers.push(pu);
    resolver = (async () => {
      for (let i = 0; resolving; i++) {
        await pu.resolve(`load-${i % POOLS}`, 3).catch(() => undefined);
        resolutions++;
      }
    })();
  }, 180_000);

  afterAll(async () => {
    resolving = false;
    await resolver;
    for (const peer of peers.splice(0)) await peer.close();
    await control?.close();
    await running?.registrar.close();
  });

  test('updates stay bounded and on time, and show the traffic', async () => {
    const response = await fetch(`http://127.0.0.1:${control.port}/dashboard/events`);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    const updates: Array<{ at: number; bytes: number; update: DashboardUpdate }> = [];
    const deadline = Date.now() + 60_000;
    while (updates.length < 8) {
      if (Date.now() > deadline) throw new Error(`${updates.length} updates in 60 s`);
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended');
      buffered += decoder.decode(value, { stream: true });
      for (let cut = buffered.indexOf('\n\n'); cut >= 0; cut = buffered.indexOf('\n\n')) {
        const block = buffered.slice(0, cut);
        buffered = buffered.slice(cut + 2);
        if (!block.startsWith('event: update\n')) continue;
        const data = block.slice('event: update\ndata: '.length);
        updates.push({ at: performance.now(), bytes: Buffer.byteLength(block) + 2, update: JSON.parse(data) as DashboardUpdate });
      }
    }
    await reader.cancel();
    const last = updates[updates.length - 1]!.update;
    expect(last.totals.elements).toBe(PES);
    expect(last.totals.pools).toBe(POOLS);
    expect(last.pools.length).toBe(MAX_POOLS_SHOWN);
    expect(last.pools.every((p) => p.elementCount === PES / POOLS && p.elements.length === MAX_ELEMENTS_SHOWN)).toBe(true);
    const bytes = updates.map((u) => u.bytes);
    // Bounded: 50 pools x 20 PEs whatever the handlespace holds.
    expect(Math.max(...bytes)).toBeLessThan(300 * 1024);
    const gaps = updates.slice(1).map((u, i) => u.at - updates[i]!.at).sort((a, b) => a - b);
    const medianGap = gaps[Math.floor(gaps.length / 2)]!;
    // On time: the interval is 1 s; gathering 10,000 PEs must not stretch it much.
    expect(medianGap).toBeLessThan(2500);
    if (last.rates !== null) {
      const keepAlives = last.rates.byType.find((t) => t.direction === 'out' && /keep.alive$/i.test(t.type));
      expect(keepAlives?.perSecond ?? 0).toBeGreaterThan(100);
      const resolutionsIn = last.rates.byType.find((t) => t.direction === 'in' && /^handle.resolution$/i.test(t.type));
      expect(resolutionsIn?.perSecond ?? 0).toBeGreaterThan(0);
    }
    // What one update costs: what the dashboard asks the shards for (every pool's count, the
    // shown pools in full), against the whole handlespace it would take otherwise.
    const gathers: number[] = [];
    const wholes: number[] = [];
    const registrar = running.registrar;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const pools = await registrar.pools();
      const largest = [...pools].sort((a, b) => b.elementCount - a.elementCount).slice(0, MAX_POOLS_SHOWN);
      await Promise.all(largest.map((p) => registrar.pool(Buffer.from(p.handleHex, 'hex'))));
      const t1 = performance.now();
      await registrar.handlespace();
      wholes.push(performance.now() - t1);
      gathers.push(t1 - t0);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.info(
      `dashboard load: ${PES} PEs in ${POOLS} pools; update ${Math.round(median(bytes) / 1024)} KiB (max ${Math.round(Math.max(...bytes) / 1024)}); ` +
        `gap between updates median ${Math.round(medianGap)} ms (interval 1000); dashboard gather median ${median(gathers).toFixed(1)} ms (whole handlespace ${median(wholes).toFixed(1)} ms); ` +
        `keep-alives out ${last.rates?.byType.find((t) => t.direction === 'out' && /keep.alive$/i.test(t.type))?.perSecond ?? 'n/a'}/s, resolutions ${resolutions} during the test`,
    );
  }, 120_000);
});
