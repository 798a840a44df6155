// The parameters of RFC 5354 §3 (types 0x1-0x10) and RSPLIB's Handle Resolution Option
// (0x803f): their object shapes, decoders (views, no copies) and encoders.
import { Cause, ParamType, TransportUse } from './constants.js';
import { policyFields, type PolicyField, type PolicySettings } from './policy-settings.js';
import type { Reader } from './reader.js';
import { padding, Writer } from './writer.js';

/**
 * A user or ASAP transport (RFC 5354 §3.3-3.7, §3.16). One shape for every transport type:
 *
 * - `type`: `ParamType.SctpTransport`, `TcpTransport`, `UdpTransport`, `UdpLiteTransport`,
 *   `DccpTransport` or `OpaqueTransport`.
 * - `port`: the transport port (0 for opaque).
 * - `transportUse`: the 16-bit field after the port. For SCTP it is the Transport Use
 *   (`TransportUse.DataOnly` / `DataPlusControl`, §3.4); for TCP, UDP, UDP-Lite and DCCP the
 *   RFC calls it reserved (those transports are always data only), and it is kept here so
 *   that re-encoding is byte-identical.
 * - `serviceCode`: the DCCP service code (§3.3); 0 for the others.
 * - `addresses`: 4-byte (IPv4) or 16-byte (IPv6) views; SCTP carries one or more, the
 *   others exactly one, opaque none.
 * - `opaque`: the Opaque Transport Data (§3.16) as a view; null for the others.
 */
export interface TransportParameter {
  type: number;
  port: number;
  transportUse: number;
  serviceCode: number;
  addresses: Uint8Array[];
  opaque: Uint8Array | null;
}

/**
 * Pool Element parameter (RFC 5354 §3.10). `registrationLife` is signed (-1: infinite);
 * RSPLIB puts milliseconds in it. `asapTransport` is the optional trailing SCTP transport
 * (RSPLIB sends it in ENRP messages and handle table responses).
 */
export interface PoolElementParameter {
  peId: number;
  homeRegistrarId: number;
  registrationLife: number;
  userTransport: TransportParameter;
  policy: PolicySettings;
  asapTransport: TransportParameter | null;
}

/** Server Information parameter (RFC 5354 §3.11): a registrar's ID and its SCTP transport. */
export interface ServerInformation {
  serverId: number;
  transport: TransportParameter | null;
}

/**
 * One error cause of an Operation Error (RFC 5354 §3.12). `info` is the cause-specific
 * information as a view: the offending parameter TLV for Unrecognized Parameter, Invalid
 * Values, Inconsistent Pooling Policy and Inconsistent Transport Type; the offending message
 * for Unrecognized Message; empty for the causes without information.
 */
export interface ErrorCause {
  code: number;
  info: Uint8Array;
}

/** Operation Error parameter (RFC 5354 §3.12): one or more error causes. */
export interface OperationError {
  causes: ErrorCause[];
}

export const NO_BYTES = new Uint8Array(0);

export function isTransportType(t: number): boolean {
  return (t >= ParamType.DccpTransport && t <= ParamType.UdpLiteTransport) || t === ParamType.OpaqueTransport;
}

/** Parameter types this codec understands (RFC 5354 Table 1 plus RSPLIB's 0x803f). */
export function isKnownParamType(t: number): boolean {
  return (t >= ParamType.Ipv4Address && t <= ParamType.OpaqueTransport) || t === ParamType.HandleResolutionOption;
}

/** A transport parameter object (addresses as 4/16-byte arrays, see `parseAddress`). */
export function transportParameter(
  type: number,
  port: number,
  addresses: Uint8Array[],
  transportUse: number = type === ParamType.SctpTransport ? TransportUse.DataPlusControl : 0,
  serviceCode = 0,
  opaque: Uint8Array | null = null,
): TransportParameter {
  return { type, port, transportUse, serviceCode, addresses, opaque };
}

export function errorCause(code: number, info: Uint8Array = NO_BYTES): ErrorCause {
  return { code, info };
}

// ---------------------------------------------------------------------------------------
// Decoders. Each takes the TLV start `off` and its end `end` (start + Length, no padding),
// after Reader.param() checked the header; it returns null after recording the error.

/** RFC 5354 §3.3-3.7, §3.16. */
export function readTransport(r: Reader, type: number, off: number, end: number): TransportParameter | null {
  const v = off + 4;
  if (type === ParamType.OpaqueTransport) {
    r.contentEnd = end;
    return { type, port: 0, transportUse: 0, serviceCode: 0, addresses: [], opaque: r.sub(v, end) };
  }
  const fixed = type === ParamType.DccpTransport ? 8 : 4;
  if (end - v < fixed) {
    r.invalid(off, end, 'transport parameter too short');
    return null;
  }
  const port = r.u16(v);
  const use = r.u16(v + 2);
  if (type === ParamType.SctpTransport && use !== TransportUse.DataOnly && use !== TransportUse.DataPlusControl) {
    r.fail(Cause.InvalidValues, v + 2, `invalid transport use ${use}`, r.sub(off, end));
    return null;
  }
  const serviceCode = type === ParamType.DccpTransport ? r.u32(v + 4) : 0;
  // Nearly every transport carries one address: an array literal of it costs a third of
  // an empty array grown by push() (6 vs 15 ns, node 20); further addresses are pushed.
  let addresses: Uint8Array[] | null = null;
  let p = v + fixed;
  let contentEnd = p;
  while (p < end) {
    if (!r.param(p, end)) return null;
    const t = r.pType;
    const l = r.pLen;
    const next = r.pNext;
    if (t === ParamType.Ipv4Address || t === ParamType.Ipv6Address) {
      const size = t === ParamType.Ipv4Address ? 4 : 16;
      if (l !== size + 4) {
        r.invalid(p, end, t === ParamType.Ipv4Address ? 'IPv4 address parameter length must be 8' : 'IPv6 address parameter length must be 20');
        return null;
      }
      const a = r.sub(p + 4, p + l);
      if (addresses === null) addresses = [a];
      else addresses.push(a);
      contentEnd = p + l;
    } else if (isKnownParamType(t)) {
      r.invalid(p, end, 'only address parameters may appear in a transport parameter');
      return null;
    } else {
      r.unknown(p, -1);
    }
    p = next;
  }
  // §3.4: SCTP carries at least one address; §3.3, §3.5-3.7: the others exactly one.
  if (addresses === null || (type !== ParamType.SctpTransport && addresses.length !== 1)) {
    r.invalid(off, end, `transport parameter with ${addresses === null ? 0 : addresses.length} addresses`);
    return null;
  }
  r.nestedEnd(contentEnd, end);
  return { type, port, transportUse: use, serviceCode, addresses, opaque: null };
}

// The value fields of a policy as a bit set, so that reading and writing them is a few bit
// tests instead of a field-name list walk. Bit order is wire order for every type listed
// in `policyFields` (RFC 5356 §4-5 and RSPLIB's extensions); a list that ever breaks that
// order is flagged LISTED and handled field by field.
const WEIGHT = 1;
const PRIORITY = 2;
const LOAD = 4;
const LOAD_DEGRADATION = 8;
const LOAD_DPF = 16;
const WEIGHT_DPF = 32;
const DISTANCE = 64;
const LISTED = 128;
const FIELD_BITS: Readonly<Record<PolicyField, number>> = {
  weight: WEIGHT,
  priority: PRIORITY,
  load: LOAD,
  loadDegradation: LOAD_DEGRADATION,
  loadDpf: LOAD_DPF,
  weightDpf: WEIGHT_DPF,
  distance: DISTANCE,
};

/** Field bits in the low byte, the number of 32-bit values from bit 8 on. */
export function policyValueLayout(fields: readonly PolicyField[]): number {
  let mask = 0;
  for (let i = 0; i < fields.length; i++) {
    const bit = FIELD_BITS[fields[i]!];
    if (bit <= (mask & ~LISTED)) mask |= LISTED;
    mask |= bit;
  }
  return mask | (fields.length << 8);
}

const policyLayouts: ReadonlyMap<number, number> = new Map(Array.from(policyFields, ([type, fields]) => [type, policyValueLayout(fields)]));

// Policy types from 0x40000000 on are not small integers for V8, so a Map lookup hashes a
// heap number. The policies of one message (the pool's and its elements') are nearly always
// of one type: remember the last lookup.
let lastPolicyType = -1;
let lastPolicyLayout = -1;

/** The layout of a known policy type, or -1. */
function policyLayout(type: number): number {
  if (type !== lastPolicyType) {
    lastPolicyLayout = policyLayouts.get(type) ?? -1;
    lastPolicyType = type;
  }
  return lastPolicyLayout;
}

function setPolicyField(p: PolicySettings, f: PolicyField, v: number): void {
  switch (f) {
    case 'weight':
      p.weight = v;
      break;
    case 'priority':
      p.priority = v;
      break;
    case 'load':
      p.load = v;
      break;
    case 'loadDegradation':
      p.loadDegradation = v;
      break;
    case 'loadDpf':
      p.loadDpf = v;
      break;
    case 'weightDpf':
      p.weightDpf = v;
      break;
    case 'distance':
      p.distance = v;
      break;
  }
}

function getPolicyField(p: PolicySettings, f: PolicyField): number {
  switch (f) {
    case 'weight':
      return p.weight;
    case 'priority':
      return p.priority;
    case 'load':
      return p.load;
    case 'loadDegradation':
      return p.loadDegradation;
    case 'loadDpf':
      return p.loadDpf;
    case 'weightDpf':
      return p.weightDpf;
    case 'distance':
      return p.distance;
  }
}

/** RFC 5354 §3.8, RFC 5356 §4-5: a known type must carry exactly its fields. */
export function readPolicy(r: Reader, off: number, end: number): PolicySettings | null {
  const v = off + 4;
  if (end - v < 4) {
    r.invalid(off, end, 'policy parameter without policy type');
    return null;
  }
  const type = r.u32(v);
  const p: PolicySettings = {
    type,
    weight: 0,
    priority: 0,
    load: 0,
    loadDegradation: 0,
    loadDpf: 0,
    weightDpf: 0,
    distance: 0,
    raw: null,
  };
  const layout = policyLayout(type);
  if (layout < 0) {
    p.raw = r.sub(v + 4, end);
    return p;
  }
  const count = layout >>> 8;
  if (end - v - 4 !== count * 4) {
    r.invalid(off, end, `policy 0x${type.toString(16)} carries ${count} values, not ${(end - v - 4) / 4}`);
    return null;
  }
  let q = v + 4;
  if ((layout & LISTED) !== 0) {
    const fields = policyFields.get(type)!;
    for (let i = 0; i < fields.length; i++, q += 4) setPolicyField(p, fields[i]!, r.u32(q));
    return p;
  }
  if ((layout & WEIGHT) !== 0) {
    p.weight = r.u32(q);
    q += 4;
  }
  if ((layout & PRIORITY) !== 0) {
    p.priority = r.u32(q);
    q += 4;
  }
  if ((layout & LOAD) !== 0) {
    p.load = r.u32(q);
    q += 4;
  }
  if ((layout & LOAD_DEGRADATION) !== 0) {
    p.loadDegradation = r.u32(q);
    q += 4;
  }
  if ((layout & LOAD_DPF) !== 0) {
    p.loadDpf = r.u32(q);
    q += 4;
  }
  if ((layout & WEIGHT_DPF) !== 0) {
    p.weightDpf = r.u32(q);
    q += 4;
  }
  if ((layout & DISTANCE) !== 0) p.distance = r.u32(q);
  return p;
}

/** RFC 5354 §3.10: IDs and life, then user transport, policy, optional SCTP ASAP transport. */
export function readPoolElement(r: Reader, off: number, end: number): PoolElementParameter | null {
  const v = off + 4;
  if (end - v < 12) {
    r.invalid(off, end, 'pool element parameter too short');
    return null;
  }
  const peId = r.u32(v);
  const homeRegistrarId = r.u32(v + 4);
  const registrationLife = r.i32(v + 8);
  let userTransport: TransportParameter | null = null;
  let policy: PolicySettings | null = null;
  let asapTransport: TransportParameter | null = null;
  let p = v + 12;
  // Where the last kept value ends; skipped unknown TLVs are not re-encoded (RFC 5354 §2).
  let contentEnd = p;
  while (p < end) {
    if (!r.param(p, end)) return null;
    const t = r.pType;
    const pend = p + r.pLen;
    const next = r.pNext;
    if (isTransportType(t)) {
      if (policy === null) {
        if (userTransport !== null) {
          r.invalid(p, end, 'a pool element has exactly one user transport');
          return null;
        }
        userTransport = readTransport(r, t, p, pend);
        if (userTransport === null) return null;
        contentEnd = r.contentEnd;
      } else {
        if (t !== ParamType.SctpTransport || asapTransport !== null) {
          r.invalid(p, end, 'the ASAP transport must be one SCTP transport parameter');
          return null;
        }
        asapTransport = readTransport(r, t, p, pend);
        if (asapTransport === null) return null;
        contentEnd = r.contentEnd;
      }
    } else if (t === ParamType.PoolMemberSelectionPolicy) {
      if (policy !== null || userTransport === null) {
        r.invalid(p, end, 'the policy follows the one user transport');
        return null;
      }
      policy = readPolicy(r, p, pend);
      if (policy === null) return null;
      contentEnd = pend;
    } else if (isKnownParamType(t)) {
      r.invalid(p, end, 'unexpected parameter inside a pool element');
      return null;
    } else {
      r.unknown(p, -1);
    }
    p = next;
  }
  if (userTransport === null || policy === null) {
    r.invalid(off, end, 'pool element without user transport or policy');
    return null;
  }
  r.nestedEnd(contentEnd, end);
  return { peId, homeRegistrarId, registrationLife, userTransport, policy, asapTransport };
}

/** RFC 5354 §3.11. */
export function readServerInformation(r: Reader, off: number, end: number): ServerInformation | null {
  const v = off + 4;
  if (end - v < 4) {
    r.invalid(off, end, 'server information parameter too short');
    return null;
  }
  const serverId = r.u32(v);
  let transport: TransportParameter | null = null;
  let p = v + 4;
  let contentEnd = p;
  while (p < end) {
    if (!r.param(p, end)) return null;
    const t = r.pType;
    const pend = p + r.pLen;
    const next = r.pNext;
    if (t === ParamType.SctpTransport && transport === null) {
      transport = readTransport(r, t, p, pend);
      if (transport === null) return null;
      contentEnd = r.contentEnd;
    } else if (isKnownParamType(t)) {
      r.invalid(p, end, 'server information carries one SCTP transport');
      return null;
    } else {
      r.unknown(p, -1);
    }
    p = next;
  }
  r.nestedEnd(contentEnd, end);
  return { serverId, transport };
}

/** RFC 5354 §3.12: cause TLVs, each padded; the cause-specific information stays a view. */
export function readOperationError(r: Reader, off: number, end: number): OperationError | null {
  const causes: ErrorCause[] = [];
  let p = off + 4;
  let contentEnd = p;
  while (p < end) {
    if (end - p < 4) {
      r.fail(Cause.InvalidValues, p, 'truncated error cause', r.sub(off, end));
      return null;
    }
    const code = r.u16(p);
    const len = r.u16(p + 2);
    if (len < 4 || len > end - p) {
      r.fail(Cause.InvalidValues, p + 2, `error cause length ${len} invalid`, r.sub(off, end));
      return null;
    }
    causes.push({ code, info: r.sub(p + 4, p + len) });
    contentEnd = p + len;
    const next = p + len + padding(len);
    p = next > end ? end : next;
  }
  r.nestedEnd(contentEnd, end);
  return { causes };
}

// ---------------------------------------------------------------------------------------
// Encoders: each writes one padded TLV into the writer.

/**
 * RFC 5354 §3.1-3.2. The whole TLV is written at once, with one capacity check: a Pool
 * Element carries two of them, and the generic beginParam/bytes/endParam path cost about
 * twice as much.
 */
export function writeAddress(w: Writer, a: Uint8Array): void {
  const n = a.length;
  const len = 4 + n;
  const pad = padding(len);
  w.ensure(len + pad);
  const type = n === 4 ? ParamType.Ipv4Address : ParamType.Ipv6Address;
  const b = w.buf;
  const p = w.pos;
  b[p] = type >>> 8;
  b[p + 1] = type;
  b[p + 2] = len >>> 8;
  b[p + 3] = len;
  if (n === 4) {
    b[p + 4] = a[0]!;
    b[p + 5] = a[1]!;
    b[p + 6] = a[2]!;
    b[p + 7] = a[3]!;
  } else {
    b.set(a, p + 4);
  }
  for (let i = 0; i < pad; i++) b[p + len + i] = 0;
  w.pos = p + len + pad;
  w.lastPad = pad;
  w.lastParamEnd = w.pos;
}

export function writeTransport(w: Writer, t: TransportParameter): void {
  const type = t.type;
  const s = w.beginParam(type);
  if (type === ParamType.OpaqueTransport) {
    if (t.opaque !== null) w.bytes(t.opaque);
  } else {
    // Port and Transport Use (and the DCCP service code) in one go.
    w.ensure(8);
    const b = w.buf;
    let p = w.pos;
    const port = t.port;
    const use = t.transportUse;
    b[p] = port >>> 8;
    b[p + 1] = port;
    b[p + 2] = use >>> 8;
    b[p + 3] = use;
    p += 4;
    if (type === ParamType.DccpTransport) {
      const c = t.serviceCode;
      b[p] = c >>> 24;
      b[p + 1] = c >>> 16;
      b[p + 2] = c >>> 8;
      b[p + 3] = c;
      p += 4;
    }
    w.pos = p;
    const as = t.addresses;
    for (let i = 0; i < as.length; i++) writeAddress(w, as[i]!);
  }
  w.endParam(s);
}

export function writePolicy(w: Writer, p: PolicySettings): void {
  const s = w.beginParam(ParamType.PoolMemberSelectionPolicy);
  w.u32(p.type);
  const layout = policyLayout(p.type);
  if (layout < 0) {
    if (p.raw !== null) w.bytes(p.raw);
  } else if ((layout & LISTED) !== 0) {
    const fields = policyFields.get(p.type)!;
    for (let i = 0; i < fields.length; i++) w.u32(getPolicyField(p, fields[i]!));
  } else {
    if ((layout & WEIGHT) !== 0) w.u32(p.weight);
    if ((layout & PRIORITY) !== 0) w.u32(p.priority);
    if ((layout & LOAD) !== 0) w.u32(p.load);
    if ((layout & LOAD_DEGRADATION) !== 0) w.u32(p.loadDegradation);
    if ((layout & LOAD_DPF) !== 0) w.u32(p.loadDpf);
    if ((layout & WEIGHT_DPF) !== 0) w.u32(p.weightDpf);
    if ((layout & DISTANCE) !== 0) w.u32(p.distance);
  }
  w.endParam(s);
}

export function writePoolElement(w: Writer, pe: PoolElementParameter): void {
  // Header and the three 32-bit fields with one capacity check; Length filled in at the end.
  w.ensure(16);
  const b = w.buf;
  const s = w.pos;
  const id = pe.peId;
  const home = pe.homeRegistrarId;
  const life = pe.registrationLife;
  b[s] = ParamType.PoolElement >>> 8;
  b[s + 1] = ParamType.PoolElement;
  b[s + 2] = 0;
  b[s + 3] = 0;
  b[s + 4] = id >>> 24;
  b[s + 5] = id >>> 16;
  b[s + 6] = id >>> 8;
  b[s + 7] = id;
  b[s + 8] = home >>> 24;
  b[s + 9] = home >>> 16;
  b[s + 10] = home >>> 8;
  b[s + 11] = home;
  b[s + 12] = life >>> 24;
  b[s + 13] = life >>> 16;
  b[s + 14] = life >>> 8;
  b[s + 15] = life;
  w.pos = s + 16;
  writeTransport(w, pe.userTransport);
  writePolicy(w, pe.policy);
  if (pe.asapTransport !== null) writeTransport(w, pe.asapTransport);
  w.endParam(s);
}

export function writeServerInformation(w: Writer, si: ServerInformation): void {
  const s = w.beginParam(ParamType.ServerInformation);
  w.u32(si.serverId);
  if (si.transport !== null) writeTransport(w, si.transport);
  w.endParam(s);
}

export function writeOperationError(w: Writer, e: OperationError): void {
  const s = w.beginParam(ParamType.OperationError);
  const cs = e.causes;
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    const cs0 = w.beginParam(c.code);
    w.bytes(c.info);
    w.endParam(cs0);
  }
  w.endParam(s);
}

/** A parameter whose value is a byte string: Pool Handle, Cookie (RFC 5354 §3.9, §3.13). */
export function writeBytesParam(w: Writer, type: number, value: Uint8Array): void {
  const s = w.beginParam(type);
  w.bytes(value);
  w.endParam(s);
}

export function writeU32Param(w: Writer, type: number, value: number): void {
  const s = w.beginParam(type);
  w.u32(value);
  w.endParam(s);
}

/** PE Checksum (RFC 5354 §3.15): Length 6, then two bytes of padding. */
export function writePeChecksum(w: Writer, checksum: number): void {
  const s = w.beginParam(ParamType.PeChecksum);
  w.u16(checksum);
  w.endParam(s);
}

/**
 * Writes an already encoded parameter TLV (with or without its padding), e.g. a cached
 * Pool Element from `encodePoolElement`, so a response can be a concatenation.
 */
export function writeEncodedParameter(w: Writer, tlv: Uint8Array): void {
  w.bytes(tlv);
  const len = tlv.length >= 4 ? (tlv[2]! << 8) | tlv[3]! : tlv.length;
  const pad = padding(len);
  const have = tlv.length - len;
  if (have < pad) w.zeros(pad - have);
  w.lastPad = pad;
  w.lastParamEnd = w.pos;
}

const peScratch = new Writer(256);

/** One PE's Pool Element parameter as standalone bytes (padded), for caching. */
export function encodePoolElement(pe: PoolElementParameter): Uint8Array {
  peScratch.reset();
  writePoolElement(peScratch, pe);
  return peScratch.buf.slice(0, peScratch.pos);
}

/** Any single parameter TLV, for tests and tools. */
export function encodeParameter(write: (w: Writer) => void): Uint8Array {
  peScratch.reset();
  write(peScratch);
  return peScratch.buf.slice(0, peScratch.pos);
}
