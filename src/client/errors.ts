// Typed failures of the ASAP client (RFC 5352 §3.7): callers branch on the class, never on
// message text. Every error carries a stable `code` string for logs and CLI exit paths.
import { Cause, causeName } from '../wire/constants.js';
import type { ErrorCause, OperationError } from '../wire/parameters.js';
import { hexId } from '../wire/identifier-text.js';

export type AsapClientErrorCode =
  | 'REQUEST_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'NO_REGISTRAR'
  | 'REGISTRATION_REJECTED'
  | 'DEREGISTRATION_REJECTED'
  | 'UNKNOWN_POOL_HANDLE'
  | 'HANDLE_RESOLUTION_FAILED'
  | 'CLOSED'
  | 'NO_POOL_ELEMENT'
  | 'SESSION_FAILED';

export class AsapClientError extends Error {
  constructor(
    readonly code: AsapClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Which request a timer or a lost association interrupted. */
export type AsapRequestKind = 'registration' | 'deregistration' | 'handle-resolution';

/**
 * A request was sent `attempts` times and its T1/T2/T3 timer expired each time
 * (RFC 5352 §3.7.2: MAX-REQUEST-RETRANSMIT, §3.1: MAX-REG-ATTEMPT).
 */
export class RequestTimeoutError extends AsapClientError {
  constructor(
    readonly kind: AsapRequestKind,
    readonly attempts: number,
  ) {
    super('REQUEST_TIMEOUT', `${kind} request unanswered after ${attempts} attempt(s)`);
  }
}

/** The association to the registrar went down while the request waited (RFC 5352 §3.7.1). */
export class RegistrarConnectionLostError extends AsapClientError {
  constructor(
    readonly kind: AsapRequestKind | null,
    readonly reason: string,
  ) {
    super('CONNECTION_LOST', `association to the registrar lost (${reason})${kind ? ` during ${kind}` : ''}`);
  }
}

/** The server hunt (RFC 5352 §3.6) found no home registrar in time. */
export class NoRegistrarError extends AsapClientError {
  constructor(
    readonly waitedMs: number,
    readonly knownRegistrars: number,
  ) {
    super('NO_REGISTRAR', `no home registrar within ${waitedMs} ms (${knownRegistrars} known)`);
  }
}

function describeCauses(causes: readonly ErrorCause[]): string {
  if (causes.length === 0) return 'no cause given';
  return causes.map((c) => causeName.get(c.code) ?? `cause 0x${c.code.toString(16)}`).join(', ');
}

function causesOf(error: OperationError | null): readonly ErrorCause[] {
  return error === null ? [] : error.causes;
}

/** ASAP_REGISTRATION_RESPONSE with the R flag (RFC 5352 §2.2.3, §3.1 rule 5). */
export class RegistrationRejectedError extends AsapClientError {
  /** The first cause code (RFC 5354 Table 2), or `Cause.UnspecifiedError` when none was given. */
  readonly causeCode: number;
  readonly causes: readonly ErrorCause[];
  constructor(error: OperationError | null) {
    const causes = causesOf(error);
    super('REGISTRATION_REJECTED', `registration rejected: ${describeCauses(causes)}`);
    this.causes = causes;
    this.causeCode = causes[0]?.code ?? Cause.UnspecifiedError;
  }
}

/** ASAP_DEREGISTRATION_RESPONSE with an Operation Error (RFC 5352 §3.2). */
export class DeregistrationRejectedError extends AsapClientError {
  /** The first cause code (RFC 5354 Table 2), or `Cause.UnspecifiedError` when none was given. */
  readonly causeCode: number;
  readonly causes: readonly ErrorCause[];
  constructor(error: OperationError | null) {
    const causes = causesOf(error);
    super('DEREGISTRATION_REJECTED', `deregistration rejected: ${describeCauses(causes)}`);
    this.causes = causes;
    this.causeCode = causes[0]?.code ?? Cause.UnspecifiedError;
  }
}

/** HANDLE_RESOLUTION_RESPONSE carrying cause Unknown Pool Handle (RFC 5352 §3.3). */
export class UnknownPoolHandleError extends AsapClientError {
  constructor(readonly poolHandle: Uint8Array) {
    super('UNKNOWN_POOL_HANDLE', `unknown pool handle "${Buffer.from(poolHandle).toString('latin1')}"`);
  }
}

/** HANDLE_RESOLUTION_RESPONSE with any other Operation Error. */
export class HandleResolutionError extends AsapClientError {
  /** The first cause code (RFC 5354 Table 2), or `Cause.UnspecifiedError` when none was given. */
  readonly causeCode: number;
  readonly causes: readonly ErrorCause[];
  constructor(
    readonly poolHandle: Uint8Array,
    error: OperationError | null,
  ) {
    const causes = causesOf(error);
    super('HANDLE_RESOLUTION_FAILED', `handle resolution failed: ${describeCauses(causes)}`);
    this.causes = causes;
    this.causeCode = causes[0]?.code ?? Cause.UnspecifiedError;
  }
}

/** The connection, endpoint, pool element or pool user was closed. */
export class ClosedError extends AsapClientError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** A session found no reachable pool element in its pool (RFC 5352 §3.7, §6.9). */
export class NoPoolElementError extends AsapClientError {
  constructor(
    readonly poolHandle: Uint8Array,
    /** PE IDs that were tried and found unreachable. */
    readonly tried: readonly number[],
    readonly reason: string,
  ) {
    super('NO_POOL_ELEMENT', `no reachable pool element in pool "${Buffer.from(poolHandle).toString('latin1')}" (${reason}${tried.length > 0 ? `; tried ${tried.map(hexId).join(', ')}` : ''})`);
  }
}

/**
 * A message could not be delivered on a session: the PE failed and failover was off
 * (ASAP_SEND_NO_FAILOVER, RFC 5352 §6.5.5) or failed too. Carries the unsent message
 * (§6.7 Error.Report).
 */
export class SessionSendError extends AsapClientError {
  constructor(
    readonly peId: number | null,
    readonly unsent: Uint8Array,
    readonly reason: string,
  ) {
    super('SESSION_FAILED', `message of ${unsent.length} bytes not delivered${peId !== null ? ` to PE ${hexId(peId)}` : ''}: ${reason}`);
  }
}
