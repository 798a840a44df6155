// Framing ASAP messages on a byte stream by their Message Length (RFC 5352 §2, §6): split and
// coalesced messages, lengths that lie, oversize, garbage. The framer never throws and never
// holds more than one message.
import { describe, expect, it } from 'vitest';
import { framedSize, MessageFramer } from '../../src/transport/stream-framing.js';
import { AsapType, encodeMessage, decodeAsap } from '../../src/wire/index.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** A HANDLE_RESOLUTION for `pool` (a real ASAP message whose length the encoder wrote). */
function resolution(pool: string): Uint8Array {
  return encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: new TextEncoder().encode(pool), items: null });
}

function header(type: number, length: number, bodyBytes = 0): Uint8Array {
  const m = new Uint8Array(4 + bodyBytes);
  m[0] = type;
  m[2] = length >> 8;
  m[3] = length & 0xff;
  return m;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function feed(framer: MessageFramer, chunks: Uint8Array[]): { messages: Uint8Array[]; errors: unknown[] } {
  const messages: Uint8Array[] = [];
  const errors: unknown[] = [];
  for (const c of chunks) {
    const e = framer.push(c, (m) => messages.push(m.slice()));
    if (e !== null) errors.push(e);
  }
  return { messages, errors };
}

describe('MessageFramer', () => {
  const a = resolution('pool-a');
  const b = resolution('a-longer-pool-handle-b');
  const c = resolution('c');
  const stream = concat(a, b, c);

  it('coalesced messages in one chunk come out one by one, each decoding', () => {
    const { messages, errors } = feed(new MessageFramer(), [stream]);
    expect(errors).toEqual([]);
    expect(messages).toEqual([a, b, c]);
    expect(messages.map((m) => decodeAsap(m).ok)).toEqual([true, true, true]);
  });

  it('every split of the stream (byte by byte, headers cut in two, random cuts) gives the same messages', () => {
    const byByte = feed(new MessageFramer(), [...stream].map((x) => Uint8Array.of(x)));
    expect(byByte.messages).toEqual([a, b, c]);
    for (let cut = 1; cut < stream.byteLength; cut++) {
      const r = feed(new MessageFramer(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(r.messages, `cut at ${cut}`).toEqual([a, b, c]);
    }
    const random = seededRandom(12);
    for (let round = 0; round < 200; round++) {
      const chunks: Uint8Array[] = [];
      for (let o = 0; o < stream.byteLength; ) {
        const n = 1 + Math.floor(random() * 40);
        chunks.push(stream.subarray(o, o + n));
        o += n;
      }
      expect(feed(new MessageFramer(), chunks).messages).toEqual([a, b, c]);
    }
  });

  it('a bare 4-byte message (length 4) is a message; length 5 takes 8 bytes', () => {
    const five = header(AsapType.Error, 5, 4);
    expect(feed(new MessageFramer(), [concat(five, five)]).messages).toEqual([five, five]);
    const m = header(AsapType.Error, 4);
    expect(feed(new MessageFramer(), [m, m.subarray(0, 2), m.subarray(2)]).messages).toEqual([m, m]);
  });

  it('a length under the header (0..3) stops the framer, after the messages before it, and it stays stopped', () => {
    for (const length of [0, 1, 2, 3]) {
      const framer = new MessageFramer();
      const { messages, errors } = feed(framer, [concat(a, header(AsapType.Registration, length, 8)), b]);
      expect(messages).toEqual([a]);
      expect(errors).toEqual([{ kind: 'short-length', length, type: AsapType.Registration }, { kind: 'short-length', length, type: AsapType.Registration }]);
      expect(framer.buffered).toBe(0);
    }
  });

  it('a length over the limit is refused before its body is held', () => {
    const framer = new MessageFramer(1000);
    const big = header(AsapType.Registration, 1001, 1);
    const { errors } = feed(framer, [big.subarray(0, 3), big.subarray(3)]);
    expect(errors).toEqual([{ kind: 'oversize', length: 1001, type: AsapType.Registration }]);
    expect(framer.buffered).toBe(0);
    // The limit itself is fine.
    const ok = new MessageFramer(1000);
    const exact = header(AsapType.Registration, 1000, 996); // 1000 is a multiple of 4
    expect(feed(ok, [exact]).messages).toHaveLength(1);
  });

  it('a length that lies high holds at most that message and waits; the bytes after it become its body', () => {
    const framer = new MessageFramer();
    const liar = header(AsapType.HandleResolution, 200); // says 200, brings 4
    const { messages, errors } = feed(framer, [liar, a]);
    expect(errors).toEqual([]);
    expect(messages).toEqual([]);
    expect(framer.buffered).toBe(4 + a.byteLength);
    // Once 200 bytes are in, that "message" is delivered (and fails to decode: the registrar answers it).
    const rest = new Uint8Array(200 - 4 - a.byteLength);
    const done = feed(framer, [rest]);
    expect(done.messages).toHaveLength(1);
    expect(done.messages[0]!.byteLength).toBe(200);
    expect(framer.buffered).toBe(0);
  });

  it('a header claiming 65,535 bytes holds only what arrived, not what it claims', () => {
    const framer = new MessageFramer();
    const delivered: Uint8Array[] = [];
    expect(framer.push(new Uint8Array([AsapType.HandleResolution, 0, 0xff, 0xff]), (m) => delivered.push(m))).toBeNull();
    expect(framer.buffered).toBe(4);
    expect(framer.push(new Uint8Array(100), (m) => delivered.push(m))).toBeNull();
    expect(framer.buffered).toBe(104);
    expect(delivered).toEqual([]);
  });

  it('a length that lies low cuts the message; the remainder is read as the next header', () => {
    const framer = new MessageFramer();
    const cut = a.slice();
    cut[3] = 8; // a HANDLE_RESOLUTION that says 8 bytes
    const { messages } = feed(framer, [cut]);
    expect(messages[0]!.byteLength).toBe(8);
    expect(decodeAsap(messages[0]!).ok).toBe(false);
  });

  it('garbage never throws, never holds more than the limit, and whatever it delivers has the length its header says', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 300; round++) {
      const framer = new MessageFramer(random() < 0.25 ? 0xffff : 512);
      let stopped = false;
      for (let i = 0; i < 20 && !stopped; i++) {
        const chunk = new Uint8Array(1 + Math.floor(random() * 700));
        for (let j = 0; j < chunk.length; j++) chunk[j] = Math.floor(random() * 256);
        const e = framer.push(chunk, (m) => {
          expect(framedSize((m[2]! << 8) | m[3]!)).toBe(m.byteLength);
          expect(m.byteLength).toBeLessThanOrEqual(framer.maxMessageBytes + 3);
        });
        expect(framer.buffered).toBeLessThanOrEqual(framer.maxMessageBytes + 3);
        stopped = e !== null;
      }
    }
  });

  it('refuses a limit outside 4..65535', () => {
    expect(() => new MessageFramer(3)).toThrow(RangeError);
    expect(() => new MessageFramer(0x10000)).toThrow(RangeError);
  });

  it('a message takes its Message Length rounded up to 4 (RFC 5354: the final padding is sent, not counted)', () => {
    // 'pool-a' leaves 2 bytes of padding, 'c' 3: lengths 14 and 9, messages of 16 and 12 bytes.
    expect([a, c].map((m) => [(m[2]! << 8) | m[3]!, m.byteLength])).toEqual([[14, 16], [9, 12]]);
    for (const m of [a, b, c]) expect(framedSize((m[2]! << 8) | m[3]!)).toBe(m.byteLength);
    // RSPLIB's form counts the padding: the same bytes frame the same way.
    const rsplib = a.slice();
    rsplib[3] = 16;
    expect(feed(new MessageFramer(), [concat(rsplib, b)]).messages).toEqual([rsplib, b]);
  });
});
