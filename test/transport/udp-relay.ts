// Helpers of the transport tests on real sockets: polling, sleeping, and a UDP relay between a
// client and an SCTP-over-UDP server that logs and drops packets.
import dgram from 'node:dgram';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or `ms` pass; whether it holds (the test asserts, with context). */
export async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!check() && performance.now() < end) await sleep(10);
  return check();
}

/** Chunk types of one SCTP packet (after the 12-byte common header, RFC 9260 §3.1). */
export function chunkTypes(packet: Buffer): number[] {
  const types: number[] = [];
  let offset = 12;
  while (offset + 4 <= packet.length) {
    const length = packet.readUInt16BE(offset + 2);
    if (length < 4) break;
    types.push(packet[offset]!);
    offset += (length + 3) & ~3;
  }
  return types;
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
      this.log.push({ toServer: true, types: chunkTypes(msg) });
      if (!this.drop(true, msg)) back.send(msg, this.serverPort, '127.0.0.1');
    });
    back.on('message', (msg) => {
      this.log.push({ toServer: false, types: chunkTypes(msg) });
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
