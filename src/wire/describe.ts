// A JSON-able description of a decoded message, for `rserpool decode` and logs: names
// instead of codes, text instead of bytes.
import { addressToString } from './address.js';
import {
  AsapType,
  Cause,
  causeName,
  EnrpType,
  asapTypeName,
  enrpTypeName,
  ParamType,
  paramTypeName,
  policyTypeName,
  TransportUse,
} from './constants.js';
import type { Message } from './messages.js';
import {
  isKnownParamType,
  isTransportType,
  readOperationError,
  readPolicy,
  readPoolElement,
  readServerInformation,
  readTransport,
  type OperationError,
  type PoolElementParameter,
  type ServerInformation,
  type TransportParameter,
} from './parameters.js';
import { policyFields, type PolicySettings } from './policy-settings.js';
import { Reader, type UnknownParameter } from './reader.js';

export type Description = { [key: string]: DescriptionValue };
export type DescriptionValue = string | number | boolean | null | Description | DescriptionValue[];

export function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

/** Pool handle (or cookie) as text when it is printable ASCII, plus hex. */
export function describeBytes(b: Uint8Array): Description {
  let printable = b.length > 0;
  for (let i = 0; i < b.length && printable; i++) printable = b[i]! >= 0x20 && b[i]! < 0x7f;
  return { text: printable ? String.fromCharCode(...b) : null, hex: hex(b), length: b.length };
}

const transportNames = new Map<number, string>([
  [ParamType.SctpTransport, 'SCTP'],
  [ParamType.TcpTransport, 'TCP'],
  [ParamType.UdpTransport, 'UDP'],
  [ParamType.UdpLiteTransport, 'UDP-Lite'],
  [ParamType.DccpTransport, 'DCCP'],
  [ParamType.OpaqueTransport, 'Opaque'],
]);

export function describeTransport(t: TransportParameter): Description {
  const d: Description = { transport: transportNames.get(t.type) ?? `0x${t.type.toString(16)}` };
  if (t.type === ParamType.OpaqueTransport) {
    d.opaque = hex(t.opaque ?? new Uint8Array(0));
    return d;
  }
  d.port = t.port;
  if (t.type === ParamType.SctpTransport) {
    d.transportUse = t.transportUse === TransportUse.DataOnly ? 'data only' : t.transportUse === TransportUse.DataPlusControl ? 'data plus control' : t.transportUse;
  } else {
    d.reserved = t.transportUse;
  }
  if (t.type === ParamType.DccpTransport) d.serviceCode = t.serviceCode;
  d.addresses = t.addresses.map(addressToString);
  return d;
}

export function describePolicy(p: PolicySettings): Description {
  const d: Description = { type: hex32(p.type), name: policyTypeName.get(p.type) ?? null };
  const fields = policyFields.get(p.type);
  if (fields !== undefined) for (const f of fields) d[f] = p[f];
  if (p.raw !== null) d.raw = hex(p.raw);
  return d;
}

export function describePoolElement(pe: PoolElementParameter): Description {
  return {
    peId: hex32(pe.peId),
    homeRegistrarId: hex32(pe.homeRegistrarId),
    registrationLife: pe.registrationLife,
    userTransport: describeTransport(pe.userTransport),
    policy: describePolicy(pe.policy),
    asapTransport: pe.asapTransport === null ? null : describeTransport(pe.asapTransport),
  };
}

export function describeServerInformation(si: ServerInformation): Description {
  return { serverId: hex32(si.serverId), transport: si.transport === null ? null : describeTransport(si.transport) };
}

const MAX_DEPTH = 4;

/** Causes whose information is a parameter TLV (RFC 5354 §3.12.2-3.12.8). */
function causeCarriesParameter(code: number): boolean {
  return code === Cause.UnrecognizedParameter || code === Cause.InvalidValues || code === Cause.InconsistentPoolingPolicy || code === Cause.InconsistentTransportType;
}

export function describeOperationError(e: OperationError, depth = 0): Description {
  return {
    causes: e.causes.map((c): Description => {
      const d: Description = { code: c.code, name: causeName.get(c.code) ?? null, info: hex(c.info) };
      if (c.info.length >= 4 && depth < MAX_DEPTH) {
        if (causeCarriesParameter(c.code)) d.parameter = describeParameter(c.info, depth + 1);
        else if (c.code === Cause.UnrecognizedMessage) d.message = { type: c.info[0]!, flags: c.info[1]!, length: (c.info[2]! << 8) | c.info[3]! };
      }
      return d;
    }),
  };
}

const actionNames = ['stop', 'stop and report', 'skip', 'skip and report'];

function describeUnknown(u: UnknownParameter): Description {
  const type = (u.bytes[0]! << 8) | u.bytes[1]!;
  return { position: u.position, type: `0x${type.toString(16).padStart(4, '0')}`, action: actionNames[type >>> 14]!, hex: hex(u.bytes) };
}

/** Describes one encoded parameter TLV (e.g. the one an Operation Error cause carries). */
export function describeParameter(tlv: Uint8Array, depth = 0): Description {
  const r = new Reader();
  r.reset(tlv);
  if (!r.param(0, tlv.length)) return { malformed: r.error?.reason ?? 'malformed', hex: hex(tlv) };
  const t = r.pType;
  const end = r.pLen;
  const d: Description = { type: `0x${t.toString(16).padStart(4, '0')}`, name: paramTypeName.get(t) ?? null };
  let value: Description | null = null;
  if (isTransportType(t)) {
    const tp = readTransport(r, t, 0, end);
    if (tp !== null) value = describeTransport(tp);
  } else if (t === ParamType.Ipv4Address || t === ParamType.Ipv6Address) {
    value = { address: addressToString(tlv.subarray(4, end)) };
  } else if (t === ParamType.PoolMemberSelectionPolicy) {
    const p = readPolicy(r, 0, end);
    if (p !== null) value = describePolicy(p);
  } else if (t === ParamType.PoolHandle) {
    value = { poolHandle: describeBytes(tlv.subarray(4, end)) };
  } else if (t === ParamType.PoolElement) {
    const pe = readPoolElement(r, 0, end);
    if (pe !== null) value = describePoolElement(pe);
  } else if (t === ParamType.ServerInformation) {
    const si = readServerInformation(r, 0, end);
    if (si !== null) value = describeServerInformation(si);
  } else if (t === ParamType.OperationError) {
    const e = readOperationError(r, 0, end);
    if (e !== null) value = describeOperationError(e, depth);
  } else if ((t === ParamType.PeIdentifier || t === ParamType.HandleResolutionOption) && end === 8) {
    value = { value: r.u32(4) };
  } else if (t === ParamType.PeChecksum && end === 6) {
    value = { checksum: r.u16(4) };
  }
  if (!isKnownParamType(t)) d.action = actionNames[t >>> 14]!;
  d.value = value;
  d.hex = hex(tlv.subarray(0, end));
  return d;
}

const asapFlagNames: Record<number, string[]> = {
  [AsapType.RegistrationResponse]: ['R'],
  [AsapType.DeregistrationResponse]: ['R'],
  [AsapType.HandleResolution]: ['S'],
  [AsapType.HandleResolutionResponse]: ['A'],
  [AsapType.EndpointKeepAlive]: ['H'],
};
const enrpFlagNames: Record<number, string[]> = {
  [EnrpType.Presence]: ['R'],
  [EnrpType.HandleTableRequest]: ['W'],
  [EnrpType.HandleTableResponse]: ['R', 'M'],
  [EnrpType.HandleUpdate]: ['T'],
  [EnrpType.ListResponse]: ['R'],
};

function flagNames(m: Message): string[] {
  const names = (m.protocol === 'asap' ? asapFlagNames : enrpFlagNames)[m.type] ?? [];
  const out: string[] = [];
  for (let bit = 0; bit < 8; bit++) {
    if ((m.flags & (1 << bit)) !== 0) out.push(names[bit] ?? `bit${bit}`);
  }
  return out;
}

/**
 * A JSON-able description of a message: protocol, type code and name, flags by name, and
 * every parameter with its fields (pool handles as text and hex, addresses as strings,
 * policy names and values, cause names).
 */
export function describeMessage(m: Message): Description {
  const d: Description = {
    protocol: m.protocol,
    type: m.type,
    typeName: (m.protocol === 'asap' ? asapTypeName : enrpTypeName).get(m.type) ?? `0x${m.type.toString(16)}`,
    flags: `0x${m.flags.toString(16).padStart(2, '0')}`,
    flagNames: flagNames(m),
    lengthForm: m.paddedLength ? 'includes final padding (RSPLIB)' : 'RFC 5354',
  };
  if (m.protocol === 'enrp') {
    d.senderId = hex32(m.senderId);
    d.receiverId = hex32(m.receiverId);
  }
  const f = m as unknown as Record<string, unknown>;
  for (const key of Object.keys(f)) {
    if (key === 'protocol' || key === 'type' || key === 'flags' || key === 'paddedLength' || key === 'unknownParams' || key === 'senderId' || key === 'receiverId') continue;
    d[key] = describeField(key, f[key]);
  }
  if (m.unknownParams !== null) d.unknownParams = m.unknownParams.map(describeUnknown);
  return d;
}

function describeField(key: string, v: unknown): DescriptionValue {
  if (v === null || v === undefined) return null;
  switch (key) {
    case 'poolHandle':
    case 'cookie':
      return describeBytes(v as Uint8Array);
    case 'poolElement':
      return describePoolElement(v as PoolElementParameter);
    case 'poolElements':
      return (v as PoolElementParameter[]).map(describePoolElement);
    case 'policy':
      return describePolicy(v as PolicySettings);
    case 'error':
      return describeOperationError(v as OperationError);
    case 'serverInfo':
      return describeServerInformation(v as ServerInformation);
    case 'servers':
      return (v as ServerInformation[]).map(describeServerInformation);
    case 'transports':
      return (v as TransportParameter[]).map(describeTransport);
    case 'entries':
      return (v as { poolHandle: Uint8Array; poolElements: PoolElementParameter[] }[]).map((e) => ({
        poolHandle: describeBytes(e.poolHandle),
        poolElements: e.poolElements.map(describePoolElement),
      }));
    case 'serverId':
    case 'peId':
    case 'targetServerId':
      return hex32(v as number);
    case 'checksum':
      return `0x${(v as number).toString(16).padStart(4, '0')}`;
    case 'action':
      return v === 0 ? 'ADD_PE' : v === 1 ? 'DEL_PE' : (v as number);
    default:
      return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : String(v);
  }
}

