// A shard worker thread dies under load: while PUs resolve and PEs re-register in every shard,
// one shard's thread is terminated. The registrar logs it and restarts the shard; the other
// shards answer every request throughout; the restarted shard starts empty and takes new
// registrations (the PEs of its pools land again as they re-register).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapFlag, Cause, PolicyType, policySettings } from '../../src/wire/index.js';
import { AsapPeer } from './asap-peer.js';
import { LogLevel, poolsOverShards, shardOfPool, sleep, startTestRegistrar, waitFor, type LogRecord } from './harness.js';

const SHARDS = 3;
const KILLED = 1;
const PES_PER_POOL = 4;
/** A client's request timeout in the load loops (RFC 5352 §7 T1/T2 are seconds; short here). */
const REQUEST_TIMEOUT = 1000;

let registrar: Registrar;
let logs: LogRecord[];
const pools = poolsOverShards('restart', 3 * SHARDS, SHARDS);
const pes: AsapPeer[] = [];
let pu: AsapPeer;
const peIds = (i: number): number[] => Array.from({ length: PES_PER_POOL }, (_, j) => (i + 1) * 100 + j);
const peerOf = (j: number): AsapPeer => pes[j % pes.length]!;
const policy = policySettings(PolicyType.RoundRobin);

beforeAll(async () => {
  ({ registrar, logs } = await startTestRegistrar({ shards: SHARDS, keepAliveInterval: 60_000, keepAliveTimeout: 60_000 }));
  for (let i = 0; i < 2; i++) pes.push(await AsapPeer.connect(registrar.asapAddress));
  pu = await AsapPeer.connect(registrar.asapAddress);
  for (const [i, pool] of pools.entries()) {
    for (const [j, id] of peIds(i).entries()) expect((await peerOf(j).register(pool, id, policy, 8000 + id)).flags & AsapFlag.Reject).toBe(0);
  }
});

afterAll(async () => {
  for (const peer of [...pes, pu]) await peer?.close();
  await registrar?.close();
});

interface PoolLoad {
  pool: string;
  shard: number;
  answered: number;
  lost: number;
  /** Longest time between two answers, ms. */
  longestGap: number;
}

/** One client loop per pool: resolve, re-register one of its PEs, repeat, until `stop`. */
async function drive(i: number, load: PoolLoad, stop: () => boolean): Promise<void> {
  let last = performance.now();
  let k = 0;
  const ids = peIds(i);
  while (!stop()) {
    const j = k++ % ids.length;
    try {
      await pu.resolve(load.pool, 2, REQUEST_TIMEOUT);
      const r = await peerOf(j).register(load.pool, ids[j]!, policy, 8000 + ids[j]!, REQUEST_TIMEOUT);
      expect(r.flags & AsapFlag.Reject).toBe(0);
      const now = performance.now();
      load.longestGap = Math.max(load.longestGap, now - last);
      last = now;
      load.answered++;
    } catch {
      load.lost++; // a request that was in the dying shard's batch: the client times out
    }
  }
}

describe('a shard worker killed mid-load', () => {
  test('is restarted and logged; the other shards keep serving; its pools come back as PEs re-register', async () => {
    const loads: PoolLoad[] = pools.map((pool) => ({ pool, shard: shardOfPool(pool, SHARDS), answered: 0, lost: 0, longestGap: 0 }));
    let stopped = false;
    const running = Promise.all(loads.map((load, i) => drive(i, load, () => stopped)));

    await sleep(400);
    const answeredBeforeKill = loads.map((l) => l.answered);
    expect(answeredBeforeKill.every((n) => n > 0)).toBe(true);
    const exitCode = await registrar.shardThreads[KILLED]!.terminate();
    expect(exitCode).toBe(1);
    await waitFor(async () => (await registrar.stats()).shards[KILLED]!.restarts === 1, 5000, 'shard restarted');
    // Long enough for a client whose request died with the thread to time out and retry.
    await sleep(2 * REQUEST_TIMEOUT);
    stopped = true;
    await running;

    for (const load of loads) {
      if (load.shard === KILLED) continue;
      // The surviving shards answered every request, with no stall while the other restarted.
      expect(load.lost, load.pool).toBe(0);
      expect(load.longestGap, load.pool).toBeLessThan(REQUEST_TIMEOUT);
    }
    // The restarted shard answers again: its PEs re-registered in the load loop, after the restart.
    for (const load of loads.filter((l) => l.shard === KILLED)) expect(load.answered).toBeGreaterThan(answeredBeforeKill[loads.indexOf(load)]!);

    const died = logs.filter((l) => l.level === LogLevel.error && l['shard'] === KILLED && /shard worker died/.test(l.msg));
    const restarted = logs.filter((l) => l.level === LogLevel.warn && l['shard'] === KILLED && /shard worker restarted/.test(l.msg));
    expect(died).toHaveLength(1);
    expect(restarted).toHaveLength(1);

    // Every PE re-registers (a PE's T2/keep-alive logic would do this): everything is back.
    for (const [i, pool] of pools.entries()) {
      for (const [j, id] of peIds(i).entries()) expect((await peerOf(j).register(pool, id, policy, 8000 + id)).flags & AsapFlag.Reject).toBe(0);
    }
    for (const [i, pool] of pools.entries()) {
      const r = await pu.resolve(pool, 128);
      expect(r.poolElements.map((e) => e.peId).sort((a, b) => a - b)).toEqual(peIds(i));
    }
    const stats = await registrar.stats();
    expect(stats.shards.map((s) => s.restarts)).toEqual([0, 1, 0].map((n, s) => (s === KILLED ? 1 : n)));
    expect(stats.shards.map((s) => s.poolElements)).toEqual(stats.shards.map((s) => pools.filter((p) => shardOfPool(p, SHARDS) === s.shard).length * PES_PER_POOL));
  });

  test('the restarted shard knows the live associations: a lost association still removes its PEs there', async () => {
    const victimPools = pools.filter((p) => shardOfPool(p, SHARDS) === KILLED);
    const late = await AsapPeer.connect(registrar.asapAddress);
    for (const [n, pool] of victimPools.entries()) expect((await late.register(pool, 9000 + n, policy, 9000 + n)).flags & AsapFlag.Reject).toBe(0);
    const before = (await registrar.stats()).shards[KILLED]!.poolElements;
    // pes[0] registered before the restart: its association was replayed to the new worker.
    const gone = pes.shift()!;
    await gone.close();
    await late.close();
    const ownedByGone = victimPools.length * (PES_PER_POOL / 2);
    await waitFor(async () => (await registrar.stats()).shards[KILLED]!.poolElements === before - ownedByGone - victimPools.length, 3000, 'PEs of lost associations removed');
    const unknown = await pu.resolve('restart-never-registered');
    expect(unknown.error?.causes[0]?.code).toBe(Cause.UnknownPoolHandle);
  });
});
