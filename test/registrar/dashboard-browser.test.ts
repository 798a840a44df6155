// The live dashboard in a real browser: headless Chromium (Debian's `chromium`, installed by
// .ci/run) loads the page from the control channel of a registrar that has PEs (its own and a
// peer's) and a pool user resolving, and the DOM must show the pools, the PEs with their
// policy values, the peer, and the message rates; a PE registered after the page loaded must
// appear through the event stream. A screenshot of the page is saved (into docs/dashboard.png
// with RSERPOOL_DOCS_SCREENSHOT=1, the picture in docs/operations.md).
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ControlServer, controlRoutes } from '../../src/registrar/control.js';
import { dashboardRoutes } from '../../src/registrar/dashboard.js';
import { AsapFlag, PolicyType, policySettings } from '../../src/wire/index.js';
import { Chromium, findChromium } from '../helpers/chromium.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { meshed, startScope, waitFor, type ScopeMember } from '../enrp/harness.js';
import { AsapPeer } from './asap-peer.js';

const chromium = findChromium();
if (chromium.path === null) console.warn(`dashboard browser test skipped: ${chromium.reason}`);

describe.skipIf(chromium.path === null)('the dashboard in headless Chromium', () => {
  let scope: ScopeMember[] = [];
  let control: ControlServer;
  let browser: Chromium;
  const clients: AsapPeer[] = [];
  let resolving = true;
  let resolver: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    scope = await startScope(2, { shards: 2, tcpPort: 0 });
    await waitFor(() => meshed(scope), 15_000, 'the two registrars peered');
    const [here, peer] = scope as [ScopeMember, ScopeMember];
    // The control channel with every route the registrar serves (metrics, admin API, dashboard),
    // the dashboard updating each 500 ms.
    const routes = controlRoutes(here.registrar).filter((r) => r.path !== '/' && r.path !== '/dashboard' && r.path !== '/dashboard/events');
    control = await ControlServer.open(here.registrar, { port: 0, routes: [...routes, ...dashboardRoutes(here.registrar, { interval: 500 })] });
    const register = async (member: ScopeMember, pool: string, peIds: number[], policy: (i: number) => ReturnType<typeof policySettings>): Promise<void> => {
      const pe = await AsapPeer.connect(member.registrar.asapAddress);
      clients.push(pe);
      for (const [i, peId] of peIds.entries()) expect((await pe.register(pool, peId, policy(i), 7100 + i)).flags & AsapFlag.Reject).toBe(0);
    };
    await register(here, 'echo', [0x1a2b0001, 0x1a2b0002, 0x1a2b0003], (i) => policySettings(PolicyType.WeightedRoundRobin, { weight: 1 + i }));
    await register(here, 'transcode', [0x2c000001, 0x2c000002], (i) => policySettings(PolicyType.LeastUsed, { load: (i + 1) * 0x19999999 }));
    await register(peer, 'echo', [0x3d000001], () => policySettings(PolicyType.WeightedRoundRobin, { weight: 5 }));
    await register(peer, 'logger', [0x4e000001, 0x4e000002], () => policySettings(PolicyType.RoundRobin));
    // A pool user resolving about 40 times a second: the rates chart has something to draw.
    const pu = await AsapPeer.connect(here.registrar.asapAddress);
    clients.push(pu);
    resolver = (async () => {
      while (resolving) {
        await pu.resolve('echo', 3).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    browser = Chromium.launch(chromium.path!, { width: 1400, height: 1000 });
  }, 60_000);

  afterAll(async () => {
    resolving = false;
    await resolver;
    await browser?.close();
    for (const c of clients.splice(0)) await c.close();
    await control?.close();
    for (const m of scope) await m.registrar.close();
  });

  test('shows the pools, the PEs with their policy values, the peer and the rates; a new PE arrives by SSE; screenshot', async () => {
    const [here, peer] = scope as [ScopeMember, ScopeMember];
    const page = await browser.open(`http://127.0.0.1:${control.port}/`);
    await page.waitFor<boolean>(`document.querySelectorAll('[data-pe]').length >= 8`, 20_000, 'all 8 PEs on the page');
    const dom = await page.evaluate<{ id: string; status: string; pools: Record<string, { policy: string; pes: string[]; values: string[] }>; peers: string[][] }>(`(() => {
      const pools = {};
      for (const div of document.querySelectorAll('[data-pool]')) {
        pools[div.dataset.pool] = {
          policy: div.querySelector('.policy').textContent,
          pes: [...div.querySelectorAll('[data-pe]')].map((tr) => tr.dataset.pe),
          values: [...div.querySelectorAll('[data-pe]')].map((tr) => tr.children[3].textContent),
        };
      }
      const peers = [...document.querySelectorAll('[data-peer]')].map((tr) => [...tr.children].map((td) => td.textContent));
      return { id: document.getElementById('registrar-id').textContent, status: document.getElementById('status').textContent, pools, peers };
    })()`);
    expect(dom.status).toBe('live');
    expect(dom.id).toBe(`0x${here.registrar.id.toString(16).padStart(8, '0')}`);
    expect(Object.keys(dom.pools).sort()).toEqual(['echo', 'logger', 'transcode']);
    expect(dom.pools['echo']!.pes).toEqual(['0x1a2b0001', '0x1a2b0002', '0x1a2b0003', '0x3d000001']);
    expect(dom.pools['echo']!.values).toEqual(['weight 1', 'weight 2', 'weight 3', 'weight 5']);
    expect(dom.pools['echo']!.policy).toMatch(/weighted round robin/i);
    expect(dom.pools['transcode']!.values[0]).toMatch(/^load \d+/);
    expect(dom.pools['logger']!.pes).toEqual(['0x4e000001', '0x4e000002']);
    // The peer, in its state.
    const peerId = `0x${peer.registrar.id.toString(16).padStart(8, '0')}`;
    expect(dom.peers.map((p) => p[0])).toEqual([peerId]);
    expect(dom.peers[0]![1]).toBe('active');

    // A PE registered after the page loaded appears without a reload (the event stream).
    const updatesBefore = await page.evaluate<string>(`document.body.dataset.updates`);
    const late = await AsapPeer.connect(here.registrar.asapAddress);
    clients.push(late);
    expect((await late.register('transcode', 0x2c000003, policySettings(PolicyType.LeastUsed, { load: 0x7fffffff }), 7200)).flags & AsapFlag.Reject).toBe(0);
    await page.waitFor<boolean>(`!!document.querySelector('[data-pool="transcode"] [data-pe="0x2c000003"]')`, 10_000, 'the late PE on the page');
    expect(Number(await page.evaluate<string>(`document.body.dataset.updates`))).toBeGreaterThan(Number(updatesBefore));
    // Same page, not reloaded: the navigation entry is the first and only one.
    expect(await page.evaluate<number>(`performance.getEntriesByType('navigation').length`)).toBe(1);

    // Rates: the resolutions are drawn and listed once the registrar counts messages.
    const counts = here.registrar as unknown as { counters?: unknown };
    if (typeof counts.counters === 'function') {
      await page.waitFor<boolean>(`document.querySelectorAll('#chart polyline').length === 4 && [...document.querySelectorAll('#types tbody td')].some((td) => /handle.resolution/i.test(td.textContent))`, 15_000, 'the rates chart and table');
      // More history for the picture: a minute of it when the picture is for the docs.
      await new Promise((resolve) => setTimeout(resolve, process.env.RSERPOOL_DOCS_SCREENSHOT === '1' ? 60_000 : 3000));
    }

    const png = await page.screenshot(1400);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.readUInt32BE(16)).toBe(1400); // IHDR width
    expect(png.length).toBeGreaterThan(20_000); // a drawn page, not a blank one
    const path = process.env.RSERPOOL_DOCS_SCREENSHOT === '1' ? join(REPO_ROOT, 'docs', 'dashboard.png') : join(tmpdir(), 'rserpool-dashboard.png');
    writeFileSync(path, png);
    console.info(`dashboard screenshot: ${path}`);
  }, 150_000);

  test('behind a token: opened once with ?token=, the page\'s event stream gets through by the cookie', async () => {
    const [here] = scope as [ScopeMember];
    const token = 'd4shb0ard-t0ken-0123456789abcdef';
    const guarded = await ControlServer.open(here.registrar, { port: 0, token, routes: dashboardRoutes(here.registrar, { interval: 500 }) });
    try {
      const base = `http://127.0.0.1:${guarded.port}`;
      expect((await fetch(`${base}/dashboard/events`)).status).toBe(401);
      const page = await browser.open(`${base}/?token=${token}`);
      await page.waitFor<boolean>(`document.querySelectorAll('[data-pe]').length >= 8`, 20_000, 'the PEs on the page opened with the token');
      expect(await page.evaluate<string>(`document.getElementById('status').textContent`)).toBe('live');
    } finally {
      await guarded.close();
    }
  }, 60_000);
});
