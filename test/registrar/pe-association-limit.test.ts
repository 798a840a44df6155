// A real registrar warm-restarted from a snapshot whose own PEs have 12 distinct ASAP
// transports (nothing listens there): --max-pe-associations 3 lets it start 3 associations,
// the other keep-alives are refused (counted in /stats) and every PE, reached or not, is
// removed after the keep-alive timeout like an unreachable one.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePart } from '../../src/snapshot/part-writer.js';
import { assembleSnapshot } from '../../src/snapshot/snapshot-format.js';
import { addElement, emptyPartition, OWN } from '../snapshot/fixtures.js';
import { sleep, startTestRegistrar, waitFor, type TestRegistrar } from './harness.js';

const closers: TestRegistrar[] = [];
afterEach(async () => {
  for (const t of closers.splice(0)) await Promise.race([t.registrar.close().catch(() => undefined), sleep(2000)]);
});

describe('--max-pe-associations', () => {
  it('a warm restart with 12 PE endpoints starts 3 associations, refuses the rest, and every unanswered PE times out', async () => {
    const f = emptyPartition();
    // ASAP transports 127.0.0.1:7001..7012 (fixtures: port 7000 + peId % 100).
    for (let id = 1; id <= 12; id++) addElement(f, 'limited', id, { addresses: ['127.0.0.1'] });
    const dir = await mkdtemp(join(tmpdir(), 'pe-assoc-limit-'));
    const file = join(dir, 'handlespace.rshs');
    await writeFile(file, assembleSnapshot(OWN, Date.now(), [encodePart(f.partition, f.transports, OWN)]));
    const t = await startTestRegistrar({ shards: 1, registrarId: OWN, snapshot: file, snapshotInterval: 0, maxPeAssociations: 3, peAssociationRate: 100, keepAliveTimeout: 1000 });
    closers.push(t);
    await waitFor(async () => {
      const s = (await t.registrar.stats()).peAssociations;
      return s.started + s.refused >= 12;
    }, 10_000, 'all keep-alives started or refused');
    const s = (await t.registrar.stats()).peAssociations;
    expect(s).toMatchObject({ started: 3, refused: 9, waiting: 0 });
    expect(s.open).toBeLessThanOrEqual(3);
    await waitFor(async () => (await t.registrar.stats()).shards[0]!.poolElements === 0, 15_000, 'unanswered PEs removed');
  }, 30_000);
});
