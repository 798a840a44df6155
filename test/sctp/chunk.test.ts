import { describe, expect, it } from 'vitest';
import { ChunkType, decodeData, decodeInit, decodeSack, decodeErrorCauses, unrecognizedChunkAction, unrecognizedParameterAction, UnrecognizedAction } from '../../src/sctp/chunk.js';
import { PacketReader, PacketWriter } from '../../src/sctp/packet.js';

function one(build: (w: PacketWriter) => void) {
  const w = new PacketWriter();
  w.begin(1, 2, 3, 1500);
  build(w);
  const r = new PacketReader();
  expect(r.read(w.finish())).toBe(true);
  return r;
}

describe('chunk codec', () => {
  it('DATA round trip with U/B/E/I flags, user data as a view', () => {
    const r = one((w) => w.addData({ tsn: 0xfffffffe, streamId: 7, ssn: 65535, ppid: 11, unordered: true, beginning: true, ending: false, immediate: true, userData: Uint8Array.of(1, 2, 3) }));
    const d = decodeData(r.bytes, r.offsets[0]!, r.lengths[0]!)!;
    expect(d).toMatchObject({ tsn: 0xfffffffe, streamId: 7, ssn: 65535, ppid: 11, unordered: true, beginning: true, ending: false, immediate: true });
    expect(Array.from(d.userData)).toEqual([1, 2, 3]);
    expect(d.userData.buffer).toBe(r.bytes.buffer);
  });
  it('SACK round trip; lying counts and disordered gap blocks are rejected', () => {
    const sack = { cumulativeTsnAck: 100, advertisedReceiverWindow: 5000, gapAckBlocks: [[2, 3], [5, 9]] as Array<[number, number]>, duplicateTsns: [99] };
    const r = one((w) => w.addSack(sack));
    expect(decodeSack(r.bytes, r.offsets[0]!, r.lengths[0]!)).toEqual(sack);
    const bytes = Uint8Array.from(r.bytes);
    bytes[12 + 13] = 50; // 50 gap blocks claimed
    expect(decodeSack(bytes, 12, r.lengths[0]!)).toBeUndefined();
    const bad = one((w) => w.addSack({ ...sack, gapAckBlocks: [[5, 9], [2, 3]] }));
    expect(decodeSack(bad.bytes, 12, bad.lengths[0]!)).toBeUndefined();
  });
  it('INIT parameters: addresses v4/v6, cookie, lying parameter length', () => {
    const v4 = Uint8Array.of(0, 5, 0, 8, 192, 0, 2, 1);
    const v6 = Uint8Array.of(0, 6, 0, 20, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    const cookie = Uint8Array.of(0, 7, 0, 7, 9, 9, 9);
    const r = one((w) => w.addInit(ChunkType.INIT_ACK, 5, 1500, 2, 3, 77, [v4, v6, cookie]));
    const init = decodeInit(r.bytes, 12, r.lengths[0]!)!;
    expect(init).toMatchObject({ initiateTag: 5, advertisedReceiverWindow: 1500, outboundStreams: 2, inboundStreams: 3, initialTsn: 77, addresses: ['192.0.2.1', '2001:db8::1'], invalid: undefined });
    expect(Array.from(init.stateCookie!)).toEqual([9, 9, 9]);
    const lying = Uint8Array.from(r.bytes);
    lying[12 + 20 + 3] = 200;
    expect(decodeInit(lying, 12, r.lengths[0]!)!.invalid).toBe('parameter length');
  });
  it('error causes; a lying cause length gives undefined', () => {
    const r = one((w) => w.addCauses(ChunkType.ERROR, 0, [Uint8Array.of(0, 1, 0, 8, 0, 3, 0, 0), Uint8Array.of(0, 12, 0, 5, 65)]));
    expect(decodeErrorCauses(r.bytes, 12, r.lengths[0]!)!.map((c) => c.code)).toEqual([1, 12]);
    const bytes = Uint8Array.from(r.bytes);
    bytes[12 + 4 + 3] = 60;
    expect(decodeErrorCauses(bytes, 12, r.lengths[0]!)).toBeUndefined();
  });
  it('action bits of unknown types', () => {
    expect(unrecognizedChunkAction(0x3f)).toBe(UnrecognizedAction.STOP);
    expect(unrecognizedChunkAction(0x40)).toBe(UnrecognizedAction.STOP_REPORT);
    expect(unrecognizedChunkAction(0x80)).toBe(UnrecognizedAction.SKIP);
    expect(unrecognizedChunkAction(0xc1)).toBe(UnrecognizedAction.SKIP_REPORT);
    expect(unrecognizedParameterAction(0xc000)).toBe(UnrecognizedAction.SKIP_REPORT);
  });
  it('the reader rejects short packets and trailing garbage shorter than a chunk is ignored', () => {
    const r = new PacketReader();
    expect(r.read(new Uint8Array(12))).toBe(false);
    const w = new PacketWriter();
    w.begin(1, 2, 3, 1500);
    w.addEmpty(ChunkType.COOKIE_ACK);
    expect(r.read(w.finish(), false)).toBe(true);
    expect(r.count).toBe(1);
  });
});

describe('decodeSack into a reused record', () => {
  /** A SACK chunk with `gaps` gap blocks (2n+1..2n+1 each) and no duplicate TSNs. */
  const sackWithGaps = (gaps: number): Uint8Array => {
    const b = new Uint8Array(16 + gaps * 4);
    const v = new DataView(b.buffer);
    v.setUint8(0, ChunkType.SACK);
    v.setUint16(2, b.length);
    v.setUint32(4, 1000);
    v.setUint32(8, 65_536);
    v.setUint16(12, gaps);
    for (let i = 0; i < gaps; i++) {
      v.setUint16(16 + i * 4, 2 * i + 2);
      v.setUint16(18 + i * 4, 2 * i + 2);
    }
    return b;
  };
  const scratch = () => ({ cumulativeTsnAck: 0, advertisedReceiverWindow: 0, gapAckBlocks: [] as Array<[number, number]>, duplicateTsns: [] as number[] });

  it('fills the record for an ordinary SACK', () => {
    const into = scratch();
    const s = decodeSack(sackWithGaps(3), 0, 28, into)!;
    expect(s).toBe(into);
    expect(s.gapAckBlocks).toEqual([[2, 2], [4, 4], [6, 6]]);
  });

  it('a SACK with more gap blocks than a record keeps is decoded into fresh arrays: the record stays small', () => {
    const into = scratch();
    decodeSack(sackWithGaps(3), 0, 28, into);
    const big = sackWithGaps(10_000);
    const s = decodeSack(big, 0, big.length, into)!;
    expect(s).not.toBe(into);
    expect(s.gapAckBlocks).toHaveLength(10_000);
    expect(s.cumulativeTsnAck).toBe(1000);
    expect(into.gapAckBlocks).toHaveLength(3);
  });
});
