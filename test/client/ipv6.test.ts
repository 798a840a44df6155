// The client side over IPv6: registrar addresses as the tools take them ([::1]:3863), and a
// pool element and a pool user session against a registrar, all on the IPv6 loopback.
import { execFileSync } from 'node:child_process';
import { InvalidArgumentError } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRegistrarAddress } from '../../src/cli/client-options.js';
import { PoolElementService, PoolUser } from '../../src/client/index.js';
import { asapEndpoint, registrar, until } from './harness.js';

const hasIpv6Loopback = ((): boolean => {
  try {
    return execFileSync('ip', ['-6', 'addr', 'show', 'lo'], { encoding: 'utf8' }).includes('::1');
  } catch {
    return false;
  }
})();
if (!hasIpv6Loopback) console.warn('IPv6 session test skipped: no ::1 on lo');

describe('parseRegistrarAddress', () => {
  it('takes IPv4 host:port[:udpPort], [IPv6]:port[:udpPort] and bare addresses', () => {
    expect(parseRegistrarAddress('10.0.0.1')).toEqual({ address: '10.0.0.1', port: 3863, udpPort: 9899 });
    expect(parseRegistrarAddress('10.0.0.1:4000:9000')).toEqual({ address: '10.0.0.1', port: 4000, udpPort: 9000 });
    expect(parseRegistrarAddress('[::1]:3863')).toEqual({ address: '::1', port: 3863, udpPort: 9899 });
    expect(parseRegistrarAddress('[2001:db8::7]:4000:9000')).toEqual({ address: '2001:db8::7', port: 4000, udpPort: 9000 });
    expect(parseRegistrarAddress('[::1]')).toEqual({ address: '::1', port: 3863, udpPort: 9899 });
    expect(parseRegistrarAddress('fe80::1')).toEqual({ address: 'fe80::1', port: 3863, udpPort: 9899 });
  });

  it('refuses what is not an IP literal with a port in range', () => {
    for (const bad of ['localhost:3863', '[::1', '[::1]3863', '[host]:1', '10.0.0.1:0', '10.0.0.1:1:2:3', '[::1]:70000', '1.2.3:4']) {
      expect(() => parseRegistrarAddress(bad), bad).toThrow(InvalidArgumentError);
    }
  });
});

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

describe.runIf(hasIpv6Loopback)('a session over IPv6', () => {
  it('a PE registered with ::1 serves a PU that reached the registrar at [::1]', async () => {
    const r = await registrar({ address: '::1' });
    open.push(r);
    expect(r.asapAddress.address).toBe('::1');
    const v6 = { sctp: { address: '::1' }, localAddresses: ['::1'] };
    const peAsap = await asapEndpoint({ registrars: [r.asapAddress], ...v6 });
    open.push(peAsap);
    const service = await PoolElementService.open(peAsap, { poolHandle: 'six', registrationLife: 30_000, businessCard: 0 });
    open.push({ close: () => service.close() });
    service.on('session', (s) => s.on('data', (payload) => s.send(payload)));

    const puAsap = await asapEndpoint({ registrars: [r.asapAddress], ...v6 });
    open.push(puAsap);
    const session = await new PoolUser(puAsap).openSession('six', { failoverTimeout: 5000 });
    open.push({ close: () => session.close() });
    const got: string[] = [];
    session.on('data', (p) => got.push(Buffer.from(p).toString()));
    session.send('over six');
    await until(() => got.length === 1, 5000, 'echo');
    expect(got).toEqual(['over six']);
    expect(session.poolElement!.userTransport!.addresses).toEqual(['::1']);
  });
});
