// Capture files: reading the ASAP/ENRP messages out of pcap/pcapng, and writing messages into
// pcap for Wireshark.
export {
  readCaptureFrames,
  type CaptureFileError,
  type CaptureFileErrorKind,
  type CaptureFormat,
  type CaptureFrames,
  type CaptureTime,
  type CapturedFrame,
} from './capture-file.js';
export {
  classifyMessage,
  formatCaptureTime,
  readRSerPoolCapture,
  type BadChecksumPacket,
  type CaptureReadOptions,
  type CaptureReading,
  type CaptureStatistics,
  type CaptureTransport,
  type CapturedMessage,
  type RSerPoolProtocol,
} from './capture-reader.js';
export { crc32c, sctpChecksum, verifySctpChecksum, writeSctpChecksum } from '../sctp/crc32c.js';
export { DataReassembler, type ReassembledMessage } from './data-reassembly.js';

export { IpProtocol, LinkType, readIpPacket, type IpPacket, type NetworkResult, type SkipReason } from './network-layer.js';
export {
  PcapWriter,
  buildIpPacket,
  buildSctpPacket,
  buildUdpDatagram,
  type DataChunkSpec,
  type PcapWriterOptions,
  type SctpDataSpec,
  type SctpPacketSpec,
  type UdpDatagramSpec,
  type WriterLinkType,
} from './pcap-writer.js';
export { DataChunkFlag, readSctpPacket, type SctpDataChunk, type SctpPacket } from './sctp-packet.js';
