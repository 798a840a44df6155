// What a user gets from `npm i`: the packed project installed into an empty project, then a
// registrar, a pool element offering echo and a terminal session, all run with npx from there.
// With patch-package, fixes to a dependency never reached users (a dependency's postinstall
// patches nothing in the user's tree): the package must work as published. dist/ comes from
// the vitest global setup (tsc), so `npm pack` runs without scripts.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { freeUdpPort } from '../helpers/ports.js';

const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
const work = mkdtempSync(join(tmpdir(), 'rserpool-install-'));
const project = join(work, 'project');
const children: ChildProcess[] = [];

/** `npx rserpool ...` in the user's project, resolving once stderr shows `ready`. */
function start(args: string[], ready: string, timeoutMs = 20_000): Promise<ChildProcess> {
  const child = spawn('npx', ['--no-install', 'rserpool', ...args], { cwd: project, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`"rserpool ${args[0]}" not ready after ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`"rserpool ${args[0]}" exited ${code}: ${err}`));
    });
  });
}

describe('the packed project, installed with npm into an empty project', () => {
  beforeAll(() => {
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work, ...NPM_QUIET], { cwd: REPO_ROOT, stdio: 'ignore' });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('npm pack made no tarball');
    execFileSync('mkdir', ['-p', project]);
    execFileSync('npm', ['init', '-y'], { cwd: project, stdio: 'ignore' });
    const install = spawnSync('npm', ['i', join(work, tarball), ...NPM_QUIET], { cwd: project, encoding: 'utf8' });
    if (install.status !== 0) throw new Error(`npm i failed (${install.status}): ${install.stderr}`);
  }, 120_000);

  afterAll(() => {
    // npx runs the command in a child of its own: end the whole group.
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) process.kill(-c.pid, 'SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('ships no patches and needs neither the sctp package nor patch-package', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules/rserpool-ts/package.json'), 'utf8')) as { dependencies?: Record<string, string>; scripts?: Record<string, string> };
    expect(Object.keys(installed.dependencies ?? {})).not.toContain('sctp');
    expect(Object.keys(installed.dependencies ?? {})).not.toContain('patch-package');
    expect(installed.scripts?.postinstall).toBeUndefined();
    expect(readdirSync(join(project, 'node_modules/rserpool-ts'))).not.toContain('patches');
  });

  it('a registrar, a pool element offering echo, and a terminal session that gets its lines back', async () => {
    const udpPort = await freeUdpPort();
    const asapPort = 20000 + Math.floor(Math.random() * 20000);
    const registrar = `127.0.0.1:${asapPort}:${udpPort}`;
    await start(
      ['registrar', '--transport', 'udp', '--address', '127.0.0.1', '--udp-port', String(udpPort), '--asap-port', String(asapPort), '--enrp-port', String(asapPort + 1), '--control-port', '0', '--announce', 'off', '--mentor-discovery-timeout', '0', '--shards', '1'],
      'registrar started',
    );
    await start(['pe', '--pool', 'echo', '--service', 'echo', '--transport', 'udp', '--registrar', registrar, '--local-address', '127.0.0.1'], 'registered PE');
    const terminal = spawnSync('sh', ['-c', `printf 'a\\nb\\nc\\n' | npx --no-install rserpool terminal echo --transport udp --registrar ${registrar}`], {
      cwd: project,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(terminal.stderr).not.toMatch(/rserpool: /);
    expect(terminal.stdout).toBe('a\nb\nc\n');
    expect(terminal.status).toBe(0);
  }, 60_000);
});
