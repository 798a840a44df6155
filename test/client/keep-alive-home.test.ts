// RFC 5352 §3.4 KA1-KA2.4 at the ASAP endpoint: keep-alives are answered per PE with pool
// handle and PE ID, ones for unknown pools are discarded, and the H flag from another
// registrar (here one that associates with the PE, as after a takeover) makes it home.
import { afterEach, describe, expect, it } from 'vitest';
import { PoolElement } from '../../src/client/index.js';
import { AsapFlag, AsapType, PPID_ASAP } from '../../src/wire/constants.js';
import { encodeMessage } from '../../src/wire/encode.js';
import type { AsapMessage } from '../../src/wire/messages.js';
import { LOOPBACK, ScriptedRegistrar, asapEndpoint, sleep, until } from './harness.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

const base = { protocol: 'asap', paddedLength: false, unknownParams: null } as const;

/** A scripted registrar that accepts every registration. */
async function acceptingRegistrar(): Promise<ScriptedRegistrar> {
  const r = await ScriptedRegistrar.open();
  r.onMessage = (m, a) => {
    if (m.type === AsapType.Registration) {
      a.send(encodeMessage({ ...base, flags: 0, type: AsapType.RegistrationResponse, poolHandle: m.poolHandle, peId: m.poolElement.peId, error: null }), PPID_ASAP);
    } else if (m.type === AsapType.Deregistration) {
      a.send(encodeMessage({ ...base, flags: 0, type: AsapType.DeregistrationResponse, poolHandle: m.poolHandle, peId: m.peId, error: null }), PPID_ASAP);
    }
  };
  open.push(r);
  return r;
}

const acks = (r: ScriptedRegistrar): AsapMessage[] => r.received.filter((m) => m.type === AsapType.EndpointKeepAliveAck);

describe('keep-alives at the ASAP endpoint', () => {
  it('answers per PE, discards unknown pools, and adopts a registrar sending the H flag', async () => {
    const first = await acceptingRegistrar();
    const asap = await asapEndpoint({ registrars: [first.address] });
    open.push(asap);
    const a = new PoolElement(asap, { poolHandle: 'ka-pool', userTransport: { port: 8001 } });
    const b = new PoolElement(asap, { poolHandle: 'ka-pool', userTransport: { port: 8002 } });
    await a.register();
    await b.register();
    const toPe = first.associations[0]!;
    const keepAlive = (flags: number, serverId: number, handle: string, peId: number | null): Uint8Array =>
      encodeMessage({ ...base, flags, type: AsapType.EndpointKeepAlive, serverId, poolHandle: Buffer.from(handle), peId });

    // RSPLIB form (with PE ID): one ack for that PE.
    toPe.send(keepAlive(0, 1, 'ka-pool', a.peId), PPID_ASAP);
    // RFC form (pool handle only): an ack for each of our PEs in the pool.
    toPe.send(keepAlive(0, 1, 'ka-pool', null), PPID_ASAP);
    // KA1: a pool we never registered: silently discarded.
    toPe.send(keepAlive(0, 1, 'other-pool', null), PPID_ASAP);
    await until(() => acks(first).length >= 3, 10_000, 'three acks');
    await sleep(100);
    const got = acks(first).map((m) => (m.type === AsapType.EndpointKeepAliveAck ? [Buffer.from(m.poolHandle).toString(), m.peId] : null));
    expect(got).toHaveLength(3);
    expect(got[0]).toEqual(['ka-pool', a.peId]);
    expect(got.slice(1).map((x) => x![1]).sort()).toEqual([a.peId, b.peId].sort());
    expect(asap.home!.association.remote.udpPort).toBe(first.address.udpPort);

    // A second registrar associates with the PE's endpoint and claims it (H flag).
    const second = await acceptingRegistrar();
    const association = await second.endpoint.connect({ address: LOOPBACK, port: asap.sctp.port, udpPort: asap.sctp.udpPort! });
    second.serve(association);
    const moved = new Promise((resolve) => a.once('registered', resolve));
    association.send(keepAlive(AsapFlag.Home, 0x2222, 'ka-pool', a.peId), PPID_ASAP);
    expect(await moved).toBe(asap.home);
    expect(asap.home!.serverId).toBe(0x2222);
    expect(asap.home!.association.remote.udpPort).toBe(second.address.udpPort);
    await until(() => acks(second).length === 1 && second.received.filter((m) => m.type === AsapType.Registration).length === 2, 10_000, 'ack and both PEs re-registered at the new home');
    // The old home was let go (SH1: no more associations than needed).
    await until(() => asap.sctp.associations.length === 1, 10_000, 'old home association closed');
  });
});
