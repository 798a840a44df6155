// The registrar's side of `--snapshot FILE` (I/O thread): the file is read at start (a
// missing, corrupt or foreign one is logged and the registrar starts empty: never a crash),
// and written every `--snapshot-interval` and once more at close (SIGTERM, SIGINT), one write
// at a time, each atomic (snapshot-file.ts).
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { RestoreCounts } from './restore.js';
import { SnapshotError, type SnapshotReader } from './snapshot-format.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';
import { hexId } from '../wire/identifier-text.js';

/** The snapshot to restore at start, or null (no file yet, or one that cannot be used: logged). */
export async function loadStartSnapshot(path: string, log: Pick<Logger, 'info' | 'error'>): Promise<SnapshotReader | null> {
  const started = performance.now();
  try {
    const snapshot = await readSnapshotFile(path);
    const h = snapshot.header;
    log.info(
      { snapshot: path, writer: hexId(h.registrarId), written: new Date(h.timeMs).toISOString(), pools: h.poolCount, poolElements: h.elementCount, bytes: h.bytes, readMs: Math.round(performance.now() - started) },
      'handlespace snapshot read',
    );
    return snapshot;
  } catch (error) {
    const message = (error as Error).message;
    if (error instanceof SnapshotError && /no such file/.test(message)) log.info({ snapshot: path }, 'no handlespace snapshot yet: starting empty (one is written while running)');
    else log.error({ snapshot: path, error: message }, 'handlespace snapshot cannot be used: starting empty (it is overwritten by the next save)');
    return null;
  }
}

/** What the shards restored, summed, for the log. */
export function restoreSummary(counts: readonly RestoreCounts[]): { restored: number; own: number; pools: number; rejected: number; damaged: number; errors: string[] } {
  const sum = { restored: 0, own: 0, pools: 0, rejected: 0, damaged: 0, errors: [] as string[] };
  for (const c of counts) {
    sum.restored += c.restored;
    sum.own += c.own;
    sum.pools += c.pools;
    sum.rejected += c.rejected;
    sum.damaged += c.damaged;
    if (c.error !== null) sum.errors.push(c.error);
  }
  return sum;
}

export interface SnapshotKeeperOptions {
  path: string;
  /** ms between writes; 0: only at close. */
  interval: number;
  /** The current handlespace as a snapshot file's bytes. */
  take(): Promise<Uint8Array>;
  log: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
}

export interface SaveResult {
  bytes: number;
  ms: number;
}

/** Writes the snapshot periodically and at close; one write at a time. */
export class SnapshotKeeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SaveResult | null> | null = null;
  private closed = false;
  /** Completed writes and failed ones (for the log and tests). */
  saves = 0;
  failures = 0;

  constructor(private readonly options: SnapshotKeeperOptions) {}

  start(): void {
    if (this.options.interval > 0) this.schedule();
    // Said at start, not first at the first write a minute later.
    const dir = dirname(this.options.path);
    access(dir, constants.W_OK).catch((error: NodeJS.ErrnoException) =>
      this.options.log.error({ snapshot: this.options.path, error: error.message }, `handlespace snapshots cannot be written: the directory ${dir} is missing or not writable`),
    );
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.save().finally(() => {
        if (!this.closed) this.schedule();
      });
    }, this.options.interval);
    this.timer.unref();
  }

  /** Writes a snapshot now (or waits for the one being written and writes again). Never rejects: failures are logged. */
  async save(): Promise<SaveResult | null> {
    while (this.running !== null) await this.running;
    this.running = this.write();
    try {
      return await this.running;
    } finally {
      this.running = null;
    }
  }

  private async write(): Promise<SaveResult | null> {
    const started = performance.now();
    try {
      const bytes = await this.options.take();
      await writeSnapshotFile(this.options.path, bytes);
      const ms = Math.round(performance.now() - started);
      this.saves++;
      this.options.log.debug({ snapshot: this.options.path, bytes: bytes.length, ms }, 'handlespace snapshot written');
      return { bytes: bytes.length, ms };
    } catch (error) {
      this.failures++;
      this.options.log.error({ snapshot: this.options.path, error: (error as Error).message }, 'handlespace snapshot not written');
      return null;
    }
  }

  /** Stops the period and writes the last snapshot (shutdown: call while the shards still run). */
  async close(): Promise<SaveResult | null> {
    if (this.closed) return null;
    this.closed = true;
    clearTimeout(this.timer);
    const result = await this.save();
    if (result !== null) this.options.log.info({ snapshot: this.options.path, bytes: result.bytes, ms: result.ms }, 'handlespace snapshot written at shutdown');
    return result;
  }
}
