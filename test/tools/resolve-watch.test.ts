// `rserpool resolve POOL --watch --json` as a child process against a live registrar: one JSON
// document a line per update (the shape of `resolve --json`), as PEs come, go with their
// association, and the pool disappears and is created again (the tool then resolves again every
// --retry ms until it exists and subscribes anew); SIGINT ends it with status 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { LOOPBACK, registrar, until } from '../client/harness.js';
import { AsapPeer } from '../registrar/asap-peer.js';

const children: ChildProcess[] = [];
const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const c of closers.splice(0).reverse()) await c.close().catch(() => undefined);
});

interface WatchLine {
  pool: string;
  elements: { peId: number; peIdHex: string; userTransport: { port: number } }[];
}

describe('rserpool resolve --watch', () => {
  it('prints one JSON line per update: PEs added, one lost with its association, the pool gone and back', async () => {
    const r: Registrar = await registrar({ subscriptionInterval: 50 });
    closers.push(r);
    const { address, port, udpPort } = r.asapAddress;
    const pe1 = await AsapPeer.connect(r.asapAddress);
    closers.push(pe1);
    await pe1.register('watch-cli', 1, undefined, 7101);

    const child = spawn(
      process.execPath,
      [CLI, 'resolve', 'watch-cli', '--watch', '--json', '--items', '10', '--retry', '200', '--transport', 'udp', '--registrar', `${address}:${port}:${udpPort}`, '--local-address', LOOPBACK],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = (): WatchLine[] => out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as WatchLine);
    const ids = (l: WatchLine): number[] => l.elements.map((e) => e.peId).sort((a, b) => a - b);
    const lastIs = async (want: number[], what: string): Promise<void> => {
      await until(() => lines().length > 0 && JSON.stringify(ids(lines().at(-1)!)) === JSON.stringify(want), 15_000, `${what} (stdout: ${out}, stderr: ${err})`);
    };

    await lastIs([1], 'the first resolution');
    await until(async () => ((await r.stats()).shards[0]!.counters['subscriptions'] ?? 0) === 1, 5000, 'the subscription');
    const pe2 = await AsapPeer.connect(r.asapAddress);
    closers.push(pe2);
    await pe2.register('watch-cli', 2, undefined, 7102);
    await lastIs([1, 2], 'PE 2 added');
    pe1.association.abort();
    await lastIs([2], 'PE 1 lost with its association');
    await pe2.deregister('watch-cli', 2);
    await lastIs([], 'the pool gone');
    const pe3 = await AsapPeer.connect(r.asapAddress);
    closers.push(pe3);
    await pe3.register('watch-cli', 3, undefined, 7103);
    await lastIs([3], 'the pool back (resolved again after --retry)');
    await until(async () => ((await r.stats()).shards[0]!.counters['subscriptions'] ?? 0) === 1, 5000, 'subscribed again');

    // Every line is a whole document of the `resolve --json` shape.
    for (const l of lines()) {
      expect(l.pool).toBe('watch-cli');
      for (const e of l.elements) expect(e.peIdHex).toBe(`0x${e.peId.toString(16).padStart(8, '0')}`);
    }
    expect(lines().find((l) => ids(l).join() === '1,2')!.elements.find((e) => e.peId === 2)!.userTransport.port).toBe(7102);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 60_000);
});
