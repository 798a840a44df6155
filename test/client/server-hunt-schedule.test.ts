// The server hunt's schedule (RFC 5352 §3.6 SH1-SH6) in virtual time: T5 doubling up to
// RETRAN-MAX, exactly when each round starts, at most three associations at once, a different
// set each round, the first association up ends the hunt. The associations are stand-ins that
// come up or go down when the test says; test/client/server-hunt.test.ts runs the same hunt
// over real SCTP-over-UDP endpoints.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RegistrarTable, ServerHunt, type KnownRegistrar } from '../../src/client/index.js';
import { VirtualClock } from '../../src/sctp/clock.js';
import type { Association, AssociationEvents, RemoteAddress } from '../../src/transport/sctp-provider.js';

class Attempt extends EventEmitter<AssociationEvents> {
  state: 'connecting' | 'up' | 'down' = 'connecting';
  aborted = false;
  constructor(readonly remote: RemoteAddress) {
    super();
  }
  up(): void {
    this.state = 'up';
    this.emit('up');
  }
  down(): void {
    this.state = 'down';
    this.emit('down', 'timeout');
  }
  abort(): void {
    this.aborted = true;
    this.state = 'down';
  }
}

function hunt(registrars: number, options: { t5ServerHunt: number; retranMax: number }) {
  const clock = new VirtualClock();
  const table = new RegistrarTable(3_600_000);
  const remotes = Array.from({ length: registrars }, (_, i) => ({ address: '192.0.2.1', port: 3863, udpPort: 10_000 + i }));
  for (const r of remotes) table.addConfigured(r);
  const attempts: Attempt[] = [];
  const endpoint = {
    associate(remote: RemoteAddress): Association {
      const a = new Attempt(remote);
      attempts.push(a);
      return a as unknown as Association;
    },
  };
  const h = new ServerHunt(endpoint, table, { ...options, clock });
  const rounds: { at: number; t5: number; ports: number[] }[] = [];
  h.on('round', (r: readonly KnownRegistrar[], t5) => rounds.push({ at: clock.now(), t5, ports: r.map((x) => x.remote.udpPort!) }));
  const found: { at: number; port: number }[] = [];
  h.on('found', (_a, r) => found.push({ at: clock.now(), port: r.remote.udpPort! }));
  const open = (): Attempt[] => attempts.filter((a) => a.state === 'connecting');
  return { clock, table, h, attempts, rounds, found, open, remotes };
}

describe('ServerHunt schedule (virtual time)', () => {
  it('T5 doubles after each unanswered round, capped at RETRAN-MAX (SH5.1); each round starts exactly when T5 expires', () => {
    const t = hunt(1, { t5ServerHunt: 80, retranMax: 320 });
    t.h.start();
    t.clock.advance(2000);
    expect(t.rounds.map((r) => r.t5).slice(0, 6)).toEqual([80, 160, 320, 320, 320, 320]);
    expect(t.rounds.map((r) => r.at).slice(0, 6)).toEqual([0, 80, 240, 560, 880, 1200]);
    // Every round associated to the silent registrar once; the expired attempt was aborted.
    expect(t.attempts).toHaveLength(t.rounds.length);
    expect(t.attempts.slice(0, -1).every((a) => a.aborted)).toBe(true);
    expect(t.open()).toHaveLength(1);
    t.h.stop();
    expect(t.open()).toHaveLength(0);
    expect(t.clock.pendingTimers).toBe(0);
  });

  it('at most three associations at once, another set next round (SH1, SH5.2); the first up is home, the rest abandoned (SH6), T5 reset (SH3)', () => {
    const t = hunt(5, { t5ServerHunt: 150, retranMax: 1000 });
    t.h.start();
    expect(t.rounds[0]!.ports).toEqual([10_000, 10_001, 10_002]);
    expect(t.open()).toHaveLength(3);
    t.clock.advance(149);
    expect(t.rounds).toHaveLength(1);
    t.clock.advance(1);
    expect(t.rounds).toHaveLength(2);
    expect(t.rounds[1]!.t5).toBe(300);
    // Round 2 starts with the two never tried, then one of the failed ones.
    expect(t.rounds[1]!.ports.slice(0, 2)).toEqual([10_003, 10_004]);
    expect(t.open()).toHaveLength(3);
    expect(t.attempts.slice(0, 3).every((a) => a.aborted)).toBe(true);
    t.clock.advance(100);
    const home = t.open().find((a) => a.remote.udpPort === 10_003)!;
    home.up();
    expect(t.found).toEqual([{ at: 250, port: 10_003 }]);
    expect(t.h.running).toBe(false);
    expect(t.h.t5).toBe(150);
    expect(t.open()).toHaveLength(0);
    expect(t.attempts.filter((a) => a !== home).every((a) => a.aborted)).toBe(true);
    // No round after success.
    t.clock.advance(10_000);
    expect(t.rounds).toHaveLength(2);
    expect(t.clock.pendingTimers).toBe(0);
  });

  it('an attempt that goes down within its round is replaced only in the next round, when T5 expires (SH4)', () => {
    const t = hunt(4, { t5ServerHunt: 200, retranMax: 1000 });
    t.h.start();
    t.clock.advance(50);
    t.open()[0]!.down();
    t.clock.advance(100);
    expect(t.rounds).toHaveLength(1);
    expect(t.open()).toHaveLength(2);
    t.clock.advance(50);
    expect(t.rounds.map((r) => r.at)).toEqual([0, 200]);
    // The one never tried comes first.
    expect(t.rounds[1]!.ports[0]).toBe(10_003);
  });

  it('nobody known: an empty round waits; a registrar added is hunted at once, not after T5', () => {
    const t = hunt(0, { t5ServerHunt: 5000, retranMax: 10_000 });
    t.h.start();
    expect(t.rounds).toEqual([{ at: 0, t5: 5000, ports: [] }]);
    t.clock.advance(1000);
    t.table.addConfigured({ address: '192.0.2.1', port: 3863, udpPort: 20_000 });
    t.h.registrarAdded();
    expect(t.rounds.at(-1)).toEqual({ at: 1000, t5: 5000, ports: [20_000] });
    t.open()[0]!.up();
    expect(t.found).toEqual([{ at: 1000, port: 20_000 }]);
  });

  it('stop() abandons the round: its associations aborted, its timer cleared', () => {
    const t = hunt(1, { t5ServerHunt: 100, retranMax: 100 });
    t.h.start();
    const [a] = t.open();
    t.h.stop();
    expect(a!.aborted).toBe(true);
    expect(t.found).toEqual([]);
    expect(t.clock.pendingTimers).toBe(0);
  });
});
