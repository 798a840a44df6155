// `bench e2e --transport tcp|tls` (issue 12): the load generator's PEs and PUs over plain TCP
// and over TLS with a PSK, against the registrar the bench starts (its TCP port, its TLS port
// with the PSK file the bench writes) and against one it did not start (--registrar with
// --registrar-tls-port and --registrar-tls-psk). Every registration and resolution is answered
// with no failure, and over both transports connections (TLS: handshakes) are set up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freeUdpPort } from '../../native-free-bench/e2e-load.js';
import { RegistrarProcess } from '../../native-free-bench/e2e-registrar-process.js';
import { EXTERNAL, type E2eRunResult } from '../../native-free-bench/e2e.js';
import { quietRun } from './quiet-run.js';
import { freeTcpPort } from '../helpers/ports.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanup.length > 0) await cleanup.pop()!();
});


const SMALL = { pes: 200, pools: 4, peAssociations: 2, pus: 2, window: 4, duration: 1, connectSeconds: 1, requestTimeout: 10_000 } as const;

/** Every request of every phase answered, none failed, none left; connections set up over the stream. */
function expectAllAnswered(m: E2eRunResult, pes: number): void {
  for (const phase of [m.registration, m.reregistration]) {
    expect(phase.ended).toBeNull();
    expect(phase.operations).toBe(pes);
    expect(phase.failed).toBe(0);
  }
  for (const phase of [m.resolution, m.pacedResolution]) {
    expect(phase.ended).toBeNull();
    expect(phase.operations).toBeGreaterThan(0);
    expect(phase.failed).toBe(0);
  }
  expect(m.connectionSetup).toBeDefined();
  expect(m.connectionSetup!.ended).toBeNull();
  expect(m.connectionSetup!.failed).toBe(0);
  expect(m.connectionSetup!.operations).toBeGreaterThan(0);
  expect(m.connectionSetup!.registrarCpuSeconds).toBeGreaterThanOrEqual(0);
}

describe('bench e2e --transport', () => {
  it('runs the load over TCP and over TLS with a PSK against the registrar it starts, alternating', async () => {
    const result = await quietRun({ ...SMALL, shards: '1', transport: 'tcp,tls' });
    expect(result.settings.transports).toEqual(['tcp', 'tls']);
    expect(result.results.map((r) => [r.shards, r.transport])).toEqual([
      [1, 'tcp'],
      [1, 'tls'],
    ]);
    for (const r of result.results) {
      expect(r.runs).toHaveLength(1);
      expect(r.median.transport).toBe(r.transport);
      expectAllAnswered(r.median, SMALL.pes);
    }
  }, 120_000);

  it('reaches a registrar it did not start on its TLS port with a given PSK file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-tls-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const psk = join(dir, 'psk.txt');
    writeFileSync(psk, 'bench-test:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n');
    const tlsPort = await freeTcpPort();
    const registrar = await RegistrarProcess.start({ shards: 1, address: '127.0.0.1', asapPort: 3863, udpPort: await freeUdpPort(), keepAliveInterval: 600_000, tlsPort, tlsPsk: psk });
    cleanup.push(() => registrar.stop());
    const result = await quietRun({ ...SMALL, transport: 'tls', registrar: `127.0.0.1:3863:${registrar.address.udpPort}`, registrarPid: registrar.pid, registrarTlsPort: tlsPort, registrarTlsPsk: psk });
    expect(result.results).toHaveLength(1);
    expect(result.results[0]!.shards).toBe(EXTERNAL);
    expect(result.results[0]!.transport).toBe('tls');
    expectAllAnswered(result.results[0]!.median, SMALL.pes);
  }, 120_000);

  it('says what is wrong with a bad transport or a TLS registrar without a PSK, before it starts anything', async () => {
    await expect(quietRun({ ...SMALL, transport: 'sctp,quic' })).rejects.toThrow(/--transport: expected sctp, tcp or tls/);
    await expect(quietRun({ ...SMALL, transport: 'tls', registrar: '127.0.0.1:3863' })).rejects.toThrow(/--registrar-tls-psk/);
    await expect(quietRun({ ...SMALL, transport: 'tcp', localAddress: ['127.0.0.2'] })).rejects.toThrow(/--local-address: SCTP only/);
  });
});
