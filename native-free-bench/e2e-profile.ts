// Summary of V8 .cpuprofile files (from `rserpool bench e2e --cpu-prof DIR`): self time by
// area (the sctp package or our SCTP stack, our transport, wire codec, handlespace, shard batches, Node's
// internals, GC, idle) and the heaviest functions, so a benchmark note can say what bounds it.
// Run: npx tsx native-free-bench/e2e-profile.ts DIR-or-FILES... [--top N]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled milliseconds, idle excluded. */
  busyMs: number;
  idleMs: number;
  areas: Array<{ area: string; ms: number; share: number }>;
  functions: Array<{ name: string; ms: number; share: number }>;
}

const AREAS: Array<[RegExp, string]> = [
  [/node_modules\/sctp\//, 'sctp package (userland SCTP)'],
  [/\/src\/sctp\//, 'sctp stack (src/sctp, ours)'],
  [/\/src\/transport\//, 'transport (UDP encapsulation, association wrapper)'],
  [/\/src\/wire\//, 'wire codec'],
  [/\/src\/handlespace\/|\/src\/policy\//, 'handlespace + policy'],
  [/\/src\/shard\//, 'shard batches'],
  [/\/src\/registrar\//, 'registrar (I/O thread, ASAP service)'],
  [/node_modules\/(pino|piscina|sonic-boom|thread-stream)/, 'pino / piscina'],
  [/node_modules\//, 'other packages'],
  [/^node:|^internal\/|^$/, "Node internals (dgram, timers, events, buffers)"],
];

function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8/native (program)';
  for (const [re, area] of AREAS) if (re.test(url)) return area;
  return 'other';
}

export function summarize(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  let idleMs = 0;
  let busyMs = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const area = areaOf(node);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const where = node.callFrame.url.replace(/^.*\/(node_modules\/|src\/)/, '$1');
    const name = `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, ms]) => ({ ms, share: ms / busyMs, k }));
  return {
    file,
    busyMs,
    idleMs,
    areas: sorted(areas, 20).map(({ k, ms, share }) => ({ area: k, ms, share })),
    functions: sorted(functions, top).map(({ k, ms, share }) => ({ name: k, ms, share })),
  };
}

function files(args: string[]): string[] {
  return args.flatMap((a) =>
    statSync(a).isDirectory()
      ? readdirSync(a)
          .filter((f) => f.endsWith('.cpuprofile'))
          .sort()
          .map((f) => join(a, f))
      : [a],
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const t = argv.indexOf('--top');
  const top = t >= 0 ? Number(argv.splice(t, 2)[1]) : 12;
  for (const file of files(argv)) {
    const s = summarize(file, top);
    console.log(`\n${file}: busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`);
    for (const a of s.areas) console.log(`  ${(a.share * 100).toFixed(1).padStart(5)} %  ${a.area}`);
    console.log('  heaviest functions (self time):');
    for (const f of s.functions) console.log(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.name}`);
  }
}
