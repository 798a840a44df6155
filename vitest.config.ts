import { defineConfig } from 'vitest/config';

/**
 * Test files that open no socket, start no registrar, thread, process, tshark, network namespace
 * or User-mode Linux host, and run protocol timers in virtual time (injected clocks, memory
 * networks): they run side by side ('unit'), first. A new file of that kind may be added here;
 * anything else runs in 'system', one file at a time.
 */
const UNIT = [
  'test/wire/*.test.ts',
  'test/policy/*.test.ts',
  'test/handlespace/*.test.ts',
  'test/sctp/chunk.test.ts',
  'test/sctp/cookie.test.ts',
  'test/sctp/crc32c.test.ts',
  'test/sctp/endpoint.test.ts',
  'test/sctp/fuzz.test.ts',
  'test/sctp/inbound.test.ts',
  'test/sctp/outbound.test.ts',
  'test/sctp/path.test.ts',
  'test/sctp/serial.test.ts',
  'test/sctp/wildcard-source.test.ts',
  'test/enrp/authority.test.ts',
  'test/enrp/mentor-sync.test.ts',
  'test/enrp/peer-budget.test.ts',
  'test/enrp/peer-links.test.ts',
  'test/enrp/peer-monitoring.test.ts',
  'test/enrp/speaker.test.ts',
  'test/enrp/takeover-rules.test.ts',
  'test/registrar/asap-ownership.test.ts',
  'test/registrar/rate-limit.test.ts',
  'test/client/registrar-table.test.ts',
  'test/client/request-matcher.test.ts',
  'test/client/server-hunt-schedule.test.ts',
  'test/shard/subscriptions.test.ts',
  'test/snapshot/round-trip.test.ts',
  'test/capture/capture-reader.test.ts',
  'test/capture/pcapng-and-links.test.ts',
  'test/transport/stream-framing.test.ts',
  'test/typecheck.test.ts',
];

const timeouts = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // Once for the run (the projects below do not extend this config, so it is not repeated).
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
    projects: [
      {
        test: { ...timeouts, name: 'unit', include: UNIT, sequence: { groupOrder: 0 } },
      },
      {
        // One test file at a time, after the unit tests: these start registrars, shard threads,
        // tshark, network namespaces and User-mode Linux hosts with short protocol timers; on a
        // 2-core machine running them side by side starves their timers (false failures), and
        // it saves little time since they are mostly waiting on those timers anyway.
        // 60 s per test: most start processes or threads, and a loaded 2-core machine makes
        // a 3 s test take 10-30 s (a full run at load 10 took some past 30 s).
        test: { ...timeouts, testTimeout: 60_000, name: 'system', include: ['test/**/*.test.ts'], exclude: UNIT, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
