// A command that cannot start exits 1 with one line saying what and what to do, instead of
// running on and serving nothing. Runs the compiled CLI (dist/, built by the global setup).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, runCli } from '../helpers/cli.js';
import { freeUdpPort } from '../helpers/ports.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Starts a registrar and resolves once it logged 'registrar started'. */
async function startRegistrar(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'registrar', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registrar did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('registrar started')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`registrar exited ${code}: ${err}`));
    });
  });
  return child;
}

const quiet = ['--transport', 'udp', '--address', '127.0.0.1', '--announce', 'off', '--mentor-discovery-timeout', '0', '--shards', '1', '--control-port', '0'];

describe('start-up errors exit 1 with the reason and a hint', () => {
  it('a second registrar on the same UDP port', async () => {
    const udpPort = await freeUdpPort();
    await startRegistrar([...quiet, '--udp-port', String(udpPort)]);
    const second = runCli(['registrar', ...quiet, '--udp-port', String(udpPort)], 20_000);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`UDP port ${udpPort} on 127.0.0.1 is in use (another registrar or rserpool process?): choose --udp-port`);
  });

  it('a pool element whose UDP port is taken', async () => {
    const udpPort = await freeUdpPort();
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((r) => holder.bind(udpPort, '127.0.0.1', () => r()));
    try {
      const pe = runCli(['pe', '--pool', 'echo', '--transport', 'udp', '--registrar', '127.0.0.1:3863', '--local-address', '127.0.0.1', '--udp-port', String(udpPort)], 20_000);
      expect(pe.status).toBe(1);
      expect(pe.stderr).toMatch(new RegExp(`rserpool: UDP port ${udpPort}.* is in use .*choose --udp-port`));
    } finally {
      holder.close();
    }
  });

  it('raw mode without privilege names root, CAP_NET_RAW and --transport udp', () => {
    // As root, the command runs as nobody (no CAP_NET_RAW) to see what an unprivileged user sees.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = spawnSync(process.execPath, [CLI, 'resolve', 'echo', '--transport', 'raw', '--registrar', '127.0.0.1:3863'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000, ...asNobody });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^rserpool: raw SCTP needs the raw-socket addon and root or CAP_NET_RAW; or use --transport udp/m);
  });
});
