// Message object shapes of ASAP (RFC 5352 §2.2) and ENRP (RFC 5353 §2). Every message is a
// plain object discriminated by `protocol` + `type` (the AsapType / EnrpType codes).
import type { AsapType, EnrpType, UpdateAction } from './constants.js';
import type { PolicySettings } from './policy-settings.js';
import type { OperationError, PoolElementParameter, ServerInformation, TransportParameter } from './parameters.js';
import type { UnknownParameter } from './reader.js';

/** Which of the two RSerPool protocols a message belongs to (PPID 11 / PPID 12). */
export type Protocol = 'asap' | 'enrp';

/**
 * Fields every message carries.
 *
 * - `flags`: the Msg Flags byte (RFC 5354 §4) as received / to send; the named bits are
 *   `AsapFlag` / `EnrpFlag` (R, S, A, H; R, W, M, T).
 * - `paddedLength`: true when the received Length field included the final parameter's
 *   padding (RSPLIB does this); re-encoding then reproduces it, in RSPLIB's form throughout:
 *   every parameter Length enclosing the final TLV covers its padding too. New messages use
 *   false (RFC 5354 §2, §4: a message's or parent parameter's Length excludes the final
 *   padding; the padding bytes are still sent). Only meaningful when the last value is not
 *   4-aligned; otherwise both forms are the same bytes and the decoder says false.
 * - `unknownParams`: unrecognized top-level parameters that were skipped (or that made the
 *   message discarded), with their positions, so re-encoding is byte-identical; null if none.
 *   Encoding a new message: null.
 */
export interface MessageBase {
  flags: number;
  paddedLength: boolean;
  unknownParams: UnknownParameter[] | null;
}

/** ENRP messages start with the sending and receiving server IDs (RFC 5353 §2.1). */
export interface EnrpBase extends MessageBase {
  protocol: 'enrp';
  senderId: number;
  /** 0 when not sent to one server (RFC 5353 §2.1). */
  receiverId: number;
}

// ----------------------------------------------------------------------------- ASAP

/** ASAP_REGISTRATION (RFC 5352 §2.2.1). */
export interface AsapRegistration extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.Registration;
  poolHandle: Uint8Array;
  poolElement: PoolElementParameter;
}

/** ASAP_DEREGISTRATION (RFC 5352 §2.2.2). */
export interface AsapDeregistration extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.Deregistration;
  poolHandle: Uint8Array;
  peId: number;
}

/** ASAP_REGISTRATION_RESPONSE (§2.2.3); flag R (`AsapFlag.Reject`): rejected. */
export interface AsapRegistrationResponse extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.RegistrationResponse;
  poolHandle: Uint8Array;
  peId: number;
  error: OperationError | null;
}

/** ASAP_DEREGISTRATION_RESPONSE (§2.2.4); RSPLIB also uses flag R. */
export interface AsapDeregistrationResponse extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.DeregistrationResponse;
  poolHandle: Uint8Array;
  peId: number;
  error: OperationError | null;
}

/**
 * ASAP_HANDLE_RESOLUTION (§2.2.5); flag S (`AsapFlag.Subscribe`). `items` is RSPLIB's
 * Handle Resolution Option (0x803f): number of elements wanted (0 = registrar default), or
 * null when absent.
 */
export interface AsapHandleResolution extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.HandleResolution;
  poolHandle: Uint8Array;
  items: number | null;
}

/**
 * ASAP_HANDLE_RESOLUTION_RESPONSE (§2.2.6); flag A (`AsapFlag.Accept`). A negative
 * response carries `error` and no elements. To send cached PE bytes instead of objects, use
 * `encodeHandleResolutionResponse`.
 */
export interface AsapHandleResolutionResponse extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.HandleResolutionResponse;
  poolHandle: Uint8Array;
  /** Overall pool policy; null means round robin is assumed (§2.2.6). */
  policy: PolicySettings | null;
  poolElements: PoolElementParameter[];
  error: OperationError | null;
}

/**
 * ASAP_ENDPOINT_KEEP_ALIVE (§2.2.7); flag H (`AsapFlag.Home`). RSPLIB adds the PE
 * Identifier parameter after the pool handle; `peId` is null when absent.
 */
export interface AsapEndpointKeepAlive extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.EndpointKeepAlive;
  serverId: number;
  poolHandle: Uint8Array;
  peId: number | null;
}

/** ASAP_ENDPOINT_KEEP_ALIVE_ACK (§2.2.8). */
export interface AsapEndpointKeepAliveAck extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.EndpointKeepAliveAck;
  poolHandle: Uint8Array;
  peId: number;
}

/** ASAP_ENDPOINT_UNREACHABLE (§2.2.9). */
export interface AsapEndpointUnreachable extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.EndpointUnreachable;
  poolHandle: Uint8Array;
  peId: number;
}

/**
 * ASAP_SERVER_ANNOUNCE (§2.2.10). RSPLIB sends it with no transport (8 bytes): the
 * receiver then uses the UDP source address and port.
 */
export interface AsapServerAnnounce extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.ServerAnnounce;
  serverId: number;
  transports: TransportParameter[];
}

/** ASAP_COOKIE (§2.2.11); `cookie` is a view of the Cookie parameter's value. */
export interface AsapCookie extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.Cookie;
  cookie: Uint8Array;
}

/** ASAP_COOKIE_ECHO (§2.2.12). */
export interface AsapCookieEcho extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.CookieEcho;
  cookie: Uint8Array;
}

/** ASAP_BUSINESS_CARD (§2.2.13): the pool handle and a preferred failover order. */
export interface AsapBusinessCard extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.BusinessCard;
  poolHandle: Uint8Array;
  poolElements: PoolElementParameter[];
}

/** ASAP_ERROR (§2.2.14). */
export interface AsapError extends MessageBase {
  protocol: 'asap';
  type: typeof AsapType.Error;
  error: OperationError;
}

export type AsapMessage =
  | AsapRegistration
  | AsapDeregistration
  | AsapRegistrationResponse
  | AsapDeregistrationResponse
  | AsapHandleResolution
  | AsapHandleResolutionResponse
  | AsapEndpointKeepAlive
  | AsapEndpointKeepAliveAck
  | AsapEndpointUnreachable
  | AsapServerAnnounce
  | AsapCookie
  | AsapCookieEcho
  | AsapBusinessCard
  | AsapError;

// ----------------------------------------------------------------------------- ENRP

/** ENRP_PRESENCE (RFC 5353 §2.1); flag R (`EnrpFlag.ReplyRequired`). */
export interface EnrpPresence extends EnrpBase {
  type: typeof EnrpType.Presence;
  /** PE Checksum parameter (§3.6), or null when absent. */
  checksum: number | null;
  serverInfo: ServerInformation | null;
}

/** ENRP_HANDLE_TABLE_REQUEST (§2.2); flag W (`EnrpFlag.OwnChildrenOnly`). */
export interface EnrpHandleTableRequest extends EnrpBase {
  type: typeof EnrpType.HandleTableRequest;
}

/** One pool entry of a handle table response: a pool handle and its elements (§2.3). */
export interface PoolEntry {
  poolHandle: Uint8Array;
  poolElements: PoolElementParameter[];
}

/** ENRP_HANDLE_TABLE_RESPONSE (§2.3); flags M (`EnrpFlag.MoreToSend`), R (`Reject`). */
export interface EnrpHandleTableResponse extends EnrpBase {
  type: typeof EnrpType.HandleTableResponse;
  entries: PoolEntry[];
}

/** ENRP_HANDLE_UPDATE (§2.4); RSPLIB's flag T (`EnrpFlag.TakeoverSuggested`). */
export interface EnrpHandleUpdate extends EnrpBase {
  type: typeof EnrpType.HandleUpdate;
  /** `UpdateAction.AddPe` / `DelPe` (other values are kept as received). */
  action: UpdateAction | number;
  /** The reserved 16 bits after the action (sent as 0, kept for byte-identity). */
  reserved: number;
  poolHandle: Uint8Array;
  poolElement: PoolElementParameter;
}

/** ENRP_LIST_REQUEST (§2.5). */
export interface EnrpListRequest extends EnrpBase {
  type: typeof EnrpType.ListRequest;
}

/** ENRP_LIST_RESPONSE (§2.6); flag R (`EnrpFlag.Reject`). */
export interface EnrpListResponse extends EnrpBase {
  type: typeof EnrpType.ListResponse;
  servers: ServerInformation[];
}

/** ENRP_INIT_TAKEOVER (§2.7). */
export interface EnrpInitTakeover extends EnrpBase {
  type: typeof EnrpType.InitTakeover;
  targetServerId: number;
}

/** ENRP_INIT_TAKEOVER_ACK (§2.8). */
export interface EnrpInitTakeoverAck extends EnrpBase {
  type: typeof EnrpType.InitTakeoverAck;
  targetServerId: number;
}

/** ENRP_TAKEOVER_SERVER (§2.9). */
export interface EnrpTakeoverServer extends EnrpBase {
  type: typeof EnrpType.TakeoverServer;
  targetServerId: number;
}

/** ENRP_ERROR (§2.10). */
export interface EnrpError extends EnrpBase {
  type: typeof EnrpType.Error;
  error: OperationError;
}

export type EnrpMessage =
  | EnrpPresence
  | EnrpHandleTableRequest
  | EnrpHandleTableResponse
  | EnrpHandleUpdate
  | EnrpListRequest
  | EnrpListResponse
  | EnrpInitTakeover
  | EnrpInitTakeoverAck
  | EnrpTakeoverServer
  | EnrpError;

export type Message = AsapMessage | EnrpMessage;
