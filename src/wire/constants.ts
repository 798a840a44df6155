// Code points of RSerPool, named as the RFC tables name them.
// RFC 5352 §2.2 (ASAP), RFC 5353 §2 (ENRP), RFC 5354 §5 (parameters, causes),
// RFC 5356 §4-5 (policies), plus the RSPLIB codes that RSPLIB puts on the wire.

/** SCTP payload protocol identifiers and well-known ports (RFC 5352 §5, §8; RFC 5353 §5). */
export const PPID_ASAP = 11;
export const PPID_ENRP = 12;
export const PORT_ASAP = 3863;
export const PORT_ENRP = 9901;
/** TLS over TCP: IANA asap-tcp-tls 3864 (RFC 5352 §8), enrp-sctp-tls / ENRP over TLS 9902 (RFC 5353 §5.3). */
export const PORT_ASAP_TLS = 3864;
export const PORT_ENRP_TLS = 9902;
/** SCTP over UDP encapsulation port (RFC 6951 §7). */
export const PORT_SCTP_OVER_UDP = 9899;

/** ASAP message types (RFC 5352 §2.2). */
export const AsapType = {
  Registration: 0x01,
  Deregistration: 0x02,
  RegistrationResponse: 0x03,
  DeregistrationResponse: 0x04,
  HandleResolution: 0x05,
  HandleResolutionResponse: 0x06,
  EndpointKeepAlive: 0x07,
  EndpointKeepAliveAck: 0x08,
  EndpointUnreachable: 0x09,
  ServerAnnounce: 0x0a,
  Cookie: 0x0b,
  CookieEcho: 0x0c,
  BusinessCard: 0x0d,
  Error: 0x0e,
} as const;
export type AsapType = (typeof AsapType)[keyof typeof AsapType];

/** ASAP message flags (RFC 5352 §2.2). */
export const AsapFlag = {
  /** REGISTRATION_RESPONSE / DEREGISTRATION_RESPONSE: rejected. */
  Reject: 0x01,
  /** HANDLE_RESOLUTION: subscribe to dynamic updates (RFC 5352 §2.2.5). */
  Subscribe: 0x01,
  /** HANDLE_RESOLUTION_RESPONSE: subscription accepted (RFC 5352 §2.2.6). */
  Accept: 0x01,
  /** ENDPOINT_KEEP_ALIVE: the sender becomes the PE's home registrar (RFC 5352 §2.2.7). */
  Home: 0x01,
} as const;

/** ENRP message types (RFC 5353 §2). */
export const EnrpType = {
  Presence: 0x01,
  HandleTableRequest: 0x02,
  HandleTableResponse: 0x03,
  HandleUpdate: 0x04,
  ListRequest: 0x05,
  ListResponse: 0x06,
  InitTakeover: 0x07,
  InitTakeoverAck: 0x08,
  TakeoverServer: 0x09,
  Error: 0x0a,
} as const;
export type EnrpType = (typeof EnrpType)[keyof typeof EnrpType];

/** ENRP message flags (RFC 5353 §2). */
export const EnrpFlag = {
  /** PRESENCE: reply required (RFC 5353 §2.1, §3.4). */
  ReplyRequired: 0x01,
  /** HANDLE_TABLE_REQUEST: own children only (RFC 5353 §2.2). */
  OwnChildrenOnly: 0x01,
  /** HANDLE_TABLE_RESPONSE / LIST_RESPONSE: reject (RFC 5353 §2.3, §2.6). */
  Reject: 0x01,
  /** HANDLE_TABLE_RESPONSE: more to send (RFC 5353 §2.3). */
  MoreToSend: 0x02,
  /** HANDLE_UPDATE: takeover suggested (RSPLIB; Wireshark calls it the T bit). */
  TakeoverSuggested: 0x01,
} as const;

/** ENRP_HANDLE_UPDATE update actions (RFC 5353 §2.4). */
export const UpdateAction = {
  AddPe: 0x0000,
  DelPe: 0x0001,
} as const;
export type UpdateAction = (typeof UpdateAction)[keyof typeof UpdateAction];

/** Parameter types (RFC 5354 §5.1, Table 1). */
export const ParamType = {
  Ipv4Address: 0x1,
  Ipv6Address: 0x2,
  DccpTransport: 0x3,
  SctpTransport: 0x4,
  TcpTransport: 0x5,
  UdpTransport: 0x6,
  UdpLiteTransport: 0x7,
  PoolMemberSelectionPolicy: 0x8,
  PoolHandle: 0x9,
  PoolElement: 0xa,
  ServerInformation: 0xb,
  OperationError: 0xc,
  Cookie: 0xd,
  PeIdentifier: 0xe,
  PeChecksum: 0xf,
  OpaqueTransport: 0x10,
  /** RSPLIB's Handle Resolution Option (draft-dreibholz-rserpool-asap-hropt). */
  HandleResolutionOption: 0x803f,
} as const;
export type ParamType = (typeof ParamType)[keyof typeof ParamType];

/** Transport Use field of the SCTP/TCP transport parameters (RFC 5354 §3.4). */
export const TransportUse = {
  DataOnly: 0x0000,
  DataPlusControl: 0x0001,
} as const;
export type TransportUse = (typeof TransportUse)[keyof typeof TransportUse];

/** Operation Error cause codes (RFC 5354 §5.2, Table 2). */
export const Cause = {
  UnspecifiedError: 0x0,
  UnrecognizedParameter: 0x1,
  UnrecognizedMessage: 0x2,
  InvalidValues: 0x3,
  NonUniquePeIdentifier: 0x4,
  InconsistentPoolingPolicy: 0x5,
  LackOfResources: 0x6,
  InconsistentTransportType: 0x7,
  InconsistentDataControlConfiguration: 0x8,
  UnknownPoolHandle: 0x9,
  RejectedDueToSecurityConsiderations: 0xa,
} as const;
export type Cause = (typeof Cause)[keyof typeof Cause];

/** Pool member selection policy types (RFC 5356 §4-5, §7.1) and RSPLIB's extensions. */
export const PolicyType = {
  RoundRobin: 0x00000001,
  WeightedRoundRobin: 0x00000002,
  Random: 0x00000003,
  WeightedRandom: 0x00000004,
  Priority: 0x00000005,
  LeastUsed: 0x40000001,
  LeastUsedDegradation: 0x40000002,
  PriorityLeastUsed: 0x40000003,
  RandomizedLeastUsed: 0x40000004,
  // RSPLIB extensions (private use, X bit set).
  RandomizedPriorityLeastUsed: 0xb0001001,
  RandomizedLeastUsedDegradation: 0xb0001002,
  PriorityLeastUsedDegradation: 0xb0001003,
  RandomizedPriorityLeastUsedDegradation: 0xb0001004,
  WeightedRandomDpf: 0xb0002001,
  LeastUsedDpf: 0xb0002002,
  LeastUsedDegradationDpf: 0xb0002003,
  PriorityLeastUsedDpf: 0xb0002004,
  PriorityLeastUsedDegradationDpf: 0xb0002005,
} as const;
export type PolicyType = (typeof PolicyType)[keyof typeof PolicyType];

/** Reverse lookup tables for printing. */
function invert<T extends Record<string, number>>(o: T): Map<number, string> {
  return new Map(Object.entries(o).map(([k, v]) => [v, k]));
}
export const asapTypeName = invert(AsapType);
export const enrpTypeName = invert(EnrpType);
export const paramTypeName = invert(ParamType);
export const causeName = invert(Cause);
export const policyTypeName = invert(PolicyType);

/** A load, degradation or DPF value is a 32-bit fraction of this (RFC 5356 §5). */
export const FULL_LOAD = 0xffffffff;
