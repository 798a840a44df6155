// Byte-exact layouts: each message built by hand from the RFC diagrams (RFC 5352 §2.2,
// RFC 5353 §2, RFC 5354 §3-4), encoded and decoded both ways.
import { describe, expect, it } from 'vitest';
import {
  AsapFlag,
  AsapType,
  Cause,
  decodeMessage,
  encodeMessage,
  EnrpFlag,
  EnrpType,
  ParamType,
  parseAddress,
  policySettings,
  PolicyType,
  transportParameter,
  TransportUse,
  UpdateAction,
  type Message,
  type PoolElementParameter,
} from '../../src/wire/index.js';
import { fromHex, toHex } from './samples.js';

const text = (s: string) => new TextEncoder().encode(s);
const ip = (s: string) => parseAddress(s)!;
const base = { flags: 0, paddedLength: false, unknownParams: null };
const ids = { senderId: 0x11111111, receiverId: 0x22222222 };

const sctp = (port: number, use: number, ...addrs: string[]) => transportParameter(ParamType.SctpTransport, port, addrs.map(ip), use);

const registrationPe: PoolElementParameter = {
  peId: 0x01020304,
  homeRegistrarId: 0,
  registrationLife: 30,
  userTransport: sctp(5000, TransportUse.DataPlusControl, '10.0.0.1'),
  policy: policySettings(PolicyType.WeightedRoundRobin, { weight: 5 }),
  asapTransport: sctp(3863, TransportUse.DataOnly, '10.0.0.1'),
};

interface Case {
  name: string;
  message: Message;
  hex: string;
}

const cases: Case[] = [
  {
    name: 'ASAP_REGISTRATION (§2.2.1) with user transport, WRR policy and ASAP transport (RFC 5354 §3.10)',
    message: { protocol: 'asap', type: AsapType.Registration, ...base, poolHandle: text('pool'), poolElement: registrationPe },
    hex: `01000048 00090008 706f6f6c
          000a003c 01020304 00000000 0000001e
            00040010 13880001 00010008 0a000001
            0008000c 00000002 00000005
            00040010 0f170000 00010008 0a000001`,
  },
  {
    name: 'ASAP_DEREGISTRATION (§2.2.2): pool handle padded by 2',
    message: { protocol: 'asap', type: AsapType.Deregistration, ...base, poolHandle: text('ab'), peId: 0xdeadbeef },
    hex: '02000014 00090006 61620000 000e0008 deadbeef',
  },
  {
    name: 'ASAP_REGISTRATION_RESPONSE (§2.2.3), R flag, causes with and without information (RFC 5354 §3.12)',
    message: {
      protocol: 'asap',
      type: AsapType.RegistrationResponse,
      ...base,
      flags: AsapFlag.Reject,
      poolHandle: text('pool'),
      peId: 1,
      error: { causes: [{ code: Cause.InconsistentPoolingPolicy, info: fromHex('00080008 00000001') }, { code: Cause.NonUniquePeIdentifier, info: new Uint8Array(0) }] },
    },
    hex: '03010028 00090008 706f6f6c 000e0008 00000001 000c0014 0005000c 00080008 00000001 00040004',
  },
  {
    name: 'ASAP_DEREGISTRATION_RESPONSE (§2.2.4)',
    message: { protocol: 'asap', type: AsapType.DeregistrationResponse, ...base, poolHandle: text('pool'), peId: 1, error: null },
    hex: '04000014 00090008 706f6f6c 000e0008 00000001',
  },
  {
    name: 'ASAP_HANDLE_RESOLUTION (§2.2.5), S flag',
    message: { protocol: 'asap', type: AsapType.HandleResolution, ...base, flags: AsapFlag.Subscribe, poolHandle: text('EchoPool'), items: null },
    hex: '05010010 0009000c 4563686f 506f6f6c',
  },
  {
    name: 'ASAP_HANDLE_RESOLUTION: Length excludes the final padding, the padding is sent (RFC 5354 §4)',
    message: { protocol: 'asap', type: AsapType.HandleResolution, ...base, poolHandle: text('abc'), items: null },
    hex: '0500000b 00090007 61626300',
  },
  {
    name: "ASAP_HANDLE_RESOLUTION with RSPLIB's Handle Resolution Option 0x803f",
    message: { protocol: 'asap', type: AsapType.HandleResolution, ...base, poolHandle: text('EchoPool'), items: 3 },
    hex: '05000018 0009000c 4563686f 506f6f6c 803f0008 00000003',
  },
  {
    name: 'ASAP_HANDLE_RESOLUTION_RESPONSE (§2.2.6), A flag, overall policy, PE with TCP over IPv6, infinite life',
    message: {
      protocol: 'asap',
      type: AsapType.HandleResolutionResponse,
      ...base,
      flags: AsapFlag.Accept,
      poolHandle: text('pool'),
      policy: policySettings(PolicyType.LeastUsed, { load: 0x80000000 }),
      poolElements: [
        {
          peId: 7,
          homeRegistrarId: 0x11111111,
          registrationLife: -1,
          userTransport: transportParameter(ParamType.TcpTransport, 80, [ip('::1')], 0),
          policy: policySettings(PolicyType.LeastUsed, { load: 16 }),
          asapTransport: null,
        },
      ],
      error: null,
    },
    hex: `06010050 00090008 706f6f6c 0008000c 40000001 80000000
          000a0038 00000007 11111111 ffffffff
            0005001c 00500000 00020014 00000000 00000000 00000000 00000001
            0008000c 40000001 00000010`,
  },
  {
    name: 'ASAP_HANDLE_RESOLUTION_RESPONSE, negative: Unknown Pool Handle',
    message: { protocol: 'asap', type: AsapType.HandleResolutionResponse, ...base, poolHandle: text('x'), policy: null, poolElements: [], error: { causes: [{ code: Cause.UnknownPoolHandle, info: new Uint8Array(0) }] } },
    hex: '06000014 00090005 78000000 000c0008 00090004',
  },
  {
    name: 'ASAP_ENDPOINT_KEEP_ALIVE (§2.2.7), H flag, server identifier',
    message: { protocol: 'asap', type: AsapType.EndpointKeepAlive, ...base, flags: AsapFlag.Home, serverId: 0x11111111, poolHandle: text('pool'), peId: null },
    hex: '07010010 11111111 00090008 706f6f6c',
  },
  {
    name: 'ASAP_ENDPOINT_KEEP_ALIVE_ACK (§2.2.8)',
    message: { protocol: 'asap', type: AsapType.EndpointKeepAliveAck, ...base, poolHandle: text('pool'), peId: 9 },
    hex: '08000014 00090008 706f6f6c 000e0008 00000009',
  },
  {
    name: 'ASAP_ENDPOINT_UNREACHABLE (§2.2.9)',
    message: { protocol: 'asap', type: AsapType.EndpointUnreachable, ...base, poolHandle: text('pool'), peId: 9 },
    hex: '09000014 00090008 706f6f6c 000e0008 00000009',
  },
  {
    name: 'ASAP_SERVER_ANNOUNCE (§2.2.10): SCTP with IPv4 + IPv6 (RFC 5354 §3.4), TCP (§3.5)',
    message: {
      protocol: 'asap',
      type: AsapType.ServerAnnounce,
      ...base,
      serverId: 0x12345678,
      transports: [sctp(3863, TransportUse.DataPlusControl, '192.0.2.1', '2001:db8::1'), transportParameter(ParamType.TcpTransport, 3863, [ip('192.0.2.1')], 0)],
    },
    hex: `0a00003c 12345678
          00040024 0f170001 00010008 c0000201 00020014 20010db8 00000000 00000000 00000001
          00050010 0f170000 00010008 c0000201`,
  },
  {
    name: 'ASAP_SERVER_ANNOUNCE as RSPLIB sends it: server identifier only',
    message: { protocol: 'asap', type: AsapType.ServerAnnounce, ...base, serverId: 0x11111111, transports: [] },
    hex: '0a000008 11111111',
  },
  {
    name: 'ASAP_COOKIE (§2.2.11): odd cookie, final padding outside Length',
    message: { protocol: 'asap', type: AsapType.Cookie, ...base, cookie: fromHex('010203') },
    hex: '0b00000b 000d0007 01020300',
  },
  {
    name: 'ASAP_COOKIE_ECHO (§2.2.12)',
    message: { protocol: 'asap', type: AsapType.CookieEcho, ...base, cookie: fromHex('01020304') },
    hex: '0c00000c 000d0008 01020304',
  },
  {
    name: 'ASAP_BUSINESS_CARD (§2.2.13): PEs with UDP (§3.6) and DCCP (§3.3) transports',
    message: {
      protocol: 'asap',
      type: AsapType.BusinessCard,
      ...base,
      poolHandle: text('pool'),
      poolElements: [
        { peId: 1, homeRegistrarId: 0, registrationLife: 0, userTransport: transportParameter(ParamType.UdpTransport, 7, [ip('127.0.0.1')], 0), policy: policySettings(PolicyType.RoundRobin), asapTransport: null },
        { peId: 2, homeRegistrarId: 0, registrationLife: 0, userTransport: transportParameter(ParamType.DccpTransport, 9, [ip('127.0.0.1')], 0, 0x42), policy: policySettings(PolicyType.Random), asapTransport: null },
      ],
    },
    hex: `0d000060 00090008 706f6f6c
          000a0028 00000001 00000000 00000000 00060010 00070000 00010008 7f000001 00080008 00000001
          000a002c 00000002 00000000 00000000 00030014 00090000 00000042 00010008 7f000001 00080008 00000003`,
  },
  {
    name: 'ASAP_ERROR (§2.2.14): Unrecognized Message carrying the offending message',
    message: { protocol: 'asap', type: AsapType.Error, ...base, error: { causes: [{ code: Cause.UnrecognizedMessage, info: fromHex('ff000004') }] } },
    hex: '0e000010 000c000c 00020008 ff000004',
  },
  {
    name: 'ENRP_PRESENCE (RFC 5353 §2.1), R flag, PE checksum (RFC 5354 §3.15), server information (§3.11)',
    message: { protocol: 'enrp', type: EnrpType.Presence, ...base, ...ids, flags: EnrpFlag.ReplyRequired, checksum: 0xabcd, serverInfo: { serverId: 0x11111111, transport: sctp(9901, TransportUse.DataOnly, '10.0.0.1') } },
    hex: '0101002c 11111111 22222222 000f0006 abcd0000 000b0018 11111111 00040010 26ad0000 00010008 0a000001',
  },
  {
    name: 'ENRP_HANDLE_TABLE_REQUEST (§2.2), W flag',
    message: { protocol: 'enrp', type: EnrpType.HandleTableRequest, ...base, ...ids, flags: EnrpFlag.OwnChildrenOnly },
    hex: '0201000c 11111111 22222222',
  },
  {
    name: 'ENRP_HANDLE_TABLE_RESPONSE (§2.3), M flag, two pool entries; UDP-Lite (§3.7) and opaque (§3.16) transports',
    message: {
      protocol: 'enrp',
      type: EnrpType.HandleTableResponse,
      ...base,
      ...ids,
      flags: EnrpFlag.MoreToSend,
      entries: [
        { poolHandle: text('a'), poolElements: [{ peId: 1, homeRegistrarId: 2, registrationLife: 3, userTransport: transportParameter(ParamType.UdpLiteTransport, 1, [ip('1.2.3.4')], 0), policy: policySettings(PolicyType.Priority, { priority: 3 }), asapTransport: null }] },
        { poolHandle: text('bb'), poolElements: [{ peId: 2, homeRegistrarId: 2, registrationLife: 3, userTransport: transportParameter(ParamType.OpaqueTransport, 0, [], 0, 0, text('xyz')), policy: policySettings(PolicyType.WeightedRandom, { weight: 2 }), asapTransport: null }] },
      ],
    },
    hex: `0302006c 11111111 22222222
          00090005 61000000
          000a002c 00000001 00000002 00000003 00070010 00010000 00010008 01020304 0008000c 00000005 00000003
          00090006 62620000
          000a0024 00000002 00000002 00000003 00100007 78797a00 0008000c 00000004 00000002`,
  },
  {
    name: 'ENRP_HANDLE_UPDATE (§2.4): DEL_PE, a DPF policy with three values',
    message: {
      protocol: 'enrp',
      type: EnrpType.HandleUpdate,
      ...base,
      ...ids,
      action: UpdateAction.DelPe,
      reserved: 0,
      poolHandle: text('pool'),
      poolElement: { peId: 10, homeRegistrarId: 0x11111111, registrationLife: 5, userTransport: sctp(5000, TransportUse.DataPlusControl, '10.0.0.1'), policy: policySettings(PolicyType.LeastUsedDpf, { load: 1, loadDpf: 2, distance: 3 }), asapTransport: null },
    },
    hex: `0400004c 11111111 22222222 00010000 00090008 706f6f6c
          000a0034 0000000a 11111111 00000005 00040010 13880001 00010008 0a000001 00080014 b0002002 00000001 00000002 00000003`,
  },
  {
    name: 'ENRP_LIST_REQUEST (§2.5)',
    message: { protocol: 'enrp', type: EnrpType.ListRequest, ...base, ...ids },
    hex: '0500000c 11111111 22222222',
  },
  {
    name: 'ENRP_LIST_RESPONSE (§2.6), R flag, no servers',
    message: { protocol: 'enrp', type: EnrpType.ListResponse, ...base, ...ids, flags: EnrpFlag.Reject, servers: [] },
    hex: '0601000c 11111111 22222222',
  },
  {
    name: 'ENRP_INIT_TAKEOVER (§2.7)',
    message: { protocol: 'enrp', type: EnrpType.InitTakeover, ...base, ...ids, targetServerId: 0x33333333 },
    hex: '07000010 11111111 22222222 33333333',
  },
  {
    name: 'ENRP_INIT_TAKEOVER_ACK (§2.8)',
    message: { protocol: 'enrp', type: EnrpType.InitTakeoverAck, ...base, ...ids, targetServerId: 0x33333333 },
    hex: '08000010 11111111 22222222 33333333',
  },
  {
    name: 'ENRP_TAKEOVER_SERVER (§2.9)',
    message: { protocol: 'enrp', type: EnrpType.TakeoverServer, ...base, ...ids, targetServerId: 0x33333333 },
    hex: '09000010 11111111 22222222 33333333',
  },
  {
    name: 'ENRP_ERROR (§2.10)',
    message: { protocol: 'enrp', type: EnrpType.Error, ...base, ...ids, error: { causes: [{ code: Cause.UnknownPoolHandle, info: new Uint8Array(0) }] } },
    hex: '0a000014 11111111 22222222 000c0008 00090004',
  },
];

describe('message layouts from the RFC diagrams', () => {
  for (const c of cases) {
    it(c.name, () => {
      const bytes = fromHex(c.hex);
      expect(toHex(encodeMessage(c.message))).toBe(toHex(bytes));
      const r = decodeMessage(c.message.protocol, bytes);
      expect(r.ok, r.ok ? '' : r.error.reason).toBe(true);
      if (r.ok) {
        expect(r.message).toEqual(c.message);
        expect(r.discard).toBe(false);
        expect(r.unrecognized).toEqual([]);
      }
    });
  }

  it('covers every ASAP and ENRP message type', () => {
    const asap = new Set(cases.filter((c) => c.message.protocol === 'asap').map((c) => c.message.type));
    const enrp = new Set(cases.filter((c) => c.message.protocol === 'enrp').map((c) => c.message.type));
    expect([...asap].sort((a, b) => a - b)).toEqual(Object.values(AsapType));
    expect([...enrp].sort((a, b) => a - b)).toEqual(Object.values(EnrpType));
  });

  it("accepts RSPLIB's Length that includes the final padding and re-encodes it that way", () => {
    const rsplib = fromHex('0500000c 00090007 61626300');
    const r = decodeMessage('asap', rsplib);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.paddedLength).toBe(true);
    expect(toHex(encodeMessage(r.message))).toBe(toHex(rsplib));
    // A new message (paddedLength false) is encoded per the RFC.
    expect(toHex(encodeMessage({ ...r.message, paddedLength: false }))).toBe('0500000b0009000761626300');
  });

  it('accepts a message whose final padding was not sent', () => {
    const r = decodeMessage('asap', fromHex('0500000b 00090007 616263'));
    expect(r.ok && r.message.type === AsapType.HandleResolution && new TextDecoder().decode(r.message.poolHandle)).toBe('abc');
  });

  it('decodes without copying: pool handles and cookies are views of the input', () => {
    const bytes = fromHex('05010010 0009000c 4563686f 506f6f6c');
    const r = decodeMessage('asap', bytes);
    if (!r.ok || r.message.type !== AsapType.HandleResolution) throw new Error('decode');
    expect(r.message.poolHandle.buffer).toBe(bytes.buffer);
    expect(r.message.poolHandle.byteOffset).toBe(8);
  });
});
