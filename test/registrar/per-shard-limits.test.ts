// What --max-pes-per-association means with several shards, as --help and docs/operations.md
// say: counted per shard. A real registrar with 2 shards and a limit of 1: one association
// registers one PE in a pool of each shard (2 in all, shards x n), and is refused (Lack of
// Resources) a second PE in a pool of a shard where it has one. --max-pes holds for the
// registrar as a whole (the shards' shared census): with --max-pes 2 a third PE from another
// association is refused whatever shard its pool is in.
import { afterEach, describe, expect, it } from 'vitest';
import { AsapFlag, Cause, PolicyType, policySettings } from '../../src/wire/index.js';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapPeer } from './asap-peer.js';
import { poolsOverShards, shardOfPool, startTestRegistrar } from './harness.js';

const SHARDS = 2;
let registrar: Registrar | undefined;
const peers: AsapPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
  await registrar?.close();
  registrar = undefined;
});

async function peer(): Promise<AsapPeer> {
  const p = await AsapPeer.connect(registrar!.asapAddress);
  peers.push(p);
  return p;
}

const causes = (r: { flags: number; error: { causes: Array<{ code: number }> } | null }): number[] => ((r.flags & AsapFlag.Reject) !== 0 ? (r.error?.causes.map((c) => c.code) ?? []) : []);

describe('per-association PE limit with several shards', () => {
  it('is counted per shard: n in the pools of each shard, shards x n in all; --max-pes holds across shards', async () => {
    ({ registrar } = await startTestRegistrar({ shards: SHARDS, maxElementsPerAssociation: 1, maxElements: 2, registrationRate: 0 }));
    const [a0, a1, b0] = poolsOverShards('limit', 3, SHARDS) as [string, string, string];
    expect([shardOfPool(a0, SHARDS), shardOfPool(a1, SHARDS), shardOfPool(b0, SHARDS)]).toEqual([0, 1, 0]);
    const rr = policySettings(PolicyType.RoundRobin);
    const pe = await peer();
    expect(causes(await pe.register(a0, 1, rr, 6001))).toEqual([]);
    expect(causes(await pe.register(a1, 2, rr, 6002))).toEqual([]); // another shard: its own count
    // A second PE in a pool of shard 0, where this association has one: refused.
    expect(causes(await pe.register(b0, 3, rr, 6003))).toEqual([Cause.LackOfResources]);
    // --max-pes 2 is the registrar's: another association is refused in either shard.
    const other = await peer();
    expect(causes(await other.register(b0, 4, rr, 6004))).toEqual([Cause.LackOfResources]);
    expect((await registrar.dump()).map((row) => row[1]).sort()).toEqual([1, 2]);
  }, 30_000);
});
