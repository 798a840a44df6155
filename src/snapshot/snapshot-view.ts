// A handlespace snapshot file (src/snapshot/handlespace.fbs) read in place, without its CRC
// checked: what a shard worker needs to restore its pools (the I/O thread checked the CRC),
// kept free of the SCTP stack's CRC32c code (a shard loads nothing of src/sctp/). The file's
// layout and its checks: snapshot-format.ts.
import { ByteBuffer } from 'flatbuffers';
import { Handlespace, Part, PartBuffer, Pool as FbPool } from './handlespace_generated.js';

export const SNAPSHOT_IDENTIFIER = 'RSHS';
export const SNAPSHOT_VERSION = 1;
export const TRAILER = 8;
const MIN_SIZE = 8 + TRAILER;
export const IDENTIFIER_BYTES = new TextEncoder().encode(SNAPSHOT_IDENTIFIER);

/** A snapshot that cannot be read: corrupt, truncated, foreign or of a newer version. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

/** The header of a snapshot: who wrote it, when, how much it holds. */
export interface SnapshotHeader {
  version: number;
  registrarId: number;
  timeMs: number;
  poolCount: number;
  elementCount: number;
  parts: number;
  /** File size in bytes. */
  bytes: number;
}

/** Pool handles in the file's order: bytewise, a prefix before the longer handle. */
export function compareHandles(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export interface PartInfo {
  bytes: Uint8Array;
  pools: number;
  elements: number;
}

/** Size and both identifiers (the FlatBuffer's and the trailer's): a foreign or truncated file fails here. */
export function checkIdentifiers(bytes: Uint8Array): void {
  if (bytes.length < MIN_SIZE) throw new SnapshotError(`not a handlespace snapshot: ${bytes.length} bytes is too short`);
  const bodyLength = bytes.length - TRAILER;
  if (!Handlespace.bufferHasIdentifier(new ByteBuffer(bytes.subarray(0, bodyLength))) || !sameBytes(bytes.subarray(bodyLength + 4), IDENTIFIER_BYTES)) {
    throw new SnapshotError('not a handlespace snapshot (file identifier RSHS missing): a foreign or truncated file');
  }
}

/**
 * A snapshot's FlatBuffer read in place: the header is checked (size, identifiers, version,
 * every part within the file), not the CRC (SnapshotReader in snapshot-format.ts checks it).
 * Nothing is copied or decoded until asked for.
 */
export class SnapshotView {
  readonly header: SnapshotHeader;
  private readonly root: Handlespace;
  private readonly partBytes: Uint8Array[] = [];

  constructor(readonly bytes: Uint8Array) {
    checkIdentifiers(bytes);
    const bodyLength = bytes.length - TRAILER;
    const bb = new ByteBuffer(bytes.subarray(0, bodyLength));
    try {
      const rootOffset = bb.readUint32(0);
      if (rootOffset + 4 > bodyLength) throw new SnapshotError('handlespace snapshot is corrupt: root table outside the file');
      this.root = Handlespace.getRootAsHandlespace(bb);
      const version = this.root.version();
      if (version !== SNAPSHOT_VERSION) throw new SnapshotError(`handlespace snapshot version ${version} is not supported (this build reads version ${SNAPSHOT_VERSION})`);
      const n = this.root.partsLength();
      const holder = new PartBuffer();
      for (let i = 0; i < n; i++) {
        const part = this.root.parts(i, holder)!;
        const partBytes = part.bytesArray();
        if (partBytes === null || partBytes.byteOffset + partBytes.length > bytes.byteOffset + bodyLength || partBytes.length < 8) {
          throw new SnapshotError(`handlespace snapshot is corrupt: part ${i} lies outside the file`);
        }
        this.partBytes.push(partBytes);
      }
      this.header = {
        version,
        registrarId: this.root.registrarId(),
        timeMs: Number(this.root.timeMs()),
        poolCount: this.root.poolCount(),
        elementCount: this.root.elementCount(),
        parts: n,
        bytes: bytes.length,
      };
    } catch (error) {
      if (error instanceof SnapshotError) throw error;
      throw new SnapshotError(`handlespace snapshot is corrupt: ${(error as Error).message}`);
    }
  }

  /** Each part (one per shard of the writer) as its Part table. */
  parts(): Part[] {
    return this.partBytes.map((b) => Part.getRootAsPart(new ByteBuffer(b)));
  }

  /**
   * The pool with this handle, found by binary search in each part; null if none holds it.
   * `stats.handlesCompared` counts the pool handles read on the way (O(log pools) per part).
   */
  findPool(handle: Uint8Array, stats?: { handlesCompared: number }): FbPool | null {
    for (const part of this.parts()) {
      let lo = 0;
      let hi = part.poolsLength() - 1;
      const pool = new FbPool();
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        part.pools(mid, pool);
        if (stats !== undefined) stats.handlesCompared++;
        const d = compareHandles(pool.handleArray() ?? EMPTY, handle);
        if (d === 0) return pool;
        if (d < 0) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    return null;
  }

  /** Every pool of every part, in file order (the holder object is reused: read it before the next). */
  *pools(): Generator<FbPool> {
    const pool = new FbPool();
    for (const part of this.parts()) {
      const n = part.poolsLength();
      // A vector claims no more entries than its buffer holds offsets (a damaged length).
      if (n * 4 > this.bytes.length) throw new SnapshotError('handlespace snapshot is corrupt: a pool vector longer than the file');
      for (let i = 0; i < n; i++) yield part.pools(i, pool)!;
    }
  }
}

const EMPTY = new Uint8Array(0);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
