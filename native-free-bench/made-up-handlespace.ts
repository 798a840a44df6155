// A made-up handlespace as the control channel shows it (GET /handlespace), for its benchmark
// and tests: `pools` pools of `perPool` elements.
import type { DumpPool } from '../src/shard/handlespace-dump.js';

export function handlespaceOf(pools: number, perPool: number): DumpPool[] {
  return Array.from({ length: pools }, (_, p) => ({
    handle: `pool-${p}`,
    handleHex: Buffer.from(`pool-${p}`).toString('hex'),
    policy: { type: 'round-robin' },
    elements: Array.from({ length: perPool }, (_, e) => ({
      peId: p * 100_000 + e,
      home: 0x0e000001,
      transports: [{ protocol: 'udp', addresses: [`10.0.${p % 250}.${e % 250}`], port: 4000 + e }],
      policy: { type: 'round-robin' },
      registrationLife: 30_000,
      expiresInMs: null,
    })),
  })) as unknown as DumpPool[];
}
