import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Registrar } from '../../src/registrar/index.js';
import { AsapFlag, AsapType, Cause, PolicyType, policySettings } from '../../src/wire/index.js';
import { AsapPeer, handleResolution, registration } from './asap-peer.js';

let registrar: Registrar;
let pe: AsapPeer;
let pu: AsapPeer;

beforeAll(async () => {
  registrar = await Registrar.start({ transport: 'udp', asapPort: 3863, udpPort: 0, address: '127.0.0.1', shards: 2, announce: false, logLevel: 'silent' });
  pe = await AsapPeer.connect(registrar.asapAddress);
  pu = await AsapPeer.connect(registrar.asapAddress);
});

afterAll(async () => {
  await pe?.close();
  await pu?.close();
  await registrar?.close();
});

describe('registrar ASAP service over SCTP', () => {
  test('registers, resolves round robin, rejects an inconsistent policy, deregisters', async () => {
    for (const id of [1, 2, 3]) {
      pe.send(registration('echo', id));
      const r = await pe.nextOfType(AsapType.RegistrationResponse);
      expect(r.type === AsapType.RegistrationResponse && r.peId === id && (r.flags & AsapFlag.Reject) === 0).toBe(true);
    }
    const seen: number[][] = [];
    for (let i = 0; i < 3; i++) {
      pu.send(handleResolution('echo', 1));
      const r = await pu.nextOfType(AsapType.HandleResolutionResponse);
      if (r.type !== AsapType.HandleResolutionResponse) throw new Error('unexpected');
      expect(r.policy?.type).toBe(PolicyType.RoundRobin);
      seen.push(r.poolElements.map((e) => e.peId));
    }
    expect(seen.flat().sort()).toEqual([1, 2, 3]);

    pe.send(registration('echo', 9, policySettings(PolicyType.LeastUsed)));
    const rejected = await pe.nextOfType(AsapType.RegistrationResponse);
    if (rejected.type !== AsapType.RegistrationResponse) throw new Error('unexpected');
    expect(rejected.flags & AsapFlag.Reject).toBe(AsapFlag.Reject);
    expect(rejected.error?.causes[0]?.code).toBe(Cause.InconsistentPoolingPolicy);

    pe.send({ protocol: 'asap', type: AsapType.Deregistration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: new TextEncoder().encode('echo'), peId: 2 });
    await pe.nextOfType(AsapType.DeregistrationResponse);
    pu.send(handleResolution('echo', 10));
    const after = await pu.nextOfType(AsapType.HandleResolutionResponse);
    if (after.type !== AsapType.HandleResolutionResponse) throw new Error('unexpected');
    expect(after.poolElements.map((e) => e.peId).sort()).toEqual([1, 3]);
  });

  test('an unknown pool handle is answered with Operation Error cause 0x9', async () => {
    pu.send(handleResolution('nobody-here'));
    const r = await pu.nextOfType(AsapType.HandleResolutionResponse);
    if (r.type !== AsapType.HandleResolutionResponse) throw new Error('unexpected');
    expect(r.poolElements).toEqual([]);
    expect(r.error?.causes[0]?.code).toBe(Cause.UnknownPoolHandle);
  });
});
