// A flood of handle resolutions over one association's rate (RFC 5355 §6): the registrar
// answers what the bucket admits, drops and counts the rest in /stats, logs the drops once,
// and keeps serving a second association at its own rate.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Registrar } from '../../src/registrar/index.js';
import { AsapType, encodeMessage } from '../../src/wire/index.js';
import { AsapPeer, endpointUnreachable, handleResolution } from './asap-peer.js';
import { LogLevel, startTestRegistrar, waitFor, type LogRecord } from './harness.js';

const RATE = 200;
const FLOOD = 3000;
const POOL = 'rated-pool';

let registrar: Registrar;
let logs: LogRecord[];
let pe: AsapPeer;
let flooder: AsapPeer;

beforeAll(async () => {
  ({ registrar, logs } = await startTestRegistrar({ shards: 2, resolutionRate: RATE, unreachableReportRate: 10, keepAliveInterval: 60_000, keepAliveTimeout: 60_000 }));
  pe = await AsapPeer.connect(registrar.asapAddress);
  expect((await pe.register(POOL, 7)).flags).toBe(0);
  flooder = await AsapPeer.connect(registrar.asapAddress);
});

afterAll(async () => {
  await pe?.close();
  await flooder?.close();
  await registrar?.close();
});

test('resolutions over the rate are dropped and counted while a second association is served', async () => {
  const request = encodeMessage(handleResolution(POOL, 1));
  const started = performance.now();
  for (let i = 0; i < FLOOD; i++) flooder.send(request);
  // Every request is either answered or dropped and counted.
  const answered = (): number => flooder.received.filter((m) => m.type === AsapType.HandleResolutionResponse).length;
  await waitFor(async () => answered() + (await registrar.stats()).rateLimited.resolutions === FLOOD, 20_000, 'flood answered or counted');
  const seconds = (performance.now() - started) / 1000;
  // The bucket's second of burst plus what it refilled while the flood was read, nothing more.
  expect(answered()).toBeGreaterThanOrEqual(RATE);
  expect(answered()).toBeLessThanOrEqual(RATE + Math.ceil(seconds * RATE) + 1);
  const dropped = FLOOD - answered();
  expect((await registrar.stats()).rateLimited).toEqual({ registrations: 0, resolutions: dropped, unreachableReports: 0 });

  // The PE's association has a bucket of its own: all its resolutions are answered.
  for (let i = 0; i < 50; i++) {
    const r = await pe.resolve(POOL, 1);
    expect(r.poolElements.map((e) => e.peId)).toEqual([7]);
  }
  // One log line for the flood, naming the association's drops.
  const lines = logs.filter((l) => l.level === LogLevel.warn && l.msg.includes("over the association's rate"));
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatchObject({ kind: 'resolutions', dropped: 1 });
});

test('unreachable reports over the rate are dropped before they count against the PE', async () => {
  const report = encodeMessage(endpointUnreachable(POOL, 7));
  await new Promise((resolve) => setTimeout(resolve, 100)); // the resolution bucket refills a little
  flooder.received.splice(0);
  for (let i = 0; i < 100; i++) flooder.send(report);
  // In order on the association: once this resolution is answered, every report was charged.
  await flooder.resolve(POOL, 1);
  const s = await registrar.stats();
  // The bucket holds 10; the few ms of the burst refill at most a token or two.
  expect(s.rateLimited.unreachableReports).toBeGreaterThanOrEqual(85);
  expect(s.rateLimited.unreachableReports).toBeLessThanOrEqual(90);
  expect(s.rateLimited.registrations).toBe(0);
});
