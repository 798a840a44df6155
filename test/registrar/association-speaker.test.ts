// associationSpeaker() (src/registrar/enrp-peers.ts): who may speak over an ENRP association
// whose owner may have left the peer list. A confirmed association is its owner's for life:
// once that peer is forgotten or taken over, another ID still cannot bind it, neither by
// speaking over it nor by us sending to another peer over it (PeerLinks.bind).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PeerTable, Speaker, associationSpeaker, type Link } from '../../src/registrar/enrp-peers.js';
import { PeerLinks } from '../../src/registrar/peer-links.js';
import type { RemoteAddress } from '../../src/transport/index.js';

const M = 0x4d000001;
const V = 0x56000001;

describe('associationSpeaker', () => {
  it('owner in the peer list: as speaker()', () => {
    expect(associationSpeaker(M, true, true, M, false, false)).toBe(Speaker.Peer);
    expect(associationSpeaker(M, true, true, V, true, false)).toBe(Speaker.Mismatch);
    expect(associationSpeaker(M, true, false, V, true, false)).toBe(Speaker.Binds); // our guess corrected before anything was accepted
    expect(associationSpeaker(M, true, false, V, false, false)).toBe(Speaker.Mismatch);
  });

  it('confirmed, owner left the list: another ID is refused, a PRESENCE included; the owner is heard anew', () => {
    expect(associationSpeaker(M, false, true, V, true, false)).toBe(Speaker.Mismatch);
    expect(associationSpeaker(M, false, true, V, false, false)).toBe(Speaker.Mismatch);
    expect(associationSpeaker(M, false, true, M, true, false)).toBe(Speaker.Binds);
    expect(associationSpeaker(M, false, true, M, false, false)).toBe(Speaker.NotAPeer);
  });

  it('unconfirmed binding to a peer that left the list, or none: only a PRESENCE binds', () => {
    expect(associationSpeaker(M, false, false, V, true, false)).toBe(Speaker.Binds);
    expect(associationSpeaker(M, false, false, M, false, false)).toBe(Speaker.NotAPeer);
    expect(associationSpeaker(undefined, false, false, V, true, false)).toBe(Speaker.Binds);
    expect(associationSpeaker(undefined, false, false, V, true, true)).toBe(Speaker.Mismatch); // V confirmed elsewhere
    expect(associationSpeaker(undefined, false, false, V, false, false)).toBe(Speaker.NotAPeer);
  });
});

describe('PeerLinks.bind: the send side of the same rule', () => {
  class FakeLink implements Link {
    readonly id = 1;
    state: 'connecting' | 'up' | 'down' = 'up';
    readonly remoteAddresses: string[];
    constructor(readonly remote: RemoteAddress) {
      this.remoteAddresses = [remote.address];
    }
  }
  const REMOTE: RemoteAddress = { address: '192.0.2.7', port: 40000 };

  function setup(): { peers: PeerTable; links: PeerLinks<FakeLink>; sent: FakeLink[] } {
    const peers = new PeerTable();
    const sent: FakeLink[] = [];
    const links = new PeerLinks<FakeLink>(
      0x10,
      { maxTimeLastHeard: 5000, maxTimeNoResponse: 5000, peerUdpPort: 9899 },
      peers,
      { dial: () => null, transmit: (link) => sent.push(link), abort: () => undefined, restarting: () => [], relinked: () => undefined },
      { associationRestarts: 0 },
      pino({ level: 'silent' }),
    );
    return { peers, links, sent };
  }

  it("a link confirmed by M is not bound to V, also once M has left the peer list; M's own ID still binds it", () => {
    const s = setup();
    const link = new FakeLink(REMOTE);
    s.links.attached(link);
    s.peers.heard(M, 0, REMOTE);
    s.links.confirm(link, M);
    const v = s.peers.heard(V, 0, REMOTE).peer; // V "reached" at the same transport address
    expect(s.links.bind(v, link, 10)).toBe(false);
    s.peers.remove(M); // M forgotten or taken over; its link stays up
    expect(s.links.bind(v, link, 20)).toBe(false);
    expect(s.links.peerOf(link)).toBe(M);
    expect(s.links.send(v, Uint8Array.of(0x05, 0, 0, 4), 30)).toBe(false);
    expect(s.sent).toEqual([]);
    const m = s.peers.heard(M, 40, REMOTE).peer;
    expect(s.links.bind(m, link, 40)).toBe(true);
  });
});
