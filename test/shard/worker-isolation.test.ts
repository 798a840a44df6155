// A shard worker never loads the SCTP stack, the transport layer or a native addon: in raw
// mode the `raw-socket` addon cannot load in a worker, and handlespace work has no business
// with associations (ARCHITECTURE.md "Shape"). Checked twice: at run time, a real worker thread
// runs the compiled worker entry with a module-resolution hook (ESM), a CommonJS load hook and
// a process.dlopen hook, attaches and serves a registration; and statically, over the import
// graph of the compiled worker entry.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { ToShardWriter, readFromShard } from '../../src/shard/thread-protocol.js';
import { AsapType, decodeAsap, encodeMessage } from '../../src/wire/index.js';
import { registration } from '../registrar/asap-peer.js';

const WORKER = resolve('dist/src/shard/worker.js');
const FORBIDDEN = [/\/src\/sctp\//, /\/src\/transport\//, /raw-socket/, /\/node_modules\/sctp\//];

const HOOKS = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage(r.url);
  return r;
}
`;

const HOST = `
import Module, { register } from 'node:module';
import { workerData, parentPort, MessageChannel } from 'node:worker_threads';
const loaded = [];
const load = Module._load;
Module._load = function (request, ...rest) { loaded.push('require:' + request); return load.call(this, request, ...rest); };
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) { loaded.push('dlopen:' + filename); return dlopen.call(this, module, filename, ...rest); };
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => loaded.push(url));
register(workerData.hooks, { data: { port: port2 }, transferList: [port2] });
const { default: attach } = await import(workerData.worker);
attach({ shard: 0, config: { registrarId: 1, keepAliveInterval: 60000, keepAliveTimeout: 60000, limits: {} }, port: workerData.shardPort });
parentPort.on('message', () => setTimeout(() => { port1.close(); parentPort.postMessage(loaded); }, 50));
parentPort.postMessage('attached');
`;

describe('a shard worker', () => {
  test('loads nothing of the SCTP stack, the transport layer, or a native addon (run time)', async () => {
    expect(existsSync(WORKER), 'compiled worker (test/global-setup.ts builds it)').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'shard-isolation-'));
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    writeFileSync(join(dir, 'host.mjs'), HOST);
    const shard = new MessageChannel();
    const worker = new Worker(join(dir, 'host.mjs'), {
      workerData: { hooks: pathToFileURL(join(dir, 'hooks.mjs')).href, worker: pathToFileURL(WORKER).href, shardPort: shard.port2 },
      transferList: [shard.port2],
    });
    try {
      await new Promise<void>((ok, fail) => {
        worker.once('message', () => ok());
        worker.once('error', fail);
      });
      // The worker serves a registration: code paths behind the first message load too.
      const batch = new ToShardWriter();
      batch.associationUp(3, { address: '127.0.0.1', port: 4000 });
      batch.asapMessage(3, encodeMessage(registration('isolation', 1)));
      const types: number[] = [];
      const answered = new Promise<void>((ok) =>
        shard.port1.once('message', (data: ArrayBuffer) => {
          readFromShard(data, { sendAsap: (_a, m) => void types.push(decodeAsap(m).ok ? m[0]! : -1), abortAssociation() {}, enrpHandleUpdate() {}, handleTablePage() {}, sendAsapToTransport() {} });
          ok();
        }),
      );
      const out = batch.take();
      shard.port1.postMessage(out, [out]);
      await answered;
      expect(types).toEqual([AsapType.RegistrationResponse]);
      worker.postMessage('report');
      const loaded = await new Promise<string[]>((ok) => worker.once('message', ok));
      expect(loaded.some((u) => u.endsWith('/src/shard/asap-service.js')), 'the hook saw the worker load its modules').toBe(true);
      expect(loaded.filter((u) => FORBIDDEN.some((f) => f.test(u)) || u.startsWith('dlopen:'))).toEqual([]);
    } finally {
      shard.port1.close();
      await worker.terminate();
    }
  });

  test('imports nothing of the SCTP stack, the transport layer, or a native addon (import graph of the compiled entry)', () => {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) {
        const specifier = m[1] ?? m[2] ?? m[3]!;
        if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
        else bare.add(specifier);
      }
    };
    visit(WORKER);
    expect([...seen].some((f) => f.endsWith('/src/shard/asap-service.js'))).toBe(true);
    expect([...seen].filter((f) => FORBIDDEN.some((r) => r.test(f)) || /\/src\/registrar\//.test(f))).toEqual([]);
    // Only Node's own modules, nothing from node_modules but the FlatBuffers runtime (pure
    // JavaScript, no addon: a shard encodes and restores its part of a handlespace snapshot).
    expect([...bare].filter((s) => !s.startsWith('node:') && s !== 'flatbuffers')).toEqual([]);
  });
});
