// Test harness: two package Endpoints joined by an in-memory link (no sockets), with a
// log of every packet and a drop filter, plus a UDP relay for tests of real endpoints.
import dgram from 'node:dgram';
import { Packet, sctpPackage } from '../../src/transport/sctp-package.js';
import type { PackageAssociation, PackageEndpoint, PackagePacket } from '../../src/transport/sctp-package.js';

/** SCTP chunk type codes (RFC 9260 §3.2) used by the filters. */
export const ChunkType = { DATA: 0, INIT: 1, INIT_ACK: 2, SACK: 3, HEARTBEAT: 4, HEARTBEAT_ACK: 5, ABORT: 6, COOKIE_ECHO: 10, COOKIE_ACK: 11 } as const;

export interface LoggedPacket {
  from: 'a' | 'b';
  at: number;
  types: number[];
  /** TSNs of the DATA chunks in the packet. */
  tsns: number[];
}

/** Chunk types and DATA TSNs of one SCTP packet (common header is 12 bytes). */
export function inspect(packet: Buffer): { types: number[]; tsns: number[] } {
  const types: number[] = [];
  const tsns: number[] = [];
  let offset = 12;
  while (offset + 4 <= packet.length) {
    const type = packet[offset]!;
    const length = packet.readUInt16BE(offset + 2);
    if (length < 4) break;
    types.push(type);
    if (type === ChunkType.DATA) tsns.push(packet.readUInt32BE(offset + 4));
    offset += (length + 3) & ~3;
  }
  return { types, tsns };
}

export interface Link {
  a: PackageEndpoint;
  b: PackageEndpoint;
  log: LoggedPacket[];
  /** Return true to drop a packet. */
  drop: (from: 'a' | 'b', packet: Buffer) => boolean;
  close(): void;
}

export const ADDRESS_A = '127.0.0.1';
export const ADDRESS_B = '127.0.0.2';

export function makeLink(portA = 5001, portB = 5002): Link {
  const a = new (sctpPackage().Endpoint)({ localPort: portA, MIS: 4, OS: 4 });
  const b = new (sctpPackage().Endpoint)({ localPort: portB, MIS: 4, OS: 4 });
  const link: Link = {
    a,
    b,
    log: [],
    drop: () => false,
    close() {
      for (const e of [a, b]) {
        for (const assoc of [...e.associations]) assoc.ABORT();
        e.DESTROY();
      }
    },
  };
  const wire = (from: 'a' | 'b', to: PackageEndpoint, src: string, dst: string) => ({
    sendPacket(_s: string | undefined, _d: string, packet: PackagePacket, callback?: (error?: Error | null) => void) {
      const bytes = Buffer.from(packet.toBuffer());
      const { types, tsns } = inspect(bytes);
      link.log.push({ from, at: performance.now(), types, tsns });
      if (!link.drop(from, bytes)) {
        setImmediate(() => {
          const decoded = Packet.fromBuffer(bytes);
          if (decoded) to.emit('packet', decoded, src, dst);
        });
      }
      if (callback) setImmediate(callback);
      return true;
    },
    unallocate() {},
  });
  a.transport = wire('a', b, ADDRESS_A, ADDRESS_B);
  b.transport = wire('b', a, ADDRESS_B, ADDRESS_A);
  return link;
}

/** Associate a -> b and wait until both sides are up. */
export async function establish(link: Link): Promise<{ client: PackageAssociation; server: PackageAssociation }> {
  const serverSide = new Promise<PackageAssociation>((resolve) => {
    link.b.once('association', (assoc: PackageAssociation) => resolve(assoc));
  });
  const client = link.a.ASSOCIATE({ remoteAddress: ADDRESS_B, remotePort: link.b.localPort, OS: 4, MIS: 4 });
  await once(client, 'COMMUNICATION UP', 5000);
  return { client, server: await serverSide };
}

export function once(emitter: NodeJS.EventEmitter, event: string, timeoutMs: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, listener);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or `ms` pass; whether it holds (the test asserts, with context). */
export async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!check() && performance.now() < end) await sleep(10);
  return check();
}

/** Receive every message of a package association: [payload, ppid, stream]. */
export function collect(assoc: PackageAssociation): Array<{ data: Buffer; ppid: number; stream: number }> {
  const got: Array<{ data: Buffer; ppid: number; stream: number }> = [];
  assoc.on('DATA ARRIVE', (stream: number) => {
    const data = assoc.RECEIVE();
    if (data) got.push({ data, ppid: data.ppid ?? 0, stream });
  });
  return got;
}

/**
 * UDP relay between a client and an SCTP-over-UDP server, dropping what `drop` says.
 * The client talks to `port`; the server sees the relay as its peer.
 */
export class UdpRelay {
  drop: (toServer: boolean, packet: Buffer) => boolean = () => false;
  readonly log: Array<{ toServer: boolean; types: number[] }> = [];
  private client: dgram.RemoteInfo | undefined;
  private constructor(
    private readonly front: dgram.Socket,
    private readonly back: dgram.Socket,
    private readonly serverPort: number,
  ) {
    front.on('message', (msg, rinfo) => {
      this.client = rinfo;
      this.log.push({ toServer: true, types: inspect(msg).types });
      if (!this.drop(true, msg)) back.send(msg, this.serverPort, '127.0.0.1');
    });
    back.on('message', (msg) => {
      this.log.push({ toServer: false, types: inspect(msg).types });
      if (this.client && !this.drop(false, msg)) front.send(msg, this.client.port, this.client.address);
    });
  }

  static async open(serverUdpPort: number): Promise<UdpRelay> {
    const bind = async (): Promise<dgram.Socket> => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
      return s;
    };
    return new UdpRelay(await bind(), await bind(), serverUdpPort);
  }

  get port(): number {
    return this.front.address().port;
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}
