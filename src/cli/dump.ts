// `rserpool dump`: a registrar's whole handlespace, read from its control channel
// (GET /handlespace on 127.0.0.1, src/registrar/control.ts), printed as RSPLIB's hsdump
// shows it: pools with their policy, every element with owner, transports, policy values
// and its pending timer.
import { request } from 'node:http';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONTROL_PORT, type HandlespaceDocument } from '../registrar/control.js';
import type { DumpElement, DumpTransport } from '../shard/handlespace-dump.js';
import { hexId, runTool } from './client-options.js';
import { table } from './resolve.js';
import { readControlToken } from '../registrar/control-auth.js';

interface DumpCliOptions {
  registrar: { host: string; port: number };
  json?: boolean;
  tokenFile?: string;
}

const FRACTIONS = new Set(['load', 'loadDegradation', 'loadDpf', 'weightDpf']);

function controlAddress(text: string): { host: string; port: number } {
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(text.trim());
  const port = m?.[2] === undefined ? DEFAULT_CONTROL_PORT : Number(m[2]);
  if (m === null || port < 1 || port > 65535) throw new InvalidArgumentError(`expected host[:port] of a registrar's control channel, got "${text}"`);
  return { host: m[1]!, port };
}

function get(host: string, port: number, path: string, timeoutMs = 5000, token: string | null = null): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers = token === null ? {} : { authorization: `Bearer ${token}` };
    const r = request({ host, port, path, method: 'GET', timeout: timeoutMs, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode === 200) resolve(body);
        else if (response.statusCode === 401) reject(new Error(`control channel at ${host}:${port} needs its bearer token: give --token-file (the registrar's --control-token-file)${token === null ? '' : '; this one is not it'}`));
        else reject(new Error(`control channel at ${host}:${port} answered ${response.statusCode}: ${body.trim()}`));
      });
    });
    r.on('timeout', () => r.destroy(new Error(`control channel at ${host}:${port} did not answer within ${timeoutMs} ms`)));
    r.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') {
        reject(new Error(`no registrar control channel at ${host}:${port} (start the registrar with --control-port ${port}, or give --registrar host:port)`));
      } else reject(error);
    });
    r.end();
  });
}

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
  program
    .command('dump')
    .description('show a registrar\'s whole handlespace (pools, policies, elements with owner, transports, policy values and timers)')
    .option('--registrar <host[:port]>', `the registrar's control channel (default 127.0.0.1:${DEFAULT_CONTROL_PORT}; see rserpool registrar --control-port)`, controlAddress, { host: '127.0.0.1', port: DEFAULT_CONTROL_PORT })
    .option('--json', 'print the JSON document of GET /handlespace')
    .option('--token-file <file>', 'the control channel\'s bearer token (a registrar started with --control-token-file)')
    .addHelpText('after', `\nExamples:\n  rserpool dump\n  rserpool dump --registrar 127.0.0.1:${DEFAULT_CONTROL_PORT} --json\n`)
    .action((opts: DumpCliOptions) =>
      runTool(async () => {
        const token = opts.tokenFile === undefined ? null : readControlToken(opts.tokenFile);
        const body = await get(opts.registrar.host, opts.registrar.port, '/handlespace', 5000, token);
        const doc = JSON.parse(body) as HandlespaceDocument;
        process.stdout.write(opts.json === true ? `${JSON.stringify(doc, null, 2)}\n` : formatHandlespace(doc));
        return 0;
      }),
    );
}
