// A handlespace snapshot file (src/snapshot/handlespace.fbs) read in place, without its CRC
// checked: what a shard worker needs to restore its pools (the I/O thread checked the CRC),
// kept free of the SCTP stack's CRC32c code (a shard loads nothing of src/sctp/). The file's
// layout and its checks: snapshot-format.ts.
import { ByteBuffer } from 'flatbuffers';
import { bytesEqual } from '../wire/bytes-equal.js';
import { Handlespace, Part, PartBuffer, Pool as FbPool, PoolElement as FbPoolElement, Transport as FbTransport } from './handlespace_generated.js';

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
  if (!Handlespace.bufferHasIdentifier(new ByteBuffer(bytes.subarray(0, bodyLength))) || !bytesEqual(bytes.subarray(bodyLength + 4), IDENTIFIER_BYTES)) {
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
    const found = this.searchPool(handle, stats);
    // Its elements are walked once within the budget (a hostile vector of repeated offsets).
    if (found !== null) this.checkElements(found, new SnapshotBudget(this.header));
    return found;
  }

  private searchPool(handle: Uint8Array, stats?: { handlesCompared: number }): FbPool | null {
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

  /**
   * Every pool of every part, in file order (the holder object is reused: read it before the
   * next). Each part's handles must be strictly increasing (the format sorts them: a repeated
   * pool offset fails here), and a pool is yielded only after its elements were walked within
   * `budget` (see SnapshotBudget): reading a hostile file stays linear in its size. `want`:
   * only the pools it accepts are walked and yielded (a shard's own pools).
   * Throws SnapshotError.
   */
  *pools(want?: (handle: Uint8Array) => boolean, budget = new SnapshotBudget(this.header)): Generator<FbPool> {
    for (const entry of this.poolEntries(want, budget)) yield entry.pool;
  }

  /** The same, with where each pool is: its part and its index in the part's pool vector (one object, reused). */
  *poolEntries(want?: (handle: Uint8Array) => boolean, budget = new SnapshotBudget(this.header)): Generator<{ part: number; index: number; pool: FbPool }> {
    const pool = new FbPool();
    const entry = { part: 0, index: 0, pool };
    const parts = this.parts();
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p]!;
      const n = part.poolsLength();
      // A vector claims no more entries than its buffer holds offsets (a damaged length).
      if (n * 4 > this.bytes.length) throw new SnapshotError('handlespace snapshot is corrupt: a pool vector longer than the file');
      let previous: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        part.pools(i, pool);
        const handle = pool.handleArray() ?? EMPTY;
        if (previous !== null && compareHandles(previous, handle) >= 0) {
          throw new SnapshotError('handlespace snapshot is corrupt: its pools are not sorted by handle (a repeated or misplaced pool)');
        }
        previous = handle;
        budget.chargePool(handle.length);
        if (want !== undefined && !want(handle)) continue;
        this.checkElements(pool, budget);
        entry.part = p;
        entry.index = i;
        yield entry;
      }
    }
  }

  /** Walks a pool's elements, charging each with the bytes an honest writer spends on it. Throws SnapshotError. */
  checkElements(pool: FbPool, budget: SnapshotBudget): void {
    const n = pool.elementsLength();
    if (n * 4 > this.bytes.length) throw new SnapshotError('handlespace snapshot is corrupt: an element vector longer than the file');
    const e = new FbPoolElement();
    const t = new FbTransport();
    for (let i = 0; i < n; i++) {
      pool.elements(i, e);
      const user = e.userTransport(t)?.addressesLength() ?? 0;
      const asap = e.asapTransport(t)?.addressesLength() ?? 0;
      budget.chargeElement(ELEMENT_MIN_BYTES + user + asap + 4 * e.policyValuesLength() + e.policyRawLength());
    }
  }
}

/**
 * Bytes an honest writer spends on a PE at least: its offset in the pool's vector, the table's
 * vtable offset and the user transport's offset (every one of its own; vectors are not shared).
 */
export const ELEMENT_MIN_BYTES = 12;
/** And on a pool: its offset in the part's vector, the table's vtable offset, the handle's offset and length. */
export const POOL_MIN_BYTES = 16;

/**
 * What reading a snapshot may cost: the pools and elements no more than its header counts and
 * their bytes (each charged as an honest writer lays it out, every table and vector its own) no
 * more than the file holds. A hostile FlatBuffer may point many vector entries at one table
 * (the CRC is no integrity check, the writer computes it): without this bound P pools of E
 * entries each would cost P x E reads of a file of P + E offsets.
 */
export class SnapshotBudget {
  private pools = 0;
  private elements = 0;
  private bytes = 0;

  constructor(private readonly header: SnapshotHeader) {}

  chargePool(handleBytes: number): void {
    this.pools++;
    this.bytes += POOL_MIN_BYTES + handleBytes;
    if (this.pools > this.header.poolCount) throw new SnapshotError(`handlespace snapshot is corrupt: it holds more pools than its header's ${this.header.poolCount}`);
    this.checkBytes();
  }

  chargeElement(bytes: number): void {
    this.elements++;
    this.bytes += bytes;
    if (this.elements > this.header.elementCount) throw new SnapshotError(`handlespace snapshot is corrupt: it holds more pool elements than its header's ${this.header.elementCount}`);
    this.checkBytes();
  }

  private checkBytes(): void {
    if (this.bytes > this.header.bytes) {
      throw new SnapshotError(`handlespace snapshot is corrupt: its pools and elements need more than its ${this.header.bytes} bytes (repeated offsets)`);
    }
  }
}

const EMPTY = new Uint8Array(0);

