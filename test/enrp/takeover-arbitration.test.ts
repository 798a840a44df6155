// Takeover arbitration (RFC 5353 §3.5.1, with RSPLIB's order: the lower server ID wins when
// both initiated) against scripted peers, so that every branch is taken on purpose instead of
// by timing: registrar R between a target T that falls silent and a contender F whose
// INIT_TAKEOVER the test sends exactly when it wants.
import { afterEach, describe, expect, it } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapType, EnrpFlag, EnrpType, UpdateAction } from '../../src/wire/constants.js';
import { registration } from '../registrar/asap-peer.js';
import { EnrpPeer } from './enrp-peer.js';
import { PeerStatus } from '../../src/registrar/enrp-peers.js';
import { FAST_ENRP, freeUdpPort, sleep, startMember, waitFor, type ScopeMember } from './harness.js';

const R_ID = 0x20000000;
const T_ID = 0x30000000;
const LOWER = 0x10000000;
const HIGHER = 0x40000000;
const PES = 5;

let member: ScopeMember | null = null;
const fakes: EnrpPeer[] = [];
afterEach(async () => {
  await member?.registrar.close();
  member = null;
  for (const f of fakes.splice(0)) await f.close();
});

/**
 * A window the test's scripted answer must fall in (after R asked T, before R declares T dead;
 * after R's INIT_TAKEOVER, before its expiry): 3 s instead of FAST_ENRP's 500 ms and 1 s, so a
 * loaded machine's event-loop lag cannot make R take the other branch.
 */
const WINDOW = 3000;

/** R with T and F as static peers; T owns PES PEs in R's handlespace. */
async function scene(contenderId: number, timers: { maxTimeNoResponse?: number; takeoverExpiry?: number } = {}): Promise<{ r: Registrar; t: EnrpPeer; f: EnrpPeer }> {
  const t = await EnrpPeer.open(T_ID);
  const f = await EnrpPeer.open(contenderId);
  fakes.push(t, f);
  member = await startMember(await freeUdpPort(), [], {
    registrarId: R_ID,
    peers: [t, f].map((p) => ({ address: '127.0.0.1', port: 9901, udpPort: p.udpPort })),
    ...timers,
  });
  const r = member.registrar;
  await waitFor(async () => {
    const peers = (await r.stats()).peers;
    return peers.includes(T_ID) && peers.includes(contenderId);
  }, 5000, 'R knows T and F');
  for (let i = 1; i <= PES; i++) {
    const reg = registration('arbitration', i);
    if (reg.type !== AsapType.Registration) throw new Error('registration() built something else');
    t.send({ type: EnrpType.HandleUpdate, action: UpdateAction.AddPe, reserved: 0, poolHandle: reg.poolHandle, poolElement: { ...reg.poolElement, homeRegistrarId: T_ID } });
  }
  await waitFor(async () => (await r.dump()).length === PES, 10_000, "T's PEs at R");
  // Only an established peer is taken over (mayTakeOver(): a presence and a heartbeat after):
  // T runs its heartbeat at least once (EnrpPeer: a presence every 200 ms) before it dies.
  const presences = (): number => (r.enrp.peers.get(T_ID)?.presences ?? 0);
  await waitFor(() => presences() >= 2, 10_000, 'T established');
  return { r, t, f };
}

async function owners(r: Registrar): Promise<number[]> {
  return [...new Set((await r.dump()).map((row) => row[2]))];
}

const isInit = (m: { type: number }): boolean => m.type === EnrpType.InitTakeover;

/**
 * Resolves when R asks `t` with a reply-required presence from now on: R has not heard T for
 * MAX-TIME-LAST-HEARD. Only from then on does R acknowledge another's INIT_TAKEOVER of T
 * (a registrar that still hears the target does not, RFC 5353 §3.5.1).
 */
function silentForR(t: EnrpPeer): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    t.onMessage((m) => {
      if (done || m.type !== EnrpType.Presence || (m.flags & EnrpFlag.ReplyRequired) === 0) return;
      done = true;
      resolve();
    });
  });
}

describe('takeover arbitration against scripted peers (RFC 5353 §3.5.1)', () => {
  it('both started, the contender has the lower ID: R yields, acknowledges, and takes no PE', async () => {
    const { r, t, f } = await scene(LOWER, { takeoverExpiry: WINDOW });
    f.onMessage((m) => {
      // R's INIT_TAKEOVER proves that R has started: now F starts too.
      if (isInit(m) && 'targetServerId' in m && m.targetServerId === T_ID) f.send({ type: EnrpType.InitTakeover, targetServerId: T_ID });
    });
    t.alive = false;
    const ack = await f.next((m) => m.type === EnrpType.InitTakeoverAck, 5000);
    expect(ack.senderId).toBe(R_ID);
    expect('targetServerId' in ack && ack.targetServerId).toBe(T_ID);
    const s = await r.stats();
    expect(s.enrp.takeoversStarted).toBe(1);
    expect(s.enrp.takeoversYielded).toBe(1);
    // Past R's takeover expiry: R has not claimed anything and announced nothing.
    await sleep(WINDOW + 300);
    expect((await r.stats()).enrp.takeoversWon).toBe(0);
    expect(f.count(EnrpType.TakeoverServer)).toBe(0);
    expect(await owners(r)).toEqual([T_ID]);
    // F completes: R moves every PE of T to F and forgets T.
    f.send({ type: EnrpType.TakeoverServer, targetServerId: T_ID });
    await waitFor(async () => (await owners(r)).join() === String(LOWER), 10_000, 'PEs owned by F');
    expect((await r.stats()).peers).not.toContain(T_ID);
  });

  it('both started, the contender has the higher ID: R ignores its INIT_TAKEOVER and wins at expiry', async () => {
    const { r, t, f } = await scene(HIGHER);
    f.onMessage((m) => {
      if (isInit(m) && 'targetServerId' in m && m.targetServerId === T_ID) f.send({ type: EnrpType.InitTakeover, targetServerId: T_ID });
    });
    t.alive = false;
    const announced = await f.next((m) => m.type === EnrpType.TakeoverServer, 6000);
    expect('targetServerId' in announced && announced.targetServerId).toBe(T_ID);
    expect(f.count(EnrpType.InitTakeoverAck)).toBe(0); // step 2B: ignored, never acknowledged
    const s = await r.stats();
    expect([s.enrp.takeoversStarted, s.enrp.takeoversWon, s.enrp.takeoversYielded]).toEqual([1, 1, 0]);
    await waitFor(async () => (await owners(r)).join() === String(R_ID), 10_000, 'PEs owned by R');
  });

  it('only the contender started: R acknowledges, stops monitoring T and never starts its own', async () => {
    const { r, t, f } = await scene(HIGHER, { maxTimeNoResponse: WINDOW });
    const silent = silentForR(t);
    t.alive = false;
    // F decided first: R has only asked T (silent for MAX-TIME-LAST-HEARD), it is not dead for
    // R yet (that takes MAX-TIME-NO-RESPONSE more).
    await silent;
    f.send({ type: EnrpType.InitTakeover, targetServerId: T_ID });
    await f.next((m) => m.type === EnrpType.InitTakeoverAck, 10_000);
    await sleep(FAST_ENRP.maxTimeLastHeard! + WINDOW + 300);
    expect((await r.stats()).enrp.takeoversStarted).toBe(0);
    expect(f.count(EnrpType.InitTakeover)).toBe(0);
    f.send({ type: EnrpType.TakeoverServer, targetServerId: T_ID });
    await waitFor(async () => (await owners(r)).join() === String(HIGHER), 10_000, 'PEs owned by F');
  });

  it('an INIT_TAKEOVER for a target R still hears: not acknowledged, T stays monitored and updated, its PEs stay its own', async () => {
    const { r, t, f } = await scene(HIGHER);
    const refused = (await r.stats()).enrp.takeoversRefused;
    f.send({ type: EnrpType.InitTakeover, targetServerId: T_ID });
    await waitFor(async () => (await r.stats()).enrp.takeoversRefused === refused + 1, 10_000, 'INIT_TAKEOVER refused');
    const presencesToT = t.count(EnrpType.Presence);
    await sleep(FAST_ENRP.maxTimeLastHeard! + FAST_ENRP.maxTimeNoResponse!);
    expect(f.count(EnrpType.InitTakeoverAck)).toBe(0);
    expect(r.enrp.peers.get(T_ID)?.status).toBe(PeerStatus.Active);
    // R's heartbeat still goes to T (a peer marked "not active" gets neither presences nor updates).
    expect(t.count(EnrpType.Presence)).toBeGreaterThan(presencesToT);
    // F's TAKEOVER_SERVER is refused as well: T's PEs stay T's.
    f.send({ type: EnrpType.TakeoverServer, targetServerId: T_ID });
    await waitFor(async () => (await r.stats()).enrp.takeoversRefused === refused + 2, 10_000, 'TAKEOVER_SERVER refused');
    expect(await owners(r)).toEqual([T_ID]);
    expect((await r.stats()).enrp.takeoversStarted).toBe(0);
  });

  it('the initiator R acknowledged dies before TAKEOVER_SERVER: R watches T again and takes it over', async () => {
    const { r, t, f } = await scene(LOWER, { maxTimeNoResponse: WINDOW });
    const silent = silentForR(t);
    t.alive = false;
    await silent;
    f.send({ type: EnrpType.InitTakeover, targetServerId: T_ID });
    await f.next((m) => m.type === EnrpType.InitTakeoverAck, 10_000);
    const acked = performance.now();
    f.alive = false; // F dies before it announces anything
    await waitFor(async () => (await owners(r)).join() === String(R_ID), 20_000, "T's PEs owned by R");
    // Not before the initiator's chance to announce (twice the takeover expiry) was over.
    expect(performance.now() - acked).toBeGreaterThan(2 * FAST_ENRP.takeoverExpiry!);
    expect(member!.logs.some((l) => l.msg === 'takeover acknowledged but never announced: monitoring the peer again')).toBe(true);
    expect((await r.stats()).peers).not.toContain(T_ID);
  });

  it('the lower INIT_TAKEOVER that arrived while the event loop stalled past the expiry still wins', async () => {
    const { r, t, f } = await scene(LOWER);
    f.onMessage((m) => {
      if (!(isInit(m) && 'targetServerId' in m && m.targetServerId === T_ID)) return;
      f.send({ type: EnrpType.InitTakeover, targetServerId: T_ID });
      // Block this process (R's too) beyond R's takeover expiry once F's message is on its
      // way: R's expiry timer and F's INIT_TAKEOVER are then both due in the same loop turn.
      setImmediate(() => {
        const until = performance.now() + FAST_ENRP.takeoverExpiry! + 200;
        while (performance.now() < until);
      });
    });
    t.alive = false;
    await f.next((m) => m.type === EnrpType.InitTakeoverAck, 6000);
    await sleep(200);
    const s = await r.stats();
    expect([s.enrp.takeoversStarted, s.enrp.takeoversWon, s.enrp.takeoversYielded]).toEqual([1, 0, 1]);
    expect(f.count(EnrpType.TakeoverServer)).toBe(0);
    expect(await owners(r)).toEqual([T_ID]);
  });

  it('the target answers an INIT_TAKEOVER about itself with presence: the takeover stops', async () => {
    const { r, t } = await scene(HIGHER, { takeoverExpiry: WINDOW });
    // T stops its heartbeats but is alive (its presences were lost): it answers the
    // INIT_TAKEOVER about itself with presence (§3.5.1 step 1). F never acknowledges, so only
    // T's presence can end R's attempt before its expiry.
    t.alive = false;
    t.onMessage((m) => {
      if (isInit(m) && 'targetServerId' in m && m.targetServerId === T_ID) {
        t.alive = true;
        t.send({ type: EnrpType.Presence, checksum: null, serverInfo: null });
      }
    });
    await waitFor(async () => (await r.stats()).enrp.takeoversStarted === 1, 10_000, 'R started');
    await sleep(WINDOW + 300);
    const s = await r.stats();
    expect([s.enrp.takeoversWon, s.enrp.takeoversYielded]).toEqual([0, 0]);
    expect(await owners(r)).toEqual([T_ID]);
    expect(s.peers).toContain(T_ID);
  });
});
