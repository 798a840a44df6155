// The server hunt (RFC 5352 §3.6) over real SCTP-over-UDP endpoints: T5 doubling up to
// RETRAN-MAX, at most three associations at once, a different set each round, and the
// first registrar that answers becomes home. The exact schedule (when each round starts) is
// tested in virtual time in server-hunt-schedule.test.ts; here timers run on a loaded
// machine, so the bounds only show that the options were applied.
import { afterEach, describe, expect, it } from 'vitest';
import { openSctpEndpoint } from '../../src/transport/open-sctp-endpoint.js';
import type { Association } from '../../src/transport/sctp-provider.js';
import { RegistrarTable, ServerHunt, type KnownRegistrar } from '../../src/client/index.js';
import { LOOPBACK, ScriptedRegistrar, blackhole, sctpPort, until } from './harness.js';

const open: { close(): Promise<void> }[] = [];
const hunts: ServerHunt[] = [];
afterEach(async () => {
  for (const h of hunts.splice(0)) h.stop();
  await Promise.all(open.splice(0).map((x) => x.close()));
});

async function client() {
  const e = await openSctpEndpoint({ mode: 'udp', port: sctpPort(), udpPort: 0, address: LOOPBACK });
  open.push(e);
  return e;
}

describe('ServerHunt', () => {
  it('doubles T5 after each unanswered round, capped at RETRAN-MAX (SH5.1)', async () => {
    const dead = await blackhole();
    open.push(dead);
    const table = new RegistrarTable(5000);
    table.addConfigured(dead);
    const hunt = new ServerHunt(await client(), table, { t5ServerHunt: 80, retranMax: 320 });
    hunts.push(hunt);
    const rounds: { at: number; t5: number }[] = [];
    hunt.on('round', (_r, t5) => rounds.push({ at: performance.now(), t5 }));
    hunt.start();
    await until(() => rounds.length >= 6, 10_000, 'six rounds');
    hunt.stop();
    expect(rounds.map((r) => r.t5).slice(0, 6)).toEqual([80, 160, 320, 320, 320, 320]);
    const gaps = rounds.slice(1, 6).map((r, i) => r.at - rounds[i]!.at);
    gaps.forEach((gap, i) => {
      const expected = [80, 160, 320, 320, 320][i]!;
      expect(gap).toBeGreaterThanOrEqual(expected - 5);
    });
    // The whole sequence took about 80 + 160 + 3 x 320 ms, not rounds of the default T5 (10 s).
    expect(rounds[5]!.at - rounds[0]!.at).toBeLessThan(5000);
    // Each round sent an INIT to the silent address.
    expect(dead.received()).toBeGreaterThanOrEqual(5);
  });

  it('tries at most three registrars at once, another set next round, and the first up is home', async () => {
    const deads = await Promise.all([blackhole(), blackhole(), blackhole(), blackhole()]);
    open.push(...deads);
    const live = await ScriptedRegistrar.open();
    open.push(live);
    const table = new RegistrarTable(5000);
    for (const d of deads.slice(0, 3)) table.addConfigured(d);
    table.addConfigured(live.address);
    table.addConfigured(deads[3]!);
    const endpoint = await client();
    // T5 long enough that the live registrar's association is up within round 2 even on a
    // loaded machine (a third round would try another set).
    const hunt = new ServerHunt(endpoint, table, { t5ServerHunt: 500, retranMax: 4000 });
    hunts.push(hunt);
    const rounds: KnownRegistrar[][] = [];
    let maxAssociations = 0;
    hunt.on('round', (r) => {
      rounds.push([...r]);
      setImmediate(() => (maxAssociations = Math.max(maxAssociations, endpoint.associations.length)));
    });
    const found = new Promise<[Association, KnownRegistrar]>((resolve) => hunt.once('found', (a, r) => resolve([a, r])));
    const started = performance.now();
    hunt.start();
    const [association, registrar] = await found;
    expect(performance.now() - started).toBeGreaterThanOrEqual(495);
    expect(rounds).toHaveLength(2);
    expect(rounds[0]!.map((r) => r.remote.udpPort)).toEqual(deads.slice(0, 3).map((d) => d.udpPort));
    // Round 2 starts with the two never tried (SH5.2: a different set).
    expect(rounds[1]!.slice(0, 2).map((r) => r.remote.udpPort)).toEqual([live.address.udpPort, deads[3]!.udpPort]);
    expect(maxAssociations).toBeLessThanOrEqual(3);
    expect(registrar.remote.udpPort).toBe(live.address.udpPort);
    expect(association.state).toBe('up');
    expect(hunt.running).toBe(false);
    expect(hunt.t5).toBe(500); // SH3: reset after success
    // The losers were abandoned.
    await until(() => endpoint.associations.length === 1, 5000, 'only the home association left');
  });

  it('waits for a registrar to become known, then hunts at once', async () => {
    const live = await ScriptedRegistrar.open();
    open.push(live);
    const table = new RegistrarTable(5000);
    const hunt = new ServerHunt(await client(), table, { t5ServerHunt: 5000, retranMax: 10000 });
    hunts.push(hunt);
    const found = new Promise<KnownRegistrar>((resolve) => hunt.once('found', (_a, r) => resolve(r)));
    hunt.start();
    table.addConfigured(live.address);
    const started = performance.now();
    hunt.registrarAdded();
    expect((await found).remote.port).toBe(live.address.port);
    // At once, not when the empty round's T5 (5 s) expires.
    expect(performance.now() - started).toBeLessThan(4000);
  });
});
