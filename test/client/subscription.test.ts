// Pool users that subscribe to a pool (RFC 5352 §2.2.5-2.2.6, issue 15), against real
// registrars over SCTP-over-UDP on loopback: a subscribed PoolUser sees a PE whose association
// was aborted disappear, a new PE appear and a takeover change a PE's home, each within the
// coalescing interval plus a round trip (with slack for a loaded machine, the measured delays
// are printed); its cache follows the pushes; a pool user on the same registrar that did not
// subscribe receives nothing unasked; the per-pool limit answers without the A bit; and
// Wireshark decodes the pushed responses (A bit set) without a malformed packet.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AsapEndpoint, PoolUser, type PoolChange } from '../../src/client/index.js';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapType } from '../../src/wire/constants.js';
import { blockingFindings, captureLoopback, findNodes, parsePdml, runTshark, tsharkAvailable, type LiveCapture } from '../helpers/tshark.js';
import { AsapPeer, registration } from '../registrar/asap-peer.js';
import { FAST_ENRP, freeUdpPort, meshed, startMember, waitFor, type ScopeMember } from '../enrp/harness.js';
import { LOOPBACK, asapEndpoint, registrar } from './harness.js';

const INTERVAL = 100;
/**
 * A loaded 2-core CI machine: scheduling delays near a second happen (this was 700 ms).
 * The push's exact schedule (one interval after the change) is tested in virtual time in
 * test/shard/subscriptions.test.ts; here the bound tells a push (about 100 ms, printed) from
 * a PU that would learn only at its next resolution (stale cache value 60 s).
 */
const SLACK = 3000;

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await Promise.race([x.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
});

function track<T extends { close(): Promise<void> }>(x: T): T {
  open.push(x);
  return x;
}

/** Collects a PoolUser's changes; `next(match)` waits for one (already seen or coming). */
function changes(pu: PoolUser) {
  const seen: { at: number; change: PoolChange }[] = [];
  const waiters: { match: (c: PoolChange) => boolean; resolve: (at: number) => void }[] = [];
  pu.on('poolChange', (change) => {
    const at = performance.now();
    seen.push({ at, change });
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.match(change)) waiters.splice(i, 1)[0]!.resolve(at);
    }
  });
  return {
    seen,
    next(match: (c: PoolChange) => boolean, timeoutMs = 5000): Promise<number> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching pool change within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          match,
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        });
      });
    },
  };
}

const ids = (c: PoolChange): number[] => c.elements.map((e) => e.peId).sort((a, b) => a - b);
const sameIds = (want: number[]) => (c: PoolChange): boolean => JSON.stringify(ids(c)) === JSON.stringify(want);

async function startRegistrar(config: Parameters<typeof registrar>[0] = {}): Promise<Registrar> {
  return track(await registrar({ subscriptionInterval: INTERVAL, ...config }));
}

describe('pool users subscribed to a pool', () => {
  it('sees a PE killed disappear and a new PE appear within the interval plus a round trip; the unsubscribed PU gets nothing', async () => {
    const r = await startRegistrar();
    const pe1 = track(await AsapPeer.connect(r.asapAddress));
    const pe2 = track(await AsapPeer.connect(r.asapAddress));
    await pe1.register('watched', 1, undefined, 7001);
    await pe2.register('watched', 2, undefined, 7002);

    const asap = track(await asapEndpoint({ registrars: [r.asapAddress] }));
    const pu = new PoolUser(asap, { subscribe: true, staleCacheValue: 60_000 });
    const log = changes(pu);
    expect((await pu.resolve('watched', { items: 10 })).map((e) => e.peId).sort()).toEqual([1, 2]);
    expect(pu.isSubscribed('watched')).toBe(true);

    // A pool user on the same registrar that resolves without the S bit.
    const plain = track(await AsapPeer.connect(r.asapAddress));
    const t0 = performance.now();
    const answer = await plain.resolve('watched', 10);
    const rtt = performance.now() - t0;
    expect(answer.flags).toBe(0);

    // PE 1 killed: its association aborted, the registrar removes its PE (RFC 5352 §3.5).
    let start = performance.now();
    pe1.association.abort();
    let at = await log.next(sameIds([2]));
    const killDelay = at - start;

    // A new PE.
    const pe3 = track(await AsapPeer.connect(r.asapAddress));
    start = performance.now();
    pe3.send(registration('watched', 3, undefined, 7003));
    at = await log.next(sameIds([2, 3]));
    const addDelay = at - start;
    process.stdout.write(`subscription push delays: PE killed ${killDelay.toFixed(1)} ms, PE added ${addDelay.toFixed(1)} ms (interval ${INTERVAL} ms, resolution round trip ${rtt.toFixed(1)} ms)\n`);
    expect(killDelay).toBeLessThan(INTERVAL + rtt + SLACK);
    expect(addDelay).toBeLessThan(INTERVAL + rtt + SLACK);
    expect(log.seen.every((s) => s.change.subscribed && s.change.cause === 'push')).toBe(true);

    // The cache follows the pushes: no request needed (the registrar counts none).
    const before = (await r.stats()).shards[0]!.counters['handleResolutions'];
    expect((await pu.resolve('watched', { items: 10 })).map((e) => e.peId).sort()).toEqual([2, 3]);
    expect((await r.stats()).shards[0]!.counters['handleResolutions']).toBe(before);

    // Nothing reached the PU that did not subscribe.
    expect(plain.received.filter((m) => m.type === AsapType.HandleResolutionResponse)).toEqual([]);
    const counters = (await r.stats()).shards[0]!.counters;
    expect(counters['subscriptions']).toBe(1);
    expect(counters['subscriptionPushes']).toBe(log.seen.length);

    // A resolution without S ends the subscription: no more pushes.
    await pu.unsubscribe('watched');
    expect(pu.isSubscribed('watched')).toBe(false);
    const pushed = log.seen.length;
    await pe2.deregister('watched', 2);
    await new Promise((resolve) => setTimeout(resolve, INTERVAL * 3));
    expect(log.seen.length).toBe(pushed);
    expect((await r.stats()).shards[0]!.counters['subscriptions']).toBe(0);
    pu.close();
  }, 30_000);

  it('the registrar\'s per-pool limit: the second subscriber gets its answer without the A bit', async () => {
    const r = await startRegistrar({ maxSubscriptionsPerPool: 1 });
    const pe = track(await AsapPeer.connect(r.asapAddress));
    await pe.register('limited', 1);
    const first = new PoolUser(track(await asapEndpoint({ registrars: [r.asapAddress] })), { subscribe: true });
    const second = new PoolUser(track(await asapEndpoint({ registrars: [r.asapAddress] })), { subscribe: true });
    expect((await first.resolve('limited')).map((e) => e.peId)).toEqual([1]);
    expect((await second.resolve('limited')).map((e) => e.peId)).toEqual([1]);
    expect(first.isSubscribed('limited')).toBe(true);
    expect(second.isSubscribed('limited')).toBe(false);
    expect((await r.stats()).shards[0]!.counters).toMatchObject({ subscriptions: 1, subscriptionsRefused: 1 });
    first.close();
    second.close();
  }, 20_000);

  it('a PU whose home registrar goes away subscribes again at its new home (RFC 5352 §2.2.5) and follows the pool there', async () => {
    const r1 = await startRegistrar();
    const r2 = await startRegistrar();
    // Two registrars without ENRP: each knows its own PE of the pool only, so the answer says
    // which registrar the subscription moved to.
    const pe1 = track(await AsapPeer.connect(r1.asapAddress));
    await pe1.register('moved-home', 1);
    const pe2 = track(await AsapPeer.connect(r2.asapAddress));
    await pe2.register('moved-home', 2);
    const asap = track(await asapEndpoint({ registrars: [r1.asapAddress, r2.asapAddress] }));
    const pu = new PoolUser(asap, { subscribe: true, staleCacheValue: 60_000 });
    const log = changes(pu);
    await asap.homeConnection();
    const first = (await pu.resolve('moved-home')).map((e) => e.peId);
    const [before, other] = first[0] === 1 ? [r1, r2] : [r2, r1];
    const otherPe = first[0] === 1 ? 2 : 1;
    expect(pu.isSubscribed('moved-home')).toBe(true);

    const moved = log.next((c) => c.cause === 'resubscribed' && sameIds([otherPe])(c), 15_000);
    await before.close();
    await moved;
    expect(pu.isSubscribed('moved-home')).toBe(true);
    expect((await other.stats()).shards[0]!.counters['subscriptions']).toBe(1);
    // Pushes now come from the new home.
    const pe3 = track(await AsapPeer.connect(other.asapAddress));
    await pe3.register('moved-home', 3);
    await log.next(sameIds([otherPe, 3].sort((a, b) => a - b)));
    pu.close();
  }, 30_000);

  it('a takeover changes the home of the PEs in the pushed selection', async () => {
    const [udpA, udpB] = [await freeUdpPort(), await freeUdpPort()];
    const idA = 0x0c000001;
    const idB = 0x0c000002;
    const members: ScopeMember[] = [];
    try {
      members.push(await startMember(udpA, [udpA, udpB], { registrarId: idA, subscriptionInterval: INTERVAL }));
      members.push(await startMember(udpB, [udpA, udpB], { registrarId: idB, subscriptionInterval: INTERVAL }));
      const [a, b] = members as [ScopeMember, ScopeMember];
      await waitFor(() => meshed(members), 5000, 'A and B meshed');
      const pe = track(await AsapPeer.connect(b.registrar.asapAddress));
      await pe.register('moving', 0x51);
      await waitFor(async () => (await a.registrar.dump()).length === 1, 3000, 'A learned the PE');

      const asap = track(await AsapEndpoint.open({ announces: false, registrars: [a.registrar.asapAddress], sctp: { mode: 'udp', address: LOOPBACK }, localAddresses: [LOOPBACK] }));
      const pu = new PoolUser(asap, { subscribe: true, staleCacheValue: 60_000 });
      const log = changes(pu);
      const [seen] = await pu.resolve('moving');
      expect(seen!.homeRegistrarId).toBe(idB);
      expect(pu.isSubscribed('moving')).toBe(true);

      // B falls silent (its ENRP side stops): A takes its PEs over (RFC 5353 §3.5.2).
      const moved = log.next((c) => c.elements.some((e) => e.peId === 0x51 && e.homeRegistrarId === idA), 15_000);
      await (b.registrar.enrp as unknown as { close(): Promise<void> }).close();
      await moved;
      const pushedAt = Date.now();
      const decided = a.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('takeover: the target'));
      expect(decided).toBeDefined();
      const delay = pushedAt - (decided as unknown as { time: number }).time;
      process.stdout.write(`subscription push delay after takeover: ${delay} ms (interval ${INTERVAL} ms)\n`);
      expect(delay).toBeLessThan(INTERVAL + SLACK);
      pu.close();
    } finally {
      for (const x of open.splice(0).reverse()) await Promise.race([x.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      await Promise.all(members.map((m) => m.registrar.close()));
    }
  }, 40_000);

  it('Wireshark decodes the pushed responses (A bit) without a malformed packet', async (ctx) => {
    if (!tsharkAvailable()) ctx.skip('tshark is not installed: the Wireshark cross-check is skipped');
    const r = await startRegistrar();
    const port = r.asapAddress.udpPort!;
    const dir = mkdtempSync(join(tmpdir(), 'subscription-capture-'));
    const file = join(dir, 'asap.pcapng');
    let capture: LiveCapture | null = null;
    try {
      try {
        capture = await captureLoopback({ file, filter: `udp port ${port}` });
      } catch (error) {
        ctx.skip(`capture on lo is not permitted here (${(error as Error).message.split('\n')[0]})`);
      }
      const pe1 = track(await AsapPeer.connect(r.asapAddress));
      await pe1.register('captured', 1);
      const asap = track(await asapEndpoint({ registrars: [r.asapAddress] }));
      const pu = new PoolUser(asap, { subscribe: true, staleCacheValue: 0 });
      const log = changes(pu);
      await pu.resolve('captured', { items: 5 });
      const pe2 = track(await AsapPeer.connect(r.asapAddress));
      await pe2.register('captured', 2);
      await log.next(sameIds([1, 2]));
      await pe2.deregister('captured', 2);
      await log.next(sameIds([1]));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await capture?.stop(500);
      capture = null;

      const run = runTshark(['-r', file, '-T', 'pdml', '-d', `udp.port==${port},sctp`]);
      expect(run.status, run.stderr).toBe(0);
      const packets = parsePdml(run.stdout);
      const findings = blockingFindings(packets);
      expect(findings.map((f) => `frame ${f.frame} [${f.protocol}] ${f.severity}: ${f.message}`)).toEqual([]);
      const responses: { flags: number; elements: number }[] = [];
      for (const p of packets) {
        for (const proto of p.protos.filter((x) => x.name === 'asap')) {
          const fields = findNodes([proto], () => true);
          const field = (name: string): string | undefined => fields.find((n) => n.name === name)?.show;
          if (Number(field('asap.message_type')) !== AsapType.HandleResolutionResponse) continue;
          responses.push({ flags: Number(field('asap.message_flags')), elements: fields.filter((n) => n.name === 'asap.pool_element_pe_identifier').length });
        }
      }
      // The answer to the S bit and the two pushes, each with the A bit (0x01), and the PEs.
      expect(responses.length).toBeGreaterThanOrEqual(3);
      expect(responses.every((x) => x.flags === 1)).toBe(true);
      expect(responses.map((x) => x.elements)).toContain(2);
      pu.close();
    } finally {
      await capture?.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
