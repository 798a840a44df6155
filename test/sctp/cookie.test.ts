import { describe, expect, it } from 'vitest';
import { CookieSigner, type StateCookie } from '../../src/sctp/cookie.js';

const cookie: StateCookie = {
  createdAt: 1000,
  lifespan: 60000,
  localTag: 0x11111111,
  peerTag: 0x22222222,
  localInitialTsn: 5,
  peerInitialTsn: 0xfffffff0,
  peerReceiveWindow: 131072,
  outboundStreams: 10,
  inboundStreams: 2048,
  localTieTag: 7,
  peerTieTag: 8,
  localPort: 3863,
  peerPort: 9901,
  peerUdpPort: 9899,
  peerAddresses: ['192.0.2.1', '2001:db8::1', '198.51.100.7'],
};

describe('state cookie', () => {
  it('round trip', () => {
    const s = new CookieSigner(60000, 1000);
    const v = s.open(s.make(cookie, 1000), 2000);
    expect(v).toEqual({ ok: true, cookie, stalenessMs: 0 });
  });
  it('any changed byte fails the MAC; another endpoint secret fails', () => {
    const s = new CookieSigner(60000, 0);
    const bytes = s.make(cookie, 1000);
    for (let i = 0; i < bytes.length; i++) {
      const copy = Uint8Array.from(bytes);
      copy[i]! ^= 0x40;
      expect(s.open(copy, 1000).ok).toBe(false);
    }
    expect(new CookieSigner(60000, 0).open(bytes, 1000).ok).toBe(false);
    expect(s.open(bytes.subarray(0, 40), 1000).ok).toBe(false);
  });
  it('staleness is reported in ms beyond the lifespan', () => {
    const s = new CookieSigner(600000, 0);
    const v = s.open(s.make(cookie, 1000), 1000 + 60000 + 250);
    expect(v.ok && v.stalenessMs).toBe(250);
  });
  it('the secret rotates; cookies made under the previous one stay valid, older ones do not', () => {
    const s = new CookieSigner(1000, 0);
    const old = s.make({ ...cookie, createdAt: 0 }, 0);
    const mid = s.make({ ...cookie, createdAt: 1500 }, 1500); // rotates
    expect(s.open(old, 1600).ok).toBe(true);
    s.make({ ...cookie, createdAt: 2600 }, 2600); // rotates again
    expect(s.open(old, 2700).ok).toBe(false);
    expect(s.open(mid, 2700).ok).toBe(true);
  });
});
