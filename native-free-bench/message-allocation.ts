// `rserpool bench alloc`: V8 heap bytes the registrar allocates per message, on its I/O thread
// and in its shard, for the hot paths of a registrar with keep-alives on (issue 14): handle
// resolution and its response, re-registration and its response, an ENDPOINT_KEEP_ALIVE and
// its ACK. Every byte allocated on a thread's heap brings its next scavenge closer (1-MiB
// semi-spaces, the bin's `--max-semi-space-size=1`): bytes per message x messages per second
// / new-space size = scavenges per second.
//
// The registrar runs as shipped (`rserpool registrar`, a child process with the bin's node
// flags, e2e-registrar-process.ts) with e2e-alloc-probe.js preloaded into every thread. The
// generator drives a fixed shape, so that the figure is the code's, not the machine's: by
// default one association with one request in flight (each message alone in its SCTP
// packet and its shard batch: the paced soak's shape at low load), each phase `--ops`
// messages after an unmeasured warm-up of the same. Keep-alives: a second registrar with
// `--keep-alive-interval 1000` and `--keep-alive-pes` PEs (400: 4 per 10-ms timer step, as
// the soak's 20,000 PEs at 5 s send 40 over 10 associations); what it allocates idle (its
// associations up, no PEs yet), per second, is subtracted per second of the measured window.
import {
  connectClients,
  handleResolutionMessages,
  registrationMessages,
  type BenchClient,
} from './e2e-load.js';
import { RegistrarProcess } from './e2e-registrar-process.js';
import type { ThreadAllocation } from './e2e-alloc-probe.js';
import { freeUdpPort } from './free-ports.js';
import { AsapType, PolicyType } from '../src/wire/index.js';

export interface AllocBenchOptions {
  /** PEs registered for the request phases; default 2000. */
  pes?: number;
  pools?: number;
  /** Measured messages per request phase; default 20,000. */
  ops?: number;
  /** Associations of the generator; default 1. */
  associations?: number;
  /** Requests in flight per association; default 1. */
  window?: number;
  /** PEs of the keep-alive phase (keep-alive interval 1 s); default 400. */
  keepAlivePes?: number;
  /** Seconds the keep-alive phase is measured; default 10. */
  keepAliveSeconds?: number;
  shards?: number;
  json?: boolean;
}

/** Bytes per message (per request and its answer, or keep-alive and its ACK) on each thread. */
export interface PhaseAllocation {
  phase: string;
  messages: number;
  /** By thread ("io", "shard-0"): bytes per message, scavenges per 1,000 messages. */
  threads: Record<string, { bytesPerMessage: number; scavengesPer1000: number }>;
}

export interface AllocBenchResult {
  settings: Required<Omit<AllocBenchOptions, 'json'>>;
  phases: PhaseAllocation[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends `count` messages (messages[i mod length]) closed loop, `window` in flight per client; resolves when all are answered. */
function exchange(clients: BenchClient[], messages: Uint8Array[], count: number, window: number, answerType: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = 0;
    const timer = setInterval(() => {
      if (answered === last) reject(new Error(`no answer for 5 s (${answered} of ${count})`));
      last = answered;
    }, 5000);
    let last = -1;
    const next = (client: BenchClient): void => {
      if (sent >= count) return;
      client.send(messages[sent % messages.length]!);
      sent++;
    };
    for (const client of clients) {
      client.onResponse = (m) => {
        if (m[0] !== answerType) return;
        if (++answered === count) {
          clearInterval(timer);
          resolve();
          return;
        }
        next(client);
      };
    }
    for (let w = 0; w < window; w++) for (const client of clients) next(client);
  });
}

function perMessage(phase: string, messages: number, a: Record<string, ThreadAllocation>, overhead: Record<string, ThreadAllocation>, extra: Record<string, number> = {}): PhaseAllocation {
  const threads: PhaseAllocation['threads'] = {};
  for (const [name, t] of Object.entries(a)) {
    const bytes = t.bytes - (overhead[name]?.bytes ?? 0) - (extra[name] ?? 0);
    threads[name] = { bytesPerMessage: Math.round(bytes / messages), scavengesPer1000: Math.round((t.scavenges / messages) * 1000 * 10) / 10 };
  }
  return { phase, messages, threads };
}

export async function run(options: AllocBenchOptions = {}): Promise<AllocBenchResult> {
  const settings: AllocBenchResult['settings'] = {
    pes: options.pes ?? 2000,
    pools: options.pools ?? 100,
    ops: options.ops ?? 20_000,
    associations: options.associations ?? 1,
    window: options.window ?? 1,
    keepAlivePes: options.keepAlivePes ?? 400,
    keepAliveSeconds: options.keepAliveSeconds ?? 10,
    shards: options.shards ?? 1,
  };
  const s = settings;
  const say = (text: string): void => void process.stderr.write(`[alloc] ${text}\n`);
  const address = '127.0.0.1';
  const phases: PhaseAllocation[] = [];

  // ---- requests: keep-alives off (an interval far beyond the run)
  {
    const registrar = await RegistrarProcess.start({ shards: s.shards, address, asapPort: 3863, udpPort: await freeUdpPort(address), keepAliveInterval: 3_600_000, allocProbe: true });
    const clients = await connectClients(registrar.address, s.associations, 41_000, { address });
    try {
      const registrations = registrationMessages(s.pes, s.pools, PolicyType.RoundRobin, clients.map((c) => c.localAddress));
      const resolutions = handleResolutionMessages(s.pools);
      await registrar.allocations();
      // What a reading costs by itself (IPC, the probe's record): subtracted from each phase.
      const overhead = await registrar.allocations();
      await exchange(clients, registrations, s.pes, s.window, AsapType.RegistrationResponse);
      phases.push(perMessage('registration (first, fresh process)', s.pes, await registrar.allocations(), overhead));
      // Warm-up of the measured phases (JIT).
      await exchange(clients, registrations, s.ops, s.window, AsapType.RegistrationResponse);
      await exchange(clients, resolutions, s.ops, s.window, AsapType.HandleResolutionResponse);
      await registrar.allocations();
      await exchange(clients, registrations, s.ops, s.window, AsapType.RegistrationResponse);
      phases.push(perMessage('re-registration + response', s.ops, await registrar.allocations(), overhead));
      await exchange(clients, resolutions, s.ops, s.window, AsapType.HandleResolutionResponse);
      phases.push(perMessage('handle resolution + response', s.ops, await registrar.allocations(), overhead));
      say(`requests: ${JSON.stringify(phases)}`);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await registrar.stop();
    }
  }

  // ---- keep-alives: every PE at 1 s; the generator answers each with an ACK
  {
    const registrar = await RegistrarProcess.start({ shards: s.shards, address, asapPort: 3863, udpPort: await freeUdpPort(address), keepAliveInterval: 1000, allocProbe: true });
    const clients = await connectClients(registrar.address, s.associations, 42_000, { address });
    try {
      const registrations = registrationMessages(s.keepAlivePes, Math.min(s.pools, s.keepAlivePes), PolicyType.RoundRobin, clients.map((c) => c.localAddress));
      await sleep(1000);
      await registrar.allocations();
      // Idle with the associations up, no PEs: per second, subtracted.
      let t0 = performance.now();
      await sleep(s.keepAliveSeconds * 500);
      const idle = await registrar.allocations();
      const idleSeconds = (performance.now() - t0) / 1000;
      await exchange(clients, registrations, s.keepAlivePes, s.window, AsapType.RegistrationResponse);
      await sleep(3000); // warm-up: three rounds of keep-alives
      await registrar.allocations();
      const received = (): number => clients.reduce((n, c) => n + c.keepAlivesReceived, 0);
      const before = received();
      t0 = performance.now();
      await sleep(s.keepAliveSeconds * 1000);
      const a = await registrar.allocations();
      const seconds = (performance.now() - t0) / 1000;
      const keepAlives = received() - before;
      const extra: Record<string, number> = {};
      for (const [name, t] of Object.entries(idle)) extra[name] = (t.bytes / idleSeconds) * seconds;
      phases.push(perMessage('keep-alive + ACK', keepAlives, a, {}, extra));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await registrar.stop();
    }
  }

  const result: AllocBenchResult = { settings, phases };
  if (options.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`registrar V8 heap bytes allocated per message (${s.associations} association(s), ${s.window} in flight each, ${s.pes} PEs in ${s.pools} pools, ${s.shards} shard(s))`);
    for (const p of phases) {
      const cells = Object.entries(p.threads).map(([name, t]) => `${name} ${t.bytesPerMessage} B (${t.scavengesPer1000} scavenges/1000)`);
      console.log(`  ${p.phase.padEnd(38)} ${String(p.messages).padStart(7)} messages: ${cells.join(', ')}`);
    }
  }
  return result;
}
