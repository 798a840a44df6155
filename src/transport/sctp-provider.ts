// The narrow interface between the registrar/client code and SCTP: our own stack (src/sctp/,
// RFC 9260) on raw IP or SCTP over UDP (RFC 6951) implements it.
// A kernel SCTP binding could implement the same interface without touching callers
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
 * send() beyond the association's send-queue limit (bytes queued plus unacknowledged): nothing
 * was queued. A peer that never acknowledges cannot make us hold more than the limit.
 */
export class SendQueueFullError extends Error {
  override readonly name = 'SendQueueFullError';
  constructor(
    readonly associationId: number,
    readonly limit: number,
  ) {
    super(`association ${associationId}: send queue is full (limit ${limit} bytes)`);
  }
}

/**
 * One SCTP association.
 *
 * Backpressure: send() queues the message and returns false once more than `highWaterMark`
 * bytes wait for the congestion/receive window; 'drain' follows when the queue empties.
 * Beyond the hard send-queue limit it throws SendQueueFullError and queues nothing.
 * Messages sent before 'up' are queued and go out once the association is established.
 *
 * Ownership: send() does NOT copy. The association keeps `payload` (a view is fine) until the
 * peer has acknowledged it, for retransmission; a caller that reuses its encode buffer must
 * pass a copy.
 */
export interface Association extends EventEmitter<AssociationEvents> {
  /** Unique per process, never reused. */
  readonly id: number;
  /** The peer's primary transport address (the association's identity; it does not change). */
  readonly remote: RemoteAddress;
  /**
   * The peer transport address data goes to now: `remote` until the primary becomes inactive
   * and another address takes over (RFC 9260 §6.4.1), and again once the primary recovers.
   * Undefined for an implementation that does not track paths.
   */
  readonly currentRemote?: RemoteAddress;
  /** Every address of the peer (multi-homing, RFC 9260 §6.4), the primary first. */
  readonly remoteAddresses: readonly string[];
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
  /** Local IP addresses the endpoint uses (empty: the wildcard address). */
  readonly addresses: readonly string[];
  /** Live associations (passive and active). */
  readonly associations: ReadonlyArray<Association>;
  /**
   * Start an association and return it at once, in state 'connecting'; send() on it
   * queues until 'up'. 'down' with 'timeout' if the peer never answers.
   */
  associate(remote: RemoteAddress): Association;
  /** associate() and wait for 'up'; rejects on 'down' before it. */
  connect(remote: RemoteAddress): Promise<Association>;
  /**
   * Another local SCTP port on the same lower layer: in udp mode the same UDP socket (as
   * RSPLIB's sctplib serves ASAP and ENRP on one UDP port), in raw mode the same raw socket.
   */
  openPort(port: number): Promise<SctpEndpoint>;
  /**
   * A plain UDP datagram from the encapsulation socket (udp mode), so its source port tells
   * receivers our encapsulation port (ENRP presence); undefined in raw mode.
   */
  readonly sendDatagram?: (payload: Uint8Array, port: number, address: string, multicastTtl?: number) => Promise<void>;
  /**
   * What the endpoint turned away and why (bad packets, out of the blue, refused INITs and
   * cookies, internal errors), for the registrar's stats.
   */
  readonly stats?: object;
  /** Abort every association and release the port (and the UDP socket). */
  close(): Promise<void>;
}
