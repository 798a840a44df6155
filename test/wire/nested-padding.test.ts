// Lengths around a nested TLV's padding. RFC 5354 §2: a parent parameter's Length counts the
// padding between its nested parameters but not the last one; RSPLIB's Lengths (message and
// parameters) cover the final padding too. Whatever mix arrives decodes to a message that
// re-encodes and decodes to itself; a message in one form throughout re-encodes byte for byte.
import { describe, expect, it } from 'vitest';
import {
  AsapType,
  Cause,
  decodeMessage,
  encodeMessage,
  EnrpType,
  errorCause,
  ParamType,
  type Message,
  type Protocol,
} from '../../src/wire/index.js';
import { fromHex, toHex } from './samples.js';

/** Encoded bytes and how many padding bytes they end with beyond their Length. */
interface Piece {
  bytes: Uint8Array;
  pad: number;
}

const raw = (hex: string): Piece => ({ bytes: fromHex(hex), pad: 0 });

/**
 * A TLV (or, with `type << 8`, a message header with flags 0) around `pieces`, padded to 4
 * bytes. `covers`: its Length includes the padding its last nested TLV ends with (RSPLIB's
 * form); otherwise it stops where that TLV's value ends (RFC 5354 §2).
 */
function tlv(type: number, pieces: Piece[], covers: boolean): Piece {
  const body = Buffer.concat(pieces.map((p) => p.bytes));
  const inner = pieces.length === 0 ? 0 : pieces[pieces.length - 1]!.pad;
  const len = 4 + body.length - (covers ? 0 : inner);
  const total = (4 + body.length + 3) & ~3;
  const bytes = new Uint8Array(total);
  bytes[0] = type >>> 8;
  bytes[1] = type & 0xff;
  bytes[2] = len >>> 8;
  bytes[3] = len & 0xff;
  bytes.set(body, 4);
  return { bytes, pad: total - len };
}

/** Decodes, re-encodes and decodes again; the two messages must be equal. */
function roundTrip(protocol: Protocol, bytes: Uint8Array): { message: Message; again: Uint8Array } {
  const r = decodeMessage(protocol, bytes);
  if (!r.ok) throw new Error(`${r.error.reason} at ${r.error.offset}: ${toHex(bytes)}`);
  const again = encodeMessage(r.message);
  const r2 = decodeMessage(protocol, again);
  expect(r2.ok).toBe(true);
  if (r2.ok) expect(r2.message).toEqual(r.message);
  return { message: r.message, again };
}

const ids = raw('00000000 00000000');
/** An error cause with 5 bytes of information: Cause Length 9, then 3 bytes of padding. */
const cause = (covers: boolean): Piece => tlv(Cause.UnspecifiedError, [raw('0000000000')], covers);
const operationError = (covers: boolean): Piece => tlv(ParamType.OperationError, [cause(covers)], covers);

describe('nested padding and the Length forms', () => {
  it('regression (fast-check seed -279007027): ENRP_ERROR whose Operation Error Length covers its cause padding', () => {
    const bytes = tlv(EnrpType.Error << 8, [ids, operationError(true)], true).bytes;
    expect(toHex(bytes)).toBe(toHex(new Uint8Array([10, 0, 0, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 16, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0])));
    const { message, again } = roundTrip('enrp', bytes);
    expect(message.paddedLength).toBe(true);
    expect(toHex(again)).toBe(toHex(bytes));
  });

  it('regression: Operation Error Length in RFC form inside a message Length that covers the padding', () => {
    // 0a00001c ... 000c000d 00000009 ...: the mix decodes as RSPLIB's form and stays there.
    const bytes = tlv(EnrpType.Error << 8, [ids, operationError(false)], true).bytes;
    expect((bytes[14]! << 8) | bytes[15]!).toBe(13);
    expect((bytes[2]! << 8) | bytes[3]!).toBe(28);
    const { message, again } = roundTrip('enrp', bytes);
    expect(message.paddedLength).toBe(true);
    expect(toHex(again)).toBe(toHex(tlv(EnrpType.Error << 8, [ids, operationError(true)], true).bytes));
  });

  it('RFC form throughout decodes with paddedLength false and re-encodes byte for byte', () => {
    const bytes = tlv(EnrpType.Error << 8, [ids, operationError(false)], false).bytes;
    expect((bytes[2]! << 8) | bytes[3]!).toBe(25);
    const { message, again } = roundTrip('enrp', bytes);
    expect(message.paddedLength).toBe(false);
    expect(toHex(again)).toBe(toHex(bytes));
  });

  it('a new message is encoded per RFC 5354 §2: the Operation Error Length excludes its last cause padding', () => {
    const m: Message = {
      protocol: 'enrp',
      type: EnrpType.Error,
      flags: 0,
      paddedLength: false,
      unknownParams: null,
      senderId: 0,
      receiverId: 0,
      error: { causes: [errorCause(Cause.UnspecifiedError, new Uint8Array(5))] },
    };
    const bytes = encodeMessage(m);
    expect(toHex(bytes)).toBe('0a000019' + '00000000' + '00000000' + '000c000d' + '00000009' + '0000000000' + '000000');
    expect(toHex(bytes)).toBe(toHex(tlv(EnrpType.Error << 8, [ids, operationError(false)], false).bytes));
  });

  const asapCarriers: { name: string; type: number; fixed: Piece[] }[] = [
    { name: 'ASAP_ERROR', type: AsapType.Error, fixed: [] },
    {
      name: 'ASAP_REGISTRATION_RESPONSE',
      type: AsapType.RegistrationResponse,
      fixed: [tlv(ParamType.PoolHandle, [raw('41')], false), tlv(ParamType.PeIdentifier, [raw('00000007')], false)],
    },
  ];
  for (const { name, type, fixed } of asapCarriers) {
    it(`${name}: an Operation Error in every Length form`, () => {
      for (const errorCovers of [false, true]) {
        for (const messageCovers of [false, true]) {
          const bytes = tlv(type << 8, [...fixed, operationError(errorCovers)], messageCovers).bytes;
          const { message, again } = roundTrip('asap', bytes);
          const rsplib = errorCovers || messageCovers;
          expect(message.paddedLength).toBe(rsplib);
          // One form throughout: byte for byte; a mix: RSPLIB's form.
          expect(toHex(again)).toBe(toHex(tlv(type << 8, [...fixed, operationError(rsplib)], rsplib).bytes));
        }
      }
    });
  }

  // A Pool Element ends with its policy (or ASAP transport). A policy of a type this codec
  // does not know keeps its value raw, so it may end unaligned.
  const udp = tlv(ParamType.UdpTransport, [raw('1f90 0000'), tlv(ParamType.Ipv4Address, [raw('0a4d0015')], false)], false);
  const policyOf = (rawHex: string): Piece => tlv(ParamType.PoolMemberSelectionPolicy, [raw('7fff0001'), raw(rawHex)], false);
  const poolElement = (id: string, policy: Piece, covers: boolean): Piece =>
    tlv(ParamType.PoolElement, [raw(id + '00000000 00000000'), udp, policy], covers);
  const handle = tlv(ParamType.PoolHandle, [raw('4563686f')], false);

  it('ASAP_REGISTRATION: a Pool Element whose last policy value is unaligned, in every Length form', () => {
    for (const peCovers of [false, true]) {
      for (const messageCovers of [false, true]) {
        const bytes = tlv(AsapType.Registration << 8, [handle, poolElement('00000001', policyOf('aa'), peCovers)], messageCovers).bytes;
        const { message, again } = roundTrip('asap', bytes);
        const rsplib = peCovers || messageCovers;
        expect(message.paddedLength).toBe(rsplib);
        expect(toHex(again)).toBe(toHex(tlv(AsapType.Registration << 8, [handle, poolElement('00000001', policyOf('aa'), rsplib)], rsplib).bytes));
      }
    }
  });

  it('a covered padding in a Pool Element that is not the last parameter (ASAP_BUSINESS_CARD, ENRP_HANDLE_TABLE_RESPONSE)', () => {
    for (const covers of [false, true]) {
      const pes = [poolElement('00000001', policyOf('aa'), covers), poolElement('00000002', policyOf(''), covers)];
      const card = tlv(AsapType.BusinessCard << 8, [handle, ...pes], covers).bytes;
      const a = roundTrip('asap', card);
      expect(a.message.paddedLength).toBe(covers);
      expect(toHex(a.again)).toBe(toHex(card));
      const table = tlv(EnrpType.HandleTableResponse << 8, [ids, handle, ...pes], covers).bytes;
      const e = roundTrip('enrp', table);
      expect(e.message.paddedLength).toBe(covers);
      expect(toHex(e.again)).toBe(toHex(table));
    }
  });

  it('ENRP_PRESENCE: Server Information whose transport is followed by a skipped unknown TLV', () => {
    const sctp = tlv(ParamType.SctpTransport, [raw('26ad 0001'), tlv(ParamType.Ipv4Address, [raw('0a4d000b')], false)], false);
    const unknown = tlv(0x8123, [raw('ee')], false);
    for (const covers of [false, true]) {
      const si = tlv(ParamType.ServerInformation, [raw('11111111'), sctp, unknown], covers);
      const bytes = tlv(EnrpType.Presence << 8, [ids, si], covers).bytes;
      const { message, again } = roundTrip('enrp', bytes);
      // The skipped TLV is not kept: the last kept value (the address) is aligned.
      expect(message.paddedLength).toBe(false);
      expect(toHex(again)).toBe(toHex(tlv(EnrpType.Presence << 8, [ids, tlv(ParamType.ServerInformation, [raw('11111111'), sctp], false)], false).bytes));
    }
  });

  it('ASAP_SERVER_ANNOUNCE: a transport ending with a skipped unknown TLV, and an unaligned opaque transport', () => {
    const unknown = tlv(0x8123, [raw('ee')], false);
    const address = tlv(ParamType.Ipv4Address, [raw('0a4d000b')], false);
    for (const covers of [false, true]) {
      const sctp = tlv(ParamType.SctpTransport, [raw('0f1f 0001'), address, unknown], covers);
      const bytes = tlv(AsapType.ServerAnnounce << 8, [raw('11111111'), sctp], covers).bytes;
      const { message } = roundTrip('asap', bytes);
      expect(message.paddedLength).toBe(false);

      const opaque = tlv(ParamType.OpaqueTransport, [raw('0102030405')], false);
      const withOpaque = tlv(AsapType.ServerAnnounce << 8, [raw('11111111'), opaque], covers).bytes;
      const o = roundTrip('asap', withOpaque);
      expect(o.message.paddedLength).toBe(covers);
      expect(toHex(o.again)).toBe(toHex(withOpaque));
    }
  });
});
