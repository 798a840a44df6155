// Round-trip properties over every message and parameter type (RFC 5352, 5353, 5354).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  describeMessage,
  encodeEndpointKeepAlive,
  encodeHandleResolutionResponse,
  encodeMessage,
  encodeRegistrationAccepted,
  encodePoolElement,
  AsapFlag,
  AsapType,
  Writer,
  type Message,
} from '../../src/wire/index.js';
import { message, poolElement, poolHandle, policy } from './arbitraries.js';
import { toHex } from './samples.js';

describe('round trip', () => {
  it('decode(encode(m)) deep-equals m for arbitrary messages', () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encodeMessage(m);
        expect(bytes.length % 4).toBe(0);
        const r = decodeMessage(m.protocol, bytes);
        if (!r.ok) throw new Error(`${r.error.reason} at ${r.error.offset}: ${toHex(bytes)}`);
        expect(r.message).toEqual(m);
        expect(r.unrecognized).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('encode(decode(bytes)) = bytes, in both Length forms', () => {
    fc.assert(
      fc.property(message, fc.boolean(), (m, padded) => {
        const bytes = encodeMessage({ ...m, paddedLength: padded } as Message);
        const r = decodeMessage(m.protocol, bytes);
        expect(r.ok).toBe(true);
        if (r.ok) expect(toHex(encodeMessage(r.message))).toBe(toHex(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes into a shared writer: messages are appended and views stay valid until reset', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), (ms) => {
        const w = new Writer(16);
        const views = ms.map((m) => encodeMessage(m, w));
        const copies = ms.map((m) => toHex(encodeMessage(m)));
        expect(views.map(toHex)).toEqual(copies);
        expect(toHex(w.finish())).toBe(copies.join(''));
        w.reset();
        expect(w.finish().length).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('a handle resolution response from cached PE bytes equals the one from objects', () => {
    fc.assert(
      fc.property(poolHandle, fc.option(policy, { nil: null }), fc.array(poolElement, { maxLength: 6 }), fc.integer({ min: 0, max: 255 }), (ph, pol, pes, flags) => {
        const fromObjects = encodeMessage({ protocol: 'asap', type: AsapType.HandleResolutionResponse, flags, paddedLength: false, unknownParams: null, poolHandle: ph, policy: pol, poolElements: pes, error: null });
        const w = new Writer(8);
        const cached = pes.map(encodePoolElement);
        expect(toHex(encodeHandleResolutionResponse(w, flags, ph, pol, cached))).toBe(toHex(fromObjects));
      }),
      { numRuns: 1000 },
    );
  });

  it('the keep-alive and accepting registration response encoders make the bytes encodeMessage makes', () => {
    fc.assert(
      fc.property(poolHandle, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (ph, serverId, peId, home) => {
        const flags = home ? AsapFlag.Home : 0;
        const w = new Writer(8);
        w.u32(0xdeadbeef); // appended after what the writer holds
        const keepAlive = encodeMessage({ protocol: 'asap', type: AsapType.EndpointKeepAlive, flags, paddedLength: false, unknownParams: null, serverId, poolHandle: ph, peId });
        expect(toHex(encodeEndpointKeepAlive(w, flags, serverId, ph, peId))).toBe(toHex(keepAlive));
        const accepted = encodeMessage({ protocol: 'asap', type: AsapType.RegistrationResponse, flags: 0, paddedLength: false, unknownParams: null, poolHandle: ph, peId, error: null });
        expect(toHex(encodeRegistrationAccepted(w, ph, peId))).toBe(toHex(accepted));
      }),
      { numRuns: 1000 },
    );
  });

  it('describeMessage is JSON for every message', () => {
    fc.assert(
      fc.property(message, (m) => {
        const d = describeMessage(m);
        expect(JSON.parse(JSON.stringify(d))).toEqual(d);
      }),
      { numRuns: 500 },
    );
  });
});
