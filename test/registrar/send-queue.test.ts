// The send-queue limit (issue: "An association that never SACKs makes the registrar queue every
// answer"): a client that associates, sends handle resolutions, and never acknowledges the
// answers (no SACK, RFC 9260 §6.2). It is a bare UDP socket speaking just enough SCTP over UDP
// (RFC 6951) for the handshake (INIT, COOKIE ECHO, RFC 9260 §5.1) and DATA, so the registrar's
// stack sees a peer whose SCTP is alive and whose acknowledgements never come.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { writeSctpChecksum } from '../../src/sctp/crc32c.js';
import type { SctpEndpoint } from '../../src/transport/index.js';
import { PPID_ASAP, PolicyType, encodeMessage, policySettings } from '../../src/wire/index.js';
import { AsapPeer, handleResolution } from './asap-peer.js';
import { LogLevel, startTestRegistrar, waitFor, type TestRegistrar } from './harness.js';

const LIMIT = 16 * 1024;
const TIMEOUT = 1500;
const POOL = 'send-queue-pool';

/** An SCTP-over-UDP client that never sends a SACK. */
class NeverSacks {
  readonly received: Uint8Array[] = [];
  private peerTag = 0;
  private tsn = 1000;
  private ssn = 0;
  readonly ownTag = 0x1234_5678;
  private waiters: Array<{ type: number; resolve: (chunk: Uint8Array) => void }> = [];

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly udpPort: number,
    private readonly sctpPort: number,
  ) {
    socket.on('message', (packet) => this.receive(new Uint8Array(packet)));
  }

  static async open(udpPort: number, sctpPort: number): Promise<NeverSacks> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new NeverSacks(socket, udpPort, sctpPort);
  }

  /** Every chunk type received (DATA included), in order. */
  readonly chunkTypes: number[] = [];
  dataBytes = 0;

  private receive(packet: Uint8Array): void {
    let o = 12;
    while (o + 4 <= packet.length) {
      const type = packet[o]!;
      const length = (packet[o + 2]! << 8) | packet[o + 3]!;
      if (length < 4 || o + length > packet.length) return;
      const chunk = packet.subarray(o, o + length);
      this.chunkTypes.push(type);
      if (type === 0) this.dataBytes += length - 16;
      const i = this.waiters.findIndex((w) => w.type === type);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(chunk);
      o += (length + 3) & ~3;
    }
  }

  private next(type: number, timeoutMs = 3000): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no chunk of type ${type} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ type, resolve: (c) => (clearTimeout(timer), resolve(c)) });
    });
  }

  private send(tag: number, chunks: Uint8Array[]): void {
    const size = 12 + chunks.reduce((n, c) => n + ((c.length + 3) & ~3), 0);
    const packet = new Uint8Array(size);
    const v = new DataView(packet.buffer);
    v.setUint16(0, 5000); // our SCTP port
    v.setUint16(2, this.sctpPort);
    v.setUint32(4, tag);
    let o = 12;
    for (const c of chunks) {
      packet.set(c, o);
      o += (c.length + 3) & ~3;
    }
    writeSctpChecksum(packet);
    this.socket.send(packet, this.udpPort, '127.0.0.1');
  }

  /** INIT → INIT ACK → COOKIE ECHO → COOKIE ACK (RFC 9260 §5.1). */
  async associate(): Promise<void> {
    const init = new Uint8Array(20);
    const v = new DataView(init.buffer);
    v.setUint8(0, 1);
    v.setUint16(2, 20);
    v.setUint32(4, this.ownTag);
    v.setUint32(8, 1024 * 1024); // a_rwnd: plenty, so only the missing SACKs hold the answers back
    v.setUint16(12, 1);
    v.setUint16(14, 1);
    v.setUint32(16, this.tsn);
    const initAck = this.next(2);
    this.send(0, [init]);
    const ack = await initAck;
    const av = new DataView(ack.buffer, ack.byteOffset, ack.byteLength);
    this.peerTag = av.getUint32(4);
    let cookie: Uint8Array | undefined;
    for (let o = 20; o + 4 <= ack.length; ) {
      const type = av.getUint16(o);
      const length = av.getUint16(o + 2);
      if (length < 4) break;
      if (type === 7) cookie = ack.slice(o + 4, o + length);
      o += (length + 3) & ~3;
    }
    if (cookie === undefined) throw new Error('INIT ACK without a State Cookie');
    const echo = new Uint8Array(4 + cookie.length);
    echo[0] = 10;
    new DataView(echo.buffer).setUint16(2, echo.length);
    echo.set(cookie, 4);
    const cookieAck = this.next(11);
    this.send(this.peerTag, [echo]);
    await cookieAck;
  }

  /** One ASAP message in one DATA chunk (B and E set, stream 0). */
  sendAsap(message: Uint8Array): void {
    const chunk = new Uint8Array(16 + message.length);
    const v = new DataView(chunk.buffer);
    v.setUint8(0, 0);
    v.setUint8(1, 0x03);
    v.setUint16(2, chunk.length);
    v.setUint32(4, this.tsn++);
    v.setUint16(8, 0);
    v.setUint16(10, this.ssn++ & 0xffff);
    v.setUint32(12, PPID_ASAP);
    chunk.set(message, 16);
    this.send(this.peerTag, [chunk]);
  }

  aborted(timeoutMs: number): Promise<Uint8Array> {
    return this.next(6, timeoutMs);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('send-queue limit', () => {
  it('a client that never acknowledges: answers dropped and counted, memory bounded, aborted after the timeout, others served', async () => {
    const t: TestRegistrar = await startTestRegistrar({ shards: 1, maxSendQueueBytes: LIMIT, sendQueueTimeout: TIMEOUT });
    cleanup.push(() => t.registrar.close());
    const address = t.registrar.asapAddress;
    const pe = await AsapPeer.connect(address);
    cleanup.push(() => pe.close());
    // Several PEs, so that an answer is a few hundred bytes.
    for (let id = 1; id <= 4; id++) await pe.register(POOL, id, policySettings(PolicyType.RoundRobin), 7000 + id);

    const stuck = await NeverSacks.open(address.udpPort!, address.port);
    cleanup.push(() => stuck.close());
    await stuck.associate();
    const request = encodeMessage(handleResolution(POOL, 4));
    const requests = 400;
    const started = performance.now();
    for (let i = 0; i < requests; i++) {
      stuck.sendAsap(request);
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
    }

    // Most answers cannot be queued: dropped and counted.
    await waitFor(async () => (await t.registrar.stats()).answersDropped > requests / 2, 5000, 'answers dropped');
    const endpoint = (t.registrar as unknown as { endpoint: SctpEndpoint }).endpoint;
    // What the stuck association holds (queued plus unacknowledged) stays within the limit.
    const held = endpoint.associations.map((a) => a.bufferedAmount);
    expect(Math.max(...held)).toBeGreaterThan(LIMIT / 2);
    expect(Math.max(...held)).toBeLessThanOrEqual(LIMIT);
    const full = t.logs.find((l) => l.msg === 'ASAP send queue full: messages dropped until the peer acknowledges');
    expect(full).toMatchObject({ limit: LIMIT, abortInMs: TIMEOUT });

    // Other clients are served meanwhile.
    const pu = await AsapPeer.connect(address);
    cleanup.push(() => pu.close());
    const answer = await pu.resolve(POOL, 4);
    expect(answer.poolElements.length).toBe(4);

    // Over the limit for the timeout: ABORT, logged with the peer's address.
    await stuck.aborted(TIMEOUT + 3000);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 50);
    const abort = t.logs.find((l) => l.msg === 'ASAP association aborted: its send queue stayed over the limit (the peer does not acknowledge)');
    expect(abort).toBeDefined();
    expect(abort!.level).toBe(LogLevel.warn);
    expect(abort!['peer']).toMatch(/^127\.0\.0\.1:5000$/);
    expect(abort!['overLimitMs'] as number).toBeGreaterThanOrEqual(TIMEOUT - 50);
    const s = await t.registrar.stats();
    expect(s.sendQueueAborts).toBe(1);
    expect(s.answersDropped).toBeGreaterThan(requests / 2);
    // What was sent at all is bounded by the limit (plus what the peer's window let out).
    expect(stuck.dataBytes).toBeLessThanOrEqual(LIMIT * 2);

    // And the registrar serves on: the same PU again, the PE's keep-alive association intact.
    expect((await pu.resolve(POOL, 4)).poolElements.length).toBe(4);
    expect(pe.association.state).toBe('up');
  });
});
