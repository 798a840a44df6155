// The live dashboard on the control channel: its event stream against a registrar with PEs
// (bounded: viewers capped, a slow reader dropped), its rates arithmetic, its bounded view of a
// large handlespace; the page itself in headless Chromium (test/registrar/dashboard-browser.test.ts).
import { connect } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { ControlServer } from '../../src/registrar/control.js';
import type { ControlCounters } from '../../src/registrar/control.js';
import { dashboardRoutes, type DashboardUpdate } from '../../src/registrar/dashboard.js';
import { RateHistory, RATE_WINDOW_MS } from '../../src/registrar/dashboard-rates.js';
import { dashboardHandlespace, dashboardPeers, MAX_ELEMENTS_SHOWN, MAX_POOLS_SHOWN, poolsToShow, summarize } from '../../src/registrar/dashboard-state.js';
import type { DumpPool } from '../../src/shard/handlespace-dump.js';
import { AsapFlag, PolicyType, policySettings } from '../../src/wire/index.js';
import { AsapPeer } from './asap-peer.js';
import { startTestRegistrar, waitFor, type TestRegistrar } from './harness.js';

/** Reads server-sent events from a stream: each call returns the next event of that name. */
class EventReader {
  private buffered = '';
  private readonly decoder = new TextDecoder();
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async next(name: string, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (let cut = this.buffered.indexOf('\n\n'); cut >= 0; cut = this.buffered.indexOf('\n\n')) {
        const block = this.buffered.slice(0, cut);
        this.buffered = this.buffered.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === name && data !== undefined) return data;
      }
      if (Date.now() > end) throw new Error(`no "${name}" event within ${timeoutMs} ms`);
      const { value, done } = await this.reader.read();
      if (done) throw new Error('the stream ended');
      this.buffered += this.decoder.decode(value, { stream: true });
    }
  }

  async update(timeoutMs?: number): Promise<DashboardUpdate> {
    return JSON.parse(await this.next('update', timeoutMs)) as DashboardUpdate;
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

function counters(asapIn: number, enrpIn = 0): ControlCounters {
  return {
    asapReceived: { ASAP_HANDLE_RESOLUTION: asapIn },
    asapSent: { ASAP_HANDLE_RESOLUTION_RESPONSE: asapIn },
    enrpReceived: { ENRP_PRESENCE: enrpIn },
    enrpSent: {},
    errorCauses: {},
    keepAliveTimeouts: 1,
    unreachableReports: 0,
    takeovers: 0,
    mentorSyncs: 0,
    handleResolutions: {},
  };
}

describe('dashboard rates', () => {
  test('messages per second between samples; the per-type table over the last minute', () => {
    const history = new RateHistory();
    const t0 = 1_000_000;
    history.add(t0, counters(0));
    history.add(t0 + 2000, counters(200, 4)); // 100/s ASAP, 2/s ENRP
    history.add(t0 + 4000, counters(300, 4)); // 50/s, 0/s
    const view = history.view();
    expect(view.points).toEqual([
      { t: t0 + 2000, asapIn: 100, asapOut: 100, enrpIn: 2, enrpOut: 0 },
      { t: t0 + 4000, asapIn: 50, asapOut: 50, enrpIn: 0, enrpOut: 0 },
    ]);
    // Over the 4 s there are: 300 resolutions (75/s), 4 presences (1/s); types never seen are left out.
    expect(view.byType).toEqual([
      { protocol: 'ASAP', direction: 'in', type: 'ASAP_HANDLE_RESOLUTION', total: 300, perSecond: 75 },
      { protocol: 'ASAP', direction: 'out', type: 'ASAP_HANDLE_RESOLUTION_RESPONSE', total: 300, perSecond: 75 },
      { protocol: 'ENRP', direction: 'in', type: 'ENRP_PRESENCE', total: 4, perSecond: 1 },
    ]);
    expect(view.totals.keepAliveTimeouts).toBe(1);
  });

  test('the history holds the window, no more (bounded by window / interval)', () => {
    const history = new RateHistory();
    for (let i = 0; i <= 1000; i++) history.add(i * 1000, counters(i * 10));
    const view = history.view();
    expect(history.size).toBe(RATE_WINDOW_MS / 1000 + 1);
    expect(view.points.length).toBe(RATE_WINDOW_MS / 1000);
    expect(view.points[0]!.t).toBe(1000 * 1000 - RATE_WINDOW_MS + 1000);
    expect(view.points.every((p) => p.asapIn === 10)).toBe(true);
    // The table: the last minute only.
    expect(view.byType[0]!.perSecond).toBe(10);
  });

  test('a clock that goes back or counters that restart begin a new history', () => {
    const history = new RateHistory();
    history.add(10_000, counters(500));
    history.add(12_000, counters(600));
    history.add(14_000, counters(10)); // the counters restarted
    expect(history.view().points).toEqual([]);
    history.add(13_000, counters(20)); // the clock went back
    expect(history.size).toBe(1);
  });
});

describe('dashboard view of the handlespace', () => {
  test('the largest pools first, bounded; totals exact; IDs in hex', () => {
    const pools: DumpPool[] = [];
    for (let p = 0; p < MAX_POOLS_SHOWN + 20; p++) {
      const size = p === 7 ? MAX_ELEMENTS_SHOWN + 30 : 1 + (p % 3);
      pools.push({
        handle: `pool-${p}`,
        handleHex: Buffer.from(`pool-${p}`).toString('hex'),
        policy: { type: PolicyType.WeightedRoundRobin, name: 'WeightedRoundRobin' },
        elements: Array.from({ length: size }, (_, i) => ({
          peId: 0x1000 + size - i,
          home: i % 2 === 0 ? 0xaabbccdd : 0x11223344,
          registrationLife: 30_000,
          userTransport: { protocol: 'sctp', addresses: ['10.0.0.1', '2001:db8::1'], port: 5000 + i, use: 'data' as const },
          asapTransport: null,
          policy: { weight: i + 1 },
          association: 0,
          unreachableReports: 0,
          timer: { kind: 'keep-alive transmission', inMs: 1500 },
        })),
      });
    }
    const summaries = summarize(pools);
    // The pools to show, and only those, are asked for in full.
    const shownHandles = poolsToShow(summaries).map((p) => p.handleHex);
    expect(shownHandles.length).toBe(MAX_POOLS_SHOWN);
    const detailed = new Map(pools.filter((p) => shownHandles.includes(p.handleHex)).map((p) => [p.handleHex, p]));
    const view = dashboardHandlespace(0xaabbccdd, summaries, detailed, []);
    const total = pools.reduce((n, p) => n + p.elements.length, 0);
    expect(view.totals).toEqual({ pools: MAX_POOLS_SHOWN + 20, elements: total, peers: 0 });
    expect(view.pools.length).toBe(MAX_POOLS_SHOWN);
    const big = view.pools[0]!;
    expect(big).toMatchObject({ handle: 'pool-7', policy: 'Weighted Round Robin', elementCount: MAX_ELEMENTS_SHOWN + 30 });
    expect(big.elements.length).toBe(MAX_ELEMENTS_SHOWN);
    expect(big.elements[0]).toMatchObject({ id: '0x00001001', ownedHere: false, transport: 'sctp 10.0.0.1:5049 (+1)', timer: 'keep-alive transmission in 1.5 s' });
    // Sizes never grow down the list.
    for (let i = 1; i < view.pools.length; i++) expect(view.pools[i]!.elementCount).toBeLessThanOrEqual(view.pools[i - 1]!.elementCount);
    // A pool shown whose elements did not come (gone meanwhile): its count, no rows.
    detailed.delete(big.handleHex);
    expect(dashboardHandlespace(0xaabbccdd, summaries, detailed, []).pools[0]).toMatchObject({ handle: 'pool-7', elements: [] });
  });

  test('peers: state, address, and whether the checksums agree', () => {
    const peer = { id: '0x00000002', serverId: 2, state: 'active', lastHeardMsAgo: 120, address: '10.0.0.2:9901', associated: true };
    const view = dashboardPeers([
      { ...peer, announcedChecksum: 5, localChecksum: 5 },
      { ...peer, announcedChecksum: 5, localChecksum: 6 },
      { ...peer, announcedChecksum: null, localChecksum: 6, address: null },
    ]);
    expect(view.map((p) => p.checksum)).toEqual(['in sync', 'differs', 'unknown']);
    expect(view[2]!.address).toBe('');
  });
});

describe('dashboard on the control channel of a running registrar', () => {
  let running: TestRegistrar | null = null;
  let control: ControlServer | null = null;
  const peers: AsapPeer[] = [];
  afterEach(async () => {
    for (const peer of peers.splice(0)) await peer.close();
    await control?.close();
    await running?.registrar.close();
    control = null;
    running = null;
  });

  async function start(options: { maxClients?: number; interval?: number; maxBacklogBytes?: number } = {}): Promise<{ base: string }> {
    running = await startTestRegistrar({ shards: 2 });
    const { registrar } = running;
    control = await ControlServer.open(registrar, { port: 0, routes: dashboardRoutes(registrar, { interval: 200, ...options }) });
    return { base: `http://127.0.0.1:${control.port}` };
  }

  async function register(pool: string, peIds: number[], policy = policySettings(PolicyType.WeightedRoundRobin, { weight: 7 })): Promise<AsapPeer> {
    const pe = await AsapPeer.connect(running!.registrar.asapAddress);
    peers.push(pe);
    for (const peId of peIds) expect((await pe.register(pool, peId, policy, 6000 + (peId % 1000))).flags & AsapFlag.Reject).toBe(0);
    return pe;
  }

  test('/ and /dashboard serve the page; /dashboard/events streams the pools, PEs and policy values', async () => {
    const { base } = await start();
    await register('dash-pool', [0x101, 0x102]);
    await register('other-pool', [0x201], policySettings(PolicyType.LeastUsed, { load: 0x20000000 }));
    for (const path of ['/', '/dashboard']) {
      const page = await fetch(base + path);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toContain('new EventSource("dashboard/events")');
      expect(html).not.toMatch(/innerHTML/); // network data goes in as text only
    }
    const response = await fetch(`${base}/dashboard/events`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = new EventReader(response.body!.getReader());
    const u = await events.update();
    expect(u.registrarId).toMatch(/^0x[0-9a-f]{8}$/);
    expect(u.totals).toMatchObject({ pools: 2, elements: 3 });
    const dash = u.pools.find((p) => p.handle === 'dash-pool')!;
    expect(dash).toMatchObject({ policy: expect.stringMatching(/weighted/i), elementCount: 2 });
    expect(dash.elements.map((e) => e.id)).toEqual(['0x00000101', '0x00000102']);
    expect(dash.elements[0]!.policy).toMatchObject({ weight: 7 });
    expect(dash.elements[0]!.transport).toMatch(/^sctp 127\.0\.0\.1:\d+$/);
    expect(dash.elements[0]!.home).toBe(u.registrarId);
    expect(u.pools.find((p) => p.handle === 'other-pool')!.elements[0]!.policy).toMatchObject({ load: 0x20000000 });
    // A PE registered now is in a later update.
    await register('dash-pool', [0x103]);
    let later = await events.update();
    while (later.totals.elements < 4) later = await events.update();
    expect(later.pools.find((p) => p.handle === 'dash-pool')!.elements.map((e) => e.id)).toContain('0x00000103');
    await events.cancel();
  });

  test('viewers beyond --dashboard-clients get 503; a viewer that leaves frees its place', async () => {
    const { base } = await start({ maxClients: 2 });
    const first = await fetch(`${base}/dashboard/events`);
    const second = await fetch(`${base}/dashboard/events`);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await fetch(`${base}/dashboard/events`);
    expect(third.status).toBe(503);
    expect(((await third.json()) as { error: string }).error).toContain('--dashboard-clients 2');
    const firstEvents = new EventReader(first.body!.getReader());
    let u = await firstEvents.update();
    while (u.clients.connected < 2) u = await firstEvents.update(); // the first may predate the second viewer
    expect(u.clients).toMatchObject({ connected: 2, max: 2 });
    await firstEvents.cancel();
    await waitFor(async () => {
      const again = await fetch(`${base}/dashboard/events`);
      if (again.status !== 200) return false;
      await again.body!.cancel();
      return true;
    }, 5000, 'a place freed');
    await second.body!.cancel();
  });

  test('a viewer that does not read is dropped once its backlog passes the bound', async () => {
    const { base } = await start({ interval: 100, maxBacklogBytes: 16 * 1024 });
    // Enough PEs that every update is some 100 KiB: 5 associations x 4 pools x 25 PEs.
    await Promise.all(
      Array.from({ length: 5 }, async (_, a) => {
        const pe = await AsapPeer.connect(running!.registrar.asapAddress);
        peers.push(pe);
        for (let p = 0; p < 4; p++) {
          for (let i = 0; i < 25; i++) {
            const peId = a * 1000 + p * 100 + i + 1;
            expect((await pe.register(`slow-pool-${a}-${p}`, peId, policySettings(PolicyType.RoundRobin), 6000 + i)).flags & AsapFlag.Reject).toBe(0);
          }
        }
      }),
    );
    const port = Number(new URL(base).port);
    const socket = connect(port, '127.0.0.1');
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Shrink what the kernel holds for us, then stop reading.
    socket.setNoDelay(true);
    socket.write('GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    socket.pause();
    // A reading viewer sees the drop counted.
    const watcher = await fetch(`${base}/dashboard/events`);
    const events = new EventReader(watcher.body!.getReader());
    let u = await events.update();
    const deadline = Date.now() + 25_000;
    while (u.clients.dropped === 0) {
      if (Date.now() > deadline) throw new Error('the slow viewer was not dropped');
      u = await events.update();
    }
    expect(u.clients).toMatchObject({ dropped: 1, connected: 1 });
    socket.resume(); // read what is left: the server has closed its end
    await waitFor(() => closed, 5000, 'the slow viewer\'s connection closed');
    await events.cancel();
  }, 40_000);

  test('an update gathers the peers once (the counts and the peers come from one metrics gather)', async () => {
    running = await startTestRegistrar({ shards: 2 });
    const { registrar } = running;
    let peerGathers = 0;
    const gatherPeers = registrar.peers.bind(registrar);
    registrar.peers = () => {
      peerGathers++;
      return gatherPeers();
    };
    // One tick only while the test looks: the next is a minute away.
    control = await ControlServer.open(registrar, { port: 0, routes: dashboardRoutes(registrar, { interval: 60_000 }) });
    await register('once-pool', [0x301]);
    const response = await fetch(`http://127.0.0.1:${control.port}/dashboard/events`);
    const events = new EventReader(response.body!.getReader());
    const u = await events.update();
    expect(peerGathers).toBe(1);
    expect(u.totals).toMatchObject({ pools: 1, elements: 1, peers: 0 });
    expect(u.rates).not.toBeNull(); // the counts came too
    expect(u.rates!.totals).toMatchObject({ takeovers: 0 });
    await events.cancel();
  });

  test('--dashboard-clients 0 turns the dashboard off', async () => {
    running = await startTestRegistrar({ shards: 1 });
    control = await ControlServer.open(running.registrar, { port: 0, routes: dashboardRoutes(running.registrar, { maxClients: 0 }) });
    expect((await fetch(`http://127.0.0.1:${control.port}/dashboard`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${control.port}/dashboard/events`)).status).toBe(404);
  });
});
