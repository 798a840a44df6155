// The one serializer: every ASAP / ENRP message into a reusable growable Writer.
// Lengths per RFC 5354 §2, §4 (a message's or parent parameter's Length excludes the final
// padding, the padding is still sent), or in RSPLIB's form when a decoded message used it
// (`paddedLength`: every Length enclosing the final TLV covers its padding).
import { AsapType, EnrpType, ParamType } from './constants.js';
import type { Message } from './messages.js';
import {
  writeBytesParam,
  writeEncodedParameter,
  writeOperationError,
  writePeChecksum,
  writePolicy,
  writePoolElement,
  writeServerInformation,
  writeTransport,
  writeU32Param,
  type OperationError,
} from './parameters.js';
import type { PolicySettings } from './policy-settings.js';
import type { UnknownParameter } from './reader.js';
import { padding, Writer } from './writer.js';

function body(w: Writer, m: Message): void {
  if (m.protocol === 'asap') {
    switch (m.type) {
      case AsapType.Registration:
        writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
        writePoolElement(w, m.poolElement);
        return;
      case AsapType.Deregistration:
      case AsapType.EndpointKeepAliveAck:
      case AsapType.EndpointUnreachable:
        writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
        writeU32Param(w, ParamType.PeIdentifier, m.peId);
        return;
      case AsapType.RegistrationResponse:
      case AsapType.DeregistrationResponse:
        writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
        writeU32Param(w, ParamType.PeIdentifier, m.peId);
        if (m.error !== null) writeOperationError(w, m.error);
        return;
      case AsapType.HandleResolution:
        writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
        if (m.items !== null) writeU32Param(w, ParamType.HandleResolutionOption, m.items);
        return;
      case AsapType.HandleResolutionResponse: {
        writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
        if (m.policy !== null) writePolicy(w, m.policy);
        const pes = m.poolElements;
        for (let i = 0; i < pes.length; i++) writePoolElement(w, pes[i]!);
        if (m.error !== null) writeOperationError(w, m.error);
        return;
      }
      case AsapType.EndpointKeepAlive:
        w.u32(m.serverId);
        w.lastPad = 0;
        writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
        if (m.peId !== null) writeU32Param(w, ParamType.PeIdentifier, m.peId);
        return;
      case AsapType.ServerAnnounce: {
        w.u32(m.serverId);
        w.lastPad = 0;
        const ts = m.transports;
        for (let i = 0; i < ts.length; i++) writeTransport(w, ts[i]!);
        return;
      }
      case AsapType.Cookie:
      case AsapType.CookieEcho:
        writeBytesParam(w, ParamType.Cookie, m.cookie);
        return;
      case AsapType.BusinessCard: {
        writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
        const pes = m.poolElements;
        for (let i = 0; i < pes.length; i++) writePoolElement(w, pes[i]!);
        return;
      }
      case AsapType.Error:
        writeOperationError(w, m.error);
        return;
    }
    return;
  }
  w.u32(m.senderId);
  w.u32(m.receiverId);
  w.lastPad = 0;
  switch (m.type) {
    case EnrpType.Presence:
      if (m.checksum !== null) writePeChecksum(w, m.checksum);
      if (m.serverInfo !== null) writeServerInformation(w, m.serverInfo);
      return;
    case EnrpType.HandleTableRequest:
    case EnrpType.ListRequest:
      return;
    case EnrpType.HandleTableResponse: {
      const es = m.entries;
      for (let i = 0; i < es.length; i++) {
        const e = es[i]!;
        writeBytesParam(w, ParamType.PoolHandle, e.poolHandle);
        for (let j = 0; j < e.poolElements.length; j++) writePoolElement(w, e.poolElements[j]!);
      }
      return;
    }
    case EnrpType.HandleUpdate:
      w.u16(m.action);
      w.u16(m.reserved);
      w.lastPad = 0;
      writeBytesParam(w, ParamType.PoolHandle, m.poolHandle);
      writePoolElement(w, m.poolElement);
      return;
    case EnrpType.ListResponse:
      for (let i = 0; i < m.servers.length; i++) writeServerInformation(w, m.servers[i]!);
      return;
    case EnrpType.InitTakeover:
    case EnrpType.InitTakeoverAck:
    case EnrpType.TakeoverServer:
      w.u32(m.targetServerId);
      w.lastPad = 0;
      return;
    case EnrpType.Error:
      writeOperationError(w, m.error);
      return;
  }
}

/** Where the parameters start after the header and fixed fields. */
function fixedLength(m: Message): number {
  if (m.protocol === 'asap') return m.type === AsapType.EndpointKeepAlive || m.type === AsapType.ServerAnnounce ? 8 : 4;
  switch (m.type) {
    case EnrpType.HandleUpdate:
    case EnrpType.InitTakeover:
    case EnrpType.InitTakeoverAck:
    case EnrpType.TakeoverServer:
      return 16;
    default:
      return 12;
  }
}

/** Slow path: put unrecognized parameters back at their original positions. */
function mergeUnknown(w: Writer, from: number, unknown: readonly UnknownParameter[]): void {
  const known = w.buf.slice(from, w.pos);
  w.pos = from;
  let f = 0;
  let u = 0;
  let p = 0;
  while (p < known.length) {
    while (u < unknown.length && unknown[u]!.position <= f) {
      writeEncodedParameter(w, unknown[u++]!.bytes);
      f++;
    }
    const len = (known[p + 2]! << 8) | known[p + 3]!;
    const end = Math.min(known.length, p + len + padding(len));
    writeEncodedParameter(w, known.subarray(p, end));
    f++;
    p = end;
  }
  while (u < unknown.length) writeEncodedParameter(w, unknown[u++]!.bytes);
}

const scratch = new Writer(4096);

function finishMessage(w: Writer, start: number, padded: boolean): void {
  const total = w.pos - start;
  // RFC 5354 §4: Length excludes the final padding; RSPLIB's form includes it.
  w.setU16(start + 2, padded ? total : total - w.lastPad);
}

/**
 * Encodes a message. With a writer, the message is appended at `writer.pos` and the result
 * is a view into the writer (valid until `writer.reset()`); without one, a fresh copy.
 */
export function encodeMessage(message: Message, writer?: Writer): Uint8Array {
  const w = writer ?? scratch;
  if (writer === undefined) w.reset();
  const start = w.pos;
  w.ensure(4);
  w.u8(message.type);
  w.u8(message.flags);
  w.u16(0);
  w.lastPad = 0;
  // RSPLIB's form counts padding in every enclosing Length, nested parameters' too.
  const nested = w.nestedPadInLength;
  w.nestedPadInLength = message.paddedLength;
  body(w, message);
  w.nestedPadInLength = nested;
  if (message.unknownParams !== null && message.unknownParams.length > 0) {
    mergeUnknown(w, start + fixedLength(message), message.unknownParams);
  }
  finishMessage(w, start, message.paddedLength);
  return writer === undefined ? w.buf.slice(start, w.pos) : w.sub(start, w.pos);
}

/**
 * ASAP_HANDLE_RESOLUTION_RESPONSE from pre-encoded Pool Element parameters (see
 * `encodePoolElement`): the handlespace keeps each PE's bytes and a response is their
 * concatenation (RFC 5352 §2.2.6). Appends to `writer`; returns a view.
 */
export function encodeHandleResolutionResponse(
  writer: Writer,
  flags: number,
  poolHandle: Uint8Array,
  policy: PolicySettings | null,
  encodedPoolElements: readonly Uint8Array[],
  count: number = encodedPoolElements.length,
  error: OperationError | null = null,
): Uint8Array {
  const w = writer;
  const start = w.pos;
  w.u8(AsapType.HandleResolutionResponse);
  w.u8(flags);
  w.u16(0);
  writeBytesParam(w, ParamType.PoolHandle, poolHandle);
  if (policy !== null) writePolicy(w, policy);
  for (let i = 0; i < count; i++) writeEncodedParameter(w, encodedPoolElements[i]!);
  if (error !== null) writeOperationError(w, error);
  finishMessage(w, start, false);
  return w.sub(start, w.pos);
}

/**
 * ASAP_ENDPOINT_KEEP_ALIVE (RFC 5352 §2.2.8) for a registrar's keep-alive timer: the bytes
 * `encodeMessage` makes of the message, without a message object per keep-alive. Appends to
 * `writer`; returns a view.
 */
export function encodeEndpointKeepAlive(writer: Writer, flags: number, serverId: number, poolHandle: Uint8Array, peId: number): Uint8Array {
  const w = writer;
  const start = w.pos;
  w.ensure(8);
  w.u8(AsapType.EndpointKeepAlive);
  w.u8(flags);
  w.u16(0);
  w.u32(serverId);
  w.lastPad = 0;
  writeBytesParam(w, ParamType.PoolHandle, poolHandle);
  writeU32Param(w, ParamType.PeIdentifier, peId);
  finishMessage(w, start, false);
  return w.sub(start, w.pos);
}

/**
 * An accepting ASAP_REGISTRATION_RESPONSE (RFC 5352 §2.2.2: pool handle, PE identifier, no
 * Operation Error): the bytes `encodeMessage` makes of it, without a message object per
 * registration. Appends to `writer`; returns a view.
 */
export function encodeRegistrationAccepted(writer: Writer, poolHandle: Uint8Array, peId: number): Uint8Array {
  const w = writer;
  const start = w.pos;
  w.ensure(4);
  w.u8(AsapType.RegistrationResponse);
  w.u8(0);
  w.u16(0);
  w.lastPad = 0;
  writeBytesParam(w, ParamType.PoolHandle, poolHandle);
  writeU32Param(w, ParamType.PeIdentifier, peId);
  finishMessage(w, start, false);
  return w.sub(start, w.pos);
}
