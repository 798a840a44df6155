// bench e2e's run() for tests: its table or JSON kept off the test output.
import { vi } from 'vitest';
import { run, type E2eBenchResult } from '../../native-free-bench/e2e.js';

export async function quietRun(options: Parameters<typeof run>[0]): Promise<E2eBenchResult> {
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return await run({ ...options, json: true });
  } finally {
    vi.restoreAllMocks();
  }
}
