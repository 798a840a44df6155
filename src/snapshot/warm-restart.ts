// The registrar's side of `--snapshot FILE` (I/O thread): the file is read at start (a
// missing, corrupt or foreign one is logged and the registrar starts empty: never a crash),
// restored by the shards while the registrar serves (WarmRestore: in the background, a pool
// asked for first restored at once, src/snapshot/restore.ts), and written every
// `--snapshot-interval` and once more at close (SIGTERM, SIGINT), one write at a time, each
// atomic (snapshot-file.ts).
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { RestoreProgress } from './restore.js';
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
export function restoreSummary(counts: readonly RestoreProgress[]): { restored: number; own: number; pools: number; rejected: number; damaged: number; elements: number; poolsOnDemand: number; complete: boolean; errors: string[] } {
  const sum = { restored: 0, own: 0, pools: 0, rejected: 0, damaged: 0, elements: 0, poolsOnDemand: 0, complete: true, errors: [] as string[] };
  for (const c of counts) {
    sum.restored += c.restored;
    sum.own += c.own;
    sum.pools += c.pools;
    sum.rejected += c.rejected;
    sum.damaged += c.damaged;
    sum.elements += c.elements;
    sum.poolsOnDemand += c.poolsOnDemand;
    sum.complete &&= c.complete;
    if (c.error !== null) sum.errors.push(c.error);
  }
  return sum;
}

/** The shards' side of a warm restart (ShardSet). */
export interface RestoringShards {
  /** Every shard opens its part and starts restoring it, `sliceMs` of each turn (0: all at once). */
  restoreSnapshot(bytes: Uint8Array, sliceMs: number): Promise<RestoreProgress[]>;
  /** Where each shard stands; `wait`: once every one is complete. */
  restoreProgress(wait: boolean): Promise<RestoreProgress[]>;
}

export interface WarmRestoreOptions {
  /** The snapshot file, for the log. */
  path: string;
  /** ms of each shard's event-loop turn spent on the background restore (0: all before serving). */
  sliceMs: number;
  /** ms between the progress lines in the log while restoring ("restored N of M PEs"). */
  progressInterval?: number;
  log: Pick<Logger, 'info' | 'error'>;
}

/**
 * The restore of a warm restart as the I/O thread follows it: the shards open their parts (the
 * registrar serves from then on: a pool not yet restored is restored when first asked for) and
 * restore the rest in the background; the log says when they serve, how far they are every
 * `progressInterval` and when the last PE is back.
 */
export class WarmRestore {
  /** Resolves once every shard's restore is complete (logged). */
  readonly done: Promise<void>;
  private complete = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    shards: RestoringShards,
    private readonly options: WarmRestoreOptions,
    started: number,
    opened: ReturnType<typeof restoreSummary>,
  ) {
    const log = options.log;
    const ms = (): number => Math.round(performance.now() - started);
    if (opened.complete) {
      this.complete = true;
      this.logComplete(opened, ms());
      this.done = Promise.resolve();
      return;
    }
    log.info({ snapshot: options.path, pools: opened.pools, poolElements: opened.elements, restored: opened.restored, ms: ms() }, 'serving from the handlespace snapshot: pools are restored in the background, a pool asked for first is restored at once');
    const interval = options.progressInterval ?? 1000;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        shards.restoreProgress(false).then((p) => {
          if (this.complete || this.closed) return;
          const sum = restoreSummary(p);
          log.info({ restored: sum.restored, of: sum.elements, poolsOnDemand: sum.poolsOnDemand, ms: ms() }, `handlespace restore: restored ${sum.restored} of ${sum.elements} PEs`);
          tick();
        }, () => undefined);
      }, interval);
      this.timer.unref();
    };
    if (interval > 0) tick();
    this.done = shards.restoreProgress(true).then((p) => {
      this.complete = true;
      clearTimeout(this.timer);
      if (!this.closed) this.logComplete(restoreSummary(p), ms());
    });
  }

  /** Starts the restore in the shards; resolves once they serve from the snapshot. */
  static async begin(shards: RestoringShards, bytes: Uint8Array, options: WarmRestoreOptions): Promise<WarmRestore> {
    const started = performance.now();
    const opened = restoreSummary(await shards.restoreSnapshot(bytes, options.sliceMs));
    return new WarmRestore(shards, options, started, opened);
  }

  /** Every shard has restored every pool of its part. */
  get isComplete(): boolean {
    return this.complete;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private logComplete(sum: ReturnType<typeof restoreSummary>, ms: number): void {
    const fields = { snapshot: this.options.path, pools: sum.pools, poolElements: sum.restored, own: sum.own, rejected: sum.rejected, damaged: sum.damaged, poolsOnDemand: sum.poolsOnDemand, ms };
    if (sum.errors.length > 0) this.options.log.error({ ...fields, errors: sum.errors }, 'handlespace snapshot restored in part');
    else this.options.log.info(fields, 'handlespace restored from the snapshot: own pool elements get a keep-alive with the H bit, those that do not answer are removed');
  }
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
