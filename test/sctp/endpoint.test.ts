// The endpoint: out-of-the-blue packets (RFC 9260 §8.4), verification tags (§8.5.1), unknown
// chunk types by their upper two bits (§3.2), lying lengths and bad checksums.
import { describe, expect, it } from 'vitest';
import { SctpStackEndpoint } from '../../src/sctp/index.js';
import type { StackAssociation } from '../../src/sctp/association.js';
import { ChunkFlag, ChunkType, ErrorCauseCode, decodeErrorCauses } from '../../src/sctp/chunk.js';
import { PacketReader, PacketWriter } from '../../src/sctp/packet.js';
import { writeSctpChecksum } from '../../src/sctp/crc32c.js';
import { Network } from './wire.js';

const A = '10.0.0.1';
const B = '10.0.0.2';
const X = '10.9.9.9';

function setup() {
  const net = new Network();
  const log: string[] = [];
  const eb = SctpStackEndpoint.open(net.host([B]), { port: 5000, clock: net.clock, log: (m) => log.push(m) });
  const probe = net.host([X]);
  const received: Uint8Array[] = [];
  probe.bind(7000, (p) => received.push(p));
  const w = new PacketWriter();
  const send = (vtag: number, build: (w: PacketWriter) => void, corrupt?: (p: Uint8Array) => void) => {
    w.begin(7000, 5000, vtag, 1200);
    build(w);
    const p = w.finish();
    corrupt?.(p);
    probe.send(p, { address: B });
    net.run(10);
  };
  return { net, eb, send, received, log };
}

function parse(p: Uint8Array) {
  const r = new PacketReader();
  expect(r.read(p)).toBe(true);
  return { vtag: r.verificationTag, types: Array.from(r.types.subarray(0, r.count)), flags: Array.from(r.flags.subarray(0, r.count)), r };
}

describe('out-of-the-blue packets (§8.4)', () => {
  it('an OOTB ABORT is discarded silently', () => {
    const { send, received } = setup();
    send(1234, (w) => w.addEmpty(ChunkType.ABORT));
    expect(received).toHaveLength(0);
  });
  it('an OOTB SHUTDOWN ACK gets SHUTDOWN COMPLETE with the T bit and the tag reflected', () => {
    const { send, received } = setup();
    send(0xabcdef, (w) => w.addEmpty(ChunkType.SHUTDOWN_ACK));
    expect(received).toHaveLength(1);
    const p = parse(received[0]!);
    expect(p.types).toEqual([ChunkType.SHUTDOWN_COMPLETE]);
    expect(p.flags[0]! & ChunkFlag.T).toBe(ChunkFlag.T);
    expect(p.vtag).toBe(0xabcdef);
  });
  it('OOTB SHUTDOWN COMPLETE and COOKIE ACK are discarded', () => {
    const { send, received } = setup();
    send(5, (w) => w.addEmpty(ChunkType.SHUTDOWN_COMPLETE));
    send(5, (w) => w.addEmpty(ChunkType.COOKIE_ACK));
    expect(received).toHaveLength(0);
  });
  it('other OOTB packets (a SACK, DATA) get ABORT with the T bit and the tag reflected', () => {
    const { send, received } = setup();
    send(77, (w) => w.addSack({ cumulativeTsnAck: 1, advertisedReceiverWindow: 1000, gapAckBlocks: [], duplicateTsns: [] }));
    expect(received).toHaveLength(1);
    const p = parse(received[0]!);
    expect(p.types).toEqual([ChunkType.ABORT]);
    expect(p.flags[0]).toBe(ChunkFlag.T);
    expect(p.vtag).toBe(77);
  });
  it('an INIT with a non-zero tag or bundled with another chunk is discarded (§8.5.1 A)', () => {
    const { send, received } = setup();
    send(9, (w) => w.addInit(ChunkType.INIT, 1, 100000, 1, 1, 1, []));
    send(0, (w) => {
      w.addInit(ChunkType.INIT, 1, 100000, 1, 1, 1, []);
      w.addEmpty(ChunkType.COOKIE_ACK);
    });
    expect(received).toHaveLength(0);
  });
  it('an INIT with Initiate Tag 0 or zero streams is not answered with an INIT ACK', () => {
    const { send, received } = setup();
    send(0, (w) => w.addInit(ChunkType.INIT, 0, 100000, 1, 1, 1, []));
    send(0, (w) => w.addInit(ChunkType.INIT, 5, 100000, 0, 1, 1, []));
    expect(received.map((p) => parse(p).types[0])).toEqual([ChunkType.ABORT]);
    expect(parse(received[0]!).vtag).toBe(5);
  });
  it('an INIT with unknown parameters: reported in the INIT ACK per the action bits', () => {
    const { send, received } = setup();
    const param = (type: number) => Uint8Array.from([type >> 8, type & 0xff, 0, 8, 1, 2, 3, 4]);
    send(0, (w) => w.addInit(ChunkType.INIT, 42, 100000, 4, 4, 1, [param(0x4001), param(0xc002), param(0x8003), param(0x0004), param(0xc005)]));
    expect(received).toHaveLength(1);
    const p = parse(received[0]!);
    expect(p.types).toEqual([ChunkType.INIT_ACK]);
    expect(p.vtag).toBe(42);
    // 0x4001 (stop, report) ends parameter processing: only it is reported.
    const chunk = p.r.chunk(0);
    const reported: number[] = [];
    for (let o = 20; o + 4 <= chunk.length; ) {
      const type = (chunk[o]! << 8) | chunk[o + 1]!;
      const len = (chunk[o + 2]! << 8) | chunk[o + 3]!;
      if (type === 8) reported.push((chunk[o + 4]! << 8) | chunk[o + 5]!);
      o += (len + 3) & ~3;
    }
    expect(reported).toEqual([0x4001]);
    received.length = 0;
    send(0, (w) => w.addInit(ChunkType.INIT, 43, 100000, 4, 4, 1, [param(0x8003), param(0xc002), param(0x0004), param(0xc005)]));
    const q = parse(received[0]!).r.chunk(0);
    const reported2: number[] = [];
    for (let o = 20; o + 4 <= q.length; ) {
      const type = (q[o]! << 8) | q[o + 1]!;
      const len = (q[o + 2]! << 8) | q[o + 3]!;
      if (type === 8) reported2.push((q[o + 4]! << 8) | q[o + 5]!);
      o += (len + 3) & ~3;
    }
    expect(reported2).toEqual([0xc002]); // 0x8003 skipped silently, 0x0004 stops
  });
  it('an INIT with a Host Name Address is answered with ABORT "Unresolvable Address"', () => {
    const { send, received } = setup();
    send(0, (w) => w.addInit(ChunkType.INIT, 42, 100000, 4, 4, 1, [Uint8Array.from([0, 11, 0, 8, 0x61, 0x62, 0x63, 0])]));
    const p = parse(received[0]!);
    expect(p.types).toEqual([ChunkType.ABORT]);
    expect(decodeErrorCauses(p.r.bytes, p.r.offsets[0]!, p.r.lengths[0]!)![0]!.code).toBe(ErrorCauseCode.UNRESOLVABLE_ADDRESS);
  });
});

describe('hostile packets', () => {
  it('bad checksums and lying lengths are dropped without an answer', () => {
    const { net, send, received, eb } = setup();
    send(77, (w) => w.addEmpty(ChunkType.SHUTDOWN_ACK), (p) => (p[p.length - 1]! ^= 1));
    expect(received).toHaveLength(0);
    const w = new PacketWriter();
    for (const length of [0, 3, 2000]) {
      w.begin(7000, 5000, 77, 1200);
      w.addEmpty(ChunkType.SHUTDOWN_ACK);
      const p = w.finish();
      p[14] = length >> 8;
      p[15] = length & 0xff;
      writeSctpChecksum(p); // only the length lies
      net.hosts.get(X)!.send(p, { address: B });
      net.run(10);
    }
    expect(received).toHaveLength(0);
    expect(eb.stats.packetsDropped).toBe(4);
  });

  it('unknown chunk types by the upper two bits: stop/skip, report or not', () => {
    const net = new Network();
    const ha = net.host([A]);
    const hb = net.host([B]);
    const ea = SctpStackEndpoint.open(ha, { port: 5000, clock: net.clock });
    const eb = SctpStackEndpoint.open(hb, { port: 5000, clock: net.clock });
    const messages: string[] = [];
    eb.on('association', (s) => s.on('message', (p) => messages.push(Buffer.from(p).toString())));
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    net.run(50);
    // a HEARTBEAT after the unknown chunk tells whether processing went on
    const hb4 = Uint8Array.from([0, 1, 0, 8, 9, 9, 9, 9]);
    const cases: Array<[type: number, goesOn: boolean, reported: boolean]> = [
      [0x3e, false, false],
      [0x7e, false, true],
      [0xbe, true, false],
      [0xfe, true, true],
    ];
    const w = new PacketWriter();
    for (const [type, goesOn, reported] of cases) {
      const before = net.sent.length;
      w.begin(5000, 5000, a.tags.peer, 1200);
      w.addChunk(type, 0, Uint8Array.from([1, 2, 3]));
      w.addChunk(ChunkType.HEARTBEAT, 0, hb4);
      ha.send(w.finish(), { address: B });
      net.run(20);
      const answers = net.sent.slice(before).filter((p) => p.from === B).map((p) => parse(p.bytes).types).flat();
      expect(answers.includes(ChunkType.HEARTBEAT_ACK)).toBe(goesOn);
      expect(answers.includes(ChunkType.ERROR)).toBe(reported);
    }
    a.send(Buffer.from('ok'), 0);
    net.run(100);
    expect(messages).toEqual(['ok']);
  });

  it('a packet with a wrong verification tag is discarded; ABORT with T bit needs the peer tag', () => {
    const net = new Network();
    const ha = net.host([A]);
    const ea = SctpStackEndpoint.open(ha, { port: 5000, clock: net.clock });
    const eb = SctpStackEndpoint.open(net.host([B]), { port: 5000, clock: net.clock });
    const downs: string[] = [];
    eb.on('association', (s) => s.on('down', (r) => downs.push(r)));
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    net.run(50);
    const w = new PacketWriter();
    w.begin(5000, 5000, a.tags.peer ^ 1, 1200);
    w.addEmpty(ChunkType.ABORT);
    ha.send(w.finish(), { address: B });
    w.begin(5000, 5000, a.tags.peer, 1200);
    w.addEmpty(ChunkType.ABORT, ChunkFlag.T); // T bit with the receiver's own tag: not valid
    ha.send(w.finish(), { address: B });
    net.run(20);
    expect(downs).toEqual([]);
    w.begin(5000, 5000, a.tags.local, 1200);
    w.addEmpty(ChunkType.ABORT, ChunkFlag.T); // T bit, reflected tag (the sender's own)
    ha.send(w.finish(), { address: B });
    net.run(20);
    expect(downs).toEqual(['abort']);
  });

  it('openPort() gives another SCTP port on the same lower layer; close() unbinds', async () => {
    const net = new Network();
    const hb = net.host([B]);
    const eb = SctpStackEndpoint.open(hb, { port: 5000, clock: net.clock });
    const other = await eb.openPort(5001);
    expect(other.port).toBe(5001);
    expect([...hb.receivers.keys()].sort()).toEqual([5000, 5001]);
    await other.close();
    expect([...hb.receivers.keys()]).toEqual([5000]);
    expect(typeof eb.sendDatagram).toBe('function');
  });
});

