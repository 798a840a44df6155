// The I/O thread's side of the shards: one piscina instance per shard (one pinned thread, no
// idle timeout, atomics off so the worker's timers run while it is idle), routing by pool
// handle, one batch per shard per event-loop turn, and restart of a shard that died.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { poolHandleHash } from '../handlespace/pool-handle.js';
import { BatchWriter, readBatch } from './batch.js';
import type { DumpRow } from '../registrar/enrp-handlespace.js';
import type { SnapshotPool } from '../registrar/handlespace-snapshot.js';
import type { AttachTask, ShardConfig, ShardReply, ShardRequest } from './worker.js';

export interface ShardSetEvents {
  /** A record a shard sent back (FromShard kinds). */
  output(associationId: number, kind: number, payload: Uint8Array): void;
  log(level: 'info' | 'warn' | 'error', fields: object, message: string): void;
  /** A shard was (re)attached; the registrar replays what it must know (live associations). */
  attached(shard: number, restarted: boolean): void;
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

/** shard = hash(pool handle) mod N (ARCHITECTURE.md "Shape"), with the handlespace's hash. */
export function shardOf(poolHandle: Uint8Array, shards: number): number {
  return poolHandleHash(poolHandle) % shards;
}

class Shard {
  port: MessagePort | null = null;
  readonly batch = new BatchWriter();
  restarts = 0;
  closing = false;
  /** Restart attempts since the last death (a new thread may not be ready at once). */
  attempts = 0;
  constructor(
    readonly index: number,
    readonly pool: Piscina,
  ) {}
}

export class ShardSet {
  private readonly shards: Shard[] = [];
  private flushScheduled = false;
  private nextRequestId = 1;
  /** Control requests awaiting a reply; a dying shard answers its own with null. */
  private readonly pending = new Map<number, { shard: number; resolve: (reply: ShardReply | null) => void }>();

  constructor(
    readonly count: number,
    private readonly config: ShardConfig,
    private readonly events: ShardSetEvents,
  ) {
    const filename = workerFilename();
    for (let i = 0; i < count; i++) {
      const pool = new Piscina({ filename, minThreads: 1, maxThreads: 1, idleTimeout: Infinity, atomics: 'disabled', name: 'default' });
      pool.on('error', (error: Error) => this.events.log('error', { shard: i, error: error.message }, 'shard worker error'));
      this.shards.push(new Shard(i, pool));
    }
  }

  async start(): Promise<void> {
    await Promise.all(this.shards.map((s) => this.attach(s, false)));
  }

  private async attach(shard: Shard, restarted: boolean): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const task: AttachTask = { shard: shard.index, config: this.config, port: port2 };
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
    await shard.pool.run(task, { transferList: [port2] });
    running = true;
    if (closedEarly) {
      this.lost(shard, port1);
      return;
    }
    shard.attempts = 0;
    this.events.attached(shard.index, restarted);
  }

  /** The worker's end of the port closed: the thread died. piscina starts a new one. */
  private lost(shard: Shard, port: MessagePort): void {
    if (shard.closing || shard.port !== port) return;
    shard.port = null;
    this.abandonRequests(shard.index);
    shard.restarts++;
    this.events.log('error', { shard: shard.index, restarts: shard.restarts }, 'shard worker died; restarting it (its pool elements return as they re-register)');
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
    return this.shards.map((s) => s.pool.threads[0]!);
  }

  route(poolHandle: Uint8Array): number {
    return this.count === 1 ? 0 : shardOf(poolHandle, this.count);
  }

  enqueue(shard: number, associationId: number, kind: number, payload: Uint8Array | null): void {
    this.shards[shard]!.batch.add(associationId, kind, payload);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  broadcast(associationId: number, kind: number, payload: Uint8Array | null): void {
    for (let i = 0; i < this.count; i++) this.enqueue(i, associationId, kind, payload);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    for (const shard of this.shards) {
      if (shard.batch.empty) continue;
      const batch = shard.batch.take();
      // A shard being restarted loses this batch: its PEs are gone anyway, and the
      // requests' senders time out and retry (RFC 5352 §7 T1/T2).
      if (shard.port === null) continue;
      shard.port.postMessage(batch, [batch]);
    }
  };

  private receive(data: ArrayBuffer | ShardReply): void {
    if (data instanceof ArrayBuffer) {
      readBatch(data, this.events.output);
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
    if (this.flushScheduled) this.flush();
    return Promise.all(
      this.shards.map(
        (shard) =>
          new Promise<ShardStats>((resolve) => {
            const base = { shard: shard.index, restarts: shard.restarts };
            if (shard.port === null) return resolve({ ...base, pools: 0, poolElements: 0, timers: 0, counters: {} });
            const id = this.nextRequestId++;
            this.pending.set(id, {
              shard: shard.index,
              resolve: (reply) => {
                if (reply === null || reply.op !== 'stats') return resolve({ ...base, restarts: shard.restarts, pools: 0, poolElements: 0, timers: 0, counters: {} });
                resolve({ ...base, pools: reply.pools, poolElements: reply.poolElements, timers: reply.timers, counters: { ...reply.counters } });
              },
            });
            const request: ShardRequest = { op: 'stats', id };
            shard.port.postMessage(request);
          }),
      ),
    );
  }

  /**
   * Pool elements registered over an association, in all shards together: an association is
   * shared by the shards, so only their sum says whether it still carries a PE.
   */
  async associationElements(associationId: number): Promise<number> {
    const counts = await Promise.all(
      this.shards.map(
        (shard) =>
          new Promise<number>((resolve) => {
            if (shard.port === null) return resolve(0);
            const id = this.nextRequestId++;
            this.pending.set(id, { shard: shard.index, resolve: (reply) => resolve(reply !== null && reply.op === 'associationElements' ? reply.count : 0) });
            const request: ShardRequest = { op: 'associationElements', id, associationId };
            shard.port.postMessage(request);
          }),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** One control request to every live shard; dead shards answer null. */
  private requestAll(make: (id: number) => ShardRequest): Promise<(ShardReply | null)[]> {
    // Batches queued this turn go first: a request must see what was sent before it.
    if (this.flushScheduled) this.flush();
    return Promise.all(
      this.shards.map(
        (shard) =>
          new Promise<ShardReply | null>((resolve) => {
            if (shard.port === null) return resolve(null);
            const id = this.nextRequestId++;
            this.pending.set(id, { shard: shard.index, resolve });
            shard.port.postMessage(make(id));
          }),
      ),
    );
  }

  /**
   * PE checksums (RFC 5353 §3.6.2) of these owners over all shards: each shard's
   * ones'-complement sum, added with end-around carry, complemented.
   */
  async peChecksums(owners: number[]): Promise<number[]> {
    const replies = await this.requestAll((id) => ({ op: 'checksums', id, owners }));
    return owners.map((_, i) => {
      let sum = 0;
      for (const r of replies) if (r !== null && r.op === 'checksums') sum += r.sums[i]!;
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      return ~sum & 0xffff;
    });
  }

  /** Registrars owning at least one PE in some shard. */
  async owners(): Promise<number[]> {
    const replies = await this.requestAll((id) => ({ op: 'owners', id }));
    const all = new Set<number>();
    for (const r of replies) if (r !== null && r.op === 'owners') for (const o of r.owners) all.add(o);
    return [...all];
  }

  /** Operator snapshot of every shard's pools (rserpool dump), sorted by pool handle. */
  async handlespace(): Promise<SnapshotPool[]> {
    const replies = await this.requestAll((id) => ({ op: 'handlespace', id }));
    const pools: SnapshotPool[] = [];
    for (const r of replies) if (r !== null && r.op === 'handlespace') pools.push(...r.pools);
    return pools.sort((a, b) => (a.handleHex < b.handleHex ? -1 : a.handleHex > b.handleHex ? 1 : 0));
  }

  /** Every PE of every shard: [pool handle hex, PE ID, home], sorted. */
  async dump(): Promise<DumpRow[]> {
    const replies = await this.requestAll((id) => ({ op: 'dump', id }));
    const rows: DumpRow[] = [];
    for (const r of replies) if (r !== null && r.op === 'dump') rows.push(...r.rows);
    return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  }

  async close(): Promise<void> {
    for (const shard of this.shards) {
      shard.closing = true;
      shard.port?.close();
    }
    await Promise.all(this.shards.map((s) => s.pool.destroy()));
  }
}
