// Fuzzing live associations: a million mutated packets into both ends of an established
// association (and into a listening endpoint), with valid traffic interleaved, in virtual time.
//
// What an on-path attacker who knows the verification tag may legitimately do (ABORT, SHUTDOWN,
// DATA inside the receive window, an empty DATA chunk that the RFC answers with ABORT) is sent
// with a wrong tag instead: those must be discarded (RFC 9260 §8.5). Everything else keeps the
// right tag and a valid checksum, so it reaches the chunk handlers: DATA far ahead, far behind and
// across the 32-bit wrap, lying chunk lengths, every chunk type with each pattern of its upper two
// bits, chunks that do not belong to the state, random bytes. No exception may escape, the
// association must stay up, memory must stay bounded, and every valid message must arrive once,
// complete and in order.
//
// FUZZ_PACKETS (default 1,000,000) and FUZZ_SEED replay a run.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { SctpStackEndpoint } from '../../src/sctp/index.js';
import type { StackAssociation } from '../../src/sctp/association.js';
import { ChunkType } from '../../src/sctp/chunk.js';
import { writeSctpChecksum } from '../../src/sctp/crc32c.js';
import type { Association } from '../../src/transport/sctp-provider.js';
import { Network, type MemoryLowerLayer } from './wire.js';
import { seededRandom } from '../helpers/seeded-random.js';

const A = '10.0.0.1';
const B = '10.0.0.2';
const PORT = 5000;
const PACKETS = Number(process.env.FUZZ_PACKETS ?? 1_000_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
/** TSNs the receiver tracks ahead of its cumulative TSN (inbound.ts DEFAULT_TSN_SPAN): inside it, forged DATA would take a TSN of the real stream. */
const TSN_SPAN = 16384;


function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Chunk offsets of a packet, following Chunk Length as a receiver would; stops at a lying one. */
function chunks(p: Uint8Array): Array<{ type: number; offset: number; length: number }> {
  const out: Array<{ type: number; offset: number; length: number }> = [];
  for (let o = 12; o + 4 <= p.length; ) {
    const length = u16(p, o + 2);
    out.push({ type: p[o]!, offset: o, length });
    if (length < 4) break;
    o += (length + 3) & ~3;
  }
  return out;
}

/** One direction of the association: what its receiver has taken in order (for the forgery rules). */
interface Direction {
  /** The receiver's verification tag (what the sender puts in packets). */
  tag: number;
  /** Highest TSN the sender has sent: the receiver's cumulative TSN is at most this. */
  highestTsn: number;
}

/** True if a packet with the right tag would be an attack the RFC lets succeed (see the header). */
function hazardous(p: Uint8Array, d: Direction): boolean {
  for (const c of chunks(p)) {
    if (c.type === ChunkType.ABORT || c.type === ChunkType.SHUTDOWN) return true;
    if (c.type === ChunkType.DATA) {
      if (c.length <= 16) return true; // No User Data: the RFC answers with ABORT (§6.2)
      if (c.offset + 8 > p.length) return true;
      const ahead = (u32(p, c.offset + 4) - d.highestTsn) | 0;
      if (ahead > -20_000 && ahead <= TSN_SPAN + 64) return true; // may be inside the window: would take a real TSN
    }
  }
  return false;
}

class Fuzzer {
  readonly random: () => number;
  readonly templates: Uint8Array[] = [];
  counts = { flip: 0, length: 0, checksum: 0, data: 0, types: 0, junk: 0, wrongTag: 0 };

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** One hostile packet aimed at the receiver of direction `d`. */
  packet(d: Direction, sourcePort: number): Uint8Array {
    const kind = this.int(100);
    let p: Uint8Array;
    let checksum = true;
    if (kind < 30) {
      // Random bit and byte flips of a packet seen on the wire (its own tag).
      p = Uint8Array.from(this.templates[this.int(this.templates.length)]!);
      put32(p, 4, d.tag);
      const flips = 1 + this.int(4);
      for (let i = 0; i < flips; i++) {
        const at = 12 + this.int(Math.max(1, p.length - 12));
        if (at < p.length) p[at] = this.random() < 0.5 ? p[at]! ^ (1 << this.int(8)) : this.int(256);
      }
      this.counts.flip++;
    } else if (kind < 42) {
      // A lying Chunk Length.
      p = Uint8Array.from(this.templates[this.int(this.templates.length)]!);
      put32(p, 4, d.tag);
      const cs = chunks(p);
      const c = cs[this.int(cs.length)]!;
      const lie = [0, 1, 2, 3, 4, 5, c.length - 1, c.length + 1, c.length + 4, p.length, 0xffff, this.int(0x10000)][this.int(12)]!;
      p[c.offset + 2] = lie >>> 8;
      p[c.offset + 3] = lie;
      this.counts.length++;
    } else if (kind < 50) {
      // A bad checksum on an otherwise valid packet (§6.8: discard).
      p = Uint8Array.from(this.templates[this.int(this.templates.length)]!);
      put32(p, 4, d.tag);
      checksum = false;
      writeSctpChecksum(p);
      p[8 + this.int(4)]! ^= 1 << this.int(8);
      this.counts.checksum++;
    } else if (kind < 75) {
      // DATA far ahead, far behind, across the wrap, or on a stream that does not exist.
      const length = 1 + this.int(1200);
      p = new Uint8Array(12 + ((16 + length + 3) & ~3));
      put32(p, 4, d.tag);
      const o = 12;
      p[o] = ChunkType.DATA;
      p[o + 1] = this.int(16); // U, B, E, I in every combination
      p[o + 2] = (16 + length) >>> 8;
      p[o + 3] = 16 + length;
      const offsets = [TSN_SPAN + 65, 100_000, 1 << 20, 0x7fffffff, 0x80000000, 0x80000001, 0xfffff000, -100_000 >>> 0, -30_000 >>> 0, -0x7fffffff >>> 0, -(1 << 30) >>> 0];
      const off = this.random() < 0.8 ? offsets[this.int(offsets.length)]! : (TSN_SPAN + 65 + this.int(0x7fff0000)) >>> 0;
      put32(p, o + 4, (d.highestTsn + off) >>> 0);
      p[o + 8] = this.int(256);
      p[o + 9] = this.int(256); // stream id: most do not exist
      p[o + 10] = this.int(256);
      p[o + 11] = this.int(256);
      put32(p, o + 12, this.int(0x100000000));
      for (let i = o + 16; i < p.length; i++) p[i] = this.int(256);
      this.counts.data++;
    } else if (kind < 90) {
      // Every chunk type in turn, so each pattern of the upper two bits (§3.2) meets every state.
      const type = this.counts.types % 256;
      const body = this.int(64);
      const bundle = this.random() < 0.3 ? 8 : 0; // sometimes a HEARTBEAT after it: processed or not, per the bits
      p = new Uint8Array(12 + ((4 + body + 3) & ~3) + bundle);
      put32(p, 4, type === ChunkType.INIT && this.random() < 0.5 ? 0 : d.tag);
      p[12] = type;
      p[13] = this.int(256);
      p[14] = (4 + body) >>> 8;
      p[15] = 4 + body;
      for (let i = 16; i < 16 + body; i++) p[i] = this.int(256);
      if (bundle) {
        const o = p.length - 8;
        p[o] = ChunkType.HEARTBEAT;
        p[o + 3] = 8;
        p[o + 5] = 1; // Heartbeat Info parameter, empty
        p[o + 7] = 4;
      }
      this.counts.types++;
    } else {
      // Random bytes behind a valid common header.
      p = new Uint8Array(16 + this.int(200));
      for (let i = 12; i < p.length; i++) p[i] = this.int(256);
      put32(p, 4, d.tag);
      this.counts.junk++;
    }
    p[0] = sourcePort >>> 8;
    p[1] = sourcePort;
    p[2] = PORT >>> 8;
    p[3] = PORT;
    if (checksum && hazardous(p, d)) {
      put32(p, 4, (d.tag ^ 0x5a5a5a5a) >>> 0); // the attack an on-path tag-knower could make: with a wrong tag it must fail
      this.counts.wrongTag++;
    }
    if (checksum) writeSctpChecksum(p);
    return p;
  }
}

/** The highest DATA TSN in a packet, or undefined. */
function highestDataTsn(p: Uint8Array): number | undefined {
  let highest: number | undefined;
  for (const c of chunks(p)) {
    if (c.type !== ChunkType.DATA || c.offset + 8 > p.length) continue;
    const tsn = u32(p, c.offset + 4);
    if (highest === undefined || ((tsn - highest) | 0) > 0) highest = tsn;
  }
  return highest;
}

/** Messages one side sends: a counter and a length that varies (fragmented above ~1,200 bytes). */
function message(i: number, random: () => number): Uint8Array {
  const length = 8 + Math.floor(random() * (random() < 0.1 ? 5000 : 300));
  const m = new Uint8Array(length);
  put32(m, 0, i);
  put32(m, 4, length);
  for (let k = 8; k < length; k++) m[k] = (i + k) & 0xff;
  return m;
}

function checkMessage(m: Uint8Array): number {
  const i = u32(m, 0);
  if (u32(m, 4) !== m.length) return -1;
  for (let k = 8; k < m.length; k++) if (m[k] !== ((i + k) & 0xff)) return -1;
  return i;
}

describe(`fuzzing live associations (${PACKETS} packets, seed ${SEED})`, () => {
  it('no exception escapes, the association stays up, memory stays bounded, valid messages arrive complete and in order', () => {
    const net = new Network(SEED);
    const ha = net.host([A]);
    const hb = net.host([B]);
    // Only what matters is kept: the log itself must not be what grows the heap.
    const internal: string[] = [];
    let logged = 0;
    const log = (m: string): void => {
      logged++;
      if (/exception|threw|internal/i.test(m) && internal.length < 10) internal.push(m);
    };
    const options = { clock: net.clock, log, rtoInitial: 200, rtoMin: 100, rtoMax: 1000, hbInterval: 1000 };
    const ea = SctpStackEndpoint.open(ha, { port: PORT, ...options });
    const eb = SctpStackEndpoint.open(hb, { port: PORT, ...options });
    let server: Association | undefined;
    eb.on('association', (a) => (server = a));
    const client = ea.associate({ address: B, port: PORT });
    const received = { atA: [] as number[], atB: [] as number[], corrupt: 0 };
    const downs: string[] = [];
    client.on('message', (m) => received.atA.push(checkMessage(m)));
    client.on('down', (r) => downs.push(`client ${r}`));
    net.run(100);
    expect(client.state).toBe('up');
    server!.on('message', (m) => received.atB.push(checkMessage(m)));
    server!.on('down', (r) => downs.push(`server ${r}`));

    const fuzzer = new Fuzzer(SEED);
    const traffic = seededRandom(SEED + 1);
    // Templates: the handshake and a first exchange of valid traffic, as seen on the wire.
    let sentToB = 0;
    let sentToA = 0;
    for (; sentToB < 20; sentToB++) client.send(message(sentToB, traffic), 1, sentToB % 4);
    for (; sentToA < 20; sentToA++) server!.send(message(sentToA, traffic), 1, sentToA % 4);
    net.run(500);
    for (const p of net.sent) fuzzer.templates.push(p.bytes);

    const toB: Direction = { tag: (client as StackAssociation).tags.peer, highestTsn: 0 };
    const toA: Direction = { tag: (server as StackAssociation).tags.peer, highestTsn: 0 };
    let watched = net.sent.length;
    const track = (): void => {
      for (; watched < net.sent.length; watched++) {
        const p = net.sent[watched]!;
        const tsn = highestDataTsn(p.bytes);
        if (tsn === undefined) continue;
        const d = p.to === B ? toB : toA;
        if (d.highestTsn === 0 || ((tsn - d.highestTsn) | 0) > 0) d.highestTsn = tsn;
      }
      net.sent.length = 0; // the wire keeps no history during the run (memory is what we measure)
      watched = 0;
    };
    track();
    for (const p of fuzzer.templates) {
      const tsn = highestDataTsn(p);
      if (tsn === undefined) continue;
      const d = u32(p, 4) === toB.tag ? toB : toA;
      if (d.highestTsn === 0 || ((tsn - d.highestTsn) | 0) > 0) d.highestTsn = tsn;
    }

    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    let thrown = 0;
    let maxBuffered = 0;
    const inject = (host: MemoryLowerLayer, packet: Uint8Array, from: string, udpPort: number): void => {
      try {
        host.deliver(packet, { address: from, udpPort }, host.addresses[0]!);
      } catch {
        thrown++;
      }
    };
    for (let n = 0; n < PACKETS; n++) {
      if (n % 2 === 0) inject(hb, fuzzer.packet(toB, PORT), A, ha.udpPort);
      else inject(ha, fuzzer.packet(toA, PORT), B, hb.udpPort);
      if (n % 100 === 99) {
        // Valid traffic both ways, and time moving on (timers, SACKs, retransmissions).
        if (client.bufferedAmount < 256 * 1024) client.send(message(sentToB++, traffic), 1, sentToB % 4);
        if (server!.bufferedAmount < 256 * 1024) server!.send(message(sentToA++, traffic), 1, sentToA % 4);
        net.run(1);
        track();
        maxBuffered = Math.max(maxBuffered, client.bufferedAmount, server!.bufferedAmount);
      }
      if (n % 100_000 === 99_999) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    net.run(5000);
    track();
    gc();
    const heapAfter = process.memoryUsage().heapUsed;
    console.log(
      `fuzz: ${PACKETS} packets ${JSON.stringify(fuzzer.counts)}; messages ${sentToB} to B, ${sentToA} to A; log lines ${logged}; heap ${(heapBefore / 2 ** 20).toFixed(1)} -> peak ${(heapPeak / 2 ** 20).toFixed(1)} -> ${(heapAfter / 2 ** 20).toFixed(1)} MiB; stats A ${JSON.stringify(ea.stats)} B ${JSON.stringify(eb.stats)}`,
    );

    expect(thrown).toBe(0);
    expect(internal).toEqual([]);
    expect(eb.stats.internalErrors + ea.stats.internalErrors).toBe(0);
    expect(downs).toEqual([]);
    expect(client.state).toBe('up');
    expect(server!.state).toBe('up');
    // Every valid message once, complete, in order per stream (ordered streams 0-3 interleave, so compare sorted per stream).
    for (const [got, sent] of [
      [received.atB, sentToB],
      [received.atA, sentToA],
    ] as const) {
      expect(got.filter((i) => i < 0)).toEqual([]); // none corrupt
      expect(got.length).toBe(sent);
      for (let s = 0; s < 4; s++) {
        const onStream = got.filter((i) => i % 4 === s);
        expect(onStream).toEqual([...onStream].sort((x, y) => x - y));
      }
      expect(new Set(got).size).toBe(sent);
    }
    expect(client.bufferedAmount).toBe(0);
    expect(server!.bufferedAmount).toBe(0);
    expect(maxBuffered).toBeLessThanOrEqual(256 * 1024 + 8 * 1024);
    // A million packets leave nothing behind: the heap is within a few MiB of where it started.
    expect(heapAfter - heapBefore).toBeLessThan(8 * 2 ** 20);
  }, 300_000);

  it('a listening endpoint fed forged INITs and COOKIE ECHOs from many addresses keeps no state', () => {
    const net = new Network(SEED + 7);
    const hb = net.host([B]);
    const eb = SctpStackEndpoint.open(hb, { port: PORT, clock: net.clock });
    const fuzzer = new Fuzzer(SEED + 8);
    // Templates: a real handshake from a client, so INIT and COOKIE ECHO shapes are realistic.
    const ha = net.host([A]);
    const ea = SctpStackEndpoint.open(ha, { port: PORT, clock: net.clock });
    ea.associate({ address: B, port: PORT });
    net.run(100);
    for (const p of net.sent) if (p.to === B) fuzzer.templates.push(p.bytes);
    const established = eb.associations.length;
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const n = Math.min(PACKETS, 200_000);
    for (let i = 0; i < n; i++) {
      const from = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const p = fuzzer.packet({ tag: fuzzer.random() < 0.5 ? 0 : fuzzer.int(0x100000000), highestTsn: fuzzer.int(0x100000000) }, 1024 + (i % 60000));
      hb.deliver(p, { address: from, udpPort: 9899 }, B);
      if (i % 1000 === 999) net.run(1);
    }
    net.run(1000);
    net.sent.length = 0;
    gc();
    expect(eb.associations.length).toBe(established);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(8 * 2 ** 20);
  }, 120_000);
});
