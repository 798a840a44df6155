// PoolElement and PoolUser against the real registrar over real SCTP-over-UDP on loopback:
// registration, policies, re-registration, deregistration, keep-alives, failover to a second
// registrar, announce-based hunting (RFC 5352 §3.1-3.6).
import dgram from 'node:dgram';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import {
  AsapEndpoint,
  NoRegistrarError,
  PoolElement,
  PoolUser,
  RegistrarConnection,
  RegistrationRejectedError,
  UnknownPoolHandleError,
  loadFromFraction,
  poolHandleBytes,
} from '../../src/client/index.js';
import { openSctpEndpoint } from '../../src/transport/open-sctp-endpoint.js';
import { AsapType, Cause, ParamType, PolicyType, TransportUse } from '../../src/wire/constants.js';
import { encodeMessage } from '../../src/wire/encode.js';
import { parseAddress } from '../../src/wire/address.js';
import { transportParameter } from '../../src/wire/parameters.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import { LOOPBACK, asapEndpoint, registrar, sctpPort, sleep, testGroup, until } from './harness.js';
import { prepareMulticast } from '../helpers/multicast.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  // Clients first (their deregistrations need the registrars), then registrars.
  const all = open.splice(0).reverse();
  for (const x of all) await x.close();
});

async function startRegistrar(config: Parameters<typeof registrar>[0] = {}): Promise<Registrar> {
  const r = await registrar(config);
  open.unshift(r);
  return r;
}

async function endpoint(options: Parameters<typeof asapEndpoint>[0]): Promise<AsapEndpoint> {
  const e = await asapEndpoint(options);
  open.push(e);
  return e;
}

async function element(asap: AsapEndpoint, handle: string, port: number, policy: { type: number; load?: number; weight?: number } = { type: PolicyType.RoundRobin }, life = 30_000): Promise<PoolElement> {
  const pe = new PoolElement(asap, { poolHandle: handle, policy, userTransport: { port, protocol: 'sctp', use: 'data' }, registrationLife: life });
  open.push({ close: () => pe.close() });
  await pe.register();
  return pe;
}

describe('pool element and pool user at the registrar', () => {
  it('a PE on the registrar\'s host, on the wildcard, registers the host\'s addresses and the registrar accepts them (a loopback peer is on this host)', async () => {
    const r = await startRegistrar();
    // Not the harness: no local address, no localAddresses (a library user's defaults).
    const asap = await AsapEndpoint.open({ registrars: [r.asapAddress], announces: false, sctp: { mode: 'udp' }, timers: { t2Registration: 1000, t5ServerHunt: 500 } });
    open.push(asap);
    expect(asap.localAddresses.length).toBeGreaterThan(0);
    const pe = await element(asap, 'wildcard', 7101);
    expect(pe.registered).toBe(true);
    const pu = new PoolUser(asap, { staleCacheValue: 0 });
    const [found] = await pu.resolve('wildcard');
    expect(found!.userTransport.addresses).toEqual([...asap.localAddresses]);
    const counters = (await r.stats()).shards[0]!.counters;
    expect(counters['foreignAddressRejections']).toBe(0);
  });

  it('registers, resolves (round robin rotates), deregisters', async () => {
    const r = await startRegistrar();
    const asap = await endpoint({ registrars: [r.asapAddress] });
    const pes = [await element(asap, 'rr', 7001), await element(asap, 'rr', 7002), await element(asap, 'rr', 7003)];
    expect(pes.every((p) => p.registered)).toBe(true);
    expect(new Set(pes.map((p) => p.peId)).size).toBe(3);
    expect(pes.every((p) => p.peId > 0)).toBe(true);

    const pu = new PoolUser(asap, { staleCacheValue: 0 });
    const all = await pu.resolve('rr', { items: 10 });
    expect(all.map((e) => e.peId).sort()).toEqual(pes.map((p) => p.peId).sort());
    const byId = new Map(all.map((e) => [e.peId, e]));
    const seven = byId.get(pes[0]!.peId)!;
    expect(seven.userTransport).toEqual({ protocol: 'sctp', addresses: [LOOPBACK], port: 7001, use: 'data', serviceCode: 0 });
    expect(seven.policy.type).toBe(PolicyType.RoundRobin);
    expect(seven.registrationLife).toBe(30_000);
    expect(seven.homeRegistrarId).toBe(r.id);

    // Round robin: one item per resolution visits every PE before repeating.
    const picks: number[] = [];
    for (let i = 0; i < 6; i++) picks.push((await pu.resolve('rr', { items: 1 }))[0]!.peId);
    expect(new Set(picks.slice(0, 3)).size).toBe(3);
    expect(picks.slice(3)).toEqual(picks.slice(0, 3));

    await pes[1]!.close();
    expect((await pu.resolve('rr', { items: 10 })).map((e) => e.peId).sort()).toEqual([pes[0]!.peId, pes[2]!.peId].sort());
    await pes[0]!.close();
    await pes[2]!.close();
    await expect(pu.resolve('rr')).rejects.toBeInstanceOf(UnknownPoolHandleError);
  });

  it('least used: load updates re-register and change the order', async () => {
    const r = await startRegistrar();
    const asap = await endpoint({ registrars: [r.asapAddress] });
    const lu = { type: PolicyType.LeastUsed };
    const a = await element(asap, 'lu', 7101, { ...lu, load: loadFromFraction(0.5) });
    const b = await element(asap, 'lu', 7102, { ...lu, load: loadFromFraction(0.2) });
    const c = await element(asap, 'lu', 7103, { ...lu, load: loadFromFraction(0.8) });
    const pu = new PoolUser(asap, { staleCacheValue: 0 });
    const order = async (): Promise<number[]> => (await pu.resolve('lu', { items: 3 })).map((e) => e.peId);
    expect(await order()).toEqual([b.peId, a.peId, c.peId]);
    await b.updateLoad(loadFromFraction(0.9));
    expect(b.policy.load).toBe(loadFromFraction(0.9));
    expect(await order()).toEqual([a.peId, c.peId, b.peId]);
    await c.updateLoad(0);
    const elements = await pu.resolve('lu', { items: 3 });
    expect(elements.map((e) => e.peId)).toEqual([c.peId, a.peId, b.peId]);
    expect(elements[0]!.policy.load).toBe(0);
  });

  it('rejects a registration inconsistent with the pool, with the cause', async () => {
    const r = await startRegistrar();
    const asap = await endpoint({ registrars: [r.asapAddress] });
    await element(asap, 'mixed', 7201, { type: PolicyType.RoundRobin });
    const wrong = new PoolElement(asap, { poolHandle: 'mixed', policy: { type: PolicyType.LeastUsed }, userTransport: { port: 7202 } });
    const error = await wrong.register().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistrationRejectedError);
    expect((error as RegistrationRejectedError).causeCode).toBe(Cause.InconsistentPoolingPolicy);
    expect(wrong.state).toBe('rejected');
    expect(wrong.registered).toBe(false);
  });

  it('re-registers on T4 and answers keep-alives, staying registered past several intervals', async () => {
    // A keep-alive timeout that a loaded machine's answer cannot miss (150 ms could).
    const r = await startRegistrar({ keepAliveInterval: 150, keepAliveTimeout: 600 });
    const asap = await endpoint({ registrars: [r.asapAddress] });
    const pe = new PoolElement(asap, { poolHandle: 'ka', userTransport: { port: 7301 }, registrationLife: 30_000, reregistrationInterval: 250 });
    open.push({ close: () => pe.close() });
    let registrations = 0;
    pe.on('registered', () => registrations++);
    await pe.register();

    // A control PE registered over a bare connection: nobody answers its keep-alives.
    const bare = await openSctpEndpoint({ mode: 'udp', port: sctpPort(), udpPort: 0, address: LOOPBACK });
    open.push(bare);
    const connection = new RegistrarConnection(await bare.connect(r.asapAddress));
    await connection.register(poolHandleBytes('ka'), {
      peId: 99,
      homeRegistrarId: 0,
      registrationLife: 30_000,
      userTransport: transportParameter(ParamType.SctpTransport, 7399, [parseAddress(LOOPBACK)!], TransportUse.DataOnly),
      policy: policySettings(PolicyType.RoundRobin),
      asapTransport: null,
    });
    const pu = new PoolUser(asap, { staleCacheValue: 0 });
    expect((await pu.resolve('ka', { items: 10 })).map((e) => e.peId).sort()).toEqual([99, pe.peId].sort());

    await sleep(1500); // ten keep-alive intervals
    // 1 + T4 every 250 ms; the silent PE gone after a keep-alive timeout (polled: timers run
    // late on a loaded machine).
    await until(() => registrations >= 4, 10_000, 'three re-registrations');
    let seen: number[] = [];
    await until(async () => (seen = (await pu.resolve('ka', { items: 10 })).map((e) => e.peId)).length === 1, 10_000, 'the silent PE removed');
    expect(seen).toEqual([pe.peId]);
    expect(pe.registered).toBe(true);
  });

  it('registers thousands of pool elements over one association', async () => {
    // A proxy-like client: over the default PEs per association (100) and registration rate.
    const r = await startRegistrar({ maxElementsPerAssociation: 2000, registrationRate: 0 });
    const asap = await endpoint({ registrars: [r.asapAddress], timers: { t2Registration: 5000 } });
    const N = 2000;
    const pes = Array.from({ length: N }, (_, i) => new PoolElement(asap, { poolHandle: `bulk${i % 20}`, userTransport: { port: 10000 + i } }));
    for (const pe of pes) open.push({ close: () => pe.close() });
    let registrations = 0;
    for (const pe of pes) pe.on('registered', () => registrations++);
    await Promise.all(pes.map((p) => p.register()));
    // One registration each: finding the home during the first ones adds none.
    expect(registrations).toBe(N);
    expect(asap.sctp.associations).toHaveLength(1);
    expect(asap.elementCount).toBe(N);
    const pu = new PoolUser(asap, { staleCacheValue: 0 });
    const sizes = await Promise.all(Array.from({ length: 20 }, (_, i) => pu.resolve(`bulk${i}`, { items: 128 })));
    expect(sizes.map((s) => s.length)).toEqual(new Array(20).fill(N / 20));
  });

  it('moves to a second registrar when the home registrar is closed', async () => {
    const r1 = await startRegistrar();
    const r2 = await startRegistrar();
    const asap = await endpoint({ registrars: [r1.asapAddress, r2.asapAddress] });
    const pe = await element(asap, 'failover', 7401);
    const firstHome = asap.home!.association.remote.port;
    const [home, other] = firstHome === r1.asapAddress.port ? [r1, r2] : [r2, r1];
    const moved = new Promise<RegistrarConnection>((resolve) => pe.once('registered', resolve));
    await home.close();
    const connection = await moved;
    expect(connection.association.remote.port).toBe(other.asapAddress.port);
    expect(pe.registered).toBe(true);
    const pu = new PoolUser(asap, { staleCacheValue: 0 });
    const elements = await pu.resolve('failover');
    expect(elements.map((e) => e.peId)).toEqual([pe.peId]);
    expect(elements[0]!.homeRegistrarId).toBe(other.id);
  });

  it('fails with NoRegistrarError when no registrar answers', async () => {
    const asap = await endpoint({ registrars: [{ address: LOOPBACK, port: sctpPort(), udpPort: 9 }], homeTimeout: 300 });
    const pu = new PoolUser(asap);
    await expect(pu.resolve('nobody')).rejects.toBeInstanceOf(NoRegistrarError);
    const pe = new PoolElement(asap, { poolHandle: 'nobody', userTransport: { port: 1 } });
    await expect(pe.register()).rejects.toBeInstanceOf(NoRegistrarError);
    expect(pe.state).toBe('idle');
  });

  it('serves resolutions from the cache until stale_cache_value, and drops unreachable elements', async () => {
    const r = await startRegistrar({ maxBadPeReports: 1 });
    const asap = await endpoint({ registrars: [r.asapAddress] });
    const a = await element(asap, 'cache', 7501);
    const pu = new PoolUser(asap, { staleCacheValue: 400 });
    expect((await pu.resolve('cache', { items: 5 })).map((e) => e.peId)).toEqual([a.peId]);
    const b = await element(asap, 'cache', 7502);
    // Fresh entry: the new PE is not seen yet (C4).
    expect((await pu.resolve('cache', { items: 5 })).map((e) => e.peId)).toEqual([a.peId]);
    await sleep(450);
    // Stale: a new resolution is made (C2).
    expect((await pu.resolve('cache', { items: 5 })).map((e) => e.peId).sort()).toEqual([a.peId, b.peId].sort());
    await pu.reportUnreachable('cache', b.peId);
    expect((await pu.resolve('cache', { items: 5 })).map((e) => e.peId)).toEqual([a.peId]);
  });
});

describe('registrar hunt by ASAP_SERVER_ANNOUNCE', () => {
  // The registrar announces by the kernel's default multicast route: on a host whose only
  // interface is lo there is none, and the setup adds one via lo (as root) or names the reason.
  let multicast: Awaited<ReturnType<typeof prepareMulticast>> | undefined;
  const defaultRoute = async (): Promise<string | null> => {
    multicast ??= await prepareMulticast(testGroup().address);
    return multicast.skip;
  };
  afterAll(() => multicast?.cleanup());

  it('finds the registrar from its announces (transport parameters form)', async (ctx) => {
    const noRoute = await defaultRoute();
    if (noRoute !== null) return ctx.skip(noRoute);
    const group = testGroup();
    const r = await startRegistrar({ announce: true, announceGroup: group, announceInterval: 100 });
    const asap = await endpoint({ announces: { group }, registrarUdpPort: r.asapAddress.udpPort });
    const pe = await element(asap, 'announced', 7601);
    expect(pe.registered).toBe(true);
    expect(asap.home!.association.remote.port).toBe(r.asapAddress.port);
    const known = asap.registrars.entries();
    expect(known.map((k) => k.serverId)).toContain(r.id);
  });

  it("accepts RSPLIB's ID-only announce: UDP source address and port name the registrar", async () => {
    const group = testGroup();
    // The announce is sent and received on lo (IP_MULTICAST_IF and the membership name
    // 127.0.0.1), so its source is the registrar's loopback address on any host, also on one
    // whose only interface is lo and that has no multicast route.
    const r = await startRegistrar();
    const asap = await endpoint({ announces: { group, interfaceAddress: LOOPBACK }, registrarUdpPort: r.asapAddress.udpPort, homeTimeout: 3000 });
    const pu = new PoolUser(asap, { staleCacheValue: 0 });
    const pending = pu.resolve('nothing-here').catch((e: unknown) => e);
    // Send from the registrar's ASAP port number, as RSPLIB does.
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve) => socket.bind(r.asapAddress.port, LOOPBACK, resolve));
    socket.setMulticastInterface(LOOPBACK);
    socket.setMulticastLoopback(true);
    const announce = encodeMessage({ protocol: 'asap', type: AsapType.ServerAnnounce, flags: 0, paddedLength: false, unknownParams: null, serverId: 0xabcdef, transports: [] });
    expect(announce.length).toBe(8);
    const timer = setInterval(() => socket.send(announce, group.port, group.address), 100);
    try {
      expect(await pending).toBeInstanceOf(UnknownPoolHandleError);
      expect(asap.home!.association.remote.port).toBe(r.asapAddress.port);
      expect(asap.registrars.entries().find((e) => e.remote.port === r.asapAddress.port)?.serverId).toBe(0xabcdef);
    } finally {
      clearInterval(timer);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  });

  it('forgets announced registrars after T7-ENRPoutdate', async (ctx) => {
    const noRoute = await defaultRoute();
    if (noRoute !== null) return ctx.skip(noRoute);
    const group = testGroup();
    const r = await startRegistrar({ announce: true, announceGroup: group, announceInterval: 100 });
    const asap = await endpoint({ announces: { group }, registrarUdpPort: r.asapAddress.udpPort, timers: { t7EnrpOutdate: 400 } });
    await until(() => asap.registrars.size > 0, 3000, 'an announce');
    await r.close();
    await until(() => asap.registrars.size === 0, 2000, 'the entry to expire');
  });
});
