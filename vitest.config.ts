import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One test file at a time: many files start registrars, shard threads, tshark, network
    // namespaces and User-mode Linux hosts with short protocol timers; on a 2-core machine
    // running them side by side starves their timers (false failures), and it saves little
    // time since the suite is mostly waiting on those timers anyway.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
