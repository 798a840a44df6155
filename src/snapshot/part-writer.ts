// A shard's part of a handlespace snapshot (src/snapshot/handlespace.fbs, table Part): every
// pool of its partition, sorted by handle, with every PE's ID, home, registration life,
// user and ASAP transports and policy values. Built inside the shard worker, in parallel
// with the other shards; the I/O thread only nests the finished parts in one file.
import { Builder } from 'flatbuffers';
import type { Partition, Pool, PoolElement } from '../handlespace/index.js';
import { policyFields } from '../wire/policy-settings.js';
import { readPoolElement, readTransport, type TransportParameter } from '../wire/parameters.js';
import { Reader } from '../wire/reader.js';
import { Part, Pool as FbPool, PoolElement as FbPoolElement, Transport as FbTransport } from './handlespace_generated.js';
import { compareHandles, type PartInfo } from './snapshot-view.js';

/** Where a PE's ASAP transport TLV is kept (the shard's AsapTransportTable). */
export interface AsapTransportSource {
  get(element: PoolElement): Uint8Array | undefined;
}

/** Bytes per address in the file: IPv6 size, IPv4 as IPv4-mapped (::ffff:a.b.c.d). */
export const ADDRESS_BYTES = 16;

/**
 * Builds a Part pool by pool. `step()` writes pools until about `budget` PEs are written, so
 * that a shard can serve its ASAP messages between steps (encodePartAsync): a snapshot of a
 * large partition does not stop the shard for its whole duration. Each pool is written in one
 * step, as it is then; a PE that changes between steps is written as it is when its pool's
 * turn comes (the snapshot is of a moving handlespace, each pool consistent in itself).
 */
export class PartEncoder {
  private readonly b: Builder;
  private readonly reader = new Reader();
  private readonly pools: Pool[];
  private next = 0;
  private readonly poolOffsets: number[] = [];
  private readonly elementOffsets: number[] = [];
  private elements = 0;

  constructor(
    partition: Partition,
    private readonly asapTransports: AsapTransportSource,
    private readonly ownRegistrarId: number,
  ) {
    this.b = new Builder(4096 + partition.elementCount * 128); // ~106 bytes per PE: no regrowth
    this.pools = [...partition.allPools()].sort((x, y) => compareHandles(x.handle, y.handle));
  }

  /** Writes pools until about `budget` PEs are written; true when every pool is written. */
  step(budget = Number.POSITIVE_INFINITY): boolean {
    const b = this.b;
    const own = this.ownRegistrarId >>> 0;
    let written = 0;
    while (this.next < this.pools.length && written < budget) {
      const pool = this.pools[this.next++]!;
      const offsets = this.elementOffsets;
      offsets.length = 0;
      // A pool emptied since the start has no elements left (and is skipped).
      for (const e of pool.elements.values()) {
        const offset = writeElement(b, this.reader, e, this.asapTransports.get(e), own);
        if (offset !== 0) offsets.push(offset);
      }
      written += offsets.length;
      if (offsets.length === 0) continue;
      this.elements += offsets.length;
      const handle = b.createByteVector(pool.handle);
      const vector = FbPool.createElementsVector(b, offsets);
      this.poolOffsets.push(FbPool.createPool(b, handle, pool.policyType >>> 0, vector));
    }
    return this.next >= this.pools.length;
  }

  /** The finished Part (after step() returned true). */
  finish(): PartInfo {
    const b = this.b;
    const poolsVector = Part.createPoolsVector(b, this.poolOffsets);
    b.finish(Part.createPart(b, poolsVector, this.elements));
    // asUint8Array() is a view of the builder's buffer from its start of data: copy it out so
    // that the part is a buffer of its own (it is transferred to the I/O thread).
    return { bytes: b.asUint8Array().slice(), pools: this.poolOffsets.length, elements: this.elements };
  }
}

/** Every pool and PE of `partition` as one finished Part FlatBuffer, in one go. */
export function encodePart(partition: Partition, asapTransports: AsapTransportSource, ownRegistrarId: number): PartInfo {
  const encoder = new PartEncoder(partition, asapTransports, ownRegistrarId);
  encoder.step();
  return encoder.finish();
}

/** PEs written per step by encodePartAsync: a few milliseconds of the shard's time. */
export const ENCODE_STEP_PES = 2000;

/** The same, yielding to the event loop every ~ENCODE_STEP_PES PEs (the shard serves meanwhile). */
export async function encodePartAsync(partition: Partition, asapTransports: AsapTransportSource, ownRegistrarId: number, stepPes = ENCODE_STEP_PES): Promise<PartInfo> {
  const encoder = new PartEncoder(partition, asapTransports, ownRegistrarId);
  while (!encoder.step(stepPes)) await new Promise<void>((resolve) => setImmediate(resolve));
  return encoder.finish();
}

const addressScratch = new Uint8Array(ADDRESS_BYTES * 64);

function writeTransport(b: Builder, t: TransportParameter): number {
  const n = Math.min(t.addresses.length, 64);
  for (let i = 0; i < n; i++) {
    const a = t.addresses[i]!;
    const at = i * ADDRESS_BYTES;
    if (a.length === 4) {
      addressScratch.fill(0, at, at + 10);
      addressScratch[at + 10] = 0xff;
      addressScratch[at + 11] = 0xff;
      addressScratch.set(a, at + 12);
    } else {
      addressScratch.set(a.subarray(0, ADDRESS_BYTES), at);
    }
  }
  const addresses = b.createByteVector(addressScratch.subarray(0, n * ADDRESS_BYTES));
  return FbTransport.createTransport(b, t.type, t.port, t.transportUse, t.serviceCode & 0xffff, addresses);
}

function writeElement(b: Builder, reader: Reader, e: PoolElement, asapTlv: Uint8Array | undefined, ownId: number): number {
  reader.reset(e.encoded);
  const decoded = readPoolElement(reader, 0, e.encoded.length);
  if (decoded === null) return 0; // the registrar encoded it: cannot happen
  const user = writeTransport(b, decoded.userTransport);
  let asap = 0;
  if (asapTlv !== undefined) {
    reader.reset(asapTlv);
    if (reader.param(0, asapTlv.length)) {
      const t = readTransport(reader, reader.pType, 0, reader.pLen);
      if (t !== null) asap = writeTransport(b, t);
    }
  }
  const p = e.policy;
  const fields = policyFields.get(p.type >>> 0);
  let values = 0;
  let raw = 0;
  if (fields !== undefined && fields.length > 0) {
    FbPoolElement.startPolicyValuesVector(b, fields.length);
    for (let i = fields.length - 1; i >= 0; i--) b.addInt32(p[fields[i]!] | 0);
    values = b.endVector();
  } else if (fields === undefined && p.raw !== null) {
    raw = b.createByteVector(p.raw);
  }
  FbPoolElement.startPoolElement(b);
  FbPoolElement.addId(b, e.peId);
  FbPoolElement.addHome(b, e.homeRegistrarId >>> 0);
  FbPoolElement.addOurs(b, e.homeRegistrarId >>> 0 === ownId);
  FbPoolElement.addRegistrationLife(b, e.registrationLife | 0);
  FbPoolElement.addUserTransport(b, user);
  if (asap !== 0) FbPoolElement.addAsapTransport(b, asap);
  if (values !== 0) FbPoolElement.addPolicyValues(b, values);
  if (raw !== 0) FbPoolElement.addPolicyRaw(b, raw);
  return FbPoolElement.endPoolElement(b);
}
