// A pool's pre-encoded Pool Element parameters live in one slab (src/handlespace/encoded-slab.ts):
// every PE must keep answering with its own bytes through growth, compaction, re-registration
// and removal, and views handed out earlier must keep what they showed.
import { describe, expect, it } from 'vitest';
import { SLAB_CHUNK } from '../../src/handlespace/encoded-slab.js';
import { Partition, type Registration } from '../../src/handlespace/index.js';
import { ParamType, PolicyType, TransportUse } from '../../src/wire/constants.js';
import { policySettings } from '../../src/wire/policy-settings.js';

const handle = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Bytes that name the PE and a version: 56 bytes with the PE ID at 4-7 as in a real parameter. */
function bytesOf(peId: number, version: number, length = 56): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (peId * 31 + version * 7 + i) & 0xff;
  new DataView(b.buffer).setUint32(4, peId);
  return b;
}

function registration(pool: string, peId: number, encoded: Uint8Array, load = 0): Registration {
  return {
    poolHandle: handle(pool),
    peId,
    homeRegistrarId: 1,
    registrationLife: 30_000,
    policy: policySettings(PolicyType.LeastUsed, { load }),
    userTransport: { protocol: ParamType.SctpTransport, port: 5000 + (peId % 1000), use: TransportUse.DataOnly, addressCount: 1 },
    associationId: 1 + (peId % 7),
    encoded,
  };
}

describe('encoded slab', () => {
  it('keeps every PE its own bytes through growth, re-registration and removal', () => {
    const p = new Partition({ ownRegistrarId: 1 });
    const expected = new Map<number, Uint8Array>();
    for (let id = 1; id <= 2000; id++) {
      const b = bytesOf(id, 0, 40 + (id % 3) * 8);
      expect(p.register(registration('pool', id, b)).ok).toBe(true);
      expected.set(id, b);
    }
    // Re-register a third with other bytes, remove another third.
    for (let id = 1; id <= 2000; id += 3) {
      const b = bytesOf(id, 1, 48);
      p.register(registration('pool', id, b));
      expected.set(id, b);
    }
    for (let id = 2; id <= 2000; id += 3) {
      p.deregister(handle('pool'), id);
      expected.delete(id);
    }
    for (const [id, b] of expected) expect(p.findElement(handle('pool'), id)!.encoded).toEqual(b);
    // Removing most shrinks the slab; the rest still answer with their bytes.
    for (const id of [...expected.keys()].filter((id) => id % 10 !== 0)) {
      p.deregister(handle('pool'), id);
      expected.delete(id);
    }
    const pool = p.findPool(handle('pool'))!;
    const live = [...expected.values()].reduce((n, b) => n + b.length, 0);
    expect(pool.slab.live).toBe(live);
    expect(pool.slab.bytes.length).toBeLessThanOrEqual(4 * live);
    for (const [id, b] of expected) expect(p.findElement(handle('pool'), id)!.encoded).toEqual(b);
    p.checkConsistency();
  });

  it('a large slab grows by chunks without moving bytes, and is rebuilt when mostly dead', () => {
    const p = new Partition({ ownRegistrarId: 1 });
    const expected = new Map<number, Uint8Array>();
    const total = Math.ceil((5 * SLAB_CHUNK) / 56);
    for (let id = 1; id <= total; id++) {
      const b = bytesOf(id, 0, 48 + (id % 2) * 16);
      p.register(registration('pool', id, b));
      expected.set(id, b);
    }
    const pool = p.findPool(handle('pool'))!;
    const first = p.findElement(handle('pool'), 1)!;
    const array = first.encodedBytes;
    const start = first.encodedStart;
    // More PEs: new chunks, the earlier PEs' bytes stay where they are.
    for (let id = total + 1; id <= 2 * total; id++) {
      const b = bytesOf(id, 0);
      p.register(registration('pool', id, b));
      expected.set(id, b);
    }
    expect(first.encodedBytes).toBe(array);
    expect(first.encodedStart).toBe(start);
    expect(pool.slab.capacity).toBeLessThanOrEqual(pool.slab.live + 2 * SLAB_CHUNK);
    for (const [id, b] of expected) expect(p.findElement(handle('pool'), id)!.encoded).toEqual(b);
    // Re-registrations with other bytes leave dead space: it is reclaimed, not piled up.
    for (let round = 1; round <= 4; round++) {
      for (let id = 1; id <= 2 * total; id++) {
        const b = bytesOf(id, round);
        p.register(registration('pool', id, b));
        expected.set(id, b);
      }
      expect(pool.slab.capacity).toBeLessThanOrEqual(2 * pool.slab.live + 2 * SLAB_CHUNK);
    }
    // Removing nine in ten shrinks it.
    for (let id = 1; id <= 2 * total; id++) {
      if (id % 10 === 0) continue;
      p.deregister(handle('pool'), id);
      expected.delete(id);
    }
    expect(pool.slab.capacity).toBeLessThanOrEqual(4 * pool.slab.live + SLAB_CHUNK);
    for (const [id, b] of expected) expect(p.findElement(handle('pool'), id)!.encoded).toEqual(b);
    p.checkConsistency();
  });

  it('a re-registration with the same bytes stores nothing; a view handed out keeps its bytes', () => {
    const p = new Partition({ ownRegistrarId: 1 });
    p.register(registration('pool', 7, bytesOf(7, 0)));
    const pool = p.findPool(handle('pool'))!;
    const used = pool.slab.used;
    p.register(registration('pool', 7, bytesOf(7, 0)));
    expect(pool.slab.used).toBe(used);
    const earlier = p.findElement(handle('pool'), 7)!.encoded;
    for (let v = 1; v < 50; v++) p.register(registration('pool', 7, bytesOf(7, v)));
    expect(earlier).toEqual(bytesOf(7, 0));
    expect(p.findElement(handle('pool'), 7)!.encoded).toEqual(bytesOf(7, 49));
  });

  it('a removed PE keeps its bytes (ENRP announces it after the partition let it go)', () => {
    const p = new Partition({ ownRegistrarId: 1 });
    for (let id = 1; id <= 300; id++) p.register(registration('pool', id, bytesOf(id, 0)));
    const gone = p.deregister(handle('pool'), 150)!;
    // Enough removals to rebuild the slab.
    for (let id = 1; id <= 290; id++) if (id !== 150) p.deregister(handle('pool'), id);
    expect(gone.registered).toBe(false);
    expect(gone.encoded).toEqual(bytesOf(150, 0));
    for (let id = 291; id <= 300; id++) expect(p.findElement(handle('pool'), id)!.encoded).toEqual(bytesOf(id, 0));
  });

  it('a new home is written into the stored bytes (takeover)', () => {
    const p = new Partition({ ownRegistrarId: 1 });
    p.register({ ...registration('pool', 9, bytesOf(9, 0)), homeRegistrarId: 2 });
    const e = p.findElement(handle('pool'), 9)!;
    p.changeOwner(e, 0x01020304);
    expect([...e.encoded.subarray(8, 12)]).toEqual([1, 2, 3, 4]);
    expect(e.encoded.subarray(12)).toEqual(bytesOf(9, 0).subarray(12));
  });

  it('PEs of a pool with the same policy values share one PolicySettings object', () => {
    const p = new Partition({ ownRegistrarId: 1 });
    for (let id = 1; id <= 10; id++) p.register(registration('pool', id, bytesOf(id, 0), id <= 5 ? 100 : 200));
    const policies = new Set([...p.findPool(handle('pool'))!.elements.values()].map((e) => e.policy));
    expect(policies.size).toBe(2);
    expect([...policies].map((x) => x.load).sort()).toEqual([100, 200]);
  });
});
