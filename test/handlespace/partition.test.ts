import { describe, expect, it } from 'vitest';
import { Partition, PartitionEvent, UNKNOWN_POOL, UnreachableOutcome } from '../../src/handlespace/partition.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { computePeChecksum } from '../../src/handlespace/pe-checksum.js';
import { Cause, ParamType, PolicyType, TransportUse } from '../../src/wire/constants.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import { encodePoolElement, readPoolElement } from '../../src/wire/parameters.js';
import { parseAddress } from '../../src/wire/index.js';
import { Reader } from '../../src/wire/reader.js';
import { OWN, PEER, VirtualScheduler, handle, registration } from './helpers.js';

function partition(): { p: Partition; clock: VirtualScheduler; events: [PartitionEvent, PoolElement][] } {
  const clock = new VirtualScheduler();
  const events: [PartitionEvent, PoolElement][] = [];
  const p = new Partition({ ownRegistrarId: OWN, scheduler: clock, jitter: 0, onEvent: (e, el) => events.push([e, el]) });
  return { p, clock, events };
}

const sctp = (over: Partial<{ protocol: number; port: number; use: number; addressCount: number }> = {}) => ({
  protocol: ParamType.SctpTransport,
  port: 5000,
  use: TransportUse.DataOnly,
  addressCount: 1,
  ...over,
});

describe('registration (RFC 5352 §3.1)', () => {
  it('creates the pool with the first element and resolves it', () => {
    const { p } = partition();
    const r = p.register(registration('echo', 7));
    expect(r.ok && r.created).toBe(true);
    expect(p.poolCount).toBe(1);
    const out: PoolElement[] = [];
    expect(p.handleResolution(handle('echo'), 0, out)).toBe(1);
    expect(out[0]!.peId).toBe(7);
    expect(out[0]!.encoded).toEqual(new Uint8Array([7]));
    expect(p.handleResolution(handle('nope'), 3, out)).toBe(UNKNOWN_POOL);
    p.checkConsistency();
  });

  it('re-registration updates the element in place', () => {
    const { p } = partition();
    const first = p.register(registration('lu', 1, { policy: policySettings(PolicyType.LeastUsed, { load: 5 }) }));
    p.register(registration('lu', 2, { policy: policySettings(PolicyType.LeastUsed, { load: 9 }) }));
    const again = p.register(
      registration('lu', 1, { policy: policySettings(PolicyType.LeastUsed, { load: 99 }), userTransport: sctp({ port: 6000, addressCount: 2 }), encoded: new Uint8Array([1, 2]), registrationLife: 1234 }),
    );
    expect(again.ok && !again.created).toBe(true);
    expect(again.ok && first.ok && again.element === first.element).toBe(true);
    const el = p.findElement(handle('lu'), 1)!;
    expect([el.policy.load, el.transportPort, el.addressCount, el.registrationLife]).toEqual([99, 6000, 2, 1234]);
    expect(el.encoded).toEqual(new Uint8Array([1, 2]));
    const out: PoolElement[] = [];
    p.handleResolution(handle('lu'), 2, out);
    expect(out.map((e) => e.peId)).toEqual([2, 1]);
    expect(p.elementCount).toBe(2);
    p.checkConsistency();
  });

  it('copies the pool handle (receive buffers are reused)', () => {
    const { p } = partition();
    const bytes = handle('abc');
    p.register({ ...registration('x', 1), poolHandle: bytes });
    bytes[0] = 0x7a;
    expect(p.findPool(handle('abc'))).toBeDefined();
  });

  describe('rejections and their causes (RFC 5354 §3.11)', () => {
    const cases: [string, Parameters<typeof registration>[2] & { peId?: number; pool?: string }, number][] = [
      ['PE ID 0', { peId: 0 }, Cause.InvalidValues],
      ['port 0', { userTransport: sctp({ port: 0 }) }, Cause.InvalidValues],
      ['no address', { userTransport: sctp({ addressCount: 0 }) }, Cause.InvalidValues],
      ['65 addresses', { userTransport: sctp({ addressCount: 65 }) }, Cause.InvalidValues],
      ['empty pool handle', { pool: '' }, Cause.InvalidValues],
      ['33-byte pool handle', { pool: 'x'.repeat(33) }, Cause.InvalidValues],
      ['unknown policy', { policy: policySettings(0x12345) }, Cause.InvalidValues],
      ['not a transport', { userTransport: sctp({ protocol: ParamType.Cookie }) }, Cause.InvalidValues],
      ['bad transport use', { userTransport: sctp({ use: 7 }) }, Cause.InvalidValues],
    ];
    for (const [name, over, cause] of cases) {
      it(name, () => {
        const { p } = partition();
        const r = p.register(registration(over.pool ?? 'pool', over.peId ?? 1, over));
        expect(r.ok).toBe(false);
        expect(!r.ok && r.cause).toBe(cause);
        expect(p.elementCount).toBe(0);
        expect(p.poolCount).toBe(0);
      });
    }

    it('accepts the limits themselves: 32-byte handle, 64 addresses', () => {
      const { p } = partition();
      expect(p.register(registration('y'.repeat(32), 1, { userTransport: sctp({ addressCount: 64 }) })).ok).toBe(true);
    });

    it('inconsistent policy, transport type and data/control use, for new members and re-registrations', () => {
      const { p } = partition();
      p.register(registration('pool', 1));
      for (const peId of [1, 2]) {
        const policy = p.register(registration('pool', peId, { policy: policySettings(PolicyType.Random) }));
        expect(!policy.ok && policy.cause).toBe(Cause.InconsistentPoolingPolicy);
        const tcp = p.register(registration('pool', peId, { userTransport: sctp({ protocol: ParamType.TcpTransport }) }));
        expect(!tcp.ok && tcp.cause).toBe(Cause.InconsistentTransportType);
        const use = p.register(registration('pool', peId, { userTransport: sctp({ use: TransportUse.DataPlusControl }) }));
        expect(!use.ok && use.cause).toBe(Cause.InconsistentDataControlConfiguration);
      }
      expect(p.elementCount).toBe(1);
      expect(p.findElement(handle('pool'), 1)!.policy.type).toBe(PolicyType.RoundRobin);
    });

    it('lack of resources beyond the configured limits', () => {
      const p = new Partition({ ownRegistrarId: OWN, scheduler: new VirtualScheduler(), limits: { maxPoolElementsPerPool: 2, maxPoolElements: 3 } });
      expect(p.register(registration('a', 1)).ok).toBe(true);
      expect(p.register(registration('a', 2)).ok).toBe(true);
      const full = p.register(registration('a', 3));
      expect(!full.ok && full.cause).toBe(Cause.LackOfResources);
      expect(p.register(registration('a', 2)).ok).toBe(true); // re-registration is not a new element
      expect(p.register(registration('b', 1)).ok).toBe(true);
      const partitionFull = p.register(registration('c', 1));
      expect(!partitionFull.ok && partitionFull.cause).toBe(Cause.LackOfResources);
    });
  });
});

describe('removal', () => {
  it('deregistration removes the element, and the pool with its last element', () => {
    const { p } = partition();
    p.register(registration('a', 1));
    p.register(registration('a', 2));
    expect(p.deregister(handle('a'), 1)?.peId).toBe(1);
    expect(p.deregister(handle('a'), 1)).toBeUndefined();
    expect(p.poolCount).toBe(1);
    p.deregister(handle('a'), 2);
    expect(p.poolCount).toBe(0);
    expect(p.findPool(handle('a'))).toBeUndefined();
    // The pool may come back with another policy.
    expect(p.register(registration('a', 3, { policy: policySettings(PolicyType.Random) })).ok).toBe(true);
    p.checkConsistency();
  });

  it('a lost association removes every PE registered over it', () => {
    const { p } = partition();
    for (let i = 1; i <= 6; i++) p.register(registration(`pool${i % 2}`, i, { associationId: i <= 4 ? 10 : 11 }));
    const removed = p.removeAssociation(10);
    expect(removed.map((e) => e.peId).sort()).toEqual([1, 2, 3, 4]);
    expect(p.elementCount).toBe(2);
    expect(p.removeAssociation(10)).toEqual([]);
    // Re-registration over another association moves the element.
    p.register(registration('pool1', 5, { associationId: 12 }));
    expect(p.removeAssociation(11).map((e) => e.peId)).toEqual([6]);
    expect(p.elementsOfAssociation(12).map((e) => e.peId)).toEqual([5]);
    p.checkConsistency();
  });

  it('ENDPOINT_UNREACHABLE removes the PE at MAX-BAD-PE-REPORT reports (RFC 5352 §3.5)', () => {
    const { p } = partition();
    p.register(registration('a', 1));
    // Three distinct reporting associations (test/handlespace/who-may-change.test.ts: one counts once).
    expect(p.reportUnreachable(handle('a'), 1, 21)).toBe(UnreachableOutcome.Counted);
    expect(p.reportUnreachable(handle('a'), 1, 22)).toBe(UnreachableOutcome.Counted);
    expect(p.reportUnreachable(handle('a'), 1, 23)).toBe(UnreachableOutcome.Removed);
    expect(p.reportUnreachable(handle('a'), 1, 24)).toBe(UnreachableOutcome.UnknownElement);
    expect(p.elementCount).toBe(0);
  });
});

describe('PE checksum (RFC 5353 §3.6.2)', () => {
  it("matches RSPLIB's value on the wire", () => {
    const { p } = partition();
    expect(p.peChecksum(OWN)).toBe(0xffff); // no PEs
    p.register(registration('CalcAppPool', 0x0ca20001));
    // From rsplib-scope.pcapng: registrar 0x33333333 with this one PE announced 0xb667.
    expect(p.peChecksum(OWN)).toBe(0xb667);
    expect(computePeChecksum([{ poolHandle: handle('CalcAppPool'), peId: 0x0ca20001 }])).toBe(0xb667);
  });

  it('is kept per owner, incrementally, equal to the from-scratch value', () => {
    const { p } = partition();
    for (let i = 1; i <= 50; i++) p.register(registration(`pool-${i % 7}`, i * 7919, { homeRegistrarId: i % 3 === 0 ? PEER : OWN }));
    for (const owner of [OWN, PEER]) expect(p.peChecksum(owner)).toBe(p.peChecksumFromScratch(owner));
    for (let i = 1; i <= 50; i += 4) p.deregister(handle(`pool-${i % 7}`), i * 7919);
    for (const owner of [OWN, PEER]) expect(p.peChecksum(owner)).toBe(p.peChecksumFromScratch(owner));
    expect(p.peChecksum(0x99)).toBe(0xffff);
  });
});

describe('ownership and takeover (RFC 5353 §3.9)', () => {
  it('indexes elements by owner and moves them on takeover', () => {
    const { p, clock, events } = partition();
    for (let i = 1; i <= 5; i++) p.register(registration('a', i, { homeRegistrarId: PEER, associationId: 0 }));
    p.register(registration('a', 6));
    expect(p.ownedCount(PEER)).toBe(5);
    expect([...p.elementsOwnedBy(OWN)].map((e) => e.peId)).toEqual([6]);
    const peerSum = p.peChecksum(PEER);
    expect(p.takeOver(PEER, OWN)).toBe(5);
    expect(p.ownedCount(PEER)).toBe(0);
    expect(p.ownedCount(OWN)).toBe(6);
    expect(p.peChecksum(PEER)).toBe(0xffff);
    expect(p.peChecksum(OWN)).not.toBe(peerSum);
    p.checkConsistency();
    // The new home sends each taken-over PE a keep-alive with the H bit, at once.
    clock.advance(0);
    const sent = events.map(([e, el]) => [e, el.peId]).sort((a, b) => a[1]! - b[1]!);
    expect(sent).toEqual([1, 2, 3, 4, 5].map((id) => [PartitionEvent.SendKeepAliveHome, id]));
  });

  it('a PE taken over is resolved with its new home: the pre-encoded parameter follows the owner', () => {
    const { p } = partition();
    const userTransport = { type: ParamType.SctpTransport, port: 5000, transportUse: TransportUse.DataOnly, serviceCode: 0, addresses: [parseAddress('10.0.0.1')!], opaque: null };
    const encoded = encodePoolElement({ peId: 9, homeRegistrarId: PEER, registrationLife: 30_000, userTransport, policy: policySettings(PolicyType.RoundRobin), asapTransport: null });
    p.register(registration('a', 9, { homeRegistrarId: PEER, associationId: 0, encoded }));
    p.takeOver(PEER, OWN);
    const out: PoolElement[] = [];
    p.handleResolution(handle('a'), 1, out);
    const reader = new Reader();
    reader.reset(out[0]!.encoded);
    const decoded = readPoolElement(reader, 0, out[0]!.encoded.length)!;
    expect(decoded.homeRegistrarId).toBe(OWN);
    expect(decoded.peId).toBe(9);
    expect(decoded.registrationLife).toBe(30_000);
  });

  it('a re-registration at another registrar moves ownership (RFC 5352 §3.1 rule 4)', () => {
    const { p } = partition();
    p.register(registration('a', 1, { homeRegistrarId: PEER, associationId: 0 }));
    p.register(registration('a', 1));
    expect(p.ownedCount(PEER)).toBe(0);
    expect(p.ownedCount(OWN)).toBe(1);
    p.checkConsistency();
  });
});

describe('handle resolution items', () => {
  it('0 means 3; the cap is 128 or the configured lower one', () => {
    const { p } = partition();
    for (let i = 1; i <= 200; i++) p.register(registration('big', i));
    const out: PoolElement[] = [];
    expect(p.handleResolution(handle('big'), 0, out)).toBe(3);
    expect(p.handleResolution(handle('big'), 500, out)).toBe(128);
    const q = new Partition({ ownRegistrarId: OWN, scheduler: new VirtualScheduler(), limits: { maxHandleResolutionItems: 10 } });
    for (let i = 1; i <= 20; i++) q.register(registration('big', i));
    expect(q.handleResolution(handle('big'), 50, out)).toBe(10);
    expect(new Set(out).size).toBe(10);
  });
});
