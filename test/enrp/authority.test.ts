// Who may change which PE over ENRP (src/shard/enrp-authority.ts): the pure rules, case by case.
import { describe, expect, it } from 'vitest';
import { Authority, EnrpSource, mayLearn, mayRemove } from '../../src/shard/enrp-authority.js';

const US = 0x10;
const S = 0x20; // the sending peer
const T = 0x30; // a third server

describe('mayLearn', () => {
  it('a handle update adds or replaces only the sender\'s own PEs', () => {
    expect(mayLearn(EnrpSource.Update, US, S, S, undefined)).toEqual({ verdict: Authority.Apply, home: S });
    expect(mayLearn(EnrpSource.Update, US, S, 0, undefined)).toEqual({ verdict: Authority.Apply, home: S });
    expect(mayLearn(EnrpSource.Update, US, S, S, S)).toEqual({ verdict: Authority.Apply, home: S });
    // Announcing a third server's PE, or overwriting one held for it.
    expect(mayLearn(EnrpSource.Update, US, S, T, undefined).verdict).toBe(Authority.ForeignHome);
    expect(mayLearn(EnrpSource.Update, US, S, S, T).verdict).toBe(Authority.ForeignHome);
    // Ours: never, whether held or only named.
    expect(mayLearn(EnrpSource.Update, US, S, S, US).verdict).toBe(Authority.OwnPe);
    expect(mayLearn(EnrpSource.Update, US, S, US, US).verdict).toBe(Authority.OwnPe);
    expect(mayLearn(EnrpSource.Update, US, S, US, undefined).verdict).toBe(Authority.OwnPe);
  });

  it('a full table page brings PEs of every home but never touches ours', () => {
    expect(mayLearn(EnrpSource.FullTable, US, S, T, undefined)).toEqual({ verdict: Authority.Apply, home: T });
    expect(mayLearn(EnrpSource.FullTable, US, S, T, S)).toEqual({ verdict: Authority.Apply, home: T });
    expect(mayLearn(EnrpSource.FullTable, US, S, 0, undefined)).toEqual({ verdict: Authority.Apply, home: S });
    // Named ours but not held here: the sender's.
    expect(mayLearn(EnrpSource.FullTable, US, S, US, undefined)).toEqual({ verdict: Authority.Apply, home: S });
    expect(mayLearn(EnrpSource.FullTable, US, S, S, US).verdict).toBe(Authority.OwnPe);
    expect(mayLearn(EnrpSource.FullTable, US, S, US, US).verdict).toBe(Authority.OwnPe);
  });

  it('an own-children page (audit) brings only the sender\'s PEs, new or held for the sender', () => {
    expect(mayLearn(EnrpSource.OwnTable, US, S, S, undefined).verdict).toBe(Authority.Apply);
    expect(mayLearn(EnrpSource.OwnTable, US, S, S, S).verdict).toBe(Authority.Apply);
    // A peer starts our audit of itself with any checksum: its pages take no more than an update.
    expect(mayLearn(EnrpSource.OwnTable, US, S, S, T).verdict).toBe(Authority.ForeignHome);
    expect(mayLearn(EnrpSource.OwnTable, US, S, T, undefined).verdict).toBe(Authority.ForeignHome);
    expect(mayLearn(EnrpSource.OwnTable, US, S, S, US).verdict).toBe(Authority.OwnPe);
  });

  it('IDs compare as unsigned 32-bit numbers', () => {
    const big = 0xf0000001;
    expect(mayLearn(EnrpSource.Update, US, big | 0, big, undefined)).toEqual({ verdict: Authority.Apply, home: big });
  });
});

describe('mayRemove', () => {
  it('a DEL_PE removes only a PE homed at the sender', () => {
    expect(mayRemove(US, S, S)).toBe(Authority.Apply);
    expect(mayRemove(US, S, undefined)).toBe(Authority.Nothing);
    expect(mayRemove(US, S, US)).toBe(Authority.OwnPe);
    expect(mayRemove(US, S, T)).toBe(Authority.ForeignHome);
  });
});
