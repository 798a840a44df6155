// The shard's ASAP service on its own, fed records as the I/O thread sends them, in virtual
// time: who may change a PE (ownership by association, restarts in either order, a PE moving
// here from a peer registrar), which addresses a PE may advertise (multihomed peers, the
// unspecified address, --allow-foreign-addresses), unreachability reports against a live PE,
// the PE limits, and the counter of each. Each case checks the handlespace afterwards.
import { describe, expect, it } from 'vitest';
import { Partition } from '../../src/handlespace/partition.js';
import { AsapService, type AsapPolicy } from '../../src/shard/asap-service.js';
import { readAsapTransport } from '../../src/shard/pe-asap-transport.js';
import { peerAddressBytes } from '../../src/shard/advertised-addresses.js';
import { MAX_PEER_ADDRESSES, ToShardWriter, readToShard, type ToShardHandler } from '../../src/shard/thread-protocol.js';
import {
  AsapFlag,
  AsapType,
  Cause,
  ParamType,
  PolicyType,
  TransportUse,
  addressToString,
  decodeAsap,
  encodeMessage,
  encodePoolElement,
  parseAddress,
  policySettings,
  transportParameter,
  type AsapMessage,
} from '../../src/wire/index.js';
import { Reader } from '../../src/wire/reader.js';
import { readPoolElement } from '../../src/wire/parameters.js';
import type { PartitionLimits } from '../../src/handlespace/registration.js';
import { PEER, VirtualScheduler } from '../handlespace/helpers.js';
import { deregistration, endpointUnreachable, registration } from './asap-peer.js';

const OWN = 0x0a0b0c0d;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function setup(policy: AsapPolicy = { allowForeignAddresses: false }, limits: Partial<PartitionLimits> = {}) {
  const clock = new VirtualScheduler();
  const partition = new Partition({ ownRegistrarId: OWN, scheduler: clock, keepAliveInterval: 5000, keepAliveTimeout: 1000, jitter: 0, limits });
  const sent: [number, AsapMessage][] = [];
  const aborted: number[] = [];
  const service = new AsapService(
    partition,
    OWN,
    {
      send: (association, bytes) => {
        const r = decodeAsap(bytes.slice());
        if (!r.ok || r.message.protocol !== 'asap') throw new Error('undecodable answer');
        sent.push([association, r.message]);
      },
      abort: (association) => aborted.push(association),
    },
    { info: () => undefined, warn: () => undefined },
    undefined,
    policy,
  );
  /** Sends a message over an association; returns the answers to it (keep-alives apart). */
  const send = (association: number, m: AsapMessage): AsapMessage[] => {
    const from = sent.length;
    service.handle(association, encodeMessage(m));
    return sent.slice(from).filter(([a, m]) => a === association && m.type !== AsapType.EndpointKeepAlive).map(([, m]) => m);
  };
  const keepAlivesTo = (association: number): AsapMessage[] => sent.filter(([a, m]) => a === association && m.type === AsapType.EndpointKeepAlive).map(([, m]) => m);
  /** Where the handlespace sends pool users for this PE: its user transport's port and addresses. */
  const transportOf = (pool: string, peId: number): { port: number; addresses: string[]; association: number } | undefined => {
    const e = partition.findElement(enc(pool), peId);
    if (e === undefined) return undefined;
    const reader = new Reader();
    reader.reset(e.encoded);
    const pe = readPoolElement(reader, 0, e.encoded.length);
    if (pe === null) throw new Error('bad encoding');
    const t = pe.userTransport;
    return { port: t.port, addresses: t.addresses.map((a) => addressToString(a)), association: e.associationId };
  };
  return { clock, partition, service, sent, aborted, send, keepAlivesTo, transportOf };
}

function regWith(pool: string, peId: number, port: number, addresses: string[], type: number = ParamType.SctpTransport): AsapMessage {
  const m = registration(pool, peId, policySettings(PolicyType.RoundRobin), port, type);
  if (m.type !== AsapType.Registration) throw new Error('unexpected');
  m.poolElement.userTransport = transportParameter(type, port, addresses.map((a) => parseAddress(a)!), type === ParamType.SctpTransport ? TransportUse.DataPlusControl : TransportUse.DataOnly);
  return m;
}

function only(answers: AsapMessage[], type: number): AsapMessage {
  expect(answers.map((m) => m.type)).toEqual([type]);
  return answers[0]!;
}

function expectAccepted(answers: AsapMessage[]): void {
  const m = only(answers, AsapType.RegistrationResponse);
  if (m.type !== AsapType.RegistrationResponse) throw new Error('unexpected');
  expect(m.error).toBeNull();
  expect(m.flags & AsapFlag.Reject).toBe(0);
}

function expectRejected(answers: AsapMessage[], cause: number): void {
  const m = only(answers, AsapType.RegistrationResponse);
  if (m.type !== AsapType.RegistrationResponse) throw new Error('unexpected');
  expect(m.flags & AsapFlag.Reject).toBe(AsapFlag.Reject);
  expect(m.error?.causes.map((c) => c.code)).toEqual([cause]);
}

const A = 1; // the PE's association, from 10.0.0.1
const B = 2; // another client, from 10.0.0.2

describe('PE ownership', () => {
  it('another live association can neither re-register nor deregister an own PE; the holder is checked at once', () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    s.service.associationUp(B, { address: '10.0.0.2', port: 5002 });
    expectAccepted(s.send(A, regWith('pool', 7, 5555, ['10.0.0.1'])));
    // The attacker names its own address, so only ownership stops it.
    expectRejected(s.send(B, regWith('pool', 7, 6666, ['10.0.0.2'])), Cause.NonUniquePeIdentifier);
    expect(s.transportOf('pool', 7)).toEqual({ port: 5555, addresses: ['10.0.0.1'], association: A });
    expect(s.keepAlivesTo(A)).toHaveLength(1);
    // Repeated attempts while that keep-alive is out send no more keep-alives.
    expectRejected(s.send(B, regWith('pool', 7, 6666, ['10.0.0.2'])), Cause.NonUniquePeIdentifier);
    expect(s.keepAlivesTo(A)).toHaveLength(1);
    const dereg = only(s.send(B, deregistration('pool', 7)), AsapType.DeregistrationResponse);
    if (dereg.type !== AsapType.DeregistrationResponse) throw new Error('unexpected');
    expect(dereg.error?.causes.map((c) => c.code)).toEqual([Cause.RejectedDueToSecurityConsiderations]);
    expect(s.transportOf('pool', 7)?.port).toBe(5555);
    // The PE acknowledges: it stays, on its association.
    s.send(A, { protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc('pool'), peId: 7 });
    s.clock.advance(4000); // past the check's timeout (1 s), before the next periodic keep-alive
    expect(s.transportOf('pool', 7)?.association).toBe(A);
    expect(s.service.counters).toMatchObject({ ownershipRejections: 2, ownershipDeregistrationRejections: 1, rejections: 2, registrations: 1, deregistrations: 0 });
    // The owner itself still can.
    expectAccepted(s.send(A, regWith('pool', 7, 5556, ['10.0.0.1'])));
    expect(only(s.send(A, deregistration('pool', 7)), AsapType.DeregistrationResponse)).toMatchObject({ error: null });
    expect(s.partition.elementCount).toBe(0);
    s.partition.checkConsistency();
  });

  it('a PE that restarted re-registers once its old association is down', () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    expectAccepted(s.send(A, regWith('pool', 7, 5555, ['10.0.0.1'])));
    s.service.associationDown(A);
    expect(s.partition.elementCount).toBe(0);
    s.service.associationUp(3, { address: '10.0.0.1', port: 5003 });
    expectAccepted(s.send(3, regWith('pool', 7, 5557, ['10.0.0.1'])));
    expect(s.transportOf('pool', 7)).toEqual({ port: 5557, addresses: ['10.0.0.1'], association: 3 });
  });

  it('the new association registering before the old one is known down: refused, the old holder is checked, and the PE gets in after the keep-alive timeout', () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    expectAccepted(s.send(A, regWith('pool', 7, 5555, ['10.0.0.1'])));
    // The PE host crashed and came back: a new association, the old one not yet timed out.
    s.service.associationUp(3, { address: '10.0.0.1', port: 5003 });
    expectRejected(s.send(3, regWith('pool', 7, 5557, ['10.0.0.1'])), Cause.NonUniquePeIdentifier);
    expect(s.keepAlivesTo(A)).toHaveLength(1);
    // Nobody answers on the old association: removed at the keep-alive timeout (1 s here).
    s.clock.advance(1000);
    expect(s.partition.elementCount).toBe(0);
    expect(s.aborted).toEqual([A]);
    expectAccepted(s.send(3, regWith('pool', 7, 5557, ['10.0.0.1'])));
    expect(s.transportOf('pool', 7)?.association).toBe(3);
    // Detached associations (aborted by us after a shard restart) are no longer up either.
    s.service.associationUp(4, { address: '10.0.0.1', port: 5004 });
    s.service.associationDetached(3);
    expectAccepted(s.send(4, regWith('pool', 7, 5558, ['10.0.0.1'])));
    expect(s.transportOf('pool', 7)?.association).toBe(4);
  });

  it('a PE whose home is a peer registrar moves here (RFC 5352 §3.1 rule 4), and a PE taken over re-registers', () => {
    const s = setup();
    const moving = regWith('pool', 7, 4000, ['10.0.0.1']);
    if (moving.type !== AsapType.Registration) throw new Error('unexpected');
    const encoded = encodePoolElement(moving.poolElement);
    s.partition.register({ poolHandle: enc('pool'), peId: 7, homeRegistrarId: PEER, registrationLife: 30_000, policy: policySettings(PolicyType.RoundRobin), userTransport: { protocol: ParamType.SctpTransport, port: 4000, use: TransportUse.DataPlusControl, addressCount: 1 }, associationId: 0, encoded });
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    expectAccepted(s.send(A, regWith('pool', 7, 5555, ['10.0.0.1'])));
    const e = s.partition.findElement(enc('pool'), 7)!;
    expect(e.homeRegistrarId).toBe(OWN);
    expect(e.associationId).toBe(A);
    // Taken over (own, no association): anyone's association may re-register it.
    s.partition.register({ poolHandle: enc('pool2'), peId: 8, homeRegistrarId: OWN, registrationLife: 30_000, policy: policySettings(PolicyType.RoundRobin), userTransport: { protocol: ParamType.SctpTransport, port: 4000, use: TransportUse.DataPlusControl, addressCount: 1 }, associationId: 0, encoded });
    expectAccepted(s.send(A, regWith('pool2', 8, 5555, ['10.0.0.1'])));
    expect(s.service.counters.ownershipRejections).toBe(0);
  });

  it('another client can neither take a peer\'s PE ID with other addresses, nor deregister a peer\'s PE, nor acknowledge for a PE no keep-alive was sent to', () => {
    const s = setup();
    const held = regWith('pool', 7, 4000, ['10.0.0.1']);
    if (held.type !== AsapType.Registration) throw new Error('unexpected');
    const encoded = encodePoolElement(held.poolElement);
    s.partition.register({ poolHandle: enc('pool'), peId: 7, homeRegistrarId: PEER, registrationLife: 30_000, policy: policySettings(PolicyType.RoundRobin), userTransport: { protocol: ParamType.SctpTransport, port: 4000, use: TransportUse.DataPlusControl, addressCount: 1 }, associationId: 0, encoded });
    s.service.associationUp(B, { address: '10.0.0.2', port: 5002 });
    expectRejected(s.send(B, regWith('pool', 7, 5555, ['10.0.0.2'])), Cause.NonUniquePeIdentifier);
    expect(s.partition.findElement(enc('pool'), 7)!.homeRegistrarId).toBe(PEER);
    s.send(B, { protocol: 'asap', type: AsapType.Deregistration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc('pool'), peId: 7 });
    expect(s.partition.findElement(enc('pool'), 7)).toBeDefined();
    expect(s.service.counters.ownershipDeregistrationRejections).toBe(1);
    s.send(B, { protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc('pool'), peId: 7 });
    expect(s.service.counters.foreignAcksIgnored).toBe(1);
  });
});

describe('addresses a PE may advertise', () => {
  it("only the association's peer addresses, every one of a multihomed peer, IPv4-mapped alike", () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 }, ['10.0.0.1', '192.168.7.1', 'fd00::1']);
    expectAccepted(s.send(A, regWith('pool', 1, 5555, ['192.168.7.1', '10.0.0.1', 'fd00::1'])));
    expectAccepted(s.send(A, regWith('pool', 2, 5555, ['::ffff:10.0.0.1'])));
    expectRejected(s.send(A, regWith('pool', 3, 5555, ['10.0.0.1', '127.0.0.1'])), Cause.RejectedDueToSecurityConsiderations);
    expectRejected(s.send(A, regWith('pool', 4, 5555, ['10.0.0.99'])), Cause.RejectedDueToSecurityConsiderations);
    expect(s.partition.findElement(enc('pool'), 3)).toBeUndefined();
    expect(s.partition.findElement(enc('pool'), 4)).toBeUndefined();
    // A re-registration that would redirect an accepted PE is refused and changes nothing.
    expectRejected(s.send(A, regWith('pool', 1, 6666, ['10.0.0.99'])), Cause.RejectedDueToSecurityConsiderations);
    expect(s.transportOf('pool', 1)).toEqual({ port: 5555, addresses: ['192.168.7.1', '10.0.0.1', 'fd00::1'], association: A });
    expect(s.service.counters).toMatchObject({ foreignAddressRejections: 3, rejections: 3, registrations: 2 });
  });

  it('a peer on this host (a loopback address) may advertise this host\'s addresses, and only those', () => {
    const host = (): string[] => ['127.0.0.1', '192.0.2.2', 'fd00::2'];
    const bytes = peerAddressBytes(['127.0.0.1'], host).map((b) => [...b].join('.'));
    expect(bytes).toEqual(['127.0.0.1', '192.0.2.2', [...parseAddress('fd00::2')!].join('.')]);
    // A peer elsewhere gets nothing added, whatever this host has.
    expect(peerAddressBytes(['10.0.0.1'], host).map((b) => [...b].join('.'))).toEqual(['10.0.0.1']);
  });

  it('the unspecified address stands for the association\'s addresses (the primary for one-address transports)', () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 }, ['10.0.0.1', '192.168.7.1']);
    expectAccepted(s.send(A, regWith('sctp', 1, 5555, ['0.0.0.0'])));
    expect(s.transportOf('sctp', 1)?.addresses).toEqual(['10.0.0.1', '192.168.7.1']);
    expectAccepted(s.send(A, regWith('tcp', 1, 5555, ['::'], ParamType.TcpTransport)));
    expect(s.transportOf('tcp', 1)?.addresses).toEqual(['10.0.0.1']);
    expectAccepted(s.send(A, regWith('mixed', 1, 5555, ['192.168.7.1', '0.0.0.0'])));
    expect(s.transportOf('mixed', 1)?.addresses).toEqual(['192.168.7.1', '10.0.0.1']);
  });

  it('the ASAP transport a PE names is held to the same rule; without one, the association\'s remote is recorded', () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 }, ['10.0.0.1', '192.168.7.1']);
    const withAsap = (peId: number, address: string): AsapMessage => {
      const m = regWith('pool', peId, 5555, ['10.0.0.1']);
      if (m.type !== AsapType.Registration) throw new Error('unexpected');
      m.poolElement.asapTransport = transportParameter(ParamType.SctpTransport, 3333, [parseAddress(address)!], TransportUse.DataOnly);
      return m;
    };
    expectRejected(s.send(A, withAsap(1, '10.9.9.9')), Cause.RejectedDueToSecurityConsiderations);
    expect(s.partition.findElement(enc('pool'), 1)).toBeUndefined();
    expectAccepted(s.send(A, withAsap(2, '192.168.7.1')));
    const recorded = readAsapTransport(s.service.asapTransports.get(s.partition.findElement(enc('pool'), 2)!)!)!;
    expect([addressToString(recorded.address), recorded.port]).toEqual(['192.168.7.1', 3333]);
    expectAccepted(s.send(A, regWith('pool', 3, 5555, ['10.0.0.1'])));
    const derived = readAsapTransport(s.service.asapTransports.get(s.partition.findElement(enc('pool'), 3)!)!)!;
    expect([addressToString(derived.address), derived.port]).toEqual(['10.0.0.1', 5001]);
    expect(s.service.counters.foreignAddressRejections).toBe(1);
  });

  it('--allow-foreign-addresses turns the check off', () => {
    const s = setup({ allowForeignAddresses: true });
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    expectAccepted(s.send(A, regWith('pool', 1, 5555, ['172.16.0.9'])));
    expect(s.transportOf('pool', 1)?.addresses).toEqual(['172.16.0.9']);
    expect(s.service.counters.foreignAddressRejections).toBe(0);
  });
});

describe('unreachability reports cannot evict a live PE', () => {
  it('reports from one association count once; the immediate keep-alive is answered and the PE stays', () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    s.service.associationUp(B, { address: '10.0.0.2', port: 5002 });
    expectAccepted(s.send(A, regWith('pool', 7, 5555, ['10.0.0.1'])));
    for (let i = 0; i < 50; i++) expect(s.send(B, endpointUnreachable('pool', 7))).toEqual([]);
    expect(s.keepAlivesTo(A)).toHaveLength(1);
    expect(s.partition.findElement(enc('pool'), 7)!.unreachableReports).toBe(1);
    // An ACK from anyone but the PE's association is not taken.
    s.send(B, { protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc('pool'), peId: 7 });
    expect(s.partition.findElement(enc('pool'), 7)!.unreachableReports).toBe(1);
    s.send(A, { protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc('pool'), peId: 7 });
    s.clock.advance(4000);
    expect(s.transportOf('pool', 7)?.association).toBe(A);
    expect(s.partition.findElement(enc('pool'), 7)!.unreachableReports).toBe(0);
    expect(s.service.counters).toMatchObject({ duplicateReports: 49, keptAfterReport: 1, foreignAcksIgnored: 1, unreachableRemovals: 0, keepAlivesSent: 1 });
  });

  it('MAX-BAD-PE-REPORT distinct associations cannot outrun the check: a PE that answers stays, a dead PE goes at the keep-alive timeout', () => {
    const s = setup();
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    expectAccepted(s.send(A, regWith('pool', 7, 5555, ['10.0.0.1'])));
    expectAccepted(s.send(A, regWith('pool', 8, 5555, ['10.0.0.1'])));
    expectAccepted(s.send(A, regWith('pool', 9, 5555, ['10.0.0.1'])));
    for (const reporter of [11, 12, 13]) s.service.associationUp(reporter, { address: '10.0.0.9', port: 6000 + reporter });
    // Three distinct reporters at once (an attacker with three associations): the first report's
    // keep-alive is out, so the PE is judged by it, not removed at the third report.
    for (const reporter of [11, 12, 13]) s.send(reporter, endpointUnreachable('pool', 7));
    expect(s.partition.findElement(enc('pool'), 7)).toBeDefined();
    s.send(A, { protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc('pool'), peId: 7 });
    expect(s.partition.findElement(enc('pool'), 7)!.unreachableReports).toBe(0);
    // The same against a PE that does not answer: gone at the check's timeout.
    for (const reporter of [11, 12, 13]) s.send(reporter, endpointUnreachable('pool', 9));
    s.clock.advance(999);
    expect(s.partition.findElement(enc('pool'), 9)).toBeDefined();
    s.clock.advance(1000);
    expect(s.partition.findElement(enc('pool'), 9)).toBeUndefined();
    expect(s.service.counters.keepAliveTimeouts).toBe(1);
    // One report and no answer: gone after the timeout.
    s.send(11, endpointUnreachable('pool', 8));
    s.clock.advance(1999); // (advance() takes the virtual time to reach, not a duration)
    expect(s.partition.findElement(enc('pool'), 8)).toBeDefined();
    s.clock.advance(2000);
    expect(s.partition.findElement(enc('pool'), 8)).toBeUndefined();
    expect(s.service.counters.keepAliveTimeouts).toBe(2);
  });
});

describe('PE limits', () => {
  it('per association, per pool and in total: Lack of Resources, nothing changed, counted by kind', () => {
    const s = setup(undefined, { maxPoolElementsPerAssociation: 2, maxPoolElementsPerPool: 3, maxPoolElements: 4 });
    s.service.associationUp(A, { address: '10.0.0.1', port: 5001 });
    s.service.associationUp(B, { address: '10.0.0.2', port: 5002 });
    s.service.associationUp(3, { address: '10.0.0.3', port: 5003 });
    expectAccepted(s.send(A, regWith('p', 1, 5555, ['10.0.0.1'])));
    expectAccepted(s.send(A, regWith('p', 2, 5555, ['10.0.0.1'])));
    expectRejected(s.send(A, regWith('q', 3, 5555, ['10.0.0.1'])), Cause.LackOfResources);
    expectAccepted(s.send(B, regWith('p', 3, 5555, ['10.0.0.2'])));
    expectRejected(s.send(B, regWith('p', 4, 5555, ['10.0.0.2'])), Cause.LackOfResources);
    expectAccepted(s.send(B, regWith('q', 4, 5555, ['10.0.0.2'])));
    expectRejected(s.send(3, regWith('r', 5, 5555, ['10.0.0.3'])), Cause.LackOfResources);
    expect(s.partition.elementCount).toBe(4);
    expect(s.partition.findElement(enc('q'), 3)).toBeUndefined();
    expect(s.service.counters).toMatchObject({ associationLimitRejections: 1, poolLimitRejections: 1, totalLimitRejections: 1, rejections: 3, registrations: 4 });
  });
});

describe('the AssociationUp record (I/O thread to shard)', () => {
  const read = (write: (w: ToShardWriter) => void): Array<[number, { address: string; port: number }, string[]]> => {
    const w = new ToShardWriter();
    write(w);
    const out: Array<[number, { address: string; port: number }, string[]]> = [];
    const ignore = (): void => undefined;
    const handler: ToShardHandler = {
      asapMessage: ignore,
      associationUp: (id, remote, addresses) => out.push([id, { ...remote }, addresses]),
      associationDown: ignore,
      associationDetached: ignore,
      enrpHandleUpdate: ignore,
      enrpHandleTable: ignore,
      enrpAuditBegin: ignore,
      enrpAuditEnd: ignore,
      enrpTakeOver: ignore,
      handleTablePage: ignore,
      handleTableEnd: ignore,
    };
    readToShard(w.take(), handler);
    return out;
  };

  it('carries every peer address, the primary first, IPv6 too; without a list, the primary', () => {
    expect(read((w) => w.associationUp(9, { address: '10.0.0.1', port: 5001 }, ['192.168.7.1', '10.0.0.1', 'fd00::1']))).toEqual([
      [9, { address: '10.0.0.1', port: 5001 }, ['10.0.0.1', '192.168.7.1', 'fd00::1']],
    ]);
    expect(read((w) => w.associationUp(10, { address: '::1', port: 65535 }))).toEqual([[10, { address: '::1', port: 65535 }, ['::1']]]);
  });

  it('holds at most MAX_PEER_ADDRESSES addresses', () => {
    const many = Array.from({ length: 300 }, (_, i) => `10.1.${i >> 8}.${i & 0xff}`);
    const [record] = read((w) => w.associationUp(11, { address: '10.0.0.1', port: 1 }, many));
    expect(record![2]).toHaveLength(MAX_PEER_ADDRESSES);
    expect(record![2][0]).toBe('10.0.0.1');
  });
});
