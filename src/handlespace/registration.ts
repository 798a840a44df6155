// What a registrar hands the partition for an ASAP_REGISTRATION (RFC 5352 §2.2.1, §3.1) or an
// ENRP_HANDLE_UPDATE / handle table entry (RFC 5353 §2.3-2.4), already decoded, and the limits
// it is checked against (RSPLIB's values as defaults).
import type { Cause } from '../wire/constants.js';
import type { PolicySettings } from '../wire/policy-settings.js';

/** The User Transport parameter of a Pool Element parameter (RFC 5354 §3.3-3.7). */
export interface UserTransport {
  /** The parameter type of the transport: ParamType.SctpTransport, TcpTransport, UdpTransport... */
  protocol: number;
  port: number;
  /** TransportUse.DataOnly or DataPlusControl (RFC 5354 §3.4); DataOnly for UDP-like transports. */
  use: number;
  /** Number of addresses the parameter lists. */
  addressCount: number;
}

export interface Registration {
  poolHandle: Uint8Array;
  peId: number;
  /** The home registrar's server ID: this registrar's own for ASAP registrations. */
  homeRegistrarId: number;
  /** Registration life in milliseconds (RFC 5354 §3.10). */
  registrationLife: number;
  policy: PolicySettings;
  userTransport: UserTransport;
  /** The association the registration arrived over (registrar's number); 0 for none (ENRP). */
  associationId: number;
  /** The PE's Pool Element parameter, pre-encoded for handle resolution responses. */
  encoded: Uint8Array;
}

export interface PartitionLimits {
  /** Pool handle length bounds in bytes (RSPLIB: 1..32). */
  maxPoolHandleLength: number;
  /** Addresses per transport parameter (RSPLIB: 64). */
  maxAddresses: number;
  /**
   * Pool elements per pool and in the partition (or, with a census, in every partition of the
   * handlespace together); beyond them: Lack of Resources.
   */
  maxPoolElementsPerPool: number;
  maxPoolElements: number;
  /** Pool elements registered over one association (in this partition); beyond: Lack of Resources. */
  maxPoolElementsPerAssociation: number;
  /** ENDPOINT_UNREACHABLE reports that remove a PE (RFC 5352 §3.5 MAX-BAD-PE-REPORT). */
  maxBadPeReports: number;
  /** Handle resolution items when a request does not say (RSPLIB 3) and the cap (at most 128). */
  defaultHandleResolutionItems: number;
  maxHandleResolutionItems: number;
}

export const defaultPartitionLimits: Readonly<PartitionLimits> = Object.freeze({
  maxPoolHandleLength: 32,
  maxAddresses: 64,
  maxPoolElementsPerPool: Number.POSITIVE_INFINITY,
  maxPoolElements: Number.POSITIVE_INFINITY,
  maxPoolElementsPerAssociation: Number.POSITIVE_INFINITY,
  maxBadPeReports: 3,
  defaultHandleResolutionItems: 3,
  maxHandleResolutionItems: 128,
});

/** Hard limit of items per handle resolution (RSPLIB's Handle Resolution Option). */
export const HANDLE_RESOLUTION_ITEMS_LIMIT = 128;

/** A rejected registration: the RFC 5354 cause for the Operation Error, and why, for logs. */
export interface RegistrationRejection {
  readonly ok: false;
  readonly cause: Cause;
  readonly reason: string;
  /** Which resource limit turned it away (Lack of Resources), for the counters; none for other causes. */
  readonly limit?: ResourceLimit;
}

/** The resource limits of a registration (RFC 5355 §6): per pool, in total, per association. */
export type ResourceLimit = 'pool' | 'total' | 'association';

export function rejection(cause: Cause, reason: string, limit?: ResourceLimit): RegistrationRejection {
  return Object.freeze(limit === undefined ? { ok: false, cause, reason } : { ok: false, cause, reason, limit });
}
