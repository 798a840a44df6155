// Plot of `rserpool bench e2e --json` results: an SVG written by hand (no plotting library),
// converted to PNG with rsvg-convert (Debian package librsvg2-bin) when it is installed.
// Left: operations per second by shard count (median), with the targets as dashed lines.
// Right (log scale): p99 latency of the paced half-load run and registrar CPU per operation.
// Run: npx tsx native-free-bench/e2e-plot.ts RESULT.json OUT.svg  (writes OUT.png beside it)
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { E2eBenchResult, E2eRunResult, PhaseResult } from './e2e.js';

interface Series {
  label: string;
  color: string;
  value(r: E2eRunResult): number;
}

const W = 1000;
const H = 440;
const PANEL = { top: 60, bottom: 360, width: 400 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** A round axis maximum above `max`. */
function niceMax(max: number): number {
  const p = 10 ** Math.floor(Math.log10(max || 1));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function barPanel(
  x0: number,
  title: string,
  unit: string,
  results: E2eBenchResult['results'],
  series: Series[],
  lines: Array<{ value: number; label: string; color: string }>,
  logarithmic = false,
): string {
  const values = results.flatMap((r) => series.map((s) => s.value(r.median)));
  const top = Math.max(...values, ...lines.map((l) => l.value));
  // Logarithmic: decades from 1 up; values under 1 sit on the axis.
  const max = logarithmic ? 10 ** Math.ceil(Math.log10(top * 1.05)) : niceMax(top * 1.05);
  const y = logarithmic
    ? (v: number): number => PANEL.bottom - ((PANEL.bottom - PANEL.top) * Math.log10(Math.max(1, v))) / Math.log10(max)
    : (v: number): number => PANEL.bottom - ((PANEL.bottom - PANEL.top) * v) / max;
  const ticks = logarithmic
    ? Array.from({ length: Math.round(Math.log10(max)) + 1 }, (_, i) => 10 ** i)
    : Array.from({ length: 6 }, (_, i) => (max * i) / 5);
  const out: string[] = [];
  out.push(`<text x="${x0 + PANEL.width / 2}" y="${PANEL.top - 28}" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  for (const v of ticks) {
    out.push(`<line x1="${x0}" x2="${x0 + PANEL.width}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${esc(v >= 1000 ? `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k` : String(+v.toFixed(1)))}</text>`);
  }
  out.push(`<text x="${x0 - 48}" y="${(PANEL.top + PANEL.bottom) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 - 48} ${(PANEL.top + PANEL.bottom) / 2})">${esc(unit)}</text>`);
  const group = PANEL.width / results.length;
  const bar = (group * 0.8) / series.length;
  results.forEach((r, g) => {
    const gx = x0 + g * group + group * 0.1;
    series.forEach((s, k) => {
      const v = s.value(r.median);
      const bx = gx + k * bar;
      out.push(`<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${(PANEL.bottom - y(v)).toFixed(1)}" fill="${s.color}"/>`);
      out.push(`<text x="${(bx + bar / 2 - 1).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${esc(v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(1))}</text>`);
    });
    out.push(`<text x="${x0 + g * group + group / 2}" y="${PANEL.bottom + 18}" text-anchor="middle" font-size="12">${r.shards} shard${r.shards === 1 ? '' : 's'}</text>`);
  });
  for (const l of lines) {
    out.push(`<line x1="${x0}" x2="${x0 + PANEL.width}" y1="${y(l.value)}" y2="${y(l.value)}" stroke="${l.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${x0 + PANEL.width - 2}" y="${y(l.value) - 4}" text-anchor="end" font-size="10" fill="${l.color}">${esc(l.label)}</text>`);
  }
  out.push(`<line x1="${x0}" x2="${x0 + PANEL.width}" y1="${PANEL.bottom}" y2="${PANEL.bottom}" stroke="#333"/>`);
  series.forEach((s, k) => {
    const lx = x0 + k * (PANEL.width / series.length);
    out.push(`<rect x="${lx}" y="${PANEL.bottom + 32}" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 14}" y="${PANEL.bottom + 41}" font-size="11">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

export function svg(result: E2eBenchResult): string {
  const s = result.settings;
  const perSecond = (pick: (r: E2eRunResult) => PhaseResult) => (r: E2eRunResult) => pick(r).perSecond;
  const left = barPanel(
    80,
    'Throughput through the registrar (median)',
    'operations per second',
    result.results,
    [
      { label: 'registration', color: '#4e79a7', value: perSecond((r) => r.registration) },
      { label: 're-registration', color: '#76b7b2', value: perSecond((r) => r.reregistration) },
      { label: 'handle resolution', color: '#f28e2b', value: perSecond((r) => r.resolution) },
    ],
    [
      { value: 30_000, label: 'target: 30k resolutions/s', color: '#c0392b' },
      { value: 10_000, label: 'target: 10k registrations/s', color: '#2c3e50' },
    ],
  );
  const right = barPanel(
    570,
    'Half load p99; registrar CPU per operation',
    'ms (p99 latency) / µs (registrar CPU), log scale',
    result.results,
    [
      { label: 'p99 ms, half load', color: '#e15759', value: (r) => r.pacedResolution.p99Ms },
      { label: 'µs CPU/resolution', color: '#59a14f', value: (r) => r.resolution.registrarCpuPerOpUs },
      { label: 'µs CPU/re-registr.', color: '#9c755f', value: (r) => r.reregistration.registrarCpuPerOpUs },
    ],
    [{ value: 5, label: 'target: p99 5 ms', color: '#c0392b' }],
    true,
  );
  const caption =
    `rserpool bench e2e: ${s.pes.toLocaleString('en-US')} PEs, ${s.pools} pools (${s.policy}), ${s.pus} PU associations, ` +
    `${s.window} in flight; ${s.cores} shared cores, load generator on the same machine; ${s.runs === 1 ? 'one run' : `median of ${s.runs} runs`}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    left,
    right,
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="11" fill="#555">${esc(caption)}</text>`,
    '</svg>',
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [input, output = 'e2e.svg'] = process.argv.slice(2);
  if (input === undefined) throw new Error('usage: e2e-plot.ts RESULT.json OUT.svg');
  // The JSON may follow progress lines if stderr and stdout were captured together.
  const text = readFileSync(input, 'utf8');
  const result = JSON.parse(text.slice(text.indexOf('{'))) as E2eBenchResult;
  writeFileSync(output, svg(result));
  const png = output.replace(/\.svg$/, '') + '.png';
  const converted = spawnSync('rsvg-convert', ['-o', png, output], { stdio: 'inherit' });
  console.log(converted.status === 0 ? `wrote ${output} and ${png}` : `wrote ${output} (rsvg-convert unavailable: apt-get install librsvg2-bin for the PNG)`);
}
