// associationSpeaker() (src/registrar/enrp-peers.ts): who may speak over an ENRP association
// whose owner may have left the peer list. A confirmed association is its owner's for life:
// once that peer is forgotten or taken over, another ID still cannot bind it.
import { describe, expect, it } from 'vitest';
import { Speaker, associationSpeaker } from '../../src/registrar/enrp-peers.js';

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
