// `rserpool resolve <pool>`: one handle resolution (RFC 5352 §3.3), printed.
import type { Command } from 'commander';
import { PoolUser, type ResolvedPoolElement } from '../client/index.js';
import { policyFields, type PolicySettings } from '../wire/index.js';
import { addClientOptions, hexId, runTool, integer, openClientEndpoint, policyName, type ClientCliOptions } from './client-options.js';

interface ResolveCliOptions extends ClientCliOptions {
  items: number;
  json?: boolean;
}

const FRACTION_FIELDS = new Set(['load', 'loadDegradation', 'loadDpf', 'weightDpf']);

/** The values a policy carries, by name (fractions of 0xFFFFFFFF as such, RFC 5356 §5). */
export function policyValues(p: PolicySettings): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of policyFields.get(p.type >>> 0) ?? []) out[f] = p[f];
  return out;
}

/** "load=25.0% weight=3" for tables. */
export function formatPolicyValues(p: PolicySettings): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(policyValues(p))) {
    parts.push(FRACTION_FIELDS.has(k) ? `${k}=${((v / 0xffffffff) * 100).toFixed(1)}%` : `${k}=${v}`);
  }
  return parts.length > 0 ? parts.join(' ') : '-';
}

export function elementJson(e: ResolvedPoolElement): Record<string, unknown> {
  return {
    peId: e.peId,
    peIdHex: hexId(e.peId),
    homeRegistrarId: e.homeRegistrarId,
    registrationLife: e.registrationLife,
    userTransport: e.userTransport,
    policy: { type: e.policy.type, name: policyName(e.policy.type), ...policyValues(e.policy) },
  };
}

/** Fixed-width columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function transportText(e: ResolvedPoolElement): string {
  const t = e.userTransport;
  if (t === null) return 'opaque';
  return `${t.protocol} ${t.addresses.join(',')}:${t.port}${t.protocol === 'sctp' ? ` ${t.use}` : ''}`;
}

export function registerResolve(program: Command): void {
  const command = program
    .command('resolve')
    .argument('<pool>', 'pool handle')
    .description('resolve a pool handle at a registrar and print the selected pool elements')
    .option('--items <n>', 'elements wanted (0: the registrar\'s default, 3 at RSPLIB)', integer(0, 128), 0)
    .option('--json', 'print JSON');
  addClientOptions(command)
    .addHelpText('after', '\nExamples:\n  rserpool resolve echo --registrar 127.0.0.1:3863\n  rserpool resolve echo --items 10 --json\n')
    .action((pool: string, opts: ResolveCliOptions) => runTool(async () => {
      const asap = await openClientEndpoint(opts, 'resolve');
      try {
        const pu = new PoolUser(asap, { staleCacheValue: 0 });
        const elements = await pu.resolve(pool, { items: opts.items });
        if (opts.json === true) {
          process.stdout.write(`${JSON.stringify({ pool, elements: elements.map(elementJson) }, null, 2)}\n`);
        } else {
          const policy = elements[0] !== undefined ? policyName(elements[0].policy.type) : '-';
          process.stdout.write(`pool "${pool}": ${elements.length} element(s), policy ${policy}\n`);
          const rows = elements.map((e) => [hexId(e.peId), hexId(e.homeRegistrarId), transportText(e), policyName(e.policy.type), formatPolicyValues(e.policy)]);
          if (rows.length > 0) process.stdout.write(`${table(['PE ID', 'home', 'user transport', 'policy', 'values'], rows)}\n`);
        }
      } finally {
        await asap.close();
      }
      return 0;
    }));
}
