// Wireshark's SCTP dissector on our stack's own traffic: two of our endpoints (whatever
// openSctpEndpoint returns) over UDP encapsulation on loopback, through a UDP relay of this
// test that records every datagram into a pcap (src/capture/pcap-writer.ts) and drops a few
// DATA packets once (so SACKs carry gap blocks and T3/fast retransmissions follow).
// The association covers: handshake, fragmented and bundled DATA, SACKs with gap blocks,
// HEARTBEAT/HEARTBEAT-ACK, graceful SHUTDOWN, and then a second association ended by ABORT.
// tshark, told to verify CRC32c (`-o 'sctp.checksum:CRC 32c'`; the default `None` leaves every
// checksum "unverified"), must report no malformed packet, no expert warning, and every
// checksum good.
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../src/capture/pcap-writer.js';
import { openSctpEndpoint, type Association, type SctpEndpoint } from '../../src/transport/index.js';
import { blockingFindings, dissect, findNodes, NO_TSHARK_MESSAGE, TSHARK } from '../helpers/tshark.js';

if (TSHARK === null) console.warn(NO_TSHARK_MESSAGE);
const dir = mkdtempSync(join(tmpdir(), 'sctp-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const until = async (check: () => boolean, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/**
 * A two-socket UDP relay: `a` talks to `toB` as if it were B, B talks to `toA` as if it were A.
 * Every datagram is written to the pcap as A (10.0.0.1:9899) <-> B (10.0.0.2:9899), so tshark
 * decodes it as SCTP over UDP 9899 (RFC 6951 §5.1) whatever the real ports were.
 */
class Relay {
  readonly pcap = new PcapWriter({ nanoseconds: true });
  readonly toB = dgram.createSocket('udp4');
  readonly toA = dgram.createSocket('udp4');
  aPort = 0;
  bPort = 0;
  dataPacketsAtoB = 0;
  readonly dropped: number[] = [];
  constructor(readonly drop: (nthDataPacket: number) => boolean) {}
  async open(bPort: number): Promise<void> {
    this.bPort = bPort;
    await Promise.all([this.toB, this.toA].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', r))));
    const now = (): { seconds: number; nanoseconds: number } => {
      const ns = process.hrtime.bigint();
      return { seconds: Number(ns / 1_000_000_000n), nanoseconds: Number(ns % 1_000_000_000n) };
    };
    this.toB.on('message', (d, rinfo) => {
      this.aPort = rinfo.port;
      this.pcap.addUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 9899, dport: 9899, payload: d, time: now() });
      // First chunk type 0 = DATA (RFC 9260 §3.3.1): the n-th packet with DATA, A to B.
      if (d.length > 12 && d[12] === 0 && this.drop(++this.dataPacketsAtoB)) {
        this.dropped.push(this.dataPacketsAtoB);
        return;
      }
      this.toA.send(d, this.bPort, '127.0.0.1');
    });
    this.toA.on('message', (d) => {
      this.pcap.addUdp({ src: '10.0.0.2', dst: '10.0.0.1', sport: 9899, dport: 9899, payload: d, time: now() });
      if (this.aPort !== 0) this.toB.send(d, this.aPort, '127.0.0.1');
    });
  }
  get portForA(): number {
    return this.toB.address().port;
  }
  close(): void {
    this.toA.close();
    this.toB.close();
  }
}

describe.skipIf(TSHARK === null)('tshark on our SCTP over UDP: handshake, fragments, bundling, gap blocks, heartbeats, SHUTDOWN, ABORT', () => {
  it('reports nothing malformed and every CRC32c good', async () => {
    const protocol = { hbInterval: 300, rtoInitial: 400, rtoMin: 200, rtoMax: 2000, sackDelay: 50 };
    // Drop the 3rd, 4th and 9th DATA packets from A to B once (their retransmissions pass).
    const relay = new Relay((n) => n === 3 || n === 4 || n === 9);
    const b: SctpEndpoint = await openSctpEndpoint({ mode: 'udp', port: 7001, udpPort: 0, address: '127.0.0.1', protocol });
    await relay.open(b.udpPort!);
    const a: SctpEndpoint = await openSctpEndpoint({ mode: 'udp', port: 7002, udpPort: 0, address: '127.0.0.1', remoteUdpPort: relay.portForA, protocol });
    try {
      const received: Array<[number, number, number]> = [];
      let passive: Association | undefined;
      b.on('association', (x) => {
        passive = x;
        x.on('message', (payload, ppid, stream) => received.push([payload.length, ppid, stream]));
      });
      const assoc = await a.connect({ address: '127.0.0.1', port: 7001, udpPort: relay.portForA });
      // Fragmented (3 x 4,000 bytes) and bundled (40 small ones at once) DATA.
      const sent: Array<[number, number, number]> = [];
      for (let i = 0; i < 3; i++) sent.push([4000, 0x7e570001, 1]);
      for (let i = 0; i < 40; i++) sent.push([20 + i, 0x7e570002, i % 3]);
      for (const [size, ppid, stream] of sent) assoc.send(new Uint8Array(size).fill(size & 0xff), ppid, stream);
      await until(() => received.length === sent.length, 20_000, 'every message at B');
      expect(relay.dropped.length).toBeGreaterThan(0);
      // Idle long enough for heartbeats on the path.
      await new Promise((r) => setTimeout(r, 1200));
      const down = new Promise((r) => assoc.once('down', r));
      assoc.close();
      expect(await down).toBe('shutdown');
      // A second association, ended by ABORT.
      const second = await a.connect({ address: '127.0.0.1', port: 7001, udpPort: relay.portForA });
      second.send(new Uint8Array(10), 0x7e570003, 0);
      await until(() => received.length === sent.length + 1, 10_000, 'the second association\'s message');
      const aborted = new Promise((r) => passive!.once('down', r));
      second.abort('test');
      expect(await aborted).toBe('abort');
    } finally {
      await a.close();
      await b.close();
      relay.close();
    }
    const file = join(dir, 'ours.pcap');
    writeFileSync(file, relay.pcap.toBytes());

    const packets = dissect(file, { preferences: ['sctp.checksum:CRC 32c'] });
    expect(blockingFindings(packets)).toEqual([]);
    const field = (name: string): string[] => packets.flatMap((p) => findNodes(p.protos, (n) => n.name === name).map((n) => n.show));
    // sctp.checksum.status: 1 good, 0 bad, 2 unverified (Wireshark's PROTO_CHECKSUM_E_*).
    const statuses = field('sctp.checksum.status');
    expect(statuses.length).toBe(packets.length);
    expect(new Set(statuses)).toEqual(new Set(['1']));
    const chunkTypes = new Set(field('sctp.chunk_type').map(Number));
    // INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK, DATA, SACK, HEARTBEAT(-ACK), SHUTDOWN(-ACK, -COMPLETE), ABORT.
    for (const t of [1, 2, 10, 11, 0, 3, 4, 5, 7, 8, 14, 6]) expect(chunkTypes, `chunk type ${t}`).toContain(t);
    // Gap blocks in some SACK, fragments (B/E flags not both set) and bundling (several DATA chunks in one packet).
    expect(field('sctp.sack_number_of_gap_blocks').some((n) => Number(n) > 0)).toBe(true);
    expect(packets.some((p) => findNodes(p.protos, (n) => n.name === 'sctp.data_tsn_raw' || n.name === 'sctp.data_tsn').length > 1)).toBe(true);
    expect(field('sctp.data_e_bit').some((e) => e === '0' || e === 'False')).toBe(true);
  }, 60_000);
});
