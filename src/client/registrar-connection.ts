// One SCTP association to a registrar ("ENRP server"), over which ASAP messages flow with
// PPID 11 (RFC 5352 §5). Many pool elements register over one association and many requests
// may be in flight: responses are matched by pool handle (+ PE ID), see request-matcher.ts.
// Request timers follow RFC 5352 §7 with one timer per connection, not one per request.
import { EventEmitter } from 'node:events';
import { AsapFlag, AsapType, Cause, PPID_ASAP } from '../wire/constants.js';
import { decodeMessage } from '../wire/decode.js';
import { encodeMessage } from '../wire/encode.js';
import { SendQueueFullError } from '../transport/sctp-provider.js';
import type {
  AsapDeregistration,
  AsapEndpointKeepAlive,
  AsapError,
  AsapHandleResolution,
  AsapHandleResolutionResponse,
  AsapMessage,
  AsapRegistration,
} from '../wire/messages.js';
import type { PoolElementParameter } from '../wire/parameters.js';
import { Writer } from '../wire/writer.js';
import type { Association, AssociationDownReason } from '../transport/sctp-provider.js';
import { asapTimers, type AsapTimers } from './asap-timers.js';
import {
  DeregistrationRejectedError,
  HandleResolutionError,
  RegistrarConnectionLostError,
  RegistrationRejectedError,
  RequestTimeoutError,
  UnknownPoolHandleError,
} from './errors.js';
import { PendingRequest, RequestKind, RequestMatcher, requestKindName } from './request-matcher.js';

export interface RegistrarConnectionEvents {
  /** ENDPOINT_KEEP_ALIVE (RFC 5352 §3.4); the owner answers for its pool elements. */
  keepAlive: [message: AsapEndpointKeepAlive, connection: RegistrarConnection];
  /** A request exhausted its retransmissions: a hint to hunt for another home (§3.7.2). */
  requestTimeout: [kind: RequestKind, connection: RegistrarConnection];
  /** ASAP_ERROR from the registrar (§2.2.14): it could not use something we sent. */
  asapError: [message: AsapError, connection: RegistrarConnection];
  /** Any other ASAP message (e.g. a response nobody waits for any more). */
  message: [message: AsapMessage, connection: RegistrarConnection];
  /** The association is gone; pending requests were rejected. Emitted once. */
  down: [reason: AssociationDownReason, connection: RegistrarConnection];
}

export interface RegistrarConnectionOptions {
  timers?: Partial<AsapTimers>;
  /** The registrar's server ID when known (announce, keep-alive); null otherwise. */
  serverId?: number | null;
}

const now = (): number => performance.now();

export class RegistrarConnection extends EventEmitter<RegistrarConnectionEvents> {
  readonly association: Association;
  readonly timers: AsapTimers;
  /** Registrar server ID (RFC 5353 §2.1), learned from announces and keep-alives. */
  serverId: number | null;
  readonly #matcher = new RequestMatcher();
  readonly #writer = new Writer(1024);
  readonly #expired: PendingRequest[] = [];
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;
  #down: AssociationDownReason | null = null;

  constructor(association: Association, options: RegistrarConnectionOptions = {}) {
    super();
    this.association = association;
    this.timers = asapTimers(options.timers);
    this.serverId = options.serverId ?? null;
    association.on('message', (payload, ppid) => this.#onMessage(payload, ppid));
    association.once('down', (reason) => this.#onDown(reason));
    if (association.state === 'down') queueMicrotask(() => this.#onDown('local-abort'));
  }

  /** True until the association went down. */
  get isUp(): boolean {
    return this.#down === null;
  }

  /** Requests waiting for a response. */
  get pending(): number {
    return this.#matcher.size;
  }

  /** Text form of the registrar's address, for logs. */
  get remoteText(): string {
    const r = this.association.remote;
    return `${r.address}:${r.port}${r.udpPort !== undefined ? `/udp${r.udpPort}` : ''}`;
  }

  /**
   * ASAP_REGISTRATION (RFC 5352 §3.1 R2-R4). Resolves on acceptance; rejects with
   * RegistrationRejectedError (R flag), RequestTimeoutError (T2 expired MAX-REG-ATTEMPT
   * times) or RegistrarConnectionLostError.
   */
  register(poolHandle: Uint8Array, poolElement: PoolElementParameter): Promise<void> {
    const message: AsapRegistration = {
      protocol: 'asap',
      type: AsapType.Registration,
      flags: 0,
      paddedLength: false,
      unknownParams: null,
      poolHandle,
      poolElement,
    };
    return this.#request<void>(new PendingRequest<void>(RequestKind.Registration, poolHandle, poolElement.peId, message));
  }

  /** ASAP_DEREGISTRATION (RFC 5352 §3.2 D1-D4). */
  deregister(poolHandle: Uint8Array, peId: number): Promise<void> {
    const message: AsapDeregistration = {
      protocol: 'asap',
      type: AsapType.Deregistration,
      flags: 0,
      paddedLength: false,
      unknownParams: null,
      poolHandle,
      peId,
    };
    return this.#request<void>(new PendingRequest<void>(RequestKind.Deregistration, poolHandle, peId, message));
  }

  /**
   * ASAP_HANDLE_RESOLUTION (RFC 5352 §3.3 NR1-NR4). `items` is RSPLIB's Handle Resolution
   * Option (0x803f): elements wanted, 0 for the registrar's default, null to omit it.
   * Resolves with the response; rejects with UnknownPoolHandleError, HandleResolutionError,
   * RequestTimeoutError or RegistrarConnectionLostError. `subscribe` sets the S bit (RFC 5352
   * §2.2.5): the response's A bit says whether the registrar will push updates, which arrive
   * as `message` events.
   */
  resolveHandle(poolHandle: Uint8Array, items: number | null = null, subscribe = false): Promise<AsapHandleResolutionResponse> {
    const message: AsapHandleResolution = {
      protocol: 'asap',
      type: AsapType.HandleResolution,
      flags: subscribe ? AsapFlag.Subscribe : 0,
      paddedLength: false,
      unknownParams: null,
      poolHandle,
      items,
    };
    return this.#request(new PendingRequest<AsapHandleResolutionResponse>(RequestKind.HandleResolution, poolHandle, 0, message));
  }

  /** ASAP_ENDPOINT_KEEP_ALIVE_ACK (RFC 5352 §3.4 KA2); false if the association is down. */
  keepAliveAck(poolHandle: Uint8Array, peId: number): boolean {
    return this.#send({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle, peId });
  }

  /** ASAP_ENDPOINT_UNREACHABLE (RFC 5352 §3.5); no response is defined. */
  reportUnreachable(poolHandle: Uint8Array, peId: number): boolean {
    return this.#send({ protocol: 'asap', type: AsapType.EndpointUnreachable, flags: 0, paddedLength: false, unknownParams: null, poolHandle, peId });
  }

  /** Graceful SHUTDOWN once queued messages are acknowledged; pending requests are rejected. */
  close(): void {
    this.association.close();
  }

  /** ABORT now. */
  abort(): void {
    this.association.abort();
  }

  #send(message: AsapMessage): boolean {
    if (this.#down !== null) return false;
    const w = this.#writer;
    w.reset();
    // send() keeps the payload until the registrar acknowledges it, and the writer is reused:
    // the association gets a copy of the encoded message (one copy, no allocation to encode).
    try {
      this.association.send(encodeMessage(message, w).slice(), PPID_ASAP);
    } catch (error) {
      // The registrar left maxSendQueueBytes unacknowledged: nothing was queued. The request's
      // timer (T1-T3, RFC 5352 §3.7.2) then fails the home over like an unanswered one.
      if (error instanceof SendQueueFullError) return false;
      throw error;
    }
    return true;
  }

  #request<T>(request: PendingRequest<T>): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      request.resolve = resolve;
      request.reject = reject;
    });
    if (this.#down !== null) {
      request.reject(new RegistrarConnectionLostError(requestKindName[request.kind]!, this.#down));
      return promise;
    }
    const deadline = now() + this.#timeoutOf(request.kind);
    this.#matcher.add(request as PendingRequest, deadline);
    this.#send(request.message);
    if (deadline < this.#timerAt) this.#arm(deadline);
    return promise;
  }

  #timeoutOf(kind: RequestKind): number {
    const t = this.timers;
    return kind === RequestKind.Registration ? t.t2Registration : kind === RequestKind.Deregistration ? t.t3Deregistration : t.t1EnrpRequest;
  }

  /** RFC 5352 §7.3: MAX-REG-ATTEMPT sends of a (de)registration, 1 + MAX-REQUEST-RETRANSMIT of a resolution. */
  #maxAttemptsOf(kind: RequestKind): number {
    const t = this.timers;
    return kind === RequestKind.HandleResolution ? 1 + t.maxRequestRetransmit : Math.max(1, t.maxRegAttempt);
  }

  #arm(at: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, at - now()));
    this.#timer.unref();
  }

  #sweep(): void {
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const t = now();
    const due = this.#expired;
    this.#matcher.expire(t, due);
    let gaveUp: RequestKind | -1 = -1;
    for (let i = 0; i < due.length; i++) {
      const r = due[i]!;
      if (r.attempts < this.#maxAttemptsOf(r.kind) && this.#down === null) {
        // RFC 5352 §3.7.2: re-send the original request and restart its timer.
        r.attempts++;
        this.#matcher.setDeadline(r, t + this.#timeoutOf(r.kind));
        this.#send(r.message);
      } else {
        this.#matcher.remove(r);
        r.reject(new RequestTimeoutError(requestKindName[r.kind]!, r.attempts));
        gaveUp = r.kind;
      }
    }
    due.length = 0;
    const next = this.#matcher.nextDeadline();
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
    if (gaveUp !== -1) this.emit('requestTimeout', gaveUp, this);
  }

  #onMessage(payload: Uint8Array, ppid: number): void {
    // RSPLIB sends an empty PPID-0 DATA chunk when it drops an association (rsplib-facts.md).
    if (ppid !== PPID_ASAP) return;
    const result = decodeMessage('asap', payload);
    if (!result.ok || result.discard) return;
    const m = result.message;
    if (m.protocol !== 'asap') return;
    switch (m.type) {
      case AsapType.RegistrationResponse: {
        const r = this.#matcher.match(RequestKind.Registration, m.poolHandle, m.peId);
        if (r === null) break;
        if ((m.flags & AsapFlag.Reject) !== 0 || m.error !== null) r.reject(new RegistrationRejectedError(m.error));
        else r.resolve(undefined);
        return;
      }
      case AsapType.DeregistrationResponse: {
        const r = this.#matcher.match(RequestKind.Deregistration, m.poolHandle, m.peId);
        if (r === null) break;
        if ((m.flags & AsapFlag.Reject) !== 0 || m.error !== null) r.reject(new DeregistrationRejectedError(m.error));
        else r.resolve(undefined);
        return;
      }
      case AsapType.HandleResolutionResponse: {
        const r = this.#matcher.match(RequestKind.HandleResolution, m.poolHandle, 0);
        if (r === null) break;
        if (m.error !== null) {
          const unknown = m.error.causes.some((c) => c.code === Cause.UnknownPoolHandle);
          r.reject(unknown ? new UnknownPoolHandleError(r.poolHandle) : new HandleResolutionError(r.poolHandle, m.error));
        } else {
          r.resolve(m);
        }
        return;
      }
      case AsapType.EndpointKeepAlive:
        this.emit('keepAlive', m, this);
        return;
      case AsapType.Error:
        this.emit('asapError', m, this);
        return;
    }
    this.emit('message', m, this);
  }

  #onDown(reason: AssociationDownReason): void {
    if (this.#down !== null) return;
    this.#down = reason;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    for (const r of this.#matcher.drain()) r.reject(new RegistrarConnectionLostError(requestKindName[r.kind]!, reason));
    this.emit('down', reason, this);
  }
}
