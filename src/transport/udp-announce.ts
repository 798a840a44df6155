// UDP multicast announces: ASAP_SERVER_ANNOUNCE (RFC 5352 §3.8, registrar -> PEs/PUs)
// and ENRP_PRESENCE (RFC 5353 §4.2, registrar -> registrars). RSPLIB sends them to
// 239.0.0.50:3863 and 239.0.0.51:9901 with TTL 30 (shared/notes/rsplib-facts.md).
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { PORT_ASAP, PORT_ENRP } from '../wire/constants.js';

export interface MulticastGroup {
  address: string;
  port: number;
}

/** RSPLIB's default ASAP announce group (RFC 5352 §3.8 leaves the address to configuration). */
export const ASAP_ANNOUNCE_GROUP: MulticastGroup = { address: '239.0.0.50', port: PORT_ASAP };
/** RSPLIB's default ENRP presence group (RFC 5353 §4.2). */
export const ENRP_PRESENCE_GROUP: MulticastGroup = { address: '239.0.0.51', port: PORT_ENRP };
export const DEFAULT_ANNOUNCE_TTL = 30;

export interface AnnounceOptions {
  group: MulticastGroup;
  /** Local interface address for IP_MULTICAST_IF / the membership; default: the kernel's choice. */
  interfaceAddress?: string;
  /** Multicast TTL; default 30 like RSPLIB. */
  ttl?: number;
  /** Loop our own announces back to this host (so tests on one host see them); default true. */
  loopback?: boolean;
}

/** Parse "239.0.0.50:3863" into a group. */
export function parseMulticastGroup(text: string): MulticastGroup {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port <= 0 || port > 0xffff) throw new RangeError(`not an IPv4 group:port: ${text}`);
  return { address: match[1]!, port };
}

/** Sends announces to a multicast group. */
export class AnnounceSender {
  private constructor(
    private readonly socket: dgram.Socket,
    readonly group: MulticastGroup,
  ) {}

  static async open(options: AnnounceOptions): Promise<AnnounceSender> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setMulticastTTL(options.ttl ?? DEFAULT_ANNOUNCE_TTL);
    socket.setMulticastLoopback(options.loopback ?? true);
    if (options.interfaceAddress) socket.setMulticastInterface(options.interfaceAddress);
    return new AnnounceSender(socket, options.group);
  }

  send(message: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.send(message, this.group.port, this.group.address, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export interface AnnounceReceiverEvents {
  announce: [message: Uint8Array, from: { address: string; port: number }];
  error: [error: Error];
}

/** Receives announces of a multicast group (joins it on the given interface). */
export class AnnounceReceiver extends EventEmitter<AnnounceReceiverEvents> {
  private constructor(
    private readonly socket: dgram.Socket,
    readonly group: MulticastGroup,
  ) {
    super();
    socket.on('message', (message, rinfo) => this.emit('announce', message, { address: rinfo.address, port: rinfo.port }));
    socket.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  static async open(options: AnnounceOptions): Promise<AnnounceReceiver> {
    // reuseAddr: several registrars/PEs on one host listen to the same group and port.
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.group.port, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setMulticastLoopback(options.loopback ?? true);
    socket.addMembership(options.group.address, options.interfaceAddress);
    return new AnnounceReceiver(socket, options.group);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
