// Errors the SCTP stack throws to its callers (never for what a peer sends: that is data).

export { SendQueueFullError } from '../transport/sctp-provider.js';

/** An SCTP port already bound on the lower layer, or an endpoint used after close(). */
export class SctpEndpointError extends Error {
  override readonly name = 'SctpEndpointError';
}

/** connect() failed: the association went down before it came up. */
export class AssociationFailedError extends Error {
  override readonly name = 'AssociationFailedError';
  constructor(
    readonly reason: string,
    readonly remote: string,
  ) {
    super(`SCTP association to ${remote} failed: ${reason}`);
  }
}
