// Every RSPLIB sample decodes, matches Wireshark's reading of it, and re-encodes byte for byte.
import { describe, expect, it } from 'vitest';
import {
  AsapType,
  decodeMessage,
  describeMessage,
  encodeMessage,
  EnrpType,
  addressToString,
  type Message,
  type OperationError,
  type PoolElementParameter,
  type ServerInformation,
  type TransportParameter,
} from '../../src/wire/index.js';
import type { PolicySettings } from '../../src/wire/policy-settings.js';
import { fromHex, samples, toHex } from './samples.js';

/** The values Wireshark prints, in wire order, keyed by its field label. */
type Fields = Record<string, string[]>;

function fromTshark(text: string): Fields {
  const out: Fields = {};
  const add = (k: string, v: string) => (out[k] ??= []).push(v);
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z][A-Za-z0-9 ']*?): (.*)$/.exec(line);
    if (m === null) continue;
    const [, label, value] = m as unknown as [string, string, string];
    switch (label) {
      case 'Type':
        add('type', /\((\d+)\)$/.exec(value)![1]!);
        break;
      case 'Flags':
      case 'Home ENRP Server Identifier':
      case 'PE Identifier':
      case 'Server Identifier':
      case "Sender Server's ID":
      case "Receiver Server's ID":
      case "Target Server's ID":
      case 'PE Checksum':
      case 'Port':
      case 'Items':
      case 'Policy Weight':
      case 'IP Version 4 Address':
      case 'Cookie':
        add(label, value.trim().toLowerCase());
        break;
      case 'Pool Handle':
        add(label, value.split(' ')[0]!);
        break;
      case 'Registration Life':
        add(label, value.replace('ms', ''));
        break;
      case 'Policy Type':
      case 'Transport Use':
      case 'Cause Code':
      case 'Update Action':
        add(label, /\((0x[0-9a-f]+|\d+)\)$/.exec(value)![1]!);
        break;
      case 'Policy Load':
        add(label, value);
        break;
    }
  }
  return out;
}

const h32 = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

function fromMessage(m: Message): Fields {
  const out: Fields = {};
  const add = (k: string, v: string) => (out[k] ??= []).push(v);
  const transport = (t: TransportParameter) => {
    add('Port', String(t.port));
    add('Transport Use', String(t.transportUse));
    for (const a of t.addresses) if (a.length === 4) add('IP Version 4 Address', addressToString(a));
  };
  const policy = (p: PolicySettings) => {
    add('Policy Type', `0x${p.type.toString(16).padStart(8, '0')}`);
    if (p.type === 0x40000001) add('Policy Load', `${((p.load / 0xffffffff) * 100).toFixed(2)}%`);
    if (p.type === 0x00000004) add('Policy Weight', String(p.weight));
  };
  const pe = (e: PoolElementParameter) => {
    add('PE Identifier', h32(e.peId));
    add('Home ENRP Server Identifier', h32(e.homeRegistrarId));
    add('Registration Life', String(e.registrationLife));
    transport(e.userTransport);
    policy(e.policy);
    if (e.asapTransport) transport(e.asapTransport);
  };
  const server = (s: ServerInformation) => {
    add('Server Identifier', h32(s.serverId));
    if (s.transport) transport(s.transport);
  };
  const error = (e: OperationError) => {
    for (const c of e.causes) add('Cause Code', `0x${c.code.toString(16).padStart(4, '0')}`);
  };
  add('type', String(m.type));
  add('Flags', `0x${m.flags.toString(16).padStart(2, '0')}`);
  if (m.protocol === 'enrp') {
    add("Sender Server's ID", h32(m.senderId));
    add("Receiver Server's ID", h32(m.receiverId));
  }
  const ph = (b: Uint8Array) => add('Pool Handle', toHex(b));
  if (m.protocol === 'asap') {
    switch (m.type) {
      case AsapType.Registration:
        ph(m.poolHandle);
        pe(m.poolElement);
        break;
      case AsapType.Deregistration:
      case AsapType.EndpointKeepAliveAck:
      case AsapType.EndpointUnreachable:
      case AsapType.RegistrationResponse:
      case AsapType.DeregistrationResponse:
        ph(m.poolHandle);
        add('PE Identifier', h32(m.peId));
        if ('error' in m && m.error) error(m.error);
        break;
      case AsapType.HandleResolution:
        ph(m.poolHandle);
        if (m.items !== null) add('Items', String(m.items));
        break;
      case AsapType.HandleResolutionResponse:
        ph(m.poolHandle);
        if (m.policy) policy(m.policy);
        m.poolElements.forEach(pe);
        if (m.error) error(m.error);
        break;
      case AsapType.EndpointKeepAlive:
        add('Server Identifier', h32(m.serverId));
        ph(m.poolHandle);
        if (m.peId !== null) add('PE Identifier', h32(m.peId));
        break;
      case AsapType.ServerAnnounce:
        add('Server Identifier', h32(m.serverId));
        m.transports.forEach(transport);
        break;
      case AsapType.Cookie:
      case AsapType.CookieEcho:
        add('Cookie', toHex(m.cookie));
        break;
      case AsapType.BusinessCard:
        ph(m.poolHandle);
        m.poolElements.forEach(pe);
        break;
      case AsapType.Error:
        error(m.error);
        break;
    }
  } else {
    switch (m.type) {
      case EnrpType.Presence:
        if (m.checksum !== null) add('PE Checksum', `0x${m.checksum.toString(16).padStart(4, '0')}`);
        if (m.serverInfo) server(m.serverInfo);
        break;
      case EnrpType.HandleTableResponse:
        for (const e of m.entries) {
          ph(e.poolHandle);
          e.poolElements.forEach(pe);
        }
        break;
      case EnrpType.HandleUpdate:
        add('Update Action', String(m.action));
        ph(m.poolHandle);
        pe(m.poolElement);
        break;
      case EnrpType.ListResponse:
        m.servers.forEach(server);
        break;
      case EnrpType.InitTakeover:
      case EnrpType.InitTakeoverAck:
      case EnrpType.TakeoverServer:
        add("Target Server's ID", h32(m.targetServerId));
        break;
      case EnrpType.Error:
        error(m.error);
        break;
    }
  }
  return out;
}

describe('RSPLIB samples', () => {
  it('cover every message type but ASAP_BUSINESS_CARD', () => {
    const asap = new Set(samples.filter((s) => s.protocol === 'asap').map((s) => s.type));
    const enrp = new Set(samples.filter((s) => s.protocol === 'enrp').map((s) => s.type));
    expect(asap.size).toBe(13);
    expect(enrp.size).toBe(10);
  });

  for (const sample of samples) {
    const name = `${sample.protocol} ${sample.type_name}${sample.variant ? ` (${sample.variant})` : ''} ${sample.payload_hex.slice(0, 16)}`;
    describe(name, () => {
      const bytes = fromHex(sample.payload_hex);
      const result = decodeMessage(sample.protocol, bytes);

      it('decodes', () => {
        expect(result.ok, result.ok ? '' : JSON.stringify(result.error)).toBe(true);
      });

      it("has the fields Wireshark shows", () => {
        if (!result.ok) throw new Error('not decoded');
        const expected = fromTshark(sample.tshark_decode);
        const actual = fromMessage(result.message);
        // Wireshark lists unknown parameters and nested offenders too; compare what both know.
        for (const key of Object.keys(actual)) expect(actual[key], key).toEqual(expected[key]);
        for (const key of Object.keys(expected)) expect(actual[key] ?? [], key).toEqual(expected[key]);
        expect(result.message.type).toBe(sample.type);
      });

      it('re-encodes byte-identical', () => {
        if (!result.ok) throw new Error('not decoded');
        expect(toHex(encodeMessage(result.message))).toBe(sample.payload_hex);
      });

      it('describes to JSON', () => {
        if (!result.ok) throw new Error('not decoded');
        const d = describeMessage(result.message);
        expect(JSON.parse(JSON.stringify(d))).toEqual(d);
        expect(d.protocol).toBe(sample.protocol);
      });
    });
  }

  it('the hand-made Handle Resolution with parameter 0x4ffe is discarded and reported (RFC 5354 §3, action 01)', () => {
    const s = samples.find((x) => x.variant === 'no-HROption')!;
    const r = decodeMessage('asap', fromHex(s.payload_hex));
    expect(r.ok && r.discard).toBe(true);
    if (!r.ok) return;
    expect(r.unrecognized.map(toHex)).toEqual(['4ffe0008deadbeef']);
    // RSPLIB's answer carries exactly that TLV (the ASAP Error sample).
    const answer = samples.find((x) => x.protocol === 'asap' && x.type === AsapType.Error)!;
    const a = decodeMessage('asap', fromHex(answer.payload_hex));
    expect(a.ok && a.message.type === AsapType.Error && toHex(a.message.error.causes[0]!.info)).toBe('4ffe0008deadbeef');
  });
});
