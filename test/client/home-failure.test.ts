// Home registrar failures (RFC 5352 §3.1, §3.7.2): a registrar that stops answering is given
// up after MAX-REG-ATTEMPT T2 expiries and the PE registers elsewhere; closing an ASAP
// endpoint deregisters its pool elements.
import { afterEach, describe, expect, it } from 'vitest';
import { PoolElement, PoolUser, UnknownPoolHandleError } from '../../src/client/index.js';
import { AsapType } from '../../src/wire/constants.js';
import { ScriptedRegistrar, asapEndpoint, registrar } from './harness.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

describe('home registrar failure', () => {
  it('gives up a silent home after MAX-REG-ATTEMPT and registers at another registrar', async () => {
    const real = await registrar();
    open.push(real);
    const silent = await ScriptedRegistrar.open();
    open.push(silent);
    const asap = await asapEndpoint({ registrars: [silent.address], timers: { t2Registration: 200, maxRegAttempt: 2 } });
    open.push(asap);
    const pe = new PoolElement(asap, { poolHandle: 'silent-home', userTransport: { port: 8101 } });
    const failures: Error[] = [];
    pe.on('failure', (e) => failures.push(e));
    const registered = pe.register();
    // Known only after the silent home was chosen.
    asap.addRegistrar(real.asapAddress);
    const started = performance.now();
    await registered;
    expect(performance.now() - started).toBeGreaterThanOrEqual(350);
    expect(silent.received.filter((m) => m.type === AsapType.Registration)).toHaveLength(2);
    expect(failures.map((e) => e.name)).toContain('RequestTimeoutError');
    expect(pe.registrar!.association.remote.port).toBe(real.asapAddress.port);
    expect(asap.home).toBe(pe.registrar);
  });

  it('deregisters the attached pool elements when the ASAP endpoint closes', async () => {
    const r = await registrar();
    open.push(r);
    const asap = await asapEndpoint({ registrars: [r.asapAddress] });
    const pes = [1, 2, 3].map((i) => new PoolElement(asap, { poolHandle: 'leaving', userTransport: { port: 8200 + i } }));
    await Promise.all(pes.map((p) => p.register()));
    const observer = await asapEndpoint({ registrars: [r.asapAddress] });
    open.push(observer);
    const pu = new PoolUser(observer, { staleCacheValue: 0 });
    expect(await pu.resolve('leaving', { items: 10 })).toHaveLength(3);
    await asap.close();
    expect(pes.map((p) => p.state)).toEqual(['closed', 'closed', 'closed']);
    await expect(pu.resolve('leaving')).rejects.toBeInstanceOf(UnknownPoolHandleError);
  });
});
