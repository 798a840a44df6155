// The narrow interface between the registrar/client code and an SCTP provider.
// Today's provider is the userland `sctp` package (raw IP or SCTP over UDP, RFC 6951);
// a kernel SCTP binding can implement the same interface without touching callers
// (the Aedes model: protocol above, pluggable transport below).
import type { EventEmitter } from 'node:events';

/** Transport address of a peer. `udpPort` only matters for SCTP over UDP (RFC 6951). */
export interface RemoteAddress {
  address: string;
  port: number;
  /** UDP encapsulation port of the peer; defaults to the endpoint's `remoteUdpPort`. */
  udpPort?: number;
}

/** Why an association went down. */
export type AssociationDownReason =
  /** the peer sent ABORT (RFC 9260 §9.1) */
  | 'abort'
  /** we called abort() */
  | 'local-abort'
  /** graceful SHUTDOWN completed, initiated by either side (RFC 9260 §9.2) */
  | 'shutdown'
  /** the peer stopped answering: INIT/COOKIE retransmissions or Association.Max.Retrans exhausted (RFC 9260 §8.1) */
  | 'timeout'
  /** the peer restarted and associated anew on the same port pair (RFC 9260 §5.2.4 action A) */
  | 'restart'
  /** ICMP unreachable (raw mode) */
  | 'unreachable'
  /** the local endpoint was closed */
  | 'endpoint-closed';

export type SctpMode = 'raw' | 'udp';

export interface AssociationEvents {
  /** One complete user message with its Payload Protocol Identifier and stream id. */
  message: [payload: Uint8Array, ppid: number, stream: number];
  /** The association reached ESTABLISHED. */
  up: [];
  /** The association is gone; emitted exactly once. */
  down: [reason: AssociationDownReason];
  /** Queued outgoing bytes fell back under the high-water mark after send() returned false. */
  drain: [];
}

/**
 * One SCTP association.
 *
 * Backpressure: send() never drops and never throws for flow control. It queues the
 * message and returns false once more than `highWaterMark` bytes wait for the
 * congestion/receive window; 'drain' follows when the queue empties. Messages sent
 * before 'up' are queued and go out once the association is established. send()
 * copies the payload, so callers may reuse their encode buffers.
 */
export interface Association extends EventEmitter<AssociationEvents> {
  /** Unique per process, never reused. */
  readonly id: number;
  readonly remote: RemoteAddress;
  readonly localPort: number;
  /** 'connecting' until 'up', 'up', then 'down'. */
  readonly state: 'connecting' | 'up' | 'down';
  /** Number of outbound streams usable (min of our OS and the peer's MIS), 0 until up. */
  readonly outboundStreams: number;
  /** Bytes queued in this layer, not yet handed to SCTP. */
  readonly bufferedAmount: number;
  send(payload: Uint8Array, ppid: number, stream?: number): boolean;
  /** Graceful SHUTDOWN after queued data is acknowledged. */
  close(): void;
  /** ABORT now (RFC 9260 §9.1); queued data is discarded. */
  abort(reason?: string): void;
}

export interface SctpEndpointEvents {
  /** A peer established an association with us (passive open). */
  association: [association: Association];
  close: [];
  /** A socket-level error (e.g. the UDP socket failed); the endpoint keeps running if it can. */
  error: [error: Error];
}

/** A listening SCTP endpoint on one local port. */
export interface SctpEndpoint extends EventEmitter<SctpEndpointEvents> {
  readonly mode: SctpMode;
  /** Local SCTP port. */
  readonly port: number;
  /** Local UDP encapsulation port (udp mode), otherwise undefined. */
  readonly udpPort: number | undefined;
  /** Live associations (passive and active). */
  readonly associations: ReadonlyArray<Association>;
  /**
   * Start an association and return it at once, in state 'connecting'; send() on it
   * queues until 'up'. 'down' with 'timeout' if the peer never answers.
   */
  associate(remote: RemoteAddress): Association;
  /** associate() and wait for 'up'; rejects on 'down' before it. */
  connect(remote: RemoteAddress): Promise<Association>;
  /** Abort every association and release the port (and the UDP socket). */
  close(): Promise<void>;
}
