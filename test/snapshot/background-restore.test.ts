// A warm restart that serves at once (src/snapshot/restore.ts, src/shard/worker.ts): a shard
// opens its part of the snapshot, answers right away, restores its pools in slices between
// event-loop turns, and a message that touches a pool still in the file restores that pool
// first. First in one shard's objects with the background restore held still (virtual time,
// no threads), then a real registrar on loopback whose background restore is slowed to one PE
// per event-loop turn, and an ENRP peer that starts against it while it restores.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Partition } from '../../src/handlespace/partition.js';
import { dumpPartition } from '../../src/shard/handlespace-dump.js';
import { AsapService } from '../../src/shard/asap-service.js';
import { EnrpHandlespace } from '../../src/shard/enrp-handlespace.js';
import { AsapTransportTable, asapTransportTlv } from '../../src/shard/pe-asap-transport.js';
import { encodePart } from '../../src/snapshot/part-writer.js';
import { restoreSnapshot, SnapshotRestore } from '../../src/snapshot/restore.js';
import { assembleSnapshot } from '../../src/snapshot/snapshot-format.js';
import { writeSnapshotFile } from '../../src/snapshot/snapshot-file.js';
import { AsapType, EnrpType, ParamType, PolicyType, TransportUse, UpdateAction, decodeAsap, encodeMessage, parseAddress, policySettings, transportParameter, type AsapMessage, type Message } from '../../src/wire/index.js';
import { VirtualScheduler } from '../handlespace/helpers.js';
import { handleResolution, registration, AsapPeer } from '../registrar/asap-peer.js';
import { freeUdpPort, sleep, startTestRegistrar, waitFor, type LogRecord } from '../registrar/harness.js';
import { meshed, startMember } from '../enrp/harness.js';
import { addElement, emptyPartition, OWN, PEER } from './fixtures.js';

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await Promise.race([c.close().catch(() => undefined), sleep(3000)]);
});

const encode = (name: string): Uint8Array => new TextEncoder().encode(name);

/** A snapshot: `pools` pools of one peer's PE each ("pool-00001"...), and "zz-a", "zz-b" of `inZz` PEs each (last in file order; data plus control, as the test PEs register). */
function snapshotBytes(pools: number, inZz: number, home = PEER): Uint8Array {
  const f = emptyPartition();
  let id = 1;
  for (let i = 1; i <= pools; i++) addElement(f, `pool-${String(i).padStart(5, '0')}`, id++, { home, port: 5000 + (i % 1000) });
  for (const pool of ['zz-a', 'zz-b']) for (let i = 0; i < inZz; i++) addElement(f, pool, 0x10000 + id++, { home, port: 6000 + i, use: TransportUse.DataPlusControl });
  return assembleSnapshot(OWN, Date.now(), [encodePart(f.partition, f.transports, OWN)]);
}

/** One shard's objects as the worker wires them, with a restore that is only ever stepped by hand. */
function shard(bytes: Uint8Array) {
  const clock = new VirtualScheduler();
  const partition = new Partition({ ownRegistrarId: OWN, scheduler: clock, jitter: 0 });
  const transports = new AsapTransportTable();
  const sent: AsapMessage[] = [];
  const enrp = new EnrpHandlespace(partition, OWN, transports, { handleUpdate: () => undefined }, () => true);
  const service = new AsapService(
    partition,
    OWN,
    {
      send: (_a, m) => {
        const r = decodeAsap(m.slice());
        if (r.ok && r.message.protocol === 'asap') sent.push(r.message);
      },
      abort: () => undefined,
    },
    { info: () => undefined, warn: () => undefined },
    transports,
  );
  const restore = new SnapshotRestore(bytes, partition, transports, asapTransportTlv, OWN, () => true);
  service.restorePool = (h) => void restore.restorePool(h);
  enrp.restorePool = (h) => void restore.restorePool(h);
  service.associationUp(1, { address: '127.0.0.1', port: 4000 });
  return { partition, service, enrp, restore, sent, deliver: (m: AsapMessage) => service.handle(1, encodeMessage(m)) };
}

const resolutionIds = (m: AsapMessage | undefined): number[] => (m?.type === AsapType.HandleResolutionResponse ? m.poolElements.map((e) => e.peId).sort((a, b) => a - b) : []);

/** The operator's view of a partition without what differs between two restores (timers). */
function comparable(p: Partition) {
  return dumpPartition(p, 0)
    .sort((a, b) => (a.handleHex < b.handleHex ? -1 : 1))
    .map((pool) => ({ ...pool, elements: pool.elements.map(({ timer: _t, ...rest }) => rest) }));
}

describe('warm restart in the background, one shard (virtual time)', () => {
  it('a pool still in the file answers a handle resolution at once with its snapshot PEs; only that pool is restored', () => {
    const s = shard(snapshotBytes(50, 4));
    expect(s.restore.progress()).toMatchObject({ restored: 0, elements: 58, complete: false });
    expect(s.partition.elementCount).toBe(0);
    s.deliver(handleResolution('zz-b', 10));
    expect(s.sent).toHaveLength(1);
    expect(resolutionIds(s.sent[0])).toHaveLength(4);
    expect(s.partition.poolCount).toBe(1);
    expect(s.restore.progress()).toMatchObject({ restored: 4, pools: 1, poolsOnDemand: 1, complete: false });
    // The same pool again: nothing more to restore.
    s.deliver(handleResolution('zz-b', 10));
    expect(s.restore.progress()).toMatchObject({ restored: 4, poolsOnDemand: 1 });
    // A pool the snapshot does not have is unknown, as before.
    s.deliver(handleResolution('nowhere', 10));
    expect(s.sent[2]?.type === AsapType.HandleResolutionResponse ? s.sent[2].error?.causes[0]?.code : null).not.toBeNull();
  });

  it('a registration into a pool not yet restored keeps the pool\'s restored PEs', () => {
    const s = shard(snapshotBytes(20, 3));
    s.deliver(registration('zz-a', 0xabc, policySettings(PolicyType.RoundRobin), 7777));
    const response = s.sent.find((m) => m.type === AsapType.RegistrationResponse);
    expect(response?.type === AsapType.RegistrationResponse ? response.error : 'none').toBeNull();
    s.deliver(handleResolution('zz-a', 100));
    const ids = resolutionIds(s.sent.at(-1));
    expect(ids).toHaveLength(4);
    expect(ids).toContain(0xabc);
    // The background restore later leaves that pool as it is now.
    s.restore.finish();
    expect(s.partition.findPool(encode('zz-a'))!.elements.size).toBe(4);
    expect(s.restore.progress()).toMatchObject({ restored: 26, complete: true, error: null });
  });

  it('an ENRP ADD_PE and a handle table entry for pools not yet restored keep their restored PEs', () => {
    const s = shard(snapshotBytes(20, 3));
    const pe = (peId: number) => ({
      peId,
      homeRegistrarId: PEER,
      registrationLife: 30_000,
      userTransport: transportParameter(ParamType.SctpTransport, 9000 + (peId & 0xff), [parseAddress('10.0.0.9')!], TransportUse.DataPlusControl),
      policy: policySettings(PolicyType.RoundRobin),
      asapTransport: null,
    });
    const enrp = (fields: Record<string, unknown>): Uint8Array => encodeMessage({ protocol: 'enrp', flags: 0, receiverId: 0, paddedLength: false, unknownParams: null, ...fields } as unknown as Message);
    s.enrp.applyHandleUpdate(enrp({ type: EnrpType.HandleUpdate, senderId: PEER, action: UpdateAction.AddPe, reserved: 0, poolHandle: encode('zz-a'), poolElement: pe(0xdd01) }));
    expect(s.partition.findPool(encode('zz-a'))!.elements.size).toBe(4);
    s.enrp.applyHandleTable(enrp({ type: EnrpType.HandleTableResponse, senderId: PEER, receiverId: OWN, entries: [{ poolHandle: encode('zz-b'), poolElements: [pe(0xdd02)] }] }));
    expect(s.partition.findPool(encode('zz-b'))!.elements.size).toBe(4);
    expect(s.restore.progress()).toMatchObject({ poolsOnDemand: 2 });
  });

  it('PE checksums while restoring are the snapshot\'s (restored PEs plus those still in the file), equal to the checksums once complete', () => {
    const s = shard(snapshotBytes(40, 3, OWN));
    const fold = (x: number): number => (x > 0xffff ? (x & 0xffff) + (x >>> 16) : x);
    const sumOf = (owner: number): number => fold(s.enrp.checksumSum(owner) + s.restore.pendingChecksumSum(owner));
    const atStart = sumOf(OWN);
    expect(atStart).not.toBe(0);
    expect(sumOf(PEER)).toBe(0); // no PE of that owner in the file
    s.deliver(handleResolution('zz-a', 1)); // one pool on demand
    let t = 0;
    s.restore.step(3, () => (t += 1)); // a slice of the background restore
    expect(s.restore.complete).toBe(false);
    expect(sumOf(OWN)).toBe(atStart);
    s.restore.finish();
    expect(s.restore.pendingChecksumSum(OWN)).toBe(0);
    expect(s.enrp.checksumSum(OWN)).toBe(atStart);
  });

  it('restored in slices, with pools asked for in between, the shard holds what a restore at once holds', () => {
    const bytes = snapshotBytes(300, 40, OWN);
    const s = shard(bytes);
    let t = 0;
    const now = (): number => (t += 1); // every look at the clock costs 1 ms: a 5 ms budget is ~5 PEs
    let steps = 0;
    let last = -1;
    while (!s.restore.step(5, now)) {
      steps++;
      const p = s.restore.progress();
      expect(p.restored).toBeGreaterThan(last); // every slice makes progress
      last = p.restored;
      if (steps === 10) s.deliver(handleResolution('zz-b', 1)); // the middle of the background restore
      if (steps === 20) s.deliver(handleResolution('pool-00100', 1)); // one it has passed already
    }
    expect(steps).toBeGreaterThan(50);
    expect(s.restore.progress()).toEqual({ restored: 380, own: 380, pools: 302, rejected: 0, damaged: 0, error: null, elements: 380, poolsOnDemand: 1, complete: true });
    const atOnce = emptyPartition();
    expect(restoreSnapshot(bytes, atOnce.partition, atOnce.transports, asapTransportTlv, OWN, () => true).restored).toBe(380);
    expect(comparable(s.partition)).toEqual(comparable(atOnce.partition));
    s.partition.checkConsistency();
  });
});

describe('a registrar that serves from its snapshot while restoring it (loopback)', () => {
  // 20,000 pools of one PE each, restored one PE per event-loop turn (a slice of 1 µs): the
  // background restore takes 20,000 turns, so the pools at the end of the file are reached by
  // the pool user's messages first.
  const POOLS = 20_000;
  const SLOW = { snapshotRestoreSlice: 0.001, snapshotInterval: 0, tcpPort: 0, controlPort: 0 };

  async function snapshotFile(pools: number, inZz: number): Promise<string> {
    const file = join(await mkdtemp(join(tmpdir(), 'background-restore-')), 'handlespace.rshs');
    await writeSnapshotFile(file, snapshotBytes(pools, inZz));
    return file;
  }
  const completeLog = (logs: LogRecord[]) => logs.find((l) => l.msg.startsWith('handlespace restored from the snapshot'));

  it('answers a pool at the end of the file at once, a registration there keeps its PEs, a dump is whole, and the restore finishes', async () => {
    const file = await snapshotFile(POOLS, 5);
    const t = await startTestRegistrar({ shards: 1, ...SLOW, snapshot: file });
    closers.push(t.registrar);
    expect(t.logs.find((l) => l.msg.startsWith('serving from the handlespace snapshot'))).toMatchObject({ poolElements: POOLS + 10 });
    const pu = await AsapPeer.connect(t.registrar.asapAddress);
    closers.push(pu);
    const first = await pu.resolve('zz-b', 100, 3000);
    expect(first.poolElements).toHaveLength(5);
    expect(completeLog(t.logs)).toBeUndefined(); // answered while the restore goes on
    const registered = await pu.register('zz-a', 0xfeed, policySettings(PolicyType.RoundRobin), 7001, 3000);
    expect(registered.error).toBeNull();
    expect((await pu.resolve('zz-a', 100, 3000)).poolElements).toHaveLength(6);
    expect(completeLog(t.logs)).toBeUndefined();
    // A dump asked now is answered once the handlespace is whole, never in part.
    const rows = await t.registrar.dump();
    expect(rows).toHaveLength(POOLS + 11);
    await waitFor(() => completeLog(t.logs) !== undefined, 30_000, 'restore complete');
    expect(completeLog(t.logs)).toMatchObject({ poolElements: POOLS + 10, rejected: 0 });
    expect(Number(completeLog(t.logs)!['poolsOnDemand'])).toBeGreaterThanOrEqual(2);
    expect((await t.registrar.stats()).shards[0]!.poolElements).toBe(POOLS + 11);
  }, 60_000);

  it('an ENRP peer that starts while the registrar restores gets the whole handlespace from it', async () => {
    const pools = 3000;
    const file = await snapshotFile(pools, 2);
    const [udpA, udpB] = [await freeUdpPort(), await freeUdpPort()];
    const a = await startMember(udpA, [], { ...SLOW, snapshot: file });
    closers.push(a.registrar);
    expect(completeLog(a.logs)).toBeUndefined();
    const b = await startMember(udpB, [udpA], { tcpPort: 0, controlPort: 0 });
    closers.push(b.registrar);
    await waitFor(() => meshed([a, b]), 10_000, 'meshed');
    // B's mentor (A) sent its handle table: A finished its restore for it, B holds every PE.
    await waitFor(async () => (await b.registrar.dump()).length === pools + 4, 15_000, 'B holds A\'s whole handlespace');
    expect(completeLog(a.logs)).toBeDefined();
    const [peerOfB] = await a.registrar.peers();
    // A's checksum of B's PEs (none) matches B's: no audit started from a partial count.
    expect(peerOfB?.localChecksum).toBe(peerOfB?.announcedChecksum);
  }, 60_000);
});
