// The behaviours test/transport/sctp-patch.test.ts checked in the patched `sctp` package,
// ported to our stack (src/sctp/): over the in-memory wire (test/sctp/wire.ts) in virtual
// time, or on the codec directly. Each old test, by its name there, and where it lives now:
//
// | old test (sctp-patch.test.ts)                                         | now                                                        |
// |-----------------------------------------------------------------------|------------------------------------------------------------|
// | (1) flushes once per loop turn: 200 round trips                       | here: '(1, 16) request/response ...'                       |
// | (2) writes one at a time share packets                                | here: '(2) messages sent in one turn share packets'        |
// | (3) after a T3 expiry retransmits marked chunks once each             | here: '(3) ...'; unit: outbound.test 'T3-rtx: backs off...' |
// | (3b, 10) fast retransmit of lost first messages, SSN starts at 0      | here: '(3b, 10) ...'; unit: outbound.test 'fast retransmit on the 3rd miss indication ...' |
// | (4) grows cwnd in slow start when the window is used                  | here: '(4) ...'; unit: outbound.test 'sends at most cwnd (rule B) and grows cwnd in slow start ...' |
// | (5) retransmits a lost COOKIE ECHO on T1-cookie expiry                | association.test 'INIT retransmission with loss, and a late-listening peer' (the first COOKIE ECHO is lost) |
// | (5b) failure after Max.Init.Retransmits                               | association.test 'connect() resolves on up and rejects when the peer never answers (T1-init, Max.Init.Retransmits)' |
// | (6) destroying one association leaves the others in the endpoint list | here: '(6) ...'                                            |
// | (9) data written before COMMUNICATION UP is delivered                 | association.test 'four-way handshake, data both ways, stream negotiation' ('early', sent in COOKIE-WAIT); here: '(9) ...' with the first INIT lost |
// | SACKs every packet without the 180 ms delay (Nagle peer)              | here: '(10) ...' (sackFrequency 1; the default is RFC 9260 §6.2's delayed SACK) |
// | detects a dead peer by unanswered HEARTBEATs                          | association.test 'a peer that vanishes is detected by heartbeats: down with timeout' |
// | SHUTDOWN waits for queued data                                        | association.test 'graceful shutdown waits for data in flight'; here: fragmented messages |
// | DATA fast path: same bytes, same decoded chunk                        | here: 'DATA chunk codec property'; chunk.test 'DATA round trip ...' |
// | SACK fast path with gap blocks and duplicate TSNs                     | here: 'SACK chunk codec property'; chunk.test 'SACK round trip ...' |
// | malformed DATA and SACK lengths rejected                              | here: 'malformed DATA and SACK lengths'; chunk.test, endpoint.test 'bad checksums and lying lengths ...' |
// | request/response: one packet each way, SACK ahead of DATA             | here: '(1, 16) request/response ...'                       |
// | no delayed-SACK timer armed per message when SACKed at once           | here: '(17) ...'                                           |
// | delayed SACK (sack_freq 2): a lone DATA packet SACKed when the timer expires | here: '(18) ...'                                    |
// | reports a duplicated DATA chunk in the next SACK, once                | here: '(19) ...'; unit: inbound.test 'reports gaps ... and duplicates' |
// | acknowledges across the 32-bit TSN wrap, gap blocks included          | outbound.test 'Outbound to Inbound through a lossy channel' (initial TSNs 0xfffffff0, loss: gap blocks across the wrap, memory back to 0); inbound.test 'acknowledges in-sequence DATA across the TSN wrap ...' |
// | debug output appears when a namespace is enabled at run time          | not applicable: the stack has no `debug` tracing; what it catches goes to the per-endpoint `log` option (association.test 'exceptions thrown by a broken listener ... logged') |
// | CRC32c as RFC 9260 Appendix A (RFC 3720 B.4 vector)                   | crc32c.test 'check values' (0x8a9136aa), 'matches the bytewise reference for every length and offset' |
// | packet: header, chunks, checksum; decoding verifies, input untouched  | here: 'packet codec property'                              |
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkType, DATA_CHUNK_HEADER, decodeData, decodeSack } from '../../src/sctp/chunk.js';
import type { DataChunk, SackInfo } from '../../src/sctp/data-chunk.js';
import { SctpStackEndpoint, type SctpStackOptions } from '../../src/sctp/index.js';
import type { StackAssociation } from '../../src/sctp/association.js';
import { PacketReader, PacketWriter } from '../../src/sctp/packet.js';
import type { Association } from '../../src/transport/sctp-provider.js';
import { Network, type WirePacket } from './wire.js';

const A = '10.0.0.1';
const B = '10.0.0.2';

/** Chunk types, DATA TSNs and the SACK of one packet on the wire. */
function inspect(bytes: Uint8Array): { types: number[]; tsns: number[]; sack: SackInfo | undefined } {
  const r = new PacketReader();
  const types: number[] = [];
  const tsns: number[] = [];
  let sack: SackInfo | undefined;
  if (!r.read(bytes)) return { types, tsns, sack };
  for (let i = 0; i < r.count; i++) {
    types.push(r.types[i]!);
    if (r.types[i] === ChunkType.DATA) tsns.push(decodeData(r.bytes, r.offsets[i]!, r.lengths[i]!)!.tsn);
    if (r.types[i] === ChunkType.SACK) sack = decodeSack(r.bytes, r.offsets[i]!, r.lengths[i]!);
  }
  return { types, tsns, sack };
}

/** Two endpoints on port 5000 of A and B, and the association A -> B up. */
function pair(options: SctpStackOptions = {}, serverOptions: SctpStackOptions = {}) {
  const net = new Network();
  const common = { clock: net.clock, ...options };
  const ea = SctpStackEndpoint.open(net.host([A]), { port: 5000, ...common });
  const eb = SctpStackEndpoint.open(net.host([B]), { port: 5000, ...common, ...serverOptions });
  const servers: Association[] = [];
  eb.on('association', (s) => servers.push(s));
  const client = ea.associate({ address: B, port: 5000 }) as StackAssociation;
  expect(net.until(() => client.state === 'up' && servers.length === 1, 10_000)).toBe(true);
  return { net, ea, eb, client, server: servers[0]!, servers };
}

function collect(a: Association): Uint8Array[] {
  const got: Uint8Array[] = [];
  a.on('message', (m) => got.push(Uint8Array.from(m)));
  return got;
}

/** How often each TSN left A. */
function sendsPerTsn(sent: readonly WirePacket[]): Map<number, number> {
  const sends = new Map<number, number>();
  for (const p of sent) if (p.from === A) for (const t of inspect(p.bytes).tsns) sends.set(t, (sends.get(t) ?? 0) + 1);
  return sends;
}

describe('ported from the package patch tests: flushing and bundling', () => {
  it('(1, 16) request/response: one packet each way, the SACK ahead of the DATA acknowledges the request; one flush per turn, no timer in the way', () => {
    const { net, client, server } = pair();
    server.on('message', (m, ppid) => server.send(Uint8Array.from(m), ppid));
    let replies = 0;
    client.on('message', () => replies++);
    const from = net.sent.length;
    const start = net.clock.now();
    for (let i = 0; i < 200; i++) {
      client.send(new Uint8Array(100).fill(i), 11);
      expect(net.until(() => replies === i + 1, 1000)).toBe(true);
    }
    // Latency 1 ms each way: 2 ms per round trip, nothing waits for a timer tick (the package
    // armed setTimeout per chunk: >= 1 ms more per packet).
    expect(net.clock.now() - start).toBeLessThanOrEqual(200 * 2 + 2);
    const packets = net.sent.slice(from);
    expect(packets).toHaveLength(400);
    // Steady state (after the first request, which has nothing to acknowledge): [SACK, DATA].
    for (let i = 1; i < packets.length; i++) {
      const p = inspect(packets[i]!.bytes);
      expect(p.types).toEqual([ChunkType.SACK, ChunkType.DATA]);
      const previous = packets[i - 1]!;
      expect(previous.from).not.toBe(packets[i]!.from);
      expect(p.sack!.cumulativeTsnAck).toBe(inspect(previous.bytes).tsns.at(-1));
    }
  });

  it('(17) the answering side of request/response arms no delayed-SACK timer: the SACK rides with the answer', () => {
    const sackDelay = 177; // the server's, a value no other timer uses
    const { net, client, server } = pair({}, { sackDelay });
    server.on('message', (m, ppid) => server.send(Uint8Array.from(m), ppid));
    let replies = 0;
    client.on('message', () => replies++);
    net.run(1000); // the handshake's timers settle
    const setTimer = net.clock.setTimer.bind(net.clock);
    let armed = 0;
    net.clock.setTimer = (ms, callback) => {
      if (ms === sackDelay) armed++;
      return setTimer(ms, callback);
    };
    for (let i = 0; i < 20; i++) {
      client.send(new Uint8Array(10).fill(i), 11);
      expect(net.until(() => replies === i + 1, 1000)).toBe(true);
    }
    // (The client, whose next request comes in a later turn, arms its own for each reply and
    // clears it when the request carries the SACK.)
    expect(armed).toBe(0);
  });

  it('(2) messages sent in one turn share packets (and send() accepts each at once)', () => {
    const { net, client, server } = pair();
    const got = collect(server);
    const from = net.sent.length;
    for (let i = 0; i < 40; i++) expect(client.send(new Uint8Array(100).fill(i), 11)).toBe(true);
    net.run(100);
    expect(got.map((m) => m[0])).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const dataPackets = net.sent.slice(from).filter((p) => p.from === A && inspect(p.bytes).types.includes(ChunkType.DATA));
    // 40 x (16 + 100) bytes in 1280-byte packets: 4 packets, 5 at most.
    expect(dataPackets.length).toBeLessThanOrEqual(5);
  });
});

describe('ported from the package patch tests: retransmission and congestion control', () => {
  it('(3) after a T3 expiry each lost chunk is retransmitted, once each, and delivered in order', () => {
    const { net, client, server } = pair({ rtoInitial: 300, rtoMin: 100, rtoMax: 1000 });
    const got = collect(server);
    // The first transmission of every DATA chunk is lost and nothing else is sent: T3 expires,
    // one chunk goes out (§6.3.3 E3), the others are marked and go out after the next SACK.
    const seen = new Set<number>();
    const from = net.sent.length;
    net.filter = (p) => {
      if (p.from !== A) return false;
      const { tsns } = inspect(p.bytes);
      if (tsns.length === 0 || tsns.some((t) => seen.has(t))) return false;
      for (const t of tsns) seen.add(t);
      return true;
    };
    for (let i = 0; i < 3; i++) client.send(new Uint8Array(1000).fill(i), 11);
    net.run(3000);
    expect(got.map((m) => [m.length, m[0]])).toEqual([[1000, 0], [1000, 1], [1000, 2]]);
    const sends = sendsPerTsn(net.sent.slice(from));
    expect(sends.size).toBe(3);
    for (const count of sends.values()) expect(count).toBe(2);
  });

  it('(3b, 10) fast retransmit recovers the lost first messages of a stream (SSN 0 first), delivered in order before T3 could', () => {
    const { net, client, server } = pair();
    const got = collect(server);
    const rto = client.currentPath!.rto;
    expect(rto).toBeGreaterThanOrEqual(1000);
    const from = net.sent.length;
    let dropping = true;
    net.filter = (p) => dropping && p.from === A && inspect(p.bytes).types.includes(ChunkType.DATA);
    for (let i = 0; i < 3; i++) client.send(new Uint8Array(1000).fill(i), 11);
    net.run(1);
    const lost = [...sendsPerTsn(net.sent.slice(from)).keys()];
    expect(lost).toHaveLength(3);
    dropping = false;
    const start = net.clock.now();
    for (let i = 0; i < 40; i++) {
      client.send(new Uint8Array(50).fill(i), 11);
      net.run(10);
    }
    expect(net.until(() => got.length === 43, 2000)).toBe(true);
    // Recovered by miss indications (§7.2.4), well before T3 (RTO) would have expired.
    expect(net.clock.now() - start).toBeLessThan(rto);
    expect(got.slice(0, 3).map((m) => m.length)).toEqual([1000, 1000, 1000]);
    expect(got.slice(3).map((m) => [m.length, m[0]])).toEqual(Array.from({ length: 40 }, (_, i) => [50, i]));
    const sends = sendsPerTsn(net.sent.slice(from));
    for (const tsn of lost) expect(sends.get(tsn)).toBeLessThanOrEqual(3);
  });

  it('(4) grows cwnd in slow start when the window is used', () => {
    const { net, client, server } = pair();
    collect(server);
    const path = client.currentPath!;
    const initial = path.cwnd;
    for (let i = 0; i < 300; i++) {
      client.send(new Uint8Array(1000).fill(i), 11);
      if (i % 8 === 7) net.run(2);
    }
    net.run(500);
    expect(client.bufferedAmount).toBe(0);
    expect(path.cwnd).toBeGreaterThan(initial);
  });
});

describe('ported from the package patch tests: associations and setup', () => {
  it('(6) ending one association leaves the others on the endpoint, and they keep working', () => {
    const net = new Network();
    const eb = SctpStackEndpoint.open(net.host([B]), { port: 5000, clock: net.clock });
    const servers: Association[] = [];
    eb.on('association', (s) => servers.push(s));
    const clients = [1, 2, 3, 4].map((i) => {
      const e = SctpStackEndpoint.open(net.host([`10.0.1.${i}`]), { port: 5000, clock: net.clock });
      return e.associate({ address: B, port: 5000 });
    });
    expect(net.until(() => servers.length === 4 && clients.every((c) => c.state === 'up'))).toBe(true);
    const second = servers.find((s) => s.remote.address === '10.0.1.2')!;
    second.abort();
    net.run(50);
    expect(eb.associations).toHaveLength(3);
    expect(eb.associations).not.toContain(second);
    expect(clients[1]!.state).toBe('down');
    const got: string[] = [];
    for (const s of servers) s.on('message', (m) => got.push(`${s.remote.address} ${Buffer.from(m).toString()}`));
    for (const [i, c] of clients.entries()) if (i !== 1) c.send(Buffer.from('still here'), 0);
    net.run(500);
    expect(got.sort()).toEqual(['10.0.1.1 still here', '10.0.1.3 still here', '10.0.1.4 still here']);
  });

  it('(9) data written before the association is up is delivered, the first INIT lost', () => {
    const net = new Network();
    const ea = SctpStackEndpoint.open(net.host([A]), { port: 5000, clock: net.clock, rtoInitial: 300 });
    const eb = SctpStackEndpoint.open(net.host([B]), { port: 5000, clock: net.clock });
    const got: string[] = [];
    eb.on('association', (s) => s.on('message', (m) => got.push(Buffer.from(m).toString())));
    let inits = 0;
    net.filter = (p) => p.from === A && inspect(p.bytes).types[0] === ChunkType.INIT && inits++ === 0;
    const client = ea.associate({ address: B, port: 5000 });
    expect(client.send(Buffer.from('early bird'), 11)).toBe(true);
    net.run(100);
    expect(client.state).toBe('connecting');
    expect(net.until(() => got.length === 1, 5000)).toBe(true);
    expect(got).toEqual(['early bird']);
    expect(inits).toBe(2);
  });

  it('SHUTDOWN waits for queued data: fragmented messages sent, then close(), all delivered intact', () => {
    const { net, client, server } = pair();
    const got = collect(server);
    let down = '';
    client.on('down', (reason) => (down = reason));
    for (let i = 0; i < 5; i++) client.send(new Uint8Array(3000).fill(i), 11);
    client.close();
    expect(net.until(() => down !== '', 10_000)).toBe(true);
    expect(down).toBe('shutdown');
    expect(got.map((m) => m.length)).toEqual([3000, 3000, 3000, 3000, 3000]);
    expect(got.every((m, i) => m.every((b) => b === i))).toBe(true);
  });
});

describe('ported from the package patch tests: SACK timing and contents', () => {
  /** When B's SACK left, relative to the DATA packet A sent (one SACK per message). */
  function sackDelays(options: SctpStackOptions, messages: number): number[] {
    const { net, client, server } = pair(options);
    collect(server);
    net.run(1000); // the first DATA and the handshake behind us
    const delays: number[] = [];
    for (let i = 0; i < messages; i++) {
      const from = net.sent.length;
      const at: number[] = [];
      let sacks = 0;
      const clock = net.clock;
      const filter = (p: WirePacket): boolean => {
        if (inspect(p.bytes).types.includes(ChunkType.SACK) && p.from === B && ++sacks === 1) at.push(clock.now());
        if (inspect(p.bytes).types.includes(ChunkType.DATA) && p.from === A && at.length === 0) at.push(clock.now());
        return false;
      };
      net.filter = filter;
      client.send(new Uint8Array(10), 11);
      net.run(600);
      expect(net.sent.length).toBeGreaterThan(from);
      expect(at).toHaveLength(2);
      expect(sacks).toBe(1);
      delays.push(at[1]! - at[0]!);
    }
    return delays;
  }

  it('(10) with sackFrequency 1 every DATA packet is SACKed at once (a Nagle peer waits for it to send more)', () => {
    // The patch SACKed every packet: against a peer that uses Nagle, RFC 9260 §6.2's delayed
    // SACK (every 2nd packet or sackDelay) drops one-outstanding ping-pong to ~5 messages/s.
    for (const d of sackDelays({ sackFrequency: 1 }, 3)) expect(d).toBeLessThanOrEqual(2); // the latency, one way
  });

  it('(18) with delayed SACK (sackFrequency 2) a lone DATA packet is SACKed when the timer expires, once', () => {
    for (const d of sackDelays({ sackFrequency: 2, sackDelay: 40 }, 3)) {
      expect(d).toBeGreaterThanOrEqual(40);
      expect(d).toBeLessThanOrEqual(42);
    }
  });

  it('(19) a duplicated DATA packet is reported in the next SACK (RFC 9260 §6.2), once', () => {
    const { net, client, server } = pair();
    const got: string[] = [];
    server.on('message', (m) => got.push(Buffer.from(m).toString()));
    const sacks: SackInfo[] = [];
    let firstData: Uint8Array | undefined;
    net.filter = (p) => {
      const i = inspect(p.bytes);
      if (p.from === A && firstData === undefined && i.tsns.length > 0) firstData = Uint8Array.from(p.bytes);
      if (p.from === B && i.sack) sacks.push(i.sack);
      return false;
    };
    client.send(Buffer.from('once'), 11);
    net.run(400);
    const tsn = inspect(firstData!).tsns[0]!;
    net.hosts.get(A)!.send(Uint8Array.from(firstData!), { address: B });
    net.run(400);
    client.send(Buffer.from('next'), 11);
    net.run(400);
    expect(got).toEqual(['once', 'next']);
    expect(sacks.map((s) => s.duplicateTsns)).toEqual([[], [tsn], []]);
    expect(sacks[1]!.cumulativeTsnAck).toBe(tsn);
  });
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('ported from the package patch tests: chunk and packet codec', () => {
  it('DATA chunk codec property: fields and flags round-trip, Chunk Length 16 + data, padding zeroed, user data a view', () => {
    fc.assert(
      fc.property(
        fc.record({ tsn: u32, streamId: u16, ssn: u16, ppid: u32, unordered: fc.boolean(), beginning: fc.boolean(), ending: fc.boolean(), immediate: fc.boolean(), userData: fc.uint8Array({ minLength: 1, maxLength: 300 }) }),
        (chunk: DataChunk) => {
          const w = new PacketWriter();
          w.buffer.fill(0xee); // stale bytes where padding goes must not leak
          w.begin(1, 2, 3, 1500);
          expect(w.addData(chunk)).toBe(true);
          const bytes = w.finish();
          const r = new PacketReader();
          expect(r.read(bytes)).toBe(true);
          expect(r.count).toBe(1);
          expect(r.lengths[0]).toBe(DATA_CHUNK_HEADER + chunk.userData.length);
          expect(bytes.length % 4).toBe(0);
          for (let i = 12 + r.lengths[0]!; i < bytes.length; i++) expect(bytes[i]).toBe(0);
          const d = decodeData(r.bytes, r.offsets[0]!, r.lengths[0]!)!;
          expect({ ...d, userData: Array.from(d.userData) }).toEqual({ ...chunk, userData: Array.from(chunk.userData) });
          expect(d.userData.buffer).toBe(bytes.buffer);
        },
      ),
      { numRuns: 300, seed: 4960 },
    );
  });

  it('SACK chunk codec property: cumulative TSN, a_rwnd, gap blocks and duplicate TSNs round-trip', () => {
    // Gap blocks in order and apart (a decoder refuses others): built from positive steps.
    const gaps = fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 50 })), { maxLength: 8 }).map((steps) => {
      const blocks: Array<[number, number]> = [];
      let end = 0;
      for (const [skip, len] of steps) {
        const start = end + 1 + skip;
        if (start + len > 0xffff) break;
        blocks.push([start, start + len]);
        end = start + len;
      }
      return blocks;
    });
    fc.assert(
      fc.property(fc.record({ cumulativeTsnAck: u32, advertisedReceiverWindow: u32, gapAckBlocks: gaps, duplicateTsns: fc.array(u32, { maxLength: 8 }) }), (sack: SackInfo) => {
        const w = new PacketWriter();
        w.begin(1, 2, 3, 1500);
        expect(w.addSack(sack)).toBe(true);
        const r = new PacketReader();
        expect(r.read(w.finish())).toBe(true);
        expect(decodeSack(r.bytes, r.offsets[0]!, r.lengths[0]!)).toEqual(sack);
      }),
      { numRuns: 300, seed: 4960 },
    );
  });

  it('malformed DATA and SACK lengths: refused, never read beyond the chunk', () => {
    const w = new PacketWriter();
    w.begin(1, 2, 3, 1500);
    w.addData({ tsn: 1, streamId: 0, ssn: 0, ppid: 0, unordered: false, beginning: true, ending: true, immediate: false, userData: Buffer.from('abc') });
    const data = w.finish();
    expect(decodeData(data, 12, 12)).toBeUndefined(); // below the 16-byte DATA header
    const lying = Uint8Array.from(data);
    lying[12 + 3] = 200; // Chunk Length beyond the packet
    expect(new PacketReader().read(lying, false)).toBe(false);
    w.begin(1, 2, 3, 1500);
    w.addSack({ cumulativeTsnAck: 5, advertisedReceiverWindow: 9, gapAckBlocks: [[2, 3]], duplicateTsns: [] });
    const sack = w.finish();
    expect(decodeSack(sack, 12, 16)).toBeUndefined(); // claims one gap block, carries none
    expect(decodeSack(sack, 12, 12)).toBeUndefined();
  });

  it('packet codec property: header and chunks in one buffer, checksum verified, the input untouched, any flipped bit refused', () => {
    const chunk = fc.record({ type: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 255 }), value: fc.uint8Array({ maxLength: 200 }) });
    fc.assert(
      fc.property(fc.array(chunk, { minLength: 1, maxLength: 5 }), u16, u16, u32, fc.nat(), (chunks, src, dst, tag, flip) => {
        const w = new PacketWriter();
        w.begin(src, dst, tag, 1500);
        for (const c of chunks) expect(w.addChunk(c.type, c.flags, c.value)).toBe(true);
        const bytes = w.finish();
        const copy = Uint8Array.from(bytes);
        const r = new PacketReader();
        expect(r.read(bytes)).toBe(true);
        expect(Buffer.compare(bytes, copy)).toBe(0);
        expect([r.sourcePort, r.destinationPort, r.verificationTag, r.count]).toEqual([src, dst, tag, chunks.length]);
        chunks.forEach((c, i) => {
          expect([r.types[i], r.flags[i], r.lengths[i]]).toEqual([c.type, c.flags, 4 + c.value.length]);
          expect(Array.from(r.chunk(i).subarray(4))).toEqual(Array.from(c.value));
        });
        const corrupted = Uint8Array.from(bytes);
        const bit = flip % (corrupted.length * 8);
        corrupted[bit >> 3]! ^= 1 << (bit & 7);
        expect(new PacketReader().read(corrupted)).toBe(false);
      }),
      { numRuns: 200, seed: 4960 },
    );
  });
});
