// The report of `rserpool bench e2e --soak` (e2e-soak.ts): what a soak yields (its settings,
// one record per window, the summary over the windows after warm-up), the summary's
// arithmetic (medians, the RSS slope by least squares, the summed histogram), and how it is
// printed: one line per window on stderr while it runs, the table and the summary at the end.
import type { GcPauses } from './e2e-gc-probe.js';
import { HISTOGRAM_BOUNDS_MS } from './e2e-soak-latency.js';

/**
 * Sampling interval of the event-loop delay monitors (the registrar's, src/shard/metrics-counts.ts,
 * and the generator's): Node's histogram holds the time between two samples, so the interval
 * itself is subtracted, and what is left is how long the thread was late (stalled).
 */
export const LOOP_SAMPLING_MS = 10;

/** One thread's event-loop stall over a window (ms): its event-loop delay beyond LOOP_SAMPLING_MS. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

export interface SoakWindow {
  index: number;
  /** Seconds since the soak started, at the window's start. */
  startSeconds: number;
  seconds: number;
  /** Handle resolutions answered (with PEs, empty, or negative). */
  resolutions: number;
  /** Answers without a PE (empty or with an Operation Error). */
  emptyAnswers: number;
  timeouts: number;
  /** Every failure by cause (empty answers, timeouts, ASAP_ERRORs, send failures). */
  failures: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Resolutions per bucket of HISTOGRAM_BOUNDS_MS, the last one above the last bound. */
  histogram: number[];
  reregistrations: number;
  reregistrationFailed: number;
  reregistrationP99Ms: number;
  keepAlivesReceived: number;
  keepAlivesAnswered: number;
  /** PEs the registrar removed during the window because a keep-alive went unanswered (RFC 5352 §3.5). */
  pesLost: number;
  /** PEs in the registrar's handlespace at the window's end. */
  registrarPes: number;
  registrarKeepAlivesSent: number;
  registrarRssMiB: number;
  /** Cores the registrar (all threads) and its I/O thread used on average. */
  registrarCores: number;
  ioThreadCores: number;
  generatorCores: number;
  /** ms per second the registrar's threads / the generator's waited for a core (run queue). */
  registrarRunQueueWaitMsPerS: number;
  generatorRunQueueWaitMsPerS: number;
  /** Of registrarRunQueueWaitMsPerS, the I/O thread's: a stall of it that is waiting, not work. */
  ioThreadRunQueueWaitMsPerS: number;
  /** Event-loop delay of every registrar thread (io, shard-0, ...) and of the generator's. */
  eventLoopDelay: Record<string, LoopDelay>;
  /** GC pauses per registrar thread (io, shard-0, ...) during the window. */
  gc: Record<string, GcPauses>;
  /** The largest batch of messages a shard took in the window. */
  shardBatchMax: number;
  /** Context switches of the registrar's threads per second (voluntary and not, /proc): its wake-ups. */
  registrarContextSwitchesPerS: number;
  /** SCTP packets the registrar's ASAP endpoint received per second. */
  registrarPacketsReceivedPerS: number;
  loadAverage: number;
}

export interface SoakBenchResult {
  settings: {
    seconds: number;
    windowSeconds: number;
    warmupSeconds: number;
    reregisterIntervalMs: number;
    rate: number;
    keepAliveInterval: number;
    shards: number;
    pes: number;
    pools: number;
    pus: number;
    peAssociations: number;
    policy: string;
    cores: number;
  };
  registration: { seconds: number; perSecond: number; failed: number };
  windows: SoakWindow[];
  /** Over the windows after warm-up (all of them if none is). */
  summary: {
    windowsCounted: number;
    resolutions: number;
    emptyAnswers: number;
    timeouts: number;
    medianP50Ms: number;
    medianP99Ms: number;
    maxP99Ms: number;
    maxMs: number;
    keepAlivesReceived: number;
    keepAlivesAnswered: number;
    pesLost: number;
    /** PEs registered minus those in the registrar at the end. */
    pesMissingAtEnd: number;
    /** Least squares over the windows' RSS (MiB per hour), and the RSS at the first and last counted window. */
    rssSlopeMiBPerHour: number;
    rssFirstMiB: number;
    rssLastMiB: number;
    medianRegistrarCores: number;
    medianRegistrarContextSwitchesPerS: number;
    medianRegistrarPacketsReceivedPerS: number;
    /** Medians over the windows of the ms per second the registrar's threads (summed) and the generator waited for a core. */
    medianRegistrarRunQueueWaitMsPerS: number;
    medianGeneratorRunQueueWaitMsPerS: number;
    /** Medians over the windows of each thread's event-loop delay p99 and the largest max. */
    eventLoopDelay: Record<string, { medianP99: number; max: number }>;
    gc: Record<string, { pauses: number; totalMs: number; maxMs: number }>;
    /** The resolutions of the counted windows per bucket of HISTOGRAM_BOUNDS_MS. */
    histogram: number[];
    /** Why the soak ended early, or null. */
    ended: string | null;
  };
  histogramBoundsMs: readonly number[];
}

/** The slope (per hour) of y over x seconds by least squares; NaN with fewer than two points. */
export function slopePerHour(points: Array<[seconds: number, value: number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? NaN : (sxy / sxx) * 3600;
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function fmt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

/** One window as a line (stderr, while the soak runs). */
export function soakWindowLine(w: SoakWindow): string {
  const loop = Object.entries(w.eventLoopDelay)
    .map(([thread, d]) => `${thread} ${d.p99.toFixed(1)}/${d.max.toFixed(1)}`)
    .join(', ');
  const gc = Object.entries(w.gc)
    .filter(([, g]) => g.pauses > 0)
    .map(([thread, g]) => `${thread} ${g.pauses}x max ${g.maxMs.toFixed(1)}`)
    .join(', ');
  return (
    `window ${w.index + 1} (${w.startSeconds.toFixed(0)} s): ${fmt(w.resolutions)} resolutions, p50 ${w.p50Ms.toFixed(2)} p99 ${w.p99Ms.toFixed(2)} max ${w.maxMs.toFixed(1)} ms, ` +
    `${fmt(w.emptyAnswers)} empty, ${fmt(w.timeouts)} timeouts; ${fmt(w.reregistrations)} re-registrations (p99 ${w.reregistrationP99Ms.toFixed(2)} ms); ` +
    `keep-alives ${fmt(w.keepAlivesReceived)} received, ${fmt(w.keepAlivesAnswered)} answered; PEs lost ${fmt(w.pesLost)}, ${fmt(w.registrarPes)} in the registrar; ` +
    `RSS ${w.registrarRssMiB.toFixed(1)} MiB, registrar ${(w.registrarCores * 100).toFixed(0)} % (I/O ${(w.ioThreadCores * 100).toFixed(0)} %), ${fmt(w.registrarContextSwitchesPerS)} context switches/s, ${fmt(w.registrarPacketsReceivedPerS)} packets in/s; generator ${(w.generatorCores * 100).toFixed(0)} %; ` +
    `run-queue wait ms/s: registrar ${fmt(w.registrarRunQueueWaitMsPerS)} (I/O thread ${fmt(w.ioThreadRunQueueWaitMsPerS)}), generator ${fmt(w.generatorRunQueueWaitMsPerS)}; ` +
    `loop stall p99/max ms: ${loop}; GC: ${gc === '' ? 'none' : gc}; batch max ${fmt(w.shardBatchMax)}; load ${w.loadAverage.toFixed(1)}`
  );
}

/** The summary over the windows after warm-up (all of them if none is). */
export function summarizeSoak(windows: SoakWindow[], s: SoakBenchResult['settings'], ended: string | null): SoakBenchResult['summary'] {
  const afterWarmup = windows.filter((w) => w.startSeconds >= s.warmupSeconds && w.seconds >= s.windowSeconds * 0.5);
  const counted = afterWarmup.length > 0 ? afterWarmup : windows;
  const sum = (f: (w: SoakWindow) => number): number => windows.reduce((t, w) => t + (Number.isFinite(f(w)) ? f(w) : 0), 0);
  const threads = new Set(counted.flatMap((w) => Object.keys(w.eventLoopDelay)));
  const eventLoopDelay: SoakBenchResult['summary']['eventLoopDelay'] = {};
  for (const t of threads) {
    eventLoopDelay[t] = {
      medianP99: median(counted.map((w) => w.eventLoopDelay[t]?.p99 ?? NaN)),
      max: Math.max(...counted.map((w) => w.eventLoopDelay[t]?.max ?? 0)),
    };
  }
  const gc: SoakBenchResult['summary']['gc'] = {};
  for (const w of counted) {
    for (const [t, g] of Object.entries(w.gc)) {
      const a = (gc[t] ??= { pauses: 0, totalMs: 0, maxMs: 0 });
      a.pauses += g.pauses;
      a.totalMs += g.totalMs;
      a.maxMs = Math.max(a.maxMs, g.maxMs);
    }
  }
  const histogram = new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0);
  for (const w of counted) w.histogram.forEach((n, i) => (histogram[i]! += n));
  const last = windows.at(-1);
  const rssPoints = counted.filter((w) => Number.isFinite(w.registrarRssMiB)).map((w): [number, number] => [w.startSeconds + w.seconds, w.registrarRssMiB]);
  return {
    windowsCounted: counted.length,
    resolutions: sum((w) => w.resolutions),
    emptyAnswers: sum((w) => w.emptyAnswers),
    timeouts: sum((w) => w.timeouts),
    medianP50Ms: median(counted.map((w) => w.p50Ms)),
    medianP99Ms: median(counted.map((w) => w.p99Ms)),
    maxP99Ms: Math.max(...counted.map((w) => (Number.isFinite(w.p99Ms) ? w.p99Ms : 0))),
    maxMs: Math.max(...windows.map((w) => w.maxMs)),
    keepAlivesReceived: sum((w) => w.keepAlivesReceived),
    keepAlivesAnswered: sum((w) => w.keepAlivesAnswered),
    pesLost: sum((w) => w.pesLost),
    pesMissingAtEnd: last !== undefined && Number.isFinite(last.registrarPes) ? s.pes - last.registrarPes : NaN,
    rssSlopeMiBPerHour: slopePerHour(rssPoints),
    rssFirstMiB: rssPoints[0]?.[1] ?? NaN,
    rssLastMiB: rssPoints.at(-1)?.[1] ?? NaN,
    medianRegistrarCores: median(counted.map((w) => w.registrarCores)),
    medianRegistrarContextSwitchesPerS: median(counted.map((w) => w.registrarContextSwitchesPerS)),
    medianRegistrarPacketsReceivedPerS: median(counted.map((w) => w.registrarPacketsReceivedPerS)),
    medianRegistrarRunQueueWaitMsPerS: median(counted.map((w) => w.registrarRunQueueWaitMsPerS)),
    medianGeneratorRunQueueWaitMsPerS: median(counted.map((w) => w.generatorRunQueueWaitMsPerS)),
    eventLoopDelay,
    gc,
    histogram,
    ended,
  };
}

/** The whole report on stdout: settings, a table of the windows, the summary, where the time goes, the histogram. */
export function printSoak(r: SoakBenchResult): void {
  const s = r.settings;
  console.log(
    `soak: ${fmt(s.pes)} PEs in ${s.pools} pools over ${s.peAssociations} associations, keep-alive every ${fmt(s.keepAliveInterval)} ms, re-registration every ${fmt(s.reregisterIntervalMs)} ms; ` +
      `${fmt(s.rate)} resolutions/s paced over ${s.pus} PU associations; ${s.shards} shard(s), ${s.cores} cores; ${fmt(s.seconds)} s in ${fmt(s.windowSeconds)}-s windows`,
  );
  const head = ['window', 'start s', 'resolutions', 'empty', 'timeouts', 'p50 ms', 'p99 ms', 'max ms', 'KA recv/ans', 'PEs lost', 'RSS MiB', 'reg CPU %', 'stall max ms io/shards/gen', 'GC max ms', 'load'];
  const rows = r.windows.map((w) => {
    const shards = Object.entries(w.eventLoopDelay).filter(([t]) => t.startsWith('shard'));
    const gcMax = Math.max(0, ...Object.values(w.gc).map((g) => g.maxMs));
    return [
      String(w.index + 1),
      w.startSeconds.toFixed(0),
      fmt(w.resolutions),
      fmt(w.emptyAnswers),
      fmt(w.timeouts),
      w.p50Ms.toFixed(2),
      w.p99Ms.toFixed(2),
      w.maxMs.toFixed(1),
      `${fmt(w.keepAlivesReceived)}/${fmt(w.keepAlivesAnswered)}`,
      fmt(w.pesLost),
      w.registrarRssMiB.toFixed(1),
      (w.registrarCores * 100).toFixed(0),
      `${(w.eventLoopDelay.io?.max ?? NaN).toFixed(1)}/${shards.map(([, d]) => d.max.toFixed(1)).join(',') || '-'}/${(w.eventLoopDelay.generator?.max ?? NaN).toFixed(1)}`,
      gcMax.toFixed(1),
      w.loadAverage.toFixed(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(line(head));
  for (const row of rows) console.log(line(row));
  const m = r.summary;
  console.log(
    `after warm-up (${m.windowsCounted} windows): median p50 ${m.medianP50Ms.toFixed(2)} ms, median p99 ${m.medianP99Ms.toFixed(2)} ms (worst window ${m.maxP99Ms.toFixed(2)}), max ${m.maxMs.toFixed(1)} ms; ` +
      `${fmt(m.resolutions)} resolutions, ${fmt(m.emptyAnswers)} empty, ${fmt(m.timeouts)} timeouts; keep-alives ${fmt(m.keepAlivesReceived)} received, ${fmt(m.keepAlivesAnswered)} answered; ` +
      `PEs lost ${fmt(m.pesLost)}, missing at the end ${fmt(m.pesMissingAtEnd)}; RSS ${m.rssFirstMiB.toFixed(1)} -> ${m.rssLastMiB.toFixed(1)} MiB, slope ${m.rssSlopeMiBPerHour.toFixed(2)} MiB/h${m.ended !== null ? `; ended early: ${m.ended}` : ''}`,
  );
  // Where the time goes: a resolution waits for the generator's thread (sending, then reading
  // the answer), the registrar's I/O thread (twice) and its shard; each is late by its stalls
  // (GC among them) and by the run queue (cores held by the others).
  console.log(`  where the time goes (medians of the windows): registrar ${(m.medianRegistrarCores * 100).toFixed(0)} % of a core, ${fmt(m.medianRegistrarContextSwitchesPerS)} context switches/s, ${fmt(m.medianRegistrarPacketsReceivedPerS)} SCTP packets in/s; run-queue wait ms/s: registrar ${m.medianRegistrarRunQueueWaitMsPerS.toFixed(0)}, generator ${m.medianGeneratorRunQueueWaitMsPerS.toFixed(0)}`);
  const counted = r.windows.filter((w) => w.startSeconds >= s.warmupSeconds);
  const span = counted.reduce((t, w) => t + w.seconds, 0) || r.windows.reduce((t, w) => t + w.seconds, 0);
  for (const [t, d] of Object.entries(m.eventLoopDelay)) {
    const g = m.gc[t];
    const gc = g === undefined ? '' : `; GC ${fmt(g.pauses)} pauses (${(g.pauses / span).toFixed(1)}/s), ${(g.totalMs / span).toFixed(1)} ms/s, longest ${g.maxMs.toFixed(1)} ms`;
    console.log(`    ${t.padEnd(9)} event-loop stall (beyond the ${LOOP_SAMPLING_MS}-ms sampling): median p99 ${d.medianP99.toFixed(2)} ms, max ${d.max.toFixed(1)} ms${gc}`);
  }
  const total = m.histogram.reduce((a, b) => a + b, 0);
  console.log('  latency histogram (ms, upper bound: share):');
  let acc = 0;
  m.histogram.forEach((n, i) => {
    acc += n;
    if (n === 0) return;
    const bound = i < r.histogramBoundsMs.length ? `<= ${r.histogramBoundsMs[i]}` : `> ${r.histogramBoundsMs.at(-1)}`;
    console.log(`    ${bound.padStart(10)}  ${((n / total) * 100).toFixed(3).padStart(7)} %  (cumulative ${((acc / total) * 100).toFixed(3)} %)`);
  });
}
