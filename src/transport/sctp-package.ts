// Typed access to the internals of the `sctp` npm package (1.0.0, patched by
// patches/sctp+1.0.0.patch). The provider works at the package's Endpoint/Association
// layer, not its stream Socket: that layer carries the stream id and PPID of each
// message, has no duplicate delivery (package note 12), and lets SCTP over UDP be
// demultiplexed here (the package's Server has no UDP mode, note 13).
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

const require = createRequire(import.meta.url);

/** One decoded SCTP common header + raw chunks (package `lib/packet.js`). */
export interface PackagePacket {
  src_port: number;
  dst_port: number;
  v_tag: number;
  chunks?: Buffer[];
  toBuffer(): Buffer;
}

export interface PackagePacketClass {
  fromBuffer(buffer: Buffer): PackagePacket | false;
}

/** Duck type of the package's transports (`lib/transport.js`): what an Endpoint calls. */
export interface PackageTransport {
  sendPacket(src: string | undefined, dst: string, packet: PackagePacket, callback?: (error?: Error | null) => void): boolean | undefined;
  unallocate(port: number): void;
}

/** Data delivered by the package: a Buffer with the PPID attached (`association._deliver`). */
export type PackageMessage = Buffer & { ppid?: number };

export interface PackageAssociation extends EventEmitter {
  state: string;
  remoteAddress: string | undefined;
  remotePort: number;
  localPort: number;
  OS: number;
  MIS: number;
  endpoint: PackageEndpoint | undefined;
  SEND(buffer: Buffer, options: { stream_id: number; ppid: number }, callback: (error?: Error) => void): boolean;
  RECEIVE(): PackageMessage | undefined;
  SHUTDOWN(callback?: () => void): void;
  ABORT(reason?: string): void;
  drain(): boolean;
}

export interface PackageEndpoint extends EventEmitter {
  localPort: number;
  transport: PackageTransport;
  associations: PackageAssociation[];
  ASSOCIATE(options: { remoteAddress?: string; remotePort: number; OS?: number; MIS?: number }): PackageAssociation;
  close(): void;
  DESTROY(): void;
}

export interface PackageEndpointOptions {
  localPort: number;
  localAddress?: string[];
  MIS?: number;
  OS?: number;
}

export interface PackageEndpointClass {
  new (options: PackageEndpointOptions): PackageEndpoint;
  INITIALIZE(
    options: PackageEndpointOptions,
    transportOptions: Record<string, never>,
    callback: (error: Error | null, endpoint?: PackageEndpoint) => void,
  ): void;
}

/** Protocol parameters of the package (`defs.NET_SCTP`), process-wide. */
export interface SctpProtocolParameters {
  RWND?: number;
  rto_initial?: number;
  rto_min?: number;
  rto_max?: number;
  max_burst?: number;
  association_max_retrans?: number;
  max_init_retransmits?: number;
  hb_interval?: number;
  sack_timeout?: number;
  sack_freq?: number;
  PMTU?: number;
}

interface SctpIndex {
  Packet: PackagePacketClass;
  defaults(params: SctpProtocolParameters): Required<SctpProtocolParameters>;
}

/** The package's modules, loaded on first use: only the 'package' provider needs them, and the
 *  default provider (our own stack, src/sctp/) runs where the package is not installed. */
interface PackageModules {
  sctp: SctpIndex;
  Endpoint: PackageEndpointClass;
  Chunk: { fromBuffer(buffer: Buffer): PackageChunk | false };
}
let modules: PackageModules | undefined;

export function sctpPackage(): PackageModules {
  if (modules !== undefined) return modules;
  try {
    modules = {
      sctp: require('sctp') as SctpIndex,
      Endpoint: require('sctp/lib/endpoint.js') as PackageEndpointClass,
      Chunk: require('sctp/lib/chunk.js') as PackageModules['Chunk'],
    };
  } catch (error) {
    throw new Error(`the 'package' SCTP provider needs the sctp npm package (1.0.0, patched): ${(error as Error).message.split('\n')[0]}; the default provider 'stack' does not`);
  }
  return modules;
}

export const Packet: PackagePacketClass = { fromBuffer: (buffer) => sctpPackage().sctp.Packet.fromBuffer(buffer) };

/** SCTP chunk types read before the package sees a packet (RFC 9260 §3.2). */
export const ChunkType = { INIT: 1, COOKIE_ECHO: 10 } as const;

/** Our association in `state` with the sender of `packet` (port, and address where known). */
export function associationInState(endpoint: PackageEndpoint, packet: PackagePacket, source: string, state: string): PackageAssociation | undefined {
  return endpoint.associations.find((a) => a.remotePort === packet.src_port && (a.remoteAddress === undefined || a.remoteAddress === source) && a.state === state);
}

/** A decoded chunk (package `lib/chunk.js`): the fields read outside the package. */
export interface PackageChunk {
  chunkType?: string;
  /** Set when the chunk did not decode (a parameter cut short, a bad length). */
  error?: boolean;
  cookie?: Buffer;
}
/** `fromBuffer` answers false for fewer than 4 bytes. */
export const Chunk: PackageModules['Chunk'] = { fromBuffer: (buffer) => sctpPackage().Chunk.fromBuffer(buffer) };

/**
 * Set protocol parameters. They are process-wide in the package (one `defs` object)
 * and are read when an association is created.
 */
export function setProtocolParameters(params: SctpProtocolParameters): Required<SctpProtocolParameters> {
  return sctpPackage().sctp.defaults(params);
}

/** Whether the running package carries our patch (the patched association has `_scheduleBundle`). */
export function isPackagePatched(): boolean {
  sctpPackage();
  const Association = require('sctp/lib/association.js') as { prototype: Record<string, unknown> };
  return typeof Association.prototype['_scheduleBundle'] === 'function';
}
