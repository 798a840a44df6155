// `rserpool snapshot save FILE`: a running registrar's handlespace, taken over its control
// channel (GET /snapshot), written atomically to FILE (the format of `registrar --snapshot`).
// `rserpool snapshot show FILE [--pool HANDLE] [--json]`: prints a snapshot file as
// `rserpool dump` prints a live handlespace; with --pool, only that pool is read from the file.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONTROL_PORT, type HandlespaceDocument } from '../registrar/control.js';
import { poolHandleText, dumpTransport, type DumpElement, type DumpPool } from '../shard/handlespace-dump.js';
import type { Pool as FbPool } from '../snapshot/handlespace_generated.js';
import { PoolElement as FbPoolElement } from '../snapshot/handlespace_generated.js';
import { readSnapshotElement } from '../snapshot/part-reader.js';
import { SnapshotReader, type SnapshotHeader } from '../snapshot/snapshot-format.js';
import { readSnapshotFile, writeSnapshotFile } from '../snapshot/snapshot-file.js';
import { SNAPSHOT_PATH } from '../snapshot/control-route.js';
import { policyFields, policyTypeName } from '../wire/index.js';
import { hexId, runTool } from './client-options.js';
import { formatHandlespace } from './dump.js';
import { addControlTlsOptions, controlGet, controlTarget, type ControlTarget, type ControlTlsOptions } from './control-client.js';

function recordsOf(pool: FbPool): DumpPool {
  const handle = pool.handleArray() ?? new Uint8Array(0);
  const type = pool.policyType() >>> 0;
  const elements: DumpElement[] = [];
  const holder = new FbPoolElement();
  const n = pool.elementsLength();
  for (let i = 0; i < n; i++) {
    const r = readSnapshotElement(pool, pool.elements(i, holder)!);
    if (r === null) continue;
    const policy: Record<string, number> = {};
    for (const f of policyFields.get(type) ?? []) policy[f] = r.policy[f];
    elements.push({
      peId: r.peId,
      home: r.homeRegistrarId,
      registrationLife: r.registrationLife,
      userTransport: dumpTransport(r.userTransport),
      asapTransport: dumpTransport(r.asapTransport),
      policy,
      association: 0,
      unreachableReports: 0,
      timer: null,
    });
  }
  elements.sort((a, b) => a.peId - b.peId);
  return {
    handle: poolHandleText(handle),
    handleHex: Buffer.from(handle).toString('hex'),
    policy: { type, name: policyTypeName.get(type) ?? `0x${type.toString(16)}` },
    elements,
  };
}

/** `--pool`: the handle as text, or hex with a 0x prefix. */
function poolHandleArgument(text: string): Uint8Array {
  if (/^0x([0-9a-fA-F]{2})+$/.test(text)) return new Uint8Array(Buffer.from(text.slice(2), 'hex'));
  if (text.length === 0) throw new InvalidArgumentError('expected a pool handle');
  return new TextEncoder().encode(text);
}

interface ShowDocument extends HandlespaceDocument {
  snapshot: Omit<SnapshotHeader, 'timeMs'> & { file: string };
}

export function registerSnapshot(program: Command): void {
  const snapshot = program
    .command('snapshot')
    .description('handlespace snapshots (FlatBuffers): take one from a running registrar, or show one (see rserpool registrar --snapshot)');

  const save = snapshot
    .command('save <file>')
    .description('take a snapshot of a running registrar\'s handlespace over its control channel and write it to FILE (atomically)')
    .option('--registrar <host[:port]|https://host[:port]>', `the registrar's control channel (default 127.0.0.1:${DEFAULT_CONTROL_PORT}); https:// for one with --control-tls-cert`, controlTarget, { host: '127.0.0.1', port: DEFAULT_CONTROL_PORT, scheme: null })
    .option('--token-file <file>', 'file holding the control channel\'s bearer token (registrar --control-token-file)')
    .option('--timeout <ms>', 'how long to wait for the snapshot', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 100) throw new InvalidArgumentError('expected milliseconds >= 100');
      return n;
    }, 60_000);
  addControlTlsOptions(save)
    .addHelpText('after', `\nExamples:\n  rserpool snapshot save /var/lib/rserpool/handlespace.rshs\n  rserpool snapshot save hs.rshs --registrar 127.0.0.1:${DEFAULT_CONTROL_PORT} --token-file /etc/rserpool/control.token\n  rserpool snapshot save hs.rshs --registrar https://10.0.0.1:${DEFAULT_CONTROL_PORT} --control-ca ca.pem --token-file control.token\n`)
    .action((file: string, opts: ControlTlsOptions & { registrar: ControlTarget; tokenFile?: string; timeout: number }) =>
      runTool(async () => {
        const token = opts.tokenFile === undefined ? null : readFileSync(opts.tokenFile, 'utf8').trim();
        const body = await controlGet(opts.registrar, SNAPSHOT_PATH, { token, timeoutMs: opts.timeout, tls: opts });
        const bytes = new Uint8Array(body.buffer, body.byteOffset, body.length);
        // Checked before it replaces anything: a proxy's error page is no snapshot.
        const header = new SnapshotReader(bytes).header;
        await writeSnapshotFile(file, bytes);
        process.stdout.write(`${file}: registrar ${hexId(header.registrarId)}, ${header.poolCount} pool(s), ${header.elementCount} element(s), ${header.bytes} bytes\n`);
        return 0;
      }),
    );

  snapshot
    .command('show <file>')
    .description('print a snapshot file: pools, policies, elements with owner, transports, policy values, registration life')
    .option('--pool <handle>', 'only this pool (text, or hex as 0x...): read from the file without parsing the others')
    .option('--json', 'print JSON (the document of GET /handlespace, plus the file header)')
    .addHelpText('after', '\nExamples:\n  rserpool snapshot show handlespace.rshs\n  rserpool snapshot show handlespace.rshs --pool echo --json\n')
    .action((file: string, opts: { pool?: string; json?: boolean }) =>
      runTool(async () => {
        const reader = await readSnapshotFile(file);
        const h = reader.header;
        let pools: DumpPool[];
        if (opts.pool !== undefined) {
          const handle = poolHandleArgument(opts.pool);
          const pool = reader.findPool(handle);
          if (pool === null) {
            process.stderr.write(`rserpool snapshot show: ${file} holds no pool "${opts.pool}"\n`);
            return 1;
          }
          pools = [recordsOf(pool)];
        } else {
          pools = [];
          for (const pool of reader.pools()) pools.push(recordsOf(pool));
          pools.sort((a, b) => (a.handleHex < b.handleHex ? -1 : a.handleHex > b.handleHex ? 1 : 0));
        }
        const { timeMs, ...header } = h;
        const doc: ShowDocument = { registrarId: h.registrarId, time: new Date(timeMs).toISOString(), pools, snapshot: { file, ...header } };
        if (opts.json === true) {
          process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        } else {
          process.stdout.write(`Snapshot ${file}: format ${h.version}, ${h.bytes} bytes, ${h.poolCount} pool(s), ${h.elementCount} element(s) in ${h.parts} part(s)\n`);
          process.stdout.write(formatHandlespace(doc));
        }
        return 0;
      }),
    );
}
