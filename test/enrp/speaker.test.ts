// Who may speak over an ENRP association (speaker() in src/registrar/enrp-peers.ts), case by case.
import { describe, expect, it } from 'vitest';
import { Speaker, speaker } from '../../src/registrar/enrp-peers.js';

const P = 0x10; // the association's peer
const X = 0x99; // someone else

describe('speaker', () => {
  it('over a confirmed association only its peer speaks, a PRESENCE included', () => {
    expect(speaker(P, true, P, false, false)).toBe(Speaker.Peer);
    expect(speaker(P, true, P, true, false)).toBe(Speaker.Peer);
    expect(speaker(P, true, X, false, false)).toBe(Speaker.Mismatch);
    expect(speaker(P, true, X, true, false)).toBe(Speaker.Mismatch);
  });

  it('over an association we started to a configured or learned peer: that peer speaks; a PRESENCE tells who is really there', () => {
    expect(speaker(P, false, P, false, false)).toBe(Speaker.Peer);
    expect(speaker(P, false, X, false, false)).toBe(Speaker.Mismatch);
    expect(speaker(P, false, X, true, false)).toBe(Speaker.Binds);
    expect(speaker(P, false, P, true, false)).toBe(Speaker.Binds);
  });

  it('over an association without a peer only a PRESENCE is heard, and not one claiming a peer confirmed elsewhere', () => {
    expect(speaker(undefined, false, X, false, false)).toBe(Speaker.NotAPeer);
    expect(speaker(undefined, true, X, false, false)).toBe(Speaker.NotAPeer); // its peer is gone
    expect(speaker(undefined, false, X, true, false)).toBe(Speaker.Binds);
    expect(speaker(undefined, false, X, true, true)).toBe(Speaker.Mismatch);
  });

  it('IDs compare unsigned', () => {
    expect(speaker(0xf0000000, true, 0xf0000000 | 0, false, false)).toBe(Speaker.Peer);
  });
});
