// A hostile client on its own association throws broken, unknown and inconsistent ASAP at a
// 3-shard registrar, and tries to change what is not its own (issue 11: hijack, deregister or
// evict another client's PE, advertise an address that is not its own, register without
// limit). Each message gets the answer RFC 5354 asks for (ASAP_ERROR with the cause and the
// offending bytes, a rejecting REGISTRATION_RESPONSE, or silence where the action bits say
// so), and the other clients' pools come through untouched.
//
// Ordering: after each hostile message the client sends a handle resolution for a probe pool
// that lives in the same shard as the hostile message's pool handle (or in any shard when the
// message has none: the I/O thread answers those before it reads the next message). SCTP
// delivers in order on one stream and a shard answers in order, so everything the hostile
// message caused has arrived once the probe's response has.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { peekPoolHandle } from '../../src/registrar/peek.js';
import { shardOf } from '../../src/shard/shard-set.js';
import {
  AsapFlag,
  AsapType,
  Cause,
  PPID_ASAP,
  PPID_ENRP,
  ParamType,
  PolicyType,
  TransportUse,
  decodeAsap,
  encodeMessage,
  encodeParameter,
  parseAddress,
  policySettings,
  transportParameter,
  writeBytesParam,
  writePolicy,
  writeTransport,
  type AsapMessage,
} from '../../src/wire/index.js';
import { AsapPeer, deregistration, endpointUnreachable, handleResolution, registration } from './asap-peer.js';
import { LogLevel, poolsOverShards, startTestRegistrar, waitFor, type LogRecord } from './harness.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { minimalSctpPacket } from '../helpers/sctp-packets.js';
import { writeSctpChecksum } from '../../src/sctp/crc32c.js';
import { createSocket } from 'node:dgram';

const SHARDS = 3;
const VICTIM_PES = 3;
/** PEs one association may register (per shard); the victim's 18 stay under it. */
const PES_PER_ASSOCIATION = 20;

let registrar: Registrar;
let logs: LogRecord[];
let victim: AsapPeer;
let hostile: AsapPeer;
const victimPools = poolsOverShards('victim', 6, SHARDS);
const probePools = poolsOverShards('probe', SHARDS, SHARDS);
let victimStats: number[];
/** Hostile registrations the registrar accepted (they add to the element count). */
let acceptedHostile = 0;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A TLV without its trailing padding (its Length field says where it ends). */
const unpadded = (tlv: Uint8Array): Uint8Array => tlv.subarray(0, (tlv[2]! << 8) | tlv[3]!);

/** Sends `bytes` (PPID 11 unless told) and returns every message it caused, in order. */
async function exchange(bytes: Uint8Array, ppid = PPID_ASAP): Promise<AsapMessage[]> {
  const handle = peekPoolHandle(bytes);
  const probe = handle === null ? probePools[0]! : probePools.find((p) => shardOf(enc(p), SHARDS) === shardOf(handle, SHARDS))!;
  if (ppid === PPID_ASAP) hostile.send(bytes);
  else hostile.sendRaw(bytes, ppid);
  await hostile.resolve(probe, 1);
  return hostile.received.splice(0);
}

/** Asserts exactly one ASAP_ERROR with `cause` carrying `info`. */
function expectError(caused: AsapMessage[], cause: number, info: Uint8Array): void {
  expect(caused.map((m) => m.type)).toEqual([AsapType.Error]);
  const m = caused[0]!;
  if (m.type !== AsapType.Error) throw new Error('unexpected');
  expect(m.error.causes.map((c) => c.code)).toEqual([cause]);
  expect(hexOf(m.error.causes[0]!.info)).toBe(hexOf(info));
}

/** Asserts exactly one rejecting REGISTRATION_RESPONSE about `peId` with `cause` carrying `info`. */
function expectRejection(caused: AsapMessage[], poolHandle: Uint8Array, peId: number, cause: number, info: Uint8Array): void {
  expect(caused.map((m) => m.type)).toEqual([AsapType.RegistrationResponse]);
  const m = caused[0]!;
  if (m.type !== AsapType.RegistrationResponse) throw new Error('unexpected');
  expect(m.flags & AsapFlag.Reject).toBe(AsapFlag.Reject);
  expect(m.peId).toBe(peId);
  expect(hexOf(m.poolHandle)).toBe(hexOf(poolHandle));
  expect(m.error?.causes.map((c) => c.code)).toEqual([cause]);
  expect(hexOf(m.error!.causes[0]!.info)).toBe(hexOf(info));
}

function expectAccepted(caused: AsapMessage[], peId: number): void {
  expect(caused.map((m) => m.type)).toEqual([AsapType.RegistrationResponse]);
  const m = caused[0]!;
  if (m.type !== AsapType.RegistrationResponse) throw new Error('unexpected');
  expect(m.flags & AsapFlag.Reject).toBe(0);
  expect(m.peId).toBe(peId);
  acceptedHostile++;
}

/**
 * Where RFC 5354 TLV framing breaks in a message cut at `cut` bytes whose Length says `cut`:
 * the first top-level parameter that does not fit, from its start to the cut; null when every
 * parameter fits (then a required parameter is missing, which carries no information).
 */
function brokenTlv(bytes: Uint8Array, cut: number): Uint8Array | null {
  let p = 4;
  while (p < cut) {
    if (cut - p < 4) return bytes.subarray(p, cut);
    const length = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    if (length < 4 || p + length > cut) return bytes.subarray(p, cut);
    p += (length + 3) & ~3;
  }
  return null;
}


async function victimMembers(pu: AsapPeer, pool: string): Promise<number[]> {
  return (await pu.resolve(pool, 128)).poolElements.map((e) => e.peId).sort((a, b) => a - b);
}
const victimIds = (i: number): number[] => Array.from({ length: VICTIM_PES }, (_, j) => (i + 1) * 100 + j);

beforeAll(async () => {
  ({ registrar, logs } = await startTestRegistrar({
    shards: SHARDS,
    keepAliveInterval: 60_000,
    keepAliveTimeout: 60_000,
    maxElementsPerAssociation: PES_PER_ASSOCIATION,
    // The per-association rates have their own tests (rate-limit*.test.ts): here every hostile
    // message must reach the shards to be answered.
    registrationRate: 0,
    resolutionRate: 0,
    unreachableReportRate: 0,
  }));
  victim = await AsapPeer.connect(registrar.asapAddress);
  hostile = await AsapPeer.connect(registrar.asapAddress);
  for (const [i, pool] of victimPools.entries()) {
    for (const id of victimIds(i)) expect((await victim.register(pool, id, policySettings(PolicyType.RoundRobin), 7000 + id)).flags & AsapFlag.Reject).toBe(0);
  }
  victimStats = (await registrar.stats()).shards.map((s) => s.poolElements);
  expect(victimStats.reduce((a, b) => a + b, 0)).toBe(victimPools.length * VICTIM_PES);
});

afterAll(async () => {
  await victim?.close();
  await hostile?.close();
  await registrar?.close();
});

describe('a hostile client', () => {
  const good = encodeMessage(registration('hostile-pool', 77, policySettings(PolicyType.RoundRobin), 4077));

  test('truncated messages: Invalid Values with the message, or with the TLV that does not fit', async () => {
    for (let cut = 1; cut < good.length; cut++) {
      // The Length still says the whole message: the message is the offending thing.
      const bytes = good.slice(0, cut);
      expectError(await exchange(bytes), Cause.InvalidValues, bytes);
    }
    for (let cut = 4; cut < good.length; cut++) {
      // The Length says `cut`: the header is consistent, a parameter is cut.
      const bytes = good.slice(0, cut);
      bytes[2] = cut >> 8;
      bytes[3] = cut & 0xff;
      expectError(await exchange(bytes), Cause.InvalidValues, brokenTlv(bytes, cut) ?? new Uint8Array(0));
    }
  });

  test('oversized and undersized lengths', async () => {
    const withLength = (length: number): Uint8Array => {
      const bytes = good.slice();
      bytes[2] = length >> 8;
      bytes[3] = length & 0xff;
      return bytes;
    };
    for (const length of [0xffff, good.length + 1, good.length + 4, 0, 3]) {
      const bytes = withLength(length);
      expectError(await exchange(bytes), Cause.InvalidValues, bytes);
    }
    // More than 3 bytes after the Length: not padding (RFC 5354 §4).
    const trailing = new Uint8Array(good.length + 8);
    trailing.set(good);
    expectError(await exchange(trailing), Cause.InvalidValues, trailing);
    // A parameter Length beyond the message, and below its own header.
    for (const paramLength of [0xfff0, good.length, 3, 0]) {
      const bytes = good.slice();
      bytes[6] = paramLength >> 8;
      bytes[7] = paramLength & 0xff;
      expectError(await exchange(bytes), Cause.InvalidValues, bytes.subarray(4));
    }
  });

  test('random bytes (seeded): each is answered as its decoding says, or dropped', async () => {
    const random = seededRandom(5354);
    let answered = 0;
    for (let k = 0; k < 150; k++) {
      const bytes = new Uint8Array(1 + Math.floor(random() * 96));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      // Half of them get a self-consistent Length so that decoding goes past the header.
      if (k % 2 === 0 && bytes.length >= 4) {
        bytes[2] = bytes.length >> 8;
        bytes[3] = bytes.length & 0xff;
      }
      const caused = await exchange(bytes);
      const decoded = decodeAsap(bytes);
      if (decoded.ok) continue; // a valid message by chance: whatever it asked for is fine
      if (!decoded.error.report) {
        expect(caused, `message ${k}: ${hexOf(bytes)}`).toEqual([]);
        continue;
      }
      answered++;
      expect(caused.map((m) => m.type), `message ${k}: ${hexOf(bytes)}`).toEqual([AsapType.Error]);
      const m = caused[0]!;
      if (m.type !== AsapType.Error) throw new Error('unexpected');
      expect(m.error.causes[0]!.code).toBe(decoded.error.cause);
      expect(hexOf(m.error.causes[0]!.info)).toBe(hexOf(decoded.error.offending ?? new Uint8Array(0)));
      // Whatever is echoed is a piece of what was sent.
      expect(hexOf(bytes)).toContain(hexOf(m.error.causes[0]!.info));
    }
    expect(answered).toBeGreaterThan(50);
  });

  test('unknown message types: reported when the upper bits are 01, dropped for 00 and the reserved 10/11', async () => {
    const poolHandleTlv = encodeParameter((w) => writeBytesParam(w, ParamType.PoolHandle, enc('hostile-pool')));
    for (const type of [0x0f, 0x3f, 0x40, 0x55, 0x7f, 0x80, 0xbf, 0xc0, 0xff]) {
      // Without parameters (answered by the I/O thread) and with a pool handle (by a shard).
      for (const body of [new Uint8Array(0), poolHandleTlv]) {
        const bytes = new Uint8Array(4 + body.length);
        bytes.set([type, 0, bytes.length >> 8, bytes.length & 0xff]);
        bytes.set(body, 4);
        const caused = await exchange(bytes);
        if (type >>> 6 === 1) expectError(caused, Cause.UnrecognizedMessage, bytes);
        else expect(caused, `type 0x${type.toString(16)}`).toEqual([]);
      }
    }
    // Known types a registrar never receives are unrecognized messages to it.
    const misdirected = encodeMessage({ protocol: 'asap', type: AsapType.RegistrationResponse, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc('hostile-pool'), peId: 5, error: null });
    expectError(await exchange(misdirected), Cause.UnrecognizedMessage, misdirected);
    const cookie = encodeMessage({ protocol: 'asap', type: AsapType.Cookie, flags: 0, paddedLength: false, unknownParams: null, cookie: enc('crumbs') });
    expectError(await exchange(cookie), Cause.UnrecognizedMessage, cookie);
    // An ASAP_ERROR is never answered with another (no error ping-pong).
    const error = encodeMessage({ protocol: 'asap', type: AsapType.Error, flags: 0, paddedLength: false, unknownParams: null, error: { causes: [{ code: Cause.UnspecifiedError, info: new Uint8Array(0) }] } });
    expect(await exchange(error)).toEqual([]);
  });

  test('unknown parameters, each action bit pattern, before and after the known ones (RFC 5354 §3)', async () => {
    let peId = 1000;
    for (const action of [0b00, 0b01, 0b10, 0b11]) {
      for (const position of [0, 2]) {
        const tlv = new Uint8Array([(action << 6) | 0x01, 0x23, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef]);
        const pool = `hostile-action-${action}`;
        const m = registration(pool, ++peId, policySettings(PolicyType.RoundRobin), 4000 + peId);
        m.unknownParams = [{ position, bytes: tlv }];
        const caused = await exchange(encodeMessage(m));
        const reported = action === 0b01 || action === 0b11;
        const processed = action === 0b10 || action === 0b11;
        if (reported) {
          expect(caused[0]?.type).toBe(AsapType.Error);
          expectError(caused.slice(0, 1), Cause.UnrecognizedParameter, tlv);
        }
        if (processed) expectAccepted(caused.slice(reported ? 1 : 0), peId);
        else expect(caused.slice(reported ? 1 : 0)).toEqual([]);
        const members = (await hostile.resolve(pool, 128)).poolElements.map((e) => e.peId);
        expect(members.includes(peId)).toBe(processed);
      }
    }
    // In a handle resolution: 10 is skipped silently, 00 drops the request.
    const skip = handleResolution(victimPools[0]!, 128);
    skip.unknownParams = [{ position: 1, bytes: new Uint8Array([0x81, 0x00, 0x00, 0x04]) }];
    const answered = await exchange(encodeMessage(skip));
    expect(answered.map((m) => m.type)).toEqual([AsapType.HandleResolutionResponse]);
    const stop = handleResolution(victimPools[0]!, 128);
    stop.unknownParams = [{ position: 1, bytes: new Uint8Array([0x01, 0x00, 0x00, 0x04]) }];
    expect(await exchange(encodeMessage(stop))).toEqual([]);
  });

  test('SCTP packets that fail the checksum or name no association are counted in stats().sctp', async () => {
    const asap = registrar.asapAddress;
    const before = (await registrar.stats()).sctp.asap as Record<string, number>;
    const socket = createSocket('udp4');
    try {
      // A common header plus an empty DATA-less body: checksum zero (bad), then one from an
      // unknown port pair with a good checksum (out of the blue, RFC 9260 §8.4).
      const bad = minimalSctpPacket(40001, asap.port, 'xxxx');
      const ootb = new Uint8Array(16);
      new DataView(ootb.buffer).setUint16(0, 40002);
      new DataView(ootb.buffer).setUint16(2, asap.port);
      ootb.set([0x0e, 0, 0, 4], 12); // SHUTDOWN COMPLETE, a chunk an OOTB packet may carry
      writeSctpChecksum(ootb);
      for (const packet of [bad, ootb]) await new Promise<void>((done, fail) => socket.send(packet, asap.udpPort!, asap.address, (e) => (e ? fail(e) : done())));
      await waitFor(async () => ((await registrar.stats()).sctp.asap as Record<string, number>).outOfTheBlue! > before.outOfTheBlue!, 5000, 'the OOTB packet counted');
      const after = (await registrar.stats()).sctp.asap as Record<string, number>;
      expect(after.packetsDropped).toBe(before.packetsDropped! + 1);
      expect(after.outOfTheBlue).toBe(before.outOfTheBlue! + 1);
    } finally {
      socket.close();
    }
  });

  test('wrong PPIDs are dropped without an answer and counted', async () => {
    const before = (await registrar.stats()).droppedWrongPpid;
    const request = encodeMessage(handleResolution(victimPools[1]!, 3));
    for (const ppid of [0, PPID_ENRP, 99, 0xffffffff]) expect(await exchange(request, ppid)).toEqual([]);
    const reg = encodeMessage(registration('hostile-ppid', 5, policySettings(PolicyType.RoundRobin), 4005));
    expect(await exchange(reg, PPID_ENRP)).toEqual([]);
    expect((await hostile.resolve('hostile-ppid')).error?.causes[0]?.code).toBe(Cause.UnknownPoolHandle);
    expect((await registrar.stats()).droppedWrongPpid).toBe(before + 5);
  });

  test('registrations with invalid values or an inconsistent transport are rejected with the offending parameter', async () => {
    // PE ID 0 and port 0: Invalid Values carrying the Pool Element parameter as sent.
    for (const m of [registration('hostile-values', 0, policySettings(PolicyType.RoundRobin), 4100), registration('hostile-values', 9, policySettings(PolicyType.RoundRobin), 0)]) {
      const bytes = encodeMessage(m);
      if (m.type !== AsapType.Registration) throw new Error('unexpected');
      const peTlv = bytes.subarray(4 + ((((bytes[6]! << 8) | bytes[7]!) + 3) & ~3));
      expect((peTlv[0]! << 8) | peTlv[1]!).toBe(ParamType.PoolElement);
      expectRejection(await exchange(bytes), m.poolHandle, m.poolElement.peId, Cause.InvalidValues, unpadded(peTlv));
    }
    // An empty pool handle does not even decode: Invalid Values with the empty parameter.
    const empty = encodeMessage(registration(new Uint8Array(0), 9, policySettings(PolicyType.RoundRobin), 4101));
    expectError(await exchange(empty), Cause.InvalidValues, new Uint8Array([0x00, ParamType.PoolHandle, 0x00, 0x04]));
    // 33 bytes is one more than RSPLIB's (and our) limit: rejected with the pool handle; 32 is fine.
    const long = enc('h'.repeat(33));
    const longReg = encodeMessage(registration(long, 9, policySettings(PolicyType.RoundRobin), 4102));
    expectRejection(await exchange(longReg), long, 9, Cause.InvalidValues, longReg.subarray(4, 4 + 4 + 33));
    expectAccepted(await exchange(encodeMessage(registration(enc('h'.repeat(32)), 9, policySettings(PolicyType.RoundRobin), 4102))), 9);

    // A victim pool's PEs use SCTP with control channel, round robin.
    const pool = victimPools[2]!;
    const tcp = registration(pool, 42, policySettings(PolicyType.RoundRobin), 4103, ParamType.TcpTransport);
    const sctpOfPool = unpadded(encodeParameter((w) => writeTransport(w, transportParameter(ParamType.SctpTransport, 4103, [parseAddress('127.0.0.1')!], TransportUse.DataPlusControl))));
    expectRejection(await exchange(encodeMessage(tcp)), enc(pool), 42, Cause.InconsistentTransportType, sctpOfPool);
    const dataOnly = registration(pool, 43, policySettings(PolicyType.RoundRobin), 4104);
    if (dataOnly.type !== AsapType.Registration) throw new Error('unexpected');
    dataOnly.poolElement.userTransport.transportUse = TransportUse.DataOnly;
    expectRejection(await exchange(encodeMessage(dataOnly)), enc(pool), 43, Cause.InconsistentDataControlConfiguration, new Uint8Array(0));
    const leastUsed = registration(pool, 44, policySettings(PolicyType.LeastUsed, { load: 5 }), 4105);
    const policyOfPool = unpadded(encodeParameter((w) => writePolicy(w, policySettings(PolicyType.RoundRobin))));
    expectRejection(await exchange(encodeMessage(leastUsed)), enc(pool), 44, Cause.InconsistentPoolingPolicy, policyOfPool);
  });

  describe('who may change what (issue 11)', () => {
    const pool = victimPools[0]!;
    const victimPe = victimIds(0)[0]!;
    /** The victim PE as pool users see it: its port, or undefined when it is gone. */
    const victimPort = async (): Promise<number | undefined> => (await hostile.resolve(pool, 128)).poolElements.find((e) => e.peId === victimPe)?.userTransport.port;
    /** Sums a counter over the shards. */
    const counter = async (name: string): Promise<number> => (await registrar.stats()).shards.reduce((n, s) => n + (s.counters[name] ?? 0), 0);

    test("from a second association: REGISTRATION with the victim's PE ID is rejected (Non-unique PE Identifier), the PE still points to the victim's transport", async () => {
      const before = victim.keepAlives.length;
      const hijack = registration(pool, victimPe, policySettings(PolicyType.RoundRobin), 6666);
      expectRejection(await exchange(encodeMessage(hijack)), enc(pool), victimPe, Cause.NonUniquePeIdentifier, new Uint8Array(0));
      expect(await victimPort()).toBe(7000 + victimPe);
      // The registrar checked the holder at once; the victim answered and keeps its place.
      await waitFor(() => victim.keepAlives.length > before, 5000, 'keep-alive to the holder');
      expect(await counter('ownershipRejections')).toBe(1);
    });

    test("from a second association: DEREGISTRATION of the victim's PE is rejected (Rejected due to Security Considerations), the PE stays", async () => {
      const caused = await exchange(encodeMessage(deregistration(pool, victimPe)));
      expect(caused.map((m) => m.type)).toEqual([AsapType.DeregistrationResponse]);
      const m = caused[0]!;
      if (m.type !== AsapType.DeregistrationResponse) throw new Error('unexpected');
      expect(m.error?.causes.map((c) => c.code)).toEqual([Cause.RejectedDueToSecurityConsiderations]);
      expect(await victimPort()).toBe(7000 + victimPe);
      expect(await counter('ownershipDeregistrationRejections')).toBe(1);
    });

    test('ENDPOINT_UNREACHABLE from one association, many times: counted once, the PE acknowledges the check and stays', async () => {
      // The victim answers the check only when told, so that every report lands while it is out.
      victim.silentPeIds.add(victimPe);
      const before = victim.keepAlives.length;
      for (let i = 0; i < 10; i++) expect(await exchange(encodeMessage(endpointUnreachable(pool, victimPe)))).toEqual([]);
      expect(await counter('duplicateReports')).toBe(9);
      expect(await victimPort()).toBe(7000 + victimPe);
      // One keep-alive checked it, however many reports came.
      await waitFor(() => victim.keepAlives.length === before + 1, 5000, 'the check keep-alive');
      victim.silentPeIds.delete(victimPe);
      victim.send({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc(pool), peId: victimPe });
      await waitFor(async () => (await counter('keptAfterReport')) === 1, 5000, 'the victim acknowledged the check');
      // An ACK from the attacker's association is not taken as the PE's.
      hostile.send({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: enc(pool), peId: victimPe });
      await waitFor(async () => (await counter('foreignAcksIgnored')) === 1, 5000, 'the foreign ACK ignored');
      expect(await victimPort()).toBe(7000 + victimPe);
      expect(victim.keepAlives.length).toBe(before + 1);
      expect(await counter('unreachableRemovals')).toBe(0);
    });

    test("a user transport naming an address that is not the association's is rejected (Rejected due to Security Considerations) and changes nothing", async () => {
      const redirect = registration('hostile-foreign', 31, policySettings(PolicyType.RoundRobin), 4031);
      if (redirect.type !== AsapType.Registration) throw new Error('unexpected');
      redirect.poolElement.userTransport = transportParameter(ParamType.SctpTransport, 4031, [parseAddress('10.77.0.101')!], TransportUse.DataPlusControl);
      expectRejection(await exchange(encodeMessage(redirect)), enc('hostile-foreign'), 31, Cause.RejectedDueToSecurityConsiderations, new Uint8Array(0));
      expect((await hostile.resolve('hostile-foreign')).error?.causes[0]?.code).toBe(Cause.UnknownPoolHandle);
      // Over the victim's own PE: the same, and the victim's PE keeps its transport.
      const redirectVictim = registration(pool, victimPe, policySettings(PolicyType.RoundRobin), 6667);
      if (redirectVictim.type !== AsapType.Registration) throw new Error('unexpected');
      redirectVictim.poolElement.userTransport = transportParameter(ParamType.SctpTransport, 6667, [parseAddress('10.77.0.102')!], TransportUse.DataPlusControl);
      victim.send(redirectVictim);
      const answer = await victim.next((m) => m.type === AsapType.RegistrationResponse && m.peId === victimPe);
      if (answer.type !== AsapType.RegistrationResponse) throw new Error('unexpected');
      expect(answer.error?.causes.map((c) => c.code)).toEqual([Cause.RejectedDueToSecurityConsiderations]);
      expect(await victimPort()).toBe(7000 + victimPe);
      expect(await counter('foreignAddressRejections')).toBe(2);
    });

    test('a PE that restarts re-registers its PE ID over a new association once the old one is down', async () => {
      const first = await AsapPeer.connect(registrar.asapAddress);
      expect((await first.register('restart-pool', 4242, policySettings(PolicyType.RoundRobin), 5555)).flags & AsapFlag.Reject).toBe(0);
      await first.close();
      await waitFor(async () => (await hostile.resolve('restart-pool')).poolElements.length === 0, 5000, 'old association down');
      const second = await AsapPeer.connect(registrar.asapAddress);
      try {
        expect((await second.register('restart-pool', 4242, policySettings(PolicyType.RoundRobin), 5556)).flags & AsapFlag.Reject).toBe(0);
        expect((await hostile.resolve('restart-pool')).poolElements.map((e) => [e.peId, e.userTransport.port])).toEqual([[4242, 5556]]);
      } finally {
        await second.close();
      }
      await waitFor(async () => (await hostile.resolve('restart-pool')).poolElements.length === 0, 5000, 'second association down');
    });

    test('beyond the PEs one association may register: Lack of Resources, nothing changed, counted', async () => {
      const greedy = await AsapPeer.connect(registrar.asapAddress);
      try {
        for (let id = 1; id <= PES_PER_ASSOCIATION; id++) expect((await greedy.register('greedy-pool', id, policySettings(PolicyType.RoundRobin), 4500)).flags & AsapFlag.Reject).toBe(0);
        const over = await greedy.register('greedy-pool', PES_PER_ASSOCIATION + 1, policySettings(PolicyType.RoundRobin), 4500);
        expect(over.flags & AsapFlag.Reject).toBe(AsapFlag.Reject);
        expect(over.error?.causes.map((c) => c.code)).toEqual([Cause.LackOfResources]);
        expect((await greedy.resolve('greedy-pool', 128)).poolElements).toHaveLength(PES_PER_ASSOCIATION);
        expect(await counter('associationLimitRejections')).toBe(1);
      } finally {
        await greedy.close();
      }
      await waitFor(async () => (await hostile.resolve('greedy-pool')).poolElements.length === 0, 5000, 'greedy association down');
    });
  });

  test('afterwards every other client is intact and the registrar keeps serving', async () => {
    const pu = await AsapPeer.connect(registrar.asapAddress);
    try {
      for (const [i, pool] of victimPools.entries()) {
        const r = await pu.resolve(pool, 128);
        expect(r.policy?.type).toBe(PolicyType.RoundRobin);
        expect(r.poolElements.map((e) => e.peId).sort((a, b) => a - b)).toEqual(victimIds(i));
        expect(r.poolElements.map((e) => e.userTransport.port).sort((a, b) => a - b)).toEqual(victimIds(i).map((id) => 7000 + id));
      }
      // The victim can still register and deregister.
      expect((await victim.register(victimPools[0]!, 999, policySettings(PolicyType.RoundRobin), 7999)).flags & AsapFlag.Reject).toBe(0);
      expect((await victim.deregister(victimPools[0]!, 999)).flags & AsapFlag.Reject).toBe(0);
      const stats = await registrar.stats();
      const total = stats.shards.reduce((n, s) => n + s.poolElements, 0);
      expect(total).toBe(victimPools.length * VICTIM_PES + acceptedHostile);
      // The shards answered most of the above (the I/O thread the messages without a pool handle).
      expect(stats.shards.reduce((n, s) => n + (s.counters['errorsSent'] ?? 0), 0)).toBeGreaterThan(50);
      expect(stats.errorsSent).toBeGreaterThan(0);
      expect(hostile.association.state).toBe('up');
      expect(victim.association.state).toBe('up');
      // Nothing the registrar sent failed to decode.
      expect(hostile.undecodable).toEqual([]);
      expect(victim.undecodable).toEqual([]);
      // Bad input is data: no shard died, nothing was logged as an error.
      expect(stats.shards.map((s) => s.restarts)).toEqual([0, 0, 0]);
      expect(logs.filter((l) => l.level >= LogLevel.error)).toEqual([]);
    } finally {
      await pu.close();
    }
  });
});
