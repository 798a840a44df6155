// The operator tools as child processes (`node dist/src/cli/main.js ...`) against a live
// registrar: pe registers, resolve prints it, terminal echoes through a PE and fails over
// when that PE is killed, dump shows the handlespace from the control channel. Each test starts
// several processes (seconds apiece on a loaded 2-core machine): 90 s each.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { CLI, REPO_ROOT, runCliAsync } from '../helpers/cli.js';
import { LOOPBACK, registrar, until } from '../client/harness.js';

interface Child {
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const registrars: Registrar[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of registrars.splice(0)) await r.close();
});

function start(args: string[]): Child {
  const p = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(p);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  return { process: p, stdout: () => out, stderr: () => err, exited };
}

/** Runs a tool to completion without blocking this process's event loop (the registrar lives here). */
async function run(args: string[], timeoutMs = 20_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const c = start(args);
  c.process.stdin!.end();
  const timer = setTimeout(() => c.process.kill('SIGKILL'), timeoutMs);
  const status = await c.exited;
  clearTimeout(timer);
  return { status, stdout: c.stdout(), stderr: c.stderr() };
}

async function liveRegistrar(): Promise<{ r: Registrar; client: string[] }> {
  const r = await registrar({ shards: 2, controlPort: randomInt(20000, 30000) });
  registrars.push(r);
  const { address, port, udpPort } = r.asapAddress;
  return { r, client: ['--transport', 'udp', '--registrar', `${address}:${port}:${udpPort}`, '--local-address', LOOPBACK] };
}

async function pe(client: string[], extra: string[]): Promise<{ child: Child; peId: string }> {
  const child = start(['pe', ...client, ...extra]);
  await until(() => /registered PE/.test(child.stderr()) || child.process.exitCode !== null, 15_000, 'pe to register');
  const m = /registered PE (0x[0-9a-f]{8})/.exec(child.stderr());
  if (m === null) throw new Error(`pe did not register: ${child.stderr()}`);
  return { child, peId: m[1]! };
}

describe('rserpool pe | resolve | terminal | dump', () => {
  it('pe registers; resolve prints it as a table and as JSON', async () => {
    const { client } = await liveRegistrar();
    const a = await pe(client, ['--pool', 'tools-lu', '--policy', 'least-used', '--load', '25%']);
    const b = await pe(client, ['--pool', 'tools-lu', '--policy', '0x40000001', '--load', '0.5']);
    const json = await run(['resolve', 'tools-lu', '--items', '5', '--json', ...client]);
    expect(json.status, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { pool: string; elements: { peIdHex: string; userTransport: { protocol: string; addresses: string[]; use: string }; policy: { name: string; load: number } }[] };
    expect(doc.pool).toBe('tools-lu');
    // Least used: the 25 % element first.
    expect(doc.elements.map((e) => e.peIdHex)).toEqual([a.peId, b.peId]);
    expect(doc.elements[0]!.userTransport).toMatchObject({ protocol: 'sctp', addresses: [LOOPBACK], use: 'data+control' });
    expect(doc.elements[0]!.policy).toEqual({ type: 0x40000001, name: 'LeastUsed', load: Math.round(0.25 * 0xffffffff) });
    const text = await run(['resolve', 'tools-lu', '--items', '5', ...client]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/pool "tools-lu": 2 element\(s\), policy LeastUsed/);
    expect(text.stdout).toContain(`${a.peId}`);
    expect(text.stdout).toMatch(/load=25\.0%/);
    const unknown = await run(['resolve', 'tools-nobody', ...client]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown pool handle "tools-nobody"/);
  }, 90_000);

  it('terminal echoes lines through a PE and shows the failover when that PE is killed', async () => {
    const { client } = await liveRegistrar();
    const pes = [await pe(client, ['--pool', 'tools-echo']), await pe(client, ['--pool', 'tools-echo'])];
    const terminal = start(['terminal', 'tools-echo', ...client]);
    terminal.process.stdin!.write('hello pool\n');
    await until(() => terminal.stdout().includes('hello pool\n'), 15_000, `the echo (${terminal.stderr()})`);
    const at = /connected to PE (0x[0-9a-f]{8})/.exec(terminal.stderr())![1]!;
    const victim = pes.find((p) => p.peId === at)!;
    const survivor = pes.find((p) => p.peId !== at)!;
    victim.child.process.kill('SIGKILL');
    await until(() => /failover:/.test(terminal.stderr()), 20_000, `the failover (${terminal.stderr()})`);
    expect(terminal.stderr()).toMatch(new RegExp(`failover: PE ${at} at [0-9.]+:\\d+ failed \\(association [a-z-]+\\); now at PE ${survivor.peId}.*cookie echoed`));
    terminal.process.stdin!.write('after failover\n');
    await until(() => terminal.stdout().includes('after failover\n'), 10_000, 'the echo from the second PE');
    terminal.process.stdin!.end();
    expect(await terminal.exited).toBe(0);
    expect(terminal.stdout()).toBe('hello pool\nafter failover\n');
    // The survivor logged the cookie echo with the count the killed PE reached.
    await until(() => /failed over from PE/.test(survivor.child.stderr()), 5000, 'cookie echo at the survivor');
    expect(survivor.child.stderr()).toContain(`failed over from PE ${at}; cookie echo says 1 message(s) served`);
  }, 90_000);

  it('dump shows pools, policies and elements from the control channel', async () => {
    const { r, client } = await liveRegistrar();
    const a = await pe(client, ['--pool', 'tools-dump-a', '--policy', 'WeightedRandom', '--weight', '7']);
    const b = await pe(client, ['--pool', 'tools-dump-b']);
    const control = ['--registrar', `127.0.0.1:${r.controlPort}`];
    const text = await run(['dump', ...control]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/: 2 pool\(s\), 2 element\(s\)/);
    expect(text.stdout).toMatch(/Pool "tools-dump-a" \(handle [0-9a-f]+\), policy WeightedRandom, 1 element/);
    expect(text.stdout).toMatch(/Pool "tools-dump-b" .*policy RoundRobin/);
    expect(text.stdout).toMatch(new RegExp(`${a.peId} +0x[0-9a-f]{8} +sctp 127\\.0\\.0\\.1:\\d+ data\\+control +weight=7`));
    expect(text.stdout).toContain(b.peId);
    expect(text.stdout).toMatch(/keep-alive (transmission|timeout) in \d+\.\d s/);
    const json = await run(['dump', '--json', ...control]);
    const doc = JSON.parse(json.stdout) as { registrarId: number; pools: { handle: string; elements: { peId: number; home: number; policy: Record<string, number> }[] }[] };
    expect(doc.registrarId).toBe(r.id);
    expect(doc.pools.map((p) => p.handle)).toEqual(['tools-dump-a', 'tools-dump-b']);
    expect(doc.pools[0]!.elements[0]).toMatchObject({ peId: Number(a.peId), home: r.id, policy: { weight: 7 } });
    const stats = await fetch(`http://127.0.0.1:${r.controlPort}/stats`).then((x) => x.json() as Promise<{ registrarId: number }>);
    expect(stats.registrarId).toBe(r.id);
    const none = await run(['dump', '--registrar', '127.0.0.1:1']);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no registrar control channel at 127\.0\.0\.1:1/);
  }, 90_000);

  // Seven processes, started together: one after another they took over 30 s on a loaded
  // 2-core CI machine (each start loads the whole CLI).
  it('--help and bad options', async () => {
    const tools = ['pe', 'terminal', 'resolve', 'dump'];
    const [helps, noPool, badPolicy, badRegistrar] = await Promise.all([
      Promise.all(tools.map((tool) => runCliAsync([tool, '--help'], 60_000))),
      runCliAsync(['pe'], 60_000),
      runCliAsync(['pe', '--pool', 'x', '--policy', 'fastest'], 60_000),
      runCliAsync(['resolve', 'x', '--registrar', 'nohost:99999'], 60_000),
    ]);
    for (const h of helps) {
      expect(h.status, h.stderr).toBe(0);
      expect(h.stdout).toMatch(/Usage: rserpool /);
      expect(h.stdout).toMatch(/Examples:/);
    }
    expect(noPool.status).not.toBe(0);
    expect(noPool.stderr).toMatch(/--pool/);
    expect(badPolicy.status).not.toBe(0);
    expect(badPolicy.stderr).toMatch(/unknown policy "fastest"/);
    expect(badRegistrar.status).not.toBe(0);
    expect(badRegistrar.stderr).toMatch(/host:port\[:udpPort\]/);
  }, 90_000);

  // `npm start` runs `rserpool registrar` with auto transport: raw SCTP as root. The tools'
  // default is auto too, so they meet it without options besides --registrar.
  it.skipIf(process.getuid?.() !== 0)('default transports meet: registrar child in auto (raw) mode, pe/resolve/terminal with defaults', async () => {
    const asapPort = randomInt(20000, 30000);
    const reg = start(['registrar', '--asap-port', String(asapPort), '--enrp-port', String(asapPort + 1), '--shards', '1', '--announce', 'off', '--control-port', '0']);
    await until(() => /registrar started/.test(reg.stderr()), 15_000, `registrar start (${reg.stderr()})`);
    expect(reg.stderr()).toMatch(/raw mode/);
    const registrarOption = ['--registrar', `127.0.0.1:${asapPort}`];
    const a = await pe(registrarOption, ['--pool', 'tools-raw']);
    expect(a.child.stderr()).toMatch(/SCTP raw mode/);
    const resolved = await run(['resolve', 'tools-raw', '--json', ...registrarOption]);
    expect(resolved.status, resolved.stderr).toBe(0);
    expect((JSON.parse(resolved.stdout) as { elements: { peIdHex: string }[] }).elements.map((e) => e.peIdHex)).toEqual([a.peId]);
    const terminal = start(['terminal', 'tools-raw', ...registrarOption]);
    terminal.process.stdin!.end('raw hello\n');
    expect(await terminal.exited).toBe(0);
    expect(terminal.stdout()).toBe('raw hello\n');
    a.child.process.kill('SIGTERM');
    expect(await a.child.exited).toBe(0);
    expect(a.child.stderr()).toMatch(/SIGTERM: deregistering/);
    reg.process.kill('SIGTERM');
    await reg.exited;
  }, 90_000);
});
