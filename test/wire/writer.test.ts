// The growable Writer and the address helpers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressToString, parseAddress, padding, ParamType, Writer, writeBytesParam } from '../../src/wire/index.js';
import { toHex } from './samples.js';

describe('Writer', () => {
  it('grows by doubling and keeps what was written', () => {
    const w = new Writer(16);
    for (let i = 0; i < 1000; i++) w.u32(i);
    expect(w.buf.length).toBe(4096);
    const out = w.finish();
    expect(out.length).toBe(4000);
    expect(new DataView(out.buffer, out.byteOffset).getUint32(4 * 999)).toBe(999);
    expect(out.buffer).toBe(w.buf.buffer);
  });

  it('is reusable after reset, and pads with zeros over old content', () => {
    const w = new Writer(16);
    w.u32(0xffffffff);
    w.u32(0xffffffff);
    w.reset();
    writeBytesParam(w, ParamType.Cookie, new Uint8Array([1]));
    expect(toHex(w.finish())).toBe('000d000501000000');
    expect(w.lastPad).toBe(3);
  });

  it('padding() is 0..3 up to a multiple of 4', () => {
    expect([0, 1, 2, 3, 4, 5].map(padding)).toEqual([0, 3, 2, 1, 0, 3]);
  });
});

describe('addresses', () => {
  it('formats and parses IPv4 and IPv6', () => {
    expect(addressToString(parseAddress('10.77.0.11')!)).toBe('10.77.0.11');
    expect(addressToString(parseAddress('2001:db8::1')!)).toBe('2001:db8::1');
    expect(addressToString(parseAddress('::')!)).toBe('::');
    expect(addressToString(parseAddress('::ffff:10.0.0.1')!)).toBe('::ffff:10.0.0.1');
    expect(addressToString(parseAddress('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3');
    expect(parseAddress('1.2.3')).toBeNull();
    expect(parseAddress('256.1.1.1')).toBeNull();
    expect(parseAddress('1::2::3')).toBeNull();
    expect(parseAddress('1:2:3:4:5:6:7:8:9')).toBeNull();
  });

  it('round-trips any 16-byte address through text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
        expect(parseAddress(addressToString(a))).toEqual(a);
      }),
    );
  });
});
