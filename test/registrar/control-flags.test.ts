// The control channel's caps are flags an operator sets (--control-max-connections-per-address,
// --control-probe-reserve, --control-head-timeout, --control-response-timeout; config file keys
// of the same names), and a real `rserpool registrar` process obeys them: one address holding
// half-sent requests gets its share and the reserve only, the rest is cut at once; what it
// holds is cut after the head timeout given (not 10 s), and another address is served all along.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { defaultRegistrarConfig } from '../../src/registrar/config.js';
import { controlLimits } from '../../src/registrar/control.js';
import { runCli } from '../helpers/cli.js';
import { rawConnections } from '../helpers/raw-connections.js';
import { registrarProcesses } from '../helpers/registrar-process.js';

const dir = mkdtempSync(join(tmpdir(), 'rserpool-control-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const processes = registrarProcesses();
const sockets: Socket[] = [];
const { dial, raw } = rawConnections(sockets);
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  processes.killAll();
});

/** One request on a new connection; everything read until the server closes it. */
function request(port: number, path: string, localAddress: string): Promise<string> {
  return raw(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, localAddress);
}

const HALF = 'GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '; // a request head never finished

describe('rserpool registrar: control channel caps as flags', () => {
  test('--help names the flags with their defaults', () => {
    const help = runCli(['registrar', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--control-max-connections-per-address <n> .*\(default: 16\)/);
    expect(help).toMatch(/--control-probe-reserve <n> .*\(default: 8\)/);
    expect(help).toMatch(/--control-head-timeout <ms> .*\(default: 10000\)/);
    expect(help).toMatch(/--control-response-timeout <ms> .*\(default: 30000\)/);
  });

  test('per-address cap 2, probe reserve 1 (from the config file), head timeout 1.5 s: an address holding half-sent heads keeps 3, cut after 1.5 s', async () => {
    const config = join(dir, 'registrar.yaml');
    writeFileSync(config, 'control-probe-reserve: 1\n');
    const { port: controlPort } = await processes.start(['--config', config, '--control-max-connections-per-address', '2', '--control-head-timeout', '1500'], { until: 'control channel listening', timeoutMs: 20_000 });
    const attackers: Socket[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await dial(controlPort, '127.0.0.2');
      s.on('error', () => undefined);
      s.write(HALF);
      attackers.push(s);
    }
    const t0 = Date.now();
    // Its share (2) and the reserve (1); with the defaults it would hold 16 + 8. The rest are
    // closed at once (polled: a fixed 300 ms wait could be short on a loaded machine).
    for (let end = Date.now() + 5000; attackers.filter((s) => !s.destroyed).length > 3 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect(attackers.filter((s) => !s.destroyed).length).toBe(3);
    // Another address is served meanwhile.
    expect(await request(controlPort, '/stats', '127.0.0.3')).toMatch(/^HTTP\/1\.1 200/);
    // The head timeout given: its 2 are cut after 1.5 s (the default would hold them 10 s).
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (attackers.every((s) => s.destroyed) || Date.now() - t0 > 8000) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
    const cutAfter = Date.now() - t0;
    expect(attackers.every((s) => s.destroyed)).toBe(true);
    expect(cutAfter).toBeGreaterThan(1000);
    expect(cutAfter).toBeLessThan(8000); // the given 1.5 s, not the default 10 s (timers run late when loaded)
    // Then its own requests are served again.
    expect(await request(controlPort, '/health', '127.0.0.2')).toMatch(/^HTTP\/1\.1 200/);
  }, 40_000);

  test('an out-of-range value is an operator error naming the flag', () => {
    const r = runCli(['registrar', '--control-probe-reserve', '-1']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--control-probe-reserve/);
    const t = runCli(['registrar', '--control-head-timeout', '10']);
    expect(t.status).not.toBe(0);
    expect(t.stderr).toMatch(/--control-head-timeout.*1000\.\.600000/);
  });
});

describe('controlLimits()', () => {
  test('maps every control setting of a registrar configuration to the control server', () => {
    expect(controlLimits(defaultRegistrarConfig())).toEqual({ maxConnections: 64, maxConnectionsPerAddress: 16, probeReserve: 8, headTimeoutMs: 10_000, responseTimeoutMs: 30_000 });
    expect(controlLimits({ controlMaxConnections: 5, controlMaxConnectionsPerAddress: 1, controlProbeReserve: 0, controlHeadTimeout: 2000, controlResponseTimeout: 4000 })).toEqual({ maxConnections: 5, maxConnectionsPerAddress: 1, probeReserve: 0, headTimeoutMs: 2000, responseTimeoutMs: 4000 });
  });
});
