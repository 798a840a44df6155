// The control channel's operator endpoints against running registrars: Prometheus /metrics
// (values checked against the handlespace; label sets bounded after a hostile burst),
// /health and /ready during a long mentor search, the bearer token, and the admin API.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnrpType, PPID_ASAP, PPID_ENRP, PolicyType, policySettings } from '../../src/wire/index.js';
import type { Registrar } from '../../src/registrar/index.js';
import { ControlServer } from '../../src/registrar/control.js';
import { AsapPeer } from './asap-peer.js';
import { freeUdpPort, poolsOverShards, startTestRegistrar, waitFor } from './harness.js';
import { meshed, startScope, type ScopeMember } from '../enrp/harness.js';
import { EnrpPeer } from '../enrp/enrp-peer.js';
import { runCliAsync } from '../helpers/cli.js';
import { freeTcpPort } from '../helpers/ports.js';

/** The compiled `rserpool` in a child process, without blocking this event loop (the registrar runs in it). */
const cli = (args: string[], timeoutMs?: number) => runCliAsync(args, timeoutMs);

/** One sample of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (version 0.0.4): samples, and the TYPE of each family. */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (s.length === 0) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return s.reduce((n, x) => n + x.value, 0);
}

const registrars: Registrar[] = [];
const peers: AsapPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
  await Promise.all(registrars.splice(0).map((r) => r.close()));
});

async function registrar(config: Parameters<typeof startTestRegistrar>[0] = {}): Promise<{ r: Registrar; base: string }> {
  const controlPort = await freeTcpPort();
  const { registrar: r } = await startTestRegistrar({ shards: 2, enrpAnnounce: false, mentorDiscoveryTimeout: 0, controlPort, ...config });
  registrars.push(r);
  return { r, base: `http://127.0.0.1:${r.controlPort}` };
}

async function peer(r: Registrar): Promise<AsapPeer> {
  const p = await AsapPeer.connect(r.asapAddress);
  peers.push(p);
  return p;
}

const dir = mkdtempSync(join(tmpdir(), 'rserpool-control-'));
const TOKEN = 'c0ntrol-t0ken-for-the-tests-0123456789abcdef';
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
const bearer = { authorization: `Bearer ${TOKEN}` };

describe('GET /metrics', () => {
  it('exports the handlespace, message counts by type and policy, per-shard figures: values match the handlespace', async () => {
    const { r, base } = await registrar();
    const pe = await peer(r);
    const pools = poolsOverShards('metrics', 4, 2);
    const policies = [policySettings(PolicyType.RoundRobin), policySettings(PolicyType.LeastUsed, { load: 0x1000 }), policySettings(PolicyType.WeightedRandom, { weight: 3 }), policySettings(PolicyType.RoundRobin)];
    let peId = 0x0e000001;
    let registered = 0;
    for (const [i, pool] of pools.entries()) {
      for (let k = 0; k <= i; k++) {
        const response = await pe.register(pool, peId++, policies[i]);
        expect(response.error).toBeNull();
        registered++;
      }
    }
    for (const pool of pools) await pe.resolve(pool);
    await pe.resolve(pools[1]!); // least-used twice
    await pe.resolve('metrics-no-such-pool'); // unknown pool: cause 0x9

    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseMetrics(await response.text());

    // Gauges of the MIB's objects, against the handlespace as /handlespace shows it.
    const handlespace = (await r.handlespace()).filter((p) => p.handle.startsWith('metrics'));
    expect(handlespace.length).toBe(4);
    expect(value(samples, 'rserpool_pools')).toBe(handlespace.length);
    expect(value(samples, 'rserpool_pool_elements')).toBe(registered);
    expect(value(samples, 'rserpool_pool_elements')).toBe(handlespace.reduce((n, p) => n + p.elements.length, 0));
    expect(types.get('rserpool_pool_elements')).toBe('gauge');
    const stats = await r.stats();
    for (const shard of stats.shards) expect(value(samples, 'rserpool_shard_pool_elements', { shard: String(shard.shard) })).toBe(shard.poolElements);
    expect(value(samples, 'rserpool_registrar_ready')).toBe(1);
    expect(value(samples, 'rserpool_registrar_info', { registrar_id: `0x${r.id.toString(16).padStart(8, '0')}`, asap_port: String(r.asapAddress.port), asap_announce: 'off' })).toBe(1);
    expect(value(samples, 'rserpool_registrar_uptime_seconds')).toBeGreaterThan(0);
    // By policy (pools 0 and 3 Round Robin with 1 + 4 PEs, 1 Least Used with 2, 2 Weighted Random with 3).
    expect(value(samples, 'rserpool_pools_by_policy', { policy: 'round-robin' })).toBe(2);
    expect(value(samples, 'rserpool_pool_elements_by_policy', { policy: 'round-robin' })).toBe(5);
    expect(value(samples, 'rserpool_pool_elements_by_policy', { policy: 'least-used' })).toBe(2);
    expect(value(samples, 'rserpool_pool_elements_by_policy', { policy: 'weighted-random' })).toBe(3);
    expect(value(samples, 'rserpool_pool_elements_by_policy')).toBe(registered);
    expect(value(samples, 'rserpool_enrp_peer_last_heard_max_seconds')).toBe(0);
    // No takeover, no warm restart: no association to a PE of ours was started.
    expect(value(samples, 'rserpool_pe_associations', { state: 'open' })).toBe(stats.peAssociations.open);
    expect(value(samples, 'rserpool_pe_association_events_total', { event: 'started' })).toBe(stats.peAssociations.started);

    // Counters by message type, cause and policy.
    expect(types.get('rserpool_asap_messages_received_total')).toBe('counter');
    expect(value(samples, 'rserpool_asap_messages_received_total', { type: 'registration' })).toBe(registered);
    expect(value(samples, 'rserpool_asap_messages_received_total', { type: 'handle_resolution' })).toBe(6);
    expect(value(samples, 'rserpool_asap_messages_sent_total', { type: 'registration_response' })).toBe(registered);
    expect(value(samples, 'rserpool_asap_messages_sent_total', { type: 'handle_resolution_response' })).toBe(6);
    expect(value(samples, 'rserpool_handle_resolutions_total', { policy: 'round-robin' })).toBe(2);
    expect(value(samples, 'rserpool_handle_resolutions_total', { policy: 'least-used' })).toBe(2);
    expect(value(samples, 'rserpool_handle_resolutions_total', { policy: 'weighted-random' })).toBe(1);
    expect(value(samples, 'rserpool_handle_resolutions_total', { policy: 'unknown-pool' })).toBe(1);
    expect(value(samples, 'rserpool_asap_error_causes_sent_total', { cause: 'unknown_pool_handle' })).toBe(1);
    expect(value(samples, 'rserpool_registrations_total', { outcome: 'new' })).toBe(registered);
    expect(value(samples, 'rserpool_keep_alive_timeouts_total')).toBe(0);

    // Per thread and SCTP.
    for (const thread of ['io', 'shard-0', 'shard-1']) expect(value(samples, 'rserpool_event_loop_delay_seconds', { thread, stat: 'max' })).toBeGreaterThanOrEqual(0);
    expect(value(samples, 'rserpool_shard_batches_total')).toBeGreaterThan(0);
    expect(value(samples, 'rserpool_shard_batch_messages_total')).toBeGreaterThanOrEqual(registered + 6);
    expect(value(samples, 'rserpool_shard_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(value(samples, 'rserpool_sctp_associations', { endpoint: 'asap' })).toBe(1);
    expect(value(samples, 'rserpool_sctp_send_queue_bytes', { endpoint: 'asap' })).toBeGreaterThanOrEqual(0);
    // No label names a PE or a pool.
    for (const s of samples) for (const v of Object.values(s.labels)) expect(v).not.toMatch(/metrics-|0x0e0000/);
  });

  it('keeps its label sets bounded after a hostile burst of unknown message types', async () => {
    const { r, base } = await registrar();
    const pe = await peer(r);
    const sent = 2000;
    for (let i = 0; i < sent; i++) {
      const type = 0x0f + (i % (0x100 - 0x0f)); // every type byte past ASAP's, over and over
      pe.association.send(new Uint8Array([type, 0, 0, 8, (i >>> 8) & 0xff, i & 0xff, 0, 0]), PPID_ASAP);
    }
    let samples: Sample[] = [];
    await waitFor(
      async () => {
        samples = parseMetrics(await (await fetch(`${base}/metrics`)).text()).samples;
        return value(samples, 'rserpool_asap_messages_received_total', { type: 'unknown' }) >= sent;
      },
      20_000,
      'the burst counted',
      100,
    );
    const typeLabels = new Set(samples.filter((s) => s.name === 'rserpool_asap_messages_received_total').map((s) => s.labels.type));
    expect(typeLabels.size).toBeLessThanOrEqual(15); // 14 ASAP types and "unknown"
    expect(value(samples, 'rserpool_asap_messages_received_total', { type: 'unknown' })).toBe(sent);
    // Each is answered with an ASAP_ERROR (Unrecognized Message), the answers counted as causes.
    const errors = (await r.stats()).errorsSent;
    expect(errors).toBeGreaterThan(0);
    expect(value(samples, 'rserpool_asap_error_causes_sent_total', { cause: 'unrecognized_message' })).toBeGreaterThanOrEqual(errors);
    for (const family of new Set(samples.map((s) => s.name).filter((n) => n.startsWith('rserpool_')))) {
      expect(samples.filter((s) => s.name === family).length, family).toBeLessThanOrEqual(40);
    }
  });
});

describe('GET /metrics: ENRP', () => {
  it('counts ENRP messages by type (unknown ones together) and the causes of the ENRP_ERRORs sent; /api/peers shows the peer', async () => {
    const { r, base } = await registrar({ peerHeartbeatCycle: 200 });
    const h = await EnrpPeer.open(0x77);
    try {
      await h.connect(r.enrpAddress);
      h.send({ type: EnrpType.Presence, checksum: null, serverInfo: null });
      await waitFor(async () => (await r.stats()).peers.includes(0x77), 5000, 'the peer known');
      const header = (type: number): Uint8Array => {
        const bytes = new Uint8Array(12);
        const view = new DataView(bytes.buffer);
        bytes[0] = type;
        view.setUint16(2, 12);
        view.setUint32(4, 0x77);
        view.setUint32(8, r.id);
        return bytes;
      };
      // Unknown types are dropped without an answer (RFC 5353 has no action bits for them);
      // a HANDLE_UPDATE without its parameters gets an ENRP_ERROR, Invalid Values.
      for (const type of [0x30, 0x31, 0xfe]) h.association!.send(header(type), PPID_ENRP);
      for (let i = 0; i < 2; i++) h.association!.send(header(EnrpType.HandleUpdate), PPID_ENRP);
      await waitFor(() => h.received.filter((m) => m.type === EnrpType.Error).length >= 2, 5000, 'two ENRP_ERRORs');
      const { samples } = parseMetrics(await (await fetch(`${base}/metrics`)).text());
      expect(value(samples, 'rserpool_enrp_messages_received_total', { type: 'unknown' })).toBe(3);
      expect(value(samples, 'rserpool_enrp_messages_received_total', { type: 'handle_update' })).toBe(2);
      expect(value(samples, 'rserpool_enrp_messages_received_total', { type: 'presence' })).toBeGreaterThanOrEqual(1);
      expect(value(samples, 'rserpool_enrp_messages_sent_total', { type: 'error' })).toBe(2);
      expect(value(samples, 'rserpool_enrp_error_causes_sent_total', { cause: 'invalid_values' })).toBe(2);
      expect(value(samples, 'rserpool_enrp_peers', { state: 'active' })).toBe(1);
      const peers = (await (await fetch(`${base}/api/peers`)).json()) as { peers: Array<{ id: string; state: string; associated: boolean }> };
      expect(peers.peers).toEqual([expect.objectContaining({ id: '0x00000077', state: 'active', associated: true })]);
    } finally {
      await h.close();
    }
  });
});

describe('GET /health and /ready', () => {
  it('/health answers at once; /ready is 503 until the mentor search is over, then 200', async () => {
    const controlPort = await freeTcpPort();
    const silent = await freeUdpPort(); // a static peer nobody answers at: the search runs to its timeout
    const started = startTestRegistrar({ shards: 2, enrpAnnounce: false, controlPort, peers: [{ address: '127.0.0.1', port: 9901, udpPort: silent }], mentorDiscoveryTimeout: 2500 });
    started.then((t) => registrars.push(t.registrar)).catch(() => undefined);
    const base = `http://127.0.0.1:${controlPort}`;
    await waitFor(() => fetch(`${base}/health`).then((x) => x.status === 200, () => false), 5000, 'control channel up');
    const health = (await (await fetch(`${base}/health`)).json()) as { status: string };
    expect(health.status).toBe('serving');
    const early = await fetch(`${base}/ready`);
    expect(early.status).toBe(503);
    expect(((await early.json()) as { status: string }).status).toBe('not ready');
    const { samples } = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    expect(value(samples, 'rserpool_registrar_ready')).toBe(0);
    await started;
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ready');
  });

  it('/ready is 503 while a shard is being restarted', async () => {
    const controlPort = await freeTcpPort();
    const { registrar: r, logs } = await startTestRegistrar({ shards: 2, enrpAnnounce: false, mentorDiscoveryTimeout: 0, controlPort });
    registrars.push(r);
    const base = `http://127.0.0.1:${controlPort}`;
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    // Readiness read right after the death is logged and the restart begun, not polled (a
    // poll can miss a quick restart): the new thread has not run the attach task yet.
    const seen: boolean[] = [];
    const push = logs.push.bind(logs);
    logs.push = (...records) => {
      if (records.some((x) => x.msg.startsWith('shard worker died'))) setImmediate(() => seen.push(r.ready()));
      return push(...records);
    };
    await r.shardThreads[1]!.terminate();
    await waitFor(() => seen.length > 0, 5000, 'the shard\'s death logged');
    expect(seen).toEqual([false]);
    await waitFor(() => fetch(`${base}/ready`).then((x) => x.status === 200), 10_000, '/ready 200 once the shard is back');
    expect(r.ready()).toBe(true);
  });
});

describe('bearer token', () => {
  it('with --control-token-file: 401 without or with a wrong token; header, ?token= and its cookie pass; probes need none', async () => {
    const { base } = await registrar({ controlTokenFile: tokenFile });
    for (const path of ['/metrics', '/handlespace', '/stats', '/api/pools']) {
      const none = await fetch(`${base}${path}`);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await none.json()) as { error: string }).error).toMatch(/needs the bearer token/);
      const wrong = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status, path).toBe(401);
      expect(((await wrong.json()) as { error: string }).error).toBe('wrong token');
      expect((await fetch(`${base}${path}?token=nope`)).status).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: bearer })).status, path).toBe(200);
    }
    const viaQuery = await fetch(`${base}/api/pools?token=${TOKEN}`);
    expect(viaQuery.status).toBe(200);
    const cookie = viaQuery.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^rserpool_control_token=.*HttpOnly/);
    expect((await fetch(`${base}/metrics`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { headers: { cookie: 'rserpool_control_token=wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('holds at most --control-max-connections connections', async () => {
    const source = { id: 1, handlespace: async () => [], stats: async () => ({}) };
    const server = await ControlServer.open(source, { port: 0, maxConnections: 2 });
    const open = (): Promise<Socket> =>
      new Promise((resolve) => {
        const s = connect(server.port, '127.0.0.1', () => resolve(s));
      });
    try {
      const [a, b] = [await open(), await open()];
      // Beyond the cap: the probe reserve (8 connections, /health and /ready only), then cut at once.
      const reserve: Socket[] = [];
      for (let i = 0; i < 8; i++) reserve.push(await open());
      const ask = (s: Socket, path: string): Promise<string> => {
        const answer = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
        s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        return answer;
      };
      expect(await ask(reserve[0]!, '/health')).toMatch(/^HTTP\/1\.1 200/);
      expect(await ask(reserve[1]!, '/stats')).toMatch(/^HTTP\/1\.1 503/);
      const c = await open();
      await new Promise<void>((resolve) => c.once('close', () => resolve())); // no room left: cut at once
      expect(await ask(a, '/stats')).toMatch(/^HTTP\/1\.1 200/);
      for (const s of [a, b, ...reserve]) s.destroy();
    } finally {
      await server.close();
    }
  });

  it('refuses to start on a non-loopback address without a token; starts there with one', async () => {
    const controlPort = await freeTcpPort();
    await expect(startTestRegistrar({ shards: 1, enrpAnnounce: false, mentorDiscoveryTimeout: 0, controlPort, controlAddress: '0.0.0.0' })).rejects.toThrow(
      /control channel on 0\.0\.0\.0 \(not loopback\) needs a bearer token: give --control-token-file/,
    );
    await expect(startTestRegistrar({ shards: 1, enrpAnnounce: false, mentorDiscoveryTimeout: 0, controlPort, controlTokenFile: join(dir, 'missing') })).rejects.toThrow(/cannot read the control token file/);
    const short = join(dir, 'short');
    writeFileSync(short, 'abc\n');
    await expect(startTestRegistrar({ shards: 1, enrpAnnounce: false, mentorDiscoveryTimeout: 0, controlPort, controlTokenFile: short })).rejects.toThrow(/at least 16/);
    const { base } = await registrar({ controlAddress: '0.0.0.0', controlTokenFile: tokenFile });
    expect((await fetch(`${base}/stats`)).status).toBe(401);
    expect((await fetch(`${base}/stats`, { headers: bearer })).status).toBe(200);
  });
});

describe('the command line', () => {
  it('rserpool dump reads /handlespace with --token-file; without it, says what is missing', async () => {
    const { r } = await registrar({ controlTokenFile: tokenFile });
    const pe = await peer(r);
    await pe.register('dump-with-token', 0x0e500001);
    const without = await cli(['dump', '--registrar', `127.0.0.1:${r.controlPort}`]);
    expect(without.status).toBe(1);
    expect(without.stderr).toMatch(/needs its bearer token: give --token-file/);
    const withToken = await cli(['dump', '--registrar', `127.0.0.1:${r.controlPort}`, '--token-file', tokenFile]);
    expect(withToken.status, withToken.stderr).toBe(0);
    expect(withToken.stdout).toMatch(/Pool "dump-with-token" .*1 element/);
    expect(withToken.stdout).toContain('0x0e500001');
  });

  it('rserpool registrar --control-address 0.0.0.0 without a token file: a clear error, exit 1, nothing started', async () => {
    const controlPort = await freeTcpPort();
    const x = await cli(['registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--announce', 'off', '--enrp-announce', 'off', '--control-port', String(controlPort), '--control-address', '0.0.0.0']);
    expect(x.status).toBe(1);
    expect(x.stderr).toMatch(/cannot start: cannot open the control channel: the control channel on 0\.0\.0\.0 \(not loopback\) needs a bearer token: give --control-token-file FILE/);
    expect(x.stderr).toMatch(/hint: the control channel: --control-address, --control-token-file/);
    const bad = await cli(['registrar', '--control-address', 'my-host']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--control-address.*expected an IP address/);
  });
});

describe('admin API', () => {
  it('reads pools, one pool, one PE, peers and stats; bad paths and methods get JSON errors', async () => {
    const { r, base } = await registrar();
    const pe = await peer(r);
    await pe.register('api-pool', 0x0e200001, policySettings(PolicyType.WeightedRandom, { weight: 7 }));
    await pe.register('api-pool', 0x0e200002, policySettings(PolicyType.WeightedRandom, { weight: 2 }));
    await pe.register('api/slash', 0x0e200003);
    const get = async (path: string, status = 200): Promise<any> => {
      const x = await fetch(`${base}${path}`);
      expect(x.status, path).toBe(status);
      expect(x.headers.get('content-type'), path).toMatch(/^application\/json/);
      return x.json();
    };
    expect((await get('/api')).endpoints).toContain('GET /api/pools');
    const list = await get('/api/pools');
    expect(list.registrarId).toBe(`0x${r.id.toString(16).padStart(8, '0')}`);
    expect(list.pools).toEqual([
      { handle: 'api-pool', handleHex: Buffer.from('api-pool').toString('hex'), policy: { type: PolicyType.WeightedRandom, name: 'WeightedRandom' }, elementCount: 2, path: '/api/pools/api-pool' },
      { handle: 'api/slash', handleHex: Buffer.from('api/slash').toString('hex'), policy: { type: PolicyType.RoundRobin, name: 'RoundRobin' }, elementCount: 1, path: '/api/pools/api%2Fslash' },
    ]);
    const pool = await get('/api/pools/api-pool');
    expect(pool.elementCount).toBe(2);
    expect(pool.elements.map((e: { peId: string }) => e.peId)).toEqual(['0x0e200001', '0x0e200002']);
    expect(pool.elements[0]).toMatchObject({ peId: '0x0e200001', home: `0x${r.id.toString(16).padStart(8, '0')}`, policy: { weight: 7 } });
    expect((await get(`/api/pools/hex:${Buffer.from('api-pool').toString('hex')}`)).handle).toBe('api-pool');
    expect((await get('/api/pools/api%2Fslash')).elements[0].peId).toBe('0x0e200003');
    expect((await get('/api/pools/api-pool/elements/0x0e200002')).policy).toEqual({ weight: 2 });
    expect((await get('/api/pools/api-pool/elements/e200002')).peId).toBe('0x0e200002');
    expect((await get('/api/pools/api-pool/elements')).elements.length).toBe(2);
    expect((await get('/api/peers')).peers).toEqual([]);
    const stats = await get('/api/stats');
    expect(stats.stats.registrarId).toBe(r.id);
    expect(stats.counters.asapReceived.registration).toBe(3);

    expect((await get('/api/pools/nope', 404)).error).toMatch(/no pool nope/);
    expect((await get('/api/pools/api-pool/elements/0x0e2000ff', 404)).error).toMatch(/no PE 0x0e2000ff in pool api-pool/);
    expect((await get('/api/pools/api-pool/elements/zz', 400)).error).toMatch(/not hexadecimal/);
    expect((await get('/api/pools/hex:abc', 400)).error).toMatch(/even number of hex digits/);
    expect((await get('/api/pools/%E0%A4%A', 400)).error).toMatch(/URL encoding/);
    expect((await get('/api/nothing', 404)).error).toMatch(/no such resource/);
    expect((await get('/api/pools/api-pool/members', 404)).error).toMatch(/no such resource/);
    const post = await fetch(`${base}/api/pools`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toMatch(/GET/);
    expect(((await post.json()) as { error: string }).error).toMatch(/POST \/api\/pools: allowed/);
    expect((await get('/nothing', 404)).error).toMatch(/no such resource/);
  });

  it('DELETE of a PE: 403 without a configured token, 401 without the token, removed with it', async () => {
    const open = await registrar();
    const p1 = await peer(open.r);
    await p1.register('api-del', 0x0e300001);
    const refused = await fetch(`${open.base}/api/pools/api-del/elements/0x0e300001`, { method: 'DELETE' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/--control-token-file/);

    const { r, base } = await registrar({ controlTokenFile: tokenFile });
    const pe = await peer(r);
    await pe.register('api-del', 0x0e300001);
    await pe.register('api-del', 0x0e300002);
    const url = `${base}/api/pools/api-del/elements/0x0e300001`;
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(401);
    const done = await fetch(url, { method: 'DELETE', headers: bearer });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ removed: { pool: 'api-del', peId: '0x0e300001' } });
    expect((await r.pool(new TextEncoder().encode('api-del')))!.elements.map((e) => e.peId)).toEqual([0x0e300002]);
    expect((await fetch(url, { method: 'DELETE', headers: bearer })).status).toBe(404);
    expect((await fetch(`${base}/api/pools/api-del`, { method: 'DELETE', headers: bearer })).status).toBe(405);
    const { samples } = parseMetrics(await (await fetch(`${base}/metrics`, { headers: bearer })).text());
    expect(value(samples, 'rserpool_deregistrations_total')).toBe(1);
  });

  it('DELETE tells the peers (ENRP DEL_PE), and a peer\'s PE is removed at its home only (409)', async () => {
    const scope: ScopeMember[] = await startScope(2, { controlPort: 0 });
    const ports = [await freeTcpPort(), await freeTcpPort()];
    const servers = await Promise.all(scope.map((m, i) => ControlServer.open(m.registrar, { port: ports[i]!, token: TOKEN })));
    try {
      await waitFor(() => meshed(scope), 10_000, 'the two registrars peered');
      const [a, b] = scope.map((m) => m.registrar) as [Registrar, Registrar];
      const pe = await AsapPeer.connect(a.asapAddress);
      peers.push(pe);
      await pe.register('api-scope', 0x0e400001);
      const handle = new TextEncoder().encode('api-scope');
      await waitFor(async () => (await b.pool(handle))?.elements.length === 1, 10_000, 'B learns the PE');
      const peersOfA = (await (await fetch(`http://127.0.0.1:${ports[0]}/api/peers`, { headers: bearer })).json()) as { peers: Array<{ id: string; state: string; localChecksum: number }> };
      expect(peersOfA.peers).toEqual([expect.objectContaining({ id: `0x${b.id.toString(16).padStart(8, '0')}`, state: 'active' })]);
      // At B the PE is A's: B refuses to remove it.
      const atB = await fetch(`http://127.0.0.1:${ports[1]}/api/pools/api-scope/elements/0x0e400001`, { method: 'DELETE', headers: bearer });
      expect(atB.status).toBe(409);
      expect(((await atB.json()) as { error: string }).error).toMatch(/homed at another registrar/);
      const atA = await fetch(`http://127.0.0.1:${ports[0]}/api/pools/api-scope/elements/0x0e400001`, { method: 'DELETE', headers: bearer });
      expect(atA.status).toBe(200);
      await waitFor(async () => (await b.pool(handle)) === null, 10_000, 'B hears the DEL_PE');
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(scope.map((m) => m.registrar.close()));
    }
  });
});

