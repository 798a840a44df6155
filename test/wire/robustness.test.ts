// Hostile input: flips, truncations, corrupt lengths, garbage, deep nesting. The decoder
// never throws, terminates, and answers with a typed error (RFC 5354 cause + offset inside
// the input), or with a message that re-encodes and re-decodes to itself.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Cause,
  decodeMessage,
  describeMessage,
  encodeMessage,
  isKnownCause,
  type DecodeResult,
  type Protocol,
} from '../../src/wire/index.js';
import { message } from './arbitraries.js';
import { fromHex, samples, toHex } from './samples.js';

// FC_SEED=<n> replays one seed (e.g. a CI failure's) or sweeps seeds from a shell loop.
if (process.env['FC_SEED'] !== undefined) fc.configureGlobal({ seed: Number(process.env['FC_SEED']) });

function check(protocol: Protocol, bytes: Uint8Array): DecodeResult {
  let r!: DecodeResult;
  expect(() => (r = decodeMessage(protocol, bytes))).not.toThrow();
  if (!r.ok) {
    const e = r.error;
    expect(isKnownCause(e.cause), `cause ${e.cause}`).toBe(true);
    expect(Number.isInteger(e.offset)).toBe(true);
    expect(e.offset).toBeGreaterThanOrEqual(0);
    if (bytes.length > 0) expect(e.offset).toBeLessThan(bytes.length);
    else expect(e.offset).toBe(0);
    expect(typeof e.reason).toBe('string');
    if (e.offending !== null) {
      // The offending bytes are a view of the input, never a copy.
      expect(e.offending.buffer).toBe(bytes.buffer);
      expect(e.offending.byteOffset + e.offending.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length);
    }
  } else {
    // Anything accepted is stable: re-encoding and decoding gives the same message.
    const again = encodeMessage(r.message);
    const r2 = decodeMessage(protocol, again);
    expect(r2.ok).toBe(true);
    if (r2.ok) expect(r2.message).toEqual(r.message);
    expect(() => JSON.stringify(describeMessage(r.message))).not.toThrow();
  }
  return r;
}

const seeds = fc.oneof(
  fc.constantFrom(...samples.map((s) => ({ protocol: s.protocol, bytes: fromHex(s.payload_hex) }))),
  message.map((m) => ({ protocol: m.protocol, bytes: encodeMessage(m) })),
);

describe('hostile input', () => {
  it('random byte flips', () => {
    fc.assert(
      fc.property(seeds, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), ({ protocol, bytes }, flips) => {
        const b = bytes.slice();
        for (const [i, v] of flips) b[i % b.length] = v;
        check(protocol, b);
      }),
      { numRuns: 4000 },
    );
  });

  it('every truncation of every sample', () => {
    for (const s of samples) {
      const bytes = fromHex(s.payload_hex);
      for (let n = 0; n < bytes.length; n++) {
        const r = check(s.protocol, bytes.subarray(0, n));
        // Cutting more than the final padding always breaks the message.
        if (n < bytes.length - 3) expect(r.ok).toBe(false);
      }
    }
  });

  it('random truncations and extensions', () => {
    fc.assert(
      fc.property(seeds, fc.nat(), fc.uint8Array({ maxLength: 8 }), ({ protocol, bytes }, cut, tail) => {
        check(protocol, bytes.subarray(0, cut % (bytes.length + 1)));
        const longer = new Uint8Array(bytes.length + tail.length);
        longer.set(bytes);
        longer.set(tail, bytes.length);
        check(protocol, longer);
      }),
      { numRuns: 2000 },
    );
  });

  it('corrupted length fields (message and parameter lengths)', () => {
    fc.assert(
      fc.property(seeds, fc.nat(), fc.integer({ min: 0, max: 0xffff }), ({ protocol, bytes }, at, len) => {
        const b = bytes.slice();
        const i = (at % Math.max(1, b.length >> 1)) * 2;
        if (i + 1 < b.length) {
          b[i] = len >> 8;
          b[i + 1] = len & 0xff;
        }
        check(protocol, b);
      }),
      { numRuns: 4000 },
    );
  });

  it('random garbage, with and without a plausible header', () => {
    fc.assert(
      fc.property(fc.constantFrom<Protocol>('asap', 'enrp'), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 14 }), (protocol, g, type) => {
        check(protocol, g);
        const b = new Uint8Array(g.length + 4);
        b.set(g, 4);
        b[0] = type;
        b[2] = b.length >> 8;
        b[3] = b.length & 0xff;
        check(protocol, b);
      }),
      { numRuns: 4000 },
    );
  });

  it('deeply nested parameters stay bounded', () => {
    // An Operation Error whose cause carries an Operation Error whose cause carries ... (20,000 deep).
    const inner = fromHex('00090004');
    const depth = 20_000;
    const total = inner.length + 8 * depth;
    const tlv = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < depth; i++) {
      const rest = total - at;
      // Operation Error param header, then an Invalid Values cause header.
      tlv.set([0x00, 0x0c, (rest >> 8) & 0xff, rest & 0xff, 0x00, 0x03, ((rest - 4) >> 8) & 0xff, (rest - 4) & 0xff], at);
      at += 8;
    }
    tlv.set(inner, at);
    // Lengths overflow 16 bits at this depth, so the message must be rejected, quickly.
    const msg = new Uint8Array(4 + tlv.length);
    msg.set([0x0e, 0, 0xff, 0xff]);
    msg.set(tlv, 4);
    const t0 = performance.now();
    const r = check('asap', msg);
    expect(r.ok).toBe(false);
    // A nesting that fits 16-bit lengths decodes, and describing it is bounded.
    const small = msg.subarray(0, 4 + 8 * 100 + 4);
    const smallTlv = new Uint8Array(8 * 100 + 4);
    for (let i = 0; i < 100; i++) {
      const rest = smallTlv.length - 8 * i;
      smallTlv.set([0x00, 0x0c, rest >> 8, rest & 0xff, 0x00, 0x03, (rest - 4) >> 8, (rest - 4) & 0xff], 8 * i);
    }
    smallTlv.set(fromHex('00090004'), 800);
    small.set([0x0e, 0, (small.length >> 8) & 0xff, small.length & 0xff]);
    small.set(smallTlv, 4);
    const r2 = check('asap', small);
    expect(r2.ok).toBe(true);
    expect(JSON.stringify(r2.ok && describeMessage(r2.message)).length).toBeLessThan(20_000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('many parameters: decoding time grows linearly with the input', () => {
    // 8,000 PE identifiers in one message: only one is allowed, so it fails fast and typed.
    const n = 8000;
    const b = new Uint8Array(4 + 8 * n);
    b.set([0x02, 0, (b.length >> 8) & 0xff, b.length & 0xff]);
    for (let i = 0; i < n; i++) b.set([0, 0x0e, 0, 8, 0, 0, 0, i & 0xff], 4 + 8 * i);
    const r = check('asap', b.subarray(0, 0xfff8));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.cause).toBe(Cause.InvalidValues);
  });

  it('errors name the offending parameter for Invalid Values', () => {
    // PE Identifier parameter with Length 7 instead of 8.
    const r = check('asap', fromHex('02000014 00090008 706f6f6c 000e0007 00000001'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.cause).toBe(Cause.InvalidValues);
    expect(r.error.offset).toBe(12);
    expect(toHex(r.error.offending!)).toBe('000e000700000001'.slice(0, 14));
  });
});
