// The I/O thread's side of the shards: one piscina instance per shard (one pinned thread, no
// idle timeout, atomics off so the worker's timers run while it is idle), routing by pool
// handle, one batch per shard per event-loop turn, control requests (always after the queued
// batches), and restart of a shard that died.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { AsapType } from '../wire/constants.js';
import { censusBuffer } from '../handlespace/element-census.js';
import type { DumpRow } from './enrp-handlespace.js';
import type { PoolSummary, DumpPool } from './handlespace-dump.js';
import type { PartInfo } from '../snapshot/snapshot-format.js';
import type { RestoreProgress } from '../snapshot/restore.js';
import type { ShardMetrics } from './metrics-counts.js';
import { ToShardWriter, readFromShard, shardOf, type FromShardHandler, type ShardReply, type ShardRequestBody } from './thread-protocol.js';
import type { AttachTask, ShardConfig } from './worker.js';

export { shardOf } from './thread-protocol.js';

export interface ShardSetEvents {
  /** What the shards send back, record by record. */
  output: FromShardHandler;
  log(level: 'info' | 'warn' | 'error', fields: object, message: string): void;
  /**
   * A shard was (re)attached; the registrar replays what it must know (live associations).
   * After a restart, `orphaned` lists the associations that had registered PEs in the shard
   * that died (their PEs are gone with it).
   */
  attached(shard: number, restarted: boolean, orphaned: number[]): void;
}

export interface ShardStats {
  shard: number;
  pools: number;
  poolElements: number;
  timers: number;
  counters: Record<string, number>;
  restarts: number;
}

/** The compiled worker. Under vitest the sources run from src/, the worker from dist/. */
function workerFilename(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  const compiled = fileURLToPath(new URL('../../dist/src/shard/worker.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  throw new Error(`shard worker not found at ${here} or ${compiled}: run "npm run build"`);
}

/**
 * A shard's V8 young generation: 3 MiB (semi-spaces of 1 MiB, as `--max-semi-space-size=1` on
 * the rserpool bin's shebang gives the I/O thread), however the process was started. V8's
 * default grows its semi-spaces to 2 x 16 MiB under load and keeps them (docs/benchmarks.md,
 * "Young generation").
 */
const SHARD_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 3 };

class Shard {
  port: MessagePort | null = null;
  /** The thread holding the port's other end has run the attach task (until it dies): /ready needs it. */
  attached = false;
  readonly batch = new ToShardWriter();
  /**
   * Associations that sent this shard an ASAP_REGISTRATION (RFC 5352 §3.1): those that may
   * hold PEs here, which a death of the shard loses. A deregistration does not take one out
   * (a PE may hold several); an association going down does.
   */
  readonly registeredOver = new Set<number>();
  /** Associations whose PEs here died with the thread, until the new thread is attached. */
  readonly orphaned = new Set<number>();
  restarts = 0;
  /** ASAP messages routed to the thread attached now (its queue depth: this minus what it has taken). */
  routed = 0;
  closing = false;
  /** Restart attempts since the last death (a new thread may not be ready at once). */
  attempts = 0;
  constructor(
    readonly index: number,
    /** The shard's worker thread; null: the shard runs on the I/O thread (ShardSetOptions.inline). */
    readonly pool: Piscina | null,
  ) {}
}

export interface ShardSetOptions {
  /**
   * Run the shard (there must be one) on the I/O thread instead of a worker thread: one V8
   * heap, its code and its malloc arena less (docs/benchmarks.md, "Where the memory goes"),
   * the same records over a MessageChannel within the thread. A shard cannot die alone then.
   */
  inline?: boolean;
}

export class ShardSet {
  private readonly shards: Shard[] = [];
  private flushScheduled = false;
  private nextRequestId = 1;
  /** Control requests awaiting a reply; a dying shard answers its own with null. */
  private readonly pending = new Map<number, { shard: number; resolve: (reply: ShardReply | null) => void }>();
  /** Each shard's PE count, shared with the shards: the handlespace-wide PE limit checks their sum. */
  private readonly census: SharedArrayBuffer;

  constructor(
    readonly count: number,
    private readonly config: ShardConfig,
    private readonly events: ShardSetEvents,
    options: ShardSetOptions = {},
  ) {
    this.census = censusBuffer(count);
    if (options.inline === true) {
      if (count !== 1) throw new Error('an inline shard set has one shard');
      this.shards.push(new Shard(0, null));
      return;
    }
    const filename = workerFilename();
    for (let i = 0; i < count; i++) {
      const pool = new Piscina({ filename, minThreads: 1, maxThreads: 1, idleTimeout: Infinity, atomics: 'disabled', name: 'default', resourceLimits: SHARD_RESOURCE_LIMITS });
      pool.on('error', (error: Error) => this.events.log('error', { shard: i, error: error.message }, 'shard worker error'));
      this.shards.push(new Shard(i, pool));
    }
  }

  async start(): Promise<void> {
    await Promise.all(this.shards.map((s) => this.attach(s, false)));
  }

  private async attach(shard: Shard, restarted: boolean): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const task: AttachTask = { shard: shard.index, config: { ...this.config, census: this.census }, port: port2 };
    // The port closes when the thread that holds its other end dies. Until the attach task
    // has run, that is a failed attempt (the run rejects and is retried), not a new death.
    let running = false;
    let closedEarly = false;
    port1.on('message', (data: ArrayBuffer | ShardReply) => this.receive(data));
    port1.on('close', () => {
      if (running) this.lost(shard, port1);
      else closedEarly = true;
    });
    // Batches flushed from now on queue on the port until the new thread reads them.
    shard.port = port1;
    shard.attached = false;
    shard.routed = 0;
    if (shard.pool === null) (await import('./worker.js')).default(task);
    else await shard.pool.run(task, { transferList: [port2] });
    running = true;
    if (closedEarly) {
      this.lost(shard, port1);
      return;
    }
    shard.attempts = 0;
    shard.attached = true;
    const orphaned = [...shard.orphaned];
    shard.orphaned.clear();
    this.events.attached(shard.index, restarted, orphaned);
  }

  /** The worker's end of the port closed: the thread died. piscina starts a new one. */
  private lost(shard: Shard, port: MessagePort): void {
    if (shard.closing || shard.port !== port) return;
    shard.port = null;
    shard.attached = false;
    this.abandonRequests(shard.index);
    shard.restarts++;
    for (const id of shard.registeredOver) shard.orphaned.add(id);
    shard.registeredOver.clear();
    this.events.log('error', { shard: shard.index, restarts: shard.restarts, orphaned: shard.orphaned.size }, 'shard worker died; restarting it');
    this.restart(shard);
  }

  /**
   * Attaches to the replacement thread. Right after a death piscina may still hand the task
   * to the dying thread ("worker exited"): retry with a growing delay until one takes it.
   */
  private restart(shard: Shard): void {
    if (shard.closing) return;
    this.attach(shard, true).catch((error: Error) => {
      if (shard.closing) return;
      shard.port = null;
      this.abandonRequests(shard.index);
      const delay = Math.min(1000, 20 * 2 ** shard.attempts++);
      if (shard.attempts === 5) this.events.log('error', { shard: shard.index, error: error.message }, 'shard worker restart keeps failing; still retrying');
      setTimeout(() => this.restart(shard), delay).unref();
    });
  }

  /** Control requests sent to a shard that died are answered with null. */
  private abandonRequests(shard: number): void {
    for (const [id, request] of this.pending) {
      if (request.shard !== shard) continue;
      this.pending.delete(id);
      request.resolve(null);
    }
  }

  /** Worker threads of the shards (fault tests terminate one). */
  get threads(): ReadonlyArray<{ terminate(): Promise<number> }> {
    return this.shards.flatMap((s) => (s.pool === null ? [] : [s.pool.threads[0]!]));
  }

  route(poolHandle: Uint8Array): number {
    return this.count === 1 ? 0 : shardOf(poolHandle, this.count);
  }

  /**
   * The batch of this turn for a shard, to write records into (the writer's methods are the
   * record encoders); it goes out at the end of the turn.
   */
  to(shard: number): ToShardWriter {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return this.shards[shard]!.batch;
  }

  /** Writes the same record(s) into every shard's batch. */
  toAll(write: (batch: ToShardWriter) => void): void {
    for (let i = 0; i < this.count; i++) write(this.to(i));
  }

  /** An ASAP message for the shard of its pool; a registration marks the association as holding PEs there. */
  asapMessage(shard: number, associationId: number, message: Uint8Array): void {
    if (message[0] === AsapType.Registration) this.shards[shard]!.registeredOver.add(associationId);
    this.shards[shard]!.routed++;
    this.to(shard).asapMessage(associationId, message);
  }

  /** RFC 5352 §3.5: every shard removes the PEs registered over the association. */
  associationDown(associationId: number): void {
    this.forget(associationId);
    this.toAll((b) => b.associationDown(associationId));
  }

  /** An association we aborted so that its PE re-registers: the shards keep its PEs (ToShard.AssociationDetached). */
  associationDetached(associationId: number): void {
    this.forget(associationId);
    this.toAll((b) => b.associationDetached(associationId));
  }

  private forget(associationId: number): void {
    for (const shard of this.shards) {
      shard.registeredOver.delete(associationId);
      shard.orphaned.delete(associationId);
    }
  }

  private readonly transfer: ArrayBuffer[] = [];
  private readonly flush = (): void => {
    this.flushScheduled = false;
    for (const shard of this.shards) {
      if (shard.batch.empty) continue;
      const batch = shard.batch.take();
      // A shard being restarted loses this batch: its PEs are gone anyway, and the
      // requests' senders time out and retry (RFC 5352 §7 T1/T2).
      if (shard.port === null) continue;
      this.transfer[0] = batch; // postMessage reads the transfer list at once: one for every batch
      shard.port.postMessage(batch, this.transfer);
    }
  };

  private receive(data: ArrayBuffer | ShardReply): void {
    if (data instanceof ArrayBuffer) {
      readFromShard(data, this.events.output);
      return;
    }
    if (data.op === 'log') {
      this.events.log(data.level, data.fields, data.message);
      return;
    }
    const request = this.pending.get(data.id);
    if (request !== undefined) {
      this.pending.delete(data.id);
      request.resolve(data);
    }
  }

  async stats(): Promise<ShardStats[]> {
    const replies = await this.requestAll({ op: 'stats' });
    return replies.map((r, i) => {
      const base = { shard: i, restarts: this.shards[i]!.restarts };
      if (r === null || r.op !== 'stats') return { ...base, pools: 0, poolElements: 0, timers: 0, counters: {} };
      return { ...base, pools: r.pools, poolElements: r.poolElements, timers: r.timers, counters: { ...r.counters } };
    });
  }

  /**
   * Pool elements registered over an association, in all shards together: an association is
   * shared by the shards, so only their sum says whether it still carries a PE.
   */
  async associationElements(associationId: number): Promise<number> {
    const replies = await this.requestAll({ op: 'associationElements', associationId });
    let count = 0;
    for (const r of replies) if (r !== null && r.op === 'associationElements') count += r.count;
    return count;
  }

  /**
   * The one request path: a control request to every live shard; dead shards answer null.
   * Batches queued this turn go first, so that a request sees every record sent before it
   * (a shard reads its port in order: batches, then the request). Without this, a
   * registration queued this turn is not counted by associationElements(), and the
   * association of a PE that has just registered is aborted (test/shard/request-order.test.ts).
   */
  private requestAll(body: ShardRequestBody): Promise<(ShardReply | null)[]> {
    if (this.flushScheduled) this.flush();
    return Promise.all(
      this.shards.map(
        (shard) =>
          new Promise<ShardReply | null>((resolve) => {
            if (shard.port === null) return resolve(null);
            const id = this.nextRequestId++;
            this.pending.set(id, { shard: shard.index, resolve });
            shard.port.postMessage({ ...body, id });
          }),
      ),
    );
  }

  /**
   * PE checksums (RFC 5353 §3.6.2) of these owners over all shards: each shard's
   * ones'-complement sum, added with end-around carry, complemented.
   */
  async peChecksums(owners: number[]): Promise<number[]> {
    const replies = await this.requestAll({ op: 'checksums', owners });
    return owners.map((_, i) => {
      let sum = 0;
      for (const r of replies) if (r !== null && r.op === 'checksums') sum += r.sums[i]!;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      return ~sum & 0xffff;
    });
  }

  /** Registrars owning at least one PE in some shard. */
  async owners(): Promise<number[]> {
    const replies = await this.requestAll({ op: 'owners' });
    const all = new Set<number>();
    for (const r of replies) if (r !== null && r.op === 'owners') for (const o of r.owners) all.add(o);
    return [...all];
  }

  /** Operator snapshot of every shard's pools (rserpool dump), sorted by pool handle. */
  async handlespace(): Promise<DumpPool[]> {
    const replies = await this.requestAll({ op: 'handlespace' });
    const pools: DumpPool[] = [];
    for (const r of replies) if (r !== null && r.op === 'handlespace') pools.push(...r.pools);
    return pools.sort((a, b) => (a.handleHex < b.handleHex ? -1 : a.handleHex > b.handleHex ? 1 : 0));
  }

  /** Shards whose thread has run the attach task and lives (a dead one is being restarted): /ready needs all. */
  get attachedCount(): number {
    let n = 0;
    for (const s of this.shards) if (s.attached) n++;
    return n;
  }

  /**
   * Each shard's figures for /metrics, null for a dead one, with its queue depth: ASAP
   * messages routed to it and not yet taken from its batches when it answered.
   */
  async metrics(resetWindows = false): Promise<Array<(ShardMetrics & { queueDepth: number }) | null>> {
    const replies = await this.requestAll({ op: 'metrics', resetWindows });
    return replies.map((r, i) => (r === null || r.op !== 'metrics' ? null : { ...r.metrics, queueDepth: Math.max(0, this.shards[i]!.routed - r.metrics.asapProcessed) }));
  }

  /** An operator removes an own PE: asked of the shard of its pool. */
  async removeElement(poolHandle: Uint8Array, peId: number): Promise<'removed' | 'unknown' | 'not-own' | 'shard-down'> {
    const reply = await this.requestOne(this.route(poolHandle), { op: 'removeElement', poolHandle, peId });
    return reply === null || reply.op !== 'removeElement' ? 'shard-down' : reply.outcome;
  }

  /** Every pool of every shard without its elements, sorted by handle (admin API). */
  async poolSummaries(): Promise<PoolSummary[]> {
    const replies = await this.requestAll({ op: 'poolSummaries' });
    const pools: PoolSummary[] = [];
    for (const r of replies) if (r !== null && r.op === 'poolSummaries') pools.push(...r.pools);
    return pools.sort((a, b) => (a.handleHex < b.handleHex ? -1 : a.handleHex > b.handleHex ? 1 : 0));
  }

  /** One pool with its elements, from the shard that owns it; null: no such pool (or its shard is restarting). */
  async pool(poolHandle: Uint8Array): Promise<DumpPool | null> {
    const reply = await this.requestOne(this.route(poolHandle), { op: 'pool', poolHandle });
    return reply === null || reply.op !== 'pool' ? null : reply.pool;
  }

  /** A control request to one shard (queued batches first, as requestAll); null when it is dead. */
  private requestOne(index: number, body: ShardRequestBody): Promise<ShardReply | null> {
    const shard = this.shards[index]!;
    if (shard.port === null) return Promise.resolve(null);
    if (this.flushScheduled) this.flush();
    return new Promise<ShardReply | null>((resolve) => {
      const id = this.nextRequestId++;
      this.pending.set(id, { shard: shard.index, resolve });
      shard.port!.postMessage({ ...body, id });
    });
  }

  /** Each shard's part of a handlespace snapshot (src/snapshot/part-writer.ts); a dead shard's is left out, a failed one throws. */
  async snapshotParts(): Promise<PartInfo[]> {
    const replies = await this.requestAll({ op: 'snapshotPart' });
    const parts: PartInfo[] = [];
    for (const r of replies) {
      if (r === null || r.op !== 'snapshotPart') continue;
      if (r.error !== null) throw new Error(`shard ${replies.indexOf(r)}: ${r.error}`);
      parts.push({ bytes: new Uint8Array(r.bytes), pools: r.pools, elements: r.elements });
    }
    return parts;
  }

  /**
   * Warm restart: every shard takes its pools from the snapshot's bytes (one shared copy), in
   * the background, `sliceMs` of each of its event-loop turns (0: all before it answers).
   * Resolves once every shard has opened and checked its part (it serves from then on).
   */
  async restoreSnapshot(bytes: Uint8Array, sliceMs: number): Promise<RestoreProgress[]> {
    const shared = new SharedArrayBuffer(bytes.length);
    new Uint8Array(shared).set(bytes);
    const replies = await this.requestAll({ op: 'restoreSnapshot', snapshot: shared, sliceMs });
    const progress: RestoreProgress[] = [];
    for (const r of replies) if (r !== null && r.op === 'restoreSnapshot') progress.push(r.progress);
    return progress;
  }

  /**
   * Where each shard's restore stands (a dead or restarted shard's is left out: its pools are
   * gone with it); `wait`: once every shard's is complete.
   */
  async restoreProgress(wait: boolean): Promise<RestoreProgress[]> {
    const replies = await this.requestAll({ op: 'restoreProgress', wait });
    const progress: RestoreProgress[] = [];
    for (const r of replies) if (r !== null && r.op === 'restoreProgress' && r.progress !== null) progress.push(r.progress);
    return progress;
  }

  /** Every PE of every shard: [pool handle hex, PE ID, home], sorted. */
  async dump(): Promise<DumpRow[]> {
    const replies = await this.requestAll({ op: 'dump' });
    const rows: DumpRow[] = [];
    for (const r of replies) if (r !== null && r.op === 'dump') rows.push(...r.rows);
    return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  }

  async close(): Promise<void> {
    for (const shard of this.shards) {
      shard.closing = true;
      shard.port?.close();
    }
    await Promise.all(this.shards.map((s) => s.pool?.destroy()));
  }
}
