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
import { Builder } from 'flatbuffers';
import { crc32c } from '../sctp/crc32c.js';
import { Handlespace, PartBuffer } from './handlespace_generated.js';
import { checkIdentifiers, IDENTIFIER_BYTES, SnapshotError, SnapshotView, TRAILER, SNAPSHOT_VERSION, type PartInfo } from './snapshot-view.js';

export {
  compareHandles,
  SNAPSHOT_IDENTIFIER,
  SNAPSHOT_VERSION,
  SnapshotError,
  SnapshotView,
  type PartInfo,
  type SnapshotHeader,
} from './snapshot-view.js';

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

/**
 * A snapshot opened for reading: the identifiers first (a foreign file says so), then with
 * `verify` (the default) the CRC over the whole file, then the header (SnapshotView).
 */
export class SnapshotReader extends SnapshotView {
  constructor(bytes: Uint8Array, options: { verify?: boolean } = {}) {
    checkIdentifiers(bytes);
    if (options.verify !== false) {
      const bodyLength = bytes.length - TRAILER;
      const stored = new DataView(bytes.buffer, bytes.byteOffset + bodyLength, 4).getUint32(0, true);
      if (crc32c(bytes.subarray(0, bodyLength)) !== stored) throw new SnapshotError('handlespace snapshot is corrupt: its CRC32c does not match its contents');
    }
    super(bytes);
  }
}
