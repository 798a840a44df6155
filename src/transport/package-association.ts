// Association backed by the `sctp` package (see sctp-package.ts).
import { EventEmitter } from 'node:events';
import type { PackageAssociation } from './sctp-package.js';
import type {
  Association,
  AssociationDownReason,
  AssociationEvents,
  RemoteAddress,
} from './sctp-provider.js';

let nextAssociationId = 1;

/** Default bytes queued in this layer before send() returns false. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

interface PendingMessage {
  payload: Buffer;
  ppid: number;
  stream: number;
}

export interface PackageAssociationHooks {
  /** Called once, after 'down' was emitted. */
  gone(association: SctpPackageAssociation): void;
  /** Called once, when the association reached ESTABLISHED. */
  up(association: SctpPackageAssociation): void;
  /** True while the owning endpoint closes: a reasonless COMMUNICATION LOST is ours. */
  endpointClosing(): boolean;
}

export class SctpPackageAssociation extends EventEmitter<AssociationEvents> implements Association {
  readonly id = nextAssociationId++;
  readonly remote: RemoteAddress;
  readonly localPort: number;
  state: 'connecting' | 'up' | 'down' = 'connecting';

  readonly #inner: PackageAssociation;
  readonly #hooks: PackageAssociationHooks;
  readonly #highWaterMark: number;
  #queue: (PendingMessage | undefined)[] = [];
  #queueHead = 0;
  #bufferedAmount = 0;
  /** One SEND in flight at a time: its callback (patched: once within cwnd/rwnd) hands over the next. */
  #sending = false;
  #needDrain = false;
  #closing = false;

  constructor(inner: PackageAssociation, remote: RemoteAddress, hooks: PackageAssociationHooks, highWaterMark = DEFAULT_HIGH_WATER_MARK) {
    super();
    this.#inner = inner;
    this.remote = remote;
    this.localPort = inner.localPort;
    this.#hooks = hooks;
    this.#highWaterMark = highWaterMark;

    inner.on('DATA ARRIVE', (stream: number) => {
      const data = inner.RECEIVE();
      if (data !== undefined) {
        this.emit('message', data, data.ppid ?? 0, stream);
      }
    });
    inner.once('COMMUNICATION UP', () => {
      if (this.state !== 'connecting') return;
      this.state = 'up';
      this.#hooks.up(this);
      this.emit('up');
      this.#pump();
    });
    inner.on('COMMUNICATION LOST', (reason?: string) => {
      this.#goDown(this.#lostReason(reason));
    });
    inner.on('SHUTDOWN COMPLETE', () => {
      this.#goDown('shutdown');
    });
    // An ERROR chunk (RFC 9260 §3.3.10) is informational here; without a listener the
    // package's emit('COMMUNICATION ERROR') is harmless, so nothing to do.
  }

  /** The package does not fail over between a peer's addresses (package note 11): one. */
  get remoteAddresses(): readonly string[] {
    return [this.remote.address];
  }

  get outboundStreams(): number {
    return this.state === 'up' ? this.#inner.OS : 0;
  }

  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  send(payload: Uint8Array, ppid: number, stream = 0): boolean {
    if (!Number.isInteger(ppid) || ppid < 0 || ppid > 0xffffffff) {
      throw new RangeError(`ppid ${ppid} is not a 32-bit unsigned integer`);
    }
    if (!Number.isInteger(stream) || stream < 0 || (this.state === 'up' && stream >= this.#inner.OS) || stream > 0xffff) {
      throw new RangeError(`stream ${stream} is outside the association's outbound streams`);
    }
    if (this.state === 'down' || this.#closing) {
      return false;
    }
    // Copy: the package keeps the buffer until the data is acknowledged (retransmission).
    // The interface no longer asks for it (callers pass memory they give up), but this
    // provider keeps the copy it always made until it is deleted.
    const copy = Buffer.from(payload);
    this.#queue.push({ payload: copy, ppid, stream });
    this.#bufferedAmount += copy.length;
    this.#pump();
    if (this.#bufferedAmount > this.#highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  close(): void {
    if (this.state === 'down' || this.#closing) return;
    this.#closing = true;
    this.#maybeShutdown();
  }

  abort(reason?: string): void {
    if (this.state === 'down') return;
    this.#dropQueue();
    this.#inner.ABORT(reason);
    this.#goDown(this.#hooks.endpointClosing() ? 'endpoint-closed' : 'local-abort');
  }

  #pump(): void {
    // Before 'up' the patched package holds DATA itself; handing it over early keeps order.
    while (!this.#sending && this.#queueHead < this.#queue.length && this.state !== 'down') {
      const message = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead] = undefined;
      this.#queueHead++;
      if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      this.#bufferedAmount -= message.payload.length;
      this.#sending = true;
      this.#inner.SEND(message.payload, { stream_id: message.stream, ppid: message.ppid }, () => {
        // An error here means the association is closing or closed; 'down' reports it.
        this.#sending = false;
        this.#pump();
      });
    }
    if (this.#queueHead >= this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
      if (this.#needDrain && this.state !== 'down') {
        this.#needDrain = false;
        this.emit('drain');
      }
      this.#maybeShutdown();
    }
  }

  #maybeShutdown(): void {
    if (!this.#closing || this.state === 'down' || this.#sending || this.#queue.length > this.#queueHead) return;
    if (this.state === 'connecting') {
      // Nothing was established: the package just forgets the TCB (no event), say so here.
      this.#inner.ABORT();
      this.#goDown('local-abort');
      return;
    }
    this.#inner.SHUTDOWN();
  }

  #dropQueue(): void {
    this.#queue = [];
    this.#queueHead = 0;
    this.#bufferedAmount = 0;
  }

  #lostReason(reason: string | undefined): AssociationDownReason {
    if (reason === 'abort') return 'abort';
    if (reason === 'timeout') return 'timeout';
    if (reason === 'restart') return 'restart';
    return this.#hooks.endpointClosing() ? 'endpoint-closed' : 'unreachable';
  }

  #goDown(reason: AssociationDownReason): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.#dropQueue();
    this.emit('down', reason);
    this.#hooks.gone(this);
  }
}
