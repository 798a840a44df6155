// Summary of a V8 heap snapshot (.heapsnapshot) by constructor: count and self size of each
// group, largest first. Used on the registrar's threads (e2e --heap-snapshot) and on the
// association-memory server. Run: node dist/native-free-bench/e2e-heap-summary.js FILE [MIN_COUNT] [TOP]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Self size and count per node name and type of a V8 heap snapshot (a .heapsnapshot file). */
export function summarizeHeapSnapshot(file: string, minCount: number): Array<{ name: string; count: number; bytes: number }> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snapshot.snapshot.meta.node_types[0];
  const groups = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]!]!;
    const raw = snapshot.strings[snapshot.nodes[i + nameAt]!] ?? '';
    const name = type === 'object' || type === 'closure' ? `${type} ${raw}` : type === 'string' || type === 'concatenated string' || type === 'sliced string' ? type : `${type} ${raw.slice(0, 40)}`;
    const g = groups.get(name) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snapshot.nodes[i + sizeAt]!;
    groups.set(name, g);
  }
  return [...groups].map(([name, g]) => ({ name, ...g })).filter((g) => g.count >= minCount).sort((a, b) => b.bytes - a.bytes);
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: e2e-heap-summary.js FILE [MIN_COUNT] [TOP]');
  const groups = summarizeHeapSnapshot(file, Number(process.argv[3] ?? 1));
  const total = groups.reduce((t, g) => t + g.bytes, 0);
  console.log(`${file}: ${total} bytes in groups shown below and others`);
  for (const g of groups.slice(0, Number(process.argv[4] ?? 40))) {
    console.log(`${g.name.padEnd(56)} ${String(g.count).padStart(9)} ${String(g.bytes).padStart(11)} ${(g.bytes / Math.max(1, g.count)).toFixed(0).padStart(6)} B each`);
  }
}
