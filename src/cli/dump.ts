// `rserpool dump`: a registrar's whole handlespace, read from its control channel
// (GET /handlespace on 127.0.0.1, src/registrar/control.ts), printed as RSPLIB's hsdump
// shows it: pools with their policy, every element with owner, transports, policy values
// and its pending timer.
import type { Command } from 'commander';
import { DEFAULT_CONTROL_PORT, type HandlespaceDocument } from '../registrar/control.js';
import type { DumpElement, DumpTransport } from '../shard/handlespace-dump.js';
import { hexId, runTool } from './client-options.js';
import { table } from './resolve.js';
import { readControlToken } from '../registrar/control-auth.js';
import { addControlTlsOptions, controlGet, controlTarget, type ControlTarget, type ControlTlsOptions } from './control-client.js';

interface DumpCliOptions extends ControlTlsOptions {
  registrar: ControlTarget;
  json?: boolean;
  tokenFile?: string;
}

const FRACTIONS = new Set(['load', 'loadDegradation', 'loadDpf', 'weightDpf']);

function transportText(t: DumpTransport | null): string {
  if (t === null) return '-';
  return `${t.protocol} ${t.addresses.join(',')}:${t.port}${t.protocol === 'sctp' ? ` ${t.use}` : ''}`;
}

function valuesText(policy: Record<string, number>): string {
  const parts = Object.entries(policy).map(([k, v]) => (FRACTIONS.has(k) ? `${k}=${((v / 0xffffffff) * 100).toFixed(1)}%` : `${k}=${v}`));
  return parts.length > 0 ? parts.join(' ') : '-';
}

function timerText(e: DumpElement): string {
  if (e.timer === null) return '-';
  return `${e.timer.kind} in ${(e.timer.inMs / 1000).toFixed(1)} s`;
}

/** The readable form of a handlespace document. */
export function formatHandlespace(doc: HandlespaceDocument): string {
  const elements = doc.pools.reduce((n, p) => n + p.elements.length, 0);
  const out: string[] = [`Handlespace of registrar ${hexId(doc.registrarId)} at ${doc.time}: ${doc.pools.length} pool(s), ${elements} element(s)`];
  for (const pool of doc.pools) {
    out.push('', `Pool "${pool.handle}" (handle ${pool.handleHex}), policy ${pool.policy.name}, ${pool.elements.length} element(s)`);
    const rows = pool.elements.map((e) => [
      hexId(e.peId),
      hexId(e.home),
      transportText(e.userTransport),
      valuesText(e.policy),
      `${e.registrationLife} ms`,
      transportText(e.asapTransport),
      timerText(e),
    ]);
    out.push(
      table(['PE ID', 'owner', 'user transport', 'policy values', 'life', 'ASAP transport', 'timer'], rows)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  return `${out.join('\n')}\n`;
}

export function registerDump(program: Command): void {
  const dump = program
    .command('dump')
    .description('show a registrar\'s whole handlespace (pools, policies, elements with owner, transports, policy values and timers)')
    .option('--registrar <host[:port]|https://host[:port]>', `the registrar's control channel (default 127.0.0.1:${DEFAULT_CONTROL_PORT}; see rserpool registrar --control-port); https:// for one with --control-tls-cert`, controlTarget, { host: '127.0.0.1', port: DEFAULT_CONTROL_PORT, scheme: null })
    .option('--json', 'print the JSON document of GET /handlespace')
    .option('--token-file <file>', 'the control channel\'s bearer token (a registrar started with --control-token-file)');
  addControlTlsOptions(dump)
    .addHelpText('after', `\nExamples:\n  rserpool dump\n  rserpool dump --registrar 127.0.0.1:${DEFAULT_CONTROL_PORT} --json\n  rserpool dump --registrar https://10.0.0.1:${DEFAULT_CONTROL_PORT} --control-ca ca.pem --token-file control.token\n`)
    .action((opts: DumpCliOptions) =>
      runTool(async () => {
        const token = opts.tokenFile === undefined ? null : readControlToken(opts.tokenFile);
        const body = (await controlGet(opts.registrar, '/handlespace', { token, timeoutMs: 5000, tls: opts })).toString('utf8');
        const doc = JSON.parse(body) as HandlespaceDocument;
        process.stdout.write(opts.json === true ? `${JSON.stringify(doc, null, 2)}\n` : formatHandlespace(doc));
        return 0;
      }),
    );
}
