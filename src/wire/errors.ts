// Decoding failures are data, not exceptions (ARCHITECTURE.md "Conventions"): every decoder
// returns a WireError that carries the RFC 5354 §3.12 cause code a registrar answers with.
import { Cause } from './constants.js';

/**
 * Why a message could not be used.
 *
 * - `cause`: an RFC 5354 Table 2 cause code (`Cause.*`): `InvalidValues` for malformed
 *   input, `UnrecognizedMessage` for an unknown message type (RFC 5354 §4),
 *   `UnrecognizedParameter` for a message discarded because of an unknown parameter whose
 *   action bits say "stop" (RFC 5354 §3).
 * - `offset`: byte offset inside the decoded input where the problem was found
 *   (always `0 <= offset < input length`, or 0 for empty input).
 * - `offending`: a view of the TLV or message an Operation Error must carry back
 *   (the whole unrecognized message, the unrecognized parameter, or the parameter with
 *   invalid values), or null.
 * - `report`: whether the RFC action bits ask the receiver to report the problem to the
 *   sender (ASAP_ERROR / ENRP_ERROR). Malformed input (`InvalidValues`) is always reportable.
 */
export interface WireError {
  cause: number;
  offset: number;
  reason: string;
  offending: Uint8Array | null;
  report: boolean;
}

export function wireError(
  cause: number,
  offset: number,
  reason: string,
  offending: Uint8Array | null = null,
  report = true,
): WireError {
  return { cause, offset, reason, offending, report };
}

/** True when `cause` is one of the cause codes of RFC 5354 Table 2. */
export function isKnownCause(cause: number): boolean {
  return cause >= Cause.UnspecifiedError && cause <= Cause.RejectedDueToSecurityConsiderations;
}
