// The one parser: message header (RFC 5354 §4), then each ASAP (RFC 5352 §2.2) or ENRP
// (RFC 5353 §2) message's fixed fields and parameters. Never throws, never copies.
import { AsapType, Cause, EnrpType, ParamType } from './constants.js';
import { wireError, type WireError } from './errors.js';
import type {
  AsapMessage,
  EnrpMessage,
  Message,
  PoolEntry,
  Protocol,
} from './messages.js';
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
import type { PolicySettings } from './policy-settings.js';
import { Reader } from './reader.js';

/**
 * The outcome of decoding one message.
 *
 * On success, `unrecognized` holds views of unrecognized parameters whose action bits ask
 * for a report (RFC 5354 §3: 01 and 11); send them back in an Operation Error with cause
 * Unrecognized Parameter. `discard` is true when an unrecognized parameter's action bits
 * say "stop processing and discard" (00, 01): the message is decoded as far as it is
 * well-formed so it can be inspected and re-encoded, but a receiver must not act on it.
 */
export type DecodeResult =
  | { ok: true; message: Message; unrecognized: readonly Uint8Array[]; discard: boolean }
  | { ok: false; error: WireError };

const NONE: readonly Uint8Array[] = Object.freeze([]);

/** Bits of the parameter types a message accepts at top level. */
const A = (t: number): number => 1 << t;
const HR_OPTION = 1 << 17;
/** Handle table response: a pool handle opens a pool entry, elements follow it. */
const ENTRIES = 1 << 20;

/** The top-level parameters of the message being decoded. Reused; reset per message. */
class Slots {
  poolHandle: Uint8Array | null = null;
  peId = -1;
  poolElements: PoolElementParameter[] | null = null;
  policy: PolicySettings | null = null;
  error: OperationError | null = null;
  cookie: Uint8Array | null = null;
  checksum = -1;
  servers: ServerInformation[] | null = null;
  transports: TransportParameter[] | null = null;
  items = -1;
  entries: PoolEntry[] | null = null;
  /** Whether the Length covered the final parameter's padding (RSPLIB form). */
  paddedLength = false;

  reset(): void {
    this.poolHandle = null;
    this.peId = -1;
    this.poolElements = null;
    this.policy = null;
    this.error = null;
    this.cookie = null;
    this.checksum = -1;
    this.servers = null;
    this.transports = null;
    this.items = -1;
    this.entries = null;
    this.paddedLength = false;
  }
}

const reader = new Reader();
const slots = new Slots();

function duplicate(r: Reader, off: number, end: number): false {
  return r.invalid(off, end, `duplicate parameter 0x${r.pType.toString(16)}`);
}

/** Reads the top-level parameters in [off, end) into `s`; `allowed` is a bit set of types. */
function readParams(r: Reader, s: Slots, off: number, end: number, allowed: number): boolean {
  let position = 0;
  let lastValueEnd = off;
  while (off < end) {
    if (!r.param(off, end)) return false;
    const t = r.pType;
    const tend = off + r.pLen;
    const next = r.pNext;
    // Where this parameter's kept content ends; the nesting decoders below move it back
    // to the end of their last kept value (Reader.contentEnd).
    lastValueEnd = tend;
    if (isKnownParamType(t)) {
      const bit = t === ParamType.HandleResolutionOption ? HR_OPTION : A(t);
      if ((allowed & bit) === 0) return r.invalid(off, end, `parameter 0x${t.toString(16)} is not allowed in this message`);
      switch (t) {
        case ParamType.PoolHandle: {
          if (tend - off === 4) return r.invalid(off, end, 'empty pool handle');
          const ph = r.sub(off + 4, tend);
          if ((allowed & ENTRIES) !== 0) {
            const entries = s.entries ?? (s.entries = []);
            const last = entries.length === 0 ? null : entries[entries.length - 1]!;
            if (last !== null && last.poolElements.length === 0) return r.invalid(off, end, 'pool entry without pool elements');
            entries.push({ poolHandle: ph, poolElements: [] });
          } else {
            if (s.poolHandle !== null) return duplicate(r, off, end);
            s.poolHandle = ph;
          }
          break;
        }
        case ParamType.PeIdentifier:
          if (tend - off !== 8) return r.invalid(off, end, 'PE identifier parameter length must be 8');
          if (s.peId !== -1) return duplicate(r, off, end);
          s.peId = r.u32(off + 4);
          break;
        case ParamType.PoolElement: {
          const pe = readPoolElement(r, off, tend);
          if (pe === null) return false;
          lastValueEnd = r.contentEnd;
          if ((allowed & ENTRIES) !== 0) {
            const entries = s.entries;
            if (entries === null) return r.invalid(off, end, 'pool element before any pool handle');
            entries[entries.length - 1]!.poolElements.push(pe);
          } else {
            (s.poolElements ?? (s.poolElements = [])).push(pe);
          }
          break;
        }
        case ParamType.PoolMemberSelectionPolicy:
          if (s.policy !== null) return duplicate(r, off, end);
          if ((s.policy = readPolicy(r, off, tend)) === null) return false;
          break;
        case ParamType.OperationError:
          if (s.error !== null) return duplicate(r, off, end);
          if ((s.error = readOperationError(r, off, tend)) === null) return false;
          lastValueEnd = r.contentEnd;
          break;
        case ParamType.Cookie:
          if (s.cookie !== null) return duplicate(r, off, end);
          s.cookie = r.sub(off + 4, tend);
          break;
        case ParamType.PeChecksum:
          if (tend - off !== 6) return r.invalid(off, end, 'PE checksum parameter length must be 6');
          if (s.checksum !== -1) return duplicate(r, off, end);
          s.checksum = r.u16(off + 4);
          break;
        case ParamType.ServerInformation: {
          const si = readServerInformation(r, off, tend);
          if (si === null) return false;
          lastValueEnd = r.contentEnd;
          (s.servers ?? (s.servers = [])).push(si);
          break;
        }
        case ParamType.HandleResolutionOption:
          if (tend - off !== 8) return r.invalid(off, end, 'handle resolution option length must be 8');
          if (s.items !== -1) return duplicate(r, off, end);
          s.items = r.u32(off + 4);
          break;
        default: {
          // Transports (Server Announce); addresses alone never appear at top level.
          if (!isTransportType(t)) return r.invalid(off, end, `parameter 0x${t.toString(16)} is not allowed here`);
          const tp = readTransport(r, t, off, tend);
          if (tp === null) return false;
          lastValueEnd = r.contentEnd;
          (s.transports ?? (s.transports = [])).push(tp);
        }
      }
    } else {
      r.unknown(off, position);
    }
    position++;
    off = next;
  }
  if ((allowed & ENTRIES) !== 0 && s.entries !== null && s.entries[s.entries.length - 1]!.poolElements.length === 0) {
    return r.fail(Cause.InvalidValues, end - 1, 'pool entry without pool elements');
  }
  // The loop ends exactly at `end`. The message's final padding is the padding after the
  // last value kept (the innermost last TLV of the last parameter, RFC 5354 §2). If the
  // Length reaches past that value, it covered the padding: RSPLIB's form (rsplib-facts.md),
  // which also counts a nested TLV's padding in its parent's Length. So does a parent
  // parameter anywhere whose Length covered its last nested TLV's padding. An aligned last
  // value has no padding: both forms are the same bytes there, and a Length past it only
  // covered skipped unknown nested TLVs. One flag for the message: a mix of both forms is
  // re-encoded in RSPLIB's form, and decodes again to the same message.
  s.paddedLength = r.paddingCovered || ((lastValueEnd & 3) !== 0 && lastValueEnd < end);
  return true;
}

function missing(r: Reader, what: string): null {
  r.fail(Cause.InvalidValues, 0, `missing ${what}`);
  return null;
}

function asap(r: Reader, s: Slots, type: number, flags: number, len: number): AsapMessage | null {
  const P = A(ParamType.PoolHandle);
  const ID = A(ParamType.PeIdentifier);
  const PE = A(ParamType.PoolElement);
  const ERR = A(ParamType.OperationError);
  switch (type) {
    case AsapType.Registration:
      if (!readParams(r, s, 4, len, P | PE)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      if (s.poolElements === null || s.poolElements.length !== 1) return missing(r, 'the one pool element');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, poolHandle: s.poolHandle, poolElement: s.poolElements[0]! };
    case AsapType.Deregistration:
    case AsapType.EndpointKeepAliveAck:
    case AsapType.EndpointUnreachable:
      if (!readParams(r, s, 4, len, P | ID)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      if (s.peId === -1) return missing(r, 'PE identifier');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, poolHandle: s.poolHandle, peId: s.peId };
    case AsapType.RegistrationResponse:
    case AsapType.DeregistrationResponse:
      if (!readParams(r, s, 4, len, P | ID | ERR)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      if (s.peId === -1) return missing(r, 'PE identifier');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, poolHandle: s.poolHandle, peId: s.peId, error: s.error };
    case AsapType.HandleResolution:
      if (!readParams(r, s, 4, len, P | HR_OPTION)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, poolHandle: s.poolHandle, items: s.items === -1 ? null : s.items };
    case AsapType.HandleResolutionResponse:
      if (!readParams(r, s, 4, len, P | A(ParamType.PoolMemberSelectionPolicy) | PE | ERR)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, poolHandle: s.poolHandle, policy: s.policy, poolElements: s.poolElements ?? [], error: s.error };
    case AsapType.EndpointKeepAlive:
      if (len < 8) return r.fail(Cause.InvalidValues, 2, 'keep-alive shorter than its server identifier'), null;
      if (!readParams(r, s, 8, len, P | ID)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, serverId: r.u32(4), poolHandle: s.poolHandle, peId: s.peId === -1 ? null : s.peId };
    case AsapType.ServerAnnounce: {
      if (len < 8) return r.fail(Cause.InvalidValues, 2, 'server announce shorter than its server identifier'), null;
      const T = A(ParamType.SctpTransport) | A(ParamType.TcpTransport) | A(ParamType.UdpTransport) | A(ParamType.UdpLiteTransport) | A(ParamType.DccpTransport) | A(ParamType.OpaqueTransport);
      if (!readParams(r, s, 8, len, T)) return null;
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, serverId: r.u32(4), transports: s.transports ?? [] };
    }
    case AsapType.Cookie:
    case AsapType.CookieEcho:
      if (!readParams(r, s, 4, len, A(ParamType.Cookie))) return null;
      if (s.cookie === null) return missing(r, 'cookie');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, cookie: s.cookie };
    case AsapType.BusinessCard:
      if (!readParams(r, s, 4, len, P | PE)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, poolHandle: s.poolHandle, poolElements: s.poolElements ?? [] };
    case AsapType.Error:
      if (!readParams(r, s, 4, len, ERR)) return null;
      if (s.error === null) return missing(r, 'operation error');
      return { protocol: 'asap', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, error: s.error };
  }
  return null;
}

function enrp(r: Reader, s: Slots, type: number, flags: number, len: number): EnrpMessage | null {
  if (len < 12) return r.fail(Cause.InvalidValues, 2, 'ENRP message shorter than its server IDs'), null;
  const senderId = r.u32(4);
  const receiverId = r.u32(8);
  const P = A(ParamType.PoolHandle);
  const PE = A(ParamType.PoolElement);
  switch (type) {
    case EnrpType.Presence: {
      if (!readParams(r, s, 12, len, A(ParamType.PeChecksum) | A(ParamType.ServerInformation))) return null;
      if (s.servers !== null && s.servers.length > 1) return r.fail(Cause.InvalidValues, 12, 'more than one server information'), null;
      return { protocol: 'enrp', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, senderId, receiverId, checksum: s.checksum === -1 ? null : s.checksum, serverInfo: s.servers === null ? null : s.servers[0]! };
    }
    case EnrpType.HandleTableRequest:
    case EnrpType.ListRequest:
      if (!readParams(r, s, 12, len, 0)) return null;
      return { protocol: 'enrp', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, senderId, receiverId };
    case EnrpType.HandleTableResponse:
      if (!readParams(r, s, 12, len, P | PE | ENTRIES)) return null;
      return { protocol: 'enrp', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, senderId, receiverId, entries: s.entries ?? [] };
    case EnrpType.HandleUpdate:
      if (len < 16) return r.fail(Cause.InvalidValues, 2, 'handle update shorter than its update action'), null;
      if (!readParams(r, s, 16, len, P | PE)) return null;
      if (s.poolHandle === null) return missing(r, 'pool handle');
      if (s.poolElements === null || s.poolElements.length !== 1) return missing(r, 'the one pool element');
      return { protocol: 'enrp', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, senderId, receiverId, action: r.u16(12), reserved: r.u16(14), poolHandle: s.poolHandle, poolElement: s.poolElements[0]! };
    case EnrpType.ListResponse:
      if (!readParams(r, s, 12, len, A(ParamType.ServerInformation))) return null;
      return { protocol: 'enrp', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, senderId, receiverId, servers: s.servers ?? [] };
    case EnrpType.InitTakeover:
    case EnrpType.InitTakeoverAck:
    case EnrpType.TakeoverServer:
      if (len < 16) return r.fail(Cause.InvalidValues, 2, 'takeover message shorter than its target server ID'), null;
      if (!readParams(r, s, 16, len, 0)) return null;
      return { protocol: 'enrp', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, senderId, receiverId, targetServerId: r.u32(12) };
    case EnrpType.Error:
      if (!readParams(r, s, 12, len, A(ParamType.OperationError))) return null;
      if (s.error === null) return missing(r, 'operation error');
      return { protocol: 'enrp', type, flags, paddedLength: s.paddedLength, unknownParams: r.unknownParams, senderId, receiverId, error: s.error };
  }
  return null;
}

function isKnownType(protocol: Protocol, type: number): boolean {
  return protocol === 'asap' ? type >= AsapType.Registration && type <= AsapType.Error : type >= EnrpType.Presence && type <= EnrpType.Error;
}

/**
 * Decodes one ASAP or ENRP message (the payload of one SCTP message or UDP datagram).
 * Pool handles, cookies, addresses and opaque values in the result are views of `bytes`.
 */
export function decodeMessage(protocol: Protocol, bytes: Uint8Array): DecodeResult {
  const n = bytes.length;
  if (n < 4) return { ok: false, error: wireError(Cause.InvalidValues, 0, `message of ${n} bytes is shorter than its header`, bytes) };
  const r = reader;
  r.reset(bytes);
  const type = bytes[0]!;
  const flags = bytes[1]!;
  const len = r.u16(2);
  if (len < 4) return { ok: false, error: wireError(Cause.InvalidValues, 2, `message length ${len} < 4`, bytes) };
  if (len > n) return { ok: false, error: wireError(Cause.InvalidValues, 2, `message length ${len} exceeds the ${n} bytes received`, bytes) };
  // RFC 5354 §4: at most 3 bytes of padding follow the Length.
  if (n - len > 3) return { ok: false, error: wireError(Cause.InvalidValues, len, `${n - len} bytes after the message`, bytes) };
  if (!isKnownType(protocol, type)) {
    // RFC 5354 §4: the upper two bits say whether to report (01); 10 and 11 are reserved.
    return { ok: false, error: wireError(Cause.UnrecognizedMessage, 0, `unrecognized ${protocol} message type 0x${type.toString(16)}`, bytes.subarray(0, len), type >>> 6 === 1) };
  }
  const s = slots;
  s.reset();
  const message = protocol === 'asap' ? asap(r, s, type, flags, len) : enrp(r, s, type, flags, len);
  s.reset();
  if (message === null) {
    if (r.discard) {
      // The message was to be discarded at the unrecognized parameter anyway (RFC 5354 §3).
      return { ok: false, error: wireError(Cause.UnrecognizedParameter, r.stopOffset, 'unrecognized parameter: message discarded', r.stopParam, r.stopReport) };
    }
    return { ok: false, error: r.error ?? wireError(Cause.UnspecifiedError, 0, 'undecodable message', null) };
  }
  return { ok: true, message, unrecognized: r.unrecognized ?? NONE, discard: r.discard };
}

export function decodeAsap(bytes: Uint8Array): DecodeResult {
  return decodeMessage('asap', bytes);
}

export function decodeEnrp(bytes: Uint8Array): DecodeResult {
  return decodeMessage('enrp', bytes);
}
