// The handlespace snapshot file (src/snapshot/handlespace.fbs): one FlatBuffer (file
// identifier "RSHS", format version 1) followed by an 8-byte trailer, u32 little-endian
// CRC32c of every byte before it, then "RSHS" again. The CRC catches a torn or bit-flipped
// file before anything of it is believed; the identifier and version tell a foreign or newer
// file from ours.
//
// Layout: the root Handlespace table holds the writer's registrar ID and time and one Part
// per shard that wrote it, each Part its own (nested) FlatBuffer whose pools are sorted by
// handle. Reading one pool is a binary search over each part's pool vector, touching
// O(log pools) handles and then that pool's tables only: nothing else is parsed.
import { Builder, ByteBuffer } from 'flatbuffers';
import { crc32c } from '../sctp/crc32c.js';
import { Handlespace, Part, PartBuffer, Pool as FbPool } from './handlespace_generated.js';

export const SNAPSHOT_IDENTIFIER = 'RSHS';
export const SNAPSHOT_VERSION = 1;
const TRAILER = 8;
const MIN_SIZE = 8 + TRAILER;

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

/** The whole file from the shards' parts (each a finished Part FlatBuffer, see part-writer.ts). */
export function assembleSnapshot(registrarId: number, timeMs: number, parts: readonly PartInfo[]): Uint8Array {
  let size = 1024;
  for (const p of parts) size += p.bytes.length + 64;
  const b = new Builder(size);
  const partOffsets: number[] = [];
  let pools = 0;
  let elements = 0;
  for (const p of parts) {
    pools += p.pools;
    elements += p.elements;
    // The nested buffer starts 4-aligned after its length word (Part has no 8-byte fields).
    const bytes = b.createByteVector(p.bytes);
    partOffsets.push(PartBuffer.createPartBuffer(b, bytes));
  }
  const partsVector = Handlespace.createPartsVector(b, partOffsets);
  Handlespace.startHandlespace(b);
  Handlespace.addVersion(b, SNAPSHOT_VERSION);
  Handlespace.addRegistrarId(b, registrarId >>> 0);
  Handlespace.addTimeMs(b, BigInt(Math.max(0, Math.floor(timeMs))));
  Handlespace.addPoolCount(b, pools);
  Handlespace.addElementCount(b, elements);
  Handlespace.addParts(b, partsVector);
  Handlespace.finishHandlespaceBuffer(b, Handlespace.endHandlespace(b));
  const body = b.asUint8Array();
  const out = new Uint8Array(body.length + TRAILER);
  out.set(body, 0);
  const view = new DataView(out.buffer);
  view.setUint32(body.length, crc32c(body), true);
  out.set(IDENTIFIER_BYTES, body.length + 4);
  return out;
}

const IDENTIFIER_BYTES = new TextEncoder().encode(SNAPSHOT_IDENTIFIER);

/**
 * A snapshot opened for reading: the header is checked (size, identifiers, version, every
 * part within the file), and with `verify` (the default) the CRC over the whole file. The
 * accessors read the FlatBuffer in place: nothing is copied or decoded until asked for.
 */
export class SnapshotReader {
  readonly header: SnapshotHeader;
  private readonly root: Handlespace;
  private readonly partBytes: Uint8Array[] = [];

  constructor(
    readonly bytes: Uint8Array,
    options: { verify?: boolean } = {},
  ) {
    if (bytes.length < MIN_SIZE) throw new SnapshotError(`not a handlespace snapshot: ${bytes.length} bytes is too short`);
    const bodyLength = bytes.length - TRAILER;
    const body = bytes.subarray(0, bodyLength);
    const bb = new ByteBuffer(body);
    if (!Handlespace.bufferHasIdentifier(bb) || !sameBytes(bytes.subarray(bodyLength + 4), IDENTIFIER_BYTES)) {
      throw new SnapshotError('not a handlespace snapshot (file identifier RSHS missing): a foreign or truncated file');
    }
    if (options.verify !== false) {
      const stored = new DataView(bytes.buffer, bytes.byteOffset + bodyLength, 4).getUint32(0, true);
      if (crc32c(body) !== stored) throw new SnapshotError('handlespace snapshot is corrupt: its CRC32c does not match its contents');
    }
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
