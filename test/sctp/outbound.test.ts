import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/sctp/clock.js';
import type { DataChunk, SackInfo } from '../../src/sctp/data-chunk.js';
import { Inbound } from '../../src/sctp/inbound.js';
import { Outbound, type OutboundOptions } from '../../src/sctp/outbound.js';
import { Path } from '../../src/sctp/path.js';
import { tsnAdd } from '../../src/sctp/serial.js';
import { seededRandom } from '../helpers/seeded-random.js';

const MTU = 1280;
const ITSN = 0xfffffffd;

function setup(overrides: Partial<OutboundOptions> = {}) {
  const clock = new VirtualClock();
  const timeouts: Path[] = [];
  let sendable = 0;
  const outbound = new Outbound({
    clock,
    initialTsn: ITSN,
    peerReceiveWindow: 100_000,
    outboundStreams: 4,
    maxQueueBytes: 1_000_000,
    maxFragmentSize: 1000,
    maxBurst: 4,
    onRetransmissionTimeout: (path) => timeouts.push(path),
    onSendable: () => sendable++,
    ...overrides,
  });
  const path = new Path({ address: '192.0.2.1' }, { rtoInitial: 3000, rtoMin: 1000, rtoMax: 60000, mtu: MTU, pathMaxRetrans: 5 }, clock);
  return { clock, outbound, path, timeouts, sendable: () => sendable };
}

/** Everything nextChunk gives for one packet of MTU - 12 bytes of chunk space. */
function packet(outbound: Outbound, path: Path, room = MTU - 12): DataChunk[] {
  const chunks: DataChunk[] = [];
  for (let chunk = outbound.nextChunk(path, room); chunk; chunk = outbound.nextChunk(path, room)) {
    chunks.push(chunk);
    room -= 16 + ((chunk.userData.length + 3) & ~3);
  }
  return chunks;
}

/** Offset of the highest TSN sent so far from the initial TSN. */
function tsnDiffFromItsn(outbound: Outbound): number {
  return (outbound.cumulativeTsnAck - ITSN + outbound.outstandingChunks) | 0;
}

function sack(cumOffset: number, gaps: Array<[number, number]> = [], aRwnd = 100_000): SackInfo {
  return { cumulativeTsnAck: tsnAdd(ITSN, cumOffset), advertisedReceiverWindow: aRwnd, gapAckBlocks: gaps, duplicateTsns: [] };
}

describe('Outbound: queue, fragmentation, TSN and SSN assignment (§6.6, §6.9)', () => {
  it('fragments by maxFragmentSize without copying, numbers TSNs across the wrap at first transmission', () => {
    const { outbound, path } = setup();
    const big = new Uint8Array(2500).map((_, i) => i & 0xff);
    expect(outbound.send(big, 7, 1, false)).toBe(true);
    expect(outbound.send(new Uint8Array(10), 8, 1, false)).toBe(true);
    expect(outbound.send(new Uint8Array(10), 9, 2, true)).toBe(true);
    expect(outbound.bufferedAmount).toBe(2520);
    const first = packet(outbound, path);
    expect(first.length).toBe(1); // 1016 + 1016 > 1268
    const rest = [...packet(outbound, path), ...packet(outbound, path)];
    const all = [...first, ...rest];
    expect(all.map((c) => c.tsn)).toEqual([0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1]);
    expect(all.map((c) => [c.beginning, c.ending])).toEqual([[true, false], [false, false], [false, true], [true, true], [true, true]]);
    expect(all.map((c) => c.ssn)).toEqual([0, 0, 0, 1, 0]);
    expect(all[4]!.unordered).toBe(true);
    expect(all[0]!.userData.buffer).toBe(big.buffer);
    expect(all[2]!.userData.length).toBe(500);
    expect(outbound.bufferedAmount).toBe(2520);
    expect(outbound.onSack(sack(4))).toBe(true);
    expect(outbound.bufferedAmount).toBe(0);
    expect(outbound.idle).toBe(true);
  });

  it('refuses a message beyond maxQueueBytes and queues nothing', () => {
    const { outbound } = setup({ maxQueueBytes: 3000 });
    expect(outbound.send(new Uint8Array(2000), 0, 0, false)).toBe(true);
    expect(outbound.send(new Uint8Array(1001), 0, 0, false)).toBe(false);
    expect(outbound.bufferedAmount).toBe(2000);
    expect(outbound.send(new Uint8Array(1000), 0, 0, false)).toBe(true);
    expect(() => outbound.send(new Uint8Array(1), 0, 4, false)).toThrow(RangeError);
    expect(() => outbound.send(new Uint8Array(0), 0, 0, false)).toThrow(RangeError);
  });
});

describe('Outbound: congestion and flow control (§6.1, §7.2)', () => {
  it('sends at most cwnd (rule B) and grows cwnd in slow start by at most one MTU per SACK', () => {
    const { outbound, path } = setup();
    for (let i = 0; i < 20; i++) outbound.send(new Uint8Array(1000), 0, 0, false);
    expect(path.cwnd).toBe(4380);
    let sent = 0;
    for (let p = packet(outbound, path); p.length > 0; p = packet(outbound, path)) sent += p.length;
    expect(sent).toBe(5); // flight 4000 < 4380 allows a 5th
    expect(path.flightSize).toBe(5000);
    outbound.onSack(sack(1));
    expect(path.cwnd).toBe(4380 + 1280); // min(2000 acked, MTU)
    expect(path.flightSize).toBe(3000);
  });

  it('does not grow cwnd when it is not fully used (§7.2.1), and grows by one MTU per cwnd acked in congestion avoidance (§7.2.2)', () => {
    const { outbound, path } = setup();
    outbound.send(new Uint8Array(500), 0, 0, false);
    packet(outbound, path);
    outbound.onSack(sack(0));
    expect(path.cwnd).toBe(4380);
    // congestion avoidance: cwnd > ssthresh
    path.ssthresh = 2000;
    path.cwnd = 3000;
    for (let i = 0; i < 12; i++) outbound.send(new Uint8Array(1000), 0, 0, false);
    outbound.beginFlush();
    expect(packet(outbound, path, 100_000).length).toBe(3); // flight 3000 >= cwnd
    outbound.onSack(sack(2)); // 2000 acked, flight was 3000 >= cwnd
    expect(path.partialBytesAcked).toBe(2000);
    expect(path.cwnd).toBe(3000);
    packet(outbound, path, 100_000);
    outbound.onSack(sack(3)); // pba 3000 >= cwnd: +1 MTU, pba - cwnd
    expect(path.cwnd).toBe(3000 + MTU);
    expect(path.partialBytesAcked).toBe(0);
    packet(outbound, path, 100_000);
    outbound.onSack(sack(tsnDiffFromItsn(outbound)));
    expect(path.partialBytesAcked).toBe(0); // everything acked: reset (§7.2.2)
  });

  it('honours Max.Burst per flush', () => {
    const { outbound, path } = setup({ maxBurst: 1 });
    path.cwnd = 100_000;
    for (let i = 0; i < 10; i++) outbound.send(new Uint8Array(400), 0, 0, false);
    outbound.beginFlush();
    const sent = packet(outbound, path, 100_000).length;
    expect(sent).toBe(4); // 4 * 416 >= 1280
    outbound.beginFlush();
    expect(packet(outbound, path, 100_000).length).toBe(4);
  });

  it('tracks the peer rwnd (§6.2.1) and probes a zero window with one chunk (§6.1 A)', () => {
    const { outbound, path, clock, timeouts } = setup({ peerReceiveWindow: 1500 });
    for (let i = 0; i < 4; i++) outbound.send(new Uint8Array(1000), 0, 0, false);
    expect(packet(outbound, path).length).toBe(1);
    expect(outbound.peerReceiveWindow).toBe(500);
    expect(packet(outbound, path).length).toBe(0); // 1000 > rwnd 500 and data in flight
    outbound.onSack(sack(0, [], 0));
    expect(outbound.peerReceiveWindow).toBe(0);
    // nothing in flight: one probe despite rwnd 0
    expect(packet(outbound, path).length).toBe(1);
    expect(packet(outbound, path).length).toBe(0);
    // the probe is lost: T3 retransmits it, still only it
    clock.advance(3000);
    expect(timeouts.length).toBe(1);
    const again = packet(outbound, path);
    expect(again.map((c) => c.tsn)).toEqual([tsnAdd(ITSN, 1)]);
    outbound.onSack(sack(1, [], 0));
    expect(packet(outbound, path).length).toBe(1);
    outbound.onSack(sack(2, [], 5000));
    expect(packet(outbound, path).length).toBe(1);
    expect(outbound.idle).toBe(false);
    outbound.onSack(sack(3, [], 5000));
    expect(outbound.idle).toBe(true);
  });
});

describe('Outbound: retransmission (§6.3, §7.2.3, §7.2.4)', () => {
  it('T3-rtx: backs off the RTO, cwnd to 1 MTU, ssthresh per §7.2.3, retransmits earliest first', () => {
    const { outbound, path, clock, timeouts, sendable } = setup();
    for (let i = 0; i < 4; i++) outbound.send(new Uint8Array(1000), 0, 0, false);
    const sent = [...packet(outbound, path), ...packet(outbound, path), ...packet(outbound, path), ...packet(outbound, path)];
    expect(sent.length).toBe(4);
    clock.advance(2999);
    expect(timeouts.length).toBe(0);
    clock.advance(1);
    expect(timeouts).toEqual([path]);
    expect(sendable()).toBe(1);
    expect(path.rto).toBe(6000);
    expect(path.cwnd).toBe(MTU);
    expect(path.ssthresh).toBe(4 * MTU); // max(4380/2, 4*MTU)
    expect(path.flightSize).toBe(0);
    expect(outbound.retransmitPending).toBe(4);
    const resent = packet(outbound, path);
    expect(resent.map((c) => c.tsn)).toEqual([ITSN]);
    expect(packet(outbound, path).length).toBe(1); // flight 1000 < cwnd 1280
    expect(packet(outbound, path).length).toBe(0);
    // again no answer: RTO doubles again
    clock.advance(6000);
    expect(timeouts.length).toBe(2);
    expect(path.rto).toBe(12000);
    // the SACK for the retransmissions: no RTT sample (Karn), RTO stays backed off
    packet(outbound, path);
    outbound.onSack(sack(3));
    expect(path.srtt).toBeUndefined();
    expect(outbound.idle).toBe(true);
    expect(path.t3Deadline).toBeUndefined();
    clock.advance(60_000);
    expect(timeouts.length).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('measures RTT on chunks sent once and restarts T3 per R3, stops it per R2', () => {
    const { outbound, path, clock, timeouts } = setup();
    outbound.send(new Uint8Array(100), 0, 0, false);
    outbound.send(new Uint8Array(100), 0, 0, false);
    packet(outbound, path);
    clock.advance(200);
    outbound.onSack(sack(0));
    expect(path.srtt).toBe(200);
    expect(path.rto).toBe(1000); // 200 + 4*100 < RTO.Min
    expect(path.t3Deadline).toBe(1200); // restarted with the new RTO (R3)
    expect(clock.pendingTimers).toBe(1); // the clock timer is re-armed, not duplicated
    clock.advance(999);
    expect(timeouts.length).toBe(0);
    outbound.onSack(sack(1));
    expect(path.t3Deadline).toBeUndefined(); // R2
    clock.advance(10_000);
    expect(timeouts.length).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    // restarted per SACK without arming a timer per SACK; expiry still exact
    outbound.send(new Uint8Array(100), 0, 0, false);
    outbound.send(new Uint8Array(100), 0, 0, false);
    packet(outbound, path);
    const sentAt = clock.now();
    clock.advance(500);
    outbound.onSack(sack(2));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(path.rto - 1);
    expect(timeouts.length).toBe(0);
    clock.advance(1);
    expect(timeouts.length).toBe(1);
    expect(clock.now() - sentAt).toBe(500 + 1000);
  });

  it('fast retransmit on the 3rd miss indication, once, with cwnd halved once (Fast Recovery)', () => {
    const { outbound, path, timeouts } = setup();
    path.cwnd = 20 * MTU;
    for (let i = 0; i < 10; i++) outbound.send(new Uint8Array(1000), 0, 0, false);
    outbound.beginFlush();
    let sent: DataChunk[] = [];
    for (let p = packet(outbound, path); p.length > 0; p = packet(outbound, path)) sent = sent.concat(p);
    expect(sent.length).toBe(6); // Max.Burst: new data until 4 * 1280 bytes are reached
    outbound.beginFlush();
    for (let p = packet(outbound, path); p.length > 0; p = packet(outbound, path)) sent = sent.concat(p);
    expect(sent.length).toBe(10);
    // TSN offset 1 lost: SACKs cum 0 with growing gap blocks
    expect(outbound.onSack(sack(0, [[2, 2]]))).toBe(true);
    expect(outbound.onSack(sack(0, [[2, 3]]))).toBe(true);
    expect(outbound.retransmitPending).toBe(0);
    expect(outbound.onSack(sack(0, [[2, 4]]))).toBe(true);
    expect(outbound.retransmitPending).toBe(1);
    expect(outbound.fastRetransmits).toBe(1);
    expect(outbound.inFastRecovery).toBe(true);
    expect(path.ssthresh).toBe(10 * MTU);
    expect(path.cwnd).toBe(10 * MTU);
    // sent at once even though flight (6000) and cwnd would not otherwise matter
    path.cwnd = 1; // "SHOULD ignore the value of cwnd" for that packet
    const resent = packet(outbound, path);
    expect(resent.map((c) => c.tsn)).toEqual([tsnAdd(ITSN, 1)]);
    path.cwnd = 10 * MTU;
    // more miss reports do not fast-retransmit it again nor cut cwnd again
    outbound.onSack(sack(0, [[2, 5]]));
    outbound.onSack(sack(0, [[2, 6]]));
    outbound.onSack(sack(0, [[2, 7]]));
    expect(outbound.fastRetransmits).toBe(1);
    expect(path.cwnd).toBe(10 * MTU);
    outbound.onSack(sack(9));
    expect(outbound.inFastRecovery).toBe(false);
    expect(outbound.idle).toBe(true);
    expect(timeouts.length).toBe(0);
  });

  it('keeps gap-acked chunks until cumulatively acked and handles reneging (RFC 9260 §6.2.1)', () => {
    const { outbound, path, clock, timeouts } = setup();
    for (let i = 0; i < 3; i++) outbound.send(new Uint8Array(100), 0, 0, false);
    packet(outbound, path);
    outbound.onSack(sack(-1, [[2, 3]]));
    expect(outbound.bufferedAmount).toBe(300);
    expect(path.flightSize).toBe(100);
    outbound.onSack(sack(-1, [])); // the peer reneged on TSNs 2 and 3
    expect(outbound.bufferedAmount).toBe(300);
    clock.advance(3000);
    expect(timeouts.length).toBe(1);
    expect(packet(outbound, path).length).toBe(3);
    outbound.onSack(sack(2));
    expect(outbound.idle).toBe(true);
  });

  it('multi-homed: T3 on one path marks only its chunks, retransmitted on an alternate path (§6.4, §6.3.3)', () => {
    const { outbound, path, clock, timeouts } = setup();
    const other = new Path({ address: '192.0.2.2' }, { rtoInitial: 5000, rtoMin: 1000, rtoMax: 60000, mtu: MTU, pathMaxRetrans: 5 }, clock);
    for (let i = 0; i < 4; i++) outbound.send(new Uint8Array(100), 0, 0, false);
    expect(packet(outbound, path, 2 * 116).length).toBe(2); // TSNs 0, 1 to path
    expect(packet(outbound, other, 2 * 116).length).toBe(2); // TSNs 2, 3 to other
    clock.advance(3000);
    expect(timeouts).toEqual([path]);
    expect(outbound.retransmitPending).toBe(2);
    expect(other.flightSize).toBe(200);
    const resent = packet(outbound, other);
    expect(resent.map((c) => c.tsn)).toEqual([ITSN, tsnAdd(ITSN, 1)]);
    expect(other.flightSize).toBe(400);
    expect(path.flightSize).toBe(0);
    expect(path.t3Deadline).toBeUndefined(); // nothing left outstanding there
    expect(path.rto).toBe(6000);
    expect(other.rto).toBe(5000);
    outbound.onSack(sack(3));
    expect(outbound.idle).toBe(true);
    expect(other.t3Deadline).toBeUndefined();
  });

  it('pathFailed moves outstanding chunks to another path (§6.4.1)', () => {
    const { outbound, path, clock } = setup();
    const other = new Path({ address: '192.0.2.2' }, { rtoInitial: 1000, rtoMin: 1000, rtoMax: 60000, mtu: MTU, pathMaxRetrans: 5 }, clock);
    outbound.send(new Uint8Array(100), 0, 0, false);
    packet(outbound, path);
    outbound.pathFailed(path);
    expect(path.flightSize).toBe(0);
    expect(packet(outbound, other).map((c) => c.tsn)).toEqual([ITSN]);
    expect(other.flightSize).toBe(100);
    expect(path.t3Deadline).toBeUndefined();
    outbound.onSack(sack(0));
    expect(outbound.idle).toBe(true);
    expect(other.t3Deadline).toBeUndefined();
    outbound.stop();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Outbound: hostile SACKs', () => {
  it('rejects a cum ack behind the ack point or beyond the highest TSN sent', () => {
    const { outbound, path } = setup();
    for (let i = 0; i < 3; i++) outbound.send(new Uint8Array(100), 0, 0, false);
    packet(outbound, path);
    expect(outbound.onSack(sack(5))).toBe(false);
    expect(outbound.onSack(sack(0))).toBe(true);
    expect(outbound.onSack(sack(-1))).toBe(false);
    expect(outbound.onSack({ ...sack(0), cumulativeTsnAck: tsnAdd(ITSN, 100_000) })).toBe(false);
    expect(outbound.rejectedSacks).toBe(3);
    expect(outbound.bufferedAmount).toBe(200);
  });

  it('ignores gap blocks out of order, overlapping, empty or beyond what was sent; survives a million', () => {
    const { outbound, path } = setup();
    for (let i = 0; i < 5; i++) outbound.send(new Uint8Array(100), 0, 0, false);
    packet(outbound, path);
    expect(outbound.onSack(sack(-1, [[3, 3], [2, 2], [3, 4], [5, 9000], [0, 1], [7, 6]]))).toBe(true);
    expect(outbound.ignoredGapBlocks).toBe(4); // [2,2], [3,4] overlaps, [0,1] after, [7,6]
    expect(path.flightSize).toBe(300); // offsets 3 and 5 acked
    const many: Array<[number, number]> = [];
    for (let i = 0; i < 1_000_000; i++) many.push([i + 1, i + 1]);
    expect(outbound.onSack(sack(-1, many))).toBe(true);
    expect(path.flightSize).toBe(0);
    expect(outbound.bufferedAmount).toBe(500);
    expect(outbound.onSack(sack(4))).toBe(true);
    expect(outbound.idle).toBe(true);
  });

  it('property: random SACKs never throw and never free or count memory wrongly', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            cum: fc.integer({ min: -3, max: 40 }),
            gaps: fc.array(fc.tuple(fc.integer({ min: -5, max: 70000 }), fc.integer({ min: -5, max: 70000 })), { maxLength: 8 }),
            aRwnd: fc.integer({ min: 0, max: 0xffffffff }),
            sendMore: fc.integer({ min: 0, max: 3 }),
            advance: fc.integer({ min: 0, max: 5000 }),
          }),
          { maxLength: 60 },
        ),
        (steps) => {
          const { outbound, path, clock } = setup({ maxQueueBytes: 20_000 });
          let queued = 0;
          for (const step of steps) {
            for (let i = 0; i < step.sendMore; i++) if (outbound.send(new Uint8Array(700), 0, 0, false)) queued += 700;
            outbound.beginFlush();
            packet(outbound, path);
            outbound.onSack(sack(step.cum, step.gaps, step.aRwnd));
            clock.advance(step.advance);
            if (outbound.bufferedAmount < 0 || outbound.bufferedAmount > 20_000) return false;
            if (path.flightSize < 0 || path.flightSize > outbound.bufferedAmount) return false;
          }
          return queued >= outbound.bufferedAmount;
        },
      ),
      { numRuns: 200, seed: 9260 },
    );
  });
});


describe('Outbound to Inbound through a lossy channel', () => {
  for (const [seed, window] of [[1, 30_000], [2, 30_000], [3, 30_000], [42, 30_000], [7, 6000], [8, 3000]] as const) {
    it(`every message arrives once, complete, in order per stream; memory returns to 0 (seed ${seed}, window ${window})`, () => {
      const outbound = lossyRun(seed, window, 300, 0.1, 0.05);
      expect(outbound.retransmissions).toBeGreaterThan(0);
      if (window > 3000) expect(outbound.fastRetransmits).toBeGreaterThan(0);
    });
  }

  it('property: the same over random seeds, windows, loss and duplication rates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 2000, max: 60_000 }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.double({ min: 0, max: 0.2, noNaN: true }),
        (seed, window, loss, duplication) => {
          lossyRun(seed, window, 60, loss, duplication);
        },
      ),
      { numRuns: 25, seed: 6951, examples: [[0, 2000, 0.27395062451250857, 0]] },
    );
  });
});

/** Sends `messages` random messages (some fragmented, some unordered, three streams) from an
 *  Outbound to an Inbound through a channel that loses, duplicates and reorders DATA and SACK
 *  packets; asserts exactly-once, complete, in-order delivery and that all memory is freed. */
function lossyRun(seed: number, window: number, messages: number, loss: number, duplication: number): Outbound {
    const random = seededRandom(seed);
    const clock = new VirtualClock();
    const path = new Path({ address: '192.0.2.1' }, { rtoInitial: 1000, rtoMin: 200, rtoMax: 4000, mtu: MTU, pathMaxRetrans: 1000 }, clock);
    const received: Map<number, string[]> = new Map();
    const unordered = new Set<string>();
    const inbound = new Inbound({
      peerInitialTsn: 0xfffffff0,
      inboundStreams: 3,
      receiveWindow: window,
      maxReassemblyBytes: window + 40_000,
      deliver: (payload, ppid, streamId) => {
        const text = checkPayload(payload, ppid);
        if (ppid === 1) {
          expect(unordered.has(text)).toBe(false);
          unordered.add(text);
        } else {
          const list = received.get(streamId) ?? [];
          list.push(text);
          received.set(streamId, list);
        }
      },
    });
    let flushQueued = false;
    const outbound = new Outbound({
      clock,
      initialTsn: 0xfffffff0,
      peerReceiveWindow: window,
      outboundStreams: 3,
      maxQueueBytes: 10_000_000,
      maxFragmentSize: 1200,
      maxBurst: 4,
      onRetransmissionTimeout: () => {},
      onSendable: () => {
        if (!flushQueued) {
          flushQueued = true;
          clock.defer(() => {
            flushQueued = false;
            flush();
          });
        }
      },
    });
    // payload: "<stream>:<n>:" then filler bytes that encode their own position
    const sent: Map<number, string[]> = new Map([[0, []], [1, []], [2, []]]);
    const sentUnordered = new Set<string>();
    
    for (let n = 0; n < messages; n++) {
      const streamId = Math.floor(random() * 3);
      const isUnordered = random() < 0.15;
      const id = `${streamId}:${n}`;
      const size = random() < 0.2 ? 1200 + Math.floor(random() * 6000) : 1 + Math.floor(random() * 300);
      outbound.send(makePayload(id, size), isUnordered ? 1 : 0, streamId, isUnordered);
      if (isUnordered) sentUnordered.add(id);
      else sent.get(streamId)!.push(id);
    }
    const channel = (action: () => void) => {
      const r = random();
      if (r < loss) return; // lost
      const delay = 5 + Math.floor(random() * 30); // reordering through varied delays
      clock.setTimer(delay, action);
      if (r > 1 - duplication) clock.setTimer(delay + 7, action); // duplicated
    };
    let sackTimer: unknown;
    const sendSack = () => {
      if (sackTimer !== undefined) clock.clearTimer(sackTimer);
      sackTimer = undefined;
      const s = inbound.sack(1200);
      const copy: SackInfo = { ...s, gapAckBlocks: s.gapAckBlocks.map(([a, b]) => [a, b]), duplicateTsns: [...s.duplicateTsns] };
      channel(() => {
        outbound.onSack(copy);
        flush(); // as the association does after every SACK
      });
    };
    const flush = () => {
      outbound.beginFlush();
      for (let p = packet(outbound, path); p.length > 0; p = packet(outbound, path)) {
        const chunks = p.map((c) => ({ ...c }));
        channel(() => {
          for (const c of chunks) inbound.onData(c);
          if (inbound.packetDone()) sendSack();
          else if (sackTimer === undefined) sackTimer = clock.setTimer(200, sendSack);
        });
      }
    };
    flush();
    for (let i = 0; i < 20_000 && !outbound.idle; i++) clock.advance(50);
    expect(outbound.idle).toBe(true);
    expect(outbound.bufferedAmount).toBe(0);
    expect(inbound.bufferedBytes).toBe(0);
    expect(inbound.heldItems).toBe(0);
    for (const [streamId, list] of sent) expect(received.get(streamId) ?? []).toEqual(list);
    expect(unordered).toEqual(sentUnordered);
    expect(inbound.abandonedMessages).toBe(0);
    outbound.stop();
  return outbound;
}

function makePayload(id: string, size: number): Uint8Array {
  const head = new TextEncoder().encode(`${id}|`);
  const payload = new Uint8Array(Math.max(size, head.length));
  payload.set(head);
  for (let i = head.length; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  return payload;
}

function checkPayload(payload: Uint8Array, _ppid: number): string {
  const bar = payload.indexOf(0x7c);
  const id = new TextDecoder().decode(payload.subarray(0, bar));
  for (let i = bar + 1; i < payload.length; i++) if (payload[i] !== ((i * 31) & 0xff)) throw new Error(`corrupt ${id} at ${i}`);
  return id;
}
