// The seam between the SCTP stack and what carries its packets: IP directly (raw-lower-layer.ts,
// through the optional raw-socket addon) or UDP (udp-lower-layer.ts, RFC 6951).

/** Where a packet came from or goes to, below SCTP. */
export interface PeerTransport {
  /** IPv4 or IPv6 literal. */
  address: string;
  /** The peer's UDP encapsulation port (udp mode only). */
  udpPort?: number;
}

/**
 * Receives one SCTP packet for a bound port. `packet` is memory of its own (never reused by
 * the lower layer), so the stack may keep views into it. `localAddress` is the address the
 * packet was sent to, when the lower layer knows it.
 */
export type PacketReceiver = (packet: Uint8Array, from: PeerTransport, localAddress: string | undefined) => void;

export interface LowerLayer {
  readonly mode: 'raw' | 'udp';
  /** Local UDP encapsulation port (udp mode), else undefined. */
  readonly udpPort: number | undefined;
  /** The UDP encapsulation port of peers whose port is not given (udp mode; RFC 6951: 9899). */
  readonly remoteUdpPort?: number;
  /**
   * The local IP addresses this layer sends from and that INIT/INIT-ACK may list (RFC 9260
   * §5.1.2); empty when bound to the wildcard address (then INIT lists none and the peer uses
   * the packet's source address).
   */
  readonly localAddresses: readonly string[];
  /**
   * Claims a local SCTP port and delivers its packets to `receiver`. Throws a clear Error when
   * the port is taken (in raw mode also by another process on this host).
   */
  bind(port: number, receiver: PacketReceiver): void;
  unbind(port: number): void;
  /** Sends one complete SCTP packet (checksum set). Never throws; a send error is counted. */
  send(packet: Uint8Array, to: PeerTransport, from?: string): void;
  /**
   * A plain UDP datagram (udp mode: from the encapsulation socket, so its source port tells
   * receivers our encapsulation port; ENRP presence uses this). Undefined in raw mode.
   */
  sendDatagram?(payload: Uint8Array, port: number, address: string, multicastTtl?: number): Promise<void>;
  /** Releases the socket(s) once no port is bound. */
  close(): Promise<void>;
}
