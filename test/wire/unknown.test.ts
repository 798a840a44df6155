// Unrecognized parameters (RFC 5354 §3 action bits) and message types (RFC 5354 §4).
import { describe, expect, it } from 'vitest';
import { AsapType, Cause, decodeMessage, encodeMessage, EnrpType, ParamAction } from '../../src/wire/index.js';
import { fromHex, toHex } from './samples.js';

const PH = '0009000c 4563686f 506f6f6c'; // pool handle "EchoPool"

describe('unrecognized parameter action bits (RFC 5354 §3)', () => {
  const cases = [
    { type: '0ffe', action: ParamAction.Stop, discard: true, report: false },
    { type: '4ffe', action: ParamAction.StopAndReport, discard: true, report: true },
    { type: '8ffe', action: ParamAction.Skip, discard: false, report: false },
    { type: 'cffe', action: ParamAction.SkipAndReport, discard: false, report: true },
  ];
  for (const c of cases) {
    it(`${c.type}: ${['stop', 'stop and report', 'skip', 'skip and report'][c.action]}`, () => {
      const unknown = `${c.type}0007 aabbcc00`;
      const bytes = fromHex(`05000020 ${PH} ${unknown} 803f0008 00000003`);
      const r = decodeMessage('asap', bytes);
      expect(r.ok).toBe(true);
      if (!r.ok || r.message.type !== AsapType.HandleResolution) return;
      expect(r.discard).toBe(c.discard);
      expect(r.unrecognized.map(toHex)).toEqual(c.report ? [`${c.type}0007aabbcc`] : []);
      expect(new TextDecoder().decode(r.message.poolHandle)).toBe('EchoPool');
      expect(r.message.items).toBe(3);
      expect(r.message.unknownParams!.map((u) => [u.position, toHex(u.bytes)])).toEqual([[1, `${c.type}0007aabbcc`]]);
      // Kept in place, so re-encoding is byte-identical.
      expect(toHex(encodeMessage(r.message))).toBe(toHex(bytes));
    });
  }

  it('several unknown parameters, first and last, keep their positions', () => {
    const bytes = fromHex(`05000024 8ffe0008 00000001 ${PH} cffe0005 01000000 0ffe0004`);
    const r = decodeMessage('asap', bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.discard).toBe(true);
    expect(r.unrecognized.map(toHex)).toEqual(['cffe000501']);
    expect(r.message.unknownParams!.map((u) => u.position)).toEqual([0, 2, 3]);
    expect(toHex(encodeMessage(r.message))).toBe(toHex(bytes));
  });

  it('a message discarded at a "stop" parameter that is malformed afterwards reports the parameter', () => {
    // 0x4ffe (stop and report), then a PE Identifier with a bad length.
    const bytes = fromHex(`02000018 4ffe0008 deadbeef ${'0009000c 4563686f'} 000e0005`);
    bytes[3] = bytes.length;
    const r = decodeMessage('asap', bytes);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.cause).toBe(Cause.UnrecognizedParameter);
    expect(r.error.offset).toBe(4);
    expect(r.error.report).toBe(true);
    expect(toHex(r.error.offending!)).toBe('4ffe0008deadbeef');
  });

  it('unknown parameters nested in a pool element follow the same bits', () => {
    // Registration whose PE's SCTP transport carries an extra 0xc123 TLV after its address.
    const bytes = fromHex(`01000044 00090008 706f6f6c
      000a0034 00000001 00000000 0000001e
        00040018 13880001 00010008 0a000001 c1230008 01020304
        0008000c 00000002 00000005`);
    bytes[3] = bytes.length;
    const r = decodeMessage('asap', bytes);
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.type !== AsapType.Registration) return;
    expect(r.discard).toBe(false);
    expect(r.unrecognized.map(toHex)).toEqual(['c123000801020304']);
    expect(r.message.poolElement.userTransport.addresses.length).toBe(1);
  });

  it('ENRP messages keep unknown parameters after their fixed fields', () => {
    const bytes = fromHex('07000018 11111111 22222222 33333333 80010008 00000000');
    const r = decodeMessage('enrp', bytes);
    expect(r.ok && r.message.type === EnrpType.InitTakeover && r.message.targetServerId).toBe(0x33333333);
    if (r.ok) expect(toHex(encodeMessage(r.message))).toBe(toHex(bytes));
  });

  it('a known parameter where the message does not allow it is Invalid Values', () => {
    const r = decodeMessage('asap', fromHex(`05000018 ${PH} 000e0008 00000001`));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.cause).toBe(Cause.InvalidValues);
      expect(r.error.offset).toBe(16);
      expect(toHex(r.error.offending!)).toBe('000e000800000001');
    }
  });
});

describe('unrecognized message types (RFC 5354 §4)', () => {
  const cases = [
    { type: 0x0f, report: false },
    { type: 0x4f, report: true },
    { type: 0x8f, report: false },
    { type: 0xcf, report: false },
    { type: 0x00, report: false },
  ];
  for (const protocol of ['asap', 'enrp'] as const) {
    for (const c of cases) {
      it(`${protocol} type 0x${c.type.toString(16)}: ${c.report ? 'discard and report' : 'discard'}`, () => {
        const bytes = fromHex(`${c.type.toString(16).padStart(2, '0')}00000c 11111111 22222222`);
        const r = decodeMessage(protocol, bytes);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.error.cause).toBe(Cause.UnrecognizedMessage);
        expect(r.error.report).toBe(c.report);
        expect(r.error.offset).toBe(0);
        // The Unrecognized Message cause carries the whole message (RFC 5354 §3.12.3).
        expect(toHex(r.error.offending!)).toBe(toHex(bytes));
      });
    }
  }

  it('ASAP 0x0e is known to ASAP, ENRP 0x0b is not', () => {
    expect(decodeMessage('asap', fromHex('0e000004')).ok).toBe(false);
    const r = decodeMessage('enrp', fromHex('0b00000c 00000000 00000000'));
    expect(!r.ok && r.error.cause).toBe(Cause.UnrecognizedMessage);
  });
});
