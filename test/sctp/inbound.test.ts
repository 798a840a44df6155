import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DataChunk } from '../../src/sctp/data-chunk.js';
import { Inbound, type InboundOptions } from '../../src/sctp/inbound.js';
import { tsnAdd } from '../../src/sctp/serial.js';

interface Delivered {
  text: string;
  ppid: number;
  streamId: number;
  payload: Uint8Array;
}

function setup(overrides: Partial<InboundOptions> = {}) {
  const delivered: Delivered[] = [];
  const inbound = new Inbound({
    peerInitialTsn: 0xfffffffe,
    inboundStreams: 4,
    receiveWindow: 64 * 1024,
    maxReassemblyBytes: 256 * 1024,
    deliver: (payload, ppid, streamId) =>
      delivered.push({ text: new TextDecoder().decode(payload), ppid, streamId, payload }),
    ...overrides,
  });
  return { inbound, delivered };
}

const ITSN = 0xfffffffe;

function data(tsnOffset: number, text: string, fields: Partial<DataChunk> = {}): DataChunk {
  return {
    tsn: tsnAdd(ITSN, tsnOffset),
    streamId: 0,
    ssn: 0,
    ppid: 51,
    unordered: false,
    beginning: true,
    ending: true,
    immediate: false,
    userData: new TextEncoder().encode(text),
    ...fields,
  };
}

describe('Inbound: TSNs and SACKs (RFC 9260 §6.2, §6.7)', () => {
  it('acknowledges in-sequence DATA across the TSN wrap and delivers the very view (zero copy)', () => {
    const { inbound, delivered } = setup();
    expect(inbound.cumulativeTsn).toBe(0xfffffffd);
    const chunks = [0, 1, 2, 3].map((i) => data(i, `m${i}`, { ssn: i }));
    for (const chunk of chunks) expect(inbound.onData(chunk)).toBe('new');
    expect(inbound.cumulativeTsn).toBe(1);
    expect(delivered.map((d) => d.text)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(delivered[0]!.payload).toBe(chunks[0]!.userData);
    const sack = inbound.sack(1200);
    expect(sack).toEqual({ cumulativeTsnAck: 1, advertisedReceiverWindow: 64 * 1024, gapAckBlocks: [], duplicateTsns: [] });
    expect(inbound.bufferedBytes).toBe(0);
  });

  it('reports gaps as Gap Ack Blocks relative to the cumulative TSN, and duplicates', () => {
    const { inbound } = setup();
    inbound.onData(data(0, 'a', { unordered: true }));
    inbound.onData(data(2, 'c', { unordered: true }));
    inbound.onData(data(3, 'd', { unordered: true }));
    inbound.onData(data(6, 'g', { unordered: true }));
    expect(inbound.onData(data(3, 'd', { unordered: true }))).toBe('duplicate');
    expect(inbound.onData(data(0, 'a', { unordered: true }))).toBe('duplicate');
    let sack = inbound.sack(1200);
    expect(sack.cumulativeTsnAck).toBe(ITSN);
    expect(sack.gapAckBlocks).toEqual([[2, 3], [6, 6]]);
    expect(sack.duplicateTsns).toEqual([tsnAdd(ITSN, 3), ITSN]);
    // filling the hole absorbs the run
    inbound.onData(data(1, 'b', { unordered: true }));
    sack = inbound.sack(1200);
    expect(sack.cumulativeTsnAck).toBe(tsnAdd(ITSN, 3));
    expect(sack.gapAckBlocks).toEqual([[3, 3]]);
    expect(sack.duplicateTsns).toEqual([]);
    expect(inbound.duplicateChunks).toBe(2);
  });

  it('caps gap blocks and duplicates to the SACK room, and the duplicate list to 64', () => {
    const { inbound } = setup();
    for (let i = 1; i < 200; i += 2) inbound.onData(data(i, 'x', { unordered: true }));
    for (let i = 0; i < 100; i++) inbound.onData(data(-5, 'x', { unordered: true }));
    expect(inbound.duplicateChunks).toBe(100);
    const sack = inbound.sack(16 + 4 * 20);
    expect(sack.gapAckBlocks.length).toBe(20);
    expect(sack.duplicateTsns.length).toBe(0);
    for (let i = 0; i < 100; i++) inbound.onData(data(-5, 'x', { unordered: true }));
    expect(inbound.sack(100_000).duplicateTsns.length).toBe(64);
  });

  it('delayed SACK: every 2nd packet, at once on a gap, a duplicate or the I bit (§6.2, RFC 7053)', () => {
    const { inbound } = setup();
    inbound.onData(data(0, 'a', { ssn: 0 }));
    expect(inbound.packetDone()).toBe(false);
    inbound.onData(data(1, 'b', { ssn: 1 }));
    expect(inbound.packetDone()).toBe(true);
    inbound.sack(1200);
    inbound.onData(data(2, 'c', { ssn: 2 }));
    expect(inbound.packetDone()).toBe(false);
    inbound.sack(1200); // the delayed SACK timer fired
    inbound.onData(data(3, 'c', { ssn: 3, immediate: true }));
    expect(inbound.packetDone()).toBe(true);
    inbound.sack(1200);
    inbound.onData(data(5, 'e', { ssn: 5 })); // gap
    expect(inbound.packetDone()).toBe(true);
    inbound.sack(1200);
    inbound.onData(data(4, 'd', { ssn: 4 })); // gap closes: SACK at once too
    expect(inbound.packetDone()).toBe(true);
    inbound.sack(1200);
    inbound.onData(data(4, 'd', { ssn: 4 })); // duplicate
    expect(inbound.packetDone()).toBe(true);
  });
});

describe('Inbound: ordering and unordered delivery (§6.5, §6.6)', () => {
  it('reorders per stream; other streams and unordered messages are not held back', () => {
    const { inbound, delivered } = setup();
    inbound.onData(data(1, 's0-1', { streamId: 0, ssn: 1 }));
    inbound.onData(data(2, 's1-0', { streamId: 1, ssn: 0 }));
    inbound.onData(data(3, 'u', { streamId: 0, unordered: true, ssn: 77 }));
    expect(delivered.map((d) => d.text)).toEqual(['s1-0', 'u']);
    expect(inbound.bufferedBytes).toBe(4);
    expect(inbound.receiveWindowNow).toBe(64 * 1024 - 4);
    inbound.onData(data(0, 's0-0', { streamId: 0, ssn: 0 }));
    expect(delivered.map((d) => d.text)).toEqual(['s1-0', 'u', 's0-0', 's0-1']);
    expect(inbound.bufferedBytes).toBe(0);
    expect(inbound.heldItems).toBe(0);
  });

  it('wraps the 16-bit SSN', () => {
    const { inbound, delivered } = setup();
    // 2^16 + 0xfffe messages in sequence (one shared chunk object, re-numbered) bring the
    // next SSN to 0xfffe after one full wrap
    const base = 0x10000 + 0xfffe;
    const fill = data(0, 'fill');
    let count = 0;
    const counting = new Inbound({
      peerInitialTsn: ITSN,
      inboundStreams: 1,
      receiveWindow: 1000,
      maxReassemblyBytes: 4000,
      deliver: () => count++,
    });
    for (let i = 0; i < base; i++) {
      fill.tsn = tsnAdd(ITSN, i);
      fill.ssn = i & 0xffff;
      counting.onData(fill);
    }
    expect(count).toBe(base);
    counting.onData(data(base + 1, 'x', { ssn: 0xffff }));
    expect(count).toBe(base);
    counting.onData(data(base, 'x', { ssn: 0xfffe }));
    expect(count).toBe(base + 2);
    // and the same with an Inbound that records payloads, starting from SSN 0xfffe
    for (let i = 0; i < 0xfffe; i++) inbound.onData(data(i, 'fill', { ssn: i }));
    const at = 0xfffe;
    inbound.onData(data(at + 3, 'ssn1', { ssn: 1 }));
    inbound.onData(data(at + 2, 'ssn0', { ssn: 0 }));
    inbound.onData(data(at + 1, 'ssnffff', { ssn: 0xffff }));
    expect(delivered.at(-1)!.text).toBe('fill');
    inbound.onData(data(at, 'ssnfffe', { ssn: 0xfffe }));
    expect(delivered.slice(-4).map((d) => d.text)).toEqual(['ssnfffe', 'ssnffff', 'ssn0', 'ssn1']);
    expect(inbound.heldItems).toBe(0);
  });
});

describe('Inbound: reassembly (§6.9)', () => {
  it('concatenates fragments once, in or out of order, with the TSN wrap inside the message', () => {
    const { inbound, delivered } = setup();
    // TSNs 0xfffffffe, 0xffffffff, 0, 1 (offsets 0..3)
    inbound.onData(data(3, 'rld', { beginning: false, ending: true }));
    inbound.onData(data(0, 'hel', { beginning: true, ending: false }));
    inbound.onData(data(2, ' wo', { beginning: false, ending: false }));
    expect(delivered).toEqual([]);
    expect(inbound.bufferedBytes).toBe(9);
    inbound.onData(data(1, 'lo', { beginning: false, ending: false }));
    expect(delivered.map((d) => d.text)).toEqual(['hello world']);
    expect(inbound.bufferedBytes).toBe(0);
    expect(inbound.heldItems).toBe(0);
  });

  it('unordered fragmented message is delivered when complete; ordered one waits for its SSN', () => {
    const { inbound, delivered } = setup();
    inbound.onData(data(1, 'A1', { ssn: 1, beginning: true, ending: false }));
    inbound.onData(data(2, 'A2', { ssn: 1, beginning: false, ending: true }));
    inbound.onData(data(3, 'U1', { unordered: true, beginning: true, ending: false }));
    inbound.onData(data(4, 'U2', { unordered: true, beginning: false, ending: true }));
    expect(delivered.map((d) => d.text)).toEqual(['U1U2']);
    inbound.onData(data(0, 'Z', { ssn: 0 }));
    expect(delivered.map((d) => d.text)).toEqual(['U1U2', 'Z', 'A1A2']);
    expect(inbound.heldItems).toBe(0);
  });

  it('frees a B without E followed by another B, and skips its SSN', () => {
    const { inbound, delivered } = setup();
    inbound.onData(data(0, 'x1', { ssn: 0, beginning: true, ending: false }));
    inbound.onData(data(1, 'y1', { ssn: 1, beginning: true, ending: false }));
    expect(inbound.abandonedMessages).toBe(1);
    inbound.onData(data(2, 'y2', { ssn: 1, beginning: false, ending: true }));
    expect(delivered.map((d) => d.text)).toEqual(['y1y2']);
    expect(inbound.heldItems).toBe(0);
    expect(inbound.bufferedBytes).toBe(0);
  });

  it('frees fragments whose stream or ppid changes within a message', () => {
    const { inbound, delivered } = setup();
    inbound.onData(data(0, 'a', { ssn: 0, beginning: true, ending: false }));
    inbound.onData(data(1, 'b', { ssn: 0, streamId: 1, beginning: false, ending: true }));
    inbound.onData(data(2, 'c', { ssn: 1, beginning: true, ending: false }));
    inbound.onData(data(3, 'd', { ssn: 1, ppid: 99, beginning: false, ending: true }));
    expect(delivered).toEqual([]);
    expect(inbound.heldItems).toBe(0);
    expect(inbound.bufferedBytes).toBe(0);
    expect(inbound.cumulativeTsn).toBe(tsnAdd(ITSN, 3));
    // the stream goes on with the next SSN
    inbound.onData(data(4, 'next', { ssn: 2 }));
    expect(delivered.map((d) => d.text)).toEqual(['next']);
  });

  it('frees a middle fragment without a beginning once it can never complete', () => {
    const { inbound, delivered } = setup();
    inbound.onData(data(5, 'mid', { ssn: 3, beginning: false, ending: false }));
    expect(inbound.heldItems).toBe(1);
    for (let i = 0; i < 5; i++) inbound.onData(data(i, 'w', { unordered: true }));
    // what is left is the skip of SSN 3, so the stream does not wait for it forever
    expect(inbound.heldItems).toBe(1);
    expect(inbound.bufferedBytes).toBe(0);
    expect(inbound.orphanedFragments).toBe(1);
    for (let i = 0; i < 5; i++) if (i !== 3) inbound.onData(data(6 + i, `o${i}`, { ssn: i }));
    expect(delivered.map((d) => d.text)).toEqual(['w', 'w', 'w', 'w', 'w', 'o0', 'o1', 'o2', 'o4']);
    expect(inbound.heldItems).toBe(0);
    // and a non-B first chunk of the association is an orphan at once
    const other = setup();
    other.inbound.onData(data(0, 'mid', { beginning: false, ending: true }));
    expect(other.inbound.heldItems).toBe(0);
  });

  it('abandons a message larger than the cap, acknowledges it, and goes on', () => {
    const { inbound, delivered } = setup({ maxReassemblyBytes: 4096, receiveWindow: 2048 });
    const fragment = 'x'.repeat(1000);
    let offset = 0;
    for (let i = 0; i < 8; i++) {
      const verdict = inbound.onData(data(offset++, fragment, { ssn: 0, beginning: i === 0, ending: i === 7 }));
      expect(verdict).toBe('new');
      expect(inbound.bufferedBytes).toBeLessThanOrEqual(4096);
    }
    expect(inbound.abandonedMessages).toBe(1);
    expect(inbound.bufferedBytes).toBe(0);
    expect(inbound.cumulativeTsn).toBe(tsnAdd(ITSN, 7));
    inbound.onData(data(offset, 'small', { ssn: 1 }));
    expect(delivered.map((d) => d.text)).toEqual(['small']);
  });
});

describe('Inbound: hostile input', () => {
  it('keeps a TSN exactly maxTsnSpan ahead, drops one further', () => {
    const { inbound } = setup({ maxTsnSpan: 1000 });
    expect(inbound.onData(data(1000, 'x', { unordered: true }))).toBe('dropped'); // cum + 1001
    expect(inbound.onData(data(999, 'x', { unordered: true }))).toBe('new'); // cum + 1000
    expect(inbound.sack(1200).gapAckBlocks).toEqual([[1000, 1000]]);
    expect(inbound.onData(data(0, 'x', { unordered: true }))).toBe('new');
    expect(inbound.onData(data(1000, 'x', { unordered: true }))).toBe('new');
  });

  it('drops a TSN 100,000 ahead and holds nothing (the old "gap interval too big" crash)', () => {
    const { inbound } = setup();
    expect(inbound.onData(data(100_000, 'far', { beginning: true, ending: false }))).toBe('dropped');
    expect(inbound.onData(data(100_000, 'far', { unordered: true }))).toBe('dropped');
    expect(inbound.droppedChunks).toBe(2);
    expect(inbound.heldItems).toBe(0);
    expect(inbound.packetDone()).toBe(true); // a drop asks for a SACK at once
    expect(inbound.sack(1200).gapAckBlocks).toEqual([]);
  });

  it('drops out-of-sequence data beyond the advertised window (§6.2) and takes it later', () => {
    const { inbound, delivered } = setup({ receiveWindow: 10 });
    expect(inbound.onData(data(2, 'abcdefgh', { ssn: 2 }))).toBe('new');
    expect(inbound.onData(data(3, 'abcdefgh', { ssn: 3 }))).toBe('dropped');
    expect(inbound.receiveWindowNow).toBe(2);
    expect(inbound.sack(1200).gapAckBlocks).toEqual([[3, 3]]);
    inbound.onData(data(0, 'a', { ssn: 0 }));
    inbound.onData(data(1, 'b', { ssn: 1 }));
    expect(inbound.onData(data(3, 'abcdefgh', { ssn: 3 }))).toBe('new');
    expect(delivered.length).toBe(4);
  });

  it('an unknown stream is acknowledged but not delivered (§6.5)', () => {
    const { inbound, delivered } = setup();
    expect(inbound.onData(data(0, 'x', { streamId: 9 }))).toBe('invalid-stream');
    expect(inbound.onData(data(1, 'x', { streamId: 1.5 }))).toBe('invalid-stream');
    expect(inbound.cumulativeTsn).toBe(tsnAdd(ITSN, 1));
    expect(delivered).toEqual([]);
  });

  it('far-behind TSNs are duplicates, the list bounded', () => {
    const { inbound } = setup();
    for (let i = 0; i < 1000; i++) expect(inbound.onData(data(-1000 - i * 1000, 'x'))).toBe('duplicate');
    expect(inbound.sack(100_000).duplicateTsns.length).toBe(64);
  });

  it('property: SACKs report exactly the TSNs accepted (cumulative TSN and gap blocks)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ offset: fc.integer({ min: -3, max: 40 }), unordered: fc.boolean(), b: fc.boolean(), e: fc.boolean(), size: fc.integer({ min: 1, max: 900 }) }), { maxLength: 200 }),
        (chunks) => {
          const { inbound } = setup({ receiveWindow: 3000, maxReassemblyBytes: 9000, maxTsnSpan: 30 });
          const accepted = new Set<number>();
          for (const c of chunks) {
            const verdict = inbound.onData(data(c.offset, 'x'.repeat(c.size), { unordered: c.unordered, beginning: c.b, ending: c.e, ssn: 0 }));
            if (verdict === 'new' || verdict === 'invalid-stream') {
              if (accepted.has(c.offset) || c.offset < 0) return false;
              accepted.add(c.offset);
            } else if (verdict === 'duplicate') {
              if (!accepted.has(c.offset) && c.offset >= 0) return false;
            } else if (accepted.has(c.offset)) {
              return false; // 'dropped' is never a TSN received before
            }
            const sack = inbound.sack(100_000);
            const cum = (sack.cumulativeTsnAck - ITSN) | 0;
            for (let t = 0; t <= cum; t++) if (!accepted.has(t)) return false;
            if (accepted.has(cum + 1)) return false;
            const reported = new Set<number>();
            let previous = 0;
            for (const [start, end] of sack.gapAckBlocks) {
              if (start <= previous + 1 && previous !== 0) return false; // separated by a gap
              for (let t = start; t <= end; t++) reported.add(cum + t);
              previous = end;
            }
            for (const t of accepted) if (t > cum && !reported.has(t)) return false;
            for (const t of reported) if (!accepted.has(t)) return false;
          }
          return true;
        },
      ),
      { numRuns: 300, seed: 1982 },
    );
  });

  it('property: random chunk sequences never throw and stay within the caps', () => {
    const cap = 8192;
    const chunkArb = fc.record({
      offset: fc.oneof(fc.integer({ min: -20, max: 60 }), fc.integer({ min: -0x80000000, max: 0x7fffffff })),
      streamId: fc.integer({ min: 0, max: 5 }),
      ssn: fc.integer({ min: 0, max: 0xffff }).map((n) => (n % 7 === 0 ? n : n % 8)),
      ppid: fc.integer({ min: 0, max: 2 }),
      unordered: fc.boolean(),
      beginning: fc.boolean(),
      ending: fc.boolean(),
      immediate: fc.boolean(),
      size: fc.integer({ min: 0, max: 3000 }),
    });
    fc.assert(
      fc.property(fc.array(chunkArb, { maxLength: 300 }), (chunks) => {
        const { inbound } = setup({ receiveWindow: 4096, maxReassemblyBytes: cap, inboundStreams: 4 });
        for (const c of chunks) {
          inbound.onData({
            tsn: tsnAdd(ITSN, c.offset),
            streamId: c.streamId,
            ssn: c.ssn,
            ppid: c.ppid,
            unordered: c.unordered,
            beginning: c.beginning,
            ending: c.ending,
            immediate: c.immediate,
            userData: new Uint8Array(c.size),
          });
          if (inbound.bufferedBytes > cap || inbound.bufferedBytes < 0) return false;
          if (inbound.heldItems * 128 + inbound.bufferedBytes > cap) return false;
          inbound.packetDone();
          const sack = inbound.sack(1500);
          if (sack.gapAckBlocks.length * 4 + sack.duplicateTsns.length * 4 + 16 > 1500) return false;
          for (const [s, e] of sack.gapAckBlocks) if (s < 1 || e < s || e > 65535) return false;
        }
        return true;
      }),
      { numRuns: 300, seed: 4960 },
    );
  });
});
