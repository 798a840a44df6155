// Pool users' subscriptions in one shard (RFC 5352 §2.2.5-2.2.6, issue 15), in virtual time:
// the S bit answered with the A bit, one coalesced push per interval for every kind of pool
// change (registration, re-registration that changes what a PU sees, deregistration, loss of
// the PE's association, keep-alive timeout, ENRP updates, takeover), nothing for the
// unsubscribed, the end of a subscription (association down, a resolution without S, the pool
// gone), and the limits.
import { describe, expect, it } from 'vitest';
import { Partition } from '../../src/handlespace/partition.js';
import { AsapService } from '../../src/shard/asap-service.js';
import { EnrpHandlespace } from '../../src/shard/enrp-handlespace.js';
import { AsapTransportTable } from '../../src/shard/pe-asap-transport.js';
import { Subscriptions, type SubscriptionSettings } from '../../src/shard/subscriptions.js';
import { AsapFlag, AsapType, Cause, ParamType, PolicyType, TransportUse, decodeAsap, encodeMessage, encodePoolElement, parseAddress, policySettings, transportParameter, type AsapMessage } from '../../src/wire/index.js';
import { VirtualScheduler } from '../handlespace/helpers.js';
import { deregistration, handleResolution, registration } from '../registrar/asap-peer.js';

const OWN = 0x0a0b0c0d;
const PEER = 0x0e0e0e0e;
const INTERVAL = 100;

type Response = Extract<AsapMessage, { type: typeof AsapType.HandleResolutionResponse }>;

function setup(settings: Partial<SubscriptionSettings> = {}) {
  const clock = new VirtualScheduler();
  const partition = new Partition({ ownRegistrarId: OWN, scheduler: clock, keepAliveInterval: 5000, keepAliveTimeout: 1000, jitter: 0 });
  const sent: { at: number; association: number; message: AsapMessage }[] = [];
  const send = (association: number, bytes: Uint8Array): void => {
    const r = decodeAsap(bytes.slice());
    if (!r.ok || r.message.protocol !== 'asap') throw new Error('undecodable message');
    sent.push({ at: clock.now(), association, message: r.message });
  };
  const transports = new AsapTransportTable();
  const enrp = new EnrpHandlespace(partition, OWN, transports, { handleUpdate: () => undefined }, () => true);
  const service = new AsapService(partition, OWN, { send, abort: () => undefined, ownChange: (e, added) => enrp.ownChange(e, added) }, { info: () => undefined, warn: () => undefined }, transports);
  const subscriptions = new Subscriptions(partition, clock, send, { interval: INTERVAL, ...settings });
  service.subscriptions = subscriptions;
  enrp.poolWatch = subscriptions;

  /** Sends over an association; returns every message sent since (to anyone). */
  const deliver = (association: number, m: AsapMessage): void => service.handle(association, encodeMessage(m));
  /** HANDLE_RESOLUTION_RESPONSEs sent to `association` since index `from`. */
  const responsesTo = (association: number, from = 0): Response[] =>
    sent.slice(from).filter((s) => s.association === association && s.message.type === AsapType.HandleResolutionResponse).map((s) => s.message as Response);
  const resolve = (association: number, pool: string, subscribe: boolean, items: number | null = 10): Response => {
    const from = sent.length;
    const m = handleResolution(pool, items);
    if (subscribe) m.flags = AsapFlag.Subscribe;
    deliver(association, m);
    const answers = responsesTo(association, from);
    expect(answers).toHaveLength(1);
    return answers[0]!;
  };
  const up = (association: number): void => service.associationUp(association, { address: '127.0.0.1', port: 5000 + association });
  const register = (association: number, pool: string, peId: number, port = 4000, load = 0): void => {
    const m = registration(pool, peId, load === 0 ? policySettings(PolicyType.RoundRobin) : { ...policySettings(PolicyType.LeastUsed), load }, port);
    deliver(association, m);
  };
  return { clock, partition, service, enrp, subscriptions, sent, deliver, responsesTo, resolve, up, register };
}

const ids = (r: Response): number[] => r.poolElements.map((e) => e.peId).sort((a, b) => a - b);

// Associations: 1-3 PEs, 10-12 pool users.
describe('subscriptions in a shard (virtual time)', () => {
  it('the S bit is answered with the A bit; a new PE reaches the subscriber one interval later, not the unsubscribed', () => {
    const s = setup();
    for (const a of [1, 2, 10, 11]) s.up(a);
    s.register(1, 'pool', 0x101, 4001);
    const first = s.resolve(10, 'pool', true);
    expect(first.flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
    expect(ids(first)).toEqual([0x101]);
    const plain = s.resolve(11, 'pool', false);
    expect(plain.flags & AsapFlag.Accept).toBe(0);

    const from = s.sent.length;
    s.clock.advance(s.clock.now() + 1000);
    expect(s.responsesTo(10, from)).toEqual([]); // nothing changed, nothing pushed

    s.clock.advance(s.clock.now() + 7);
    const changedAt = s.clock.now();
    s.register(2, 'pool', 0x102, 4002);
    s.clock.advance(changedAt + INTERVAL - 1);
    expect(s.responsesTo(10, from)).toEqual([]);
    s.clock.advance(changedAt + INTERVAL);
    const [push] = s.responsesTo(10, from);
    expect(push!.flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
    expect(push!.error).toBeNull();
    expect(ids(push!)).toEqual([0x101, 0x102]);
    expect(s.sent.find((x) => x.message === push)!.at).toBe(changedAt + INTERVAL);
    expect(s.responsesTo(11, from)).toEqual([]); // the unsubscribed PU gets nothing unasked
    expect(s.subscriptions.counters).toMatchObject({ subscriptions: 1, subscriptionsAccepted: 1, subscriptionPushes: 1, subscriptionRounds: 1 });
  });

  it('coalesces: 1,000 re-registrations changing the load within one interval make one push; unchanged re-registrations none', () => {
    const s = setup();
    s.up(1);
    s.up(10);
    for (let pe = 1; pe <= 100; pe++) s.register(1, 'lu', pe, 4000 + pe, 1000 + pe);
    s.resolve(10, 'lu', true, 5);
    const from = s.sent.length;
    const start = s.clock.now();
    for (let i = 0; i < 1000; i++) {
      s.clock.time = start + i * 0.09; // all within 90 ms
      s.register(1, 'lu', 1 + (i % 100), 4001 + (i % 100), 5000 + i);
    }
    s.clock.advance(start + 10 * INTERVAL);
    const pushes = s.responsesTo(10, from);
    expect(pushes).toHaveLength(1);
    // The selection for this subscriber: its 5 items, by the pool's policy (least used first).
    expect(pushes[0]!.poolElements).toHaveLength(5);
    const loads = pushes[0]!.poolElements.map((e) => e.policy.load);
    expect(loads).toEqual([...loads].sort((a, b) => a - b));
    expect(Math.min(...loads)).toBe(5900);
    expect(s.subscriptions.counters.subscribedPoolChanges).toBe(1000);

    // The same values again (a PE's periodic re-registration): nothing a PU sees changed.
    const again = s.sent.length;
    for (let pe = 1; pe <= 100; pe++) {
      const last = 900 + ((pe - 1 + 100) % 100);
      s.register(1, 'lu', pe, 4000 + pe, 5000 + last);
    }
    s.clock.advance(s.clock.now() + 10 * INTERVAL);
    expect(s.responsesTo(10, again)).toEqual([]);
  });

  it('a PE gone by deregistration, by the loss of its association and by keep-alive timeout each make a push without it', () => {
    const s = setup();
    for (const a of [1, 2, 3, 10]) s.up(a);
    s.register(1, 'p', 0x1, 4001);
    s.register(2, 'p', 0x2, 4002);
    s.register(3, 'p', 0x3, 4003);
    s.register(3, 'p', 0x4, 4004);
    s.resolve(10, 'p', true);

    let from = s.sent.length;
    s.deliver(1, deregistration('p', 0x1));
    s.clock.advance(s.clock.now() + INTERVAL);
    expect(s.responsesTo(10, from).map(ids)).toEqual([[0x2, 0x3, 0x4]]);

    from = s.sent.length;
    s.service.associationDown(2); // the PE's association aborted
    s.clock.advance(s.clock.now() + INTERVAL);
    expect(s.responsesTo(10, from).map(ids)).toEqual([[0x3, 0x4]]);

    // PE 0x3 answers no keep-alive: removed at the timeout (5 s interval + 1 s timeout).
    from = s.sent.length;
    const t0 = s.clock.now();
    s.clock.advance(t0 + 5000);
    const keepAlives = s.sent.slice(from).filter((x) => x.message.type === AsapType.EndpointKeepAlive);
    expect(keepAlives.length).toBeGreaterThan(0);
    for (const k of keepAlives) {
      const m = k.message;
      if (m.type === AsapType.EndpointKeepAlive && m.peId === 0x4) s.deliver(3, { protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: m.poolHandle, peId: 0x4 });
    }
    s.clock.advance(t0 + 5000 + 1000 + INTERVAL);
    expect(s.responsesTo(10, from).map(ids)).toEqual([[0x4]]);
  });

  it('ENRP: a peer\'s new PE and its removal, and the takeover of the peer\'s PEs (their home changes), each make a push', () => {
    const s = setup();
    s.up(1);
    s.up(10);
    s.register(1, 'e', 0x1, 4001);
    s.resolve(10, 'e', true);

    // A peer registrar's ADD_PE, as the peer's own EnrpHandlespace writes it.
    const clock = new VirtualScheduler();
    const peerPartition = new Partition({ ownRegistrarId: PEER, scheduler: clock, jitter: 0 });
    const updates: Uint8Array[] = [];
    const peer = new EnrpHandlespace(peerPartition, PEER, new AsapTransportTable(), { handleUpdate: (m) => updates.push(m) }, () => true);
    const r = peerPartition.register({
      poolHandle: new TextEncoder().encode('e'),
      peId: 0x9,
      homeRegistrarId: PEER,
      registrationLife: 30_000,
      policy: policySettings(PolicyType.RoundRobin),
      userTransport: { protocol: ParamType.SctpTransport, port: 4009, use: TransportUse.DataPlusControl, addressCount: 1 },
      associationId: 0,
      encoded: encodePoolElement({
        peId: 0x9,
        homeRegistrarId: PEER,
        registrationLife: 30_000,
        userTransport: transportParameter(ParamType.SctpTransport, 4009, [parseAddress('127.0.0.1')!], TransportUse.DataPlusControl),
        policy: policySettings(PolicyType.RoundRobin),
        asapTransport: null,
      }),
    });
    if (!r.ok) throw new Error('peer registration failed');
    peer.ownChange(r.element, true);

    let from = s.sent.length;
    s.enrp.applyHandleUpdate(updates[0]!);
    expect(s.enrp.counters.updatesApplied).toBe(1);
    s.clock.advance(s.clock.now() + INTERVAL);
    let pushes = s.responsesTo(10, from);
    expect(pushes.map(ids)).toEqual([[0x1, 0x9]]);
    expect(pushes[0]!.poolElements.find((e) => e.peId === 0x9)!.homeRegistrarId).toBe(PEER);

    // The same update again changes nothing a PU sees.
    from = s.sent.length;
    s.enrp.applyHandleUpdate(updates[0]!);
    s.clock.advance(s.clock.now() + INTERVAL);
    expect(s.responsesTo(10, from)).toEqual([]);

    // The peer died; this registrar takes its PEs over (RFC 5353 §3.5.2): the home changes.
    from = s.sent.length;
    expect(s.enrp.takeOver(PEER, OWN)).toBe(1);
    s.clock.advance(s.clock.now() + INTERVAL);
    pushes = s.responsesTo(10, from);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.poolElements.find((e) => e.peId === 0x9)!.homeRegistrarId).toBe(OWN);
  });

  it('a subscription ends with its association, with a resolution without S, and with the pool (told once, without A)', () => {
    const s = setup();
    for (const a of [1, 10, 11, 12]) s.up(a);
    s.register(1, 'x', 0x1, 4001);
    for (const a of [10, 11, 12]) expect(s.resolve(a, 'x', true).flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
    expect(s.subscriptions.counters.subscriptions).toBe(3);

    s.service.associationDown(10);
    expect(s.resolve(11, 'x', false).flags & AsapFlag.Accept).toBe(0);
    expect(s.subscriptions.counters.subscriptions).toBe(1);

    let from = s.sent.length;
    s.register(1, 'x', 0x2, 4002);
    s.clock.advance(s.clock.now() + INTERVAL);
    expect(s.responsesTo(10, from)).toEqual([]);
    expect(s.responsesTo(11, from)).toEqual([]);
    expect(s.responsesTo(12, from).map(ids)).toEqual([[0x1, 0x2]]);

    // The last PEs leave: the pool no longer exists.
    from = s.sent.length;
    s.service.associationDown(1);
    s.clock.advance(s.clock.now() + INTERVAL);
    const gone = s.responsesTo(12, from);
    expect(gone).toHaveLength(1);
    expect(gone[0]!.flags & AsapFlag.Accept).toBe(0);
    expect(gone[0]!.error?.causes.map((c) => c.code)).toEqual([Cause.UnknownPoolHandle]);
    expect(s.subscriptions.counters.subscriptions).toBe(0);

    // Created again: no updates (RFC 5352 §2.2.5), and an S bit for an unknown pool gets no A.
    from = s.sent.length;
    s.up(2);
    s.register(2, 'x', 0x3, 4003);
    s.clock.advance(s.clock.now() + INTERVAL);
    expect(s.responsesTo(12, from)).toEqual([]);
    expect(s.resolve(12, 'nothing', true).flags & AsapFlag.Accept).toBe(0);
    expect(s.subscriptions.poolCount).toBe(0);
  });

  it('limits: per association and per pool, beyond which the S bit gets no A bit (and the answer is still given)', () => {
    const s = setup({ maxPerAssociation: 2, maxPerPool: 2 });
    for (const a of [1, 10, 11, 12]) s.up(a);
    for (const pool of ['a', 'b', 'c']) s.register(1, pool, 0x1, 4001);
    expect(s.resolve(10, 'a', true).flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
    expect(s.resolve(10, 'b', true).flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
    const third = s.resolve(10, 'c', true);
    expect(third.flags & AsapFlag.Accept).toBe(0);
    expect(ids(third)).toEqual([0x1]);
    // Renewing one held is no new subscription.
    expect(s.resolve(10, 'a', true).flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
    expect(s.resolve(11, 'a', true).flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
    expect(s.resolve(12, 'a', true).flags & AsapFlag.Accept).toBe(0); // pool 'a' has 2
    expect(s.subscriptions.counters).toMatchObject({ subscriptions: 3, subscriptionsRefused: 2 });
    // Room made by an association going down is free again.
    s.service.associationDown(11);
    expect(s.resolve(12, 'a', true).flags & AsapFlag.Accept).toBe(AsapFlag.Accept);
  });
});
