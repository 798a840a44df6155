// The registrar's snapshot writer (src/snapshot/warm-restart.ts): periodic writes, one at a
// time, a last one at close, failures logged and never thrown; the start-up read that never
// stops a start.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleSnapshot } from '../../src/snapshot/snapshot-format.js';
import { loadStartSnapshot, SnapshotKeeper } from '../../src/snapshot/warm-restart.js';

function recordingLog() {
  const lines: { level: string; fields: object; message: string }[] = [];
  const at = (level: string) => (fields: object, message: string) => void lines.push({ level, fields, message });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as never };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `condition` holds (the writes are real file I/O: on a loaded machine a fixed wait may be too short). */
async function eventually(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

describe('SnapshotKeeper', () => {
  it('writes every interval, never two at once, and once more at close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keeper-'));
    const path = join(dir, 'hs.rshs');
    let taken = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const { log, lines } = recordingLog();
    const keeper = new SnapshotKeeper({
      path,
      interval: 40,
      log,
      async take() {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(15);
        inFlight--;
        return assembleSnapshot(0x77, Date.now(), [{ bytes: new Uint8Array(0), pools: 0, elements: ++taken }]);
      },
    });
    keeper.start();
    await Promise.all([keeper.save(), keeper.save()]);
    // Two more by the period (40 ms; about 250 ms on an idle machine).
    await eventually(() => keeper.saves >= 4, 'two periodic writes');
    const before = keeper.saves;
    const last = await keeper.close();
    expect(last).not.toBeNull();
    // A periodic write in flight at close finishes first; the last one follows it.
    expect(keeper.saves).toBeGreaterThanOrEqual(before + 1);
    const afterClose = keeper.saves;
    expect(maxInFlight).toBe(1);
    await sleep(120);
    expect(keeper.saves).toBe(afterClose); // the period stopped at close
    expect(lines.some((l) => l.message === 'handlespace snapshot written at shutdown')).toBe(true);
    expect((await readFile(path)).subarray(-4).toString()).toBe('RSHS');
  });

  it('a failed write is logged and the keeper goes on', async () => {
    const { log, lines } = recordingLog();
    const keeper = new SnapshotKeeper({ path: '/nonexistent-dir/x/hs.rshs', interval: 0, log, take: async () => assembleSnapshot(1, 0, []) });
    expect(await keeper.save()).toBeNull();
    expect(keeper.failures).toBe(1);
    expect(lines.find((l) => l.level === 'error')?.message).toBe('handlespace snapshot not written');
    let failing = true;
    const k2 = new SnapshotKeeper({ path: join(await mkdtemp(join(tmpdir(), 'keeper-')), 'hs.rshs'), interval: 0, log, take: async () => { if (failing) throw new Error('2 shard(s) did not answer'); return assembleSnapshot(1, 0, []); } });
    expect(await k2.save()).toBeNull();
    failing = false;
    expect(await k2.save()).not.toBeNull();
  });
});

describe('loadStartSnapshot', () => {
  it('a missing file is no snapshot yet; a foreign one is an error; neither throws', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keeper-'));
    const { log, lines } = recordingLog();
    expect(await loadStartSnapshot(join(dir, 'none.rshs'), log)).toBeNull();
    expect(lines.pop()).toMatchObject({ level: 'info', message: 'no handlespace snapshot yet: starting empty (one is written while running)' });
    await writeFile(join(dir, 'foreign'), Buffer.alloc(64, 1));
    expect(await loadStartSnapshot(join(dir, 'foreign'), log)).toBeNull();
    expect(lines.pop()).toMatchObject({ level: 'error', message: 'handlespace snapshot cannot be used: starting empty (it is overwritten by the next save)' });
    await writeFile(join(dir, 'good'), assembleSnapshot(0x1234, 5, []));
    expect((await loadStartSnapshot(join(dir, 'good'), log))?.header.registrarId).toBe(0x1234);
  });
});

describe('SnapshotKeeper at start', () => {
  it('says at once when the snapshot directory cannot be written', async () => {
    const { log, lines } = recordingLog();
    const keeper = new SnapshotKeeper({ path: '/nonexistent-dir/x/hs.rshs', interval: 0, log, take: async () => assembleSnapshot(1, 0, []) });
    keeper.start();
    await eventually(() => lines.some((l) => l.level === 'error'), 'the error logged');
    expect(lines.find((l) => l.level === 'error')?.message).toBe('handlespace snapshots cannot be written: the directory /nonexistent-dir/x is missing or not writable');
  });
});
