// Startup with a mentor and handle table downloads (src/registrar/mentor-sync.ts) in virtual
// time: the state machine fed peers heard, responses and ticks at the deadlines it reports.
import { describe, expect, it } from 'vitest';
import { MentorSync, type SyncAction, type SyncCounters } from '../../src/registrar/mentor-sync.js';

const TIMES = { mentorDiscoveryTimeout: 5000, maxTimeNoResponse: 5000 };
const M = 0x20;
const P = 0x30;

function sync(): { s: MentorSync; counters: SyncCounters } {
  const counters: SyncCounters = { tablePagesReceived: 0, unsolicited: 0 };
  return { s: new MentorSync(TIMES, counters), counters };
}

/** Ticks at each deadline up to `until`; the actions with their times. */
function runUntil(s: MentorSync, until: number): { t: number; action: SyncAction }[] {
  const out: { t: number; action: SyncAction }[] = [];
  for (let at = s.nextDeadline(); at <= until; at = s.nextDeadline()) for (const action of s.tick(at)) out.push({ t: at, action });
  return out;
}

const kinds = (xs: SyncAction[]) => xs.map((x) => x.kind);

describe('startup (RFC 5353 §3.2)', () => {
  it('alone (no peer configured, no presence channel): ready at once', () => {
    const { s } = sync();
    expect(s.start(true, 0)).toEqual([{ kind: 'ready', why: 'no peers configured and no presence channel' }]);
    expect(s.ready).toBe(true);
    expect(s.nextDeadline()).toBe(Infinity);
  });

  it('nobody heard: ready at the mentor discovery timeout', () => {
    const { s } = sync();
    expect(s.start(false, 100)).toEqual([]);
    expect(runUntil(s, 5099)).toEqual([]);
    expect(runUntil(s, 10_000)).toEqual([{ t: 5100, action: { kind: 'ready', why: 'no mentor found within the mentor discovery timeout' } }]);
  });

  it('the first peer heard is the mentor: list and table requests; ready once its paged table is loaded', () => {
    const { s, counters } = sync();
    s.start(false, 0);
    expect(s.heard(M, 1000)).toEqual([
      { kind: 'listRequest', to: M, again: false },
      { kind: 'tableRequest', to: M, ownOnly: false },
    ]);
    expect(s.heard(P, 1001)).toEqual([]); // one mentor
    // The table flows before the discovery timeout; its last page comes after it.
    expect(kinds(s.response(M, false, true, 4000))).toEqual(['page', 'tableRequest']);
    expect(runUntil(s, 8000)).toEqual([]); // the discovery timeout no longer makes us ready
    expect(s.ready).toBe(false);
    expect(s.response(M, false, false, 8500)).toEqual([
      { kind: 'page', from: M, ownOnly: false, shard: null },
      { kind: 'ready', why: 'handlespace loaded from the mentor' },
    ]);
    expect(counters.tablePagesReceived).toBe(2);
    expect(s.listResponse(M, false, 8600)).toBe(true);
    expect(s.listResponse(M, false, 8700)).toBe(false); // once
    expect(s.listResponse(P, false, 8800)).toBe(false); // never asked
    expect(counters.unsolicited).toBe(2);
  });

  it('a mentor that rejects (it is starting too) is asked again a little later; the discovery timeout still runs', () => {
    const { s } = sync();
    s.start(false, 0);
    s.heard(M, 100);
    expect(s.response(M, true, false, 200)).toEqual([]);
    expect(s.listResponse(M, true, 200)).toBe(false); // a rejected list: asked again as well
    expect(runUntil(s, 5000)).toEqual([
      { t: 1200, action: { kind: 'listRequest', to: M, again: true } },
      { t: 1200, action: { kind: 'tableRequest', to: M, ownOnly: false } },
      { t: 5000, action: { kind: 'ready', why: 'no mentor found within the mentor discovery timeout' } },
    ]);
  });

  it('a rejected list request is asked again with a doubling back-off, a few times; a list response while one waits is unasked', () => {
    const { s, counters } = sync();
    s.start(false, 0);
    s.heard(M, 0);
    s.response(M, false, false, 10); // the table came: only the list is left
    const asks: number[] = [];
    let t = 100;
    for (let i = 0; i < 10; i++) {
      if (s.listResponse(M, true, t)) break;
      const again = runUntil(s, t + 60_000).filter((x) => x.action.kind === 'listRequest');
      if (again.length === 0) break;
      t = again[0]!.t;
      asks.push(t);
    }
    // 1 s, 2 s, 4 s, 8 s, 16 s, 30 s (capped) after each rejection; the seventh is not asked again.
    expect(asks).toEqual([1100, 3100, 7100, 15_100, 31_100, 61_100]);
    expect(s.nextDeadline()).toBe(Infinity);
    // While waiting to ask again, a response is not ours to take.
    const { s: s2 } = sync();
    s2.start(false, 0);
    s2.heard(M, 0);
    expect(s2.listResponse(M, true, 100)).toBe(false);
    expect(s2.listResponse(M, false, 200)).toBe(false);
    expect(counters.unsolicited).toBe(0);
    expect(runUntil(s2, 1100).filter((x) => x.action.kind === 'listRequest')).toEqual([{ t: 1100, action: { kind: 'listRequest', to: M, again: true } }]);
    expect(s2.listResponse(M, false, 1200)).toBe(true);
  });

  it('a mentor that stops answering: expired, and ready with what was loaded once the service gives up', () => {
    const { s } = sync();
    s.start(false, 0);
    s.heard(M, 0);
    s.response(M, false, true, 100); // a first page, then silence
    const expired = runUntil(s, 5100);
    expect(expired).toEqual([{ t: 5100, action: { kind: 'expired', download: s.download(M) } }]);
    // The service restarts the association once and asks again; silent again: it gives up.
    const d = s.download(M)!;
    s.restarting(d);
    expect(s.ask(M, false, null, 5200)).toEqual([{ kind: 'tableRequest', to: M, ownOnly: false }]);
    expect(runUntil(s, 10_200)).toEqual([{ t: 10_200, action: { kind: 'expired', download: d } }]);
    expect(d.restarted).toBe(true);
    expect(s.failed(d, 'no handle table response in time')).toEqual([
      { kind: 'abandoned', download: d, why: 'no handle table response in time' },
      { kind: 'ready', why: 'mentor stopped answering; serving what was loaded' },
    ]);
    expect(s.download(M)).toBeUndefined();
    expect(s.failed(d, 'again')).toEqual([]);
  });
});

describe('downloads after startup (RFC 5353 §3.6.3, a restarted shard)', () => {
  it('an audit downloads the peer\'s own PEs and ends with auditEnd; a failed one makes nothing ready', () => {
    const { s } = sync();
    s.start(true, 0);
    expect(s.ask(P, true, null, 10)).toEqual([{ kind: 'tableRequest', to: P, ownOnly: true }]);
    expect(s.heard(P, 20)).toEqual([]); // ready: no mentor any more
    expect(s.response(P, false, true, 30)).toEqual([
      { kind: 'page', from: P, ownOnly: true, shard: null },
      { kind: 'tableRequest', to: P, ownOnly: true },
    ]);
    expect(s.response(P, false, false, 40)).toEqual([
      { kind: 'page', from: P, ownOnly: true, shard: null },
      { kind: 'auditEnd', peer: P },
    ]);
    s.ask(P, true, null, 50);
    const d = s.download(P)!;
    expect(s.failed(d, 'gone')).toEqual([{ kind: 'abandoned', download: d, why: 'gone' }]);
  });

  it('a restarted shard reloads from a peer\'s full table, that shard alone', () => {
    const { s } = sync();
    s.start(true, 0);
    s.ask(P, false, 3, 0);
    expect(s.response(P, false, false, 10)).toEqual([
      { kind: 'page', from: P, ownOnly: false, shard: 3 },
      { kind: 'shardReloaded', peer: P, shard: 3 },
    ]);
  });

  it('a table nobody asked for is ignored and counted', () => {
    const { s, counters } = sync();
    s.start(true, 0);
    expect(s.response(P, false, false, 10)).toEqual([]);
    expect(counters).toEqual({ tablePagesReceived: 0, unsolicited: 1 });
  });
});
