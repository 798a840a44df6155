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
import type { Partition, PoolElement } from '../handlespace/index.js';
import { writePoolElement, type TransportParameter } from '../wire/parameters.js';
import { Writer } from '../wire/writer.js';
import { PoolElement as FbPoolElement } from './handlespace_generated.js';
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

/** Registrar ID 0 is no registrar's (RSPLIB's UNDEFINED_REGISTRAR_IDENTIFIER): an own PE passes through it. */
const NO_HOME = 0;

/**
 * Puts back every PE of the snapshot whose pool `mine()` accepts. `ownRegistrarId`: this
 * registrar's ID now; PEs the writer owned (or homed at this ID) come back as own PEs.
 */
export function restoreSnapshot(
  bytes: Uint8Array,
  partition: Partition,
  asapTransports: AsapTransportSink,
  asapTransportTlv: (t: TransportParameter) => Uint8Array,
  ownRegistrarId: number,
  mine: (poolHandle: Uint8Array) => boolean,
): RestoreCounts {
  const counts: RestoreCounts = { restored: 0, own: 0, pools: 0, rejected: 0, damaged: 0, error: null };
  const ownId = ownRegistrarId >>> 0;
  let reader: SnapshotView;
  try {
    // The I/O thread checked the CRC before handing the file to the shards.
    reader = new SnapshotView(bytes);
  } catch (error) {
    counts.error = (error as Error).message;
    return counts;
  }
  const pe = new FbPoolElement();
  // The encoded Pool Element parameter is written into one scratch buffer: the partition
  // copies it into its pool's slab (src/handlespace/encoded-slab.ts), no buffer per PE.
  const scratch = new Writer(1024);
  const want = (handle: Uint8Array): boolean => handle.length > 0 && mine(handle);
  try {
    // A first walk over this shard's pools, within the file's budget (SnapshotView.pools): a
    // hostile file (repeated offsets, unsorted pools, more than its header counts) is refused
    // in time linear in its size and before any PE is put back, so the shard starts empty.
    for (const _ of reader.pools(want));
  } catch (error) {
    counts.error = error instanceof SnapshotError ? error.message : `handlespace snapshot is corrupt: ${(error as Error).message}`;
    return counts;
  }
  try {
    for (const pool of reader.pools(want)) {
      const poolHandle = pool.handleArray()!.slice();
      let any = false;
      const n = pool.elementsLength();
      for (let i = 0; i < n; i++) {
        const record = readSnapshotElement(pool, pool.elements(i, pe)!);
        if (record === null) {
          counts.damaged++;
          continue;
        }
        const own = record.ours || record.homeRegistrarId >>> 0 === ownId;
        const home = own ? ownId : record.homeRegistrarId >>> 0;
        const t = record.userTransport;
        scratch.reset();
        writePoolElement(scratch, { ...record, homeRegistrarId: home, asapTransport: null });
        const result = partition.register({
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
          continue;
        }
        asapTransports.set(result.element, record.asapTransport !== null ? asapTransportTlv(record.asapTransport) : null);
        // Becoming ours arms an immediate keep-alive with the H bit (Partition.changeOwner).
        if (own) {
          partition.changeOwner(result.element, ownId);
          counts.own++;
        }
        counts.restored++;
        any = true;
      }
      if (any) counts.pools++;
    }
  } catch (error) {
    counts.error = `handlespace snapshot is corrupt: ${(error as Error).message}`;
  }
  return counts;
}
