// The ways a registrar loses a pool element other than deregistration, end to end over SCTP
// with real shard threads: a keep-alive timeout (RFC 5352 §3.4-3.5), a lost association
// (RSPLIB: it takes every PE registered over it), and MAX-BAD-PE-REPORT unreachability
// reports (RFC 5352 §3.5).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapFlag, AsapType } from '../../src/wire/index.js';
import { AsapPeer, endpointUnreachable } from './asap-peer.js';
import { poolsOverShards, shardOfPool, sleep, startTestRegistrar, waitFor } from './harness.js';

const SHARDS = 3;
const INTERVAL = 400;
/** Long enough that an answering peer's ack cannot miss it on a loaded machine (400 ms could). */
const TIMEOUT = 1000;
/** RFC 5352 §3.5 lets intervals vary; the registrar jitters them by ±12.5 % as RSPLIB does. */
const LONGEST_CYCLE = INTERVAL * 1.125 + TIMEOUT;
/**
 * Scheduling slack on a loaded 2-core machine (timers, threads, SCTP SACK delays); the exact
 * keep-alive schedule is tested in virtual time (test/handlespace/timers.test.ts).
 */
const MARGIN = 3000;

const peers: AsapPeer[] = [];
async function connect(registrar: Registrar): Promise<AsapPeer> {
  const peer = await AsapPeer.connect(registrar.asapAddress);
  peers.push(peer);
  return peer;
}

async function registerAll(peer: AsapPeer, list: Array<[pool: string, peId: number]>): Promise<void> {
  for (const [pool, peId] of list) {
    const r = await peer.register(pool, peId);
    expect(r.flags & AsapFlag.Reject).toBe(0);
  }
}

/** PE IDs a full resolution of `pool` returns (empty for an unknown pool). */
async function members(pu: AsapPeer, pool: string): Promise<number[]> {
  const r = await pu.resolve(pool, 128);
  return r.poolElements.map((e) => e.peId).sort((a, b) => a - b);
}

async function elementsPerShard(registrar: Registrar): Promise<number[]> {
  return (await registrar.stats()).shards.map((s) => s.poolElements);
}

afterAll(async () => {
  for (const peer of peers) await peer.close();
});

describe('keep-alive timeout and lost associations (keep-alive interval 400 ms, timeout 1 s)', () => {
  let registrar: Registrar;
  let pu: AsapPeer;

  beforeAll(async () => {
    ({ registrar } = await startTestRegistrar({ shards: SHARDS, keepAliveInterval: INTERVAL, keepAliveTimeout: TIMEOUT }));
    pu = await connect(registrar);
  });
  afterAll(async () => {
    await registrar?.close();
  });

  test('a PE that stops answering keep-alives is removed within interval + timeout; PEs of other associations stay', async () => {
    const [p0, p1, p2] = poolsOverShards('keep-alive', 3, SHARDS);
    const silent = await connect(registrar);
    const steady = await connect(registrar);
    await registerAll(silent, [[p0!, 101], [p1!, 102]]);
    await registerAll(steady, [[p0!, 201], [p1!, 202], [p2!, 203]]);
    // Keep-alives flow and are answered for a while: nobody is removed.
    await waitFor(() => silent.keepAlives.length >= 4 && steady.keepAlives.length >= 6, 3 * LONGEST_CYCLE + MARGIN, 'first keep-alives');
    expect(await members(pu, p0!)).toEqual([101, 201]);
    expect(await members(pu, p1!)).toEqual([102, 202]);

    silent.autoAckKeepAlives = false;
    const elapsed = await waitFor(
      async () => !(await members(pu, p0!)).includes(101) && !(await members(pu, p1!)).includes(102),
      LONGEST_CYCLE + MARGIN,
      'silent PEs removed',
    );
    // Not before a keep-alive went unanswered for the whole timeout (less the transit time of
    // a keep-alive that was already on its way when the PE fell silent).
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 150);
    // The registrar aborts the association that has no PE left, so the PE notices.
    await silent.down(MARGIN);
    expect(silent.downReason).toBe('abort');

    // The answering association keeps its PEs through further keep-alive cycles.
    const seen = steady.keepAlives.length;
    await sleep(2 * LONGEST_CYCLE);
    expect(steady.keepAlives.length).toBeGreaterThan(seen);
    expect(steady.association.state).toBe('up');
    expect(await members(pu, p0!)).toEqual([201]);
    expect(await members(pu, p1!)).toEqual([202]);
    expect(await members(pu, p2!)).toEqual([203]);
    const counters = (await registrar.stats()).shards.map((s) => s.counters['keepAliveTimeouts'] ?? 0);
    expect(counters.reduce((a, b) => a + b, 0)).toBe(2);
  });

  test('one silent PE in one shard does not take its association, nor its PEs in other shards', async () => {
    const [q0, q1] = poolsOverShards('keep-alive-mixed', 2, SHARDS);
    expect(shardOfPool(q0!, SHARDS)).not.toBe(shardOfPool(q1!, SHARDS));
    const mixed = await connect(registrar);
    mixed.silentPeIds.add(302);
    await registerAll(mixed, [[q0!, 301], [q1!, 302]]);
    await waitFor(async () => (await members(pu, q1!)).length === 0, LONGEST_CYCLE + MARGIN, 'silent PE removed');
    // The answering PE, in another shard, stays registered over the same association.
    await sleep(2 * LONGEST_CYCLE);
    expect(mixed.association.state).toBe('up');
    expect(await members(pu, q0!)).toEqual([301]);
  });

  test('an aborted or shut down association removes all its PEs, in every shard', async () => {
    const pools = poolsOverShards('association', 6, SHARDS);
    const aborted = await connect(registrar);
    const shutDown = await connect(registrar);
    const staying = await connect(registrar);
    await registerAll(aborted, pools.map((p, i) => [p, 400 + i]));
    await registerAll(shutDown, pools.map((p, i) => [p, 500 + i]));
    await registerAll(staying, pools.map((p, i) => [p, 600 + i]));
    const before = await elementsPerShard(registrar);
    const perShard = (shard: number): number => pools.filter((p) => shardOfPool(p, SHARDS) === shard).length;

    // The peer's endpoint goes away: it aborts its association (RFC 9260 §9.1).
    await aborted.close();
    await waitFor(async () => (await elementsPerShard(registrar)).every((n, s) => n === before[s]! - perShard(s)), 3000, 'aborted association cleaned up');
    for (const [i, pool] of pools.entries()) expect(await members(pu, pool)).toEqual([500 + i, 600 + i]);

    // A graceful SHUTDOWN (RFC 9260 §9.2) ends the association as well.
    shutDown.association.close();
    await shutDown.down(3000);
    await waitFor(async () => (await elementsPerShard(registrar)).every((n, s) => n === before[s]! - 2 * perShard(s)), 3000, 'shut down association cleaned up');
    for (const [i, pool] of pools.entries()) expect(await members(pu, pool)).toEqual([600 + i]);
    expect(staying.association.state).toBe('up');
  });
});

describe('ENDPOINT_UNREACHABLE (MAX-BAD-PE-REPORT 3 distinct reporters; keep-alive cycle 60 s, out of the way; the check times out in 1 s)', () => {
  let registrar: Registrar;
  let pe: AsapPeer;
  /** Three pool users: reports count once per reporting association (issue 11). */
  const pus: AsapPeer[] = [];
  const pool = 'unreachable';
  const sum = async (counter: string): Promise<number> => (await registrar.stats()).shards.reduce((n, s) => n + (s.counters[counter] ?? 0), 0);

  beforeAll(async () => {
    ({ registrar } = await startTestRegistrar({ shards: SHARDS, keepAliveInterval: 60_000, keepAliveTimeout: 1000 }));
    pe = await connect(registrar);
    // PE 1 is dead (it never answers a keep-alive); PEs 2 and 3 answer.
    pe.silentPeIds.add(1);
    for (let i = 0; i < 3; i++) pus.push(await connect(registrar));
    await registerAll(pe, [[pool, 1], [pool, 2], [pool, 3]]);
  });
  afterAll(async () => {
    await registrar?.close();
  });

  /** Pool user `by` reports PE `peId`; a resolution of the same pool after it (same shard, in order) shows the effect. */
  async function report(peId: number, by: number): Promise<number[]> {
    pus[by]!.send(endpointUnreachable(pool, peId));
    return members(pus[by]!, pool);
  }

  test('a dead PE: the first report makes the registrar probe it, and the unanswered probe removes it, however many report meanwhile', async () => {
    expect(await report(1, 0)).toEqual([1, 2, 3]);
    expect(await report(1, 0)).toEqual([1, 2, 3]); // the same association again: not counted
    // RFC 5352 §3.5: on a report the registrar MUST at once send the PE a point-to-point
    // ENDPOINT_KEEP_ALIVE with the H flag clear (one at a time: while it is out, no other).
    await waitFor(() => pe.keepAlives.filter((k) => k.type === AsapType.EndpointKeepAlive && k.peId === 1).length === 1, 2000, 'probing keep-alive');
    for (const k of pe.keepAlives) {
      if (k.type !== AsapType.EndpointKeepAlive) throw new Error('unexpected');
      expect(k.flags & AsapFlag.Home).toBe(0);
      expect(k.serverId).toBe(registrar.id);
    }
    // MAX-BAD-PE-REPORT distinct reporters while the probe is out: the probe decides.
    expect(await report(1, 1)).toEqual([1, 2, 3]);
    expect(await report(1, 2)).toEqual([1, 2, 3]);
    await waitFor(async () => (await members(pus[0]!, pool)).length === 2, 3000, 'the dead PE removed at the keep-alive timeout');
    expect(await members(pus[0]!, pool)).toEqual([2, 3]);
    expect(await sum('keepAliveTimeouts')).toBe(1);
    expect(await sum('duplicateReports')).toBe(1);
  });

  test('a live PE reported by every pool user answers the probe and keeps its place', async () => {
    for (const by of [0, 1, 2]) expect(await report(2, by)).toEqual([2, 3]);
    await waitFor(async () => (await sum('keptAfterReport')) >= 1, 3000, 'the probe answered');
    // Past the probe's timeout: still there, and its reports were cleared (new ones count again).
    await new Promise((r) => setTimeout(r, 1200));
    expect(await members(pus[0]!, pool)).toEqual([2, 3]);
    expect(await report(2, 0)).toEqual([2, 3]);
    expect(await sum('duplicateReports')).toBe(1);
    // A report about a PE nobody registered changes nothing and is not answered.
    expect(await report(999, 0)).toEqual([2, 3]);
    for (const pu of pus) expect(pu.received).toEqual([]);
  });
});
