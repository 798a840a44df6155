// The chunks of an SCTP packet (RFC 9260 §3.2, §3.3) and their parameters (§3.2.1) and error
// causes (§3.3.10): type numbers, decoders over the received bytes, encoders into a writer's
// buffer (packet.ts). Decoders never throw: a length that lies gives `undefined` (the chunk is
// discarded). Multi-byte fields are read and written by hand, big-endian (network order),
// without a DataView per packet.

import { addressToString, parseAddress } from '../wire/address.js';
import type { DataChunk, SackInfo } from './data-chunk.js';

/** Chunk Type values, RFC 9260 §3.2. */
export const ChunkType = {
  DATA: 0,
  INIT: 1,
  INIT_ACK: 2,
  SACK: 3,
  HEARTBEAT: 4,
  HEARTBEAT_ACK: 5,
  ABORT: 6,
  SHUTDOWN: 7,
  SHUTDOWN_ACK: 8,
  ERROR: 9,
  COOKIE_ECHO: 10,
  COOKIE_ACK: 11,
  ECNE: 12,
  CWR: 13,
  SHUTDOWN_COMPLETE: 14,
} as const;

/** What the upper two bits of an unrecognized chunk type or parameter type ask (§3.2, §3.2.1). */
export const UnrecognizedAction = {
  /** 00: stop processing (the packet / the chunk's parameters), report nothing */
  STOP: 0,
  /** 01: stop processing and report it */
  STOP_REPORT: 1,
  /** 10: skip it and continue */
  SKIP: 2,
  /** 11: skip it, continue, and report it */
  SKIP_REPORT: 3,
} as const;
export type UnrecognizedAction = (typeof UnrecognizedAction)[keyof typeof UnrecognizedAction];

/** The action for an unrecognized chunk type (8-bit) or parameter type (16-bit). */
export function unrecognizedChunkAction(type: number): UnrecognizedAction {
  return ((type >>> 6) & 3) as UnrecognizedAction;
}
export function unrecognizedParameterAction(type: number): UnrecognizedAction {
  return ((type >>> 14) & 3) as UnrecognizedAction;
}

/** Chunk flags. */
export const ChunkFlag = {
  /** T bit of ABORT and SHUTDOWN COMPLETE (§3.3.7, §3.3.13): the Verification Tag is reflected. */
  T: 0x01,
  /** DATA (§3.3.1; I bit RFC 7053) */
  E: 0x01,
  B: 0x02,
  U: 0x04,
  I: 0x08,
} as const;

/** Parameter types of INIT and INIT ACK (§3.3.2.1, §3.3.3.1) and HEARTBEAT (§3.3.5). */
export const ParameterType = {
  HEARTBEAT_INFO: 1,
  IPV4_ADDRESS: 5,
  IPV6_ADDRESS: 6,
  STATE_COOKIE: 7,
  UNRECOGNIZED_PARAMETER: 8,
  COOKIE_PRESERVATIVE: 9,
  HOST_NAME_ADDRESS: 11,
  SUPPORTED_ADDRESS_TYPES: 12,
  /** Reserved for ECN Capable (0x8000): its action bits say skip silently. */
  ECN_CAPABLE: 0x8000,
} as const;

/** Error cause codes, RFC 9260 §3.3.10 (all 13). */
export const ErrorCauseCode = {
  INVALID_STREAM_IDENTIFIER: 1,
  MISSING_MANDATORY_PARAMETER: 2,
  STALE_COOKIE: 3,
  OUT_OF_RESOURCE: 4,
  UNRESOLVABLE_ADDRESS: 5,
  UNRECOGNIZED_CHUNK_TYPE: 6,
  INVALID_MANDATORY_PARAMETER: 7,
  UNRECOGNIZED_PARAMETERS: 8,
  NO_USER_DATA: 9,
  COOKIE_RECEIVED_WHILE_SHUTTING_DOWN: 10,
  RESTART_WITH_NEW_ADDRESSES: 11,
  USER_INITIATED_ABORT: 12,
  PROTOCOL_VIOLATION: 13,
} as const;

export const ERROR_CAUSE_NAMES: Readonly<Record<number, string>> = {
  1: 'Invalid Stream Identifier',
  2: 'Missing Mandatory Parameter',
  3: 'Stale Cookie Error',
  4: 'Out of Resource',
  5: 'Unresolvable Address',
  6: 'Unrecognized Chunk Type',
  7: 'Invalid Mandatory Parameter',
  8: 'Unrecognized Parameters',
  9: 'No User Data',
  10: 'Cookie Received While Shutting Down',
  11: 'Restart of an Association with New Addresses',
  12: 'User-Initiated Abort',
  13: 'Protocol Violation',
};

/** Size of the DATA chunk header (§3.3.1). */
export const DATA_CHUNK_HEADER = 16;
/** Size of the fixed part of INIT / INIT ACK (§3.3.2). */
export const INIT_FIXED = 20;

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

// ---------------------------------------------------------------------------------------------
// Decoders. Each takes the packet bytes, the chunk's offset and its Chunk Length (already
// checked by the packet reader to be >= 4 and within the packet).

/** DATA (§3.3.1). `userData` is a view into the packet. Undefined when shorter than the header.
 *  With `into`, that record is filled in and returned (no allocation but the view). */
export function decodeData(b: Uint8Array, o: number, length: number, into?: DataChunk): DataChunk | undefined {
  if (length < DATA_CHUNK_HEADER) return undefined;
  const flags = b[o + 1]!;
  if (into !== undefined) {
    into.tsn = readU32(b, o + 4);
    into.streamId = readU16(b, o + 8);
    into.ssn = readU16(b, o + 10);
    into.ppid = readU32(b, o + 12);
    into.unordered = (flags & ChunkFlag.U) !== 0;
    into.beginning = (flags & ChunkFlag.B) !== 0;
    into.ending = (flags & ChunkFlag.E) !== 0;
    into.immediate = (flags & ChunkFlag.I) !== 0;
    into.userData = b.subarray(o + DATA_CHUNK_HEADER, o + length);
    return into;
  }
  return {
    tsn: readU32(b, o + 4),
    streamId: readU16(b, o + 8),
    ssn: readU16(b, o + 10),
    ppid: readU32(b, o + 12),
    unordered: (flags & ChunkFlag.U) !== 0,
    beginning: (flags & ChunkFlag.B) !== 0,
    ending: (flags & ChunkFlag.E) !== 0,
    immediate: (flags & ChunkFlag.I) !== 0,
    userData: b.subarray(o + DATA_CHUNK_HEADER, o + length),
  };
}

/**
 * SACK (§3.3.4). Undefined when the counts of gap blocks and duplicates do not fit the chunk,
 * or the gap blocks are not ascending, non-overlapping, with start <= end (hostile input).
 */
/** Gap blocks and duplicate TSNs a reused SACK record holds at most (decodeSack's `into`). */
const SACK_SCRATCH_ENTRIES = 64;

export function decodeSack(b: Uint8Array, o: number, length: number, into?: SackInfo): SackInfo | undefined {
  if (length < 16) return undefined;
  const gaps = readU16(b, o + 12);
  const dups = readU16(b, o + 14);
  if (16 + gaps * 4 + dups * 4 > length) return undefined;
  // `into` (the association's scratch record): its arrays are reused, emptied first; not for a
  // SACK with more blocks than a scratch record keeps, which a peer could send to pin memory
  // on every association (one datagram holds ~16,000 blocks).
  if (into !== undefined && (gaps > SACK_SCRATCH_ENTRIES || dups > SACK_SCRATCH_ENTRIES)) into = undefined;
  const gapAckBlocks: Array<[number, number]> = into !== undefined ? into.gapAckBlocks : new Array(gaps);
  gapAckBlocks.length = gaps;
  let p = o + 16;
  let previousEnd = 0;
  for (let i = 0; i < gaps; i++, p += 4) {
    const start = readU16(b, p);
    const end = readU16(b, p + 2);
    if (start === 0 || end < start || start <= previousEnd) return undefined;
    previousEnd = end;
    gapAckBlocks[i] = [start, end];
  }
  const duplicateTsns: number[] = into !== undefined ? into.duplicateTsns : new Array(dups);
  duplicateTsns.length = dups;
  for (let i = 0; i < dups; i++, p += 4) duplicateTsns[i] = readU32(b, p);
  if (into === undefined) return { cumulativeTsnAck: readU32(b, o + 4), advertisedReceiverWindow: readU32(b, o + 8), gapAckBlocks, duplicateTsns };
  into.cumulativeTsnAck = readU32(b, o + 4);
  into.advertisedReceiverWindow = readU32(b, o + 8);
  return into;
}

/** INIT or INIT ACK (§3.3.2, §3.3.3) with its parameters. */
export interface InitChunk {
  initiateTag: number;
  advertisedReceiverWindow: number;
  outboundStreams: number;
  inboundStreams: number;
  initialTsn: number;
  /** IPv4/IPv6 Address parameters, in text form (§3.3.2.1). */
  addresses: string[];
  /** State Cookie (INIT ACK only, §3.3.3.1): a view into the packet. */
  stateCookie: Uint8Array | undefined;
  /** Cookie Preservative, ms (§3.3.2.1). */
  cookiePreservative: number | undefined;
  /** A Host Name Address parameter was present (RFC 9260 §3.3.2.1: we cannot resolve it). */
  hostNameAddress: boolean;
  /** Supported Address Types (§3.3.2.1), undefined when absent (any type). */
  supportedAddressTypes: number[] | undefined;
  /** Unrecognized parameters whose action bits ask for a report (whole TLV views, unpadded). */
  unrecognized: Uint8Array[];
  /** A malformed mandatory field or parameter (§3.3.2: tag 0, no streams; a lying length). */
  invalid: string | undefined;
}

/** At most this many addresses of a peer are kept (hostile input cannot make us hold more). */
export const MAX_PEER_ADDRESSES = 16;
/** At most this many unrecognized parameters are reported. */
const MAX_REPORTED_PARAMETERS = 8;

export function decodeInit(b: Uint8Array, o: number, length: number): InitChunk | undefined {
  if (length < INIT_FIXED) return undefined;
  const init: InitChunk = {
    initiateTag: readU32(b, o + 4),
    advertisedReceiverWindow: readU32(b, o + 8),
    outboundStreams: readU16(b, o + 12),
    inboundStreams: readU16(b, o + 14),
    initialTsn: readU32(b, o + 16),
    addresses: [],
    stateCookie: undefined,
    cookiePreservative: undefined,
    hostNameAddress: false,
    supportedAddressTypes: undefined,
    unrecognized: [],
    invalid: undefined,
  };
  // §3.3.2: Initiate Tag 0 and zero stream counts are errors; a_rwnd must be >= 1500 (§6).
  if (init.initiateTag === 0) init.invalid = 'Initiate Tag 0';
  else if (init.outboundStreams === 0 || init.inboundStreams === 0) init.invalid = 'zero streams';
  const end = o + length;
  let p = o + INIT_FIXED;
  while (p + 4 <= end) {
    const type = readU16(b, p);
    const plen = readU16(b, p + 2);
    if (plen < 4 || p + plen > end) {
      init.invalid = 'parameter length';
      return init;
    }
    const v = p + 4;
    switch (type) {
      case ParameterType.IPV4_ADDRESS:
        if (plen !== 8) init.invalid = 'IPv4 address length';
        else if (init.addresses.length < MAX_PEER_ADDRESSES) pushAddress(init.addresses, addressToString(b.subarray(v, v + 4)));
        break;
      case ParameterType.IPV6_ADDRESS:
        if (plen !== 20) init.invalid = 'IPv6 address length';
        else if (init.addresses.length < MAX_PEER_ADDRESSES) pushAddress(init.addresses, addressToString(b.subarray(v, v + 16)));
        break;
      case ParameterType.STATE_COOKIE:
        init.stateCookie = b.subarray(v, p + plen);
        break;
      case ParameterType.COOKIE_PRESERVATIVE:
        if (plen === 8) init.cookiePreservative = readU32(b, v);
        break;
      case ParameterType.HOST_NAME_ADDRESS:
        init.hostNameAddress = true;
        break;
      case ParameterType.SUPPORTED_ADDRESS_TYPES: {
        const types: number[] = [];
        for (let q = v; q + 2 <= p + plen; q += 2) types.push(readU16(b, q));
        init.supportedAddressTypes = types;
        break;
      }
      case ParameterType.UNRECOGNIZED_PARAMETER:
        break; // only meaningful in an INIT ACK, informational
      default: {
        const action = unrecognizedParameterAction(type);
        if ((action & 1) === 1 && init.unrecognized.length < MAX_REPORTED_PARAMETERS) init.unrecognized.push(b.subarray(p, p + plen));
        if (action === UnrecognizedAction.STOP || action === UnrecognizedAction.STOP_REPORT) return init;
      }
    }
    p += pad4(plen);
  }
  return init;
}

function pushAddress(list: string[], address: string): void {
  if (!list.includes(address)) list.push(address);
}

/** An error cause of ERROR or ABORT (§3.3.10): its code and a view of its information. */
export interface ErrorCause {
  code: number;
  info: Uint8Array;
}

/** The causes of an ERROR or ABORT chunk; undefined when a cause length lies. */
export function decodeErrorCauses(b: Uint8Array, o: number, length: number): ErrorCause[] | undefined {
  const causes: ErrorCause[] = [];
  const end = o + length;
  let p = o + 4;
  while (p + 4 <= end) {
    const code = readU16(b, p);
    const clen = readU16(b, p + 2);
    if (clen < 4 || p + clen > end) return undefined;
    causes.push({ code, info: b.subarray(p + 4, p + clen) });
    if (causes.length >= 64) break;
    p += pad4(clen);
  }
  return causes;
}

/** The Heartbeat Information TLV of a HEARTBEAT / HEARTBEAT ACK (§3.3.5, §3.3.6), whole. */
export function decodeHeartbeatInfo(b: Uint8Array, o: number, length: number): Uint8Array | undefined {
  if (length < 8) return undefined;
  const type = readU16(b, o + 4);
  const plen = readU16(b, o + 6);
  if (type !== ParameterType.HEARTBEAT_INFO || plen < 4 || 4 + plen > length) return undefined;
  return b.subarray(o + 4, o + 4 + plen);
}

// ---------------------------------------------------------------------------------------------
// Address parameters (encoding side)

/** The bytes of an IPv4/IPv6 Address parameter for `address`, or undefined when not an IP literal. */
export function addressParameter(address: string): Uint8Array | undefined {
  const raw = parseAddress(address);
  if (raw === null || (raw.length !== 4 && raw.length !== 16)) return undefined;
  const p = new Uint8Array(4 + raw.length);
  writeU16(p, 0, raw.length === 4 ? ParameterType.IPV4_ADDRESS : ParameterType.IPV6_ADDRESS);
  writeU16(p, 2, 4 + raw.length);
  p.set(raw, 4);
  return p;
}

/** Cause bytes (unpadded): code, length, info. */
export function errorCause(code: number, info?: Uint8Array): Uint8Array {
  const n = info ? info.length : 0;
  const c = new Uint8Array(4 + n);
  writeU16(c, 0, code);
  writeU16(c, 2, 4 + n);
  if (info) c.set(info, 4);
  return c;
}

/** Invalid Stream Identifier cause (§3.3.10.1): the stream id and 16 reserved bits. */
export function invalidStreamCause(streamId: number): Uint8Array {
  const info = new Uint8Array(4);
  writeU16(info, 0, streamId);
  return errorCause(ErrorCauseCode.INVALID_STREAM_IDENTIFIER, info);
}

/** Stale Cookie Error (§3.3.10.3): the measure of staleness in microseconds. */
export function staleCookieCause(stalenessMs: number): Uint8Array {
  const info = new Uint8Array(4);
  writeU32(info, 0, Math.min(0xffffffff, Math.max(0, Math.round(stalenessMs * 1000))));
  return errorCause(ErrorCauseCode.STALE_COOKIE, info);
}

/** No User Data (§3.3.10.9): the TSN of the empty DATA chunk. */
export function noUserDataCause(tsn: number): Uint8Array {
  const info = new Uint8Array(4);
  writeU32(info, 0, tsn);
  return errorCause(ErrorCauseCode.NO_USER_DATA, info);
}

/** Unrecognized Chunk Type (§3.3.10.6): the whole chunk as received (its padding excluded). */
export function unrecognizedChunkCause(chunk: Uint8Array): Uint8Array {
  return errorCause(ErrorCauseCode.UNRECOGNIZED_CHUNK_TYPE, chunk);
}

/** Unrecognized Parameters (§3.3.10.8): each TLV padded to 4 bytes. */
export function unrecognizedParametersCause(parameters: readonly Uint8Array[]): Uint8Array {
  return errorCause(ErrorCauseCode.UNRECOGNIZED_PARAMETERS, concatPadded(parameters));
}

/** Restart of an Association with New Addresses (§3.3.10.11): the new address parameters. */
export function restartWithNewAddressesCause(addresses: readonly string[]): Uint8Array {
  const params: Uint8Array[] = [];
  for (const a of addresses) {
    const p = addressParameter(a);
    if (p) params.push(p);
  }
  return errorCause(ErrorCauseCode.RESTART_WITH_NEW_ADDRESSES, concatPadded(params));
}

/** User-Initiated Abort (§3.3.10.12) with the reason (at most 256 bytes of UTF-8). */
export function userInitiatedAbortCause(reason: string | undefined): Uint8Array {
  const text = new TextEncoder().encode(reason ?? '').subarray(0, 256);
  return errorCause(ErrorCauseCode.USER_INITIATED_ABORT, text);
}

/** Protocol Violation (§3.3.10.13) with a description. */
export function protocolViolationCause(text: string): Uint8Array {
  return errorCause(ErrorCauseCode.PROTOCOL_VIOLATION, new TextEncoder().encode(text).subarray(0, 256));
}

/** Concatenates TLVs, padding each to 4 bytes (not the last one's padding in the total). */
export function concatPadded(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += pad4(p.length);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += pad4(p.length);
  }
  return out;
}
