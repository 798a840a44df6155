// The load generator of the end-to-end benchmark: pool elements and pool users that talk ASAP
// to a registrar over SCTP over UDP (RFC 6951), or over plain TCP or TLS (RFC 5352 §6; the
// stream associations of src/transport/stream-connector.ts). Like RSPLIB's load generator, it
// keeps many requests in flight on each of a few associations, sends pre-encoded messages, and
// reads of each response only what matches it to its request (type, flags, PE ID or pool handle).
import { openSctpEndpoint, type Association } from '../src/transport/index.js';
import { StreamConnector } from '../src/transport/stream-connector.js';
import type { TlsCredentials } from '../src/transport/tls-credentials.js';
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
import { FailureCounts, OutstandingRequests, TIMEOUT, asapErrorCause, findParameter, isAsapError, negativeCause, offendingRegistrationPeId } from './e2e-requests.js';

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
 * PE i (PE ID i + 1) registers in pool i mod pools, at `peAddress`, or with a list at
 * `peAddress[i mod length]`: the list is the local address of each PE association, and
 * registerAll sends PE i over association i mod associations, so every PE advertises the
 * address of the association it registers over (a registrar may check one against the other,
 * RFC 5352 §3.1; RSPLIB's does). Policy values
 * vary per PE so that load- and weight-based policies have something to order; the pool's
 * policy type is the same for all.
 */
export function registrationMessages(pes: number, pools: number, policyType: number, peAddress: string | readonly string[] = '127.0.0.1'): Uint8Array[] {
  const handles = Array.from({ length: pools }, (_, p) => poolHandle(p));
  const addresses = (typeof peAddress === 'string' ? [peAddress] : peAddress).map((text) => {
    const a = parseAddress(text);
    if (a === null) throw new Error(`PE address ${text} is not an IPv4 or IPv6 literal`);
    return a;
  });
  if (addresses.length === 0) throw new Error('registrationMessages: no PE address');
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
        userTransport: transportParameter(ParamType.SctpTransport, 10_000 + (i % 50_000), [addresses[i % addresses.length]!], TransportUse.DataPlusControl),
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

/** The transports the generator's associations can use. */
export type BenchTransport = 'sctp' | 'tcp' | 'tls';
export const BENCH_TRANSPORTS: readonly BenchTransport[] = ['sctp', 'tcp', 'tls'];

/** ASAP over a TCP connection, plain or TLS (with the client's credentials), to `port` of the registrar's address. */
export interface StreamTarget {
  protocol: 'tcp' | 'tls';
  port: number;
  /** Required for 'tls'. */
  tls?: TlsCredentials;
}

export interface RegistrarTarget {
  address: string;
  /** SCTP port (over UDP: `udpPort`). */
  port: number;
  udpPort: number;
  /** Set: the associations are TCP or TLS connections instead of SCTP. */
  stream?: StreamTarget;
}

/**
 * One load-generating client: its own SCTP endpoint (one association per endpoint and remote)
 * or its own TCP/TLS connection, and one association to the registrar. Responses go to
 * whatever phase handler is installed.
 */
export class BenchClient {
  onResponse: (message: Uint8Array, now: number) => void = () => undefined;
  /** ENDPOINT_KEEP_ALIVEs received (RFC 5352 §3.4), and of them answered with an ACK. */
  keepAlivesReceived = 0;
  keepAlivesAcked = 0;
  private down: string | null = null;

  private constructor(
    private readonly closeTransport: () => Promise<void>,
    readonly association: Association,
    /** The local address the association was opened from (what its PEs advertise). */
    readonly localAddress: string,
  ) {
    association.on('message', (payload, ppid) => {
      if (ppid !== PPID_ASAP || payload.length < 4) return;
      if (payload[0] === AsapType.EndpointKeepAlive) {
        this.keepAlivesReceived++;
        return this.acknowledgeKeepAlive(payload);
      }
      this.onResponse(payload, performance.now());
    });
    association.on('down', (reason) => {
      this.down = reason;
    });
  }

  static async connect(target: RegistrarTarget, localPort: number, local: ClientSettings = {}): Promise<BenchClient> {
    const address = local.address ?? '127.0.0.1';
    if (target.stream !== undefined) {
      // The kernel picks the local address and port (the route's source towards the registrar).
      const connector = new StreamConnector({ protocol: target.stream.protocol, ppid: PPID_ASAP, ...(target.stream.tls !== undefined ? { tls: target.stream.tls } : {}) });
      try {
        const association = await connector.connect({ address: target.address, port: target.stream.port });
        return new BenchClient(async () => connector.close(), association, address);
      } catch (err) {
        connector.close();
        throw new Error(`${target.stream.protocol.toUpperCase()} connection to ${target.address}:${target.stream.port} failed: ${(err as Error).message}`);
      }
    }
    const endpoint = await openSctpEndpoint({
      mode: 'udp',
      port: localPort,
      udpPort: local.udpPort ?? 0,
      address,
    });
    try {
      const association = await endpoint.connect({ address: target.address, port: target.port, udpPort: target.udpPort });
      return new BenchClient(() => endpoint.close(), association, address);
    } catch (err) {
      await endpoint.close();
      throw err;
    }
  }

  /** Why the association went down, or null while it is up. */
  get lost(): string | null {
    return this.down;
  }

  /** Sends on the association; false if it could not (it went down, its send queue is full). */
  send(message: Uint8Array): boolean {
    try {
      this.association.send(message, PPID_ASAP);
      return true;
    } catch {
      return false;
    }
  }

  /** RFC 5352 §3.4: a PE answers each ENDPOINT_KEEP_ALIVE, or the registrar removes it. */
  private acknowledgeKeepAlive(payload: Uint8Array): void {
    const r = decodeAsap(payload);
    if (!r.ok || r.message.protocol !== 'asap' || r.message.type !== AsapType.EndpointKeepAlive || r.message.peId === null) return;
    if (this.send(encodeMessage({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: r.message.poolHandle, peId: r.message.peId }))) this.keepAlivesAcked++;
  }

  async close(): Promise<void> {
    await this.closeTransport();
  }
}

/** How one of the generator's endpoints is opened. */
export interface ClientSettings {
  /** Local address to bind (the registrar's family); default 127.0.0.1. */
  address?: string;
  /** Local UDP encapsulation port (RFC 6951); default 0: any free one. */
  udpPort?: number;
}

/**
 * `count` clients on local SCTP ports firstLocalPort, firstLocalPort + 1, ...; `local` is the
 * same for all, or client i's settings as a function of i.
 */
export async function connectClients(
  target: RegistrarTarget,
  count: number,
  firstLocalPort: number,
  local: ClientSettings | ((i: number) => ClientSettings) = {},
): Promise<BenchClient[]> {
  const settings = typeof local === 'function' ? local : (): ClientSettings => local;
  const settled = await Promise.allSettled(Array.from({ length: count }, (_, i) => BenchClient.connect(target, firstLocalPort + i, settings(i))));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed === undefined) return settled.map((r) => (r as PromiseFulfilledResult<BenchClient>).value);
  await Promise.all(settled.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  throw failed.reason;
}

// ------------------------------------------------------------------ phases

/** What one phase did, as seen by the load generator. */
export interface PhaseOutcome {
  /** Requests answered (positively or not) and counted (in the measured interval, where there is one). */
  operations: number;
  seconds: number;
  /** Requests that did not succeed: negative answers (by cause) and timeouts. */
  failed: number;
  /** `failed` by cause: "timeout", "ASAP_ERROR <cause>", "rejected <cause>", "no PEs in the response". */
  failures: Record<string, number>;
  latency: LatencyRecorder;
  /** Why the phase ended before its work was done (no answers, association lost), or null. */
  ended: string | null;
  /** Registrations never sent because the phase ended first (0 in the resolution phases). */
  notSent: number;
}

/** A live view of a running phase for the progress line. */
export interface PhaseProgress {
  done: number;
}

/** How long the generator waits for answers. */
export interface RequestLimits {
  /** A request unanswered this long counts as a timeout and frees its slot; default 5000 ms. */
  timeoutMs?: number;
  /** No answer at all for this long ends the phase, reported; default 3 x timeoutMs. */
  stallMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/** Cause of a request still in flight when its phase ended early. */
export const UNANSWERED_AT_END = 'no answer before the phase ended';

/**
 * The bookkeeping every phase shares: requests in flight per client, their timeouts, the
 * failure counts, and the end of a phase that gets no answers or loses an association.
 */
export class PhaseTracker {
  readonly latency = new LatencyRecorder();
  readonly failures = new FailureCounts();
  readonly outstanding: OutstandingRequests[];
  ended: string | null = null;
  done = false;
  private lastAnswer = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    clients: BenchClient[],
    limits: RequestLimits,
    /** A request of client j timed out (its slot is free). */
    onExpired: (j: number, key: number) => void,
    /** The phase must end now: `reason` says why. */
    onStall: (reason: string) => void,
  ) {
    const timeout = limits.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const stall = limits.stallMs ?? 3 * timeout;
    this.outstanding = clients.map(() => new OutstandingRequests());
    this.timer = setInterval(
      () => {
        if (this.done) return;
        const now = performance.now();
        const lost = clients.findIndex((c) => c.lost !== null);
        if (lost >= 0) return onStall(`association ${lost} to the registrar went down (${clients[lost]!.lost})`);
        for (let j = 0; j < clients.length && !this.done; j++) {
          this.outstanding[j]!.expire(now - timeout, (key) => {
            this.failures.add(TIMEOUT);
            onExpired(j, key);
          });
        }
        if (!this.done && now - this.lastAnswer > stall) onStall(`no answer from the registrar for ${(stall / 1000).toFixed(1)} s`);
      },
      Math.max(10, Math.min(250, timeout / 4)),
    );
  }

  answered(now: number): void {
    this.lastAnswer = now;
  }

  /**
   * A message on client j's association in a resolution phase, matched to its request: when it
   * was sent and its failure ('' for none), or null when it answers nothing outstanding.
   */
  resolutionAnswer(j: number, m: Uint8Array, now: number, scratch: { length: number }): { sent: number; failure: string } | null {
    if (isAsapError(m)) {
      this.answered(now);
      const sent = this.outstanding[j]!.takeOldest();
      return sent < 0 ? null : { sent, failure: asapErrorCause(m) };
    }
    const r = readResolution(m, scratch);
    if (r.pool < 0) return null;
    this.answered(now);
    const sent = this.outstanding[j]!.take(r.pool);
    return sent === undefined ? null : { sent, failure: r.failure };
  }

  inFlight(): number {
    let n = 0;
    for (const o of this.outstanding) n += o.size;
    return n;
  }

  /** Stops the timer; requests still in flight count as unanswered (when the phase ended early). */
  finish(reason: string | null): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.timer);
    this.ended = reason;
    for (const o of this.outstanding) o.expire(Infinity, () => this.failures.add(UNANSWERED_AT_END));
  }
}

/** Sends `message` for `key` on client j and tracks it; a send that fails is counted at once. */
export function sendTracked(t: PhaseTracker, clients: BenchClient[], j: number, key: number, message: Uint8Array): boolean {
  t.outstanding[j]!.add(key, performance.now());
  if (clients[j]!.send(message)) return true;
  t.outstanding[j]!.take(key);
  t.failures.add('send failed');
  return false;
}

/**
 * Every message once, closed loop: client j sends messages j, j+K, j+2K... with `window` in
 * flight; a response (matched by PE ID = index + 1), a negative answer or a timeout frees its
 * slot for the next message. Used for registration and, with the same messages again,
 * re-registration. The phase ends when every message was answered or timed out, or early
 * (reported in `ended`, the rest in `notSent`) when the registrar stops answering.
 */
export function registerAll(
  clients: BenchClient[],
  messages: Uint8Array[],
  window: number,
  progress: PhaseProgress,
  limits: RequestLimits = {},
): Promise<PhaseOutcome> {
  const total = messages.length;
  const k = clients.length;
  const next = clients.map((_, j) => j);
  const scratch = { length: 0 };
  let answered = 0;
  let ended = 0;
  progress.done = 0;
  return new Promise<PhaseOutcome>((resolve) => {
    const start = performance.now();
    const finish = (reason: string | null): void => {
      t.finish(reason);
      const notSent = next.reduce((sum, i) => sum + (i < total ? Math.ceil((total - i) / k) : 0), 0);
      resolve({ operations: answered, seconds: (performance.now() - start) / 1000, failed: t.failures.total, failures: t.failures.toJSON(), latency: t.latency, ended: reason, notSent });
    };
    const sendNext = (j: number): void => {
      const i = next[j]!;
      if (i >= total) return;
      next[j] = i + k;
      // A send that failed (the association went down) is counted, and its slot stays empty:
      // the tracker ends the phase when no answers come.
      if (!sendTracked(t, clients, j, i, messages[i]!)) requestEnded(j, false);
    };
    const requestEnded = (j: number, refill = true): void => {
      progress.done = ++ended;
      if (ended === total) finish(null);
      else if (refill) sendNext(j);
    };
    const t = new PhaseTracker(clients, limits, (j) => requestEnded(j), (reason) => finish(reason));
    clients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        if (t.done) return;
        // RFC 5352 §2.2.13: the registrar could not process a message (malformed, over a limit).
        // It ends the registration it echoes, if it echoes one, else the oldest request of this
        // association (answers come in order from an unsharded registrar).
        if (isAsapError(m)) {
          t.answered(now);
          const peId = offendingRegistrationPeId(m);
          const i = peId > 0 && t.outstanding[j]!.take(peId - 1) !== undefined ? peId - 1 : t.outstanding[j]!.takeOldest();
          if (i < 0) return;
          answered++;
          t.failures.add(asapErrorCause(m));
          requestEnded(j);
          return;
        }
        if (m[0] !== AsapType.RegistrationResponse) return;
        const at = findParameter(m, ParamType.PeIdentifier, scratch);
        if (at < 0 || scratch.length !== 4) return;
        const i = (((m[at]! << 24) | (m[at + 1]! << 16) | (m[at + 2]! << 8) | m[at + 3]!) >>> 0) - 1;
        if (i < 0 || i >= total) return;
        t.answered(now);
        const sentAt = t.outstanding[j]!.take(i);
        if (sentAt === undefined) return; // late: it timed out already
        answered++;
        if ((m[1]! & AsapFlag.Reject) !== 0) t.failures.add(negativeCause(m, 'rejected'));
        t.latency.add(now - sentAt);
        requestEnded(j);
      };
      for (let w = 0; w < window && !t.done; w++) sendNext(j);
    });
    if (total === 0) finish(null);
  });
}

/** A HANDLE_RESOLUTION_RESPONSE's pool index (or -1) and, if it is negative, why ('' if it carried PEs). */
function readResolution(m: Uint8Array, scratch: { length: number }): { pool: number; failure: string } {
  if (m[0] !== AsapType.HandleResolutionResponse) return { pool: -1, failure: '' };
  const at = findParameter(m, ParamType.PoolHandle, scratch);
  if (at < 0) return { pool: -1, failure: '' };
  const pool = poolIndexOf(m, at, scratch.length);
  if (countParameters(m, ParamType.PoolElement) > 0) return { pool, failure: '' };
  // RFC 5352 §3.8: an unknown pool handle is answered with an Operation Error (RSPLIB's too).
  return { pool, failure: findParameter(m, ParamType.OperationError, scratch) >= 0 ? negativeCause(m, 'rejected') : 'no PEs in the response' };
}

export interface ResolutionOptions extends RequestLimits {
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
 * turn; an answer or a timeout frees a slot. Counted: answers received inside the measured
 * interval. Ends early, reported, when the registrar stops answering.
 */
export function resolveClosedLoop(clients: BenchClient[], requests: Uint8Array[], o: ResolutionOptions, progress: PhaseProgress): Promise<PhaseOutcome> {
  const scratch = { length: 0 };
  let seq = 0;
  let measuring = false;
  let sending = true;
  let marked = false;
  progress.done = 0;
  return new Promise<PhaseOutcome>((resolve) => {
    let measureStart = performance.now();
    let measureEnd = 0;
    const timers: NodeJS.Timeout[] = [];
    const endMeasuring = (): void => {
      if (!sending) return;
      measuring = false;
      sending = false;
      measureEnd = performance.now();
      if (marked) o.mark('end');
    };
    const finish = (reason: string | null): void => {
      if (t.done) return;
      for (const timer of timers) clearTimeout(timer);
      if (!marked) {
        // Ended before the measured interval began: mark it empty, here.
        marked = true;
        measureStart = performance.now();
        o.mark('start');
      }
      endMeasuring();
      t.finish(reason);
      // Failures outside the measured interval are not counted (nor are its answers).
      const failures = t.failures.toJSON();
      resolve({ operations: progress.done, seconds: (measureEnd - measureStart) / 1000, failed: t.failures.total, failures, latency: t.latency, ended: reason, notSent: 0 });
    };
    const sendOne = (j: number): void => {
      if (!sending || t.done) return;
      const pool = seq++ % o.pools;
      sendTracked(t, clients, j, pool, requests[pool]!); // a failed send leaves its slot empty (see registerAll)
    };
    const slotFree = (j: number): void => {
      if (sending) sendOne(j);
      else if (t.inFlight() === 0) finish(null);
    };
    const t = new PhaseTracker(clients, o, (j) => slotFree(j), (reason) => finish(reason));
    clients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        if (t.done) return;
        const answer = t.resolutionAnswer(j, m, now, scratch);
        if (answer === null) return;
        if (measuring) {
          if (!isAsapError(m)) t.latency.add(now - answer.sent);
          progress.done++;
          if (answer.failure !== '') t.failures.add(answer.failure);
        }
        slotFree(j);
      };
    });
    // Until the measured interval starts, failures are not counted: the tracker's count is reset then.
    timers.push(
      setTimeout(() => {
        measuring = true;
        marked = true;
        measureStart = performance.now();
        t.failures.byCause.clear();
        t.failures.total = 0;
        o.mark('start');
        timers.push(
          setTimeout(() => {
            endMeasuring();
            if (t.inFlight() === 0) finish(null);
          }, o.seconds * 1000),
        );
      }, o.warmupSeconds * 1000),
    );
    for (let j = 0; j < clients.length; j++) for (let w = 0; w < o.window && !t.done; w++) sendOne(j);
  });
}

export interface PacedOptions extends RequestLimits {
  pools: number;
  /** Requests per second over all clients. */
  rate: number;
  seconds: number;
  mark(which: 'start' | 'end'): void;
}

/**
 * Handle resolutions at a fixed rate, open loop: each millisecond timer turn sends the
 * requests due by then, spread over the clients. Latency runs from the actual send. Ends
 * early, reported, when the registrar stops answering.
 */
export function resolvePaced(clients: BenchClient[], requests: Uint8Array[], o: PacedOptions, progress: PhaseProgress): Promise<PhaseOutcome> {
  const scratch = { length: 0 };
  let seq = 0;
  let sent = 0;
  let sending = true;
  progress.done = 0;
  return new Promise<PhaseOutcome>((resolve) => {
    const start = performance.now();
    let end = start;
    let tickTimer: NodeJS.Timeout | undefined;
    const stopSending = (): void => {
      if (!sending) return;
      sending = false;
      clearTimeout(tickTimer);
      end = performance.now();
      o.mark('end');
    };
    const finish = (reason: string | null): void => {
      if (t.done) return;
      stopSending();
      t.finish(reason);
      resolve({ operations: progress.done, seconds: (end - start) / 1000, failed: t.failures.total, failures: t.failures.toJSON(), latency: t.latency, ended: reason, notSent: 0 });
    };
    const t = new PhaseTracker(
      clients,
      o,
      () => {
        if (!sending && t.inFlight() === 0) finish(null);
      },
      (reason) => finish(reason),
    );
    clients.forEach((client, j) => {
      client.onResponse = (m, now) => {
        if (t.done) return;
        const answer = t.resolutionAnswer(j, m, now, scratch);
        if (answer === null) return;
        if (!isAsapError(m)) t.latency.add(now - answer.sent);
        progress.done++;
        if (answer.failure !== '') t.failures.add(answer.failure);
        if (!sending && t.inFlight() === 0) finish(null);
      };
    });
    o.mark('start');
    const tick = (): void => {
      const now = performance.now();
      const elapsed = Math.min(now - start, o.seconds * 1000);
      const due = Math.floor((elapsed / 1000) * o.rate) - sent;
      for (let n = 0; n < due && !t.done; n++) {
        const j = seq % clients.length;
        const pool = seq++ % o.pools;
        sent++;
        sendTracked(t, clients, j, pool, requests[pool]!);
      }
      if (t.done) return;
      if (now - start < o.seconds * 1000) {
        tickTimer = setTimeout(tick, 1);
        return;
      }
      stopSending();
      if (t.inFlight() === 0) finish(null);
    };
    tick();
  });
}

export interface ConnectionOptions {
  /** Connections set up at once (each loop opens the next when its last one is up). */
  concurrency: number;
  seconds: number;
  mark(which: 'start' | 'end'): void;
}

/**
 * Connection setups over a stream transport, closed loop: `concurrency` loops each open a TCP
 * connection (with TLS: and complete the handshake, up once the registrar accepted the
 * client, stream-connector.ts), count it, close it and open the next. Latency: connect to up.
 * A setup that fails is counted by its error and the loop goes on.
 */
export async function connectRepeatedly(target: RegistrarTarget & { stream: StreamTarget }, o: ConnectionOptions, progress: PhaseProgress): Promise<PhaseOutcome> {
  const latency = new LatencyRecorder();
  const failures = new FailureCounts();
  const connector = new StreamConnector({ protocol: target.stream.protocol, ppid: PPID_ASAP, connectTimeout: DEFAULT_REQUEST_TIMEOUT_MS, ...(target.stream.tls !== undefined ? { tls: target.stream.tls } : {}) });
  const remote = { address: target.address, port: target.stream.port };
  progress.done = 0;
  o.mark('start');
  const start = performance.now();
  const end = start + o.seconds * 1000;
  let ended: string | null = null;
  let consecutiveFailures = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < end && ended === null) {
        const t0 = performance.now();
        try {
          const a = await connector.connect(remote);
          latency.add(performance.now() - t0);
          progress.done++;
          consecutiveFailures = 0;
          a.close();
        } catch (err) {
          failures.add(`connect failed: ${(err as Error).message.slice(0, 80)}`);
          if (++consecutiveFailures >= 100) ended = `100 connection setups in a row failed (${(err as Error).message})`;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  o.mark('end');
  connector.close();
  return { operations: progress.done, seconds, failed: failures.total, failures: failures.toJSON(), latency, ended, notSent: 0 };
}

export { freeUdpPort } from './free-ports.js';
