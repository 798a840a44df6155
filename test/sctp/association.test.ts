// The association state machine over an in-memory wire in virtual time.
import { describe, expect, it } from 'vitest';
import { SctpStackEndpoint, type SctpStackOptions } from '../../src/sctp/index.js';
import type { StackAssociation } from '../../src/sctp/association.js';
import type { Association, AssociationDownReason } from '../../src/transport/sctp-provider.js';
import { ChunkType } from '../../src/sctp/chunk.js';
import { PacketReader, PacketWriter } from '../../src/sctp/packet.js';
import { Network, type MemoryLowerLayer } from './wire.js';

const A = '10.0.0.1';
const B = '10.0.0.2';

function endpoints(net: Network, options: SctpStackOptions = {}, hosts?: [MemoryLowerLayer, MemoryLowerLayer]) {
  const [ha, hb] = hosts ?? [net.host([A]), net.host([B])];
  const log: string[] = [];
  const common = { clock: net.clock, log: (m: string) => log.push(m), ...options };
  const ea = SctpStackEndpoint.open(ha, { port: 5000, ...common });
  const eb = SctpStackEndpoint.open(hb, { port: 5000, ...common });
  return { ea, eb, ha, hb, log };
}

function record(a: Association) {
  const messages: string[] = [];
  const downs: AssociationDownReason[] = [];
  let ups = 0;
  a.on('message', (p) => messages.push(Buffer.from(p).toString()));
  a.on('down', (r) => downs.push(r));
  a.on('up', () => ups++);
  return { messages, downs, get ups() { return ups; } };
}

function passive(ep: SctpStackEndpoint) {
  const list: Association[] = [];
  const messages: string[] = [];
  const downs: AssociationDownReason[] = [];
  ep.on('association', (a) => {
    list.push(a);
    a.on('message', (p) => messages.push(Buffer.from(p).toString()));
    a.on('down', (r) => downs.push(r));
  });
  return { list, messages, downs };
}

function chunkTypes(bytes: Uint8Array): number[] {
  const r = new PacketReader();
  if (!r.read(bytes)) return [];
  return Array.from(r.types.subarray(0, r.count));
}

describe('association setup', () => {
  it('four-way handshake, data both ways, stream negotiation', () => {
    const net = new Network();
    const { ea, eb } = endpoints(net, { outboundStreams: 10, inboundStreams: 5 });
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    expect(a.state).toBe('connecting');
    expect(a.send(Buffer.from('early'), 1)).toBe(true); // queued before 'up'
    net.run(50);
    expect(a.state).toBe('up');
    expect(ra.ups).toBe(1);
    expect(server.list).toHaveLength(1);
    expect(a.outboundStreams).toBe(5);
    expect(server.list[0]!.outboundStreams).toBe(5);
    expect(server.messages).toEqual(['early']);
    server.list[0]!.send(Buffer.from('reply'), 2, 1);
    net.run(50);
    expect(ra.messages).toEqual(['reply']);
    expect(chunkTypes(net.sent[0]!.bytes)).toEqual([ChunkType.INIT]);
    expect(chunkTypes(net.sent[1]!.bytes)).toEqual([ChunkType.INIT_ACK]);
    expect(chunkTypes(net.sent[2]!.bytes)).toEqual([ChunkType.COOKIE_ECHO]);
    expect(chunkTypes(net.sent[3]!.bytes)[0]).toBe(ChunkType.COOKIE_ACK);
  });

  it('connect() resolves on up and rejects when the peer never answers (T1-init, Max.Init.Retransmits)', async () => {
    const net = new Network();
    const ha = net.host([A]);
    const ea = SctpStackEndpoint.open(ha, { port: 5000, clock: net.clock, rtoInitial: 100, rtoMax: 400, maxInitRetransmits: 3 });
    const p = ea.connect({ address: B, port: 5000 });
    let error: unknown;
    p.catch((e: unknown) => (error = e));
    net.run(5000);
    await Promise.resolve();
    expect(String(error)).toMatch(/timeout/);
    expect(net.sent.filter((s) => chunkTypes(s.bytes)[0] === ChunkType.INIT)).toHaveLength(4);
    expect(ea.associations).toHaveLength(0);
  });

  it('INIT retransmission with loss, and a late-listening peer', () => {
    const net = new Network();
    const ha = net.host([A]);
    const hb = net.host([B]);
    const ea = SctpStackEndpoint.open(ha, { port: 5000, clock: net.clock, rtoInitial: 1000 });
    const a = ea.associate({ address: B, port: 5000 });
    net.run(2500); // two INITs to a host with nothing bound
    const eb = SctpStackEndpoint.open(hb, { port: 5000, clock: net.clock });
    const server = passive(eb);
    let dropped = 0;
    net.filter = (p) => chunkTypes(p.bytes)[0] === ChunkType.COOKIE_ECHO && dropped++ < 1; // lose the first COOKIE ECHO
    expect(net.until(() => a.state === 'up', 20_000)).toBe(true);
    expect(server.list).toHaveLength(1);
    expect(dropped).toBe(2);
  });

  it('both ends INIT at once: exactly one association, whichever wins', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const net = new Network(seed);
      const { ea, eb } = endpoints(net);
      const pa = passive(ea);
      const pb = passive(eb);
      const a = ea.associate({ address: B, port: 5000 });
      const b = eb.associate({ address: A, port: 5000 });
      const ra = record(a);
      const rb = record(b);
      if (seed % 2 === 0) net.latency = 3;
      expect(net.until(() => a.state === 'up' && b.state === 'up', 30_000)).toBe(true);
      net.run(10_000);
      expect(ea.associations).toHaveLength(1);
      expect(eb.associations).toHaveLength(1);
      expect(pa.list.length + pb.list.length).toBe(0);
      expect(ra.ups + rb.ups).toBe(2);
      expect((a as StackAssociation).tags).toEqual({ local: (b as StackAssociation).tags.peer, peer: (b as StackAssociation).tags.local });
      a.send(Buffer.from('x'), 0);
      net.run(100);
      expect(rb.messages).toEqual(['x']);
      expect(ra.downs).toEqual([]);
    }
  });

  it('one INIT lost in a collision still ends in one association', () => {
    const net = new Network();
    const { ea, eb } = endpoints(net, { rtoInitial: 500 });
    let first = true;
    net.filter = (p) => {
      if (first && p.from === A && chunkTypes(p.bytes)[0] === ChunkType.INIT) {
        first = false;
        return true;
      }
      return false;
    };
    const a = ea.associate({ address: B, port: 5000 });
    const b = eb.associate({ address: A, port: 5000 });
    expect(net.until(() => a.state === 'up' && b.state === 'up', 30_000)).toBe(true);
    expect(ea.associations).toHaveLength(1);
    expect(eb.associations).toHaveLength(1);
  });

  it('peer restart while established (action A): the old association goes down with restart, a new one comes up', () => {
    const net = new Network();
    const ha = net.host([A]);
    const hb = net.host([B]);
    const ea = SctpStackEndpoint.open(ha, { port: 5000, clock: net.clock });
    const eb = SctpStackEndpoint.open(hb, { port: 5000, clock: net.clock });
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    net.run(50);
    expect(server.list).toHaveLength(1);
    // A "crashes": its endpoint disappears without a word, and comes back.
    ha.unbind(5000);
    const ea2 = SctpStackEndpoint.open(ha, { port: 5000, clock: net.clock });
    const a2 = ea2.associate({ address: B, port: 5000 });
    const r2 = record(a2);
    net.run(100);
    expect(a2.state).toBe('up');
    expect(server.downs).toEqual(['restart']);
    expect(server.list).toHaveLength(2);
    expect(server.list[1]!.state).toBe('up');
    expect(eb.associations).toHaveLength(1);
    server.list[1]!.send(Buffer.from('after restart'), 0);
    net.run(100);
    expect(r2.messages).toEqual(['after restart']);
    void a;
  });

  it('a forged INIT and a COOKIE ECHO replayed from another address change nothing', () => {
    const net = new Network();
    const { ea, eb } = endpoints(net);
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    net.run(50);
    const cookieEcho = net.sent.find((p) => chunkTypes(p.bytes)[0] === ChunkType.COOKIE_ECHO)!.bytes;
    const init = net.sent.find((p) => chunkTypes(p.bytes)[0] === ChunkType.INIT)!.bytes;
    const evil = net.host(['10.6.6.6']);
    // INIT from the evil host with A's INIT: answered statelessly to the evil host; no state.
    evil.send(init, { address: B });
    // The real peer's COOKIE ECHO replayed from another address: discarded.
    evil.send(cookieEcho, { address: B });
    // A spoofed INIT from A's own address (the INIT ACK goes to A, which drops it).
    net.hosts.get(A)!.send(init, { address: B });
    net.run(100);
    expect(server.list).toHaveLength(1);
    expect(server.downs).toEqual([]);
    expect(eb.associations).toHaveLength(1);
    expect(eb.stats.cookiesRejected).toBe(1);
    a.send(Buffer.from('still fine'), 0);
    net.run(100);
    expect(server.messages).toEqual(['still fine']);
  });

  it('a stale cookie gets a Stale Cookie ERROR and the initiator retries with a new INIT', () => {
    const net = new Network();
    const { ea, eb } = endpoints(net, { validCookieLife: 100, rtoInitial: 1000 });
    const server = passive(eb);
    net.latency = 60; // the cookie is 120 ms old when it comes back
    const a = ea.associate({ address: B, port: 5000 });
    net.run(400);
    const errors = net.sent.filter((p) => chunkTypes(p.bytes)[0] === ChunkType.ERROR);
    expect(errors.length).toBeGreaterThan(0);
    expect(server.list).toHaveLength(0);
    net.latency = 1;
    expect(net.until(() => a.state === 'up', 30_000)).toBe(true);
    expect(server.list).toHaveLength(1);
  });

  it('maxAssociations: an INIT beyond it gets ABORT "Out of Resource"', () => {
    const net = new Network();
    const hb = net.host([B]);
    const eb = SctpStackEndpoint.open(hb, { port: 5000, clock: net.clock, maxAssociations: 1 });
    const clients = ['10.0.1.1', '10.0.1.2'].map((addr) => SctpStackEndpoint.open(net.host([addr]), { port: 5000, clock: net.clock }));
    const a1 = clients[0]!.associate({ address: B, port: 5000 });
    net.run(50);
    const a2 = clients[1]!.associate({ address: B, port: 5000 });
    const r2 = record(a2);
    net.run(50);
    expect(a1.state).toBe('up');
    expect(r2.downs).toEqual(['abort']);
    expect(eb.stats.associationsRejected).toBe(1);
  });
});

describe('data transfer', () => {
  it('every message once and in order over a wire with loss, duplication and reordering, both ways', () => {
    const net = new Network(7);
    const { ea, eb } = endpoints(net, { rtoInitial: 200, rtoMin: 100, sackDelay: 50 });
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    net.run(50);
    const s = server.list[0]!;
    s.on('message', (p, ppid) => s.send(Buffer.from(`echo ${Buffer.from(p).toString()}`), ppid));
    net.impairments = { loss: 0.1, duplicate: 0.1, reorder: 0.2 };
    const n = 300;
    const expected: string[] = [];
    for (let i = 0; i < n; i++) {
      const m = `m${i}${'.'.repeat(i % 7 === 0 ? 3000 : 10)}`; // some fragmented
      expected.push(m);
      a.send(Buffer.from(m), 1);
    }
    expect(net.until(() => ra.messages.length === n, 300_000)).toBe(true);
    expect(server.messages).toEqual(expected);
    expect(ra.messages).toEqual(expected.map((m) => `echo ${m}`));
    expect(ra.downs).toEqual([]);
  });

  it('the endpoint totals every association\'s retransmissions, and keeps them after the association ends', () => {
    const net = new Network(11);
    const { ea, eb } = endpoints(net, { rtoInitial: 200, rtoMin: 100, sackDelay: 50 });
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    net.run(50);
    net.impairments = { loss: 0.2 };
    for (let i = 0; i < 200; i++) a.send(Buffer.from(`m${i}`.padEnd(1000, '.')), 1);
    expect(net.until(() => server.messages.length === 200, 300_000)).toBe(true);
    net.impairments = {};
    net.run(2_000);
    // Only ea sends DATA, over its one association: every retransmission is that association's.
    expect(ea.stats.retransmissions).toBeGreaterThan(0);
    expect(ea.stats.retransmissionTimeouts + ea.stats.fastRetransmits).toBeGreaterThan(0);
    expect(eb.stats.retransmissions).toBe(0);
    const before = { ...ea.stats };
    a.abort();
    net.run(100);
    expect(ea.associations.length).toBe(0);
    expect(ea.stats.retransmissions).toBe(before.retransmissions);
    expect(ea.stats.retransmissionTimeouts).toBe(before.retransmissionTimeouts);
  });

  it('a DATA chunk 100,000 TSNs ahead does not throw and the association keeps working', () => {
    const net = new Network();
    const { ea, eb, log } = endpoints(net);
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    net.run(50);
    const w = new PacketWriter();
    w.begin(5000, 5000, a.tags.peer, 1200);
    // the TSN the server expects next is unknown here; any TSN far ahead of it will do
    const sent = net.sent.find((p) => chunkTypes(p.bytes)[0] === ChunkType.INIT)!.bytes;
    const initialTsn = ((sent[12 + 16]! << 24) | (sent[12 + 17]! << 16) | (sent[12 + 18]! << 8) | sent[12 + 19]!) >>> 0;
    w.addData({ tsn: (initialTsn + 100_000) >>> 0, streamId: 0, ssn: 5, ppid: 1, unordered: false, beginning: true, ending: true, immediate: false, userData: Buffer.from('far') });
    net.hosts.get(A)!.send(w.finish(), { address: B });
    net.run(50);
    a.send(Buffer.from('normal'), 0);
    net.run(500);
    expect(server.messages).toEqual(['normal']);
    expect(server.downs).toEqual([]);
    expect(log.filter((m) => m.includes('internal error'))).toEqual([]);
  });

  it('an empty DATA chunk ABORTs with "No User Data"; an invalid stream gets ERROR cause 1', () => {
    const net = new Network();
    const { ea, eb } = endpoints(net, { inboundStreams: 2 });
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    const ra = record(a);
    net.run(50);
    const init = net.sent.find((p) => chunkTypes(p.bytes)[0] === ChunkType.INIT)!.bytes;
    const tsn0 = ((init[28]! << 24) | (init[29]! << 16) | (init[30]! << 8) | init[31]!) >>> 0;
    const w = new PacketWriter();
    w.begin(5000, 5000, a.tags.peer, 1200);
    w.addData({ tsn: tsn0, streamId: 9, ssn: 0, ppid: 1, unordered: false, beginning: true, ending: true, immediate: false, userData: Buffer.from('bad stream') });
    net.hosts.get(A)!.send(w.finish(), { address: B });
    net.run(50);
    const errors = net.sent.filter((p) => p.from === B && chunkTypes(p.bytes).includes(ChunkType.ERROR));
    expect(errors).toHaveLength(1);
    expect(server.downs).toEqual([]);
    w.begin(5000, 5000, a.tags.peer, 1200);
    w.addData({ tsn: (tsn0 + 1) >>> 0, streamId: 0, ssn: 0, ppid: 1, unordered: false, beginning: true, ending: true, immediate: false, userData: new Uint8Array(0) });
    net.hosts.get(A)!.send(w.finish(), { address: B });
    net.run(50);
    expect(server.downs).toEqual(['abort']); // the peer broke the protocol
    expect(server.list[0]!.state).toBe('down');
    expect(ra.downs).toEqual(['abort']);
  });

  it('send() beyond the hard limit throws SendQueueFullError; above the high-water mark returns false, then drain', () => {
    const net = new Network();
    const { ea } = endpoints(net, { maxSendQueueBytes: 10_000, highWaterMark: 5_000 });
    const a = ea.associate({ address: B, port: 5000 });
    let drained = 0;
    a.on('drain', () => drained++);
    expect(a.send(new Uint8Array(4000), 0)).toBe(true);
    expect(a.send(new Uint8Array(4000), 0)).toBe(false);
    expect(() => a.send(new Uint8Array(4000), 0)).toThrow(/send queue is full/);
    net.run(200);
    expect(a.state).toBe('up');
    expect(drained).toBe(1);
    expect(a.bufferedAmount).toBe(0);
  });

  it('exceptions thrown by a broken listener do not escape; the association is aborted and logged', () => {
    const net = new Network();
    const { ea, eb, log } = endpoints(net);
    eb.on('association', (s) =>
      s.on('message', () => {
        throw new Error('broken listener');
      }),
    );
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    net.run(50);
    a.send(Buffer.from('boom'), 0);
    expect(() => net.run(100)).not.toThrow();
    expect(log.some((m) => m.includes('broken listener'))).toBe(true);
    expect(ra.downs).toEqual(['abort']);
  });
});

describe('shutdown, abort, failure detection', () => {
  it('graceful shutdown waits for data in flight', () => {
    const net = new Network(3);
    const { ea, eb } = endpoints(net, { rtoInitial: 200, rtoMin: 100 });
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    net.run(50);
    net.impairments = { loss: 0.2 };
    for (let i = 0; i < 50; i++) a.send(Buffer.from(`d${i}`), 0);
    a.close();
    expect(a.send(Buffer.from('late'), 0)).toBe(false);
    expect(net.until(() => ra.downs.length > 0, 120_000)).toBe(true);
    net.impairments = {};
    net.run(5000);
    expect(ra.downs).toEqual(['shutdown']);
    expect(server.downs).toEqual(['shutdown']);
    expect(server.messages).toEqual(Array.from({ length: 50 }, (_, i) => `d${i}`));
    expect(ea.associations).toHaveLength(0);
    expect(eb.associations).toHaveLength(0);
  });

  it('abort(): the peer sees abort, we see local-abort', () => {
    const net = new Network();
    const { ea, eb } = endpoints(net);
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    net.run(50);
    a.abort('bye');
    net.run(50);
    expect(ra.downs).toEqual(['local-abort']);
    expect(server.downs).toEqual(['abort']);
  });

  it('a peer that vanishes is detected by heartbeats: down with timeout', () => {
    const net = new Network();
    const { ea, eb } = endpoints(net, { hbInterval: 1000, rtoInitial: 500, rtoMax: 2000, associationMaxRetrans: 4, pathMaxRetrans: 2 });
    passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    net.run(50);
    net.run(10_000);
    expect(ra.downs).toEqual([]); // heartbeats answered
    net.cut.add(B);
    expect(net.until(() => ra.downs.length > 0, 120_000, 50)).toBe(true);
    expect(ra.downs).toEqual(['timeout']);
  });

  it('endpoint close() aborts every association with endpoint-closed', async () => {
    const net = new Network();
    const { ea, eb } = endpoints(net);
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    net.run(50);
    await eb.close();
    net.run(50);
    expect(server.downs).toEqual(['endpoint-closed']);
    expect(ra.downs).toEqual(['abort']);
  });
});

describe('multi-homing', () => {
  it('one path cut mid-transfer: failover, no message lost, back to the primary when it recovers', () => {
    const net = new Network(11);
    const B2 = '10.0.1.2';
    const ha = net.host([A]);
    const hb = net.host([B, B2]);
    const opts = { clock: net.clock, rtoInitial: 200, rtoMin: 100, rtoMax: 400, hbInterval: 500, pathMaxRetrans: 1, associationMaxRetrans: 20 };
    const ea = SctpStackEndpoint.open(ha, { port: 5000, ...opts });
    const eb = SctpStackEndpoint.open(hb, { port: 5000, ...opts });
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    const ra = record(a);
    net.run(2000); // B2 confirmed by heartbeat
    expect(a.remoteAddresses).toEqual([B, B2]);
    expect(a.paths.every((p) => p.confirmed)).toBe(true);
    const expected: string[] = [];
    for (let i = 0; i < 200; i++) {
      expected.push(`m${i}`);
      a.send(Buffer.from(`m${i}`), 0);
      if (i === 50) {
        net.run(2);
        net.cut.add(B);
      }
      if (i % 10 === 0) net.run(5);
    }
    expect(net.until(() => server.messages.length === 200, 60_000)).toBe(true);
    expect(server.messages).toEqual(expected);
    // Retransmissions already went to B2 (§6.4.1) while B still counted errors; B fails on its
    // next T3 or unanswered HEARTBEAT (Path.Max.Retrans 1), and data then goes to B2.
    expect(net.until(() => a.currentPath!.peer.address === B2, 10_000)).toBe(true);
    expect(a.paths[0]!.active).toBe(false);
    net.cut.delete(B);
    net.run(10_000);
    expect(a.currentPath!.peer.address).toBe(B);
    expect(ra.downs).toEqual([]);
  });
});

describe('sending rules', () => {
  /** Packets from `source` to `to` that carry a chunk of `type`. */
  const carrying = (net: Network, source: string, type: number) => net.sent.filter((p) => p.from === source && chunkTypes(p.bytes).includes(type));

  it('a SACK goes to the source address of the DATA it acknowledges (§6.4), data still to the primary', () => {
    const net = new Network(3);
    const B2 = '10.0.1.2';
    const ha = net.host([A]);
    const hb = net.host([B, B2]);
    // RTO.Min above the delayed-SACK time: no T3 expiry (and retransmission) in between.
    const { ea, eb } = endpoints(net, { hbInterval: 500, rtoInitial: 1000, rtoMin: 1000 }, [ha, hb]);
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    const ra = record(a);
    net.run(2000); // B2 confirmed by heartbeat
    expect(a.paths.every((p) => p.confirmed)).toBe(true);
    hb.addresses.reverse(); // from now on B's packets leave from B2
    const from = net.sent.length;
    server.list[0]!.send(Buffer.from('to A'), 0);
    a.send(Buffer.from('to B'), 0);
    net.run(1000);
    expect(ra.messages).toEqual(['to A']);
    expect(server.messages).toEqual(['to B']);
    const sent = net.sent.slice(from).filter((p) => p.from === A);
    const sacks = sent.filter((p) => chunkTypes(p.bytes).includes(ChunkType.SACK));
    const data = sent.filter((p) => chunkTypes(p.bytes).includes(ChunkType.DATA));
    expect(sacks.length).toBeGreaterThan(0);
    expect(sacks.every((p) => p.to === B2)).toBe(true);
    expect(data.length).toBeGreaterThan(0);
    expect(data.every((p) => p.to === B)).toBe(true);
  });

  it('a chunk whose T3-rtx expired is retransmitted to another active address (§6.4.1)', () => {
    const net = new Network(4);
    const B2 = '10.0.1.2';
    const ha = net.host([A]);
    const hb = net.host([B, B2]);
    const { ea, eb } = endpoints(net, { hbInterval: 500, rtoInitial: 200, rtoMin: 100, rtoMax: 400, pathMaxRetrans: 5 }, [ha, hb]);
    const server = passive(eb);
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    net.run(2000);
    expect(a.paths.every((p) => p.confirmed)).toBe(true);
    // DATA to B is lost; everything else (SACKs, heartbeats) passes.
    net.filter = (p) => p.to === B && chunkTypes(p.bytes).includes(ChunkType.DATA);
    const from = net.sent.length;
    a.send(Buffer.from('once'), 0);
    expect(net.until(() => server.messages.length === 1, 2000)).toBe(true);
    const data = net.sent.slice(from).filter((p) => p.from === A && chunkTypes(p.bytes).includes(ChunkType.DATA));
    expect(data.map((p) => p.to)).toEqual([B, B2]); // the first retransmission already avoids B
    expect(a.paths[0]!.active).toBe(true); // one timeout does not make B inactive
    expect(a.currentRemote.address).toBe(B);
  });

  it('currentRemote follows a failover and comes back; remote stays the primary', () => {
    const net = new Network(5);
    const B2 = '10.0.1.2';
    const ha = net.host([A]);
    const hb = net.host([B, B2]);
    const { ea } = endpoints(net, { hbInterval: 300, rtoInitial: 100, rtoMin: 100, rtoMax: 200, pathMaxRetrans: 1, associationMaxRetrans: 50 }, [ha, hb]);
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    net.run(2000);
    expect(a.currentRemote).toEqual(a.remote);
    net.cut.add(B);
    expect(net.until(() => a.currentRemote.address === B2, 10_000)).toBe(true);
    expect(a.remote.address).toBe(B);
    expect(a.currentRemote.port).toBe(5000);
    net.cut.delete(B);
    expect(net.until(() => a.currentRemote.address === B, 10_000)).toBe(true);
  });

  it('delayed SACK: one DATA packet is acknowledged after sackDelay, every sackFrequency-th at once, and an answer carries the SACK', () => {
    for (const sackFrequency of [1, 2]) {
      const net = new Network(6);
      const { ea, eb } = endpoints(net, { sackDelay: 200, sackFrequency });
      const server = passive(eb);
      const a = ea.associate({ address: B, port: 5000 });
      net.run(50);
      net.run(1000);
      const from = net.sent.length;
      a.send(Buffer.from('one'), 0);
      net.run(5);
      expect(server.messages).toEqual(['one']);
      const early = carrying(net, B, ChunkType.SACK).filter((p) => net.sent.indexOf(p) >= from);
      expect(early.length).toBe(sackFrequency === 1 ? 1 : 0);
      net.run(250);
      expect(carrying(net, B, ChunkType.SACK).filter((p) => net.sent.indexOf(p) >= from).length).toBe(1);
    }
    // An answer in the same turn carries the SACK: no packet with a SACK alone.
    const net = new Network(7);
    const { ea, eb } = endpoints(net, { sackDelay: 200 });
    eb.on('association', (s) => s.on('message', (p) => s.send(p, 0)));
    const a = ea.associate({ address: B, port: 5000 });
    const ra = record(a);
    net.run(1000);
    const from = net.sent.length;
    for (let i = 0; i < 5; i++) {
      a.send(Buffer.from(`m${i}`), 0);
      net.run(20);
    }
    expect(ra.messages).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    const fromB = net.sent.slice(from).filter((p) => p.from === B);
    expect(fromB.length).toBe(5);
    for (const p of fromB) expect(chunkTypes(p.bytes)).toEqual([ChunkType.SACK, ChunkType.DATA]);
  });

  it('ERROR chunks from the peer are counted, and logged at most a few lines per interval', () => {
    const net = new Network(8);
    const { ea, eb, log } = endpoints(net);
    passive(eb);
    const a = ea.associate({ address: B, port: 5000 }) as StackAssociation;
    net.run(100);
    const server = eb.associations[0] as StackAssociation;
    const w = new PacketWriter();
    for (let i = 0; i < 1000; i++) {
      w.begin(5000, 5000, a.tags.local, 0xffff);
      w.addCauses(ChunkType.ERROR, 0, [new Uint8Array([0, 13, 0, 4]), new Uint8Array([0, 13, 0, 4])]); // Protocol Violation x2
      net.transmit(net.hosts.get(B)!, w.finish(), { address: A, udpPort: 9899 });
      net.run(1);
    }
    expect(a.peerErrorCauses).toBe(2000);
    expect(a.state).toBe('up');
    expect(server.state).toBe('up');
    const lines = log.filter((m) => m.includes('ERROR from the peer'));
    expect(lines.length).toBeLessThanOrEqual(5);
    net.run(10_000);
    net.transmit(net.hosts.get(B)!, (w.begin(5000, 5000, a.tags.local, 0xffff), w.addCauses(ChunkType.ERROR, 0, [new Uint8Array([0, 13, 0, 4])]), w.finish()), { address: A, udpPort: 9899 });
    net.run(5);
    const after = log.filter((m) => m.includes('ERROR from the peer'));
    expect(after.length).toBe(lines.length + 1);
    expect(after.at(-1)).toMatch(/left out before/);
  });
});
