// An ASAP (or ENRP) association over a TCP connection or a TLS session on one (RFC 5352 §6:
// "TLS over TCP"; IANA asap-tcp 3863, asap-tcp-tls 3864). It has the shape of an SCTP
// association (src/transport/sctp-provider.ts) so that the registrar and the client use it
// unchanged: messages are framed by their Message Length (stream-framing.ts), and since TCP
// carries no PPID, every message is delivered with the PPID of the endpoint's protocol
// (11 on an ASAP port). One stream: the stream id of send() is ignored.
//
// Hostile peers: a bad length aborts the connection (logged with the peer's address), the
// receive side holds at most one message, the send side at most `maxSendQueueBytes`
// (SendQueueFullError beyond), an idle connection is closed after `idleTimeout`.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { COMMON_HEADER_BYTES, describeFramingError, framedSize, MessageFramer, MAX_FRAMED_MESSAGE_BYTES } from './stream-framing.js';
import type { TlsPeer } from './tls-peer.js';
import { SendQueueFullError, type Association, type AssociationDownReason, type AssociationEvents, type RemoteAddress } from './sctp-provider.js';

/**
 * Stream associations number from 2^31 up: their ids share the registrar's tables (and the
 * shards' u32 association ids) with SCTP associations, which number from 1. After 2^32 - 1
 * they wrap to 2^31 again, skipping ids still in use (a long-lived association keeps its id).
 */
const FIRST_STREAM_ASSOCIATION_ID = 0x8000_0000;
const LAST_STREAM_ASSOCIATION_ID = 0xffff_ffff;
let nextStreamAssociationId = FIRST_STREAM_ASSOCIATION_ID;
const liveStreamAssociationIds = new Set<number>();

/** The next free stream association id (also settable for the wrap test). */
export function allocateStreamAssociationId(): number {
  for (;;) {
    const id = nextStreamAssociationId;
    nextStreamAssociationId = id >= LAST_STREAM_ASSOCIATION_ID ? FIRST_STREAM_ASSOCIATION_ID : id + 1;
    if (!liveStreamAssociationIds.has(id)) {
      liveStreamAssociationIds.add(id);
      return id;
    }
  }
}

/** Tests: where the next id is taken from. */
export function setNextStreamAssociationId(id: number): void {
  nextStreamAssociationId = id;
}

/** What one stream association logs: level, fields (the peer's address among them), message. */
export type StreamLog = (level: 'debug' | 'info' | 'warn', fields: Record<string, unknown>, message: string) => void;

export interface StreamAssociationOptions {
  /** The PPID every received message is delivered with, and the only one send() accepts. */
  ppid: number;
  /** 'tcp' or 'tls', for logs. */
  protocol: 'tcp' | 'tls';
  /** Largest message accepted from the peer (≤ 65,535). */
  maxMessageBytes?: number;
  /** Bytes queued for the socket beyond which send() throws SendQueueFullError. */
  maxSendQueueBytes: number;
  /** No byte either way for this long closes the connection, ms; 0: never. */
  idleTimeout?: number;
  /** TCP keep-alive probes after this much silence, ms (dead peers without a FIN); 0: off. */
  keepAliveDelay?: number;
  /** How long close() waits for the peer to close its side before the connection is destroyed, ms. */
  closeTimeout?: number;
  log?: StreamLog;
  /** Called when a bad Message Length aborts the connection, and when the idle limit closes it (counters). */
  onFramingError?: () => void;
  onIdle?: () => void;
  /** Who the peer authenticated as (TLS associations a server accepted), for authorization. */
  tlsPeer?: TlsPeer | null;
}

/** '::ffff:10.0.0.1' (an IPv4 peer on a dual-stack socket) as '10.0.0.1'. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class StreamAssociation extends EventEmitter<AssociationEvents> implements Association {
  readonly id = allocateStreamAssociationId();
  readonly remote: RemoteAddress;
  readonly remoteAddresses: readonly string[];
  readonly protocol: 'tcp' | 'tls';
  readonly ppid: number;
  readonly maxSendQueueBytes: number;
  /**
   * Who the peer authenticated as, else null: set by the server when it accepts a TLS
   * association, and by the connector once the handshake of one it started is done.
   */
  tlsPeer: TlsPeer | null;
  readonly #socket: Socket;
  readonly #framer: MessageFramer;
  readonly #log: StreamLog;
  readonly #closeTimeout: number;
  readonly #onFramingError: (() => void) | undefined;
  #state: 'connecting' | 'up' | 'down' = 'connecting';
  /** Why we ended it, when we did (wins over what the socket says afterwards). */
  #reason: AssociationDownReason | null = null;
  #closeTimer: NodeJS.Timeout | undefined;
  #socketError: NodeJS.ErrnoException | null = null;
  #peerEnded = false;

  /**
   * `socket` is connected already (passive open: call markUp() at once) or connecting (active
   * open: the connector calls markUp() on 'connect' or 'secureConnect').
   */
  constructor(socket: Socket, remote: RemoteAddress, options: StreamAssociationOptions) {
    super();
    this.#socket = socket;
    // A client keeps the udpPort of the registrar address it was given (its registrar table's key).
    this.remote = { address: plainAddress(remote.address), port: remote.port, ...(remote.udpPort !== undefined ? { udpPort: remote.udpPort } : {}) };
    this.remoteAddresses = [this.remote.address];
    this.protocol = options.protocol;
    this.ppid = options.ppid;
    this.maxSendQueueBytes = options.maxSendQueueBytes;
    this.tlsPeer = options.tlsPeer ?? null;
    this.#framer = new MessageFramer(options.maxMessageBytes ?? MAX_FRAMED_MESSAGE_BYTES);
    this.#log = options.log ?? (() => undefined);
    this.#closeTimeout = options.closeTimeout ?? 5000;
    this.#onFramingError = options.onFramingError;
    socket.setNoDelay(true); // request/response: no Nagle delay on answers
    if ((options.keepAliveDelay ?? 15_000) > 0) socket.setKeepAlive(true, options.keepAliveDelay ?? 15_000);
    if ((options.idleTimeout ?? 0) > 0) {
      socket.setTimeout(options.idleTimeout!);
      socket.on('timeout', () => {
        this.#log('info', { association: this.id, peer: this.peer, idleMs: options.idleTimeout }, `${this.protocol.toUpperCase()} association idle: closed`);
        options.onIdle?.();
        this.#end('timeout');
      });
    }
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('drain', () => {
      if (this.#state === 'up') this.emit('drain');
    });
    socket.on('end', () => {
      this.#peerEnded = true;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#socketError ??= error;
    });
    socket.on('close', () => this.#down(this.#reason ?? this.#reasonFromSocket()));
  }

  get state(): 'connecting' | 'up' | 'down' {
    return this.#state;
  }

  get localPort(): number {
    return this.#socket.localPort ?? 0;
  }

  get outboundStreams(): number {
    return this.#state === 'up' ? 1 : 0;
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /** The error the socket reported (a refused connection, a TLS alert), if any. */
  get socketError(): Error | null {
    return this.#socketError;
  }

  /** "address:port" of the peer, for logs. */
  get peer(): string {
    return this.remote.address.includes(':') ? `[${this.remote.address}]:${this.remote.port}` : `${this.remote.address}:${this.remote.port}`;
  }

  /** The connection (and, for TLS, the handshake) is complete. */
  markUp(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'up';
    this.emit('up');
  }

  send(payload: Uint8Array, ppid: number, _stream?: number): boolean {
    if (this.#state === 'down') return false;
    if (ppid !== this.ppid) throw new TypeError(`a ${this.protocol.toUpperCase()} association carries PPID ${this.ppid} only (TCP has no PPID), not ${ppid}`);
    // The peer frames by the Message Length field (with the final padding): a message whose
    // length field does not match its size would desynchronize the stream for good.
    const length = payload.byteLength >= COMMON_HEADER_BYTES ? (payload[2]! << 8) | payload[3]! : -1;
    if (length < COMMON_HEADER_BYTES || framedSize(length) !== payload.byteLength) throw new RangeError(`message of ${payload.byteLength} bytes has Message Length ${length}: not sent on a stream`);
    if (this.#socket.writableLength + payload.byteLength > this.maxSendQueueBytes) throw new SendQueueFullError(this.id, this.maxSendQueueBytes);
    // The messages of one turn (a shard's batch of answers) leave in one write (one TLS record
    // run, few TCP segments) instead of one system call each.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    return this.#socket.write(payload);
  }

  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  close(): void {
    if (this.#state === 'down' || this.#reason !== null) return;
    this.#reason = 'shutdown';
    this.#socket.end();
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#closeTimeout);
    this.#closeTimer.unref();
  }

  abort(reason?: string): void {
    if (this.#state === 'down') return;
    if (reason !== undefined) this.#log('debug', { association: this.id, peer: this.peer, reason }, `${this.protocol.toUpperCase()} association aborted`);
    this.#reason = 'local-abort';
    this.#reset();
    this.#down('local-abort');
  }

  /** Ends the connection for `reason` (framing error, idle, endpoint closing) and reports it down now. */
  #end(reason: AssociationDownReason): void {
    if (this.#state === 'down') return;
    this.#reason = reason;
    if (reason === 'abort') this.#reset();
    else this.#socket.destroy();
    this.#down(reason);
  }

  /** The stream's ABORT: a TCP RST (the peer sees a reset, not an orderly close); TLS just closes. */
  #reset(): void {
    if (this.protocol === 'tcp' && !this.#socket.destroyed && this.#socket.readyState === 'open') this.#socket.resetAndDestroy();
    else this.#socket.destroy();
  }

  /** Ends it because the endpoint closes. */
  endpointClosed(): void {
    this.#end('endpoint-closed');
  }

  /** One framed message to the listeners (made once, not per chunk). */
  readonly #deliver = (message: Uint8Array): void => {
    if (this.#state === 'down') return;
    try {
      this.emit('message', message, this.ppid, 0);
    } catch (e) {
      // A handler that throws is a bug of ours; the peer's stream stays framed.
      this.#log('warn', { association: this.id, peer: this.peer, error: (e as Error).message }, 'message handler failed');
    }
  };

  #receive(chunk: Buffer): void {
    if (this.#state === 'down') return;
    const error = this.#framer.push(chunk, this.#deliver);
    if (error === null) return;
    this.#log('warn', { association: this.id, peer: this.peer, protocol: this.protocol, kind: error.kind, length: error.length }, `${this.protocol.toUpperCase()} association aborted: ${describeFramingError(error, this.#framer.maxMessageBytes)}`);
    this.#onFramingError?.();
    this.#end('abort');
  }

  #reasonFromSocket(): AssociationDownReason {
    const code = this.#socketError?.code;
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
    if (code === 'ETIMEDOUT') return 'timeout';
    if (this.#socketError === null && this.#peerEnded) return 'shutdown';
    return 'abort';
  }

  #down(reason: AssociationDownReason): void {
    if (this.#state === 'down') return;
    this.#state = 'down';
    liveStreamAssociationIds.delete(this.id);
    clearTimeout(this.#closeTimer);
    this.#socket.destroy();
    this.emit('down', reason);
  }
}
