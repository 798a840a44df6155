// The capture file containers: classic pcap (both byte orders, microsecond and nanosecond
// timestamps) and pcapng (Section Header, Interface Description, Enhanced/Simple/obsolete Packet
// blocks; both byte orders; a link type per interface). Formats: the libpcap file format and
// draft-ietf-opsawg-pcapng. A damaged file is data: the frames read so far plus an error.

/** The time a frame was captured, since the Unix epoch. */
export interface CaptureTime {
  seconds: number;
  nanoseconds: number;
}

/** One captured link-layer frame. `data` is a view into the file's bytes. */
export interface CapturedFrame {
  /** 1-based, counting every packet record of the file, as Wireshark numbers frames. */
  number: number;
  time: CaptureTime;
  /** LINKTYPE_* value (tcpdump.org link-layer header types). */
  linkType: number;
  /** Length of the frame on the wire; more than data.length when the capture cut it short. */
  originalLength: number;
  data: Uint8Array;
}

export type CaptureFormat = 'pcap' | 'pcapng';

export type CaptureFileErrorKind = 'not-a-capture' | 'truncated' | 'malformed' | 'unsupported';

export interface CaptureFileError {
  kind: CaptureFileErrorKind;
  /** Byte offset in the file where the problem was found. */
  offset: number;
  message: string;
}

export interface CaptureFrames {
  format: CaptureFormat | null;
  frames: CapturedFrame[];
  /** Why reading stopped early, or null when the whole file was read. */
  error: CaptureFileError | null;
}

const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
const PCAP_MAGIC_NANO = 0xa1b23c4d;
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
const PCAP_FILE_HEADER_LENGTH = 24;
const PCAP_RECORD_HEADER_LENGTH = 16;

const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_INTERFACE_DESCRIPTION = 0x00000001;
const PCAPNG_OBSOLETE_PACKET = 0x00000002;
const PCAPNG_SIMPLE_PACKET = 0x00000003;
const PCAPNG_ENHANCED_PACKET = 0x00000006;
const PCAPNG_OPTION_END = 0;
const PCAPNG_IF_TSRESOL = 9;
const PCAPNG_IF_TSOFFSET = 14;

/** A frame larger than this is taken as a sign of a damaged file, not a real frame. */
const MAX_FRAME_LENGTH = 256 * 1024 * 1024;

/** Reads every frame of a pcap or pcapng file held in memory. */
export function readCaptureFrames(file: Uint8Array): CaptureFrames {
  if (file.length < 4) {
    return { format: null, frames: [], error: notACapture(file.length) };
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magicBig = view.getUint32(0, false);
  if (magicBig === PCAPNG_SECTION_HEADER) return readPcapng(file, view);
  const magicLittle = view.getUint32(0, true);
  for (const [magic, littleEndian] of [
    [magicBig, false],
    [magicLittle, true],
  ] as const) {
    if (magic === PCAP_MAGIC_MICRO) return readPcap(file, view, littleEndian, 1000);
    if (magic === PCAP_MAGIC_NANO) return readPcap(file, view, littleEndian, 1);
    if (magic === PCAP_MAGIC_MODIFIED) {
      return {
        format: 'pcap',
        frames: [],
        error: { kind: 'unsupported', offset: 0, message: 'the "modified" (Kuznetzov) pcap format is not supported' },
      };
    }
  }
  return { format: null, frames: [], error: notACapture(0) };
}

function notACapture(offset: number): CaptureFileError {
  return { kind: 'not-a-capture', offset, message: 'not a pcap or pcapng file (unknown magic number)' };
}

function truncated(offset: number, what: string): CaptureFileError {
  return { kind: 'truncated', offset, message: `file ends in the middle of ${what} (offset ${offset}): the capture was cut short` };
}

function readPcap(file: Uint8Array, view: DataView, le: boolean, nanosPerTick: number): CaptureFrames {
  const frames: CapturedFrame[] = [];
  if (file.length < PCAP_FILE_HEADER_LENGTH) return { format: 'pcap', frames, error: truncated(0, 'the pcap file header') };
  // The upper 4 bits of the link type field may carry FCS information (libpcap LINKTYPE_FCS_*).
  const linkType = view.getUint32(20, le) & 0x0fffffff;
  let offset = PCAP_FILE_HEADER_LENGTH;
  while (offset < file.length) {
    if (offset + PCAP_RECORD_HEADER_LENGTH > file.length) {
      return { format: 'pcap', frames, error: truncated(offset, `the header of frame ${frames.length + 1}`) };
    }
    const seconds = view.getUint32(offset, le);
    const fraction = view.getUint32(offset + 4, le);
    const capturedLength = view.getUint32(offset + 8, le);
    const originalLength = view.getUint32(offset + 12, le);
    if (capturedLength > MAX_FRAME_LENGTH) {
      return {
        format: 'pcap',
        frames,
        error: { kind: 'malformed', offset, message: `frame ${frames.length + 1} claims ${capturedLength} captured bytes (offset ${offset})` },
      };
    }
    const start = offset + PCAP_RECORD_HEADER_LENGTH;
    if (start + capturedLength > file.length) {
      return { format: 'pcap', frames, error: truncated(start, `frame ${frames.length + 1}`) };
    }
    frames.push({
      number: frames.length + 1,
      time: normalizeTime(seconds, fraction * nanosPerTick),
      linkType,
      originalLength: Math.max(originalLength, capturedLength),
      data: file.subarray(start, start + capturedLength),
    });
    offset = start + capturedLength;
  }
  return { format: 'pcap', frames, error: null };
}

function normalizeTime(seconds: number, nanoseconds: number): CaptureTime {
  const carry = Math.floor(nanoseconds / 1e9);
  return { seconds: seconds + carry, nanoseconds: nanoseconds - carry * 1e9 };
}

interface PcapngInterface {
  linkType: number;
  snapLength: number;
  /** Timestamp unit: 10^-exponent seconds, or 2^-exponent when `binary`. */
  exponent: number;
  binary: boolean;
  offsetSeconds: bigint;
}

function readPcapng(file: Uint8Array, view: DataView): CaptureFrames {
  const frames: CapturedFrame[] = [];
  let le = true;
  let interfaces: PcapngInterface[] = [];
  let offset = 0;
  const fail = (error: CaptureFileError): CaptureFrames => ({ format: 'pcapng', frames, error });

  while (offset < file.length) {
    if (offset + 12 > file.length) return fail(truncated(offset, 'a pcapng block header'));
    const blockType = view.getUint32(offset, le);
    if (view.getUint32(offset, false) === PCAPNG_SECTION_HEADER) {
      // A new section: its byte-order magic decides how every later block is read.
      const magic = view.getUint32(offset + 8, false);
      if (magic === PCAPNG_BYTE_ORDER_MAGIC) le = false;
      else if (view.getUint32(offset + 8, true) === PCAPNG_BYTE_ORDER_MAGIC) le = true;
      else {
        return fail({ kind: 'malformed', offset: offset + 8, message: `bad pcapng byte-order magic at offset ${offset + 8}` });
      }
      interfaces = [];
    }
    const totalLength = view.getUint32(offset + 4, le);
    if (totalLength < 12 || totalLength % 4 !== 0 || totalLength > MAX_FRAME_LENGTH) {
      return fail({ kind: 'malformed', offset: offset + 4, message: `bad pcapng block length ${totalLength} at offset ${offset + 4}` });
    }
    if (offset + totalLength > file.length) return fail(truncated(offset, `a pcapng block of ${totalLength} bytes`));
    if (view.getUint32(offset + totalLength - 4, le) !== totalLength) {
      return fail({
        kind: 'malformed',
        offset: offset + totalLength - 4,
        message: `pcapng block at offset ${offset}: trailing length does not match ${totalLength}`,
      });
    }
    const body = offset + 8;
    const bodyEnd = offset + totalLength - 4;

    if (view.getUint32(offset, false) === PCAPNG_SECTION_HEADER) {
      // Nothing more needed from the section header.
    } else if (blockType === PCAPNG_INTERFACE_DESCRIPTION) {
      if (bodyEnd - body < 8) return fail({ kind: 'malformed', offset, message: `interface description block at offset ${offset} is too short` });
      const iface: PcapngInterface = {
        linkType: view.getUint16(body, le),
        snapLength: view.getUint32(body + 4, le),
        exponent: 6,
        binary: false,
        offsetSeconds: 0n,
      };
      for (const option of options(view, body + 8, bodyEnd, le)) {
        if (option.code === PCAPNG_IF_TSRESOL && option.length >= 1) {
          const resolution = file[option.start]!;
          iface.binary = (resolution & 0x80) !== 0;
          iface.exponent = resolution & 0x7f;
        } else if (option.code === PCAPNG_IF_TSOFFSET && option.length >= 8) {
          iface.offsetSeconds = view.getBigInt64(option.start, le);
        }
      }
      interfaces.push(iface);
    } else if (blockType === PCAPNG_ENHANCED_PACKET || blockType === PCAPNG_OBSOLETE_PACKET) {
      const enhanced = blockType === PCAPNG_ENHANCED_PACKET;
      if (bodyEnd - body < 20) return fail({ kind: 'malformed', offset, message: `packet block at offset ${offset} is too short` });
      const interfaceId = enhanced ? view.getUint32(body, le) : view.getUint16(body, le);
      const iface = interfaces[interfaceId];
      if (iface === undefined) {
        return fail({ kind: 'malformed', offset, message: `packet block at offset ${offset} names interface ${interfaceId}, which was not described` });
      }
      const ticks = (BigInt(view.getUint32(body + 4, le)) << 32n) | BigInt(view.getUint32(body + 8, le));
      const capturedLength = view.getUint32(body + 12, le);
      const originalLength = view.getUint32(body + 16, le);
      const start = body + 20;
      if (start + capturedLength > bodyEnd) {
        return fail({ kind: 'malformed', offset, message: `packet block at offset ${offset} claims more packet bytes than it holds` });
      }
      frames.push({
        number: frames.length + 1,
        time: pcapngTime(ticks, iface),
        linkType: iface.linkType,
        originalLength: Math.max(originalLength, capturedLength),
        data: file.subarray(start, start + capturedLength),
      });
    } else if (blockType === PCAPNG_SIMPLE_PACKET) {
      // A Simple Packet Block belongs to interface 0 and has no timestamp.
      const iface = interfaces[0];
      if (iface === undefined) {
        return fail({ kind: 'malformed', offset, message: `simple packet block at offset ${offset} before any interface description` });
      }
      if (bodyEnd - body < 4) return fail({ kind: 'malformed', offset, message: `simple packet block at offset ${offset} is too short` });
      const originalLength = view.getUint32(body, le);
      let capturedLength = Math.min(originalLength, bodyEnd - body - 4);
      if (iface.snapLength > 0) capturedLength = Math.min(capturedLength, iface.snapLength);
      frames.push({
        number: frames.length + 1,
        time: { seconds: 0, nanoseconds: 0 },
        linkType: iface.linkType,
        originalLength,
        data: file.subarray(body + 4, body + 4 + capturedLength),
      });
    }
    // Every other block type (name resolution, statistics, custom, ...) carries no frames.
    offset += totalLength;
  }
  return { format: 'pcapng', frames, error: null };
}

interface PcapngOption {
  code: number;
  start: number;
  length: number;
}

function* options(view: DataView, start: number, end: number, le: boolean): Generator<PcapngOption> {
  let offset = start;
  while (offset + 4 <= end) {
    const code = view.getUint16(offset, le);
    const length = view.getUint16(offset + 2, le);
    if (code === PCAPNG_OPTION_END || offset + 4 + length > end) return;
    yield { code, start: offset + 4, length };
    offset += 4 + ((length + 3) & ~3);
  }
}

function pcapngTime(ticks: bigint, iface: PcapngInterface): CaptureTime {
  let seconds: bigint;
  let nanoseconds: bigint;
  if (iface.binary) {
    const shift = BigInt(iface.exponent);
    seconds = ticks >> shift;
    nanoseconds = ((ticks & ((1n << shift) - 1n)) * 1_000_000_000n) >> shift;
  } else {
    const unit = 10n ** BigInt(iface.exponent);
    seconds = ticks / unit;
    const rest = ticks % unit;
    nanoseconds = iface.exponent <= 9 ? rest * 10n ** BigInt(9 - iface.exponent) : rest / 10n ** BigInt(iface.exponent - 9);
  }
  return { seconds: Number(seconds + iface.offsetSeconds), nanoseconds: Number(nanoseconds) };
}
