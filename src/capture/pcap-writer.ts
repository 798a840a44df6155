// Writing ASAP/ENRP messages into a classic pcap file, for Wireshark and for tests of the
// reader: each message in its own packet, IPv4 or IPv6, SCTP over UDP port 9899 (RFC 6951) or
// SCTP straight over IP, one DATA chunk (or several, bundled) with a correct CRC32c checksum;
// or a plain UDP datagram for ASAP Server Announces and ENRP Presence multicast.
import { PORT_SCTP_OVER_UDP } from '../wire/constants.js';
import type { CaptureTime } from './capture-file.js';
import { writeSctpChecksum } from '../sctp/crc32c.js';
import { parseAddress as parseIpAddress } from '../wire/address.js';
import { IpProtocol, LinkType } from './network-layer.js';
import { DataChunkFlag, SCTP_CHUNK_DATA, SCTP_COMMON_HEADER_LENGTH, SCTP_DATA_HEADER_LENGTH } from './sctp-packet.js';

export type WriterLinkType = 'ethernet' | 'raw';

export interface PcapWriterOptions {
  /** Ethernet II frames (default) or raw IP (LINKTYPE_RAW). */
  linkType?: WriterLinkType;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. */
  nanoseconds?: boolean;
  /** Byte order of the file headers (default little-endian). */
  bigEndian?: boolean;
  /** Time of the first frame when a frame names none; later frames follow 1 ms apart. */
  startTime?: CaptureTime;
}

/** One DATA chunk (RFC 4960 §3.3.1). */
export interface DataChunkSpec {
  tsn: number;
  ppid: number;
  payload: Uint8Array;
  stream?: number;
  streamSequence?: number;
  /** DataChunkFlag bits; default B|E (a whole, ordered message). */
  flags?: number;
}

export interface SctpPacketSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  verificationTag?: number;
  /** 'udp': inside UDP port 9899 on both sides (RFC 6951, default); 'ip': IP protocol 132. */
  encapsulation?: 'udp' | 'ip';
  chunks: DataChunkSpec[];
  time?: CaptureTime;
}

export type SctpDataSpec = Omit<SctpPacketSpec, 'chunks'> & DataChunkSpec;

export interface UdpDatagramSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Uint8Array;
  time?: CaptureTime;
}

const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
const PCAP_MAGIC_NANO = 0xa1b23c4d;
const SNAP_LENGTH = 262144;
const DEFAULT_START: CaptureTime = { seconds: 1_700_000_000, nanoseconds: 0 };
const FRAME_INTERVAL_NS = 1_000_000;

export class PcapWriter {
  readonly #linkType: WriterLinkType;
  readonly #nanoseconds: boolean;
  readonly #littleEndian: boolean;
  readonly #records: { time: CaptureTime; frame: Uint8Array }[] = [];
  #nextTime: CaptureTime;

  constructor(options: PcapWriterOptions = {}) {
    this.#linkType = options.linkType ?? 'ethernet';
    this.#nanoseconds = options.nanoseconds ?? false;
    this.#littleEndian = !(options.bigEndian ?? false);
    this.#nextTime = options.startTime ?? DEFAULT_START;
  }

  /** Number of frames written so far. */
  get frameCount(): number {
    return this.#records.length;
  }

  /** Adds one SCTP packet holding a single DATA chunk; returns its frame number. */
  addSctpData(spec: SctpDataSpec): number {
    const { tsn, ppid, payload, stream, streamSequence, flags, ...packet } = spec;
    const chunk: DataChunkSpec = { tsn, ppid, payload };
    if (stream !== undefined) chunk.stream = stream;
    if (streamSequence !== undefined) chunk.streamSequence = streamSequence;
    if (flags !== undefined) chunk.flags = flags;
    return this.addSctpPacket({ ...packet, chunks: [chunk] });
  }

  /** Adds one SCTP packet with the given DATA chunks bundled; returns its frame number. */
  addSctpPacket(spec: SctpPacketSpec): number {
    const sctp = buildSctpPacket(spec.sport, spec.dport, spec.verificationTag ?? 0x52535031, spec.chunks);
    const ip =
      (spec.encapsulation ?? 'udp') === 'udp'
        ? buildIpPacket(spec.src, spec.dst, IpProtocol.Udp, buildUdpDatagram(spec.src, spec.dst, PORT_SCTP_OVER_UDP, PORT_SCTP_OVER_UDP, sctp))
        : buildIpPacket(spec.src, spec.dst, IpProtocol.Sctp, sctp);
    return this.addIpPacket(ip, spec.time);
  }

  /** Adds one plain UDP datagram (e.g. an ASAP Server Announce); returns its frame number. */
  addUdp(spec: UdpDatagramSpec): number {
    const udp = buildUdpDatagram(spec.src, spec.dst, spec.sport, spec.dport, spec.payload);
    return this.addIpPacket(buildIpPacket(spec.src, spec.dst, IpProtocol.Udp, udp), spec.time);
  }

  /** Adds an IP packet, framed for the writer's link type; returns its frame number. */
  addIpPacket(ip: Uint8Array, time?: CaptureTime): number {
    if (this.#linkType === 'raw') return this.addFrame(ip, time);
    const frame = new Uint8Array(14 + ip.length);
    frame.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0); // locally administered MACs
    const etherType = (ip[0]! >> 4) === 6 ? 0x86dd : 0x0800;
    frame[12] = etherType >> 8;
    frame[13] = etherType & 0xff;
    frame.set(ip, 14);
    return this.addFrame(frame, time);
  }

  /** Adds a frame as it is (already framed for the link type); returns its frame number. */
  addFrame(frame: Uint8Array, time?: CaptureTime): number {
    const t = time ?? this.#nextTime;
    const ns = t.nanoseconds + FRAME_INTERVAL_NS;
    this.#nextTime = { seconds: t.seconds + Math.floor(ns / 1e9), nanoseconds: ns % 1e9 };
    this.#records.push({ time: t, frame });
    return this.#records.length;
  }

  /** The pcap file. */
  toBytes(): Uint8Array {
    let size = 24;
    for (const r of this.#records) size += 16 + r.frame.length;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    const le = this.#littleEndian;
    view.setUint32(0, this.#nanoseconds ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, le);
    view.setUint16(4, 2, le);
    view.setUint16(6, 4, le);
    view.setInt32(8, 0, le);
    view.setUint32(12, 0, le);
    view.setUint32(16, SNAP_LENGTH, le);
    view.setUint32(20, this.#linkType === 'raw' ? LinkType.Raw : LinkType.Ethernet, le);
    let offset = 24;
    for (const { time, frame } of this.#records) {
      view.setUint32(offset, time.seconds, le);
      view.setUint32(offset + 4, this.#nanoseconds ? time.nanoseconds : Math.floor(time.nanoseconds / 1000), le);
      view.setUint32(offset + 8, frame.length, le);
      view.setUint32(offset + 12, frame.length, le);
      out.set(frame, offset + 16);
      offset += 16 + frame.length;
    }
    return out;
  }
}

/** An SCTP packet: common header, the DATA chunks (each padded to 4 bytes), CRC32c checksum. */
export function buildSctpPacket(sport: number, dport: number, verificationTag: number, chunks: DataChunkSpec[]): Uint8Array {
  let size = SCTP_COMMON_HEADER_LENGTH;
  for (const c of chunks) size += (SCTP_DATA_HEADER_LENGTH + c.payload.length + 3) & ~3;
  const packet = new Uint8Array(size);
  const view = new DataView(packet.buffer);
  view.setUint16(0, sport);
  view.setUint16(2, dport);
  view.setUint32(4, verificationTag >>> 0);
  let offset = SCTP_COMMON_HEADER_LENGTH;
  for (const c of chunks) {
    packet[offset] = SCTP_CHUNK_DATA;
    packet[offset + 1] = c.flags ?? DataChunkFlag.Beginning | DataChunkFlag.Ending;
    view.setUint16(offset + 2, SCTP_DATA_HEADER_LENGTH + c.payload.length);
    view.setUint32(offset + 4, c.tsn >>> 0);
    view.setUint16(offset + 8, c.stream ?? 0);
    view.setUint16(offset + 10, c.streamSequence ?? 0);
    view.setUint32(offset + 12, c.ppid >>> 0);
    packet.set(c.payload, offset + SCTP_DATA_HEADER_LENGTH);
    offset += (SCTP_DATA_HEADER_LENGTH + c.payload.length + 3) & ~3;
  }
  writeSctpChecksum(packet);
  return packet;
}

function address(text: string): Uint8Array {
  const bytes = parseIpAddress(text);
  if (bytes === null) throw new RangeError(`not an IP address: ${JSON.stringify(text)}`);
  return bytes;
}

/** A UDP datagram (RFC 768) with its checksum over the IPv4 or IPv6 pseudo-header. */
export function buildUdpDatagram(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const datagram = new Uint8Array(8 + payload.length);
  const view = new DataView(datagram.buffer);
  view.setUint16(0, sport);
  view.setUint16(2, dport);
  view.setUint16(4, datagram.length);
  datagram.set(payload, 8);
  const s = address(src);
  const d = address(dst);
  const pseudo = new Uint8Array(s.length === 4 ? 12 : 40);
  pseudo.set(s, 0);
  pseudo.set(d, s.length);
  const pv = new DataView(pseudo.buffer);
  if (s.length === 4) {
    pseudo[9] = IpProtocol.Udp;
    pv.setUint16(10, datagram.length);
  } else {
    pv.setUint32(32, datagram.length);
    pseudo[39] = IpProtocol.Udp;
  }
  let checksum = internetChecksum([pseudo, datagram]);
  if (checksum === 0) checksum = 0xffff; // RFC 768: a computed 0 is sent as all ones
  view.setUint16(6, checksum);
  return datagram;
}

/** An IPv4 (RFC 791, no options) or IPv6 (RFC 8200, no extension headers) packet. */
export function buildIpPacket(src: string, dst: string, protocol: number, payload: Uint8Array): Uint8Array {
  const s = address(src);
  const d = address(dst);
  if (s.length !== d.length) throw new RangeError(`source ${src} and destination ${dst} are of different IP versions`);
  if (s.length === 4) {
    const packet = new Uint8Array(20 + payload.length);
    const view = new DataView(packet.buffer);
    packet[0] = 0x45;
    view.setUint16(2, packet.length);
    view.setUint16(6, 0x4000); // don't fragment
    packet[8] = 64;
    packet[9] = protocol;
    packet.set(s, 12);
    packet.set(d, 16);
    view.setUint16(10, internetChecksum([packet.subarray(0, 20)]));
    packet.set(payload, 20);
    return packet;
  }
  const packet = new Uint8Array(40 + payload.length);
  const view = new DataView(packet.buffer);
  packet[0] = 0x60;
  view.setUint16(4, payload.length);
  packet[6] = protocol;
  packet[7] = 64;
  packet.set(s, 8);
  packet.set(d, 24);
  packet.set(payload, 40);
  return packet;
}

/** The Internet checksum (RFC 1071) over the concatenation of the parts. */
function internetChecksum(parts: Uint8Array[]): number {
  let sum = 0;
  let odd = false;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      sum += odd ? part[i]! : part[i]! << 8;
      odd = !odd;
    }
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
