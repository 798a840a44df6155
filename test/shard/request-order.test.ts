// The flush rule (src/shard/shard-set.ts requestAll): a control request to the shards must
// see every record queued before it in the same event-loop turn. The race from the issue: a
// PE registers over an association (the registration waits in this turn's batch) while
// another shard's keep-alive timeout asks the registrar to abort that association if it
// carries no PE; associationElements() sent before the batch counted 0, and abortIfUnused
// aborted the association of a PE that had just registered. Here with a real worker thread.
import { afterEach, describe, expect, test } from 'vitest';
import { ShardSet } from '../../src/shard/shard-set.js';
import type { FromShardHandler } from '../../src/shard/thread-protocol.js';
import { AsapType, decodeAsap, encodeMessage } from '../../src/wire/index.js';
import { registration } from '../registrar/asap-peer.js';

let set: ShardSet | undefined;
afterEach(async () => {
  await set?.close();
  set = undefined;
});

function start(shards: number, sent: Array<{ association: number; type: number }>): Promise<ShardSet> {
  const output: FromShardHandler = {
    sendAsap(association, message) {
      const r = decodeAsap(message);
      if (r.ok) sent.push({ association, type: r.message.type });
    },
    abortAssociation() {},
    enrpHandleUpdate() {},
    handleTablePage() {},
    sendAsapToTransport() {},
  };
  const s = new ShardSet(shards, { registrarId: 0x1234, keepAliveInterval: 60_000, keepAliveTimeout: 60_000, limits: {}, shardCount: shards, enrp: false }, { output, log() {}, attached() {} });
  set = s;
  return s.start().then(() => s);
}

describe('a request after records queued in the same turn', () => {
  test('associationElements() counts a registration queued before it (no abort of a PE that has just registered)', async () => {
    const sent: Array<{ association: number; type: number }> = [];
    const shards = await start(2, sent);
    const association = 7;
    shards.toAll((batch) => batch.associationUp(association, { address: '127.0.0.1', port: 5000 }));
    const message = encodeMessage(registration('flush-rule', 42));
    // Same turn: the registration is only queued, then the count request goes out.
    shards.asapMessage(shards.route(new TextEncoder().encode('flush-rule')), association, message);
    expect(await shards.associationElements(association)).toBe(1);
    expect(sent).toEqual([{ association, type: AsapType.RegistrationResponse }]);
  });

  test('every request kind sees the records queued before it', async () => {
    const shards = await start(2, []);
    shards.toAll((batch) => batch.associationUp(9, { address: '127.0.0.1', port: 5000 }));
    for (let i = 1; i <= 20; i++) shards.asapMessage(shards.route(new TextEncoder().encode(`pool-${i}`)), 9, encodeMessage(registration(`pool-${i}`, i)));
    expect((await shards.dump()).length).toBe(20);
    expect((await shards.stats()).reduce((n, s) => n + s.poolElements, 0)).toBe(20);
    shards.associationDown(9);
    expect(await shards.associationElements(9)).toBe(0);
  });
});
