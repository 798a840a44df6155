// `rserpool snapshot save|show`: a snapshot taken from a running registrar over its control
// channel (GET /snapshot), written to a file, printed whole or one pool; clear errors for a
// missing registrar, a damaged file and an unknown pool.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSnapshotFile } from '../../src/snapshot/snapshot-file.js';
import { AsapPeer } from '../registrar/asap-peer.js';
import { startTestRegistrar } from '../registrar/harness.js';
import { runCliAsync } from '../helpers/cli.js';
import { freeTcpPort } from '../helpers/ports.js';

const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c.close().catch(() => undefined);
});

describe('rserpool snapshot', () => {
  it('save takes a running registrar\'s handlespace into a file; show prints it whole or one pool', async () => {
    const controlPort = await freeTcpPort();
    const t = await startTestRegistrar({ shards: 2, controlPort, tcpPort: 0 });
    closers.push(t.registrar);
    const pe = await AsapPeer.connect(t.registrar.asapAddress);
    closers.push(pe);
    for (const [pool, id] of [['cli-pool', 0x101], ['cli-pool', 0x102], ['other-pool', 0x201]] as const) expect((await pe.register(pool, id)).error).toBeNull();

    const dir = await mkdtemp(join(tmpdir(), 'snapshot-cli-'));
    const file = join(dir, 'taken.rshs');
    const saved = await runCliAsync(['snapshot', 'save', file, '--registrar', `127.0.0.1:${controlPort}`]);
    expect(saved.stderr).toBe('');
    expect(saved.status).toBe(0);
    expect(saved.stdout).toContain('2 pool(s), 3 element(s)');
    const header = (await readSnapshotFile(file)).header;
    expect(header).toMatchObject({ registrarId: t.registrar.id, poolCount: 2, elementCount: 3, parts: 2 });

    const shown = await runCliAsync(['snapshot', 'show', file]);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain(`Handlespace of registrar 0x${t.registrar.id.toString(16).padStart(8, '0')}`);
    expect(shown.stdout).toContain('Pool "cli-pool"');
    expect(shown.stdout).toContain('Pool "other-pool"');
    expect(shown.stdout).toContain('0x00000101');

    const one = await runCliAsync(['snapshot', 'show', file, '--pool', 'other-pool', '--json']);
    expect(one.status).toBe(0);
    const doc = JSON.parse(one.stdout) as { pools: { handle: string; elements: { peId: number; home: number }[] }[]; snapshot: { elementCount: number } };
    expect(doc.pools.map((p) => p.handle)).toEqual(['other-pool']);
    expect(doc.pools[0]!.elements).toMatchObject([{ peId: 0x201, home: t.registrar.id }]);
    expect(doc.snapshot.elementCount).toBe(3);

    const missing = await runCliAsync(['snapshot', 'show', file, '--pool', 'no-such-pool']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('holds no pool "no-such-pool"');
  }, 60_000);

  it('a damaged file, a missing file and a registrar that is not there are clear errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snapshot-cli-'));
    const bad = join(dir, 'bad.rshs');
    await writeFile(bad, Buffer.alloc(300, 7));
    const shown = await runCliAsync(['snapshot', 'show', bad]);
    expect(shown.status).toBe(1);
    expect(shown.stderr).toMatch(/bad\.rshs: not a handlespace snapshot/);
    const none = await runCliAsync(['snapshot', 'show', join(dir, 'none.rshs')]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/none\.rshs: no such file/);
    const port = await freeTcpPort();
    const save = await runCliAsync(['snapshot', 'save', join(dir, 'x.rshs'), '--registrar', `127.0.0.1:${port}`]);
    expect(save.status).toBe(1);
    expect(save.stderr).toContain(`no registrar control channel at 127.0.0.1:${port}`);
  }, 60_000);
});
