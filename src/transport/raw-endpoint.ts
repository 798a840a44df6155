// SCTP directly over IP (protocol 132) through the `raw-socket` addon: needs root or
// CAP_NET_RAW, and a kernel without SCTP (else the kernel answers INITs too). The
// package owns ONE raw socket per process (package notes 14, 15): every raw endpoint
// of the process shares it, demultiplexed by SCTP port. Main thread only.
import { EventEmitter } from 'node:events';
import { sctpPackage } from './sctp-package.js';
import type { PackageAssociation, PackageEndpoint, PackagePacket } from './sctp-package.js';
import { settleInitCollision } from './init-collision.js';
import { handlePeerRestart } from './peer-restart.js';
import { AssociationRegistry, checkRemote, connectAndWait } from './association-registry.js';
import type { Association, RemoteAddress, SctpEndpoint, SctpEndpointEvents } from './sctp-provider.js';

export interface RawSctpEndpointOptions {
  port: number;
  /** Local IPv4 address to advertise and send from; default: the kernel's choice. */
  address?: string;
  inboundStreams?: number;
  outboundStreams?: number;
  highWaterMark?: number;
}

export class RawSctpEndpoint extends EventEmitter<SctpEndpointEvents> implements SctpEndpoint {
  readonly mode = 'raw' as const;
  readonly udpPort = undefined;
  readonly port: number;
  readonly #endpoint: PackageEndpoint;
  readonly #registry: AssociationRegistry;
  readonly #streams: { MIS: number; OS: number };
  readonly #options: RawSctpEndpointOptions;
  #closed = false;

  private constructor(endpoint: PackageEndpoint, options: RawSctpEndpointOptions) {
    super();
    this.#endpoint = endpoint;
    this.port = endpoint.localPort;
    this.#streams = { MIS: options.inboundStreams ?? 16, OS: options.outboundStreams ?? 16 };
    this.#options = options;
    this.#registry = new AssociationRegistry(
      options.highWaterMark ?? 1024 * 1024,
      (association) => this.emit('association', association),
      () => {},
    );
    // What the package lacks, before its own handler sees the packet: init-collision.ts, peer-restart.ts.
    const packageHandler = endpoint.listeners('packet')[0] as (packet: PackagePacket, source: string, destination: string) => void;
    endpoint.removeAllListeners('packet');
    endpoint.on('packet', (packet: PackagePacket, source: string, destination: string) => {
      settleInitCollision(endpoint, packet, source);
      if (!handlePeerRestart(endpoint, packet, source, destination)) packageHandler(packet, source, destination);
    });
    endpoint.on('association', (inner: PackageAssociation) => {
      this.#registry.wrap(inner, { address: inner.remoteAddress ?? '0.0.0.0', port: inner.remotePort }, true);
    });
  }

  /** Rejects when the raw socket cannot be opened (no privilege, addon missing) or the port is taken. */
  static open(options: RawSctpEndpointOptions): Promise<RawSctpEndpoint> {
    return new Promise((resolve, reject) => {
      const streams = { MIS: options.inboundStreams ?? 16, OS: options.outboundStreams ?? 16 };
      const init = {
        localPort: options.port,
        ...(options.address ? { localAddress: [options.address] } : {}),
        ...streams,
      };
      try {
        sctpPackage().Endpoint.INITIALIZE(init, {}, (error, endpoint) => {
          if (error || !endpoint) reject(error ?? new Error('no endpoint'));
          else resolve(new RawSctpEndpoint(endpoint, options));
        });
      } catch (error) {
        reject(error as Error);
      }
    });
  }

  /** The configured local address, or none (the kernel's choice). */
  get addresses(): readonly string[] {
    return this.#options.address !== undefined ? [this.#options.address] : [];
  }

  /** SctpEndpoint.openPort: the package's one raw socket serves every port of the process. */
  openPort(port: number): Promise<SctpEndpoint> {
    if (this.#closed) return Promise.reject(new Error('endpoint is closed'));
    return RawSctpEndpoint.open({ ...this.#options, port });
  }

  get associations(): ReadonlyArray<Association> {
    return [...this.#registry.live];
  }

  associate(remote: RemoteAddress): Association {
    if (this.#closed) throw new Error('endpoint is closed');
    checkRemote(remote);
    if (this.#endpoint.associations.some((a) => a.remoteAddress === remote.address && a.remotePort === remote.port)) {
      throw new Error(`already associated with ${remote.address}:${remote.port}`);
    }
    const inner = this.#endpoint.ASSOCIATE({ remoteAddress: remote.address, remotePort: remote.port, ...this.#streams });
    return this.#registry.wrap(inner, { address: remote.address, port: remote.port }, false);
  }

  connect(remote: RemoteAddress): Promise<Association> {
    return connectAndWait(this, remote);
  }

  /** Abort every association (ABORT chunks to the peers) and release the SCTP port. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#registry.abortAll();
    this.#endpoint.DESTROY();
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.emit('close');
  }
}
