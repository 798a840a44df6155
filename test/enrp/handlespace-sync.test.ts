// RFC 5353 §3.2.3 (a new registrar downloads the handlespace from its mentor, in pages) and
// §3.6 (a PE checksum mismatch triggers an audit that ends with identical handlespaces).
import { afterEach, describe, expect, it } from 'vitest';
import type { ShardSet } from '../../src/shard/shard-set.js';
import { AsapType, EnrpType, UpdateAction } from '../../src/wire/constants.js';
import { encodeMessage } from '../../src/wire/encode.js';
import { AsapPeer, registration } from '../registrar/asap-peer.js';
import { freeUdpPort, meshed, startMember, startScope, waitFor, type ScopeMember } from './harness.js';

let members: ScopeMember[] = [];
/** One PE client registers thousands over one association: above the defaults (100 per association, 100/s). */
const BULK = { maxElementsPerAssociation: 20_000, registrationRate: 0 };
const peers: AsapPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
  await Promise.all(members.map((m) => m.registrar.close()));
  members = [];
});

/** Registers `count` PEs over `pools` pools at the registrar, pipelined. */
async function registerMany(member: ScopeMember, count: number, pools: number): Promise<AsapPeer> {
  const pe = await AsapPeer.connect(member.registrar.asapAddress);
  peers.push(pe);
  for (let i = 1; i <= count; i++) pe.send(registration(`sync-${i % pools}`, i));
  await waitFor(() => pe.received.filter((m) => m.type === AsapType.RegistrationResponse).length === count, 30_000, `${count} registrations answered`, 50);
  return pe;
}

describe('handlespace synchronisation', () => {
  it('a registrar started later loads 10,000 PEs from its mentor and resolves every one', async () => {
    members = await startScope(3, { shards: 2, ...BULK });
    const [a] = members as [ScopeMember];
    await waitFor(() => meshed(members), 20_000, 'meshed');
    await registerMany(a, 10_000, 100);
    await waitFor(async () => (await members[2]!.registrar.dump()).length === 10_000, 30_000, 'C has all');

    // A mentor is heard within milliseconds; FAST_ENRP's 1 s discovery timeout could pass first
    // on a loaded machine, and the registrar would start without the download under test.
    const fourth = await startMember(await freeUdpPort(), members.map((m) => m.udpPort), { shards: 2, ...BULK, mentorDiscoveryTimeout: 10_000 });
    members.push(fourth);
    const stats = await fourth.registrar.stats();
    expect(stats.enrp.tablePagesReceived).toBeGreaterThanOrEqual(Math.ceil(10_000 / 128));
    const dumpA = await a.registrar.dump();
    expect(await fourth.registrar.dump()).toEqual(dumpA);

    const pu = await AsapPeer.connect(fourth.registrar.asapAddress);
    peers.push(pu);
    const seen = new Set<number>();
    for (let p = 0; p < 100; p++) {
      const r = await pu.resolve(`sync-${p}`, 128);
      if (r.type !== AsapType.HandleResolutionResponse) throw new Error('not a response');
      for (const pe of r.poolElements) seen.add(pe.peId);
    }
    // 100 PEs per pool, up to 128 items per resolution: every PE came back.
    expect(seen.size).toBe(10_000);
  });

  it('a forged checksum mismatch triggers an audit that ends with identical handlespaces', async () => {
    members = await startScope(2, BULK);
    const [a, b] = members as [ScopeMember, ScopeMember];
    await waitFor(() => meshed(members), 20_000, 'meshed');
    await registerMany(a, 500, 7);
    await waitFor(async () => (await b.registrar.dump()).length === 500, 20_000, 'B has all');

    // Forge B's copy of A's PEs: drop one, add a stale one owned by A (as lost updates would),
    // straight into B's shards so that A knows nothing of it.
    const dumpBefore = await b.registrar.dump();
    expect(dumpBefore).toEqual(await a.registrar.dump());
    const enrp = b.registrar.enrp as unknown as { shards: ShardSet };
    expect(enrp.shards).toBeDefined();
    const fake = registration('sync-stale', 0xabcdef);
    if (fake.type !== AsapType.Registration) throw new Error('x');
    const update = (action: number, pool: string, peId: number): Uint8Array =>
      encodeMessage({
        protocol: 'enrp',
        type: EnrpType.HandleUpdate,
        flags: 0,
        paddedLength: false,
        unknownParams: null,
        senderId: a.registrar.id,
        receiverId: 0,
        action,
        reserved: 0,
        poolHandle: new TextEncoder().encode(pool),
        poolElement: { ...fake.poolElement, peId, homeRegistrarId: a.registrar.id },
      });
    enrp.shards.toAll((batch) => batch.enrpHandleUpdate(update(UpdateAction.AddPe, 'sync-stale', 0xabcdef)));
    enrp.shards.toAll((batch) => batch.enrpHandleUpdate(update(UpdateAction.DelPe, 'sync-3', 3)));
    await waitFor(async () => (await b.registrar.dump()).some((r) => r[1] === 0xabcdef), 10_000, 'forged');
    // The next presence of A carries a checksum B no longer matches: audit, reconcile.
    await waitFor(async () => (await b.registrar.stats()).enrp.audits >= 1, 10_000, 'audit started');
    await waitFor(async () => JSON.stringify(await b.registrar.dump()) === JSON.stringify(await a.registrar.dump()), 5000, 'identical after audit');
    const rows = await b.registrar.dump();
    expect(rows.some((r) => r[1] === 0xabcdef)).toBe(false);
    expect(rows.some((r) => r[1] === 3)).toBe(true);
    expect(rows).toHaveLength(500);
  });
});
