// The control channel is plain HTTP: a registrar whose --control-address is not loopback warns
// at start that its bearer token crosses the network in clear (a real `rserpool registrar`
// process); on loopback it does not.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { registrarProcesses } from '../helpers/registrar-process.js';

const processes = registrarProcesses();
const dirs: string[] = [];
afterEach(() => {
  processes.killAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts a registrar with its control channel on `controlAddress`; resolves with its stderr once it has started. */
async function startedLog(controlAddress: string): Promise<{ stderr: string; controlPort: number; token: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rserpool-control-'));
  dirs.push(dir);
  const token = 'plain-http-test-token-0123456789';
  writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
  const r = await processes.start(['--mentor-discovery-timeout', '0', '--control-address', controlAddress, '--control-token-file', join(dir, 'token')], { timeoutMs: 20_000 });
  return { stderr: r.stderr(), controlPort: r.port, token };
}

const warnings = (stderr: string): Array<{ level: number; msg: string; control: string }> =>
  stderr
    .split('\n')
    .filter((l) => l.includes('plain HTTP'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; control: string });

describe('the control channel off loopback', () => {
  test('warns at start that the token crosses the network in clear, naming the address and what to do', async () => {
    const run = await startedLog('0.0.0.0');
    const [warning, ...more] = warnings(run.stderr);
    expect(more).toEqual([]);
    expect(warning).toMatchObject({ level: 40, control: `0.0.0.0:${run.controlPort}` });
    expect(warning!.msg).toMatch(/bearer token .* in clear/);
    expect(warning!.msg).toMatch(/TLS-terminating proxy or a tunnel/);
    // It serves as before: the token is still asked for.
    expect((await fetch(`http://127.0.0.1:${run.controlPort}/stats`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${run.controlPort}/stats`, { headers: { authorization: `Bearer ${run.token}` } })).status).toBe(200);
  }, 60_000);

  test('on loopback (with a token too) there is nothing to warn about', async () => {
    const run = await startedLog('127.0.0.1');
    expect(run.stderr).toContain('control channel listening');
    expect(warnings(run.stderr)).toEqual([]);
  }, 60_000);
});
