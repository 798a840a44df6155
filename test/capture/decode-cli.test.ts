// `rserpool decode` as a child process: --hex, a capture file, --strict exit codes, errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { PcapWriter } from '../../src/capture/index.js';
import { Cause, PORT_ASAP, PORT_ENRP, PPID_ASAP, PPID_ENRP } from '../../src/wire/constants.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rserpool-decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// RSPLIB's ASAP Server Announce (8 bytes: type 0x0a, Server Identifier 0x11111111).
const ANNOUNCE = '0a00000811111111';
// An ASAP Deregistration from the RSPLIB samples: pool handle "WRandPool", PE ID 0x0e200001.
const DEREGISTRATION = '0200001c0009000d5752616e64506f6f6c000000000e00080e200001';
// An ENRP Init Takeover: sender 0x22222222, receiver 0x33333333, target 0x11111111.
const INIT_TAKEOVER = '070000102222222233333333' + '11111111';

function lines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trimEnd()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('rserpool decode --hex', () => {
  it('prints one JSON line with the described message (ASAP by default)', () => {
    const run = runCli(['decode', '--hex', DEREGISTRATION]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    const [o, ...rest] = lines(run.stdout);
    expect(rest).toHaveLength(0);
    expect(o).toMatchObject({ protocol: 'asap', length: 28, message: { protocol: 'asap', type: 2 } });
    expect(JSON.stringify(o)).toContain('WRandPool');
    expect(JSON.stringify(o).toLowerCase()).toContain('0e200001');
  });

  it('takes --protocol enrp, separators and a 0x prefix, and --pretty indents', () => {
    const spaced = `0x${INIT_TAKEOVER.match(/../g)!.join(' ')}`;
    const run = runCli(['decode', '--protocol', 'enrp', '--pretty', '--hex', spaced]);
    expect(run.status).toBe(0);
    expect(run.stdout.split('\n').length).toBeGreaterThan(5);
    const o = JSON.parse(run.stdout) as { protocol: string; message: Record<string, unknown> };
    expect(o.protocol).toBe('enrp');
    expect(o.message).toMatchObject({ protocol: 'enrp', type: 7 });
    expect(JSON.stringify(o.message).toLowerCase()).toContain('11111111');
  });

  it('prints the decoding error with its cause, and --strict exits 1 with a summary', () => {
    const truncatedLength = '0a00000911111111'; // Length 9 but 8 bytes
    const lax = runCli(['decode', '--hex', truncatedLength]);
    expect(lax.status).toBe(0);
    const [o] = lines(lax.stdout);
    expect(o).toMatchObject({ protocol: 'asap', error: { cause: Cause.InvalidValues, causeName: 'InvalidValues' } });
    expect(typeof (o!['error'] as { offset: unknown }).offset).toBe('number');
    expect((o!['error'] as { reason: string }).reason.length).toBeGreaterThan(0);

    const strict = runCli(['decode', '--strict', '--hex', truncatedLength]);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toMatch(/does not decode/);
    expect(lines(strict.stdout)).toHaveLength(1);

    const unknownType = runCli(['decode', '--strict', '--hex', '7f000004']);
    expect(unknownType.status).toBe(1);
    expect(lines(unknownType.stdout)[0]).toMatchObject({ error: { cause: Cause.UnrecognizedMessage } });
  });

  it('rejects bad hex and bad arguments with exit status 2 and a clear message', () => {
    for (const [hex, why] of [
      ['0a0000081111111', /odd number of hex digits/],
      ['0a00zz08', /"z" is not a hex digit/],
      ['', /no hex digits/],
    ] as const) {
      const run = runCli(['decode', '--hex', hex]);
      expect(run.status, hex).toBe(2);
      expect(run.stderr).toMatch(why);
      expect(run.stdout).toBe('');
    }
    const both = runCli(['decode', '--hex', ANNOUNCE, 'file.pcap']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/not both/);
    const neither = runCli(['decode']);
    expect(neither.status).toBe(2);
    const badProtocol = runCli(['decode', '--protocol', 'sctp', '--hex', ANNOUNCE]);
    expect(badProtocol.status).not.toBe(0);
    expect(badProtocol.stderr).toMatch(/asap, enrp/);
  });

  it('has --help with examples', () => {
    const run = runCli(['decode', '--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/--strict/);
    expect(run.stdout).toMatch(/Examples:/);
    expect(run.stdout).toMatch(/rserpool decode --hex/);
  });
});

describe('rserpool decode <capture>', () => {
  const w = new PcapWriter();
  const announce = Buffer.from(ANNOUNCE, 'hex');
  w.addUdp({ src: '10.9.0.1', dst: '239.0.0.50', sport: 40000, dport: PORT_ASAP, payload: announce });
  w.addSctpData({ src: '10.9.0.2', dst: '10.9.0.1', sport: 5000, dport: PORT_ASAP, tsn: 1, ppid: PPID_ASAP, payload: Buffer.from(DEREGISTRATION, 'hex') });
  w.addSctpData({ src: '10.9.0.3', dst: '10.9.0.1', sport: PORT_ENRP, dport: PORT_ENRP, tsn: 9, ppid: PPID_ENRP, payload: Buffer.from(INIT_TAKEOVER, 'hex') });
  const good = join(dir, 'good.pcap');
  writeFileSync(good, w.toBytes());
  w.addSctpData({ src: '10.9.0.2', dst: '10.9.0.1', sport: 5000, dport: PORT_ASAP, tsn: 2, ppid: PPID_ASAP, payload: Buffer.from('0a00000911111111', 'hex') });
  const bad = join(dir, 'bad.pcap');
  writeFileSync(bad, w.toBytes());

  it('prints every message with frame, time, addresses, ports, transport and PPID', () => {
    const run = runCli(['decode', good]);
    expect(run.status).toBe(0);
    const out = lines(run.stdout);
    expect(out.map((o) => [o['frame'], o['transport'], o['src'], o['dst'], o['sport'], o['dport'], o['ppid'], o['protocol']])).toEqual([
      [1, 'udp', '10.9.0.1', '239.0.0.50', 40000, PORT_ASAP, null, 'asap'],
      [2, 'sctp/udp', '10.9.0.2', '10.9.0.1', 5000, PORT_ASAP, PPID_ASAP, 'asap'],
      [3, 'sctp/udp', '10.9.0.3', '10.9.0.1', PORT_ENRP, PORT_ENRP, PPID_ENRP, 'enrp'],
    ]);
    expect(out[0]!['time']).toBe('1700000000.000000000');
    expect(out[2]).toMatchObject({ stream: 0, tsn: 9, message: { type: 7 } });
    const enrpOnly = lines(runCli(['decode', '--protocol', 'enrp', good]).stdout);
    expect(enrpOnly.map((o) => o['frame'])).toEqual([3]);
  });

  it('--strict exits 1 naming the frame that does not decode; without it, exits 0', () => {
    const lax = runCli(['decode', bad]);
    expect(lax.status).toBe(0);
    expect(lines(lax.stdout)[3]).toMatchObject({ frame: 4, error: { cause: Cause.InvalidValues } });
    const strict = runCli(['decode', '--strict', bad]);
    expect(strict.status).toBe(1);
    expect(lines(strict.stdout)).toHaveLength(4);
    expect(strict.stderr).toMatch(/1 of 4 messages failed to decode/);
    expect(strict.stderr).toMatch(/frame 4/);
  });

  it('exits 2 for a missing file, a non-capture and a truncated capture (printing what it read)', () => {
    const missing = runCli(['decode', join(dir, 'nope.pcap')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.pcap: no such file/);
    const text = join(dir, 'text.pcap');
    writeFileSync(text, 'this is not a capture file\n');
    const garbage = runCli(['decode', text]);
    expect(garbage.status).toBe(2);
    expect(garbage.stderr).toMatch(/not a pcap or pcapng file/);
    const cut = join(dir, 'cut.pcap');
    const bytes = w.toBytes();
    writeFileSync(cut, bytes.subarray(0, bytes.length - 5));
    const truncated = runCli(['decode', cut]);
    expect(truncated.status).toBe(2);
    expect(truncated.stderr).toMatch(/cut short/);
    expect(lines(truncated.stdout)).toHaveLength(3);
    const directory = runCli(['decode', dir]);
    expect(directory.status).toBe(2);
  });
});
