// `rserpool bench subscriptions`: pool users subscribed to a pool (RFC 5352 §2.2.5-2.2.6 S
// and A bits, issue 15) while its PEs re-register. A registrar child process (its CPU measured
// apart, /proc), one pool of --pes PEs (LeastUsed) re-registering at --rate per second with a
// new load each time (every re-registration changes what a PU sees), and --subscribers pool
// user associations subscribed to it.
//
// Measured:
// - pushes/s received by the subscribers, and push rounds (pushes per subscriber per second);
// - registrar CPU per push: (CPU/s with subscribers - CPU/s of the same churn without) / pushes/s;
// - delay from change to push, p50/p99: a marker PE (load 0, so every subscriber's selection
//   holds it first) re-registers every --marker-every ms with its sequence number as its
//   registration life; each subscriber notes when it first sees each number, from when the
//   marker's registration was sent (the bench's clock on both ends), so the delay includes the
//   registration's own trip to the registrar and the push's back;
// - resolution throughput (closed loop, --resolvers associations x --window in flight, same
//   pool) during the churn without and with the subscribers.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { AsapFlag, AsapType, ParamType, PolicyType, TransportUse, encodeMessage, parseAddress, policySettings, transportParameter } from '../src/wire/index.js';
import { BenchClient, connectClients, type RegistrarTarget } from './e2e-load.js';
import { freeTcpPort, freeUdpPort } from './free-ports.js';
import { RegistrarProcess } from './e2e-registrar-process.js';
import { Partition } from '../src/handlespace/partition.js';
import type { Scheduler } from '../src/handlespace/timer-schedule.js';
import { AsapService } from '../src/shard/asap-service.js';
import { Subscriptions } from '../src/shard/subscriptions.js';

export interface SubscriptionsBenchOptions {
  subscribers?: number;
  pes?: number;
  /** Re-registrations per second (spread over the PEs in turn). */
  rate?: number;
  /** The registrar's --subscription-interval, ms. */
  interval?: number;
  /** Seconds per measured phase. */
  duration?: number;
  shards?: number;
  resolvers?: number;
  window?: number;
  markerEvery?: number;
  /** PE associations the PEs register over. */
  peAssociations?: number;
  /** Worker threads the subscribers' associations are spread over (the generator's receive side). */
  subscriberThreads?: number;
  /** Only the shard's part, in this process: CPU per push of selection and encoding (no SCTP). */
  inProcess?: boolean;
  json?: boolean;
}

const POOL = new TextEncoder().encode('bench-subscribed-pool');
const MARKER_ID = 0x7fffffff;
const LOCAL = '127.0.0.1';

const LOCAL_ADDRESS = parseAddress(LOCAL)!;

/** A REGISTRATION of a PE of the bench's pool (LeastUsed with `load`), from 127.0.0.1. */
function registrationOf(peId: number, load: number, life = 300_000): Uint8Array {
  return encodeMessage({
    protocol: 'asap',
    type: AsapType.Registration,
    flags: 0,
    paddedLength: false,
    unknownParams: null,
    poolHandle: POOL,
    poolElement: {
      peId,
      homeRegistrarId: 0,
      registrationLife: life,
      userTransport: transportParameter(ParamType.SctpTransport, 10_000 + (peId % 50_000), [LOCAL_ADDRESS], TransportUse.DataPlusControl),
      policy: policySettings(PolicyType.LeastUsed, { load }),
      asapTransport: null,
    },
  });
}
/** Marker sequence numbers a run may use (their send times are in a shared array). */
const MAX_MARKERS = 1 << 20;

/** Wall-clock ms with sub-ms resolution, the same in every thread (performance.now() is per thread). */
const clock = (): number => performance.timeOrigin + performance.now();

// ------------------------------------------------------------------ subscriber threads

interface SubscriberSetup {
  target: RegistrarTarget;
  count: number;
  firstLocalPort: number;
  /** Float64Array over it: send time (clock()) of each marker sequence number, 0 while unsent. */
  markerTimes: SharedArrayBuffer;
}
type ToSubscribers = { kind: 'measure'; on: boolean } | { kind: 'stop' };
type FromSubscribers =
  | { kind: 'subscribed'; accepted: number; refused: number }
  | { kind: 'measured'; pushes: number; delays: Float64Array }
  | { kind: 'stopped' };

/** A worker thread's share of the subscribers: subscribes, counts pushes, notes marker delays. */
async function subscriberThread(setup: SubscriberSetup): Promise<void> {
  const port = parentPort!;
  const markerTimes = new Float64Array(setup.markerTimes);
  const clients: BenchClient[] = [];
  for (let i = 0; i < setup.count; i += 100) clients.push(...(await connectClients(setup.target, Math.min(100, setup.count - i), setup.firstLocalPort + i, { address: LOCAL })));
  let accepted = 0;
  let refused = 0;
  let pushes = 0;
  let measuring = false;
  let delays: number[] = [];
  const subscribe = encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: AsapFlag.Subscribe, paddedLength: false, unknownParams: null, poolHandle: POOL, items: null });
  for (const c of clients) {
    let answered = false;
    let lastSeq = 0;
    c.onResponse = (m) => {
      if (m[0] !== AsapType.HandleResolutionResponse) return;
      const now = clock();
      if (!answered) {
        answered = true;
        if ((m[1]! & AsapFlag.Accept) !== 0) accepted++;
        else refused++;
        if (accepted + refused === clients.length) port.postMessage({ kind: 'subscribed', accepted, refused } satisfies FromSubscribers);
      } else if (measuring) {
        pushes++;
      }
      const seq = markerLife(m);
      if (seq <= lastSeq || seq >= MAX_MARKERS) return;
      // Every marker change since the last one seen reached this subscriber now (a later
      // change superseded the ones in between: they were coalesced into this push).
      if (measuring && lastSeq > 0) {
        for (let q = lastSeq + 1; q <= seq; q++) {
          const at = markerTimes[q]!;
          if (at > 0) delays.push(now - at);
        }
      }
      lastSeq = seq;
    };
    c.send(subscribe);
  }
  port.on('message', (message: ToSubscribers) => {
    if (message.kind === 'measure') {
      if (message.on) {
        pushes = 0;
        delays = [];
        measuring = true;
      } else {
        measuring = false;
        const out = Float64Array.from(delays);
        port.postMessage({ kind: 'measured', pushes, delays: out } satisfies FromSubscribers, [out.buffer]);
      }
    } else {
      void Promise.all(clients.map((c) => c.close().catch(() => undefined))).then(() => port.postMessage({ kind: 'stopped' } satisfies FromSubscribers));
    }
  });
}

if (!isMainThread && (workerData as { subscriptionsBench?: SubscriberSetup } | null)?.subscriptionsBench !== undefined) {
  void subscriberThread((workerData as { subscriptionsBench: SubscriberSetup }).subscriptionsBench);
}

/** The subscriber threads, driven from the main thread. */
class Subscribers {
  private constructor(private readonly workers: Worker[]) {}

  static async start(target: RegistrarTarget, count: number, threads: number, firstLocalPort: number, markerTimes: SharedArrayBuffer): Promise<{ subscribers: Subscribers; accepted: number; refused: number }> {
    const workers: Worker[] = [];
    const answers: Promise<FromSubscribers>[] = [];
    let port = firstLocalPort;
    for (let t = 0; t < threads; t++) {
      const share = Math.floor(count / threads) + (t < count % threads ? 1 : 0);
      if (share === 0) continue;
      const setup: SubscriberSetup = { target, count: share, firstLocalPort: port, markerTimes };
      port += share;
      const worker = new Worker(new URL(import.meta.url), { workerData: { subscriptionsBench: setup } });
      workers.push(worker);
      answers.push(nextMessage(worker, 'subscribed', 60_000));
    }
    let accepted = 0;
    let refused = 0;
    for (const a of await Promise.all(answers)) {
      if (a.kind !== 'subscribed') continue;
      accepted += a.accepted;
      refused += a.refused;
    }
    return { subscribers: new Subscribers(workers), accepted, refused };
  }

  startMeasuring(): void {
    for (const w of this.workers) w.postMessage({ kind: 'measure', on: true } satisfies ToSubscribers);
  }

  async stopMeasuring(): Promise<{ pushes: number; delays: Float64Array }> {
    const answers = this.workers.map((w) => nextMessage(w, 'measured', 30_000));
    for (const w of this.workers) w.postMessage({ kind: 'measure', on: false } satisfies ToSubscribers);
    let pushes = 0;
    const parts: Float64Array[] = [];
    for (const a of await Promise.all(answers)) {
      if (a.kind !== 'measured') continue;
      pushes += a.pushes;
      parts.push(a.delays);
    }
    const delays = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      delays.set(p, at);
      at += p.length;
    }
    return { pushes, delays };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        const stopped = nextMessage(w, 'stopped', 10_000).catch(() => undefined);
        w.postMessage({ kind: 'stop' } satisfies ToSubscribers);
        await stopped;
        await w.terminate();
      }),
    );
  }
}

function nextMessage(worker: Worker, kind: FromSubscribers['kind'], timeoutMs: number): Promise<FromSubscribers> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      reject(new Error(`subscriber thread: no "${kind}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: FromSubscribers): void => {
      if (m.kind !== kind) return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(m);
    };
    worker.on('message', onMessage);
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The registrar's shard counters summed (GET /stats of its control channel). */
async function shardCounters(controlPort: number): Promise<{ counters: Record<string, number>; answersDropped: number }> {
  const stats = (await (await fetch(`http://127.0.0.1:${controlPort}/stats`)).json()) as { answersDropped?: number; shards: Array<{ counters: Record<string, number> }> };
  const counters: Record<string, number> = {};
  for (const shard of stats.shards) for (const [k, v] of Object.entries(shard.counters)) counters[k] = (counters[k] ?? 0) + v;
  return { counters, answersDropped: stats.answersDropped ?? 0 };
}

interface Phase {
  name: string;
  seconds: number;
  registrarCpuPerSecond: number;
  reregistrationsPerSecond: number;
  /** HANDLE_RESOLUTION_RESPONSEs pushed, as the registrar counts them (subscriptionPushes). */
  pushesSentPerSecond: number;
  /** ... and as the subscribers received them. */
  pushesReceivedPerSecond: number;
  /** Push rounds (coalesced changes of the pool), per second. */
  roundsPerSecond: number;
  /** Answers the registrar dropped for a full send queue in the phase. */
  answersDropped: number;
  resolutionsPerSecond: number | null;
  delayP50: number | null;
  delayP99: number | null;
  delaySamples: number;
}

/**
 * The shard's side alone, in this thread and virtual time: an AsapService and its Subscriptions
 * over one Partition, the PEs re-registering (each with a new load) through service.handle()
 * as the I/O thread hands them over, and the coalescing timer fired every `rate * interval`
 * re-registrations. CPU (process.cpuUsage) of the churn with the subscribers minus without,
 * per push: what a shard thread spends to select and encode one push and hand it to its batch
 * (a copy into the batch here too). The I/O thread's SCTP send of each push comes on top
 * (docs/benchmarks.md, SCTP ping-pong: ~2.5 µs per one-way message of 100 bytes).
 */
export function runInProcess(o: SubscriptionsBenchOptions = {}): { cpuMicrosecondsPerPush: number; churnMicrosecondsPerReregistration: number; pushes: number; rounds: number; bytesPerPush: number } {
  const subscriberCount = o.subscribers ?? 1000;
  const pes = o.pes ?? 1000;
  const rate = o.rate ?? 1000;
  const interval = o.interval ?? 100;
  const seconds = o.duration ?? 10;
  const perRound = Math.max(1, Math.round((rate * interval) / 1000));
  let now = 0;
  const due: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const scheduler: Scheduler = {
    now: () => now,
    schedule(at, callback) {
      const w = { at, callback, cancelled: false };
      due.push(w);
      return w;
    },
    cancel(handle) {
      (handle as { cancelled: boolean }).cancelled = true;
    },
  };
  let loadSeq = 0;
  const measureChurn = (subscribe: boolean): { cpu: number; pushes: number; rounds: number; bytes: number } => {
    const partition = new Partition({ ownRegistrarId: 1, scheduler, keepAliveInterval: 1e9, keepAliveTimeout: 1e9, jitter: 0, limits: { maxPoolElementsPerAssociation: 1e9 } });
    // A batch as the worker's: every message copied once into a reused buffer.
    const batch = new Uint8Array(1 << 20);
    let batchAt = 0;
    let pushes = 0;
    let bytes = 0;
    const toBatch = (message: Uint8Array): void => {
      if (batchAt + message.length > batch.length) batchAt = 0;
      batch.set(message, batchAt);
      batchAt += message.length;
    };
    const service = new AsapService(partition, 1, { send: (_a, m) => toBatch(m), abort: () => undefined }, { info: () => undefined, warn: () => undefined });
    const subscriptions = new Subscriptions(partition, scheduler, (_a, m) => {
      toBatch(m);
      pushes++;
      bytes += m.length;
    }, { interval, maxPerPool: subscriberCount });
    service.subscriptions = subscriptions;
    const peAssociations = 10;
    for (let a = 1; a <= peAssociations; a++) service.associationUp(a, { address: LOCAL, port: 5000 + a });
    for (let i = 0; i < pes; i++) service.handle(1 + (i % peAssociations), registrationOf(i + 1, 1 + i));
    if (subscribe) {
      const resolution = encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: AsapFlag.Subscribe, paddedLength: false, unknownParams: null, poolHandle: POOL, items: null });
      for (let s = 0; s < subscriberCount; s++) {
        service.associationUp(1000 + s, { address: LOCAL, port: 20000 + s });
        service.handle(1000 + s, resolution);
      }
    }
    pushes = 0;
    bytes = 0;
    // The re-registrations, prepared beforehand (the I/O thread hands the shard received bytes).
    const total = rate * seconds;
    const messages: Uint8Array[] = new Array<Uint8Array>(total);
    for (let i = 0; i < total; i++) messages[i] = registrationOf(1 + (i % pes), 1 + (((++loadSeq * 2654435761) % 0xfffffff0) >>> 0));
    const start = process.cpuUsage();
    let rounds = 0;
    for (let i = 0; i < total; i++) {
      now = (i * 1000) / rate;
      service.handle(1 + (i % peAssociations), messages[i]!);
      if ((i + 1) % perRound === 0) {
        now += interval;
        for (const w of due.splice(0)) {
          if (w.cancelled || w.at > now) {
            if (!w.cancelled) due.push(w);
            continue;
          }
          rounds++;
          w.callback();
        }
      }
    }
    const used = process.cpuUsage(start);
    return { cpu: (used.user + used.system) / 1e6, pushes, rounds, bytes };
  };
  measureChurn(true); // warm-up
  const without = measureChurn(false);
  const withSubs = measureChurn(true);
  return {
    cpuMicrosecondsPerPush: withSubs.pushes > 0 ? ((withSubs.cpu - without.cpu) / withSubs.pushes) * 1e6 : NaN,
    churnMicrosecondsPerReregistration: (without.cpu / (rate * seconds)) * 1e6,
    pushes: withSubs.pushes,
    rounds: withSubs.rounds,
    bytesPerPush: withSubs.pushes > 0 ? withSubs.bytes / withSubs.pushes : NaN,
  };
}

export async function run(o: SubscriptionsBenchOptions = {}): Promise<void> {
  if (o.inProcess === true) {
    const runs = [runInProcess(o), runInProcess(o), runInProcess(o)];
    const median = (f: (r: (typeof runs)[number]) => number): number => runs.map(f).sort((a, b) => a - b)[1]!;
    const result = {
      settings: { subscribers: o.subscribers ?? 1000, pes: o.pes ?? 1000, rate: o.rate ?? 1000, interval: o.interval ?? 100, duration: o.duration ?? 10 },
      runs,
      median: { cpuMicrosecondsPerPush: median((r) => r.cpuMicrosecondsPerPush), churnMicrosecondsPerReregistration: median((r) => r.churnMicrosecondsPerReregistration) },
    };
    if (o.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(`subscriptions, shard side in process (median of 3): ${result.median.cpuMicrosecondsPerPush.toFixed(2)} µs CPU per push (select + encode + batch copy), ${result.median.churnMicrosecondsPerReregistration.toFixed(2)} µs per re-registration without subscribers\n`);
      for (const r of runs) process.stdout.write(`  run: ${r.pushes} pushes in ${r.rounds} rounds, ${r.bytesPerPush.toFixed(0)} bytes each, ${r.cpuMicrosecondsPerPush.toFixed(2)} µs per push\n`);
    }
    return;
  }
  const subscriberCount = o.subscribers ?? 1000;
  const pes = o.pes ?? 1000;
  const rate = o.rate ?? 1000;
  const interval = o.interval ?? 100;
  const duration = o.duration ?? 10;
  const shards = o.shards ?? 1;
  const resolvers = o.resolvers ?? 4;
  const window = o.window ?? 16;
  const markerEvery = o.markerEvery ?? 50;
  const peAssociations = Math.max(1, Math.min(o.peAssociations ?? 10, pes));
  const threads = Math.max(1, o.subscriberThreads ?? 2);
  const note = (text: string): void => void process.stderr.write(`${text}\n`);

  const udpPort = await freeUdpPort();
  const controlPort = await freeTcpPort();
  const registrar = await RegistrarProcess.start({
    shards,
    udpPort,
    asapPort: 3863,
    keepAliveInterval: 600_000,
    controlPort,
    extraArgs: [
      '--subscription-interval', String(interval),
      '--max-subscriptions-per-pool', String(Math.max(subscriberCount, 1)),
      '--max-associations', String(subscriberCount + resolvers + peAssociations + 100),
      '--tcp-port', '0',
    ],
  });
  const target: RegistrarTarget = registrar.address;
  const clients: BenchClient[] = [];
  let subscribers: Subscribers | null = null;
  let localPort = 20000;
  const connect = async (n: number): Promise<BenchClient[]> => {
    const out: BenchClient[] = [];
    for (let i = 0; i < n; i += 100) {
      const group = await connectClients(target, Math.min(100, n - i), localPort, { address: LOCAL });
      localPort += group.length;
      out.push(...group);
    }
    clients.push(...out);
    return out;
  };
  try {
    note(`bench subscriptions: registrar pid ${registrar.pid}, ${shards} shard(s), interval ${interval} ms; ${pes} PEs over ${peAssociations} associations`);
    const peClients = await connect(peAssociations);
    let loadSeq = 0;
    /** A new load for a re-registration: never 0 (the marker's), always another value. */
    const nextLoad = (): number => 1 + (((++loadSeq * 2654435761) % 0xfffffff0) >>> 0);

    // Registrations, answered before the phases start.
    let registered = 0;
    for (const c of peClients) c.onResponse = (m) => void (m[0] === AsapType.RegistrationResponse && (m[1]! & AsapFlag.Reject) === 0 && registered++);
    for (let i = 0; i < pes; i++) peClients[i % peAssociations]!.send(registrationOf(i + 1, nextLoad()));
    const markerClient = peClients[0]!;
    const markerTimesBuffer = new SharedArrayBuffer(MAX_MARKERS * 8);
    const markerTimes = new Float64Array(markerTimesBuffer);
    let markerSeq = 1;
    markerTimes[markerSeq] = clock();
    markerClient.send(registrationOf(MARKER_ID, 0, markerSeq));
    await until(() => registered >= pes + 1, 30_000, `registrations (${registered} of ${pes + 1} answered)`);
    for (const c of peClients) c.onResponse = () => undefined;

    /** Re-registrations at `rate`/s over the PEs in turn, and the marker; stops when told. */
    const churn = (): { stop(): { sent: number; seconds: number } } => {
      let next = 0;
      let sent = 0;
      const started = performance.now();
      const tick = setInterval(() => {
        const due = Math.floor(((performance.now() - started) / 1000) * rate);
        while (sent < due) {
          const peIndex = next++ % pes;
          peClients[peIndex % peAssociations]!.send(registrationOf(peIndex + 1, nextLoad()));
          sent++;
        }
      }, 5);
      const marker = setInterval(() => {
        if (markerSeq + 1 >= MAX_MARKERS) return;
        markerSeq++;
        markerTimes[markerSeq] = clock();
        markerClient.send(registrationOf(MARKER_ID, 0, markerSeq));
      }, markerEvery);
      return {
        stop() {
          clearInterval(tick);
          clearInterval(marker);
          return { sent, seconds: (performance.now() - started) / 1000 };
        },
      };
    };

    const resolutionMessage = encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: POOL, items: null });
    const resolverClients = await connect(resolvers);
    /** Closed-loop resolutions for `seconds`: answers per second. */
    const resolveFor = async (seconds: number): Promise<number> => {
      let answered = 0;
      let open = true;
      for (const c of resolverClients) {
        c.onResponse = (m) => {
          if (m[0] !== AsapType.HandleResolutionResponse) return;
          answered++;
          if (open) c.send(resolutionMessage);
        };
        for (let w = 0; w < window; w++) c.send(resolutionMessage);
      }
      await sleep(500);
      const from = answered;
      const start = performance.now();
      await sleep(seconds * 1000);
      const rateOut = ((answered - from) * 1000) / (performance.now() - start);
      open = false;
      await sleep(300);
      return rateOut;
    };

    // Warm-up, not measured: the registrar's and the generator's code paths compiled, the
    // resolvers' associations past their first round trips (the first seconds run at ~1/50 of
    // the rate that follows).
    note('  warm-up ...');
    const warm = churn();
    await resolveFor(3);
    warm.stop();
    await sleep(500);

    const phases: Phase[] = [];
    const measure = async (name: string, withResolutions: boolean): Promise<void> => {
      note(`  ${name} ...`);
      const c = churn();
      await sleep(1000); // the churn settles
      subscribers?.startMeasuring();
      const before = await shardCounters(controlPort);
      const cpu0 = registrar.cpuSeconds().total;
      const t0 = performance.now();
      const resolutionsPerSecond = withResolutions ? await resolveFor(duration) : (await sleep(duration * 1000), null);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = registrar.cpuSeconds().total - cpu0;
      const after = await shardCounters(controlPort);
      const received = subscribers === null ? { pushes: 0, delays: new Float64Array(0) } : await subscribers.stopMeasuring();
      const sent = c.stop();
      const sorted = received.delays.sort();
      const pct = (p: number): number | null => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);
      const delta = (k: string): number => (after.counters[k] ?? 0) - (before.counters[k] ?? 0);
      phases.push({
        name,
        seconds,
        registrarCpuPerSecond: cpu / seconds,
        reregistrationsPerSecond: sent.sent / sent.seconds,
        pushesSentPerSecond: delta('subscriptionPushes') / seconds,
        pushesReceivedPerSecond: received.pushes / seconds,
        roundsPerSecond: delta('subscriptionRounds') / seconds,
        answersDropped: after.answersDropped - before.answersDropped,
        resolutionsPerSecond,
        delayP50: pct(0.5),
        delayP99: pct(0.99),
        delaySamples: sorted.length,
      });
      await sleep(500);
    };

    await measure('churn, no subscribers', false);
    await measure('churn + resolutions, no subscribers', true);

    note(`  subscribing ${subscriberCount} pool users (${threads} thread(s)) ...`);
    const started = await Subscribers.start(target, subscriberCount, threads, localPort, markerTimesBuffer);
    subscribers = started.subscribers;
    localPort += subscriberCount;
    note(`  ${started.accepted} subscriptions accepted, ${started.refused} refused`);

    await measure('churn + subscribers', false);
    await measure('churn + resolutions + subscribers', true);

    const [a, b, c, d] = phases as [Phase, Phase, Phase, Phase];
    const cpuPerPush = c.pushesSentPerSecond > 0 ? ((c.registrarCpuPerSecond - a.registrarCpuPerSecond) / c.pushesSentPerSecond) * 1e6 : NaN;
    const result = {
      settings: { subscribers: subscriberCount, pes, rate, interval, duration, shards, resolvers, window, markerEvery, peAssociations, subscriberThreads: threads },
      accepted: started.accepted,
      refused: started.refused,
      phases,
      registrarCpuMicrosecondsPerPush: cpuPerPush,
      resolutionThroughputRatio: d.resolutionsPerSecond !== null && b.resolutionsPerSecond !== null ? d.resolutionsPerSecond / b.resolutionsPerSecond : NaN,
    };
    if (o.json === true) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const f = (v: number | null, digits = 0): string => (v === null || Number.isNaN(v) ? '-' : v.toFixed(digits));
    process.stdout.write(`subscriptions: ${subscriberCount} subscribers (${started.accepted} accepted) on one pool of ${pes} PEs, ${rate} re-registrations/s, interval ${interval} ms, ${shards} shard(s)\n`);
    process.stdout.write('phase                                rereg/s  rounds/s  pushes/s sent  received  dropped  registrar CPU  resolutions/s  delay p50  p99 ms (samples)\n');
    for (const p of phases) {
      process.stdout.write(
        `${p.name.padEnd(36)} ${f(p.reregistrationsPerSecond).padStart(7)}  ${f(p.roundsPerSecond, 1).padStart(8)}  ${f(p.pushesSentPerSecond).padStart(13)}  ${f(p.pushesReceivedPerSecond).padStart(8)}  ${String(p.answersDropped).padStart(7)}  ${`${f(p.registrarCpuPerSecond * 100)} %`.padStart(13)}  ${f(p.resolutionsPerSecond).padStart(13)}  ${f(p.delayP50, 1).padStart(9)}  ${f(p.delayP99, 1)} (${p.delaySamples})\n`,
      );
    }
    process.stdout.write(`registrar CPU per push: ${f(cpuPerPush, 1)} µs; resolutions with subscribers: ${f(result.resolutionThroughputRatio * 100)} % of without\n`);
  } finally {
    await subscribers?.stop().catch(() => undefined);
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await registrar.stop();
  }
}

/**
 * The registration life of the first PE of a HANDLE_RESOLUTION_RESPONSE if it is the marker
 * (its life is the marker's sequence number), else 0. Reads the parameters in place.
 */
function markerLife(m: Uint8Array): number {
  const end = Math.min(m.length, (m[2]! << 8) | m[3]!);
  let p = 4;
  while (p + 4 <= end) {
    const type = (m[p]! << 8) | m[p + 1]!;
    const length = (m[p + 2]! << 8) | m[p + 3]!;
    if (length < 4) return 0;
    if (type === ParamType.PoolElement) {
      // PE parameter: header, PE ID, home registrar ID, registration life (RFC 5354 §3.13).
      if (p + 16 > end) return 0;
      const peId = ((m[p + 4]! << 24) | (m[p + 5]! << 16) | (m[p + 6]! << 8) | m[p + 7]!) >>> 0;
      if (peId !== MARKER_ID) return 0;
      return ((m[p + 12]! << 24) | (m[p + 13]! << 16) | (m[p + 14]! << 8) | m[p + 15]!) >>> 0;
    }
    p += (length + 3) & ~3;
  }
  return 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = performance.now();
  while (!done()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
