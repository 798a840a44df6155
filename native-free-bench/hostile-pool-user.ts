// The legitimate pool user of `rserpool bench hostile`, in a worker thread of its own so that
// the attackers' generators in the main thread cannot starve it (a starved PU acknowledges
// late, and its own delays would count as the registrar's). It resolves the legitimate pools at
// a steady rate, open loop, and keeps latencies per phase; the main thread names the phases.
//
// Matching answers to requests: a pool's answers come back in order, but the registrar may drop
// an answer (a full send queue). Each request asks for a different number of items (1..8), and a
// pool of the bench has 10 PEs, so an answer's PE count names its request among the next 8;
// requests skipped over are counted lost.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { AsapType, decodeAsap, encodeMessage, type Message } from '../src/wire/index.js';
import { BenchClient, LatencyRecorder, poolHandle, type RegistrarTarget } from './e2e-load.js';

export interface PoolUserSettings {
  target: RegistrarTarget;
  localPort: number;
  pools: number;
  rate: number;
}

/** The pool user over one phase. */
export interface PuPhase {
  phase: string;
  seconds: number;
  /** Answers per second. */
  rate: number;
  p50: number;
  p99: number;
  max: number;
  /** Answers without PEs (a legitimate pool came back empty). */
  empty: number;
  /** Requests whose answer never came (skipped by a later answer of the same pool). */
  lost: number;
}

type ToWorker = { kind: 'phase'; name: string | null } | { kind: 'stop' };
type FromWorker = { kind: 'ready' } | { kind: 'phase'; ended: PuPhase | null; live: number } | { kind: 'stopped' };

const ITEMS = 8;

class SteadyPoolUser {
  private readonly queues: Array<Array<{ at: number; items: number }>>;
  private readonly requests: Uint8Array[][];
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private sent = 0;
  private seq = 0;
  private current: { name: string; from: number; latency: LatencyRecorder; empty: number; lost: number } | null = null;

  constructor(
    private readonly client: BenchClient,
    pools: number,
    private readonly rate: number,
  ) {
    this.queues = Array.from({ length: pools }, () => []);
    this.requests = Array.from({ length: pools }, (_, p) =>
      Array.from({ length: ITEMS }, (_, k) => encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: poolHandle(p), items: k + 1 } as Message)),
    );
    client.onResponse = (m, now) => this.answer(m, now);
  }

  private answer(m: Uint8Array, now: number): void {
    if (m[0] !== AsapType.HandleResolutionResponse) return;
    const r = decodeAsap(m);
    if (!r.ok || r.message.protocol !== 'asap' || r.message.type !== AsapType.HandleResolutionResponse) return;
    const pool = poolIndex(r.message.poolHandle);
    const queue = pool < 0 || pool >= this.queues.length ? undefined : this.queues[pool];
    if (queue === undefined || queue.length === 0) return;
    const n = r.message.poolElements.length;
    // The first request among the next ITEMS that this answer fits; none: the oldest.
    let i = queue.findIndex((q, j) => j < ITEMS && q.items === n);
    if (i < 0) i = 0;
    const request = queue[i]!;
    queue.splice(0, i + 1);
    if (this.current === null) return;
    this.current.lost += i;
    this.current.latency.add(now - request.at);
    if (n === 0) this.current.empty++;
  }

  start(): void {
    this.started = performance.now();
    const tick = (): void => {
      const now = performance.now();
      const due = Math.floor(((now - this.started) / 1000) * this.rate) - this.sent;
      for (let n = 0; n < due; n++) {
        const s = this.seq++;
        const pool = s % this.queues.length;
        const items = 1 + (Math.floor(s / this.queues.length) % ITEMS);
        this.queues[pool]!.push({ at: now, items });
        this.sent++;
        this.client.send(this.requests[pool]![items - 1]!);
      }
      this.timer = setTimeout(tick, 1);
    };
    tick();
  }

  /** Ends the current phase (returned) and starts `name`; null: measure nothing for now. */
  phase(name: string | null): PuPhase | null {
    const now = performance.now();
    let ended: PuPhase | null = null;
    if (this.current !== null) {
      const c = this.current;
      const seconds = (now - c.from) / 1000;
      const [p50, p99, max] = c.latency.percentiles(0.5, 0.99, 1);
      ended = { phase: c.name, seconds, rate: c.latency.count / seconds, p50: p50!, p99: p99!, max: max!, empty: c.empty, lost: c.lost };
    }
    this.current = name === null ? null : { name, from: now, latency: new LatencyRecorder(), empty: 0, lost: 0 };
    return ended;
  }

  liveRate(): number {
    return this.current === null ? NaN : this.current.latency.count / ((performance.now() - this.current.from) / 1000);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

const POOL_PREFIX_LENGTH = 'bench-pool-'.length;

function poolIndex(handle: Uint8Array): number {
  if (handle.length !== POOL_PREFIX_LENGTH + 6) return -1;
  let n = 0;
  for (let i = POOL_PREFIX_LENGTH; i < handle.length; i++) n = n * 10 + handle[i]! - 0x30;
  return n;
}

/** The main thread's handle on the pool user worker. */
export class PoolUserThread {
  /** Phases ended so far, in order. */
  readonly phases: PuPhase[] = [];
  private live = NaN;
  private waiting: Array<(m: FromWorker) => void> = [];

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => {
      if (m.kind === 'phase') {
        if (m.ended !== null) this.phases.push(m.ended);
        this.live = m.live;
      }
      this.waiting.shift()?.(m);
    });
  }

  static async start(settings: PoolUserSettings): Promise<PoolUserThread> {
    const worker = new Worker(new URL(import.meta.url), { workerData: settings });
    const thread = new PoolUserThread(worker);
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      thread.waiting.push(() => resolve());
    });
    return thread;
  }

  private ask(m: ToWorker): Promise<FromWorker> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.worker.postMessage(m);
    });
  }

  /** Ends the current phase and starts `name` (null: none). */
  async phase(name: string | null): Promise<void> {
    await this.ask({ kind: 'phase', name });
  }

  /** Answers per second of the phase running at the last phase change or progress poll. */
  async liveRate(): Promise<number> {
    const m = await this.ask({ kind: 'phase', name: '\u0000poll' });
    return m.kind === 'phase' ? m.live : this.live;
  }

  async stop(): Promise<void> {
    await this.ask({ kind: 'stop' });
    await this.worker.terminate();
  }
}

async function workerMain(s: PoolUserSettings): Promise<void> {
  const port = parentPort!;
  const client = await BenchClient.connect(s.target, s.localPort);
  const pu = new SteadyPoolUser(client, s.pools, s.rate);
  pu.start();
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'stop') {
      pu.stop();
      void client.close().then(() => port.postMessage({ kind: 'stopped' } satisfies FromWorker));
      return;
    }
    if (m.name === '\u0000poll') {
      port.postMessage({ kind: 'phase', ended: null, live: pu.liveRate() } satisfies FromWorker);
      return;
    }
    const ended = pu.phase(m.name);
    port.postMessage({ kind: 'phase', ended, live: NaN } satisfies FromWorker);
  });
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
}

if (!isMainThread && (workerData as PoolUserSettings | undefined)?.target !== undefined) {
  void workerMain(workerData as PoolUserSettings);
}
