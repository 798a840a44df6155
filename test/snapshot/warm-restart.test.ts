// Warm restart end to end: a registrar (the `rserpool` command, a child process) with PEs of
// two PE processes is stopped with SIGTERM and writes its --snapshot; one PE process dies
// meanwhile; the registrar started again with the same --snapshot answers handle resolutions
// at once with every PE, under its old ID, sends its restored PEs keep-alives with the H bit,
// keeps the PEs that answer and drops the dead one's after the keep-alive timeout.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AsapEndpoint, PoolElement } from '../../src/client/index.js';
import { readSnapshotFile } from '../../src/snapshot/snapshot-file.js';
import { AsapType } from '../../src/wire/constants.js';
import { AsapPeer } from '../registrar/asap-peer.js';
import { freeUdpPort, LogLevel, sleep, startTestRegistrar, waitFor, type TestRegistrar } from '../registrar/harness.js';
import { CLI, REPO_ROOT, runCli } from '../helpers/cli.js';

const closers: { close(): Promise<void> }[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const c of closers.splice(0).reverse()) await Promise.race([c.close().catch(() => undefined), sleep(2000)]);
});

const POOL = 'warm-pool';
const KEEP_ALIVE = 1000;

async function peProcess(udpA: number, udpPort: number, count: number, firstPort: number): Promise<{ asap: AsapEndpoint; pes: PoolElement[] }> {
  const asap = await AsapEndpoint.open({
    announces: false,
    registrars: [{ address: '127.0.0.1', port: 3863, udpPort: udpA }],
    sctp: { mode: 'udp', address: '127.0.0.1', udpPort },
    localAddresses: ['127.0.0.1'],
  });
  const pes: PoolElement[] = [];
  for (let i = 0; i < count; i++) {
    const pe = new PoolElement(asap, { poolHandle: POOL, userTransport: { port: firstPort + i }, registrationLife: 60_000 });
    await pe.register();
    pes.push(pe);
  }
  return { asap, pes };
}

const countersOf = async (t: TestRegistrar, name: string): Promise<number> => (await t.registrar.stats()).shards.reduce((n, s) => n + (s.counters[name] ?? 0), 0);

describe('warm restart from a --snapshot', () => {
  it('SIGTERM writes the snapshot; the restarted registrar serves every PE at once, keeps those that answer its H-bit keep-alive and drops a dead one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warm-restart-'));
    const file = join(dir, 'handlespace.rshs');
    const [udpA, peUdp, deadUdp] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    const child = spawn(
      process.execPath,
      [CLI, 'registrar', '--transport', 'udp', '--address', '127.0.0.1', '--udp-port', String(udpA), '--shards', '2', '--announce', 'off', '--control-port', '0', '--tcp-port', '0',
        '--keep-alive-interval', String(KEEP_ALIVE), '--keep-alive-timeout', String(KEEP_ALIVE), '--snapshot', file, '--snapshot-interval', '0'],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
    );
    children.push(child);
    let output = '';
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => output.includes('"registrar started"'), 15_000, 'child registrar started');
    expect(output).toContain('no handlespace snapshot yet: starting empty');

    // Two PE processes: 6 PEs that stay alive, 2 whose process dies while the registrar is down.
    const alive = await peProcess(udpA, peUdp, 6, 7000);
    closers.push(alive.asap);
    const dead = await peProcess(udpA, deadUdp, 2, 7100);
    const deadIds = new Set(dead.pes.map((pe) => pe.peId));

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('handlespace snapshot written at shutdown');
    const written = await readSnapshotFile(file);
    expect(written.header.elementCount).toBe(8);
    expect((await stat(file)).size).toBe(written.header.bytes);
    // `rserpool snapshot show` reads it, one pool without the rest.
    const shown = runCli(['snapshot', 'show', file, '--pool', POOL, '--json']);
    expect(shown.status).toBe(0);
    const doc = JSON.parse(shown.stdout) as { registrarId: number; pools: { elements: { peId: number; userTransport: { port: number } }[] }[] };
    expect(doc.pools[0]!.elements.map((e) => e.userTransport.port).sort()).toEqual([7000, 7001, 7002, 7003, 7004, 7005, 7100, 7101]);

    // The dead PE process: gone without a word (its registrar is down, it cannot deregister).
    await Promise.race([dead.asap.close().catch(() => undefined), sleep(1000)]);

    const restartedAt = performance.now();
    // The restored PEs get a keep-alive at once and the dead ones are removed a keep-alive
    // timeout later: 3 s, so that the first resolution below (which must still see them) does
    // not race it on a loaded machine.
    const restarted = await startTestRegistrar({ udpPort: udpA, shards: 2, keepAliveInterval: KEEP_ALIVE, keepAliveTimeout: 3 * KEEP_ALIVE, snapshot: file, snapshotInterval: 0, peUdpPort: peUdp, tcpPort: 0, controlPort: 0 });
    closers.push(restarted.registrar);
    // Same registrar ID as the writer (no --id given): PEs and peers know it again.
    expect(restarted.registrar.id).toBe(doc.registrarId);

    const pu = await AsapPeer.connect(restarted.registrar.asapAddress);
    closers.push(pu);
    const first = await pu.resolve(POOL, 128, 2000);
    const servedMs = performance.now() - restartedAt;
    expect(first.type).toBe(AsapType.HandleResolutionResponse);
    expect(first.type === AsapType.HandleResolutionResponse ? first.poolElements.length : 0).toBe(8);
    // Eight PEs, two of them from a process gone since: only the snapshot can have them, and
    // they were served before any keep-alive round. Start + first answer take about a second;
    // the bound allows for a loaded machine (2 shard threads start): the warm start's speed is
    // measured by the snapshot benchmark (native-free-bench/snapshot.ts, its warm phase).
    expect(servedMs).toBeLessThan(10_000);
    // Served at once; the restore's end is logged once the shards' background restore is done.
    await waitFor(() => restarted.logs.some((l) => l.msg.startsWith('handlespace restored from the snapshot')), 10_000, 'restore complete');
    const restoredLog = restarted.logs.find((l) => l.msg.startsWith('handlespace restored from the snapshot'));
    expect(restoredLog).toMatchObject({ level: LogLevel.info, poolElements: 8, own: 8, rejected: 0 });

    // Every restored PE got a keep-alive (H bit) over a new association to its ASAP transport.
    await waitFor(async () => (await countersOf(restarted, 'keepAlivesSent')) >= 8, 10_000, 'keep-alives sent');
    // The live PEs answer (and re-home here); the dead ones time out and are removed.
    await waitFor(async () => (await countersOf(restarted, 'keepAliveTimeouts')) >= 2, 3 * KEEP_ALIVE + 10_000, 'dead PEs time out');
    await sleep(2 * KEEP_ALIVE);
    const rows = await restarted.registrar.dump();
    expect(rows.map((r) => r[1]).filter((id) => deadIds.has(id))).toEqual([]);
    expect(rows.map((r) => r[1]).sort()).toEqual(alive.pes.map((pe) => pe.peId).sort());
    expect(new Set(rows.map((r) => r[2]))).toEqual(new Set([restarted.registrar.id]));
    expect(alive.asap.home?.serverId).toBe(restarted.registrar.id);
    const after = await pu.resolve(POOL, 128, 2000);
    expect(after.type === AsapType.HandleResolutionResponse ? after.poolElements.length : 0).toBe(6);
  }, 60_000);

  it('a corrupt snapshot is logged and the registrar starts empty, then overwrites it at close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warm-restart-'));
    const file = join(dir, 'handlespace.rshs');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, 'this is not a snapshot at all, just some text that is long enough');
    const t = await startTestRegistrar({ shards: 1, snapshot: file, snapshotInterval: 0, tcpPort: 0, controlPort: 0 });
    const logged = t.logs.find((l) => l.msg.startsWith('handlespace snapshot cannot be used'));
    expect(logged).toMatchObject({ level: LogLevel.error });
    expect(String(logged!['error'])).toMatch(/not a handlespace snapshot/);
    expect((await t.registrar.stats()).shards[0]!.poolElements).toBe(0);
    const pe = await AsapPeer.connect(t.registrar.asapAddress);
    const r = await pe.register('after-corrupt', 0x1234);
    expect(r.error).toBeNull();
    await t.registrar.close();
    await pe.close();
    const back = await readSnapshotFile(file);
    expect(back.header).toMatchObject({ registrarId: t.registrar.id, elementCount: 1, poolCount: 1 });
  }, 30_000);
});
