// End to end through real SCTP associations and real shard threads: 1,000 PEs in 50 pools,
// one pool per policy type of RFC 5356 and RSPLIB's extensions (then round again), over five
// PE associations, resolved by a PU on a sixth; each pool answers with its own policy.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapFlag, AsapType, PolicyType, ParamType, policyFields, policySettings, type AsapHandleResolutionResponse, type AsapRegistrationResponse, type PolicySettings } from '../../src/wire/index.js';
import { AsapPeer, registration, text } from './asap-peer.js';
import { poolsOverShards, shardOfPool, startTestRegistrar } from './harness.js';

const SHARDS = 3;
const POOLS = 50;
const PES_PER_POOL = 20;
const PE_ASSOCIATIONS = 5;
const POLICY_TYPES = Object.values(PolicyType);

interface RegisteredPe {
  pool: string;
  peId: number;
  port: number;
  policy: PolicySettings;
  peer: number;
}

let registrar: Registrar;
const pes: AsapPeer[] = [];
let pu: AsapPeer;
const pools = poolsOverShards('policy-pool', POOLS, SHARDS);
/** Pool name → policy type, and → PE ID → what it registered. */
const poolPolicy = new Map<string, number>();
const registered = new Map<string, Map<number, RegisteredPe>>();

/** Distinct loads per PE (7 is coprime with 20), as 32-bit fractions. */
const loadOf = (j: number): number => (((j * 7) % PES_PER_POOL) + 1) * 0x0800_0000;
const priorityOf = (j: number): number => ((j * 3) % PES_PER_POOL) + 1;

/** The PE's settings: only the fields its policy type carries on the wire, the rest 0. */
function settingsFor(type: number, j: number, load = loadOf(j)): PolicySettings {
  const all = { weight: j + 1, priority: priorityOf(j), load, loadDegradation: 0x0100_0000, loadDpf: 0x0010_0000, weightDpf: 0x0020_0000, distance: 0 };
  const carried: Partial<PolicySettings> = {};
  for (const field of policyFields.get(type) ?? []) carried[field] = all[field];
  return policySettings(type, carried);
}

function peOf(pool: string, peId: number): RegisteredPe {
  const pe = registered.get(pool)?.get(peId);
  if (pe === undefined) throw new Error(`PE ${peId} in ${pool} was never registered`);
  return pe;
}

/** Every check a response about `pool` must pass, whatever its policy. */
function checkResponse(r: AsapHandleResolutionResponse, pool: string, expectedCount: number): number[] {
  expect(text(r.poolHandle)).toBe(pool);
  expect(r.error).toBeNull();
  const ids = r.poolElements.map((e) => e.peId);
  expect(ids).toHaveLength(expectedCount);
  expect(new Set(ids).size).toBe(ids.length); // no duplicates within one response
  expect(r.policy?.type).toBe(poolPolicy.get(pool));
  for (const e of r.poolElements) {
    const pe = peOf(pool, e.peId);
    expect(e.homeRegistrarId).toBe(registrar.id);
    expect(e.userTransport.type).toBe(ParamType.SctpTransport);
    expect(e.userTransport.port).toBe(pe.port);
    expect(e.policy).toEqual(pe.policy);
  }
  // The response's policy parameter is the pool's policy with the values of its first element.
  expect(r.policy).toEqual(peOf(pool, ids[0]!).policy);
  return ids;
}

async function stats(): Promise<{ pools: number[]; elements: number[]; registrations: number; reregistrations: number }> {
  const s = await registrar.stats();
  return {
    pools: s.shards.map((x) => x.pools),
    elements: s.shards.map((x) => x.poolElements),
    registrations: s.shards.reduce((n, x) => n + (x.counters['registrations'] ?? 0), 0),
    reregistrations: s.shards.reduce((n, x) => n + (x.counters['reregistrations'] ?? 0), 0),
  };
}

beforeAll(async () => {
  // 200 PEs per association, registered as fast as answered: over the defaults (100 PEs per
  // association, 100 registrations/s) that hold back hostile clients (issue 11).
  ({ registrar } = await startTestRegistrar({ shards: SHARDS, keepAliveInterval: 60_000, keepAliveTimeout: 60_000, maxElementsPerAssociation: 1000, registrationRate: 0 }));
  for (let i = 0; i < PE_ASSOCIATIONS; i++) pes.push(await AsapPeer.connect(registrar.asapAddress));
  pu = await AsapPeer.connect(registrar.asapAddress);
});

afterAll(async () => {
  for (const peer of [...pes, pu]) await peer?.close();
  await registrar?.close();
});

describe('1,000 PEs in 50 pools over 3 shards, every policy type', () => {
  test('all registrations are accepted, and the shards share the pools', async () => {
    expect(POLICY_TYPES).toHaveLength(18);
    const perPeer: RegisteredPe[][] = pes.map(() => []);
    pools.forEach((pool, i) => {
      const type = POLICY_TYPES[i % POLICY_TYPES.length]!;
      poolPolicy.set(pool, type);
      const members = new Map<number, RegisteredPe>();
      registered.set(pool, members);
      for (let j = 0; j < PES_PER_POOL; j++) {
        const pe: RegisteredPe = { pool, peId: (i + 1) * 1000 + j + 1, port: 20000 + j, policy: settingsFor(type, j), peer: j % PE_ASSOCIATIONS };
        members.set(pe.peId, pe);
        perPeer[pe.peer]!.push(pe);
      }
    });
    // Each association sends its 200 registrations back to back, all five at once.
    await Promise.all(
      pes.map(async (peer, p) => {
        for (const pe of perPeer[p]!) peer.send(registration(pe.pool, pe.peId, pe.policy, pe.port));
        const answered = new Set<string>();
        for (let k = 0; k < perPeer[p]!.length; k++) {
          const r = (await peer.nextOfType(AsapType.RegistrationResponse, 15_000)) as AsapRegistrationResponse;
          expect(r.flags & AsapFlag.Reject).toBe(0);
          expect(r.error).toBeNull();
          const key = `${text(r.poolHandle)}/${r.peId}`;
          expect(registered.get(text(r.poolHandle))?.get(r.peId)?.peer).toBe(p);
          answered.add(key);
        }
        expect(answered.size).toBe(perPeer[p]!.length);
      }),
    );

    const s = await stats();
    expect(s.registrations).toBe(POOLS * PES_PER_POOL);
    expect(s.elements.reduce((a, b) => a + b, 0)).toBe(POOLS * PES_PER_POOL);
    expect(s.pools.reduce((a, b) => a + b, 0)).toBe(POOLS);
    // Each shard holds exactly the pools its hash owns, and every shard holds some.
    for (let shard = 0; shard < SHARDS; shard++) {
      const owned = pools.filter((p) => shardOfPool(p, SHARDS) === shard).length;
      expect(owned).toBeGreaterThan(0);
      expect(s.pools[shard]).toBe(owned);
      expect(s.elements[shard]).toBe(owned * PES_PER_POOL);
    }
  });

  test('every pool resolves with its policy: counts, no duplicates, registered elements, policy values', async () => {
    for (const pool of pools) {
      checkResponse(await pu.resolve(pool, 25), pool, PES_PER_POOL); // more asked than there are
      checkResponse(await pu.resolve(pool, 5), pool, 5);
      checkResponse(await pu.resolve(pool, null), pool, 3); // the registrar default (RSPLIB: 3)
    }
    // Every policy type was served by some pool.
    expect(new Set(pools.map((p) => poolPolicy.get(p)))).toEqual(new Set(POLICY_TYPES));
  });

  test('Round Robin rotates by one element per resolution', async () => {
    const pool = pools[POLICY_TYPES.indexOf(PolicyType.RoundRobin)]!;
    const answers: number[][] = [];
    for (let k = 0; k < PES_PER_POOL; k++) answers.push(checkResponse(await pu.resolve(pool, 3), pool, 3));
    for (let k = 1; k < answers.length; k++) expect(answers[k]!.slice(0, 2)).toEqual(answers[k - 1]!.slice(1, 3));
    expect(new Set(answers.map((a) => a[0])).size).toBe(PES_PER_POOL);
  });

  test('Priority returns the highest priorities first', async () => {
    const pool = pools[POLICY_TYPES.indexOf(PolicyType.Priority)]!;
    const ids = checkResponse(await pu.resolve(pool, 3), pool, 3);
    const expected = [...registered.get(pool)!.values()].sort((a, b) => b.policy.priority - a.policy.priority).slice(0, 3);
    expect(ids).toEqual(expected.map((pe) => pe.peId));
  });

  test('Least Used returns the lowest loads, and a re-registration with a new load reorders it', async () => {
    const pool = pools[POLICY_TYPES.indexOf(PolicyType.LeastUsed)]!;
    const byLoad = (): number[] => [...registered.get(pool)!.values()].sort((a, b) => a.policy.load - b.policy.load).map((pe) => pe.peId);
    expect(checkResponse(await pu.resolve(pool, 3), pool, 3)).toEqual(byLoad().slice(0, 3));

    // The least loaded PE reports full load: it drops to the end of the order.
    const [lowest, , , fourth] = byLoad();
    const heavy = peOf(pool, lowest!);
    heavy.policy = policySettings(PolicyType.LeastUsed, { load: 0xffff_ffff });
    const r1 = await pes[heavy.peer]!.register(pool, heavy.peId, heavy.policy, heavy.port);
    expect(r1.flags & AsapFlag.Reject).toBe(0);
    const after = checkResponse(await pu.resolve(pool, PES_PER_POOL), pool, PES_PER_POOL);
    expect(after.at(-1)).toBe(heavy.peId);
    expect(after.slice(0, 3)).toEqual(byLoad().slice(0, 3));

    // The fourth least loaded reports no load at all: it comes first.
    const idle = peOf(pool, fourth!);
    idle.policy = policySettings(PolicyType.LeastUsed, { load: 0 });
    const r2 = await pes[idle.peer]!.register(pool, idle.peId, idle.policy, idle.port);
    expect(r2.flags & AsapFlag.Reject).toBe(0);
    const ids = checkResponse(await pu.resolve(pool, 3), pool, 3);
    expect(ids[0]).toBe(idle.peId);
    expect(ids).toEqual(byLoad().slice(0, 3));

    const s = await stats();
    expect(s.reregistrations).toBe(2);
    expect(s.elements.reduce((a, b) => a + b, 0)).toBe(POOLS * PES_PER_POOL);
  });

  test('deregistration removes the PE from resolutions and from the shard', async () => {
    const before = await stats();
    // One PE from each of the first six pools (two per shard).
    const victims = pools.slice(0, 6).map((pool) => [...registered.get(pool)!.values()][7]!);
    for (const pe of victims) {
      const r = await pes[pe.peer]!.deregister(pe.pool, pe.peId);
      expect(r.flags & AsapFlag.Reject).toBe(0);
    }
    for (const pe of victims) {
      const ids = checkResponse(await pu.resolve(pe.pool, 128), pe.pool, PES_PER_POOL - 1);
      expect(ids).not.toContain(pe.peId);
      registered.get(pe.pool)!.delete(pe.peId);
    }
    const after = await stats();
    for (let shard = 0; shard < SHARDS; shard++) {
      const removedHere = victims.filter((pe) => shardOfPool(pe.pool, SHARDS) === shard).length;
      expect(after.elements[shard]).toBe(before.elements[shard]! - removedHere);
    }
    expect(after.pools).toEqual(before.pools);
  });
});
