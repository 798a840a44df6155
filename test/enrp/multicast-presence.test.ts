// RFC 5353 §3.1, §3.2.2.1, §3.4.2: registrars with no configured peers find each other by the
// ENRP_PRESENCE they multicast (from their UDP encapsulation socket, whose source port tells
// receivers the peer's UDP port), associate, pick a mentor, and share the handlespace: a PE
// registered at one is resolvable at the others. Each test run uses its own group and port on
// the loopback interface, so parallel runs do not hear each other; a registrar on another
// group stays alone.
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { AsapType, EnrpType } from '../../src/wire/constants.js';
import type { MulticastGroup } from '../../src/transport/index.js';
import { AsapPeer } from '../registrar/asap-peer.js';
import { EnrpPeer } from './enrp-peer.js';
import { freeUdpPort, meshed, sleep, startMember, waitFor, type ScopeMember } from './harness.js';

let members: ScopeMember[] = [];
const peers: AsapPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
  await Promise.all(members.map((m) => m.registrar.close()));
  members = [];
});

/** A test-private group: 239.0.0.x (organization-local scope) on a port free a moment ago. */
async function privateGroup(): Promise<MulticastGroup> {
  return { address: `239.0.0.${100 + Math.floor(Math.random() * 150)}`, port: await freeUdpPort() };
}

describe('ENRP presence on a multicast group (RFC 5353 §3.4.2)', () => {
  it('registrars without configured peers find each other and share the handlespace', async () => {
    const group = await privateGroup();
    const other = await privateGroup();
    const multicast = { enrpAnnounce: true, enrpGroup: group, peers: [], mentorDiscoveryTimeout: 600 };
    for (let i = 0; i < 3; i++) members.push(await startMember(await freeUdpPort(), [], multicast));
    // Same host, same ports range, another group: must hear none of them.
    const loner = await startMember(await freeUdpPort(), [], { ...multicast, enrpGroup: { ...other, port: other.port === group.port ? group.port + 1 : other.port } });
    members.push(loner);
    const scope = members.slice(0, 3);
    await waitFor(() => meshed(scope), 5000, 'meshed by presence alone');

    // Every peer was learned from a presence on the group: its UDP port is the one it sends from.
    for (const m of scope) {
      const enrp = m.registrar.enrp as unknown as { peers: { all(): Iterable<{ serverId: number; transport: { address: string; udpPort?: number } | null }> } };
      for (const p of enrp.peers.all()) {
        const peerMember = scope.find((x) => x.registrar.id === p.serverId)!;
        expect(p.transport?.address).toBe('127.0.0.1');
        expect(p.transport?.udpPort).toBe(peerMember.udpPort);
      }
    }
    // The later ones downloaded their handlespace from a mentor they heard on the group.
    expect(scope.slice(1).every((m) => m.logs.some((r) => r.msg === 'mentor chosen'))).toBe(true);

    const pe = await AsapPeer.connect(scope[0]!.registrar.asapAddress);
    peers.push(pe);
    const reg = await pe.register('mcast-pool', 0x4d43);
    expect(reg.type).toBe(AsapType.RegistrationResponse);
    for (const m of scope.slice(1)) {
      const pu = await AsapPeer.connect(m.registrar.asapAddress);
      peers.push(pu);
      await waitFor(async () => (await m.registrar.dump()).length === 1, 10_000, 'update arrived');
      const r = await pu.resolve('mcast-pool');
      expect(r.type).toBe(AsapType.HandleResolutionResponse);
      if (r.type === AsapType.HandleResolutionResponse) {
        expect(r.poolElements.map((x) => x.peId)).toEqual([0x4d43]);
        expect(r.poolElements[0]!.homeRegistrarId).toBe(scope[0]!.registrar.id);
      }
    }
    // A deregistration travels the same way.
    await pe.deregister('mcast-pool', 0x4d43);
    await waitFor(async () => (await Promise.all(scope.map((m) => m.registrar.dump()))).every((d) => d.length === 0), 10_000, 'deregistration everywhere');

    // The registrar on the other group heard nobody and nobody heard it.
    await sleep(300);
    expect((await loner.registrar.stats()).peers).toEqual([]);
    for (const m of scope) expect((await m.registrar.stats()).peers).not.toContain(loner.registrar.id);
  }, 20_000);

  it("a presence with a known peer's ID from another address is not heard: the dead peer is taken over all the same", async () => {
    const group = await privateGroup();
    const T_ID = 0x3a000001;
    const t = await EnrpPeer.open(T_ID);
    const spoofer = createSocket('udp4');
    let spoofing: NodeJS.Timeout | undefined;
    try {
      const member = await startMember(await freeUdpPort(), [], {
        enrpAnnounce: true,
        enrpGroup: group,
        peers: [{ address: '127.0.0.1', port: 9901, udpPort: t.udpPort }],
      });
      members.push(member);
      const r = member.registrar;
      await waitFor(() => (r.enrp.peers.get(T_ID)?.presences ?? 0) >= 2, 5000, 'T established');
      // T dies; someone else in scope (127.0.0.2) multicasts presences in its name.
      await new Promise<void>((resolve) => spoofer.bind(0, '127.0.0.2', () => resolve()));
      spoofer.setMulticastInterface('127.0.0.1');
      const forged = t.encode({ type: EnrpType.Presence, checksum: null, serverInfo: null });
      const mismatches = (await r.stats()).enrp.senderMismatch;
      t.alive = false;
      spoofing = setInterval(() => spoofer.send(forged, group.port, group.address), 100);
      await waitFor(async () => (await r.stats()).enrp.takeoversWon === 1, 8000, 'T taken over despite the forged presences');
      expect((await r.stats()).enrp.senderMismatch).toBeGreaterThan(mismatches + 5);
    } finally {
      clearInterval(spoofing);
      spoofer.close();
      await t.close();
    }
  }, 20_000);
});
