// The capture reader on pcaps written by the capture writer: transports, classification,
// bundling, reassembly of fragmented user messages, the PPID-0 empty DATA chunks RSPLIB sends.
import { describe, expect, it } from 'vitest';
import {
  DataChunkFlag,
  PcapWriter,
  readCaptureFrames,
  readRSerPoolCapture,
  type CapturedMessage,
  type PcapWriterOptions,
} from '../../src/capture/index.js';
import { PORT_ASAP, PORT_ENRP, PPID_ASAP, PPID_ENRP } from '../../src/wire/constants.js';

const B = DataChunkFlag.Beginning;
const E = DataChunkFlag.Ending;

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** A payload that looks like an ASAP message header of the given length (content is irrelevant here). */
function payload(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

function strip(m: CapturedMessage): Omit<CapturedMessage, 'payload' | 'time'> & { payload: number[] } {
  const { payload: p, time: _time, ...rest } = m;
  return { ...rest, payload: [...p] };
}

describe('capture writer → reader', () => {
  const variants: [string, PcapWriterOptions][] = [
    ['ethernet, little-endian, microseconds', {}],
    ['raw IP, big-endian, nanoseconds', { linkType: 'raw', bigEndian: true, nanoseconds: true }],
  ];
  for (const [name, options] of variants) {
    it(`finds every message with its addresses, ports, PPID, stream and TSN (${name})`, () => {
      const w = new PcapWriter({ ...options, startTime: { seconds: 1_800_000_000, nanoseconds: 123_456_789 } });
      const reg = payload(28, 1);
      const enrp = payload(40, 2);
      const announce = bytes(0x0a, 0x00, 0x00, 0x08, 0x11, 0x11, 0x11, 0x11);
      const v6 = payload(13, 3);
      w.addSctpData({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: PORT_ASAP, tsn: 100, stream: 3, ppid: PPID_ASAP, payload: reg });
      w.addSctpData({ src: '10.0.0.2', dst: '10.0.0.3', sport: PORT_ENRP, dport: PORT_ENRP, tsn: 7, ppid: PPID_ENRP, payload: enrp, encapsulation: 'ip' });
      w.addUdp({ src: '10.0.0.2', dst: '239.0.0.50', sport: 50000, dport: PORT_ASAP, payload: announce });
      w.addSctpData({ src: 'fd00::1', dst: 'fd00::2:0:0:3', sport: 3000, dport: 4000, tsn: 0xffffffff, ppid: PPID_ASAP, payload: v6 });
      const reading = readRSerPoolCapture(w.toBytes());
      expect(reading.error).toBeNull();
      expect(reading.format).toBe('pcap');
      expect(reading.messages.map(strip)).toEqual([
        { frame: 1, src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: PORT_ASAP, transport: 'sctp/udp', ppid: 11, protocol: 'asap', stream: 3, tsn: 100, fragments: 1, retransmission: false, badChecksum: false, payload: [...reg] },
        { frame: 2, src: '10.0.0.2', dst: '10.0.0.3', sport: PORT_ENRP, dport: PORT_ENRP, transport: 'sctp', ppid: 12, protocol: 'enrp', stream: 0, tsn: 7, fragments: 1, retransmission: false, badChecksum: false, payload: [...enrp] },
        { frame: 3, src: '10.0.0.2', dst: '239.0.0.50', sport: 50000, dport: PORT_ASAP, transport: 'udp', ppid: null, protocol: 'asap', stream: null, tsn: null, fragments: 1, retransmission: false, badChecksum: false, payload: [...announce] },
        { frame: 4, src: 'fd00::1', dst: 'fd00::2:0:0:3', sport: 3000, dport: 4000, transport: 'sctp/udp', ppid: 11, protocol: 'asap', stream: 0, tsn: 0xffffffff, fragments: 1, retransmission: false, badChecksum: false, payload: [...v6] },
      ]);
      // Frames follow 1 ms apart from the start time; microsecond files lose the nanoseconds.
      const ns = options.nanoseconds ? 123_456_789 : 123_456_000;
      expect(reading.messages[0]!.time).toEqual({ seconds: 1_800_000_000, nanoseconds: ns });
      expect(reading.messages[3]!.time).toEqual({ seconds: 1_800_000_000, nanoseconds: ns + 3_000_000 });
    });
  }

  it('classifies by PPID, or by well-known port when the PPID is 0, and skips empty DATA chunks', () => {
    const w = new PcapWriter();
    const data = payload(12, 4);
    const at = (sport: number, dport: number, ppid: number, p: Uint8Array, tsn: number): number =>
      w.addSctpData({ src: '10.1.0.1', dst: '10.1.0.2', sport, dport, tsn, ppid, payload: p });
    at(5000, PORT_ASAP, 0, data, 1); // PPID 0 towards 3863: ASAP
    at(PORT_ENRP, 6000, 0, data, 2); // PPID 0 from 9901: ENRP
    at(5000, 6000, 0, data, 3); // PPID 0, other ports: application data, not a message
    at(5000, 6000, 34, data, 4); // another protocol's PPID (CalcApp): not a message
    at(5000, PORT_ASAP, 34, data, 5); // another PPID on the ASAP port is still not ASAP
    at(5000, 6000, PPID_ENRP, data, 6); // PPID 12 on any port: ENRP
    at(5000, PORT_ASAP, 0, new Uint8Array(0), 7); // RSPLIB's empty PPID-0 DATA: not a message
    at(5000, 6000, 0, new Uint8Array(0), 8);
    const reading = readRSerPoolCapture(w.toBytes());
    expect(reading.messages.map((m) => [m.tsn, m.protocol, m.ppid])).toEqual([
      [1, 'asap', 0],
      [2, 'enrp', 0],
      [6, 'enrp', 12],
    ]);
    expect(reading.statistics.dataChunks).toBe(8);
    expect(reading.statistics.emptyDataChunks).toBe(2);
    expect(reading.statistics.otherUserMessages).toBe(3);
  });

  it('reports each of several bundled DATA chunks of one packet, with the same frame number', () => {
    const w = new PcapWriter();
    const a = payload(9, 5);
    const b = payload(16, 6);
    const c = payload(1, 7);
    w.addSctpPacket({
      src: '10.2.0.1',
      dst: '10.2.0.2',
      sport: 7000,
      dport: PORT_ASAP,
      chunks: [
        { tsn: 10, ppid: PPID_ASAP, payload: a },
        { tsn: 11, ppid: 0, payload: new Uint8Array(0) },
        { tsn: 12, ppid: PPID_ASAP, payload: b, stream: 1 },
        { tsn: 13, ppid: PPID_ASAP, payload: c },
      ],
    });
    const reading = readRSerPoolCapture(w.toBytes());
    expect(reading.messages.map((m) => [m.frame, m.tsn, m.stream, [...m.payload]])).toEqual([
      [1, 10, 0, [...a]],
      [1, 12, 1, [...b]],
      [1, 13, 0, [...c]],
    ]);
  });
});

describe('reassembly of fragmented user messages (RFC 4960 §6.9)', () => {
  const common = { src: '10.3.0.1', dst: '10.3.0.2', sport: 8000, dport: PORT_ASAP, ppid: PPID_ASAP, stream: 2 };

  it('joins B…E fragments by TSN, out of order, with a retransmitted fragment and another association in between', () => {
    const message = payload(1000, 8);
    const parts = [message.subarray(0, 300), message.subarray(300, 600), message.subarray(600, 900), message.subarray(900)];
    const w = new PcapWriter();
    w.addSctpData({ ...common, tsn: 50, flags: B, payload: parts[0]! });
    w.addSctpData({ ...common, tsn: 52, flags: 0, payload: parts[2]! });
    // The same ports and TSNs on another association (other verification tag): kept apart.
    w.addSctpData({ ...common, verificationTag: 0x0badcafe, tsn: 51, flags: B | E, payload: payload(20, 9) });
    w.addSctpData({ ...common, tsn: 52, flags: 0, payload: parts[2]! }); // retransmission
    w.addSctpData({ ...common, tsn: 53, flags: E, payload: parts[3]! });
    w.addSctpData({ ...common, tsn: 51, flags: 0, payload: parts[1]! });
    const reading = readRSerPoolCapture(w.toBytes());
    expect(reading.messages).toHaveLength(2);
    const [other, whole] = reading.messages;
    expect(other!.frame).toBe(3);
    expect(whole!.frame).toBe(6);
    expect(whole!.tsn).toBe(50);
    expect(whole!.fragments).toBe(4);
    expect(whole!.stream).toBe(2);
    expect([...whole!.payload]).toEqual([...message]);
    expect(reading.statistics.incompleteFragments).toBe(0);
  });

  it('joins fragments across the TSN wrap and leaves an incomplete message pending', () => {
    const message = payload(40, 10);
    const w = new PcapWriter();
    w.addSctpData({ ...common, tsn: 0xffffffff, flags: B, payload: message.subarray(0, 20) });
    w.addSctpData({ ...common, tsn: 0, flags: E, payload: message.subarray(20) });
    w.addSctpData({ ...common, tsn: 10, flags: B, payload: payload(20, 11) });
    w.addSctpData({ ...common, tsn: 12, flags: E, payload: payload(20, 12) }); // TSN 11 never seen
    const reading = readRSerPoolCapture(w.toBytes());
    expect(reading.messages.map((m) => [m.tsn, m.fragments, [...m.payload]])).toEqual([[0xffffffff, 2, [...message]]]);
    expect(reading.statistics.incompleteFragments).toBe(2);
  });

  it('does not join fragments of different streams', () => {
    const w = new PcapWriter();
    w.addSctpData({ ...common, tsn: 1, flags: B, payload: payload(8, 13) });
    w.addSctpData({ ...common, stream: 5, tsn: 2, flags: E, payload: payload(8, 14) });
    expect(readRSerPoolCapture(w.toBytes()).messages).toHaveLength(0);
  });
});

describe('retransmissions (RFC 4960 §6.2)', () => {
  it('reports a retransmitted DATA chunk once, unless asked to include retransmissions', () => {
    const w = new PcapWriter();
    const m = { src: '10.5.0.1', dst: '10.5.0.2', sport: 9000, dport: PORT_ASAP, ppid: PPID_ASAP, payload: payload(12, 15) };
    w.addSctpData({ ...m, tsn: 5 });
    w.addSctpData({ ...m, tsn: 5 }); // retransmitted
    w.addSctpData({ ...m, tsn: 5, verificationTag: 77 }); // a new association: not a retransmission
    w.addSctpData({ ...m, tsn: 6 });
    const once = readRSerPoolCapture(w.toBytes());
    expect(once.messages.map((x) => [x.frame, x.tsn, x.retransmission])).toEqual([
      [1, 5, false],
      [3, 5, false],
      [4, 6, false],
    ]);
    expect(once.statistics.retransmissions).toBe(1);
    const all = readRSerPoolCapture(w.toBytes(), { includeRetransmissions: true });
    expect(all.messages.map((x) => [x.frame, x.retransmission])).toEqual([
      [1, false],
      [2, true],
      [3, false],
      [4, false],
    ]);
  });
});

describe('damaged capture files', () => {
  function sample(): Uint8Array {
    const w = new PcapWriter();
    for (let i = 0; i < 3; i++) w.addSctpData({ src: '10.4.0.1', dst: '10.4.0.2', sport: 1, dport: PORT_ASAP, tsn: i, ppid: PPID_ASAP, payload: payload(20, i) });
    return w.toBytes();
  }

  it('keeps the messages before the cut and says the file was cut short', () => {
    const file = sample();
    const cut = file.subarray(0, file.length - 10);
    const reading = readRSerPoolCapture(cut);
    expect(reading.messages).toHaveLength(2);
    expect(reading.error?.kind).toBe('truncated');
    expect(reading.error?.message).toMatch(/cut short/);
    const inHeader = readRSerPoolCapture(file.subarray(0, 24 + 8));
    expect(inHeader.messages).toHaveLength(0);
    expect(inHeader.error?.kind).toBe('truncated');
  });

  it('rejects garbage, an empty file and a cut file header', () => {
    expect(readCaptureFrames(new Uint8Array(0)).error?.kind).toBe('not-a-capture');
    expect(readCaptureFrames(new TextEncoder().encode('hello, this is not a capture')).error?.kind).toBe('not-a-capture');
    expect(readCaptureFrames(sample().subarray(0, 10)).error?.kind).toBe('truncated');
  });

  it('flags an absurd frame length as a damaged file', () => {
    const file = sample().slice();
    new DataView(file.buffer).setUint32(24 + 8, 0x7fffffff, true);
    const reading = readCaptureFrames(file);
    expect(reading.error?.kind).toBe('malformed');
    expect(reading.frames).toHaveLength(0);
  });

  it('never throws on any truncation or on corrupted bytes', () => {
    const file = sample();
    for (let n = 0; n <= file.length; n++) expect(() => readRSerPoolCapture(file.subarray(0, n))).not.toThrow();
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 2000; round++) {
      const copy = file.slice();
      for (let k = 0; k < 4; k++) copy[24 + (random() % (copy.length - 24))] = random() & 0xff;
      expect(() => readRSerPoolCapture(copy)).not.toThrow();
    }
  });
});
