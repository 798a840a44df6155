// `--shards 0`: the one shard runs on the I/O thread (ShardSetOptions.inline), with the same
// records over a MessageChannel within the thread. It must serve as a worker shard does:
// registrations answered, requests after queued records, an association going down.
import { afterEach, describe, expect, test } from 'vitest';
import { ShardSet } from '../../src/shard/shard-set.js';
import type { FromShardHandler } from '../../src/shard/thread-protocol.js';
import { AsapType, decodeAsap, encodeMessage } from '../../src/wire/index.js';
import { handleResolution, registration } from '../registrar/asap-peer.js';

let set: ShardSet | undefined;
afterEach(async () => {
  await set?.close();
  set = undefined;
});

describe('an inline shard (the handlespace on the I/O thread)', () => {
  test('registers, resolves and forgets the PEs of an association that went down, with no worker thread', async () => {
    const sent: Array<{ association: number; type: number; items?: number }> = [];
    const output: FromShardHandler = {
      sendAsap(association, message) {
        const r = decodeAsap(message);
        if (!r.ok) return;
        const m = r.message;
        sent.push(m.type === AsapType.HandleResolutionResponse ? { association, type: m.type, items: m.poolElements.length } : { association, type: m.type });
      },
      abortAssociation() {},
      enrpHandleUpdate() {},
      handleTablePage() {},
      sendAsapToTransport() {},
    };
    const s = new ShardSet(1, { registrarId: 0x1234, keepAliveInterval: 60_000, keepAliveTimeout: 60_000, limits: {}, shardCount: 1, enrp: false }, { output, log() {}, attached() {} }, { inline: true });
    set = s;
    await s.start();
    expect(s.threads).toEqual([]);
    s.toAll((batch) => batch.associationUp(3, { address: '127.0.0.1', port: 5000 }));
    for (let i = 1; i <= 5; i++) s.asapMessage(0, 3, encodeMessage(registration('inline', i)));
    expect(await s.associationElements(3)).toBe(5);
    s.asapMessage(0, 4, encodeMessage(handleResolution('inline')));
    const stats = await s.stats();
    expect(stats).toMatchObject([{ shard: 0, pools: 1, poolElements: 5 }]);
    expect(sent.filter((m) => m.type === AsapType.RegistrationResponse)).toHaveLength(5);
    expect(sent.find((m) => m.type === AsapType.HandleResolutionResponse)).toEqual({ association: 4, type: AsapType.HandleResolutionResponse, items: 3 });
    s.associationDown(3);
    expect(await s.associationElements(3)).toBe(0);
    expect((await s.stats())[0]!.poolElements).toBe(0);
  });

  test('more than one inline shard is refused', () => {
    expect(() => new ShardSet(2, { registrarId: 1, keepAliveInterval: 1000, keepAliveTimeout: 1000, limits: {} }, { output: {} as FromShardHandler, log() {}, attached() {} }, { inline: true })).toThrow(/one shard/);
  });
});
