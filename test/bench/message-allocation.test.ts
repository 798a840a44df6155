// `rserpool bench alloc`: the registrar's V8 heap bytes per message, by thread, for each hot
// path. A small run: every phase reports the I/O thread and the shard, with bytes a message
// plausibly costs (a few hundred bytes to tens of kilobytes), and the keep-alive phase counts
// the keep-alives the generator received.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../native-free-bench/message-allocation.js';

afterEach(() => vi.restoreAllMocks());

describe('bench alloc', () => {
  it('reports bytes per message on the I/O thread and in the shard for every phase', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const r = await run({ pes: 100, pools: 4, ops: 1000, keepAlivePes: 100, keepAliveSeconds: 2, json: true });
    vi.restoreAllMocks();
    expect(r.phases.map((p) => p.phase)).toEqual(['registration (first, fresh process)', 're-registration + response', 'handle resolution + response', 'keep-alive + ACK']);
    for (const p of r.phases) {
      expect(Object.keys(p.threads)).toEqual(['io', 'shard-0']);
      for (const t of Object.values(p.threads)) {
        expect(t.bytesPerMessage).toBeGreaterThan(100);
        expect(t.bytesPerMessage).toBeLessThan(100_000);
      }
    }
    expect(r.phases[1]!.messages).toBe(1000);
    // 100 PEs with keep-alives every second, 2 s measured: about 200.
    expect(r.phases[3]!.messages).toBeGreaterThan(100);
  }, 120_000);
});
