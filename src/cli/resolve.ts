// `rserpool resolve <pool>`: one handle resolution (RFC 5352 §3.3), printed. With --watch it
// subscribes (the S bit, RFC 5352 §2.2.5) and prints every update the registrar pushes, until
// SIGINT/SIGTERM.
import type { Command } from 'commander';
import { PoolUser, UnknownPoolHandleError, type AsapEndpoint, type PoolChange, type ResolvedPoolElement } from '../client/index.js';
import { policyFields, type PolicySettings } from '../wire/index.js';
import { addClientOptions, hexId, runTool, integer, openClientEndpoint, policyName, type ClientCliOptions } from './client-options.js';

interface ResolveCliOptions extends ClientCliOptions {
  items: number;
  json?: boolean;
  watch?: boolean;
  retry: number;
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
    .option('--json', 'print JSON (with --watch: one compact JSON document a line per update)')
    .option('--watch', 'subscribe to the pool (RFC 5352 S bit) and print each update the registrar pushes, until interrupted')
    .option('--retry <ms>', 'with --watch: while the pool does not exist (or the registrar refuses the subscription), resolve again this often', integer(100, 3_600_000), 1000);
  addClientOptions(command)
    .addHelpText('after', '\nExamples:\n  rserpool resolve echo --registrar 127.0.0.1:3863\n  rserpool resolve echo --items 10 --json\n  rserpool resolve echo --watch --json\n')
    .action((pool: string, opts: ResolveCliOptions) => runTool(async () => {
      const asap = await openClientEndpoint(opts, 'resolve');
      try {
        if (opts.watch === true) return await watch(asap, pool, opts);
        const pu = new PoolUser(asap, { staleCacheValue: 0 });
        printResolution(pool, await pu.resolve(pool, { items: opts.items }), opts.json === true, false);
      } finally {
        await asap.close();
      }
      return 0;
    }));
}

/** One resolution as `resolve` prints it; `compact`: JSON on one line (--watch). */
function printResolution(pool: string, elements: ResolvedPoolElement[], json: boolean, compact: boolean): void {
  if (json) {
    const doc = { pool, elements: elements.map(elementJson) };
    process.stdout.write(`${compact ? JSON.stringify(doc) : JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const policy = elements[0] !== undefined ? policyName(elements[0].policy.type) : '-';
  process.stdout.write(`pool "${pool}": ${elements.length} element(s), policy ${policy}\n`);
  const rows = elements.map((e) => [hexId(e.peId), hexId(e.homeRegistrarId), transportText(e), policyName(e.policy.type), formatPolicyValues(e.policy)]);
  if (rows.length > 0) process.stdout.write(`${table(['PE ID', 'home', 'user transport', 'policy', 'values'], rows)}\n`);
}

/**
 * --watch: resolve with the S bit, print the answer, then every pushed update. A pool that
 * does not exist (yet, or any more: the registrar then ends the subscription, RFC 5352
 * §2.2.5) prints as empty and is resolved again every --retry ms until it does; so is a
 * subscription the registrar refused (a limit), which is then polled at that interval.
 */
async function watch(asap: AsapEndpoint, pool: string, opts: ResolveCliOptions): Promise<number> {
  const json = opts.json === true;
  const pu = new PoolUser(asap, { staleCacheValue: 0, subscribe: true });
  let stopped = false;
  let wake: (() => void) | null = null;
  const stop = (): void => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
    });
  let last = '';
  /** Prints unless it is the same selection as the last one printed (a poll that found nothing new). */
  const show = (elements: ResolvedPoolElement[], always: boolean): void => {
    const text = JSON.stringify(elements.map(elementJson));
    if (!always && text === last) return;
    last = text;
    if (!json) process.stdout.write(`${new Date().toISOString()} `);
    printResolution(pool, elements, json, true);
  };
  pu.on('poolChange', (change: PoolChange) => {
    show(change.elements, change.cause === 'push');
    if (!change.subscribed) wake?.(); // resolve again at once, then poll
  });
  try {
    let first = true;
    while (!stopped) {
      if (!pu.isSubscribed(pool)) {
        try {
          show(await pu.resolve(pool, { items: opts.items }), first);
        } catch (error) {
          if (!(error instanceof UnknownPoolHandleError)) throw error;
          show([], first);
        }
        first = false;
        if (!pu.isSubscribed(pool) && !stopped) {
          await pause(opts.retry);
          continue;
        }
      }
      // Subscribed: the pushes arrive as events; wake up when the subscription ends.
      await pause(opts.retry);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    pu.close();
  }
  return 0;
}
