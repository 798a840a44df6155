import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Builder } from 'flatbuffers';
import { TimerKind } from '../../src/handlespace/pool-element.js';
import { Partition } from '../../src/handlespace/partition.js';
import { crc32c } from '../../src/sctp/crc32c.js';
import { dumpPartition } from '../../src/shard/handlespace-dump.js';
import { asapTransportTlv } from '../../src/shard/pe-asap-transport.js';
import { encodePart, encodePartAsync, PartEncoder } from '../../src/snapshot/part-writer.js';
import { restoreSnapshot } from '../../src/snapshot/restore.js';
import { assembleSnapshot, SnapshotError, SnapshotReader } from '../../src/snapshot/snapshot-format.js';
import { readSnapshotFile, writeSnapshotFile } from '../../src/snapshot/snapshot-file.js';
import { readSnapshotElement } from '../../src/snapshot/part-reader.js';
import { Handlespace } from '../../src/snapshot/handlespace_generated.js';
import { ParamType, PolicyType } from '../../src/wire/constants.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import { shardOf } from '../../src/shard/thread-protocol.js';
import { addElement, emptyPartition, OWN, PEER, type Filled } from './fixtures.js';

/** A partition with a bit of everything: policies with values, IPv4 and IPv6, TCP, peers' PEs, no ASAP transport. */
function varied(): Filled {
  const f = emptyPartition();
  for (let i = 1; i <= 20; i++) addElement(f, 'echo', i, { addresses: ['10.0.0.1', '2001:db8::5'] });
  addElement(f, 'weighted', 100, { policy: policySettings(PolicyType.WeightedRandom, { weight: 7 }) });
  addElement(f, 'weighted', 101, { policy: policySettings(PolicyType.WeightedRandom, { weight: 0xfffffff0 }), home: PEER, life: 12_345 });
  addElement(f, 'dpf', 0xffffffff, { policy: policySettings(PolicyType.PriorityLeastUsedDegradationDpf, { load: 1, loadDegradation: 2, loadDpf: 3, distance: 4 }), addresses: ['::1'] });
  addElement(f, 'tcp', 5, { protocol: ParamType.TcpTransport, port: 80, asap: null, addresses: ['192.0.2.7'] });
  addElement(f, '\u0000binary\u00ff', 6, { home: PEER });
  return f;
}

function snapshotOf(f: Filled, ownId = OWN): Uint8Array {
  return assembleSnapshot(ownId, 1_700_000_000_123, [encodePart(f.partition, f.transports, ownId)]);
}

/** The operator view without what a restart changes (association, timer). */
function comparable(p: Partition) {
  return dumpPartition(p, 0)
    .sort((a, b) => (a.handleHex < b.handleHex ? -1 : 1))
    .map((pool) => ({ ...pool, elements: pool.elements.map(({ association: _a, timer: _t, ...rest }) => rest) }));
}

function restoreInto(bytes: Uint8Array, ownId = OWN, mine: (h: Uint8Array) => boolean = () => true): { f: Filled; counts: ReturnType<typeof restoreSnapshot> } {
  const f = emptyPartition(ownId);
  const counts = restoreSnapshot(bytes, f.partition, f.transports, asapTransportTlv, ownId, mine);
  return { f, counts };
}

describe('handlespace snapshot: save and load', () => {
  it('a restored partition equals the saved one (pools, PEs, transports, policy values, homes, lives, ASAP transports)', () => {
    const saved = varied();
    const bytes = snapshotOf(saved);
    const reader = new SnapshotReader(bytes);
    expect(reader.header).toMatchObject({ version: 1, registrarId: OWN, timeMs: 1_700_000_000_123, poolCount: 5, elementCount: 25, parts: 1, bytes: bytes.length });
    const { f, counts } = restoreInto(bytes);
    expect(counts).toEqual({ restored: 25, own: 23, pools: 5, rejected: 0, damaged: 0, error: null });
    expect(comparable(f.partition)).toEqual(comparable(saved.partition));
    f.partition.checkConsistency();
    for (const pool of saved.partition.allPools()) {
      for (const e of pool.elements.values()) {
        const back = f.partition.findElement(pool.handle, e.peId)!;
        expect(back.encoded).toEqual(e.encoded);
        expect(f.transports.get(back)).toEqual(saved.transports.get(e));
        expect(back.associationId).toBe(0);
      }
    }
  });

  it('own PEs come back as ours with a keep-alive with the H bit due now; peers\' PEs with their registration life', () => {
    const { f } = restoreInto(snapshotOf(varied()));
    const own = f.partition.findElement(new TextEncoder().encode('echo'), 3)!;
    expect(own.homeRegistrarId).toBe(OWN);
    expect(own.timerKind).toBe(TimerKind.KeepAliveTransmissionHome);
    expect(own.timerAt).toBe(0);
    const peer = f.partition.findElement(new TextEncoder().encode('weighted'), 101)!;
    expect(peer.homeRegistrarId).toBe(PEER);
    expect(peer.timerKind).toBe(TimerKind.LifetimeExpiry);
    expect(peer.timerAt).toBe(12_345);
    expect(f.partition.ownedCount(0)).toBe(0);
  });

  it('a registrar with another ID takes the writer\'s PEs as its own', () => {
    const { f, counts } = restoreInto(snapshotOf(varied()), 0x0bad0bad);
    expect(counts.own).toBe(23);
    expect(f.partition.ownedCount(0x0bad0bad)).toBe(23);
    expect(f.partition.ownedCount(PEER)).toBe(2);
  });

  it('each shard takes only its pools; together they hold everything once', () => {
    const bytes = snapshotOf(varied());
    let total = 0;
    for (let shard = 0; shard < 3; shard++) {
      const { counts, f } = restoreInto(bytes, OWN, (h) => shardOf(h, 3) === shard);
      for (const pool of f.partition.allPools()) expect(shardOf(pool.handle, 3)).toBe(shard);
      total += counts.restored;
    }
    expect(total).toBe(25);
  });

  it('one pool is found by handle without reading the others; an unknown handle is null', () => {
    const reader = new SnapshotReader(snapshotOf(varied()));
    const pool = reader.findPool(new TextEncoder().encode('weighted'))!;
    expect(pool.elementsLength()).toBe(2);
    const record = readSnapshotElement(pool, pool.elements(1)!)!;
    expect(record).toMatchObject({ peId: 101, homeRegistrarId: PEER, registrationLife: 12_345, ours: false });
    expect(record.policy.weight).toBe(0xfffffff0);
    expect(reader.findPool(new TextEncoder().encode('weighte'))).toBeNull();
    expect(reader.findPool(new TextEncoder().encode('zzz'))).toBeNull();
    for (const name of ['echo', 'dpf', 'tcp', '\u0000binary\u00ff']) expect(reader.findPool(new TextEncoder().encode(name))).not.toBeNull();
  });

  it('the limits hold on restore: PEs beyond --max-pes are counted as rejected, the rest served', () => {
    const bytes = snapshotOf(varied());
    const f = emptyPartition();
    const limited = new Partition({ ownRegistrarId: OWN, scheduler: f.clock, limits: { maxPoolElements: 10 } });
    const counts = restoreSnapshot(bytes, limited, f.transports, asapTransportTlv, OWN, () => true);
    expect(counts.restored).toBe(10);
    expect(counts.rejected).toBe(15);
    expect(limited.elementCount).toBe(10);
  });
});

describe('handlespace snapshot: step by step (the shard serves between steps)', () => {
  it('steps of a few PEs make the same part as one go', async () => {
    const f = varied();
    const whole = encodePart(f.partition, f.transports, OWN);
    const stepped = await encodePartAsync(f.partition, f.transports, OWN, 3);
    expect(stepped).toEqual(whole);
  });

  it('a pool emptied between steps is left out, a PE changed meanwhile is written as it is then', () => {
    const f = varied();
    const encoder = new PartEncoder(f.partition, f.transports, OWN);
    expect(encoder.step(1)).toBe(false); // the first pool (by handle: the binary one)
    f.partition.deregister(new TextEncoder().encode('tcp'), 5);
    addElement(f, 'weighted', 100, { policy: policySettings(PolicyType.WeightedRandom, { weight: 99 }) });
    while (!encoder.step(2));
    const reader = new SnapshotReader(assembleSnapshot(OWN, 0, [encoder.finish()]));
    expect(reader.findPool(new TextEncoder().encode('tcp'))).toBeNull();
    const weighted = reader.findPool(new TextEncoder().encode('weighted'))!;
    const weights = Array.from({ length: weighted.elementsLength() }, (_, i) => readSnapshotElement(weighted, weighted.elements(i)!)!.policy.weight);
    expect(weights).toContain(99);
    expect(reader.header.elementCount).toBe(24);
  });
});

describe('handlespace snapshot: damaged and foreign files', () => {
  const bytes = snapshotOf(varied());

  it('a flipped bit anywhere is a clear error (CRC32c)', () => {
    for (const at of [0, 5, 100, Math.floor(bytes.length / 2), bytes.length - 12]) {
      const bad = bytes.slice();
      bad[at]! ^= 0x10;
      expect(() => new SnapshotReader(bad)).toThrow(SnapshotError);
    }
    const bad = bytes.slice();
    bad[Math.floor(bytes.length / 2)]! ^= 1;
    expect(() => new SnapshotReader(bad)).toThrow(/corrupt: its CRC32c does not match/);
  });

  it('a truncated, empty or foreign file says so', () => {
    expect(() => new SnapshotReader(bytes.subarray(0, bytes.length - 100))).toThrow(/not a handlespace snapshot|corrupt/);
    expect(() => new SnapshotReader(new Uint8Array(0))).toThrow(/too short/);
    expect(() => new SnapshotReader(new TextEncoder().encode('{"pools": []}\n and some more text'))).toThrow(/file identifier RSHS missing/);
  });

  it('another version is refused with the versions named', () => {
    const b = new Builder(64);
    Handlespace.startHandlespace(b);
    Handlespace.addVersion(b, 2);
    Handlespace.finishHandlespaceBuffer(b, Handlespace.endHandlespace(b));
    const body = b.asUint8Array();
    const file = assembleSnapshot(1, 0, []);
    // Same trailer scheme, version 2 body: rebuild the CRC by assembling by hand.
    const out = new Uint8Array(body.length + 8);
    out.set(body);
    new DataView(out.buffer).setUint32(body.length, crc32c(body), true);
    out.set(file.subarray(file.length - 4), body.length + 4);
    expect(() => new SnapshotReader(out)).toThrow(/version 2 is not supported \(this build reads version 1\)/);
  });

  it('a damaged file read without the CRC check stops the restore with an error, never an exception', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const bad = bytes.slice();
      for (let k = 0; k < 8; k++) bad[(seed * 7919 * (k + 1)) % (bytes.length - 8)] = (seed * 31 + k) & 0xff;
      const f = emptyPartition();
      const counts = restoreSnapshot(bad, f.partition, f.transports, asapTransportTlv, OWN, () => true);
      expect(counts.restored + counts.rejected + counts.damaged).toBeLessThanOrEqual(bad.length / 4);
      f.partition.checkConsistency();
    }
  });
});

describe('snapshot files', () => {
  it('are written atomically (no temporary file left) and read back checked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapshot-'));
    const path = join(dir, 'handlespace.rshs');
    const bytes = snapshotOf(varied());
    await writeSnapshotFile(path, bytes);
    await writeSnapshotFile(path, bytes);
    expect(await readdir(dir)).toEqual(['handlespace.rshs']);
    expect(new Uint8Array(await readFile(path))).toEqual(bytes);
    expect((await readSnapshotFile(path)).header.elementCount).toBe(25);
    await writeFile(join(dir, 'bad.rshs'), 'garbage garbage garbage');
    await expect(readSnapshotFile(join(dir, 'bad.rshs'))).rejects.toThrow(/bad\.rshs: not a handlespace snapshot/);
    await expect(readSnapshotFile(join(dir, 'missing.rshs'))).rejects.toThrow(/missing\.rshs: no such file/);
  });
});
