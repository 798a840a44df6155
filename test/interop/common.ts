// Shared pieces of the RSPLIB interop tests: our `rserpool` command in a namespace, waiting,
// and the skip reason.
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import type { LabProcess, NetnsLab } from '../helpers/netns.js';
import { rsplibUnavailable } from './rsplib-host.js';

export const SKIP = rsplibUnavailable();
if (SKIP !== null) console.warn(`RSPLIB interop tests skipped: ${SKIP}`);

/** `node dist/src/cli/main.js ARGS` inside a namespace. */
export function rserpool(lab: NetnsLab, ns: string, args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): LabProcess {
  return lab.spawn(ns, process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdin, env: { ...process.env, LOG_LEVEL: 'info' } });
}

/** Runs a tool to its end (bounded) and returns its exit code and output lines. */
export async function rserpoolRun(lab: NetnsLab, ns: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; lines: string[] }> {
  const p = rserpool(lab, ns, args);
  let stdout = '';
  p.process.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  const timer = setTimeout(() => p.process.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout, lines: p.lines };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}

export interface ResolvedJson {
  pool: string;
  elements: Array<{
    peId: number;
    homeRegistrarId: number;
    userTransport: { protocol: string; addresses: string[]; port: number; use?: string } | null;
    policy: { type: number; name: string } & Record<string, unknown>;
  }>;
}

/** `rserpool resolve POOL --json` in a namespace; null when the tool failed (e.g. unknown pool). */
export async function resolveJson(lab: NetnsLab, ns: string, pool: string, via: string[]): Promise<ResolvedJson | null> {
  const r = await rserpoolRun(lab, ns, ['resolve', pool, '--json', '--transport', 'udp', ...via]);
  if (r.code !== 0) return null;
  return JSON.parse(r.stdout) as ResolvedJson;
}
