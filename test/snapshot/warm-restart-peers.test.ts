// Warm restart in a scope of registrars: PEs homed at a peer come back from the snapshot as
// the peer's, and ENRP's usual reconciliation (RFC 5353 §3.2.3 the start-up synchronisation,
// §3.6 the audit by PE checksums and the peer's own handle table) removes those the peer no
// longer has, gone while this registrar was down.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AsapPeer } from '../registrar/asap-peer.js';
import { freeUdpPort, meshed, startMember, waitFor, type ScopeMember } from '../enrp/harness.js';

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c.close().catch(() => undefined);
});

describe('warm restart with ENRP peers', () => {
  it('peers\' PEs are restored as theirs and reconciled by the audit', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'warm-peers-')), 'a.rshs');
    const [udpA, udpB] = [await freeUdpPort(), await freeUdpPort()];
    const snapshotted = { snapshot: file, snapshotInterval: 0, tcpPort: 0, controlPort: 0 };
    let a: ScopeMember = await startMember(udpA, [udpB], snapshotted);
    const b = await startMember(udpB, [udpA], { tcpPort: 0, controlPort: 0 });
    closers.push(b.registrar);
    await waitFor(() => meshed([a, b]), 5000, 'meshed');
    const idA = a.registrar.id;

    // Three PEs registered at B; A learns them over ENRP.
    const pe = await AsapPeer.connect(b.registrar.asapAddress);
    closers.push(pe);
    for (const id of [0x11, 0x12, 0x13]) expect((await pe.register('peer-pool', id)).error).toBeNull();
    await waitFor(async () => (await a.registrar.dump()).length === 3, 5000, 'A holds B\'s PEs');

    // A stops (its snapshot holds B's three PEs); meanwhile one of them leaves B.
    await a.registrar.close();
    await pe.deregister('peer-pool', 0x12);
    await waitFor(async () => (await b.registrar.dump()).length === 2, 3000, 'B without 0x12');

    a = await startMember(udpA, [udpB], snapshotted);
    closers.push(a.registrar);
    expect(a.registrar.id).toBe(idA);
    await waitFor(() => a.logs.some((l) => l.msg.startsWith('handlespace restored from the snapshot')), 5000, 'restore complete');
    const restored = a.logs.find((l) => l.msg.startsWith('handlespace restored from the snapshot'));
    expect(restored).toMatchObject({ poolElements: 3, own: 0 });
    // A's checksum of B's PEs differs from the one B announces: 0x12 is swept.
    await waitFor(async () => {
      const rows = await a.registrar.dump();
      return rows.length === 2 && !rows.some((r) => r[1] === 0x12);
    }, 10_000, 'A reconciled with B');
    expect(new Set((await a.registrar.dump()).map((r) => r[2]))).toEqual(new Set([b.registrar.id]));
  }, 40_000);
});
