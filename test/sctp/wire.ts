// An in-memory network for SCTP stack tests: hosts with one or more addresses, each a
// LowerLayer, packets delivered after a latency in virtual time, with seeded loss, duplication,
// reordering, corruption, and addresses that can be cut.
import type { LowerLayer, PacketReceiver, PeerTransport } from '../../src/sctp/lower-layer.js';
import { VirtualClock } from '../../src/sctp/clock.js';
import { seededRandom } from '../helpers/seeded-random.js';

export interface Impairments {
  loss?: number;
  duplicate?: number;
  reorder?: number;
  corrupt?: number;
}

export interface WirePacket {
  from: string;
  to: string;
  bytes: Uint8Array;
}


export class Network {
  readonly clock = new VirtualClock();
  readonly hosts = new Map<string, MemoryLowerLayer>();
  /** Addresses whose traffic (to or from) is dropped. */
  readonly cut = new Set<string>();
  impairments: Impairments = {};
  latency = 1;
  /** Every packet handed to the network (before impairments). */
  readonly sent: WirePacket[] = [];
  /** Drops a packet when it returns true. */
  filter: ((p: WirePacket) => boolean) | undefined;
  readonly random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  host(addresses: string[], mode: 'udp' | 'raw' = 'udp', udpPort = 9899): MemoryLowerLayer {
    const h = new MemoryLowerLayer(this, addresses, mode, udpPort);
    for (const a of addresses) this.hosts.set(a, h);
    return h;
  }

  transmit(sender: MemoryLowerLayer, packet: Uint8Array, to: PeerTransport): void {
    // The host's route to the destination picks the source (a wildcard socket's kernel), if
    // the test gave one; else an address that is not cut (the host routes around a dead interface).
    const from = sender.route?.(to.address) ?? sender.addresses.find((a) => !this.cut.has(a)) ?? sender.addresses[0]!;
    const p: WirePacket = { from, to: to.address, bytes: packet };
    this.sent.push(p);
    if (this.cut.has(from) || this.cut.has(to.address)) return;
    if (this.filter?.(p)) return;
    const target = this.hosts.get(to.address);
    if (target === undefined) return;
    const im = this.impairments;
    if (im.loss && this.random() < im.loss) return;
    let bytes = packet;
    if (im.corrupt && this.random() < im.corrupt) {
      bytes = Uint8Array.from(packet);
      bytes[Math.floor(this.random() * bytes.length)]! ^= 1 << Math.floor(this.random() * 8);
    }
    const copies = im.duplicate && this.random() < im.duplicate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const delay = this.latency + (im.reorder && this.random() < im.reorder ? 1 + Math.floor(this.random() * 5) : 0);
      const copy = Uint8Array.from(bytes);
      this.clock.setTimer(delay, () => target.deliver(copy, sender.mode === 'udp' ? { address: from, udpPort: sender.udpPort } : { address: from }, to.address));
    }
  }

  /** Runs virtual time forward in 1 ms steps up to `ms` (deferred work runs on the way). */
  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** Advances until `predicate` holds or `ms` passed; returns whether it holds. */
  until(predicate: () => boolean, ms = 60_000, step = 1): boolean {
    for (let t = 0; t < ms; t += step) {
      if (predicate()) return true;
      this.clock.advance(step);
    }
    return predicate();
  }
}

export class MemoryLowerLayer implements LowerLayer {
  readonly receivers = new Map<number, PacketReceiver>();
  readonly remoteUdpPort = 9899;
  closed = false;

  constructor(
    private readonly network: Network,
    readonly addresses: string[],
    readonly mode: 'udp' | 'raw',
    readonly udpPort: number,
  ) {}

  /** The source address the host's routing table picks for a destination (undefined: the default rule). */
  route: ((to: string) => string | undefined) | undefined;

  /** The addresses INIT lists ([] stands for a wildcard bind). */
  listed: readonly string[] | undefined;

  get localAddresses(): readonly string[] {
    return this.listed ?? this.addresses;
  }

  bind(port: number, receiver: PacketReceiver): void {
    if (this.receivers.has(port)) throw new Error(`port ${port} in use`);
    this.receivers.set(port, receiver);
  }

  unbind(port: number): void {
    this.receivers.delete(port);
  }

  send(packet: Uint8Array, to: PeerTransport): void {
    this.network.transmit(this, packet, to);
  }

  async sendDatagram(): Promise<void> {}

  async close(): Promise<void> {
    if (this.receivers.size === 0) this.closed = true;
  }

  deliver(packet: Uint8Array, from: PeerTransport, local: string): void {
    if (packet.length < 4) return;
    const port = (packet[2]! << 8) | packet[3]!;
    this.receivers.get(port)?.(packet, from, local);
  }
}
