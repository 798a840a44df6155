// RFC 5353 §3.3: a PE registered at one registrar of a scope is known at every other within
// a heartbeat cycle, and so is its deregistration; ASAP and ENRP share one UDP port each.
import { afterEach, describe, expect, it } from 'vitest';
import { AsapType } from '../../src/wire/constants.js';
import { AsapPeer } from '../registrar/asap-peer.js';
import { meshed, startScope, waitFor, type ScopeMember } from './harness.js';

let scope: ScopeMember[] = [];
const peers: AsapPeer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
  await Promise.all(scope.map((m) => m.registrar.close()));
  scope = [];
});

async function resolvable(member: ScopeMember, pool: string, peId: number): Promise<boolean> {
  const pu = await AsapPeer.connect(member.registrar.asapAddress);
  peers.push(pu);
  const r = await pu.resolve(pool, 10);
  return r.type === AsapType.HandleResolutionResponse && r.poolElements.some((pe) => pe.peId === peId);
}

describe('a scope of three registrars', () => {
  it('spreads a registration and a deregistration to every peer within a heartbeat cycle', async () => {
    scope = await startScope(3);
    const [a, b, c] = scope as [ScopeMember, ScopeMember, ScopeMember];
    expect(a.registrar.asapAddress.udpPort).toBe(a.registrar.enrpAddress.udpPort);
    await waitFor(() => meshed(scope), 5000, 'peers meshed');

    const pe = await AsapPeer.connect(a.registrar.asapAddress);
    peers.push(pe);
    const registered = await pe.register('scope-pool', 0x1234);
    expect(registered.flags).toBe(0);
    const t0 = performance.now();
    await waitFor(async () => (await resolvable(b, 'scope-pool', 0x1234)) && (await resolvable(c, 'scope-pool', 0x1234)), 5000, 'PE known at B and C');
    // A's ENRP_HANDLE_UPDATE goes out at once (no timer): B and C learned the PE from it, not
    // from a later audit or download. It takes milliseconds; the bound, one default heartbeat
    // cycle (2.44 s), allows for a loaded machine.
    expect(performance.now() - t0).toBeLessThan(2440);
    for (const m of [b, c]) expect((await m.registrar.stats()).enrp.handleUpdatesReceived).toBeGreaterThanOrEqual(1);

    const dumpB = await b.registrar.dump();
    expect(dumpB).toEqual([[Buffer.from('scope-pool').toString('hex'), 0x1234, a.registrar.id]]);

    await pe.deregister('scope-pool', 0x1234);
    await waitFor(async () => (await b.registrar.dump()).length === 0 && (await c.registrar.dump()).length === 0, 5000, 'deregistration at B and C');
    const statsA = await a.registrar.stats();
    expect(statsA.enrp.handleUpdatesSent).toBeGreaterThanOrEqual(4);
  });
});
