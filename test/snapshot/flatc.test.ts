// The committed generated accessors are flatc's output for the committed schema, and a snapshot
// file is a FlatBuffer that FlatBuffers' own tool verifies and reads as we do. Needs `flatc`
// (Debian flatbuffers-compiler); without it the tests say so and are skipped.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePart } from '../../src/snapshot/part-writer.js';
import { assembleSnapshot } from '../../src/snapshot/snapshot-format.js';
import { PolicyType } from '../../src/wire/constants.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { addElement, emptyPartition, OWN, PEER } from './fixtures.js';

const SCHEMA = join(REPO_ROOT, 'src/snapshot/handlespace.fbs');
const GENERATED = join(REPO_ROOT, 'src/snapshot/handlespace_generated.ts');
const flatc = spawnSync('flatc', ['--version'], { encoding: 'utf8' });
const haveFlatc = flatc.status === 0;
if (!haveFlatc) console.warn('flatc not found (apt-get install flatbuffers-compiler): the flatc checks are skipped');

describe.skipIf(!haveFlatc)('the snapshot format against flatc', () => {
  it('src/snapshot/handlespace_generated.ts is flatc --ts --ts-flat-files of the schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flatc-'));
    const r = spawnSync('flatc', ['--ts', '--ts-flat-files', '-o', dir, SCHEMA], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(await readFile(join(dir, 'handlespace_generated.ts'), 'utf8')).toBe(await readFile(GENERATED, 'utf8'));
  });

  it('flatc verifies a snapshot file and reads the same pools and PEs', async () => {
    const f = emptyPartition();
    addElement(f, 'echo', 7, { addresses: ['192.0.2.1'] });
    addElement(f, 'echo', 8, { home: PEER, life: 4321 });
    addElement(f, 'lu', 9, { policy: policySettings(PolicyType.LeastUsed, { load: 0x80000000 }) });
    const dir = await mkdtemp(join(tmpdir(), 'flatc-'));
    const file = join(dir, 'hs.rshs');
    await writeFile(file, assembleSnapshot(OWN, 1234, [encodePart(f.partition, f.transports, OWN)]));
    const r = spawnSync('flatc', ['--json', '--raw-binary', '--strict-json', '-o', dir, SCHEMA, '--', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(await readFile(join(dir, 'hs.json'), 'utf8')) as {
      version: number;
      registrar_id: number;
      parts: { bytes: { pools: { handle: number[]; elements: { id: number; home: number; ours?: boolean; registration_life: number; policy_values?: number[] }[] }[] } }[];
    };
    expect(doc.version).toBe(1);
    expect(doc.registrar_id).toBe(OWN);
    const pools = doc.parts[0]!.bytes.pools;
    expect(pools.map((p) => Buffer.from(p.handle).toString())).toEqual(['echo', 'lu']);
    expect(pools[0]!.elements.map((e) => [e.id, e.home, e.ours ?? false, e.registration_life]).sort()).toEqual([[7, OWN, true, 30_000], [8, PEER, false, 4321]]);
    expect(pools[1]!.elements[0]!.policy_values).toEqual([0x80000000]);
  });
});
