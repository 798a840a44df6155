// `rserpool registrar --config FILE`: the file sets flags (validated by each flag's own parser),
// flags on the command line override it, and a bad file is one clear error (file, line, key).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { readConfigFile } from '../../src/cli/config-file.js';
import { registerRegistrar } from '../../src/cli/registrar.js';
import { AsapFlag, PolicyType, policySettings } from '../../src/wire/index.js';
import { CLI, REPO_ROOT, runCli } from '../helpers/cli.js';
import { AsapPeer } from './asap-peer.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'rserpool-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function configFile(text: string): string {
  const path = join(dir, `registrar-${++files}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** The real `rserpool registrar` command, its action replaced by one that keeps the options. */
async function parse(args: string[]): Promise<{ opts: Record<string, unknown>; sources: (key: string) => string | undefined }> {
  const program = new Command('rserpool').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerRegistrar(program);
  const registrar = program.commands.find((c) => c.name() === 'registrar')!;
  let opts: Record<string, unknown> | undefined;
  registrar.action((o: Record<string, unknown>) => {
    opts = o;
  });
  await program.parseAsync(['registrar', ...args], { from: 'user' });
  return { opts: opts!, sources: (key) => registrar.getOptionValueSource(key) };
}

/** The message of the command error that `args` end with. */
async function parseError(args: string[]): Promise<string> {
  try {
    await parse(args);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`no error for ${args.join(' ')}`);
}

describe('the config file, parsed by the command', () => {
  test('sets ports, limits, lists and switches through each flag\'s parser; the command line wins', async () => {
    const file = configFile(
      [
        '# a registrar',
        'id: 0x11111111',
        'transport: udp',
        'udp-port: 19899',
        'asap-port: 3900',
        'tcp-port: 0',
        'shards: 2',
        'max-pes: 5000',
        'max-pes-per-pool: 100',
        'keep-alive-interval: 750',
        'address: [127.0.0.1, "::1"]',
        'peer:',
        '  - 10.0.0.2:9901',
        '  - "[2001:db8::2]:9901:9899"',
        'enrp-allow: 10.0.0.0/24',
        'announce: off',
        'allow-foreign-addresses: true',
        'log-level: warn',
        '',
      ].join('\n'),
    );
    const { opts, sources } = await parse(['--config', file, '--shards', '3', '--peer', '10.0.0.9:9901']);
    expect(opts).toMatchObject({
      id: 0x11111111,
      transport: 'udp',
      udpPort: 19899,
      asapPort: 3900,
      tcpPort: 0,
      maxPes: 5000,
      maxPesPerPool: 100,
      keepAliveInterval: 750,
      address: ['127.0.0.1', '::1'],
      enrpAllow: ['10.0.0.0/24'],
      announce: 'off',
      allowForeignAddresses: true,
      logLevel: 'warn',
    });
    expect(sources('udpPort')).toBe('config');
    // Given on the command line: the flag, not the file (a repeatable flag's list is replaced).
    expect(opts.shards).toBe(3);
    expect(sources('shards')).toBe('cli');
    expect(opts.peer).toEqual([{ address: '10.0.0.9', port: 9901 }]);
    // Not in the file: the default.
    expect(opts.maxAssociations).toBe((await parse([])).opts.maxAssociations);
    expect(sources('maxAssociations')).toBe('default');
  });

  test('without the flag on the command line the file\'s list is taken whole', async () => {
    const file = configFile('peer:\n  - 10.0.0.2:9901\n  - "[2001:db8::2]:9901:9899"\n');
    const { opts } = await parse(['--config', file]);
    expect(opts.peer).toEqual([
      { address: '10.0.0.2', port: 9901 },
      { address: '2001:db8::2', port: 9901, udpPort: 9899 },
    ]);
  });

  test('every flag of the command is a key (derived from its options, not a list of our own)', async () => {
    const program = new Command('rserpool');
    registerRegistrar(program);
    const registrar = program.commands.find((c) => c.name() === 'registrar')!;
    const keys = registrar.options.map((o) => o.long!.slice(2)).filter((k) => k !== 'config');
    expect(keys.length).toBeGreaterThan(40);
    // Each key is known: a file naming it with a bad value fails on the value, not the key.
    for (const key of keys) {
      const option = registrar.options.find((o) => o.long === `--${key}`)!;
      const file = configFile(`${key}: ${option.isBoolean() ? 'true' : 'x'}\n`);
      let message = '';
      try {
        readConfigFile(registrar, file);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, key).not.toMatch(/unknown key/);
    }
  });

  test.each([
    ['an unknown key', 'shards: 2\nmax-pe: 10\n', /^error: config file .*registrar-\d+\.yaml:2: unknown key 'max-pe' \(the keys are the flags of `rserpool registrar --help` without the --\)$/],
    ['a bad number', 'asap-port: 3863\nudp-port: 0\n', /:2: key 'udp-port' \(--udp-port <port>\): '0' is invalid: expected an integer in 1\.\.65535$/],
    ['a bad choice', 'transport: sctp\n', /:1: key 'transport' \(--transport <mode>\): 'sctp' is invalid: Allowed choices are auto, raw, udp\.$/],
    ['a bad list item (its own line)', 'address:\n  - 127.0.0.1\n  - eth0\n', /:3: key 'address' \(--address <ip>\): 'eth0' is invalid: expected an IPv4 or IPv6 address, got eth0$/],
    ['a list for a single flag', 'shards: [1, 2]\n', /:1: key 'shards' \(--shards <n>\): takes one value, not a list/],
    ['no value', 'shards:\n', /:1: key 'shards' \(--shards <n>\): expected a value, got nothing$/],
    ['a value for a switch', 'allow-foreign-addresses: yes\n', /:1: key 'allow-foreign-addresses' .*: expected true or false, got 'yes'$/],
    ['not YAML', 'shards: [1,\n', /config file .*:2:1: not valid YAML: /],
    ['a duplicate key', 'shards: 1\nshards: 2\n', /:2:1: not valid YAML: Map keys must be unique/],
    ['not a mapping', '- shards\n', /expected a mapping of flag names to values/],
    ['a config file naming another', 'config: other.yaml\n', /:1: key 'config': a config file cannot name another config file/],
  ])('%s is an error naming the file, the line and the key', async (_what, text, message) => {
    const file = configFile(text);
    const error = await parseError(['--config', file]);
    expect(error).toContain(file);
    expect(error).toMatch(message);
  });

  test('a bad value is an error even where the command line overrides the key', async () => {
    const error = await parseError(['--config', configFile('shards: many\n'), '--shards', '2']);
    expect(error).toMatch(/:1: key 'shards' .*'many' is invalid/);
  });

  test('an empty file (or only comments) changes nothing', async () => {
    const { opts } = await parse(['--config', configFile('# nothing yet\n')]);
    expect(opts.shards).toBe((await parse([])).opts.shards);
  });
});

describe('rserpool registrar --config, as an operator runs it', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  test('serves on the file\'s ports with the file\'s limits; a flag overrides the file', async () => {
    const udpPort = await freeUdpPort();
    const controlPort = await freeTcpPort();
    const file = configFile(
      [
        'transport: udp',
        `udp-port: ${udpPort}`,
        'address: [127.0.0.1]',
        'tcp-port: 0',
        `control-port: ${controlPort}`,
        'announce: off',
        'shards: 2',
        'max-pes-per-pool: 2',
        'dashboard-clients: 1',
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [CLI, 'registrar', '--config', file, '--shards', '1'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!stderr.includes('"registrar started"')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`registrar did not start:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = JSON.parse(stderr.split('\n').find((l) => l.includes('"registrar started"'))!) as Record<string, unknown>;
    expect(started).toMatchObject({ asap: '127.0.0.1:3863', mode: 'udp', udpPort, shards: 1, announce: 'off' });

    // The control channel is on the file's port.
    const stats = await fetch(`http://127.0.0.1:${controlPort}/stats`);
    expect(stats.status).toBe(200);
    // The dashboard is there, and takes the file's one viewer: a second one gets 503.
    expect((await fetch(`http://127.0.0.1:${controlPort}/dashboard`)).headers.get('content-type')).toBe('text/html; charset=utf-8');
    const viewer = await fetch(`http://127.0.0.1:${controlPort}/dashboard/events`);
    expect(viewer.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${controlPort}/dashboard/events`)).status).toBe(503);
    await viewer.body!.cancel();

    // The file's max-pes-per-pool: 2 holds (a third PE in one pool: Lack of Resources).
    const pe = await AsapPeer.connect({ address: '127.0.0.1', port: 3863, udpPort });
    try {
      for (const peId of [1, 2]) expect((await pe.register('config-pool', peId, policySettings(PolicyType.RoundRobin), 7000 + peId)).flags & AsapFlag.Reject).toBe(0);
      const third = await pe.register('config-pool', 3, policySettings(PolicyType.RoundRobin), 7003);
      expect(third.flags & AsapFlag.Reject).not.toBe(0);
    } finally {
      await pe.close();
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  test('an unknown key exits 1 before anything starts, naming file, line and key', () => {
    const file = configFile('transport: udp\nasap-prot: 3863\n');
    const r = runCli(['registrar', '--config', file], 20_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: config file ${file}:2: unknown key 'asap-prot'`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('a bad value exits 1 with the flag\'s own message', () => {
    const file = configFile('transport: udp\nudp-port: 70000\n');
    const r = runCli(['registrar', '--config', file], 20_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: config file ${file}:2: key 'udp-port' (--udp-port <port>): '70000' is invalid: expected an integer in 1..65535`);
  });

  test('an unreadable file exits 1 with the system\'s reason', () => {
    const missing = join(dir, 'missing.yaml');
    const r = runCli(['registrar', '--config', missing], 20_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: cannot read the config file ${missing}: ENOENT: no such file or directory`);
    // A directory is no file either (as root, permissions do not stop a read; this does).
    const r2 = runCli(['registrar', '--config', dir], 20_000);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/error: cannot read the config file .*: EISDIR/);
  });

  test('--help names --config', () => {
    const r = runCli(['registrar', '--help']);
    expect(r.stdout).toContain('--config <file>');
  });
});

describe('the shipped example, deploy/registrar.yaml', () => {
  test('is a valid config file of rserpool registrar', async () => {
    const { opts, sources } = await parse(['--config', join(REPO_ROOT, 'deploy', 'registrar.yaml')]);
    expect(opts).toMatchObject({ transport: 'auto', asapPort: 3863, maxPes: 1_000_000, controlPort: 3870 });
    expect(sources('maxPes')).toBe('config');
  });
});
