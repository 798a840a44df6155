// The control channel against a registrar under load: a handlespace of CONTROL_LOAD_PES PEs
// (default 5,000) in 100 pools, and a pool user resolving without pause while /metrics,
// /ready and the admin API are asked. The values must match the handlespace, the resolutions
// must go on, and the time of each answer is printed (docs/benchmarks.md, "Control channel":
// CONTROL_LOAD_PES=100000 npx vitest run test/registrar/control-load.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { AsapType } from '../../src/wire/index.js';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapPeer, handleResolution, registration } from './asap-peer.js';
import { startTestRegistrar, waitFor } from './harness.js';
import { freeTcpPort } from '../helpers/ports.js';

const PES = Number(process.env.CONTROL_LOAD_PES ?? 5000);
const POOLS = 100;
const ROUNDS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One sample value of the text format (no labels). */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (m === null) throw new Error(`no ${name}`);
  return Number(m[1]);
}

const registrars: Registrar[] = [];
const peers: AsapPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
  await Promise.all(registrars.splice(0).map((r) => r.close()));
});

describe('control channel under load', () => {
  it(`answers /metrics, /ready and the admin API with ${PES} PEs while a pool user resolves without pause`, { timeout: 600_000 }, async () => {
    const controlPort = await freeTcpPort();
    const { registrar: r } = await startTestRegistrar({
      shards: 2,
      enrpAnnounce: false,
      mentorDiscoveryTimeout: 0,
      controlPort,
      maxElementsPerAssociation: PES,
      registrationRate: 1_000_000,
      resolutionRate: 1_000_000,
      keepAliveInterval: 3_600_000,
    });
    registrars.push(r);
    const base = `http://127.0.0.1:${controlPort}`;

    // The handlespace: PES PEs over POOLS pools, registered in windows of 500.
    const pe = await AsapPeer.connect(r.asapAddress);
    peers.push(pe);
    let responses = 0;
    let accepted = 0;
    pe.association.on('message', (payload: Uint8Array) => {
      if (payload[0] !== AsapType.RegistrationResponse) return;
      responses++;
      if ((payload[1]! & 0x01) === 0) accepted++; // the R bit: rejected
      pe.received.length = 0;
    });
    const started = performance.now();
    for (let i = 0; i < PES; ) {
      const end = Math.min(PES, i + 500);
      for (; i < end; i++) pe.send(registration(`load-${i % POOLS}`, 0x10000000 + i));
      await waitFor(() => responses >= end, 60_000, 'registrations answered', 5);
    }
    expect(accepted).toBe(PES);
    console.log(`registered ${PES} PEs in ${Math.round(performance.now() - started)} ms`);

    // The load: resolutions, 50 outstanding at all times, until stopped.
    const pu = await AsapPeer.connect(r.asapAddress);
    peers.push(pu);
    let answered = 0;
    let running = true;
    pu.association.on('message', () => {
      answered++;
      pu.received.length = 0;
      if (running) pu.send(handleResolution(`load-${answered % POOLS}`, 3));
    });
    for (let k = 0; k < 50; k++) pu.send(handleResolution(`load-${k % POOLS}`, 3));
    await waitFor(() => answered > 500, 30_000, 'resolutions flowing');

    const timed = async (path: string): Promise<{ ms: number; status: number; body: string }> => {
      const t = performance.now();
      const x = await fetch(`${base}${path}`);
      const body = await x.text();
      return { ms: performance.now() - t, status: x.status, body };
    };
    const times: Record<string, number[]> = { '/metrics': [], '/ready': [], '/api/pools': [], '/api/pools/load-7': [], '/api/peers': [], '/api/stats': [] };
    let lastResolutions = -1;
    let metricsBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const before = answered;
      const metrics = await timed('/metrics');
      expect(metrics.status).toBe(200);
      times['/metrics']!.push(metrics.ms);
      metricsBytes = metrics.body.length;
      expect(sample(metrics.body, 'rserpool_pool_elements')).toBe(PES);
      expect(sample(metrics.body, 'rserpool_pools')).toBe(POOLS);
      const resolutions = Number(/^rserpool_asap_messages_received_total\{type="handle_resolution"\} (\S+)$/m.exec(metrics.body)![1]);
      expect(resolutions).toBeGreaterThan(lastResolutions); // the load goes on between scrapes
      lastResolutions = resolutions;
      const ready = await timed('/ready');
      expect(ready.status).toBe(200);
      times['/ready']!.push(ready.ms);
      const pools = await timed('/api/pools');
      expect(pools.status).toBe(200);
      times['/api/pools']!.push(pools.ms);
      const list = JSON.parse(pools.body) as { pools: Array<{ elementCount: number }> };
      expect(list.pools.length).toBe(POOLS);
      expect(list.pools.reduce((n, p) => n + p.elementCount, 0)).toBe(PES);
      const one = await timed('/api/pools/load-7');
      expect(one.status).toBe(200);
      times['/api/pools/load-7']!.push(one.ms);
      expect((JSON.parse(one.body) as { elements: unknown[] }).elements.length).toBe(PES / POOLS);
      const peersAnswer = await timed('/api/peers');
      expect(peersAnswer.status).toBe(200);
      times['/api/peers']!.push(peersAnswer.ms);
      const stats = await timed('/api/stats');
      expect(stats.status).toBe(200);
      times['/api/stats']!.push(stats.ms);
      await waitFor(() => answered > before + 100, 30_000, 'resolutions still answered');
    }
    running = false;
    const rate = answered;
    console.log(
      `control channel, ${PES} PEs, /metrics ${metricsBytes} bytes, ${rate} resolutions answered meanwhile; median of ${ROUNDS} (ms): ` +
        Object.entries(times)
          .map(([path, xs]) => `${path} ${median(xs).toFixed(1)}`)
          .join(', '),
    );
  });
});
