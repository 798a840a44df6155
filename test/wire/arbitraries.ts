// fast-check generators of every parameter and message of RFC 5352/5353/5354.
import fc from 'fast-check';
import {
  AsapType,
  EnrpType,
  ParamType,
  policyFields,
  type ErrorCause,
  type Message,
  type OperationError,
  type PoolElementParameter,
  type ServerInformation,
  type TransportParameter,
} from '../../src/wire/index.js';
import type { PolicySettings } from '../../src/wire/policy-settings.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

export const address = fc.oneof(bytes(4, 4), bytes(16, 16));

const one = fc.array(address, { minLength: 1, maxLength: 1 });

export const sctpTransport: fc.Arbitrary<TransportParameter> = fc.record({
  type: fc.constant<number>(ParamType.SctpTransport),
  port: u16,
  transportUse: fc.constantFrom(0, 1),
  serviceCode: fc.constant(0),
  addresses: fc.array(address, { minLength: 1, maxLength: 4 }),
  opaque: fc.constant(null),
});

export const transport: fc.Arbitrary<TransportParameter> = fc.oneof(
  sctpTransport,
  fc.record({
    type: fc.constantFrom<number>(ParamType.TcpTransport, ParamType.UdpTransport, ParamType.UdpLiteTransport),
    port: u16,
    transportUse: u16,
    serviceCode: fc.constant(0),
    addresses: one,
    opaque: fc.constant(null),
  }),
  fc.record({ type: fc.constant<number>(ParamType.DccpTransport), port: u16, transportUse: u16, serviceCode: u32, addresses: one, opaque: fc.constant(null) }),
  fc.record({ type: fc.constant<number>(ParamType.OpaqueTransport), port: fc.constant(0), transportUse: fc.constant(0), serviceCode: fc.constant(0), addresses: fc.constant([]), opaque: bytes(0, 13) }),
);

const knownPolicyTypes = [...policyFields.keys()];

export const policy: fc.Arbitrary<PolicySettings> = fc.oneof(
  fc.tuple(fc.constantFrom(...knownPolicyTypes), fc.array(u32, { minLength: 4, maxLength: 4 })).map(([type, v]) => {
    const p: PolicySettings = { type, weight: 0, priority: 0, load: 0, loadDegradation: 0, loadDpf: 0, weightDpf: 0, distance: 0, raw: null };
    policyFields.get(type)!.forEach((f, i) => (p[f] = v[i]!));
    return p;
  }),
  fc.tuple(u32.filter((t) => !policyFields.has(t)), bytes(0, 11)).map(([type, raw]): PolicySettings => ({ type, weight: 0, priority: 0, load: 0, loadDegradation: 0, loadDpf: 0, weightDpf: 0, distance: 0, raw })),
);

export const poolElement: fc.Arbitrary<PoolElementParameter> = fc.record({
  peId: u32,
  homeRegistrarId: u32,
  registrationLife: i32,
  userTransport: transport,
  policy,
  asapTransport: fc.option(sctpTransport, { nil: null }),
});

export const serverInformation: fc.Arbitrary<ServerInformation> = fc.record({ serverId: u32, transport: fc.option(sctpTransport, { nil: null }) });

const cause: fc.Arbitrary<ErrorCause> = fc.record({ code: u16, info: bytes(0, 14) });
export const operationError: fc.Arbitrary<OperationError> = fc.record({ causes: fc.array(cause, { minLength: 0, maxLength: 3 }) });

export const poolHandle = bytes(1, 40);
const pes = fc.array(poolElement, { minLength: 0, maxLength: 3 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

const head = { flags: fc.integer({ min: 0, max: 255 }), paddedLength: fc.constant(false), unknownParams: fc.constant(null) };
const asap = <T extends number>(type: T) => ({ protocol: fc.constant('asap' as const), type: fc.constant(type), ...head });
const enrp = <T extends number>(type: T) => ({ protocol: fc.constant('enrp' as const), type: fc.constant(type), ...head, senderId: u32, receiverId: u32 });

export const asapMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ ...asap(AsapType.Registration), poolHandle, poolElement }),
  fc.record({ ...asap(AsapType.Deregistration), poolHandle, peId: u32 }),
  fc.record({ ...asap(AsapType.RegistrationResponse), poolHandle, peId: u32, error: opt(operationError) }),
  fc.record({ ...asap(AsapType.DeregistrationResponse), poolHandle, peId: u32, error: opt(operationError) }),
  fc.record({ ...asap(AsapType.HandleResolution), poolHandle, items: opt(u32) }),
  fc.record({ ...asap(AsapType.HandleResolutionResponse), poolHandle, policy: opt(policy), poolElements: pes, error: opt(operationError) }),
  fc.record({ ...asap(AsapType.EndpointKeepAlive), serverId: u32, poolHandle, peId: opt(u32) }),
  fc.record({ ...asap(AsapType.EndpointKeepAliveAck), poolHandle, peId: u32 }),
  fc.record({ ...asap(AsapType.EndpointUnreachable), poolHandle, peId: u32 }),
  fc.record({ ...asap(AsapType.ServerAnnounce), serverId: u32, transports: fc.array(transport, { maxLength: 3 }) }),
  fc.record({ ...asap(AsapType.Cookie), cookie: bytes(0, 40) }),
  fc.record({ ...asap(AsapType.CookieEcho), cookie: bytes(0, 40) }),
  fc.record({ ...asap(AsapType.BusinessCard), poolHandle, poolElements: pes }),
  fc.record({ ...asap(AsapType.Error), error: operationError }),
);

export const enrpMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ ...enrp(EnrpType.Presence), checksum: opt(u16), serverInfo: opt(serverInformation) }),
  fc.record({ ...enrp(EnrpType.HandleTableRequest) }),
  fc.record({ ...enrp(EnrpType.HandleTableResponse), entries: fc.array(fc.record({ poolHandle, poolElements: fc.array(poolElement, { minLength: 1, maxLength: 3 }) }), { maxLength: 3 }) }),
  fc.record({ ...enrp(EnrpType.HandleUpdate), action: u16, reserved: u16, poolHandle, poolElement }),
  fc.record({ ...enrp(EnrpType.ListRequest) }),
  fc.record({ ...enrp(EnrpType.ListResponse), servers: fc.array(serverInformation, { maxLength: 3 }) }),
  fc.record({ ...enrp(EnrpType.InitTakeover), targetServerId: u32 }),
  fc.record({ ...enrp(EnrpType.InitTakeoverAck), targetServerId: u32 }),
  fc.record({ ...enrp(EnrpType.TakeoverServer), targetServerId: u32 }),
  fc.record({ ...enrp(EnrpType.Error), error: operationError }),
);

export const message: fc.Arbitrary<Message> = fc.oneof(asapMessage, enrpMessage);
