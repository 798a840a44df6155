// Shared pieces of the registrar end-to-end tests: a registrar started in-process with a
// logger whose records the test can read, pool handles spread over the shards, and polling.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registrar, type RegistrarConfig } from '../../src/registrar/index.js';
import { shardOf } from '../../src/shard/shard-set.js';

/** One pino record as the registrar logged it. */
export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export const LogLevel = { info: 30, warn: 40, error: 50 } as const;

export interface TestRegistrar {
  registrar: Registrar;
  logs: LogRecord[];
}

/** A registrar on 127.0.0.1, SCTP over UDP on an ephemeral port, no announces, logs kept. */
export async function startTestRegistrar(config: Partial<RegistrarConfig> = {}): Promise<TestRegistrar> {
  const logs: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  const log = pino({ name: 'registrar', level: 'info' }, sink);
  const registrar = await Registrar.start({ transport: 'udp', asapPort: 3863, udpPort: 0, address: '127.0.0.1', announce: false, logLevel: 'info', ...config }, log);
  return { registrar, logs };
}

/** `count` pool handles named `${prefix}-${i}` whose shards cover 0..shards-1 round-robin. */
export function poolsOverShards(prefix: string, count: number, shards: number): string[] {
  const byShard: string[][] = Array.from({ length: shards }, () => []);
  const want = Math.ceil(count / shards);
  for (let i = 0; byShard.some((list) => list.length < want); i++) {
    const name = `${prefix}-${i}`;
    const list = byShard[shardOf(new TextEncoder().encode(name), shards)]!;
    if (list.length < want) list.push(name);
  }
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) out.push(byShard[i % shards]![Math.floor(i / shards)]!);
  return out;
}

export function shardOfPool(pool: string, shards: number): number {
  return shardOf(new TextEncoder().encode(pool), shards);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every `everyMs` until it holds; returns the elapsed time, or throws. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 25): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

export { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
