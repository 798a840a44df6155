// The benchmarks' registrar child process (native-free-bench/e2e-registrar-process.ts): it is
// ready when it logged "registrar started"; when it exits before that, the error carries its
// last lines, the plain-text start-up error and a last line without a newline among them.
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistrarProcess } from '../../native-free-bench/e2e-registrar-process.js';
import { freeUdpPort } from '../helpers/ports.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const base = { shards: 1, address: '127.0.0.1', asapPort: 3863, keepAliveInterval: 600_000 } as const;

describe('RegistrarProcess.start', () => {
  it('resolves once the registrar has started', async () => {
    const registrar = await RegistrarProcess.start({ ...base, udpPort: await freeUdpPort() });
    cleanup.push(() => registrar.stop());
    expect(registrar.pid).toBeGreaterThan(0);
    expect(registrar.rssBytes()).toBeGreaterThan(0);
  }, 60_000);

  it('a registrar that cannot start: the error says why, with the registrar\'s own words', async () => {
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const start = RegistrarProcess.start({ ...base, udpPort: taken.address().port });
    await expect(start).rejects.toThrow(/registrar exited before it started \(code 1, signal null\): [^]*rserpool registrar: cannot start: [^]*hint: /);
  }, 60_000);

  it('keeps the last line when it has no newline (the child wrote it and exited)', async () => {
    const lastWords = 'process.stderr.write("first line\\nlast words, no newline"); process.exit(3);';
    const start = RegistrarProcess.start({ ...base, udpPort: await freeUdpPort(), nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(lastWords)}`] });
    await expect(start).rejects.toThrow('registrar exited before it started (code 3, signal null): first line\nlast words, no newline');
  }, 60_000);
});
