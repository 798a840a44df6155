// `rserpool registrar` as an operator runs it: a child process that logs its start, serves a
// PE and a PU over SCTP/UDP, stops cleanly on SIGTERM; its help and its option errors.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { AsapFlag, PolicyType, policySettings } from '../../src/wire/index.js';
import { CLI, REPO_ROOT, runCli } from '../helpers/cli.js';
import { AsapPeer } from './asap-peer.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function startRegistrar(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, 'registrar', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/** The first JSON log record whose msg is `message`, waiting for it. */
async function logRecord(run: Running, message: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
  const start = Date.now();
  for (;;) {
    for (const line of run.stderr().split('\n')) {
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record['msg'] === message) return record;
    }
    if (run.child.exitCode !== null) throw new Error(`registrar exited (${run.child.exitCode}) before logging "${message}":\n${run.stderr()}`);
    if (Date.now() - start > timeoutMs) throw new Error(`no "${message}" within ${timeoutMs} ms:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('rserpool registrar', () => {
  test('starts, serves a PE and a PU, and stops with exit code 0 on SIGTERM', async () => {
    const udpPort = await freeUdpPort();
    const run = startRegistrar(['--transport', 'udp', '--udp-port', String(udpPort), '--address', '127.0.0.1', '--shards', '2', '--announce', 'off', '--keep-alive-interval', '500']);
    const started = await logRecord(run, 'registrar started');
    expect(started).toMatchObject({ asap: '127.0.0.1:3863', mode: 'udp', udpPort, shards: 2, announce: 'off' });

    const address = { address: '127.0.0.1', port: 3863, udpPort };
    const pe = await AsapPeer.connect(address);
    const pu = await AsapPeer.connect(address);
    try {
      for (const peId of [1, 2]) expect((await pe.register('cli-pool', peId, policySettings(PolicyType.RoundRobin), 6000 + peId)).flags & AsapFlag.Reject).toBe(0);
      const r = await pu.resolve('cli-pool', 10);
      expect(r.poolElements.map((e) => e.peId).sort()).toEqual([1, 2]);
      expect(r.poolElements.every((e) => e.homeRegistrarId !== 0)).toBe(true);
      // Its keep-alives arrive and are answered (the 500 ms interval option took effect).
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(pe.keepAlives.length).toBeGreaterThanOrEqual(2);

      // SIGTERM with associations up: the registrar aborts them and exits 0.
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(run.stderr()).toContain('SIGTERM, stopping');
      await pe.down(3000);
    } finally {
      await pe.close();
      await pu.close();
    }
  });

  test('a second registrar on the same UDP port exits 1 with the reason and a hint', async () => {
    const udpPort = await freeUdpPort();
    const args = ['--transport', 'udp', '--udp-port', String(udpPort), '--address', '127.0.0.1', '--shards', '1', '--announce', 'off', '--control-port', '0'];
    const first = startRegistrar(args);
    await logRecord(first, 'registrar started');
    const second = startRegistrar(args);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(/rserpool registrar: cannot start: cannot open the ASAP endpoint \(SCTP port 3863, UDP port \d+ in udp mode on 127\.0\.0\.1\): .*(EADDRINUSE|in use)/);
    expect(second.stderr()).toMatch(/hint: another process \(another registrar\?\) already uses that port/);
    expect(second.stderr()).not.toMatch(/\n\s+at /);
    expect(first.child.exitCode).toBeNull(); // the first one serves on
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  test('a taken control port is fatal too', async () => {
    const udpPorts = [await freeUdpPort(), await freeUdpPort()];
    const controlPort = await freeTcpPort();
    const args = (udpPort: number): string[] => ['--transport', 'udp', '--udp-port', String(udpPort), '--address', '127.0.0.1', '--shards', '1', '--announce', 'off', '--control-port', String(controlPort)];
    const first = startRegistrar(args(udpPorts[0]!));
    await logRecord(first, 'registrar started');
    const second = startRegistrar(args(udpPorts[1]!));
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(new RegExp(`cannot start: cannot open the control channel \\(TCP 127\\.0\\.0\\.1:${controlPort}\\): .*EADDRINUSE`));
    expect(second.stderr()).toContain('--control-port 0 turns the control channel off');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  test('--help lists every option', () => {
    const r = runCli(['registrar', '--help']);
    expect(r.status).toBe(0);
    for (const option of [
      '--id',
      '--address',
      '--asap-port',
      '--transport',
      '--udp-port',
      '--shards',
      '--keep-alive-interval',
      '--keep-alive-timeout',
      '--max-bad-pe-reports',
      '--items',
      '--announce',
      '--announce-interval',
      '--log-level',
      '--max-send-queue',
      '--send-queue-timeout',
      '--max-associations',
      '--max-inbound-streams',
      '--max-reassembly-bytes',
    ]) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/choices: "auto", "raw", "udp"/);
  });

  test.each([
    [['--shards', '257'], /--shards <n>.*'257' is invalid.*expected an integer in 0\.\.256/],
    [['--transport', 'sctp'], /--transport <mode>.*'sctp' is invalid.*Allowed choices are auto, raw, udp/],
    [['--udp-port', '70000'], /--udp-port <port>.*'70000' is invalid.*1\.\.65535/],
    [['--id', '0'], /--id <id>.*'0' is invalid.*server ID in 1\.\.0xffffffff/],
    [['--keep-alive-interval', 'soon'], /--keep-alive-interval <ms>.*'soon' is invalid/],
    [['--announce', 'bogus'], /not an IPv4 group:port: bogus/],
    [['--address', 'eth0'], /--address <ip>.*'eth0' is invalid.*IPv4 or IPv6 address/],
    [['--peer', '2001:db8::2:9901'], /--peer .*is invalid.*\[ipv6\]:port/],
    [['--max-send-queue', '10'], /--max-send-queue <bytes>.*'10' is invalid/],
  ])('a bad value %j exits non-zero with a clear message', (args, message) => {
    const r = runCli(['registrar', '--transport', 'udp', '--address', '127.0.0.1', ...args], 20_000);
    expect(r.status).not.toBe(0);
    expect(r.status).not.toBeNull(); // it exited by itself, it was not killed by the timeout
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});
