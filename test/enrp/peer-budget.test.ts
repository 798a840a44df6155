// --max-pes-per-peer (src/shard/enrp-handlespace.ts): one peer registrar cannot fill the
// handlespace (--max-pes) that our own PEs and the other peers' share. Its ADD_PEs and table
// entries beyond the budget of their home are dropped and counted; the shard's partition
// directly, no threads, no sockets.
import { describe, expect, it } from 'vitest';
import { Partition } from '../../src/handlespace/partition.js';
import { EnrpHandlespace } from '../../src/shard/enrp-handlespace.js';
import { AsapTransportTable } from '../../src/shard/pe-asap-transport.js';
import { EnrpType, ParamType, PolicyType, TransportUse, UpdateAction, encodeMessage, parseAddress, policySettings, transportParameter, type Message, type PoolElementParameter } from '../../src/wire/index.js';
import { VirtualScheduler } from '../handlespace/helpers.js';

const OWN = 0x10;
const P = 0x20;
const Q = 0x30;
const BUDGET = 3;

function setup(budget = BUDGET) {
  const partition = new Partition({ ownRegistrarId: OWN, scheduler: new VirtualScheduler(), jitter: 0 });
  const enrp = new EnrpHandlespace(partition, OWN, new AsapTransportTable(), { handleUpdate: () => undefined }, () => true, budget);
  return { partition, enrp };
}

function element(peId: number, home: number): PoolElementParameter {
  return {
    peId,
    homeRegistrarId: home,
    registrationLife: 30_000,
    userTransport: transportParameter(ParamType.SctpTransport, 4000 + peId, [parseAddress('127.0.0.1')!], TransportUse.DataPlusControl),
    policy: policySettings(PolicyType.RoundRobin),
    asapTransport: null,
  };
}

const pool = (name: string): Uint8Array => new TextEncoder().encode(name);

function enrp(fields: Record<string, unknown>): Uint8Array {
  return encodeMessage({ protocol: 'enrp', flags: 0, receiverId: 0, paddedLength: false, unknownParams: null, ...fields } as unknown as Message);
}

function update(sender: number, action: number, poolName: string, peId: number, home = sender): Uint8Array {
  return enrp({ type: EnrpType.HandleUpdate, senderId: sender, action, reserved: 0, poolHandle: pool(poolName), poolElement: element(peId, home) });
}

describe('--max-pes-per-peer', () => {
  it("a peer's ADD_PEs beyond its budget are dropped and counted; other peers and its known PEs are not affected", () => {
    const { partition, enrp: e } = setup();
    // One pool and several: the budget is per home, not per pool.
    for (let i = 1; i <= 5; i++) e.applyHandleUpdate(update(P, UpdateAction.AddPe, i % 2 === 0 ? 'a' : 'b', i));
    expect(partition.ownedCount(P)).toBe(BUDGET);
    expect(e.counters).toMatchObject({ updatesApplied: 3, updatesRejected: 2, peerLimitRefused: 2 });
    // Another peer has a budget of its own.
    for (let i = 1; i <= 3; i++) e.applyHandleUpdate(update(Q, UpdateAction.AddPe, 'a', 100 + i));
    expect(partition.ownedCount(Q)).toBe(3);
    // A PE it holds may still change (no new PE for its home).
    e.applyHandleUpdate(update(P, UpdateAction.AddPe, 'b', 1));
    expect(e.counters.peerLimitRefused).toBe(2);
    // Room again after a DEL_PE.
    e.applyHandleUpdate(update(P, UpdateAction.DelPe, 'b', 1));
    e.applyHandleUpdate(update(P, UpdateAction.AddPe, 'b', 9));
    expect(partition.findElement(pool('b'), 9)?.homeRegistrarId).toBe(P);
    expect(partition.ownedCount(P)).toBe(BUDGET);
    expect(e.counters.peerLimitRefused).toBe(2);
    partition.checkConsistency();
  });

  it("a mentor's full table holds each home to its budget, moves to a full home included", () => {
    const { partition, enrp: e } = setup();
    const entries = [
      { poolHandle: pool('t'), poolElements: [1, 2, 3, 4].map((id) => element(id, Q)) },
      { poolHandle: pool('u'), poolElements: [5, 6].map((id) => element(id, P)) },
    ];
    e.applyHandleTable(enrp({ type: EnrpType.HandleTableResponse, senderId: P, entries }));
    expect([partition.ownedCount(Q), partition.ownedCount(P)]).toEqual([3, 2]);
    expect(e.counters.peerLimitRefused).toBe(1);
    // A PE of P that the next page names as Q's would be one more for Q: refused, stays P's.
    e.applyHandleTable(enrp({ type: EnrpType.HandleTableResponse, senderId: P, entries: [{ poolHandle: pool('u'), poolElements: [element(5, Q)] }] }));
    expect(partition.findElement(pool('u'), 5)?.homeRegistrarId).toBe(P);
    expect(e.counters.peerLimitRefused).toBe(2);
  });

  it('the default (the config) is 100,000 per peer and shard, beside --max-pes 1,000,000', async () => {
    const { defaultRegistrarConfig } = await import('../../src/registrar/config.js');
    const d = defaultRegistrarConfig();
    expect(d.maxElementsPerPeer).toBe(100_000);
    expect(d.maxElements).toBe(1_000_000);
  });
});
