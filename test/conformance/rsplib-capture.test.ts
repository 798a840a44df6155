// RSPLIB's own traffic (shared/vectors/rsplib-scope.pcapng): `rserpool decode --strict` decodes
// every ASAP/ENRP message in it, each message re-encodes byte for byte, and the reader finds the
// same messages, frame by frame, as Wireshark does.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRSerPoolCapture } from '../../src/capture/index.js';
import { AsapType, EnrpType } from '../../src/wire/constants.js';
import { decodeMessage, encodeMessage } from '../../src/wire/index.js';
import { runCli, SHARED } from '../helpers/cli.js';
import { NO_TSHARK_MESSAGE, runTshark, tsharkAvailable } from '../helpers/tshark.js';

const SCOPE = join(SHARED, 'vectors', 'rsplib-scope.pcapng');
const present = existsSync(SCOPE);
if (!present) console.warn(`skipping RSPLIB capture conformance: ${SCOPE} is absent (shared/ must sit beside the repository)`);

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

describe.skipIf(!present)('RSPLIB capture (rsplib-scope.pcapng)', () => {
  const reading = present ? readRSerPoolCapture(readFileSync(SCOPE)) : null;

  it('is read to its end, with the messages the vectors README describes', () => {
    expect(reading!.error).toBeNull();
    const m = reading!.messages;
    expect(m.length).toBeGreaterThan(1000);
    expect(m.filter((x) => x.transport === 'udp' && x.protocol === 'asap' && x.dst === '239.0.0.50').length).toBeGreaterThan(100);
    expect(m.filter((x) => x.transport === 'udp' && x.protocol === 'enrp' && x.dst === '239.0.0.51').length).toBeGreaterThan(10);
    expect(m.every((x) => x.transport !== 'sctp/udp' || x.ppid === (x.protocol === 'asap' ? 11 : 12))).toBe(true);
    // RSPLIB's empty PPID-0 DATA chunks are in the capture, and are not messages.
    expect(reading!.statistics.emptyDataChunks).toBeGreaterThan(0);
    expect(m.every((x) => x.payload.length >= 4)).toBe(true);
  });

  it('decodes every message, and every message re-encodes byte-identical', () => {
    const failures: string[] = [];
    const types = { asap: new Set<number>(), enrp: new Set<number>() };
    for (const m of reading!.messages) {
      const decoded = decodeMessage(m.protocol, m.payload);
      if (!decoded.ok) {
        failures.push(`frame ${m.frame} ${m.protocol}: cause ${decoded.error.cause} at ${decoded.error.offset}: ${decoded.error.reason}`);
        continue;
      }
      types[m.protocol].add(decoded.message.type);
      const again = encodeMessage(decoded.message);
      if (hex(again) !== hex(m.payload)) failures.push(`frame ${m.frame} ${m.protocol}: re-encoded\n  ${hex(again)}\nwas\n  ${hex(m.payload)}`);
    }
    expect(failures).toEqual([]);
    // Every message type of RFC 5352 and RFC 5353 is in the capture, except Business Card.
    const asap = Object.values(AsapType).filter((t) => t !== AsapType.BusinessCard);
    expect([...types.asap].sort((a, b) => a - b)).toEqual(asap);
    expect([...types.enrp].sort((a, b) => a - b)).toEqual(Object.values(EnrpType));
  });

  it('rserpool decode --strict prints one decoded JSON object per message and exits 0', () => {
    const run = runCli(['decode', '--strict', SCOPE]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(reading!.messages.length);
    lines.forEach((line, i) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      const m = reading!.messages[i]!;
      expect(o).not.toHaveProperty('error');
      expect(o).toMatchObject({ frame: m.frame, src: m.src, dst: m.dst, sport: m.sport, dport: m.dport, transport: m.transport, ppid: m.ppid, protocol: m.protocol });
      expect((o['message'] as { protocol: string }).protocol).toBe(m.protocol);
    });
  });

  it.skipIf(!tsharkAvailable())('finds the same messages in the same frames as Wireshark', () => {
    // tshark, like the reader, hands a retransmitted TSN to ASAP/ENRP only once.
    const run = runTshark(['-r', SCOPE, '-T', 'fields', '-e', 'frame.number', '-e', 'asap.message_type', '-e', 'enrp.message_type']);
    expect(run.status).toBe(0);
    const theirs = new Map<number, string[]>();
    for (const line of run.stdout.split('\n')) {
      const [frame, asap, enrp] = line.split('\t');
      const list = [...(asap ? asap.split(',').map((t) => `asap ${t}`) : []), ...(enrp ? enrp.split(',').map((t) => `enrp ${t}`) : [])];
      if (list.length > 0) theirs.set(Number(frame), list.sort());
    }
    const ours = new Map<number, string[]>();
    for (const m of reading!.messages) {
      const d = decodeMessage(m.protocol, m.payload);
      const list = ours.get(m.frame) ?? [];
      list.push(`${m.protocol} ${d.ok ? d.message.type : '?'}`);
      ours.set(m.frame, list.sort());
    }
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(theirs));
  });
});

if (!tsharkAvailable()) console.warn(NO_TSHARK_MESSAGE);
