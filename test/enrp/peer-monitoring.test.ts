// Peer monitoring and takeover (src/registrar/peer-monitoring.ts) in virtual time: registrars
// as state machines, fed messages and ticks at the deadlines they report, wired to each other
// by a message queue the test drives. No timers, no sockets: deterministic and fast.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PeerStatus, PeerTable } from '../../src/registrar/enrp-peers.js';
import { PeerMonitoring, type MonitorAction, type MonitorTimes, type TakeoverCounters } from '../../src/registrar/peer-monitoring.js';

const log = pino({ level: 'silent' });
const TIMES: MonitorTimes = { peerHeartbeatCycle: 2440, maxTimeLastHeard: 5000, maxTimeNoResponse: 5000, takeoverExpiry: 5000, maxTakeoversPerInterval: 16 };

interface Registrar {
  id: number;
  table: PeerTable;
  counters: TakeoverCounters;
  core: PeerMonitoring;
  /** Every action, with the time it was returned. */
  log: { t: number; action: MonitorAction }[];
}

function registrar(id: number, times: Partial<MonitorTimes> = {}): Registrar {
  const table = new PeerTable();
  const counters: TakeoverCounters = { takeoversStarted: 0, takeoversWon: 0, takeoversYielded: 0, takeoversRefused: 0, takeoversLimited: 0 };
  return { id, table, counters, core: new PeerMonitoring(id, { ...TIMES, ...times }, table, counters, log), log: [] };
}

function note(r: Registrar, t: number, actions: MonitorAction[]): MonitorAction[] {
  for (const action of actions) r.log.push({ t, action });
  return actions;
}

/** Any message from `from` heard at `t` (what the service does before the type's handler). */
function heard(r: Registrar, from: number, t: number) {
  const { peer } = r.table.heard(from, t, null);
  r.core.heard(peer);
  return peer;
}

/** An ENRP_PRESENCE from `from` at `t`. */
function presence(r: Registrar, from: number, t: number): MonitorAction[] {
  return note(r, t, r.core.presence(heard(r, from, t)));
}

/** A peer that ran the heartbeat: its presence, and once more. */
function established(r: Registrar, from: number, t: number): void {
  presence(r, from, t);
  presence(r, from, t);
}

/** Ticks `r` at each deadline it reports up to `until`; returns the actions with their times. */
function runUntil(r: Registrar, until: number): { t: number; action: MonitorAction }[] {
  const out: { t: number; action: MonitorAction }[] = [];
  for (let at = r.core.nextDeadline(); at <= until; at = r.core.nextDeadline()) {
    for (const action of note(r, at, r.core.tick(at))) out.push({ t: at, action });
  }
  return out;
}

const kinds = (xs: { action: MonitorAction }[]) => xs.map((x) => x.action.kind);

/**
 * Registrars wired by a message queue: actions addressed to a registrar of the network are
 * delivered in order (a presence, INIT_TAKEOVER, ACK, TAKEOVER_SERVER); to others (dead
 * targets) they are lost. Deadlines run in time order across registrars.
 */
class Network {
  readonly queue: { from: Registrar; to: number; action: MonitorAction }[] = [];
  constructor(readonly registrars: Registrar[]) {}

  private get(id: number): Registrar | undefined {
    return this.registrars.find((r) => r.id === id);
  }

  send(from: Registrar, actions: MonitorAction[]): void {
    for (const action of actions) if ('to' in action) this.queue.push({ from, to: action.to, action });
  }

  /** Delivers queued messages at `t` until none is left. */
  deliver(t: number): void {
    while (this.queue.length > 0) {
      const { from, to, action } = this.queue.shift()!;
      const r = this.get(to);
      if (r === undefined) continue;
      const peer = heard(r, from.id, t);
      let out: MonitorAction[] = [];
      switch (action.kind) {
        case 'presence':
        case 'ask':
          out = r.core.presence(peer);
          break;
        case 'initTakeover':
          out = r.core.initTakeover(peer, action.target, t);
          break;
        case 'initTakeoverAck':
          out = r.core.initTakeoverAck(peer, action.target, t);
          break;
        case 'takeoverServer':
          out = r.core.takeoverServer(peer, action.target, t);
          break;
      }
      this.send(r, note(r, t, out));
    }
  }

  /** Runs every registrar's deadlines up to `until`, delivering what each tick sends at once. */
  run(until: number): void {
    for (;;) {
      const next = Math.min(...this.registrars.map((r) => r.core.nextDeadline()));
      if (next > until) return;
      for (const r of this.registrars) if (r.core.nextDeadline() === next) this.send(r, note(r, next, r.core.tick(next)));
      this.deliver(next);
    }
  }
}

const X = 0x10;
const Y = 0x20;
const T = 0x30;
const U = 0x40;

describe('peer monitoring (RFC 5353 §3.4.3)', () => {
  it('a silent peer is asked after MAX-TIME-LAST-HEARD; one that answers stays', () => {
    const r = registrar(X);
    established(r, T, 0);
    expect(r.core.nextDeadline()).toBe(5001);
    expect(runUntil(r, 5001)).toEqual([{ t: 5001, action: { kind: 'ask', to: T } }]);
    presence(r, T, 6000); // the reply
    expect(runUntil(r, 10_999)).toEqual([]);
    const peer = r.table.get(T)!;
    expect([peer.status, peer.askedAt, peer.lastHeard]).toEqual([PeerStatus.Active, 0, 6000]);
    expect(r.counters.takeoversStarted).toBe(0);
    expect(r.core.nextDeadline()).toBe(11_001); // watched again from its answer
  });

  it('a peer heard once that falls silent is forgotten with its PEs, not taken over', () => {
    const r = registrar(X);
    presence(r, T, 0);
    expect(runUntil(r, 20_000)).toEqual([
      { t: 5001, action: { kind: 'ask', to: T } },
      { t: 10_002, action: { kind: 'forget', target: T } },
    ]);
    expect(r.table.get(T)).toBeUndefined();
    expect(r.counters).toMatchObject({ takeoversRefused: 1, takeoversStarted: 0, takeoversWon: 0 });
    expect(r.core.nextDeadline()).toBe(Infinity);
  });

  it('an ask that cannot be sent makes the peer dead at the next tick', () => {
    const r = registrar(X);
    established(r, T, 0);
    runUntil(r, 5001);
    r.core.unreachable(T);
    expect(r.core.nextDeadline()).toBe(5002);
    expect(kinds(runUntil(r, 5002))).toEqual(['initTakeover', 'takeOver']);
  });
});

describe('takeover (RFC 5353 §3.5)', () => {
  it('alone: INIT_TAKEOVER to the target, won at once, its PEs ours', () => {
    const r = registrar(X);
    established(r, T, 0);
    expect(runUntil(r, 20_000)).toEqual([
      { t: 5001, action: { kind: 'ask', to: T } },
      { t: 10_002, action: { kind: 'initTakeover', to: T, target: T } },
      { t: 10_002, action: { kind: 'takeOver', target: T, home: X } },
    ]);
    expect(r.table.get(T)).toBeUndefined();
    expect(r.counters).toMatchObject({ takeoversStarted: 1, takeoversWon: 1 });
    expect(r.core.decidedAt).toBe(10_002);
  });

  it('waits for every other peer\'s ACK; a peer that never answers is passed over at the takeover expiry', () => {
    const r = registrar(X);
    established(r, T, 0);
    established(r, Y, 0);
    established(r, U, 0);
    // Y and U stay alive (heard every 2 s); T falls silent.
    for (let t = 2000; t <= 10_000; t += 2000) {
      presence(r, Y, t);
      presence(r, U, t);
    }
    const started = runUntil(r, 10_002);
    expect(started.filter((x) => x.action.kind === 'initTakeover').map((x) => (x.action as { to: number }).to)).toEqual([T, Y, U]);
    note(r, 10_100, r.core.initTakeoverAck(heard(r, Y, 10_100), T, 10_100));
    expect(r.table.get(T)!.status).toBe(PeerStatus.TakingOver);
    presence(r, Y, 12_000); // U acknowledges nothing and falls silent
    const end = runUntil(r, 15_002);
    expect(end.filter((x) => x.t === 15_002).map((x) => x.action)).toEqual([
      { kind: 'takeoverServer', to: Y, target: T },
      { kind: 'takeoverServer', to: U, target: T },
      { kind: 'takeOver', target: T, home: X },
    ]);
    expect(r.counters.takeoversWon).toBe(1);
  });

  it('every ACK in: won before the expiry', () => {
    const r = registrar(X);
    established(r, T, 0);
    established(r, Y, 0);
    for (let t = 2000; t <= 10_000; t += 2000) presence(r, Y, t);
    runUntil(r, 10_002);
    expect(note(r, 10_050, r.core.initTakeoverAck(heard(r, Y, 10_050), T, 10_050))).toEqual([
      { kind: 'takeoverServer', to: Y, target: T },
      { kind: 'takeOver', target: T, home: X },
    ]);
    expect(r.core.decidedAt).toBe(10_050);
  });

  it('two registrars take over the same dead peer: the lower server ID wins, whichever INIT_TAKEOVER arrives first', () => {
    for (const order of ['x-first', 'y-first'] as const) {
      const x = registrar(X);
      const y = registrar(Y);
      const net = new Network(order === 'x-first' ? [x, y] : [y, x]);
      established(x, T, 0);
      established(y, T, 0);
      established(x, Y, 0);
      established(y, X, 0);
      // X and Y keep their heartbeat; T is dead from 0 on.
      for (let t = 2440; t < 20_000; t += 2440) {
        net.run(t);
        net.send(x, [{ kind: 'presence', to: Y, replyRequired: false }]);
        net.send(y, [{ kind: 'presence', to: X, replyRequired: false }]);
        net.deliver(t);
      }
      net.run(20_000);
      // Both started at the same moment; Y yielded to the lower ID and acknowledged.
      expect(x.counters).toMatchObject({ takeoversStarted: 1, takeoversWon: 1, takeoversYielded: 0 });
      expect(y.counters).toMatchObject({ takeoversStarted: 1, takeoversWon: 0, takeoversYielded: 1 });
      // X never acknowledged Y's INIT_TAKEOVER; Y did X's.
      expect(x.log.filter((e) => e.action.kind === 'initTakeoverAck')).toEqual([]);
      expect(y.log.filter((e) => e.action.kind === 'initTakeoverAck').map((e) => e.action)).toEqual([{ kind: 'initTakeoverAck', to: X, target: T }]);
      // Both hand T's PEs to X, and forget T.
      for (const r of [x, y]) {
        expect(r.log.filter((e) => e.action.kind === 'takeOver').map((e) => e.action)).toEqual([{ kind: 'takeOver', target: T, home: X }]);
        expect(r.table.get(T)).toBeUndefined();
      }
      // Decided on the ACK, not at the expiry.
      expect(x.core.decidedAt).toBe(10_002);
    }
  });

  it('a presence from the target stops the takeover (§3.5.1, last paragraph)', () => {
    const r = registrar(X);
    established(r, T, 0);
    established(r, Y, 0);
    for (let t = 2000; t <= 20_000; t += 2000) presence(r, Y, t);
    runUntil(r, 10_002);
    expect(r.core.takingOver(T)).toBe(true);
    presence(r, T, 11_000);
    expect(r.core.takingOver(T)).toBe(false);
    expect(r.table.get(T)!.status).toBe(PeerStatus.Active);
    expect(note(r, 11_100, r.core.initTakeoverAck(heard(r, Y, 11_100), T, 11_100))).toEqual([]);
    expect(runUntil(r, 15_002)).toEqual([]);
    expect(r.counters).toMatchObject({ takeoversStarted: 1, takeoversWon: 0 });
  });

  it('a TAKEOVER_SERVER for a peer we hear is refused; for a silent one it moves its PEs to the sender', () => {
    const r = registrar(X);
    established(r, T, 0);
    established(r, Y, 0);
    expect(r.core.takeoverServer(heard(r, Y, 4000), T, 4000)).toEqual([]);
    expect(r.counters.takeoversRefused).toBe(1);
    expect(r.table.get(T)).toBeDefined();
    expect(r.core.takeoverServer(heard(r, Y, 5000), T, 5000)).toEqual([{ kind: 'takeOver', target: T, home: Y }]);
    expect(r.table.get(T)).toBeUndefined();
  });

  it('a TAKEOVER_SERVER for a server we never knew (or no longer know) is refused: nothing re-homed', () => {
    const r = registrar(X);
    established(r, Y, 0);
    expect(r.core.takeoverServer(heard(r, Y, 100), 0x5100dead, 100)).toEqual([]);
    expect(r.counters.takeoversRefused).toBe(1);
    // Once taken over (T removed), a second winner's announcement changes nothing either.
    established(r, T, 0);
    expect(r.core.takeoverServer(heard(r, Y, 9000), T, 9000)).toEqual([{ kind: 'takeOver', target: T, home: Y }]);
    expect(r.core.takeoverServer(heard(r, U, 9100), T, 9100)).toEqual([]);
    expect(r.counters.takeoversRefused).toBe(2);
  });

  it('an INIT_TAKEOVER or TAKEOVER_SERVER naming us: a presence to the sender, to every peer at most once per PEER-HEARTBEAT-CYCLE', () => {
    const r = registrar(X);
    for (const id of [Y, T, U]) established(r, id, 0);
    const all = [Y, T, U].map((to) => ({ kind: 'presence', to, replyRequired: false }));
    expect(r.core.initTakeover(heard(r, Y, 100), X, 100)).toEqual(all);
    expect(r.core.takeoverServer(heard(r, Y, 200), X, 200)).toEqual([all[0]]);
    expect(r.core.initTakeover(heard(r, U, 2539), X, 2539)).toEqual([all[2]]);
    expect(r.core.initTakeover(heard(r, U, 2540), X, 2540)).toEqual([all[2], all[0], all[1]]);
    expect(r.counters.takeoversStarted).toBe(0);
  });

  it('an INIT_TAKEOVER for a peer we still hear is not acknowledged: it stays monitored and updated (§3.5.1)', () => {
    const r = registrar(X);
    established(r, T, 0);
    established(r, Y, 0);
    // T heard at 3000; Y (in scope, but wrong or lying) claims T failed at 4000 and 7999.
    presence(r, T, 3000);
    expect(r.core.initTakeover(heard(r, Y, 4000), T, 4000)).toEqual([]);
    expect(r.core.initTakeover(heard(r, Y, 7999), T, 7999)).toEqual([]);
    expect(r.table.get(T)!.status).toBe(PeerStatus.Active);
    expect(r.counters).toMatchObject({ takeoversRefused: 2, takeoversYielded: 0 });
    // Still watched: asked when silent for MAX-TIME-LAST-HEARD after 3000, not forgotten.
    expect(runUntil(r, 8001).filter((x) => x.action.kind === 'ask')).toEqual([{ t: 8001, action: { kind: 'ask', to: T } }]);
    // Silent past MAX-TIME-LAST-HEARD (asked, no answer yet): now Y's claim is acknowledged.
    expect(r.core.initTakeover(heard(r, Y, 8100), T, 8100)).toEqual([{ kind: 'initTakeoverAck', to: Y, target: T }]);
    expect(r.table.get(T)!.status).toBe(PeerStatus.NotActive);
    // T speaks again: monitored (and updated) again at once.
    presence(r, T, 8200);
    expect(r.table.get(T)!.status).toBe(PeerStatus.Active);
  });

  it('an acknowledged takeover never announced: the target is watched again and taken over if still silent', () => {
    const r = registrar(X);
    established(r, T, 0);
    established(r, Y, 0);
    // T falls silent at 0; we ask it at 5001. Y starts a takeover of T at 6000 and then dies.
    presence(r, Y, 4000);
    runUntil(r, 6000);
    expect(r.core.initTakeover(heard(r, Y, 6000), T, 6000)).toEqual([{ kind: 'initTakeoverAck', to: Y, target: T }]);
    expect(r.table.get(T)!.status).toBe(PeerStatus.NotActive);
    const out = runUntil(r, 16_001);
    expect(out.filter((x) => x.action.kind === 'presence')).toEqual([{ t: 16_001, action: { kind: 'presence', to: T, replyRequired: true } }]);
    // Still silent after MAX-TIME-NO-RESPONSE: taken over by us (Y fell silent too; its
    // takeover, started at 16 002, waits for T's ACK and expires as T's starts).
    runUntil(r, 40_000);
    expect(r.log.filter((e) => e.action.kind === 'takeOver')).toEqual([
      { t: 21_002, action: { kind: 'takeOver', target: Y, home: X } },
      { t: 21_002, action: { kind: 'takeOver', target: T, home: X } },
    ]);
  });

  it('--max-takeovers: the rest wait, still dead, for the next MAX-TIME-LAST-HEARD window', () => {
    const r = registrar(X, { maxTakeoversPerInterval: 1 });
    const dead = [0x31, 0x32, 0x33];
    for (const id of dead) established(r, id, 0);
    runUntil(r, 60_000);
    const starts = r.log.filter((e) => e.action.kind === 'takeOver').map((e) => [e.t, (e.action as { target: number }).target]);
    // One at 10 002 (the others dead with it are asked for an ACK, passed over at its expiry),
    // then one per window.
    expect(starts).toEqual([
      [15_002, 0x31],
      [20_002, 0x32],
      [20_002, 0x33],
    ]);
    const inits = r.log.filter((e) => e.action.kind === 'initTakeover' && e.action.to === (e.action as { target: number }).target).map((e) => e.t);
    expect(inits).toEqual([10_002, 15_002, 20_002]);
    expect(r.counters).toMatchObject({ takeoversStarted: 3, takeoversWon: 3, takeoversLimited: 2 });
  });

  it('200 dead peers at 16 per window: taken over in windows, deterministic, fast', () => {
    const N = 200;
    const run = () => {
      const r = registrar(X);
      for (let i = 1; i <= N; i++) established(r, 0x1000 + i, 0);
      const t0 = performance.now();
      runUntil(r, 3_600_000);
      return { r, ms: performance.now() - t0, log: r.log.map((e) => `${e.t}:${e.action.kind}`).join() };
    };
    const a = run();
    const b = run();
    expect(a.log).toBe(b.log);
    expect(a.r.table.size).toBe(0);
    expect(a.r.counters.takeoversWon).toBe(N);
    expect(a.r.counters.takeoversLimited).toBe(N - 16);
    // 16 per MAX-TIME-LAST-HEARD window: the last ones a window after the others.
    const wins = a.r.log.filter((e) => e.action.kind === 'takeOver').map((e) => e.t);
    expect(wins.at(-1)! - wins[0]!).toBeLessThanOrEqual(Math.ceil(N / 16) * 5000);
    expect(a.ms).toBeLessThan(5000);
  });
});
