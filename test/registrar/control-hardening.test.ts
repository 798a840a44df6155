// The control channel against hostile or careless clients, with a made-up registrar (a
// ControlSource): /handlespace streamed and shared, bodies JSON cannot hold, half-sent
// requests that would lock the probes out, DNS rebinding (Host), slow readers, pipelined
// large bodies.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlServer, isLocalHostHeader, type ControlOptions, type ControlSource } from '../../src/registrar/control.js';
import { jsonPieces } from '../../src/registrar/control-json-stream.js';
import { DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS, DEFAULT_CONTROL_PROBE_RESERVE } from '../../src/registrar/control-connections.js';
import { handlespaceOf } from '../../native-free-bench/made-up-handlespace.js';
import type { DumpPool } from '../../src/shard/handlespace-dump.js';
import { rawConnections } from '../helpers/raw-connections.js';

let servers: ControlServer[] = [];
const sockets: Socket[] = [];
const { dial, raw } = rawConnections(sockets);
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function open(source: ControlSource, options: Partial<ControlOptions> = {}): Promise<ControlServer> {
  const server = await ControlServer.open(source, { port: 0, ...options });
  servers.push(server);
  return server;
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

/**
 * Polls until `condition` holds; false after `ms`. Used instead of a fixed wait where the server
 * acts on its own timers: on a loaded machine they fire late.
 */
async function within(ms: number, condition: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return condition();
}

describe('GET /handlespace', () => {
  it('pieces join to exactly what JSON.stringify(value, null, 2) prints', () => {
    const value = {
      a: 1,
      empty: [],
      none: {},
      skipped: undefined,
      nested: [{ x: [1, 2, [3, { y: 'a\nb "q"' }]], z: null }, undefined, 'text', [[[[{ deep: [1] }]]]]],
      date: new Date(0),
      pools: handlespaceOf(2, 3),
    };
    expect([...jsonPieces(value)].join('')).toBe(JSON.stringify(value, null, 2));
    expect([...jsonPieces([])].join('')).toBe('[]');
    expect([...jsonPieces('s')].join('')).toBe('"s"');
  });

  it('streams a large handlespace, the same document as before, one gather for concurrent requests', async () => {
    const pools = handlespaceOf(20, 1000); // 20,000 PEs, ~7 MB indented
    let gathers = 0;
    const source: ControlSource = {
      id: 7,
      handlespace: async () => {
        gathers++;
        await new Promise((r) => setTimeout(r, 100));
        return pools;
      },
      stats: async () => ({}),
    };
    const server = await open(source);
    const answers = await Promise.all(Array.from({ length: 5 }, () => fetch(`http://127.0.0.1:${server.port}/handlespace`)));
    expect(gathers).toBe(1);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await a.text();
      const doc = JSON.parse(text) as { registrarId: number; time: string; pools: DumpPool[] };
      expect(text).toBe(`${JSON.stringify({ registrarId: 7, time: doc.time, pools }, null, 2)}\n`);
    }
    await fetch(`http://127.0.0.1:${server.port}/handlespace`).then((a) => a.text());
    expect(gathers).toBe(2); // shared while in flight only, not cached
  });

  it('a body JSON cannot hold is a 500 or a cut connection, never a crash; the server goes on', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const poisoned = handlespaceOf(1, 10);
      (poisoned[0]!.elements[5] as unknown as { big: bigint }).big = 1n; // JSON.stringify throws on a BigInt
      const source: ControlSource = { id: 1, handlespace: async () => poisoned, stats: async () => ({ n: 1n }) };
      const server = await open(source);
      const base = `http://127.0.0.1:${server.port}`;
      const stats = await fetch(`${base}/stats`);
      expect(stats.status).toBe(500);
      expect(((await stats.json()) as { error: string }).error).toMatch(/cannot encode the answer.*BigInt/);
      // The head is out when the element fails: the body is cut, the client sees an error.
      await expect(fetch(`${base}/handlespace`).then((a) => a.text())).rejects.toThrow();
      expect((await fetch(`${base}/health`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('connections', () => {
  const source: ControlSource = { id: 1, handlespace: async () => [], stats: async () => ({ ok: true }) };
  const HALF = 'GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '; // a request head never finished

  it('half-sent requests from one address take its share only: /health still answers, from it too (the reserve)', async () => {
    const server = await open(source);
    const attackers: Socket[] = [];
    for (let i = 0; i < 64; i++) {
      const s = await dial(server.port, '127.0.0.2');
      s.on('error', () => undefined);
      s.write(HALF);
      attackers.push(s);
    }
    const alive = (): number => attackers.filter((s) => !s.destroyed).length;
    // Its share, and the reserve (probes only, cut after 2 s without a request head): the
    // rest are closed at once (polled: 200 ms was a fixed wait).
    await within(5000, () => alive() <= DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS + DEFAULT_CONTROL_PROBE_RESERVE);
    expect(alive()).toBe(DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS + DEFAULT_CONTROL_PROBE_RESERVE);
    // Another address is served in full.
    expect(await raw(server.port, 'GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
    // The attacker's reserve connections are cut after the reserve's 2 s (well before the
    // 10 s head timeout; a fixed 2.5 s wait could miss it on a loaded machine); then its own
    // probe is answered.
    expect(await within(8000, () => alive() === DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS)).toBe(true);
    expect(await raw(server.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '127.0.0.2')).toMatch(/^HTTP\/1\.1 200[^]*"serving"/);
    expect(await raw(server.port, 'GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '127.0.0.2')).toMatch(/^HTTP\/1\.1 503[^]*\/health and \/ready only/);
  }, 20_000);

  it('a full channel keeps answering /health and /ready in its reserve; half-sent heads are cut after 10 s', async () => {
    const server = await open({ ...source, ready: () => false }, { maxConnections: 4 });
    const holders: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await dial(server.port, `127.0.0.${10 + i}`);
      s.on('error', () => undefined);
      s.write(HALF);
      holders.push(s);
    }
    const t0 = Date.now();
    expect(await raw(server.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
    expect(await raw(server.port, 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 503[^]*not ready/);
    expect(await raw(server.port, 'GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 503[^]*too many control connections/);
    // headersTimeout (10 s), looked at every second (Node's default: every 30 s).
    await Promise.all(holders.map(closed));
    const cutAfter = Date.now() - t0;
    expect(cutAfter).toBeGreaterThan(8_000);
    expect(cutAfter).toBeLessThan(14_000);
    expect(await raw(server.port, 'GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
  }, 30_000);

  it('cuts a reader that takes no bytes for the response timeout; a second large body on one connection is 429', async () => {
    const pools = handlespaceOf(60, 1000); // ~21 MB: more than the kernel buffers hold
    const server = await open({ id: 1, handlespace: async () => pools, stats: async () => ({}) }, { responseTimeoutMs: 1000 });
    // Reads nothing for 4 s: the server's writes stall, and it gives up after 1 s.
    const slow = await dial(server.port);
    slow.on('error', () => undefined);
    slow.pause();
    slow.write('GET /handlespace HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await new Promise((r) => setTimeout(r, 4000));
    let got = 0;
    let tail = '';
    slow.on('data', (d: Buffer) => {
      got += d.length;
      tail = (tail + d.toString('latin1')).slice(-16);
    });
    slow.resume();
    await closed(slow);
    expect(got).toBeLessThan(JSON.stringify({ pools }, null, 2).length);
    expect(tail.endsWith('0\r\n\r\n')).toBe(false); // cut, not ended
    // Two pipelined: the first streams, the second is refused.
    const both = await raw(server.port, 'GET /handlespace HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /handlespace HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(both).toMatch(/^HTTP\/1\.1 200/);
    expect(both).toMatch(/HTTP\/1\.1 429[^]*one at a time per connection/);
  }, 60_000);
});

describe('GET /snapshot', () => {
  it('one snapshot body per connection at a time: a pipelined second one is 429, a later one is served', async () => {
    let takes = 0;
    const bytes = new Uint8Array(64 * 1024).fill(7);
    const source = {
      id: 1,
      handlespace: async () => [],
      stats: async () => ({}),
      snapshot: async () => {
        takes++;
        await new Promise((r) => setTimeout(r, 50));
        return bytes;
      },
    };
    const server = await open(source);
    const get = 'GET /snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const both = await raw(server.port, `${get}${get.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')}`);
    expect(both).toMatch(/^HTTP\/1\.1 200[^]*content-length: 65536/);
    expect(both).toMatch(/HTTP\/1\.1 429[^]*one at a time per connection/);
    expect(takes).toBe(1);
    const again = await fetch(`http://127.0.0.1:${server.port}/snapshot`);
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(bytes);
  });
});

describe('Host (DNS rebinding)', () => {
  it('knows the names of this host', () => {
    for (const h of ['127.0.0.1', '127.0.0.1:3870', '127.3.4.5:80', 'localhost', 'LOCALHOST:3870', '[::1]', '[::1]:3870', undefined]) {
      expect(isLocalHostHeader(h, '127.0.0.1'), String(h)).toBe(true);
    }
    for (const h of ['evil.example', 'evil.example:3870', '10.0.0.1:3870', 'localhost.evil.example', '[::2]:80', '127.0.0.1:80:80', '[::1]x', '']) {
      expect(isLocalHostHeader(h, '127.0.0.1'), h).toBe(false);
    }
    expect(isLocalHostHeader('10.0.0.1:3870', '10.0.0.1')).toBe(true);
  });

  it('without a token, answers only requests addressed to this host; probes and a token are not bound to it', async () => {
    const source: ControlSource = { id: 1, handlespace: async () => [], stats: async () => ({ ok: true }) };
    const server = await open(source);
    const ask = (path: string, host: string, extra = ''): Promise<string> => raw(server.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);
    for (const path of ['/handlespace', '/stats', '/api/pools', '/metrics']) {
      const answer = await ask(path, 'rebound.example:3870');
      expect(answer, path).toMatch(/^HTTP\/1\.1 421/);
      expect(answer).toMatch(/application\/json[^]*"error": "Host \\"rebound\.example:3870\\" is not this control channel's/);
    }
    expect(await ask('/stats', 'localhost:3870')).toMatch(/^HTTP\/1\.1 200/);
    expect(await ask('/stats', `127.0.0.1:${server.port}`)).toMatch(/^HTTP\/1\.1 200/);
    expect(await ask('/health', 'rebound.example')).toMatch(/^HTTP\/1\.1 200/);
    const token = 'a-long-enough-token-0123456789';
    const guarded = await open(source, { token });
    const askGuarded = (extra: string): Promise<string> => raw(guarded.port, `GET /stats HTTP/1.1\r\nHost: proxy.example\r\n${extra}Connection: close\r\n\r\n`);
    expect(await askGuarded(`Authorization: Bearer ${token}\r\n`)).toMatch(/^HTTP\/1\.1 200/);
    expect(await askGuarded('')).toMatch(/^HTTP\/1\.1 401/);
  });
});
