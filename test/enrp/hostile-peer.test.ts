// A hostile ENRP peer (RFC 5353 §3.7, RFC 5354 §3-4): on the association a registrar opened to
// it, it sends broken, unknown and presumptuous ENRP. Each message gets what the RFCs ask for
// (ENRP_ERROR with the cause and the offending bytes where the action bits or the message type
// call for a report, silence otherwise), nothing of the registrar's own handlespace changes,
// and it keeps serving ASAP.
//
// Ordering: after each hostile message the peer sends a presence with the reply-required flag;
// the registrar answers everything over the one association in order, so all the hostile
// message caused has arrived once the presence reply has.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import {
  Cause,
  EnrpFlag,
  EnrpType,
  PPID_ASAP,
  PPID_ENRP,
  UpdateAction,
  type EnrpMessage,
  type PoolElementParameter,
} from '../../src/wire/index.js';
import { AsapPeer, registration } from '../registrar/asap-peer.js';
import { EnrpPeer } from './enrp-peer.js';
import { freeUdpPort, startMember, waitFor, type ScopeMember } from './harness.js';

const R_ID = 0x51000001;
const H_ID = 0x51000002;
const OWN_POOL = 'own-pool';
const FOREIGN_POOL = 'foreign-pool';
const OWN_PES = 5;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

let member: ScopeMember;
let r: Registrar;
let h: EnrpPeer;
let pe: AsapPeer;
let ownElement: PoolElementParameter;
let baseline: string;

/** One ENRP message from H, encoded. */
const fromH = (fields: Record<string, unknown> & { type: number }): Uint8Array => h.encode(fields);

/** Sends raw bytes from H (PPID 12 unless told) and returns every ENRP message it caused. */
async function exchange(bytes: Uint8Array, ppid = PPID_ENRP): Promise<EnrpMessage[]> {
  const before = h.received.length;
  h.association!.send(bytes, ppid);
  h.association!.send(fromH({ type: EnrpType.ListRequest }), PPID_ENRP);
  const answer = await h.next((m) => m.type === EnrpType.ListResponse && h.received.indexOf(m) >= before, 5000);
  // What came before the probe's answer; R's own periodic presences are not caused by it.
  return h.received.slice(before, h.received.indexOf(answer)).filter((m) => m.type !== EnrpType.Presence);
}

async function dumpText(): Promise<string> {
  return JSON.stringify(await r.dump());
}

const errorCauses = (ms: EnrpMessage[]): Array<{ code: number; info: string }> =>
  ms.flatMap((m) => (m.type === EnrpType.Error ? m.error.causes.map((c) => ({ code: c.code, info: Buffer.from(c.info ?? new Uint8Array(0)).toString('hex') })) : []));

beforeAll(async () => {
  h = await EnrpPeer.open(H_ID);
  member = await startMember(await freeUdpPort(), [], { registrarId: R_ID, peers: [{ address: '127.0.0.1', port: 9901, udpPort: h.udpPort }] });
  r = member.registrar;
  await waitFor(async () => (await r.stats()).peers.includes(H_ID) && h.association?.state === 'up', 5000, 'R knows H');
  pe = await AsapPeer.connect(r.asapAddress);
  for (let i = 1; i <= OWN_PES; i++) await pe.register(OWN_POOL, i);
  const reg = registration(FOREIGN_POOL, 77);
  if (reg.type !== 0x01) throw new Error('registration() built something else');
  h.send({ type: EnrpType.HandleUpdate, action: UpdateAction.AddPe, reserved: 0, poolHandle: reg.poolHandle, poolElement: { ...reg.poolElement, homeRegistrarId: H_ID } });
  await waitFor(async () => (await r.dump()).length === OWN_PES + 1, 3000, "H's PE at R");
  const own = registration(OWN_POOL, 1);
  if (own.type !== 0x01) throw new Error('registration() built something else');
  ownElement = { ...own.poolElement, homeRegistrarId: R_ID };
  baseline = await dumpText();
}, 30_000);

afterAll(async () => {
  await pe?.close();
  await r?.close();
  await h?.close();
});

describe('a hostile ENRP peer', () => {
  it('an unknown message type is discarded, and reported with ENRP_ERROR "unrecognized message" when its action bits say so', async () => {
    // RFC 5354 §3 (message header): the two highest bits of the type: 00 discard, 01 discard and report.
    const unknown = (type: number): Uint8Array => Uint8Array.from([type, 0x00, 0x00, 0x10, ...[0x51, 0x00, 0x00, 0x02], ...[0, 0, 0, 0], ...[1, 2, 3, 4]]);
    expect(await exchange(unknown(0x3f))).toEqual([]);
    const caused = await exchange(unknown(0x7f));
    expect(errorCauses(caused)).toEqual([{ code: Cause.UnrecognizedMessage, info: Buffer.from(unknown(0x7f)).toString('hex') }]);
  });

  it('every truncation of a handle update changes nothing; what is reported decodes', async () => {
    const update = fromH({ type: EnrpType.HandleUpdate, action: UpdateAction.AddPe, reserved: 0, poolHandle: enc('truncated-pool'), poolElement: { ...ownElement, peId: 4242, homeRegistrarId: H_ID } });
    for (let n = 1; n < update.length; n++) {
      // A message cut short is not one the peer meant: reported, once (RFC 5354 §3.12).
      const caused = await exchange(update.subarray(0, n));
      expect(caused.map((m) => m.type), `truncated to ${n} bytes`).toEqual([EnrpType.Error]);
    }
    expect(await dumpText()).toBe(baseline);
  }, 60_000);

  it('an unknown parameter with the report bits is reported and the rest of the message is processed', async () => {
    const presence = fromH({ type: EnrpType.Presence, flags: 0, checksum: null, serverInfo: null });
    const unknown = Uint8Array.from([0xc1, 0x23, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef]); // action 11: skip and report
    const bytes = new Uint8Array(presence.length + unknown.length);
    bytes.set(presence);
    bytes.set(unknown, presence.length);
    new DataView(bytes.buffer).setUint16(2, bytes.length);
    const caused = await exchange(bytes);
    expect(errorCauses(caused)).toEqual([{ code: Cause.UnrecognizedParameter, info: Buffer.from(unknown).toString('hex') }]);
  });

  it('a message with a PPID other than ENRP is dropped and counted', async () => {
    const before = (await r.stats()).enrp.droppedWrongPpid;
    const caused = await exchange(fromH({ type: EnrpType.HandleUpdate, action: UpdateAction.DelPe, reserved: 0, poolHandle: enc(FOREIGN_POOL), poolElement: { ...ownElement, peId: 77, homeRegistrarId: H_ID } }), PPID_ASAP);
    expect(caused).toEqual([]);
    expect((await r.stats()).enrp.droppedWrongPpid).toBe(before + 1);
    expect(await dumpText()).toBe(baseline);
  });

  it('a peer cannot delete, or claim by table page, the registrar\'s own PEs', async () => {
    await exchange(fromH({ type: EnrpType.HandleUpdate, action: UpdateAction.DelPe, reserved: 0, poolHandle: enc(OWN_POOL), poolElement: ownElement }));
    await exchange(fromH({ type: EnrpType.HandleTableResponse, flags: 0, entries: [{ poolHandle: enc(OWN_POOL), poolElements: [{ ...ownElement, homeRegistrarId: H_ID }] }] }));
    expect(await dumpText()).toBe(baseline);
  });

  it('a takeover of the registrar itself is answered with presence and moves nothing', async () => {
    const before = h.count(EnrpType.Presence);
    h.association!.send(fromH({ type: EnrpType.InitTakeover, targetServerId: R_ID }), PPID_ENRP);
    h.association!.send(fromH({ type: EnrpType.TakeoverServer, targetServerId: R_ID }), PPID_ENRP);
    await waitFor(() => h.count(EnrpType.Presence) >= before + 2, 3000, 'presences in answer');
    expect(h.count(EnrpType.InitTakeoverAck)).toBe(0);
    expect(await dumpText()).toBe(baseline);
  });

  it('150 seeded random messages: every answer decodes, nothing changes', async () => {
    let seed = 0x5eed;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 0x1000000;
    let errs = 0;
    for (let i = 0; i < 150; i++) {
      const length = 4 + Math.floor(rnd() * 60);
      const bytes = new Uint8Array(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(rnd() * 256);
      bytes[0] = Math.floor(rnd() * 12); // mostly known types, so the decoder goes deep
      if (rnd() < 0.7) new DataView(bytes.buffer).setUint16(2, length);
      if (rnd() < 0.7) bytes.set([0x51, 0x00, 0x00, 0x02], 4 < length - 4 ? 4 : 0);
      // Nothing R sends may fail to decode (EnrpPeer records only what decodes).
      const undecodableBefore = h.undecodable;
      errs += (await exchange(bytes)).length;
      expect(h.undecodable).toBe(undecodableBefore);
    }
    expect(errs).toBeGreaterThan(0);
    const dump = JSON.parse(await dumpText()) as Array<[string, number, number]>;
    // Random handle updates may add PEs of H's (a well-formed ADD_PE is not hostile); R's own
    // PEs and H's PE from before are all still there, unchanged.
    for (const row of JSON.parse(baseline) as Array<[string, number, number]>) expect(dump).toContainEqual(row);
    expect(dump.filter((row) => row[2] === R_ID)).toHaveLength(OWN_PES);
  }, 60_000);

  it('afterwards the registrar serves ASAP and still speaks ENRP with the peer', async () => {
    const response = await pe.resolve(OWN_POOL, 10);
    expect(response.poolElements.map((e) => e.peId).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(h.association!.state).toBe('up');
    const stats = await r.stats();
    expect(stats.peers).toContain(H_ID);
    expect(stats.enrp.errorsSent).toBeGreaterThan(0);
    const reg = registration(FOREIGN_POOL, 78);
    if (reg.type !== 0x01) throw new Error('registration() built something else');
    h.send({ type: EnrpType.HandleUpdate, action: UpdateAction.AddPe, reserved: 0, poolHandle: reg.poolHandle, poolElement: { ...reg.poolElement, homeRegistrarId: H_ID } });
    await waitFor(async () => (await r.dump()).some((row) => row[1] === 78), 3000, 'a later update from H applied');
  });
});

