// The peer links (src/registrar/peer-links.ts) in virtual time: fake associations whose 'up'
// and 'down' the test decides, ticks at the deadlines the state machine reports. Who
// associates, back-off, held messages, stale attempts, and restarts of stuck associations,
// deterministically and without sockets.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type Link, PeerTable } from '../../src/registrar/enrp-peers.js';
import { MAX_PENDING, PeerLinks, type LinkCounters } from '../../src/registrar/peer-links.js';
import type { RemoteAddress } from '../../src/transport/index.js';
import { EnrpFlag, EnrpType } from '../../src/wire/constants.js';

const log = pino({ level: 'silent' });
const TIMES = { maxTimeLastHeard: 5000, maxTimeNoResponse: 5000, peerUdpPort: 9899 };
/** min(1000, MAX-TIME-NO-RESPONSE / 4): the back-off, and how long a higher ID waits. */
const BACKOFF = 1000;
/** The periodic check: max(20, min(MAX-TIME-LAST-HEARD, MAX-TIME-NO-RESPONSE) / 5). */
const CHECK = 1000;

class FakeLink implements Link {
  static next = 1;
  readonly id = FakeLink.next++;
  state: 'connecting' | 'up' | 'down' = 'connecting';
  readonly remoteAddresses: string[];
  constructor(readonly remote: RemoteAddress) {
    this.remoteAddresses = [remote.address];
  }
}

function setup(ownId: number) {
  const peers = new PeerTable();
  const counters: LinkCounters = { associationRestarts: 0 };
  const dialed: FakeLink[] = [];
  const sent: { link: FakeLink; message: Uint8Array }[] = [];
  const aborted: FakeLink[] = [];
  const restarting: number[] = [];
  const relinked: [number, FakeLink | null][] = [];
  const links = new PeerLinks<FakeLink>(
    ownId,
    TIMES,
    peers,
    {
      dial: (remote) => {
        const link = new FakeLink(remote);
        dialed.push(link);
        return link;
      },
      transmit: (link, message) => sent.push({ link, message }),
      abort: (link) => {
        aborted.push(link);
        link.state = 'down'; // as the transport
      },
      restarting: (peer) => {
        restarting.push(peer);
        return [];
      },
      relinked: (peer, link) => relinked.push([peer, link]),
    },
    counters,
    log,
    () => true,
    () => 0.5, // no jitter: the back-off is BACKOFF exactly
  );
  /** Ticks at each deadline up to `until`. */
  const runUntil = (until: number): void => {
    for (let at = links.nextDeadline(); at <= until; at = links.nextDeadline()) links.tick(at);
  };
  const up = (link: FakeLink, t: number): void => {
    link.state = 'up';
    links.up(link, t);
  };
  const down = (link: FakeLink, t: number): void => {
    link.state = 'down';
    links.down(link, t);
  };
  return { peers, counters, dialed, sent, aborted, restarting, relinked, links, runUntil, up, down };
}

const REMOTE: RemoteAddress = { address: '192.0.2.7', port: 9901, udpPort: 9899 };
const update = (n: number): Uint8Array => Uint8Array.of(EnrpType.HandleUpdate, 0, 0, n);
const ask = (): Uint8Array => Uint8Array.of(EnrpType.Presence, EnrpFlag.ReplyRequired);
const payloads = (xs: { message: Uint8Array }[]): number[] => xs.map((x) => x.message[3]!);

describe('peer links (RFC 5353 §3.1)', () => {
  it('the lower server ID associates at once; messages wait for up and go out in order', () => {
    const s = setup(0x10);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    expect(s.links.send(peer, update(1), 0)).toBe(true);
    expect(s.links.send(peer, update(2), 1)).toBe(true);
    expect(s.dialed).toHaveLength(1);
    expect(peer.association).toBe(s.dialed[0]);
    expect(s.sent).toEqual([]);
    s.up(s.dialed[0]!, 50);
    expect(payloads(s.sent)).toEqual([1, 2]);
    s.links.send(peer, update(3), 60);
    expect(payloads(s.sent)).toEqual([1, 2, 3]);
  });

  it('the higher server ID waits for the lower one\'s INIT: its association carries the held messages', () => {
    const s = setup(0x30);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    s.links.send(peer, update(1), 0);
    expect(s.dialed).toEqual([]);
    expect(s.links.nextDeadline()).toBe(BACKOFF + 1);
    // The peer's INIT arrives: its association, bound by its presence.
    const theirs = new FakeLink(REMOTE);
    theirs.state = 'up';
    s.links.attached(theirs);
    s.links.confirm(theirs, 0x20);
    expect(s.links.bind(peer, theirs, 300)).toBe(true);
    expect(payloads(s.sent)).toEqual([1]);
    s.runUntil(10_000);
    expect(s.dialed).toEqual([]);
  });

  it('the higher server ID associates itself when nothing came within the wait', () => {
    const s = setup(0x30);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    s.links.send(peer, update(1), 0);
    s.runUntil(BACKOFF);
    expect(s.dialed).toEqual([]);
    s.runUntil(BACKOFF + 1);
    expect(s.dialed).toHaveLength(1);
    s.up(s.dialed[0]!, BACKOFF + 20);
    expect(payloads(s.sent)).toEqual([1]);
  });

  it('an attempt that goes down before up backs off; the held messages go with the next one', () => {
    const s = setup(0x10);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    s.links.send(peer, update(1), 0);
    s.down(s.dialed[0]!, 100); // INIT answered by ABORT, or the peer's INIT won
    expect(s.dialed).toHaveLength(1);
    s.links.send(peer, update(2), 200);
    expect(s.dialed).toHaveLength(1); // still backing off
    s.runUntil(100 + BACKOFF);
    expect(s.dialed).toHaveLength(1);
    s.runUntil(100 + BACKOFF + 1);
    expect(s.dialed).toHaveLength(2);
    s.up(s.dialed[1]!, 1200);
    expect(payloads(s.sent)).toEqual([1, 2]);
  });

  it('an attempt of ours not up after MAX-TIME-NO-RESPONSE is aborted and started afresh', () => {
    const s = setup(0x10);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    s.links.send(peer, update(1), 0);
    const first = s.dialed[0]!;
    s.runUntil(TIMES.maxTimeNoResponse - 1);
    expect(s.dialed).toHaveLength(1);
    s.runUntil(TIMES.maxTimeNoResponse + CHECK);
    expect(s.aborted).toEqual([first]);
    expect(s.dialed).toHaveLength(2);
    expect(peer.association).toBe(s.dialed[1]);
    s.up(s.dialed[1]!, 6100);
    expect(payloads(s.sent)).toEqual([1]);
  });

  it('at most MAX_PENDING messages are held: the oldest go first', () => {
    const s = setup(0x30);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    for (let i = 0; i < MAX_PENDING + 10; i++) s.links.send(peer, update(i % 256), 0);
    expect(peer.pending).toHaveLength(MAX_PENDING);
    expect(peer.pending[0]![3]).toBe(10);
  });

  it('a request unanswered over an up association while the peer is heard otherwise: restarted, once the ABORT has left', () => {
    const s = setup(0x10);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    s.links.send(peer, update(0), 0);
    const first = s.dialed[0]!;
    s.up(first, 10);
    s.links.send(peer, ask(), 100);
    // The peer is heard (multicast presences, say) but never answers over the association.
    for (let t = 1000; t <= 5000; t += 1000) s.peers.heard(0x20, t, null);
    s.runUntil(5100);
    expect(s.counters.associationRestarts).toBe(0);
    s.runUntil(100 + TIMES.maxTimeNoResponse + CHECK);
    expect(s.counters.associationRestarts).toBe(1);
    expect(s.aborted).toEqual([first]);
    // Associated anew on a later tick, not in the turn that aborted.
    expect(s.dialed).toHaveLength(2);
    expect(peer.association).toBe(s.dialed[1]);
  });

  it('a peer heard from no more is not restarted (monitoring and takeover decide), nor one that answered', () => {
    const s = setup(0x10);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    s.links.send(peer, update(0), 0);
    s.up(s.dialed[0]!, 10);
    s.links.send(peer, ask(), 100);
    s.runUntil(20_000);
    expect(s.counters.associationRestarts).toBe(0);
    // Answered: nothing waits any more.
    s.links.send(peer, ask(), 20_100);
    s.peers.heard(0x20, 20_200, null);
    s.links.answered(s.dialed[0]!, EnrpType.Presence);
    s.runUntil(40_000);
    expect(s.counters.associationRestarts).toBe(0);
    expect(s.links.nextDeadline()).toBe(Infinity);
  });

  it('restart() for a download: the service is asked what waits, and told the new association on the next tick (null: the peer is gone)', () => {
    const s = setup(0x10);
    const { peer } = s.peers.heard(0x20, 0, REMOTE);
    s.links.send(peer, update(0), 0);
    s.up(s.dialed[0]!, 10);
    s.links.restart(s.dialed[0]!, 5000, 5000);
    expect(s.restarting).toEqual([0x20]);
    expect(s.relinked).toEqual([]);
    s.runUntil(5000);
    expect(s.dialed).toHaveLength(2);
    expect(s.relinked).toEqual([[0x20, s.dialed[1]]]);
    s.up(s.dialed[1]!, 5100);
    s.links.restart(s.dialed[1]!, 6000, 5000);
    s.peers.remove(0x20);
    s.runUntil(6000);
    expect(s.relinked[1]).toEqual([0x20, null]);
  });
});
