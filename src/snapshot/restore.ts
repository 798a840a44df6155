// Warm restart: a shard takes its pools' PEs back from a snapshot (src/snapshot/handlespace.fbs).
// Every shard reads the same file (one shared buffer) and keeps the pools that hash to it.
//
// - PEs of peers come back as the peers' PEs, with their registration life (RFC 5353 §3):
//   the usual audit against the peers' checksums (RFC 5353 §3.6) reconciles them.
// - Own PEs come back as ours without an association: they are served at once, and the
//   registrar sends each an ENDPOINT_KEEP_ALIVE with the H bit over a new association to its
//   ASAP transport, as after a takeover (RFC 5353 §3.5.2; RFC 5352 §3.4 KA2.4: the PE makes
//   the sender its home again). One that does not answer within the keep-alive timeout is
//   removed (RFC 5352 §3.5).
//
// A SnapshotRestore is the restore of one shard's pools while the shard serves: opened (the
// whole part checked within the file's budget, nothing put back yet), then restored pool by
// pool in slices between the shard's event-loop turns (step()), and any pool a message
// touches first is put back whole at that moment (restorePool(): that pool only, found by its
// handle). What needs the whole handlespace finishes it (finish()) or waits for it.
import type { Partition, PoolElement } from '../handlespace/index.js';
import { peWordSum, wordSum } from '../handlespace/pe-checksum.js';
import { writePoolElement, type TransportParameter } from '../wire/parameters.js';
import { Writer } from '../wire/writer.js';
import { Pool as FbPool, PoolElement as FbPoolElement, type Part } from './handlespace_generated.js';
import { readSnapshotElement } from './part-reader.js';
import { SnapshotError, SnapshotView } from './snapshot-view.js';

/** Where a restored PE's ASAP transport goes (the shard's AsapTransportTable). */
export interface AsapTransportSink {
  set(element: PoolElement, tlv: Uint8Array | null): void;
}

export interface RestoreCounts {
  /** PEs put back in this shard. */
  restored: number;
  /** Of them, own PEs (each gets a keep-alive with the H bit now). */
  own: number;
  /** Pools of this shard restored. */
  pools: number;
  /** PEs the partition turned away (a limit, or values a registration would not pass). */
  rejected: number;
  /** Damaged PE records skipped. */
  damaged: number;
  /** Why the restore stopped early, if it did (a damaged file read without its CRC checked). */
  error: string | null;
}

/** Where a shard's restore stands (the registrar logs it: "restored N of M PEs"). */
export interface RestoreProgress extends RestoreCounts {
  /** PE records of this shard's pools in the file: restored + rejected + damaged once complete. */
  elements: number;
  /** Pools put back first because a message touched them before the background restore did. */
  poolsOnDemand: number;
  /** Every pool of this shard is back (or the file was refused). */
  complete: boolean;
}

/** Registrar ID 0 is no registrar's (RSPLIB's UNDEFINED_REGISTRAR_IDENTIFIER): an own PE passes through it. */
const NO_HOME = 0;

/** A pool of the file not (completely) put back yet. */
interface PendingPool {
  part: number;
  index: number;
  /** Its next PE record to restore. */
  next: number;
  /** Some PE of it was put back. */
  any: boolean;
  /** Every PE record of it was read. */
  done: boolean;
}

/** Pool handles as Map keys (one byte, one char). */
const handleKey = (handle: Uint8Array): string => Buffer.from(handle.buffer, handle.byteOffset, handle.byteLength).toString('latin1');

export class SnapshotRestore {
  private readonly counts: RestoreCounts = { restored: 0, own: 0, pools: 0, rejected: 0, damaged: 0, error: null };
  /** PE records of this shard's pools in the file. */
  private elements = 0;
  private poolsOnDemand = 0;
  /**
   * Per owner, the exact word sum (RFC 5353 §3.6.2, src/handlespace/pe-checksum.ts) of the PE
   * records not read yet: the partition's PE checksum plus these is the handlespace's once the
   * restore is complete (a pool is either still wholly in the file or restored: a message
   * touching a pool restores it first). So a peer's audit during the restore compares against
   * the snapshot's checksum, never a partial one.
   */
  private readonly pendingSums = new Map<number, number>();
  private readonly ownId: number;
  private partTables: Part[] = [];
  /** Pools still (partly) in the file, by handle; in file order for the background restore. */
  private readonly pending = new Map<string, PendingPool>();
  private order: PendingPool[] = [];
  private cursor = 0;
  private readonly pool = new FbPool();
  private readonly pe = new FbPoolElement();
  // The encoded Pool Element parameter is written into one scratch buffer: the partition
  // copies it into its pool's slab (src/handlespace/encoded-slab.ts), no buffer per PE.
  private readonly scratch = new Writer(1024);

  /**
   * Opens this shard's part of the snapshot: the pools `mine()` accepts. `ownRegistrarId`: this
   * registrar's ID now; PEs the writer owned (or homed at this ID) come back as own PEs. Nothing
   * is put back yet. A file that fails the checks leaves nothing pending (progress().error).
   */
  constructor(
    bytes: Uint8Array,
    private readonly partition: Partition,
    private readonly asapTransports: AsapTransportSink,
    private readonly asapTransportTlv: (t: TransportParameter) => Uint8Array,
    ownRegistrarId: number,
    mine: (poolHandle: Uint8Array) => boolean,
  ) {
    this.ownId = ownRegistrarId >>> 0;
    let reader: SnapshotView;
    try {
      // The I/O thread checked the CRC before handing the file to the shards.
      reader = new SnapshotView(bytes);
    } catch (error) {
      this.counts.error = (error as Error).message;
      return;
    }
    const want = (handle: Uint8Array): boolean => handle.length > 0 && mine(handle);
    try {
      // A first walk over this shard's pools, within the file's budget (SnapshotView.pools): a
      // hostile file (repeated offsets, unsorted pools, more than its header counts) is refused
      // in time linear in its size and before any PE is put back, so the shard starts empty.
      // Once walked, any order of restoring the pools stays within that bound.
      for (const { part, index, pool } of reader.poolEntries(want)) {
        const entry: PendingPool = { part, index, next: 0, any: false, done: false };
        const key = handleKey(pool.handleArray()!);
        if (this.pending.has(key)) continue; // the same handle in two parts (two writers' shards): the first wins
        this.pending.set(key, entry);
        this.order.push(entry);
        const n = pool.elementsLength();
        this.elements += n;
        const handleSum = wordSum(pool.handleArray()!);
        for (let i = 0; i < n; i++) this.addPending(pool.elements(i, this.pe)!, handleSum, 1);
      }
      this.partTables = reader.parts();
    } catch (error) {
      this.counts.error = error instanceof SnapshotError ? error.message : `handlespace snapshot is corrupt: ${(error as Error).message}`;
      this.pending.clear();
      this.order = [];
      this.elements = 0;
      this.pendingSums.clear();
    }
  }

  get complete(): boolean {
    return this.pending.size === 0;
  }

  /**
   * The ones'-complement sum (folded, not complemented) of the PE records of `owner` still in
   * the file: what EnrpHandlespace.checksumSum() leaves out while the restore goes on.
   */
  pendingChecksumSum(owner: number): number {
    let s = this.pendingSums.get(owner >>> 0) ?? 0;
    while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
    return s;
  }

  /** The owner a PE record comes back with (restoreElement) and its word sum, added (+1) or taken out (-1). */
  private addPending(e: FbPoolElement, handleSum: number, sign: 1 | -1): void {
    const owner = e.ours() || e.home() >>> 0 === this.ownId ? this.ownId : e.home() >>> 0;
    const sum = (this.pendingSums.get(owner) ?? 0) + sign * peWordSum(handleSum, e.id() >>> 0);
    if (sum === 0) this.pendingSums.delete(owner);
    else this.pendingSums.set(owner, sum);
  }

  progress(): RestoreProgress {
    return { ...this.counts, elements: this.elements, poolsOnDemand: this.poolsOnDemand, complete: this.complete };
  }

  /**
   * A message is about to touch this pool: if it is still in the file, it is put back whole
   * now (that pool only). True when it was.
   */
  restorePool(handle: Uint8Array): boolean {
    if (this.pending.size === 0) return false;
    const entry = this.pending.get(handleKey(handle));
    if (entry === undefined) return false;
    this.poolsOnDemand++;
    this.restoreFrom(entry, Number.POSITIVE_INFINITY, () => 0);
    return true;
  }

  /**
   * The background restore: pools in file order for about `budgetMs` of `now()` (at least
   * one PE); a pool may be left half restored between steps (a message touching it finishes
   * it first). True when every pool is back.
   */
  step(budgetMs: number, now: () => number = performance.now.bind(performance)): boolean {
    const deadline = now() + budgetMs;
    while (this.cursor < this.order.length) {
      const entry = this.order[this.cursor]!;
      if (entry.done) {
        this.cursor++; // restored on demand meanwhile
        continue;
      }
      if (!this.restoreFrom(entry, deadline, now)) return false;
      this.cursor++;
      if (this.cursor < this.order.length && now() >= deadline) return false;
    }
    return true;
  }

  /** The rest, now. */
  finish(): void {
    this.step(Number.POSITIVE_INFINITY, () => 0);
  }

  /** Restores the pool's PE records from entry.next until the end or the deadline; true at the end. */
  private restoreFrom(entry: PendingPool, deadline: number, now: () => number): boolean {
    const pool = this.partTables[entry.part]!.pools(entry.index, this.pool)!;
    const n = pool.elementsLength();
    try {
      const poolHandle = pool.handleArray()!.slice();
      const handleSum = wordSum(poolHandle);
      while (entry.next < n) {
        this.addPending(pool.elements(entry.next, this.pe)!, handleSum, -1);
        if (this.restoreElement(pool, entry.next++, poolHandle)) entry.any = true;
        if (entry.next < n && now() >= deadline) return false;
      }
    } catch (error) {
      // The file was checked before anything was put back: only a damaged buffer gets here.
      this.counts.error ??= `handlespace snapshot is corrupt: ${(error as Error).message}`;
      entry.next = n;
    }
    entry.done = true;
    if (entry.any) this.counts.pools++;
    this.pending.delete(handleKey(pool.handleArray()!));
    return true;
  }

  /** One PE record into the partition; true when it was put back. */
  private restoreElement(pool: FbPool, i: number, poolHandle: Uint8Array): boolean {
    const counts = this.counts;
    const record = readSnapshotElement(pool, pool.elements(i, this.pe)!);
    if (record === null) {
      counts.damaged++;
      return false;
    }
    const own = record.ours || record.homeRegistrarId >>> 0 === this.ownId;
    const home = own ? this.ownId : record.homeRegistrarId >>> 0;
    const t = record.userTransport;
    const scratch = this.scratch;
    scratch.reset();
    writePoolElement(scratch, { ...record, homeRegistrarId: home, asapTransport: null });
    const result = this.partition.register({
      poolHandle,
      peId: record.peId,
      homeRegistrarId: own ? NO_HOME : home,
      registrationLife: record.registrationLife,
      policy: record.policy,
      userTransport: { protocol: t.type, port: t.port, use: t.transportUse, addressCount: t.addresses.length },
      associationId: 0,
      encoded: scratch.buf.subarray(0, scratch.pos),
    });
    if (!result.ok) {
      counts.rejected++;
      return false;
    }
    this.asapTransports.set(result.element, record.asapTransport !== null ? this.asapTransportTlv(record.asapTransport) : null);
    // Becoming ours arms an immediate keep-alive with the H bit (Partition.changeOwner).
    if (own) {
      this.partition.changeOwner(result.element, this.ownId);
      counts.own++;
    }
    counts.restored++;
    return true;
  }
}

/**
 * Puts back every PE of the snapshot whose pool `mine()` accepts, at once (the benchmarks, the
 * tests, and a registrar with --snapshot-restore-slice 0).
 */
export function restoreSnapshot(
  bytes: Uint8Array,
  partition: Partition,
  asapTransports: AsapTransportSink,
  asapTransportTlv: (t: TransportParameter) => Uint8Array,
  ownRegistrarId: number,
  mine: (poolHandle: Uint8Array) => boolean,
): RestoreCounts {
  const restore = new SnapshotRestore(bytes, partition, asapTransports, asapTransportTlv, ownRegistrarId, mine);
  restore.finish();
  const { elements: _e, poolsOnDemand: _o, complete: _c, ...counts } = restore.progress();
  return counts;
}
