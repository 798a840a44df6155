// A hostile snapshot file: FlatBuffers vectors may point many entries at one table, and the
// CRC is no integrity check (the writer computes it). P pools whose element vectors hold E
// offsets of one PE table would cost P x E registrations in a file of about P + E offsets;
// reading must stay linear in the file's size and refuse such a file before restoring anything.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Builder } from 'flatbuffers';
import { afterEach, describe, expect, it } from 'vitest';
import { asapTransportTlv } from '../../src/shard/pe-asap-transport.js';
import { restoreSnapshot } from '../../src/snapshot/restore.js';
import { assembleSnapshot, SnapshotError, SnapshotReader } from '../../src/snapshot/snapshot-format.js';
import { Part, Pool as FbPool, PoolElement as FbPoolElement, Transport as FbTransport } from '../../src/snapshot/handlespace_generated.js';
import { ParamType, PolicyType } from '../../src/wire/constants.js';
import { LogLevel, sleep, startTestRegistrar } from '../registrar/harness.js';
import { addElement, emptyPartition, OWN } from './fixtures.js';
import { encodePart } from '../../src/snapshot/part-writer.js';

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await Promise.race([c.close().catch(() => undefined), sleep(2000)]);
});

interface Crafted {
  pools: number;
  /** Entries of the one element vector every pool shares, all the same PE table. */
  entries: number;
  /** Element count the header claims (default pools x entries: what the offsets add up to). */
  claimed?: number;
  /** The pools vector repeats one pool's offset instead of pools with increasing handles. */
  repeatPool?: boolean;
  /** Bytes of the one addresses vector (16 per address) the PE's transport holds. */
  addressBytes?: number;
  /** Bytes of an unreferenced vector: a file large enough that its size is no bound. */
  padding?: number;
}

/** A snapshot built with the flatbuffers Builder, reusing one PE table (and one element vector). */
function crafted(c: Crafted): Uint8Array {
  const b = new Builder(1024);
  if (c.padding !== undefined) b.createByteVector(new Uint8Array(c.padding));
  const address = new Uint8Array(c.addressBytes ?? 16);
  for (let at = 0; at + 16 <= address.length; at += 16) address.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1], at);
  const transport = FbTransport.createTransport(b, ParamType.SctpTransport, 5000, 0, 0, FbTransport.createAddressesVector(b, address));
  FbPoolElement.startPoolElement(b);
  FbPoolElement.addId(b, 1);
  FbPoolElement.addHome(b, OWN);
  FbPoolElement.addOurs(b, true);
  FbPoolElement.addRegistrationLife(b, 60_000);
  FbPoolElement.addUserTransport(b, transport);
  const pe = FbPoolElement.endPoolElement(b);
  const elements = FbPool.createElementsVector(b, new Array<number>(c.entries).fill(pe));
  const pools: number[] = [];
  if (c.repeatPool === true) {
    const one = FbPool.createPool(b, FbPool.createHandleVector(b, new TextEncoder().encode('pool')), PolicyType.RoundRobin, elements);
    for (let i = 0; i < c.pools; i++) pools.push(one);
  } else {
    for (let i = 0; i < c.pools; i++) {
      const handle = new Uint8Array([(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]); // increasing
      pools.push(FbPool.createPool(b, FbPool.createHandleVector(b, handle), PolicyType.RoundRobin, elements));
    }
  }
  const claimed = c.claimed ?? c.pools * c.entries;
  b.finish(Part.createPart(b, Part.createPoolsVector(b, pools), claimed));
  return assembleSnapshot(OWN, Date.now(), [{ bytes: b.asUint8Array().slice(), pools: c.pools, elements: claimed }]);
}

function restore(bytes: Uint8Array) {
  const f = emptyPartition();
  let registered = 0;
  const register = f.partition.register.bind(f.partition);
  f.partition.register = (r) => {
    registered++;
    return register(r);
  };
  const started = performance.now();
  const counts = restoreSnapshot(bytes, f.partition, f.transports, asapTransportTlv, OWN, () => true);
  return { counts, registered, ms: performance.now() - started, elements: f.partition.elementCount };
}

describe('a hostile snapshot (repeated FlatBuffers offsets)', () => {
  it('3,000 pools sharing one vector of 3,000 offsets of one PE (9,000,000 registrations before) is refused at once, nothing restored', () => {
    const bytes = crafted({ pools: 3000, entries: 3000 });
    expect(bytes.length).toBeLessThan(200_000);
    const r = restore(bytes);
    expect(r.counts.error).toMatch(/more than its \d+ bytes \(repeated offsets\)/);
    expect(r.registered).toBe(0);
    expect(r.elements).toBe(0);
    expect(r.counts.restored).toBe(0);
    // A linear walk of ~20,000 entries (~45 ms); 9e6 registrations took ~7 s. The bound leaves
    // room for a loaded CI machine and still fails the quadratic case.
    expect(r.ms).toBeLessThan(3000);
  });

  it('an honest-looking header count does not help: more elements than the header claims are refused', () => {
    const r = restore(crafted({ pools: 3, entries: 50, claimed: 50, padding: 100_000 }));
    expect(r.counts.error).toMatch(/more pool elements than its header's 50/);
    expect(r.registered).toBe(0);
  });

  it('a pools vector repeating one pool offset is refused (the format sorts pools by handle)', () => {
    const r = restore(crafted({ pools: 2000, entries: 1, claimed: 2000, repeatPool: true }));
    expect(r.counts.error).toMatch(/not sorted by handle/);
    expect(r.registered).toBe(0);
  });

  it('one addresses vector shared by every PE is charged per PE (no E x addresses copying)', () => {
    const r = restore(crafted({ pools: 1, entries: 2000, claimed: 2000, addressBytes: 64 * 16 }));
    expect(r.counts.error).toMatch(/repeated offsets/);
    expect(r.registered).toBe(0);
  });

  it('`snapshot show` paths (SnapshotReader.pools and findPool) throw a SnapshotError, quickly', () => {
    const reader = new SnapshotReader(crafted({ pools: 3000, entries: 3000 }));
    const started = performance.now();
    expect(() => {
      for (const _ of reader.pools());
    }).toThrow(SnapshotError);
    // One pool alone (3,000 entries) is within the file's size: found, its walk linear.
    expect(reader.findPool(new Uint8Array([0, 0, 5]))?.elementsLength()).toBe(3000);
    const wide = new SnapshotReader(crafted({ pools: 1, entries: 3000, addressBytes: 64 * 16 }));
    expect(() => wide.findPool(new Uint8Array([0, 0, 0]))).toThrow(/repeated offsets/);
    expect(performance.now() - started).toBeLessThan(3000); // ~20 ms; room for a loaded machine
    const repeated = new SnapshotReader(crafted({ pools: 3, entries: 1, claimed: 3, repeatPool: true }));
    expect(() => {
      for (const _ of repeated.pools());
    }).toThrow(/not sorted by handle/);
  });

  it('an honest snapshot still passes every check (budget exactly what its writer spent)', () => {
    const f = emptyPartition();
    for (let i = 1; i <= 200; i++) addElement(f, `pool-${i % 17}`, i, { addresses: ['10.0.0.1', '2001:db8::5'] });
    const bytes = assembleSnapshot(OWN, Date.now(), [encodePart(f.partition, f.transports, OWN)]);
    const r = restore(bytes);
    expect(r.counts.error).toBeNull();
    expect(r.counts.restored).toBe(200);
  });

  it('at registrar start: logged, the registrar starts empty and serves', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hostile-snapshot-'));
    const file = join(dir, 'handlespace.rshs');
    await writeFile(file, crafted({ pools: 3000, entries: 3000 }));
    const started = performance.now();
    const t = await startTestRegistrar({ shards: 1, snapshot: file, snapshotInterval: 0, controlPort: 0 });
    closers.push(t.registrar);
    expect(performance.now() - started).toBeLessThan(15_000);
    const logged = t.logs.find((l) => l.msg === 'handlespace snapshot restored in part');
    expect(logged).toMatchObject({ level: LogLevel.error, poolElements: 0 });
    expect(String(logged!['errors'])).toMatch(/repeated offsets/);
    expect((await t.registrar.stats()).shards[0]!.poolElements).toBe(0);
  }, 30_000);
});
