// The ASAP and ENRP messages in a capture file: SCTP DATA chunks over IP (protocol 132) or over
// UDP port 9899 (RFC 6951), reassembled, plus the UDP datagrams of ASAP Server Announces (port
// 3863, RFC 5352 §3.1) and ENRP Presence multicast (port 9901, RFC 5353 §3.2).
import { PORT_ASAP, PORT_ENRP, PORT_SCTP_OVER_UDP, PPID_ASAP, PPID_ENRP } from '../wire/constants.js';
import { readCaptureFrames, type CaptureFileError, type CaptureFormat, type CaptureTime } from './capture-file.js';
import { DataReassembler } from './data-reassembly.js';
import { IpProtocol, readIpPacket, type IpPacket, type SkipReason } from './network-layer.js';
import { DataChunkFlag, readSctpPacket, type SctpDataChunk } from './sctp-packet.js';
import { sctpChecksum } from '../sctp/crc32c.js';

export type RSerPoolProtocol = 'asap' | 'enrp';
export type CaptureTransport = 'sctp' | 'sctp/udp' | 'udp';

/** One ASAP or ENRP message found in a capture. */
export interface CapturedMessage {
  /** Frame number (1-based, as Wireshark counts) of the frame that completed the message. */
  frame: number;
  time: CaptureTime;
  src: string;
  dst: string;
  /** SCTP ports for 'sctp' and 'sctp/udp' (not the UDP encapsulation ports), UDP ports for 'udp'. */
  sport: number;
  dport: number;
  transport: CaptureTransport;
  /** SCTP payload protocol identifier; null for plain UDP. */
  ppid: number | null;
  protocol: RSerPoolProtocol;
  /** SCTP stream and TSN of the (first) DATA chunk; null for plain UDP. */
  stream: number | null;
  tsn: number | null;
  /** How many DATA chunks the message came in (1 when not fragmented or UDP). */
  fragments: number;
  /**
   * True for a DATA chunk whose TSN was already seen on this association direction: a
   * retransmission, which the receiver delivers only once. Only reported when asked for.
   */
  retransmission: boolean;
  /**
   * True when a packet the message came in has a wrong SCTP checksum (RFC 9260 §6.8); only
   * reported with `ignoreChecksums`, otherwise such packets are discarded as a receiver would.
   */
  badChecksum: boolean;
  /** The ASAP/ENRP message bytes: a view into the capture unless it was reassembled. */
  payload: Uint8Array;
}

/** What else the reader saw: frames it skipped and why, DATA that was not ASAP/ENRP. */
export interface CaptureStatistics {
  frames: number;
  skipped: Record<SkipReason, number>;
  sctpPackets: number;
  dataChunks: number;
  /** DATA chunks with no user data (RSPLIB sends them with PPID 0): not messages. */
  emptyDataChunks: number;
  /** Complete user messages whose PPID and ports name neither ASAP nor ENRP. */
  otherUserMessages: number;
  /** SCTP packets with a chunk cut short by the capture or with a bad chunk length. */
  truncatedSctpPackets: number;
  /** Fragments whose message never completed in the capture. */
  incompleteFragments: number;
  /** DATA chunks carrying a TSN already seen on their association direction. */
  retransmissions: number;
  /** Complete SCTP packets whose CRC32c checksum is wrong (RFC 9260 §6.8). */
  badChecksums: number;
}

/** An SCTP packet whose checksum is wrong: a receiver discards it (RFC 9260 §6.8). */
export interface BadChecksumPacket {
  frame: number;
  time: CaptureTime;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  transport: 'sctp' | 'sctp/udp';
  /** The checksum in the packet and the one its bytes give, as unsigned 32-bit numbers. */
  stored: number;
  computed: number;
}

export interface CaptureReading {
  format: CaptureFormat | null;
  messages: CapturedMessage[];
  /** SCTP packets with a wrong checksum, in frame order (with `ignoreChecksums` too). */
  badChecksums: BadChecksumPacket[];
  statistics: CaptureStatistics;
  /** Why the file could not be read to its end (the messages before that point are kept). */
  error: CaptureFileError | null;
}

/**
 * Which protocol a message belongs to (RFC 5352 §5, RFC 5353 §5): by PPID 11/12, or, with the
 * unspecified PPID 0, by the well-known port on either side. Null when it is neither.
 */
export function classifyMessage(ppid: number | null, sport: number, dport: number): RSerPoolProtocol | null {
  if (ppid === PPID_ASAP) return 'asap';
  if (ppid === PPID_ENRP) return 'enrp';
  if (ppid === 0 || ppid === null) {
    if (sport === PORT_ASAP || dport === PORT_ASAP) return 'asap';
    if (sport === PORT_ENRP || dport === PORT_ENRP) return 'enrp';
  }
  return null;
}

const UDP_HEADER_LENGTH = 8;
/** TSNs remembered per association direction to recognize retransmissions. */
const TSN_HISTORY = 65536;

export interface CaptureReadOptions {
  /**
   * Also report retransmitted DATA chunks (flagged `retransmission: true`). By default a
   * message is reported once, as the receiving SCTP delivers it and as Wireshark dissects it.
   */
  includeRetransmissions?: boolean;
  /**
   * UDP ports that carry SCTP (RFC 6951) besides 9899, like Wireshark's "decode as": tests and
   * deployments that run registrars on other encapsulation ports.
   */
  sctpOverUdpPorts?: readonly number[];
  /**
   * Read the DATA chunks of SCTP packets whose checksum is wrong (their messages are marked
   * `badChecksum`), e.g. in a capture taken on a host with SCTP checksum offload. By default
   * such packets are discarded, as the receiving SCTP discards them, and listed in `badChecksums`.
   */
  ignoreChecksums?: boolean;
}

/** Reads a pcap or pcapng file held in memory and returns the ASAP/ENRP messages in it. */
export function readRSerPoolCapture(file: Uint8Array, options: CaptureReadOptions = {}): CaptureReading {
  const { format, frames, error } = readCaptureFrames(file);
  const extraPorts = new Set(options.sctpOverUdpPorts ?? []);
  const statistics: CaptureStatistics = {
    frames: frames.length,
    skipped: { 'unknown-link-type': 0, 'not-ip': 0, 'ip-fragment': 0, truncated: 0, 'malformed-ip': 0 },
    sctpPackets: 0,
    dataChunks: 0,
    emptyDataChunks: 0,
    otherUserMessages: 0,
    truncatedSctpPackets: 0,
    incompleteFragments: 0,
    retransmissions: 0,
    badChecksums: 0,
  };
  const seenTsns = new Map<string, Set<number>>();
  const messages: CapturedMessage[] = [];
  const badChecksums: BadChecksumPacket[] = [];
  const reassembler = new DataReassembler();

  /** `complete`: the capture holds the whole SCTP packet, so its checksum can be verified. */
  const readSctp = (ip: IpPacket, sctpBytes: Uint8Array, transport: 'sctp' | 'sctp/udp', frame: number, time: CaptureTime, complete: boolean): void => {
    const sctp = readSctpPacket(sctpBytes);
    if (sctp === null) {
      statistics.truncatedSctpPackets++;
      return;
    }
    statistics.sctpPackets++;
    if (sctp.truncated) statistics.truncatedSctpPackets++;
    let badChecksum = false;
    if (complete) {
      const computed = sctpChecksum(sctpBytes);
      if (computed !== sctp.checksum) {
        badChecksum = true;
        statistics.badChecksums++;
        badChecksums.push({ frame, time, src: ip.src, dst: ip.dst, sport: sctp.sourcePort, dport: sctp.destinationPort, transport, stored: sctp.checksum, computed });
        if (!options.ignoreChecksums) return;
      }
    }
    // The verification tag tells associations between the same addresses and ports apart.
    const direction = `${transport}|${ip.src}|${sctp.sourcePort}|${ip.dst}|${sctp.destinationPort}|${sctp.verificationTag}`;
    for (const chunk of sctp.dataChunks) {
      statistics.dataChunks++;
      if (chunk.userData.length === 0) {
        statistics.emptyDataChunks++;
        continue;
      }
      // RFC 4960 §6.2: a TSN seen before is a duplicate, delivered once.
      let seen = seenTsns.get(direction);
      if (seen === undefined) {
        seen = new Set();
        seenTsns.set(direction, seen);
      }
      const retransmission = seen.has(chunk.tsn);
      if (retransmission) {
        statistics.retransmissions++;
        if (!options.includeRetransmissions || !isWhole(chunk.flags)) continue;
      } else {
        seen.add(chunk.tsn);
        if (seen.size > TSN_HISTORY) seen.delete(seen.values().next().value!);
      }
      const message = retransmission ? wholeMessage(chunk) : reassembler.push(direction, chunk, frame);
      if (message === null) continue;
      const protocol = classifyMessage(message.ppid, sctp.sourcePort, sctp.destinationPort);
      if (protocol === null) {
        statistics.otherUserMessages++;
        continue;
      }
      messages.push({
        frame,
        time,
        src: ip.src,
        dst: ip.dst,
        sport: sctp.sourcePort,
        dport: sctp.destinationPort,
        transport,
        ppid: message.ppid,
        protocol,
        stream: message.stream,
        tsn: message.tsn,
        fragments: message.fragments,
        retransmission,
        badChecksum,
        payload: message.userData,
      });
    }
  };

  for (const frame of frames) {
    const network = readIpPacket(frame.linkType, frame.data);
    if (!network.ok) {
      statistics.skipped[network.reason]++;
      continue;
    }
    const ip = network.packet;
    if (ip.protocol === IpProtocol.Sctp) {
      readSctp(ip, ip.payload, 'sctp', frame.number, frame.time, !ip.truncated);
    } else if (ip.protocol === IpProtocol.Udp) {
      if (ip.payload.length < UDP_HEADER_LENGTH) {
        statistics.skipped.truncated++;
        continue;
      }
      const sport = (ip.payload[0]! << 8) | ip.payload[1]!;
      const dport = (ip.payload[2]! << 8) | ip.payload[3]!;
      const udpLength = (ip.payload[4]! << 8) | ip.payload[5]!;
      const end = udpLength >= UDP_HEADER_LENGTH ? Math.min(udpLength, ip.payload.length) : ip.payload.length;
      const body = ip.payload.subarray(UDP_HEADER_LENGTH, end);
      if (sport === PORT_SCTP_OVER_UDP || dport === PORT_SCTP_OVER_UDP || extraPorts.has(sport) || extraPorts.has(dport)) {
        readSctp(ip, body, 'sctp/udp', frame.number, frame.time, !ip.truncated && udpLength >= UDP_HEADER_LENGTH && udpLength <= ip.payload.length);
        continue;
      }
      const protocol = classifyMessage(null, sport, dport);
      if (protocol === null || body.length === 0) continue;
      messages.push({
        frame: frame.number,
        time: frame.time,
        src: ip.src,
        dst: ip.dst,
        sport,
        dport,
        transport: 'udp',
        ppid: null,
        protocol,
        stream: null,
        tsn: null,
        fragments: 1,
        retransmission: false,
        badChecksum: false,
        payload: body,
      });
    }
  }
  statistics.incompleteFragments = reassembler.pendingFragments;
  return { format, messages, badChecksums, statistics, error };
}

function isWhole(flags: number): boolean {
  return (flags & (DataChunkFlag.Beginning | DataChunkFlag.Ending)) === (DataChunkFlag.Beginning | DataChunkFlag.Ending);
}

function wholeMessage(chunk: SctpDataChunk): { ppid: number; stream: number; tsn: number; fragments: number; userData: Uint8Array } {
  return { ppid: chunk.ppid, stream: chunk.stream, tsn: chunk.tsn, fragments: 1, userData: chunk.userData };
}

/** Seconds since the epoch with nanoseconds, as text (e.g. "1795239748.595715766"). */
export function formatCaptureTime(time: CaptureTime): string {
  return `${time.seconds}.${String(time.nanoseconds).padStart(9, '0')}`;
}
