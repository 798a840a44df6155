// The limit on associations the registrar starts to PEs (--max-pe-associations) and on the rate
// of their INITs (--pe-association-rate), in virtual time.
import { describe, expect, it } from 'vitest';
import { PeAssociationGate } from '../../src/registrar/pe-association-gate.js';
import { VirtualScheduler } from '../handlespace/helpers.js';

function gate(maxPeAssociations: number, peAssociationRate: number) {
  const clock = new VirtualScheduler();
  const open = new Map<string, { at: number; messages: number[] }>();
  const g = new PeAssociationGate({ maxPeAssociations, peAssociationRate }, clock, () => open.size, (key, messages) => {
    expect(open.has(key)).toBe(false);
    open.set(key, { at: clock.now(), messages: messages.map((m) => m[0]!) });
  });
  return { g, clock, open };
}

const msg = (n: number): Uint8Array => new Uint8Array([n]);

describe('PeAssociationGate', () => {
  it('starts at once within the rate; beyond it the first messages wait in arrival order, several of one endpoint together', () => {
    const { g, clock, open } = gate(100, 10);
    for (let i = 0; i < 10; i++) g.send(`10.0.0.${i}:7000`, msg(i));
    expect(open.size).toBe(10); // a second's burst
    g.send('10.0.1.1:7000', msg(20));
    g.send('10.0.1.2:7000', msg(21));
    g.send('10.0.1.1:7000', msg(22)); // a second PE of the first waiting endpoint
    expect(open.size).toBe(10);
    expect(g.waitingEndpoints).toBe(2);
    expect(g.counters).toEqual({ started: 10, delayed: 2, refused: 0 });
    clock.advance(100); // one token per 100 ms
    expect(open.get('10.0.1.1:7000')).toEqual({ at: 100, messages: [20, 22] });
    expect(open.has('10.0.1.2:7000')).toBe(false);
    clock.advance(200);
    expect(open.get('10.0.1.2:7000')).toEqual({ at: 200, messages: [21] });
    expect(g.waitingEndpoints).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('refuses beyond --max-pe-associations (open plus waiting), and again admits once some are down', () => {
    const { g, open } = gate(5, 3);
    for (let i = 0; i < 8; i++) g.send(`10.0.0.${i}:7000`, msg(i));
    expect(open.size).toBe(3);
    expect(g.waitingEndpoints).toBe(2);
    expect(g.counters).toEqual({ started: 3, delayed: 2, refused: 3 });
    open.delete('10.0.0.0:7000'); // its association went down
    g.send('10.0.0.9:7000', msg(9));
    expect(g.waitingEndpoints).toBe(3);
    expect(g.counters.refused).toBe(3);
  });

  it('a hostile peer handing over 100,000 PEs with distinct ASAP transports: INITs stay within the rate and the number', () => {
    const { g, clock, open } = gate(10_000, 1_000);
    for (let i = 0; i < 100_000; i++) g.send(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7000`, msg(0));
    expect(open.size).toBe(1_000);
    expect(g.counters.refused).toBe(90_000);
    const perSecond: number[] = [];
    for (let s = 1; s <= 12; s++) {
      const before = open.size;
      clock.advance(s * 1000);
      perSecond.push(open.size - before);
    }
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(1_000);
    expect(open.size).toBe(10_000);
    expect(g.counters).toEqual({ started: 10_000, delayed: 9_000, refused: 90_000 });
  });

  it('close() drops what waits and cancels the wake-up', () => {
    const { g, clock, open } = gate(10, 1);
    g.send('a:1', msg(1));
    g.send('b:1', msg(2));
    g.close();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect([...open.keys()]).toEqual(['a:1']);
  });
});
