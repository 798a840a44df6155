// A bug that escapes every handler in a real `rserpool registrar` process (src/cli/process-faults.ts),
// made to happen by a preloaded fixture (fixtures/inject-fault.mjs, SIGUSR2):
// - unhandled promise rejections are reported as BUG (the first 10 in full, then every
//   1000th) and the registrar serves on: a PE registered before is resolved after, a new one
//   registers; each is counted in /metrics (rserpool_process_faults_total) and /stats;
// - an uncaught exception is reported and the process exits 70 (EX_SOFTWARE) at once;
// and the reporting itself, unit by unit.
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { EX_SOFTWARE, FULL_REPORTS, ProcessFaults } from '../../src/cli/process-faults.js';
import { AsapFlag, PolicyType, policySettings } from '../../src/wire/index.js';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { AsapPeer } from './asap-peer.js';

const FIXTURE = pathToFileURL(new URL('./fixtures/inject-fault.mjs', import.meta.url).pathname).href;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  address: { address: string; port: number; udpPort: number };
  /** The control channel (/metrics, /stats) on loopback. */
  control: string;
}

async function startRegistrar(fault: string): Promise<Running> {
  const udpPort = await freeUdpPort();
  const controlPort = await freeTcpPort();
  const child = spawn(
    process.execPath,
    ['--import', FIXTURE, CLI, 'registrar', '--transport', 'udp', '--udp-port', String(udpPort), '--address', '127.0.0.1', '--shards', '1', '--announce', 'off', '--enrp-announce', 'off', '--tcp-port', '0', '--tls-port', '0', '--control-port', String(controlPort)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info', FAULT: fault } },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await until(() => stderr.includes('"registrar started"'), () => `no start:\n${stderr}`);
  return { child, stderr: () => stderr, exited, address: { address: '127.0.0.1', port: 3863, udpPort }, control: `http://127.0.0.1:${controlPort}` };
}

async function until(done: () => boolean, why: () => string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** rserpool_process_faults_total{kind="unhandled_rejection"} in a scrape of /metrics. */
async function scrapedRejections(control: string): Promise<number> {
  const response = await fetch(`${control}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  const samples = text.split('\n').filter((l) => l.startsWith('rserpool_process_faults_total{'));
  expect(samples).toEqual([expect.stringMatching(/^rserpool_process_faults_total\{kind="unhandled_rejection"\} \d+$/)]); // one kind, no other label
  return Number(samples[0]!.split(' ')[1]);
}

async function statsRejections(control: string): Promise<number> {
  const stats = (await (await fetch(`${control}/stats`)).json()) as { processFaults: { unhandledRejections: number } };
  return stats.processFaults.unhandledRejections;
}

const bugLines = (text: string, kind: string): string[] => text.split('\n').filter((l) => l.startsWith(`rserpool registrar: BUG: ${kind}`));

describe('a registrar process that hits a bug', () => {
  test('unhandled rejections: reported (10 in full, then every 1000th), counted in /metrics and /stats, and it serves on', async () => {
    const run = await startRegistrar('rejection:25');
    const pe = await AsapPeer.connect(run.address);
    const pu = await AsapPeer.connect(run.address);
    try {
      expect((await pe.register('faults-pool', 1, policySettings(PolicyType.RoundRobin), 6001)).flags & AsapFlag.Reject).toBe(0);
      expect(await scrapedRejections(run.control)).toBe(0);
      expect(await statsRejections(run.control)).toBe(0);
      run.child.kill('SIGUSR2');
      await until(() => bugLines(run.stderr(), 'unhandled promise rejection').length >= FULL_REPORTS, () => `no BUG lines:\n${run.stderr()}`);
      // The other 15 handled too (polled: a fixed 300 ms could be short on a loaded machine).
      for (const start = Date.now(); (await scrapedRejections(run.control)) < 25 && Date.now() - start < 20_000; ) await new Promise((r) => setTimeout(r, 50));
      const lines = bugLines(run.stderr(), 'unhandled promise rejection');
      expect(lines).toHaveLength(FULL_REPORTS);
      expect(lines[0]).toMatch(/#1 \(serving on; please report\): Error: injected rejection 1/);
      expect(lines[FULL_REPORTS - 1]).toMatch(/#10 .*from now on every 1000th/);
      // Every one counted, the 15 not written too; a second burst adds to the count.
      expect(await scrapedRejections(run.control)).toBe(25);
      expect(await statsRejections(run.control)).toBe(25);
      run.child.kill('SIGUSR2');
      const start = Date.now();
      while ((await scrapedRejections(run.control)) < 50 && Date.now() - start < 20_000) await new Promise((r) => setTimeout(r, 50));
      expect(await scrapedRejections(run.control)).toBe(50);
      expect(await statsRejections(run.control)).toBe(50);
      expect(bugLines(run.stderr(), 'unhandled promise rejection')).toHaveLength(FULL_REPORTS); // #11..#50: none is a 1000th
      // Still serving: the PE registered before is resolved, a new one registers.
      expect(run.child.exitCode).toBeNull();
      expect((await pu.resolve('faults-pool', 10)).poolElements.map((e) => e.peId)).toEqual([1]);
      expect((await pe.register('faults-pool', 2, policySettings(PolicyType.RoundRobin), 6002)).flags & AsapFlag.Reject).toBe(0);
      expect((await pu.resolve('faults-pool', 10)).poolElements.map((e) => e.peId).sort()).toEqual([1, 2]);
    } finally {
      await pe.close();
      await pu.close();
    }
  }, 60_000);

  test('an uncaught exception: reported, and the process exits 70 at once', async () => {
    const run = await startRegistrar('exception');
    const pu = await AsapPeer.connect(run.address);
    try {
      expect((await pu.resolve('faults-pool', 10)).poolElements).toEqual([]); // served before
      const t0 = Date.now();
      run.child.kill('SIGUSR2');
      expect(await run.exited).toBe(EX_SOFTWARE);
      // At once (about 0.5 s), not after a shutdown's timeouts; 15 s allows for a loaded machine.
      expect(Date.now() - t0).toBeLessThan(15_000);
      const lines = bugLines(run.stderr(), 'uncaught exception');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/exiting with code 70 .*: Error: injected exception/);
    } finally {
      await pu.close();
    }
  }, 60_000);
});

describe('ProcessFaults', () => {
  function faults(): { f: ProcessFaults; lines: string[]; exits: number[] } {
    const lines: string[] = [];
    const exits: number[] = [];
    return { f: new ProcessFaults({ write: (l) => lines.push(l), exit: (c) => exits.push(c) }), lines, exits };
  }

  test('rejections: the first 10 in full, then every 1000th with its count; never an exit', () => {
    const { f, lines, exits } = faults();
    for (let i = 0; i < 2500; i++) f.unhandledRejection(new Error(`r${i}`));
    expect(lines.map((l) => /#(\d+)/.exec(l)![1])).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '1000', '2000']);
    expect(f.unhandledRejections).toBe(2500);
    expect(exits).toEqual([]);
  });

  test('counts into the counts it is given (the process\'s own, for /stats and /metrics)', () => {
    const counts = { unhandledRejections: 7 };
    const f = new ProcessFaults({ write: () => undefined, exit: () => undefined }, counts);
    f.unhandledRejection(new Error('x'));
    f.unhandledRejection(new Error('y'));
    expect(counts.unhandledRejections).toBe(9);
    expect(f.unhandledRejections).toBe(9);
  });

  test('reasons that are not errors, even ones String() cannot print, are reported', () => {
    const { f, lines } = faults();
    f.unhandledRejection('plain text');
    f.unhandledRejection(Object.create(null));
    f.unhandledRejection(undefined);
    expect(lines[0]).toMatch(/: plain text\n$/);
    expect(lines[1]).toMatch(/: \[object Object\]\n$/);
    expect(lines[2]).toMatch(/: undefined\n$/);
  });

  test('an exception is reported and exits 70', () => {
    const { f, lines, exits } = faults();
    f.uncaughtException(new TypeError('boom'));
    expect(exits).toEqual([70]);
    expect(lines[0]).toMatch(/BUG: uncaught exception, exiting with code 70 .*TypeError: boom/);
  });
});
