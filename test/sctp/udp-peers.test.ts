// In udp mode a peer is its address, SCTP port and UDP encapsulation port: several SCTP stacks
// on one host may use the same SCTP port on distinct UDP ports (registrars of a scope on one
// machine all on ENRP port 9901), and each gets its own association.
import { afterEach, describe, expect, it } from 'vitest';
import { SctpStackEndpoint } from '../../src/sctp/index.js';
import { openSctpEndpoint, type Association, type SctpEndpoint } from '../../src/transport/index.js';
import { Network } from './wire.js';

const opened: SctpEndpoint[] = [];
afterEach(async () => {
  for (const e of opened.splice(0)) await e.close();
});

async function endpoint(): Promise<SctpEndpoint> {
  const e = await openSctpEndpoint({ provider: 'stack', mode: 'udp', port: 9901, address: '127.0.0.1', udpPort: 0 });
  opened.push(e);
  return e;
}

describe('udp mode: peers on one address and SCTP port, distinct UDP ports', () => {
  it('two peers on 127.0.0.1:9901 get an association each, and each message reaches its own', async () => {
    const [r, t, f] = [await endpoint(), await endpoint(), await endpoint()];
    const got: Record<string, string[]> = { t: [], f: [] };
    for (const [name, e] of [['t', t], ['f', f]] as const) {
      e.on('association', (a: Association) => a.on('message', (m) => got[name]!.push(Buffer.from(m).toString())));
    }
    const toT = await r.connect({ address: '127.0.0.1', port: 9901, udpPort: t.udpPort! });
    const toF = await r.connect({ address: '127.0.0.1', port: 9901, udpPort: f.udpPort! });
    expect(toT).not.toBe(toF);
    expect(r.associations).toHaveLength(2);
    toT.send(Buffer.from('for t'), 12);
    toF.send(Buffer.from('for f'), 12);
    const end = Date.now() + 3000;
    while ((got.t!.length === 0 || got.f!.length === 0) && Date.now() < end) await new Promise((res) => setTimeout(res, 10));
    expect(got).toEqual({ t: ['for t'], f: ['for f'] });
  });
});

describe('raw mode: a UDP port in the remote address means nothing', () => {
  it('associate() with a udpPort (as the client library passes in every mode) still comes up', () => {
    const net = new Network();
    const a = SctpStackEndpoint.open(net.host(['10.0.0.1'], 'raw'), { port: 5000, clock: net.clock });
    SctpStackEndpoint.open(net.host(['10.0.0.2'], 'raw'), { port: 5000, clock: net.clock });
    const association = a.associate({ address: '10.0.0.2', port: 5000, udpPort: 9899 });
    net.run(100);
    expect(association.state).toBe('up');
    expect(association.remote.udpPort).toBeUndefined();
  });
});
