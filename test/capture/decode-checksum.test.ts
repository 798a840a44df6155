// SCTP checksums in captures: a packet whose CRC32c is wrong is not decoded (a receiver discards
// it, RFC 9260 §6.8) but reported; --ignore-checksums decodes it anyway; "-" reads standard input.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter, readRSerPoolCapture } from '../../src/capture/index.js';
import { PORT_ASAP, PPID_ASAP } from '../../src/wire/constants.js';
import { CLI, REPO_ROOT, SHARED, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rserpool-checksum-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// An ASAP Deregistration from the RSPLIB samples: pool handle "WRandPool", PE ID 0x0e200001.
const DEREGISTRATION = Buffer.from('0200001c0009000d5752616e64506f6f6c000000000e00080e200001', 'hex');
const ANNOUNCE = Buffer.from('0a00000811111111', 'hex');

function lines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Three frames: an announce (UDP), a deregistration over SCTP/UDP, and a second one (TSN 2). */
function capture(): Uint8Array {
  const w = new PcapWriter();
  w.addUdp({ src: '10.9.0.1', dst: '239.0.0.50', sport: 40000, dport: PORT_ASAP, payload: ANNOUNCE });
  w.addSctpData({ src: '10.9.0.2', dst: '10.9.0.1', sport: 5000, dport: PORT_ASAP, tsn: 1, ppid: PPID_ASAP, payload: DEREGISTRATION });
  w.addSctpData({ src: '10.9.0.2', dst: '10.9.0.1', sport: 5000, dport: PORT_ASAP, tsn: 2, ppid: PPID_ASAP, payload: DEREGISTRATION });
  return w.toBytes();
}

/** A copy of the capture with one byte of message `index`'s ASAP payload flipped. */
function flipped(file: Uint8Array, index: number, at = 12): Uint8Array {
  const copy = new Uint8Array(file);
  const message = readRSerPoolCapture(file).messages[index]!;
  expect(message.payload.buffer).toBe(file.buffer); // a view into the file: its offset is the file offset
  copy[message.payload.byteOffset - file.byteOffset + at]! ^= 0x40;
  return copy;
}

describe('SCTP checksums in the capture reader', () => {
  it('discards a packet with a flipped byte and lists it; ignoreChecksums reads it, marked', () => {
    const good = capture();
    expect(readRSerPoolCapture(good).statistics.badChecksums).toBe(0);
    const bad = flipped(good, 1);
    const reading = readRSerPoolCapture(bad);
    expect(reading.messages.map((m) => m.frame)).toEqual([1, 3]);
    expect(reading.statistics.badChecksums).toBe(1);
    expect(reading.badChecksums).toHaveLength(1);
    const b = reading.badChecksums[0]!;
    expect(b).toMatchObject({ frame: 2, src: '10.9.0.2', dst: '10.9.0.1', sport: 5000, dport: PORT_ASAP, transport: 'sctp/udp' });
    expect(b.stored).not.toBe(b.computed);

    const anyway = readRSerPoolCapture(bad, { ignoreChecksums: true });
    expect(anyway.messages.map((m) => [m.frame, m.badChecksum])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
    expect(anyway.badChecksums).toHaveLength(1);
  });

  it('does not judge a packet the capture cut short (its checksum cannot be computed)', () => {
    const w = new PcapWriter();
    w.addSctpData({ src: '10.9.0.2', dst: '10.9.0.1', sport: 5000, dport: PORT_ASAP, tsn: 1, ppid: PPID_ASAP, payload: DEREGISTRATION });
    const whole = w.toBytes();
    // One frame: cut its last 4 bytes and lower the record's captured length (offset 24 + 8).
    const cut = whole.slice(0, whole.length - 4);
    const view = new DataView(cut.buffer);
    const littleEndian = cut[0] === 0xd4 || cut[0] === 0x4d;
    view.setUint32(32, view.getUint32(32, littleEndian) - 4, littleEndian);
    const reading = readRSerPoolCapture(cut);
    expect(reading.error).toBeNull();
    expect(reading.statistics.frames).toBe(1);
    expect(reading.statistics.badChecksums).toBe(0);
  });
});

describe('rserpool decode and SCTP checksums', () => {
  const good = join(dir, 'good.pcap');
  const bad = join(dir, 'bad.pcap');
  writeFileSync(good, capture());
  writeFileSync(bad, flipped(capture(), 1));

  it('prints the corrupted packet as badChecksum instead of decoding it, and says so on stderr', () => {
    const run = runCli(['decode', bad]);
    expect(run.status).toBe(0);
    const out = lines(run.stdout);
    expect(out.map((o) => o['frame'])).toEqual([1, 2, 3]);
    expect(out[1]).toMatchObject({ frame: 2, transport: 'sctp/udp', sport: 5000, dport: PORT_ASAP });
    expect(out[1]!['message']).toBeUndefined();
    const { stored, computed } = out[1]!['badChecksum'] as { stored: string; computed: string };
    expect(stored).toMatch(/^0x[0-9a-f]{8}$/);
    expect(computed).toMatch(/^0x[0-9a-f]{8}$/);
    expect(stored).not.toBe(computed);
    expect(out[2]).toMatchObject({ frame: 3, message: { type: 2 } });
    expect(run.stderr).toMatch(/1 SCTP packet has a wrong checksum and was not decoded \(frames 2\); --ignore-checksums/);

    const strict = runCli(['decode', '--strict', bad]);
    expect(strict.status).toBe(1);
    const clean = runCli(['decode', '--strict', good]);
    expect(clean.status).toBe(0);
    expect(clean.stderr).toBe('');
  });

  it('--ignore-checksums decodes it, marked "badChecksum": true', () => {
    const run = runCli(['decode', '--ignore-checksums', bad]);
    expect(run.status).toBe(0);
    const out = lines(run.stdout);
    expect(out.map((o) => [o['frame'], o['badChecksum'] ?? false])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
    // The flipped byte is inside the pool handle: the message still decodes, with the damage.
    expect(out[1]).toMatchObject({ message: { type: 2 } });
    expect(run.stderr).toMatch(/decoded anyway \(frames 2\)/);
  });

  it('reads the capture from standard input with "-"', () => {
    const input = readFileSync(bad);
    const r = spawnSync(process.execPath, [CLI, 'decode', '-'], { input, encoding: 'utf8', cwd: REPO_ROOT, timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(lines(r.stdout).map((o) => o['frame'])).toEqual([1, 2, 3]);
    expect(r.stderr).toMatch(/frames 2/);
    const empty = spawnSync(process.execPath, [CLI, 'decode', '-'], { input: '', encoding: 'utf8', cwd: REPO_ROOT, timeout: 60_000 });
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/standard input: /);
  });

  const scope = join(SHARED, 'vectors', 'rsplib-scope.pcapng');
  it.skipIf(!existsSync(scope))("finds the one byte flipped in RSPLIB's capture (rsplib-scope.pcapng)", () => {
    const original = readFileSync(scope);
    const file = new Uint8Array(original.buffer, original.byteOffset, original.byteLength);
    const before = readRSerPoolCapture(file);
    expect(before.statistics.badChecksums).toBe(0);
    const victim = before.messages.findIndex((m) => m.transport === 'sctp/udp' && m.payload.length > 16 && m.fragments === 1);
    const damaged = flipped(file, victim, 9);
    const path = join(dir, 'scope-flipped.pcapng');
    writeFileSync(path, damaged);
    const run = runCli(['decode', '--strict', path]);
    expect(run.status).toBe(1);
    const frame = before.messages[victim]!.frame;
    const printed = lines(run.stdout).filter((o) => o['frame'] === frame);
    expect(printed.some((o) => o['badChecksum'] !== undefined && o['message'] === undefined)).toBe(true);
    expect(run.stderr).toMatch(new RegExp(`wrong checksum and was not decoded \\(frames ${frame}\\)`));
  });
});
