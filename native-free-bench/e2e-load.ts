// The load generator of the end-to-end benchmark: pool elements and pool users that talk ASAP
// to a registrar over SCTP over UDP (RFC 6951) on loopback. Like RSPLIB's load generator, it
// keeps many requests in flight on each of a few associations, sends pre-encoded messages, and
// reads of each response only what matches it to its request (type, flags, PE ID or pool handle).
import { createSocket } from 'node:dgram';
import { openSctpEndpoint, type Association, type SctpEndpoint } from '../src/transport/index.js';
import {
  AsapFlag,
  AsapType,
  PPID_ASAP,
  ParamType,
  TransportUse,
  decodeAsap,
  encodeMessage,
  parseAddress,
  transportParameter,
} from '../src/wire/index.js';
import { policySettings, type PolicySettings } from '../src/wire/policy-settings.js';

// ------------------------------------------------------------------ pools and messages

const POOL_PREFIX = 'bench-pool-';
const POOL_DIGITS = 6;

export function poolHandle(index: number): Uint8Array {
  return new TextEncoder().encode(POOL_PREFIX + index.toString().padStart(POOL_DIGITS, '0'));
}

/** The pool index written in a benchmark pool handle's digits; -1 if it is not one. */
function poolIndexOf(message: Uint8Array, valueOffset: number, valueLength: number): number {
  if (valueLength !== POOL_PREFIX.length + POOL_DIGITS) return -1;
  let n = 0;
  for (let i = valueOffset + POOL_PREFIX.length; i < valueOffset + valueLength; i++) n = n * 10 + message[i]! - 0x30;
  return n;
}

/**
 * PE i (PE ID i + 1) registers in pool i mod pools, at `peAddress` (the generator's own, so
 * that the registrar may check it against the association's, RFC 5352 §3.1). Policy values
 * vary per PE so that load- and weight-based policies have something to order; the pool's
 * policy type is the same for all.
 */
export function registrationMessages(pes: number, pools: number, policyType: number, peAddress = '127.0.0.1'): Uint8Array[] {
  const handles = Array.from({ length: pools }, (_, p) => poolHandle(p));
  const address = parseAddress(peAddress);
  if (address === null) throw new Error(`PE address ${peAddress} is not an IPv4 or IPv6 literal`);
  const out: Uint8Array[] = new Array<Uint8Array>(pes);
  for (let i = 0; i < pes; i++) {
    const policy: PolicySettings = policySettings(policyType, {
      weight: 1 + (i % 7),
      priority: i % 3,
      load: Math.floor(((i * 7919) % 1000) * 0xffffffff / 1000) >>> 0,
      loadDegradation: 0x01000000,
    });
    out[i] = encodeMessage({
      protocol: 'asap',
      type: AsapType.Registration,
      flags: 0,
      paddedLength: false,
      unknownParams: null,
      poolHandle: handles[i % pools]!,
      poolElement: {
        peId: i + 1,
        homeRegistrarId: 0,
        registrationLife: 300_000,
        userTransport: transportParameter(ParamType.SctpTransport, 10_000 + (i % 50_000), [address], TransportUse.DataPlusControl),
        policy,
        asapTransport: null,
      },
    });
  }
  return out;
}

export function handleResolutionMessages(pools: number): Uint8Array[] {
  return Array.from({ length: pools }, (_, p) =>
    encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: poolHandle(p), items: null }),
  );
}

/** Offset of the value of the first top-level parameter of `type`, its length in `found`. */
function findParameter(message: Uint8Array, type: number, found: { length: number }): number {
  const end = Math.min(message.length, (message[2]! << 8) | message[3]!);
  let p = 4;
  while (p + 4 <= end) {
    const t = (message[p]! << 8) | message[p + 1]!;
    const length = (message[p + 2]! << 8) | message[p + 3]!;
    if (length < 4) return -1;
    if (t === type) {
      found.length = length - 4;
      return p + 4;
    }
    p += (length + 3) & ~3;
  }
  return -1;
}

function countParameters(message: Uint8Array, type: number): number {
  const end = Math.min(message.length, (message[2]! << 8) | message[3]!);
  let n = 0;
  let p = 4;
  while (p + 4 <= end) {
    const length = (message[p + 2]! << 8) | message[p + 3]!;
    if (length < 4) break;
    if (((message[p]! << 8) | message[p + 1]!) === type) n++;
    p += (length + 3) & ~3;
  }
  return n;
}

// ------------------------------------------------------------------ latencies

/** Latencies of one phase in milliseconds, kept in full (a few hundred thousand doubles). */
export class LatencyRecorder {
  private values = new Float64Array(1 << 16);
  count = 0;

  add(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = ms;
  }

  /** Percentiles (0..1) in ms; NaN when empty. */
  percentiles(...ps: number[]): number[] {
    const sorted = this.values.slice(0, this.count).sort();
    return ps.map((p) => (this.count === 0 ? NaN : sorted[Math.min(this.count - 1, Math.floor(this.count * p))]!));
  }
}

// ------------------------------------------------------------------ clients

export interface RegistrarTarget {
  address: string;
  port: number;
  udpPort: number;
}

/**
 * One load-generating client: its own SCTP endpoint (one association per endpoint and remote)
 * and one association to the registrar. Responses go to whatever phase handler is installed.
 */
export class BenchClient {
  onResponse: (message: Uint8Array, now: number) => void = () => undefined;
  keepAlivesAcked = 0;
  private down: string | null = null;

  private constructor(
    private readonly endpoint: SctpEndpoint,
    readonly association: Association,
  ) {
    association.on('message', (payload, ppid) => {
      if (ppid !== PPID_ASAP || payload.length < 4) return;
      if (payload[0] === AsapType.EndpointKeepAlive) return this.acknowledgeKeepAlive(payload);
      this.onResponse(payload, performance.now());
    });
    association.on('down', (reason) => {
      this.down = reason;
    });
  }

  static async connect(target: RegistrarTarget, localPort: number, local: ClientSettings = {}): Promise<BenchClient> {
    const endpoint = await openSctpEndpoint({
      mode: 'udp',
      port: localPort,
      udpPort: 0,
      address: local.address ?? '127.0.0.1',
    });
    const association = await endpoint.connect({ address: target.address, port: target.port, udpPort: target.udpPort });
    return new BenchClient(endpoint, association);
  }

  /** Why the association went down, or null while it is up. */
  get lost(): string | null {
    return this.down;
  }

  send(message: Uint8Array): void {
    this.association.send(message, PPID_ASAP);
  }

  /** RFC 5352 §3.4: a PE answers each ENDPOINT_KEEP_ALIVE, or the registrar removes it. */
  private acknowledgeKeepAlive(payload: Uint8Array): void {
    const r = decodeAsap(payload);
    if (!r.ok || r.message.protocol !== 'asap' || r.message.type !== AsapType.EndpointKeepAlive || r.message.peId === null) return;
    this.keepAlivesAcked++;
    this.send(encodeMessage({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: r.message.poolHandle, peId: r.message.peId }));
  }

  async close(): Promise<void> {
    await this.endpoint.close();
  }
}

/** How the generator's endpoints are opened. */
export interface ClientSettings {
  /** Local address to bind (the registrar's family); default 127.0.0.1. */
  address?: string;
}

export async function connectClients(target: RegistrarTarget, count: number, firstLocalPort: number, local: ClientSettings = {}): Promise<BenchClient[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => BenchClient.connect(target, firstLocalPort + i, local)));
}

// ------------------------------------------------------------------ phases

/** What one phase did, as seen by the load generator. */
export interface PhaseOutcome {
  operations: number;
  seconds: number;
  /** Responses that were negative (rejected registration, unknown pool, no PEs). */
  failed: number;
  latency: LatencyRecorder;
}

/** A live view of a running phase for the progress line. */
export interface PhaseProgress {
  done: number;
}

/** If nothing arrives for this long, a phase gives up: the registrar lost requests. */
const STALL_MS = 15_000;

function stallGuard(progress: PhaseProgress, clients: BenchClient[], reject: (e: Error) => void): () => void {
  let last = -1;
  let lastChange = performance.now();
  const timer = setInterval(() => {
    const lost = clients.find((c) => c.lost !== null);
    if (lost !== undefined) return reject(new Error(`association to the registrar went down (${lost.lost})`));
    if (progress.done !== last) {
      last = progress.done;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > STALL_MS) {
      reject(new Error(`no response for ${STALL_MS / 1000} s after ${progress.done} operations`));
    }
  }, 500);
  return () => clearInterval(timer);
}

/**
 * Every message once, closed loop: client j sends messages j, j+K, j+2K... with `window` in
 * flight; a response (matched by PE ID = index + 1) frees its slot for the next message.
 * Used for registration and, with the same messages again, re-registration.
 */
export function registerAll(clients: BenchClient[], messages: Uint8Array[], window: number, progress: PhaseProgress): Promise<PhaseOutcome> {
  const total = messages.length;
  const k = clients.length;
  const sentAt = new Float64Array(total);
  const latency = new LatencyRecorder();
  const next = clients.map((_, j) => j);
  const scratch = { length: 0 };
  let failed = 0;
  progress.done = 0;
  return new Promise<PhaseOutcome>((resolve, reject) => {
    const start = performance.now();
    const stop = stallGuard(progress, clients, (e) => {
      stop();
      reject(e);
    });
    const sendNext = (j: number): void => {
      const i = next[j]!;
      if (i >= total) return;
      next[j] = i + k;
      sentAt[i] = performance.now();
      clients[j]!.send(messages[i]!);
    };
    const count = (now: number, j: number): void => {
      if (++progress.done === total) {
        stop();
        resolve({ operations: total, seconds: (now - start) / 1000, failed, latency });
        return;
      }
      sendNext(j);
    };
    clients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        // RFC 5352 §2.2.13: the registrar could not process a message (malformed, over a limit).
        // It names no PE ID we could read cheaply, so it counts as a failed request of this
        // association and frees its slot (without it the phase stalled until the stall guard).
        if (m[0] === AsapType.Error) {
          failed++;
          count(now, j);
          return;
        }
        if (m[0] !== AsapType.RegistrationResponse) return;
        const at = findParameter(m, ParamType.PeIdentifier, scratch);
        if (at < 0 || scratch.length !== 4) return;
        const i = (((m[at]! << 24) | (m[at + 1]! << 16) | (m[at + 2]! << 8) | m[at + 3]!) >>> 0) - 1;
        if (i < 0 || i >= total) return;
        if ((m[1]! & AsapFlag.Reject) !== 0) failed++;
        latency.add(now - sentAt[i]!);
        count(now, j);
      };
      for (let w = 0; w < window; w++) sendNext(j);
    });
  });
}

/** Per client, per pool: send times of the requests in flight (a pool's answers come in order). */
class InFlight {
  private readonly queues: number[][];
  constructor(pools: number) {
    this.queues = Array.from({ length: pools }, () => []);
  }
  push(pool: number, at: number): void {
    this.queues[pool]!.push(at);
  }
  shift(pool: number): number | undefined {
    return this.queues[pool]?.shift();
  }
}

/** Checks a HANDLE_RESOLUTION_RESPONSE; returns its pool index (or -1) and whether it carried PEs. */
function readResolution(m: Uint8Array, scratch: { length: number }): { pool: number; ok: boolean } {
  if (m[0] !== AsapType.HandleResolutionResponse) return { pool: -1, ok: false };
  const at = findParameter(m, ParamType.PoolHandle, scratch);
  if (at < 0) return { pool: -1, ok: false };
  return { pool: poolIndexOf(m, at, scratch.length), ok: countParameters(m, ParamType.PoolElement) > 0 };
}

export interface ResolutionOptions {
  pools: number;
  /** Closed loop: requests in flight per client. */
  window: number;
  /** Unmeasured time first (JIT, caches), then `seconds` measured. */
  warmupSeconds: number;
  seconds: number;
  /** Called at the start and end of the measured interval (registrar CPU samples). */
  mark(which: 'start' | 'end'): void;
}

/**
 * Handle resolutions, closed loop: every client keeps `window` requests in flight, pools in
 * turn. Counted: responses received inside the measured interval.
 */
export function resolveClosedLoop(clients: BenchClient[], requests: Uint8Array[], o: ResolutionOptions, progress: PhaseProgress): Promise<PhaseOutcome> {
  const latency = new LatencyRecorder();
  const scratch = { length: 0 };
  let seq = 0;
  let failed = 0;
  let inFlight = 0;
  let measuring = false;
  let ended = false;
  progress.done = 0;
  return new Promise<PhaseOutcome>((resolve, reject) => {
    const stop = stallGuard(progress, clients, (e) => {
      stop();
      reject(e);
    });
    let measureStart = 0;
    let measureEnd = 0;
    const states = clients.map(() => new InFlight(o.pools));
    const sendOne = (j: number): void => {
      const pool = seq++ % o.pools;
      states[j]!.push(pool, performance.now());
      inFlight++;
      clients[j]!.send(requests[pool]!);
    };
    const finish = (): void => {
      stop();
      resolve({ operations: progress.done, seconds: (measureEnd - measureStart) / 1000, failed, latency });
    };
    clients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        const r = readResolution(m, scratch);
        if (r.pool < 0) return;
        const sent = states[j]!.shift(r.pool);
        if (sent === undefined) return;
        inFlight--;
        if (measuring) {
          progress.done++;
          latency.add(now - sent);
          if (!r.ok) failed++;
        }
        if (!ended) sendOne(j);
        else if (inFlight === 0) finish();
      };
    });
    setTimeout(() => {
      measuring = true;
      measureStart = performance.now();
      o.mark('start');
      setTimeout(() => {
        measuring = false;
        ended = true;
        measureEnd = performance.now();
        o.mark('end');
        if (inFlight === 0) finish();
      }, o.seconds * 1000);
    }, o.warmupSeconds * 1000);
    for (let j = 0; j < clients.length; j++) for (let w = 0; w < o.window; w++) sendOne(j);
  });
}

export interface PacedOptions {
  pools: number;
  /** Requests per second over all clients. */
  rate: number;
  seconds: number;
  mark(which: 'start' | 'end'): void;
}

/**
 * Handle resolutions at a fixed rate, open loop: each millisecond timer turn sends the
 * requests due by then, spread over the clients. Latency runs from the actual send.
 */
export function resolvePaced(clients: BenchClient[], requests: Uint8Array[], o: PacedOptions, progress: PhaseProgress): Promise<PhaseOutcome> {
  const latency = new LatencyRecorder();
  const scratch = { length: 0 };
  const states = clients.map(() => new InFlight(o.pools));
  let seq = 0;
  let sent = 0;
  let inFlight = 0;
  let failed = 0;
  let sending = true;
  progress.done = 0;
  return new Promise<PhaseOutcome>((resolve, reject) => {
    const stop = stallGuard(progress, clients, (e) => {
      stop();
      reject(e);
    });
    const start = performance.now();
    let end = start;
    const finish = (): void => {
      stop();
      resolve({ operations: progress.done, seconds: (end - start) / 1000, failed, latency });
    };
    clients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        const r = readResolution(m, scratch);
        if (r.pool < 0) return;
        const at = states[j]!.shift(r.pool);
        if (at === undefined) return;
        inFlight--;
        progress.done++;
        latency.add(now - at);
        if (!r.ok) failed++;
        if (!sending && inFlight === 0) finish();
      };
    });
    o.mark('start');
    const tick = (): void => {
      const now = performance.now();
      const elapsed = Math.min(now - start, o.seconds * 1000);
      const due = Math.floor((elapsed / 1000) * o.rate) - sent;
      for (let n = 0; n < due; n++) {
        const j = seq % clients.length;
        const pool = seq++ % o.pools;
        states[j]!.push(pool, now);
        inFlight++;
        sent++;
        clients[j]!.send(requests[pool]!);
      }
      if (now - start < o.seconds * 1000) {
        setTimeout(tick, 1);
        return;
      }
      sending = false;
      end = performance.now();
      o.mark('end');
      if (inFlight === 0) finish();
    };
    tick();
  });
}

/** A UDP port free right now (bound to 0, read, released), for registrars the benches start. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
