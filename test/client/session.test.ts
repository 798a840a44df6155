// The session layer against the real registrar over real SCTP (UDP mode, loopback): data and
// control channel on one association, cookies, business cards, failover with cookie echo
// (RFC 5351 §2.5, RFC 5352 §3.7-3.9, §6.5), including a PE process killed with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import {
  ClosedError,
  NoPoolElementError,
  PoolElementService,
  PoolUser,
  type PoolElementSession,
  type ResolvedPoolElement,
  type Session,
} from '../../src/client/index.js';
import type { SctpProtocolOptions } from '../../src/transport/index.js';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { LOOPBACK, asapEndpoint, registrar, sleep, until } from './harness.js';

// Heartbeats every 300 ms, 3 misses: a silently dead PE is noticed in about a second.
const FAST_SCTP: SctpProtocolOptions = { hbInterval: 300, associationMaxRetrans: 3, rtoInitial: 500, rtoMin: 200, rtoMax: 1000 };

const open: { close(): Promise<void> | void }[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const x of open.splice(0).reverse()) await x.close();
});

async function startRegistrar(): Promise<Registrar> {
  const r = await registrar({ keepAliveInterval: 500, keepAliveTimeout: 500 });
  open.unshift(r);
  return r;
}

async function service(r: Registrar, pool: string, options: { businessCard?: number; echo?: boolean } = {}): Promise<{ service: PoolElementService; sessions: PoolElementSession[]; echoes: Uint8Array[] }> {
  const asap = await asapEndpoint({ registrars: [r.asapAddress], sctp: { protocol: FAST_SCTP } });
  open.push(asap);
  const s = await PoolElementService.open(asap, { poolHandle: pool, registrationLife: 30_000, businessCard: options.businessCard ?? 0 });
  open.push({ close: () => s.close() });
  const sessions: PoolElementSession[] = [];
  const echoes: Uint8Array[] = [];
  s.on('session', (session) => {
    sessions.push(session);
    session.on('cookieEcho', (c) => echoes.push(c));
    let n = 0;
    session.on('data', (payload) => {
      n++;
      if (options.echo !== false) session.send(payload);
      session.sendCookie(`${s.peId}:${n}`);
    });
  });
  return { service: s, sessions, echoes };
}

async function user(r: Registrar): Promise<PoolUser> {
  const asap = await asapEndpoint({ registrars: [r.asapAddress], sctp: { protocol: FAST_SCTP } });
  open.push(asap);
  return new PoolUser(asap, { staleCacheValue: 0 });
}

function collect(session: Session): { data: string[]; failovers: [ResolvedPoolElement, ResolvedPoolElement, string][] } {
  const out = { data: [] as string[], failovers: [] as [ResolvedPoolElement, ResolvedPoolElement, string][] };
  session.on('data', (p) => out.data.push(Buffer.from(p).toString()));
  session.on('failover', (from, to, reason) => out.failovers.push([from, to, reason]));
  return out;
}

const text = (b: Uint8Array | null): string => (b === null ? '' : Buffer.from(b).toString());

describe('session layer', () => {
  it('carries data and cookies, fails over when the PE endpoint closes, echoes the last cookie to the new PE', async () => {
    const r = await startRegistrar();
    const a = await service(r, 'sess');
    const pu = await user(r);
    const session = await pu.openSession('sess', { failoverTimeout: 5000 });
    open.push(session);
    const got = collect(session);
    expect(session.poolElement!.peId).toBe(a.service.peId);
    expect(session.poolElement!.userTransport).toEqual({ protocol: 'sctp', addresses: [LOOPBACK], port: a.service.port, use: 'data+control', serviceCode: 0 });
    session.send('one');
    session.send('two');
    await until(() => got.data.length === 2 && text(session.cookie) === `${a.service.peId}:2`, 15_000, 'two echoes and the second cookie');
    expect(got.data).toEqual(['one', 'two']);
    expect(a.echoes).toEqual([]);

    const b = await service(r, 'sess');
    // The PE's endpoint goes away without deregistering (a crash as the PU sees it: ABORT).
    await a.service.endpoint.close();
    await until(() => got.failovers.length === 1, 8000, 'failover');
    const [from, to, reason] = got.failovers[0]!;
    expect(from.peId).toBe(a.service.peId);
    expect(to.peId).toBe(b.service.peId);
    expect(reason).toMatch(/association/);
    expect(session.poolElement!.peId).toBe(b.service.peId);
    // §3.8: the latest cookie, unmodified, first on the new PE's control channel.
    await until(() => b.echoes.length === 1, 15_000, 'cookie echo at the new PE');
    expect(text(b.echoes[0]!)).toBe(`${a.service.peId}:2`);
    expect(text(b.sessions[0]!.cookieEcho)).toBe(`${a.service.peId}:2`);
    session.send('three');
    await until(() => got.data.length === 3, 15_000, 'echo from the new PE');
    expect(got.data[2]).toBe('three');
    expect(text(session.cookie)).toBe(`${b.service.peId}:1`);
    expect(session.failovers).toBe(1);
  });

  it('follows the business card: the named element, skipping a dead one named first', async () => {
    const r = await startRegistrar();
    const first = await service(r, 'card');
    const pu = await user(r);
    const session = await pu.openSession('card', { failoverTimeout: 5000, connectTimeout: 1500 });
    open.push(session);
    const got = collect(session);
    const others = [await service(r, 'card'), await service(r, 'card'), await service(r, 'card')];
    const [dead, chosen] = [others[1]!, others[2]!];
    const elements = await pu.resolve('card', { items: 10, fresh: true });
    const byId = new Map(elements.map((e) => [e.peId, e]));
    const cards: ResolvedPoolElement[][] = [];
    session.on('businessCard', (order) => cards.push(order));
    await until(() => first.sessions.length === 1, 15_000, 'session at the first PE');
    first.sessions[0]!.sendBusinessCard(first.service.poolHandle, [byId.get(dead.service.peId)!, byId.get(chosen.service.peId)!]);
    await until(() => cards.length === 1, 15_000, 'business card');
    expect(session.businessCard.map((e) => e.peId)).toEqual([dead.service.peId, chosen.service.peId]);
    expect(session.businessCard[1]!.userTransport?.port).toBe(chosen.service.port);

    await dead.service.endpoint.close();
    await first.service.endpoint.close();
    await until(() => got.failovers.length === 1, 10_000, 'failover');
    expect(got.failovers[0]![1].peId).toBe(chosen.service.peId);
    expect(chosen.sessions).toHaveLength(1);
    expect(others[0]!.sessions).toHaveLength(0);
  });

  it('fails over from a PE process killed with SIGKILL; the new PE gets the killed one\'s cookie', async () => {
    const r = await startRegistrar();
    const { address, port, udpPort } = r.asapAddress;
    const child = spawn(process.execPath, [CLI, 'pe', '--pool', 'killed', '--transport', 'udp', '--registrar', `${address}:${port}:${udpPort}`, '--local-address', LOOPBACK, '--business-card', '0'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await until(() => /registered PE/.test(log), 15_000, `the pe child to register (${log})`);
    const childId = Number(/registered PE (0x[0-9a-f]+)/.exec(log)![1]);

    const pu = await user(r);
    const session = await pu.openSession('killed', { failoverTimeout: 8000 });
    open.push(session);
    const got = collect(session);
    expect(session.poolElement!.peId).toBe(childId);
    for (const line of ['a', 'b', 'c']) session.send(line);
    await until(() => got.data.length === 3, 15_000, 'three echoes from the child');
    const lastCookie = JSON.parse(text(session.cookie)) as { pe: string; messages: number };
    expect(lastCookie).toEqual({ pool: 'killed', pe: `0x${childId.toString(16).padStart(8, '0')}`, messages: 3 });

    const b = await service(r, 'killed');
    child.kill('SIGKILL');
    await until(() => got.failovers.length === 1, 15_000, 'failover after SIGKILL');
    expect(got.failovers[0]![0].peId).toBe(childId);
    expect(got.failovers[0]![1].peId).toBe(b.service.peId);
    await until(() => b.echoes.length === 1, 15_000, 'cookie echo');
    expect(JSON.parse(text(b.echoes[0]!))).toEqual(lastCookie);
    session.send('d');
    await until(() => got.data.length === 4, 15_000, 'echo after failover');
    expect(got.data).toEqual(['a', 'b', 'c', 'd']);
  });

  it('typed errors: no reachable PE, failover disabled, send after close, reserved PPIDs', async () => {
    const r = await startRegistrar();
    const pu = await user(r);
    const a = await service(r, 'lonely');
    await a.service.endpoint.close();
    // Registered but unreachable: every attempt fails until the timeout.
    const error = await pu.openSession('lonely', { failoverTimeout: 1500, connectTimeout: 500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoPoolElementError);
    expect((error as NoPoolElementError).tried).toContain(a.service.peId);

    const b = await service(r, 'solo');
    const session = await pu.openSession('solo', { failover: false });
    const ended = new Promise<Error | null>((resolve) => session.once('close', resolve));
    await b.service.endpoint.close();
    const reason = await ended;
    expect(reason?.name).toBe('SessionSendError');
    expect(() => session.send('late')).toThrow(ClosedError);
    expect(() => session.send('x', 11)).toThrow(ClosedError);

    const c = await service(r, 'ppid');
    const s2 = await pu.openSession('ppid');
    open.push(s2);
    expect(() => s2.send('x', 11)).toThrow(RangeError);
    expect(() => s2.send('x', 12)).toThrow(RangeError);
    await expect(pu.openSession('ppid', { dataPpid: 11 })).rejects.toThrow(RangeError);
    expect(c.sessions.length).toBe(1);
    await sleep(10);
  });
});
