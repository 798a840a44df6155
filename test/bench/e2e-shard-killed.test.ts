// A shard worker of the registrar under test dies while `bench e2e` resolves handles (issue 14,
// item 5): the generator's closed loop used to lose its whole window to the dead shard and
// stop ("no response for 15 s"). Now every lost request times out, is counted and frees its
// slot: the phase goes on against the other shard (and the restarted one) and ends on time.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TIMEOUT } from '../../native-free-bench/e2e-requests.js';
import { run } from '../../native-free-bench/e2e.js';
import type { Registrar } from '../../src/registrar/index.js';
import { startTestRegistrar } from '../registrar/harness.js';

let registrar: Registrar | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await registrar?.close();
  registrar = undefined;
});

describe('bench e2e while a shard worker dies', () => {
  it('keeps the closed loop going: lost requests time out and are counted, the phase ends on time', async () => {
    ({ registrar } = await startTestRegistrar({
      shards: 2,
      keepAliveInterval: 600_000,
      registrationRate: 0,
      resolutionRate: 0,
      maxElementsPerAssociation: 1_000_000,
    }));
    const r = registrar;
    const { address, port, udpPort } = r.asapAddress;
    let killedAt = 0;
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    // Progress goes to stderr: once re-registration is done, the resolution phase starts (1 s
    // warm-up, then 4 s measured); the shard dies 1.5 s into it.
    vi.spyOn(process.stderr, 'write').mockImplementation((text: string | Uint8Array) => {
      if (killedAt === 0 && String(text).includes('re-registration:')) {
        killedAt = -1;
        setTimeout(() => {
          killedAt = performance.now();
          void r.shardThreads[1]!.terminate();
        }, 1500);
      }
      return true;
    });
    const started = performance.now();
    const result = await run({
      registrar: `${address}:${port}:${udpPort}`,
      pes: 400,
      pools: 20,
      peAssociations: 2,
      pus: 2,
      window: 8,
      duration: 4,
      rate: 200,
      requestTimeout: 500,
      json: true,
    });
    vi.restoreAllMocks();
    expect(killedAt).toBeGreaterThan(0);
    const m = result.results[0]!.median;
    expect(m.registration.failed).toBe(0);
    const resolution = m.resolution;
    // The phase ran its course: not ended early, and not stalled for 15 s at the end.
    expect(resolution.ended).toBeNull();
    expect(resolution.seconds).toBeGreaterThan(3.5);
    expect(resolution.seconds).toBeLessThan(6);
    expect(resolution.operations).toBeGreaterThan(100);
    // What the dead shard lost came back as timeouts, or as negative answers of the restarted
    // (empty) shard, each counted by cause.
    console.info(`shard killed during the resolution phase: ${resolution.operations} answered in ${resolution.seconds.toFixed(1)} s, failed by cause ${JSON.stringify(resolution.failures)}`);
    const lost = resolution.failures[TIMEOUT] ?? 0;
    const negative = resolution.failed - lost;
    expect(lost + negative).toBeGreaterThan(0);
    expect(resolution.failed).toBe(Object.values(resolution.failures).reduce((a, b) => a + b, 0));
    expect(m.pacedResolution.ended).toBeNull();
    expect((performance.now() - started) / 1000).toBeLessThan(40);
  }, 90_000);
});
