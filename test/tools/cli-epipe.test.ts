// A reader that closes the pipe early (`rserpool dump --help | head -1`, `rserpool decode
// big.pcap | head`): the command ends quietly, with no EPIPE stack trace and status 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../src/capture/index.js';
import { PORT_ASAP, PPID_ASAP } from '../../src/wire/constants.js';
import { CLI, REPO_ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rserpool-epipe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Ended {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  firstLine: string;
}

/**
 * Runs the command with its stdout on a pipe, reads until the first line (or nothing, with
 * `readFirst` false), then closes the reading end as `head -1` does.
 */
function runIntoClosedReader(args: string[], readFirst: boolean): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let firstLine = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    if (readFirst) {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        if (firstLine.includes('\n')) return;
        firstLine += d;
        if (firstLine.includes('\n')) {
          firstLine = firstLine.slice(0, firstLine.indexOf('\n'));
          child.stdout.destroy();
        }
      });
    } else {
      child.stdout.destroy();
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rserpool ${args.join(' ')} did not end after its reader closed`));
    }, 30_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stderr, firstLine });
    });
  });
}

describe('stdout closed by its reader', () => {
  it('rserpool dump --help into a closed pipe ends with status 0 and nothing on stderr', async () => {
    const r = await runIntoClosedReader(['dump', '--help'], false);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
  });

  it('rserpool decode of a long capture stops quietly once the reader has its first line', async () => {
    const w = new PcapWriter();
    const deregistration = Buffer.from('0200001c0009000d5752616e64506f6f6c000000000e00080e200001', 'hex');
    for (let i = 0; i < 20_000; i++) {
      w.addSctpData({ src: '10.9.0.2', dst: '10.9.0.1', sport: 5000, dport: PORT_ASAP, tsn: i + 1, ppid: PPID_ASAP, payload: deregistration });
    }
    const big = join(dir, 'big.pcap');
    writeFileSync(big, w.toBytes());
    const r = await runIntoClosedReader(['decode', big], true);
    expect(JSON.parse(r.firstLine)).toMatchObject({ frame: 1, message: { type: 2 } });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
  });
});
