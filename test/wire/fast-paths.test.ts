// The decoder's and encoder's fast paths (policy value layouts, views built without
// subarray, integer reads by byte arithmetic) give the same bytes and values as the plain
// definitions they replace: the field lists of policy-settings.ts, RFC 5354 §3 byte order.
import { describe, expect, it } from 'vitest';
import {
  AsapType,
  decodeMessage,
  encodeMessage,
  encodeParameter,
  ParamType,
  parseAddress,
  policyFields,
  policySettings,
  PolicyType,
  Reader,
  transportParameter,
  TransportUse,
  writePolicy,
  type AsapHandleResolutionResponse,
  type PolicySettings,
} from '../../src/wire/index.js';
import { policyValueLayout } from '../../src/wire/parameters.js';
import { fromHex, toHex } from './samples.js';

const u32hex = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
const handle = new TextEncoder().encode('pool');
const base = { flags: 0, paddedLength: false, unknownParams: null };

/** A policy parameter written out by hand from a field list: type, then values in order. */
function expectedPolicyHex(type: number, values: readonly number[]): string {
  const len = 8 + 4 * values.length;
  return `0008${len.toString(16).padStart(4, '0')}${u32hex(type)}${values.map(u32hex).join('')}`;
}

function responseWith(policies: PolicySettings[]): AsapHandleResolutionResponse {
  return {
    protocol: 'asap',
    type: AsapType.HandleResolutionResponse,
    ...base,
    poolHandle: handle,
    policy: policies[0]!,
    poolElements: policies.map((policy, i) => ({
      peId: i + 1,
      homeRegistrarId: 7,
      registrationLife: -1,
      userTransport: transportParameter(ParamType.SctpTransport, 1000 + i, [parseAddress('192.0.2.1')!, parseAddress('2001:db8::2')!], TransportUse.DataPlusControl),
      policy,
      asapTransport: null,
    })),
    error: null,
  };
}

describe('policy value layouts', () => {
  it('every known policy type puts its values on the wire in the order policyFields lists them', () => {
    for (const [type, fields] of policyFields) {
      const values = fields.map((_, i) => 0xa0000000 + 0x01010101 * (i + 1));
      const p = policySettings(type);
      fields.forEach((f, i) => (p[f] = values[i]!));
      expect(toHex(encodeParameter((w) => writePolicy(w, p))), `type 0x${type.toString(16)}`).toBe(expectedPolicyHex(type, values));
      const decoded = decodeMessage('asap', encodeMessage(responseWith([p])));
      expect(decoded.ok && decoded.message.type === AsapType.HandleResolutionResponse && decoded.message.policy).toEqual(p);
    }
  });

  it('decodes a message whose elements mix policy types (the last-type cache is per lookup)', () => {
    const mixed = [
      policySettings(PolicyType.LeastUsed, { load: 1 }),
      policySettings(PolicyType.WeightedRandomDpf, { weight: 2, weightDpf: 3, distance: 4 }),
      policySettings(0x12345678, { raw: fromHex('0102') }),
      policySettings(PolicyType.LeastUsed, { load: 5 }),
      policySettings(PolicyType.PriorityLeastUsedDegradationDpf, { load: 6, loadDegradation: 7, loadDpf: 8, distance: 9 }),
    ];
    const m = responseWith(mixed);
    const r = decodeMessage('asap', encodeMessage(m));
    expect(r.ok).toBe(true);
    if (r.ok && r.message.type === AsapType.HandleResolutionResponse) {
      expect(r.message.poolElements.map((pe) => pe.policy)).toEqual(mixed);
      expect(r.message.policy).toEqual(mixed[0]);
    }
  });

  it('a field list out of wire-bit order is flagged to be handled field by field', () => {
    expect(policyValueLayout(['load', 'loadDegradation']) & 0x80).toBe(0);
    expect(policyValueLayout(['load', 'loadDegradation']) >>> 8).toBe(2);
    expect(policyValueLayout(['loadDegradation', 'load']) & 0x80).toBe(0x80);
    expect(policyValueLayout(['load', 'load']) & 0x80).toBe(0x80);
    expect(policyValueLayout([])).toBe(0);
  });
});

describe('Reader fast paths', () => {
  it('reads big-endian integers, the top bit included, at any offset of a view', () => {
    const backing = fromHex('aa' + 'ffffffff' + '80000001' + '7fffffff' + 'fffe');
    const r = new Reader();
    r.reset(backing.subarray(1));
    expect(r.u32(0)).toBe(0xffffffff);
    expect(r.i32(0)).toBe(-1);
    expect(r.u32(4)).toBe(0x80000001);
    expect(r.i32(4)).toBe(-0x7fffffff);
    expect(r.i32(8)).toBe(0x7fffffff);
    expect(r.u16(12)).toBe(0xfffe);
    expect(r.u8(12)).toBe(0xff);
    expect(r.view.getUint32(4)).toBe(0x80000001);
    expect(r.view.byteLength).toBe(14);
  });

  it('sub() gives views of the input buffer at the right offsets, clamped like subarray', () => {
    const backing = fromHex('00112233445566778899');
    const bytes = backing.subarray(2, 8);
    const r = new Reader();
    r.reset(bytes);
    const v = r.sub(1, 3);
    expect(v.buffer).toBe(backing.buffer);
    expect(v.byteOffset).toBe(3);
    expect(toHex(v)).toBe('3344');
    expect(r.sub(4, 99).length).toBe(2);
    expect(r.sub(5, 2).length).toBe(0);
    expect(r.sub(-3, 1).byteOffset).toBe(2);
    v[0] = 0xee;
    expect(backing[3]).toBe(0xee);
  });

  it('decoded addresses of a Buffer input are views of that Buffer, not copies', () => {
    const wire = encodeMessage(responseWith([policySettings(PolicyType.RoundRobin)]));
    const buf = Buffer.alloc(wire.length + 5);
    buf.set(wire, 5);
    const input = buf.subarray(5);
    const r = decodeMessage('asap', input);
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.type !== AsapType.HandleResolutionResponse) return;
    const [v4, v6] = r.message.poolElements[0]!.userTransport.addresses;
    expect(v4!.buffer).toBe(buf.buffer);
    expect(v6!.buffer).toBe(buf.buffer);
    expect([v4!.length, v6!.length]).toEqual([4, 16]);
    expect(toHex(v4!)).toBe('c0000201');
    buf[v4!.byteOffset - buf.byteOffset] = 10;
    expect(v4![0]).toBe(10);
  });
});
