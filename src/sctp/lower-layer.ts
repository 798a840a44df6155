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
   * Optional: claims `port` beyond this process before bind(), without a race (raw mode: the
   * raw socket sees every SCTP packet of the host, so two processes answering INITs on one port
   * must be impossible; the claim is a host-wide lock the kernel releases when the process
   * dies). Rejects with a clear Error when another process holds the port. Layers whose ports
   * are private to them (udp mode: the encapsulation socket is) do not implement it. A caller
   * that can wait (SctpEndpoint.openPort) awaits it and then calls bind(); bind() alone still
   * checks, but can lose a race with another process claiming the port at the same instant.
   */
  claim?(port: number): Promise<void>;
  /**
   * Claims a local SCTP port and delivers its packets to `receiver`. Throws a clear Error when
   * the port is taken (in raw mode also by another process on this host).
   */
  bind(port: number, receiver: PacketReceiver): void;
  /** Stops delivering `port`'s packets and releases its claim (if any). */
  unbind(port: number): void;
  /**
   * Sends one complete SCTP packet (checksum set). Never throws; a send error is counted.
   * The layer keeps `packet` (no copy) until it is on the wire, possibly after send() returned
   * (dgram and the raw-socket addon send on a later turn): the caller gives the memory up and
   * must not write into it again. `from` (a local address) picks the source where the layer
   * can; without it the source follows the route to `to`.
   */
  send(packet: Uint8Array, to: PeerTransport, from?: string): void;
  /**
   * A plain UDP datagram (udp mode: from the encapsulation socket, so its source port tells
   * receivers our encapsulation port; ENRP presence uses this). Undefined in raw mode.
   */
  sendDatagram?(payload: Uint8Array, port: number, address: string, multicastTtl?: number): Promise<void>;
  /**
   * Releases the socket(s) once no port is bound, after packets already handed to send() left
   * (at most about a second). While some port is still bound it is a no-op that resolves at
   * once: several endpoints share a layer (SctpEndpoint.openPort), each unbinds its port and
   * calls close(), and the last one closes the layer.
   */
  close(): Promise<void>;
}
