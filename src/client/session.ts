// The PU side of the session layer (RFC 5351 §2.5, RFC 5352 §3.7-3.9, §6.5): a session with a
// pool rather than with one server. It resolves the pool handle, connects to the selected
// PE's user transport over SCTP, carries application data under the application's PPID and
// the control channel under PPID 11, keeps the last ASAP_COOKIE, and on failure fails over:
// reports the PE (ENDPOINT_UNREACHABLE, §3.5), selects another (business card order first,
// §3.9 BC2), connects, sends ASAP_COOKIE_ECHO with the last cookie as the first message
// (§3.8), and tells the application.
import { EventEmitter } from 'node:events';
import { PPID_ASAP } from '../wire/constants.js';
import { SendQueueFullError, type Association, type AssociationDownReason } from '../transport/sctp-provider.js';
import { checkDataPpid, decodeControl, DEFAULT_DATA_PPID, encodeBusinessCard, encodeCookieEcho, sendControl } from './control-channel.js';
import { ClosedError, NoPoolElementError, SessionSendError } from './errors.js';
import { poolHandleBytes, poolHandleText } from './pool-handle.js';
import { hexId } from '../wire/identifier-text.js';
import type { PoolUser, ResolvedPoolElement } from './pool-user.js';

export interface SessionOptions {
  /** PPID of application data; default 0 (see DEFAULT_DATA_PPID). */
  dataPpid?: number;
  /** Elements asked for per handle resolution (0: the registrar's default). */
  items?: number;
  /** How long one connection attempt to a PE may take, ms; default 5000. */
  connectTimeout?: number;
  /**
   * ASAP_SEND_FAILOVER (RFC 5352 §6.5.5): fail over when the PE fails; default true. With
   * false the session closes with a SessionSendError instead (ASAP_SEND_NO_FAILOVER).
   */
  failover?: boolean;
  /** How long one failover (or the initial open) keeps looking for a reachable PE, ms; default 15000. */
  failoverTimeout?: number;
  /** Pause between rounds when every candidate failed, ms; default 250. */
  retryInterval?: number;
  /** Messages queued while no PE is connected (RFC 5352 §6.5.1 "hold the outbound message"); default 1000. */
  maxQueued?: number;
  /**
   * UDP encapsulation port of a PE in UDP mode (RFC 6951): a Pool Element parameter names
   * none, so this library's PEs listen on the UDP port numbered like their SCTP port, the
   * default here. A number forces one port (e.g. 9899 for RSPLIB-style peers).
   */
  remoteUdpPort?: number | 'sctp-port';
}

export interface SessionEvents {
  /** Connected to a pool element (first time and after each failover). */
  up: [pe: ResolvedPoolElement];
  /** Application data from the PE. */
  data: [payload: Uint8Array, ppid: number];
  /** ASAP_COOKIE: the PE's state for failover, stored (the previous one is discarded). */
  cookie: [cookie: Uint8Array];
  /** ASAP_BUSINESS_CARD: the PE's preferred failover order (RFC 5352 §3.9 BC2). */
  businessCard: [failoverOrder: ResolvedPoolElement[]];
  /** The PE failed and the session moved to another, with the cookie echoed if it had one. */
  failover: [from: ResolvedPoolElement, to: ResolvedPoolElement, reason: string];
  /** The session ended for good: a NoPoolElementError or SessionSendError, or null when closed by the application. */
  close: [error: Error | null];
}

type State = 'connecting' | 'up' | 'failing-over' | 'closed';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** PEs found unreachable are skipped for this long (the registrar may still list them). */
const FAILED_PE_MEMORY_MS = 30_000;

export class Session extends EventEmitter<SessionEvents> {
  readonly pu: PoolUser;
  readonly poolHandle: Uint8Array;
  readonly dataPpid: number;
  readonly #items: number;
  readonly #connectTimeout: number;
  readonly #failover: boolean;
  readonly #failoverTimeout: number;
  readonly #retryInterval: number;
  readonly #maxQueued: number;
  readonly #remoteUdpPort: number | 'sctp-port';
  #state: State = 'connecting';
  #pe: ResolvedPoolElement | null = null;
  #association: Association | null = null;
  #cookie: Uint8Array | null = null;
  #card: ResolvedPoolElement[] = [];
  /** PE ID -> when it was found unreachable (performance.now()). */
  readonly #failed = new Map<number, number>();
  #queue: { payload: Uint8Array; ppid: number }[] = [];
  #failovers = 0;

  private constructor(pu: PoolUser, poolHandle: Uint8Array, options: SessionOptions) {
    super();
    this.pu = pu;
    this.poolHandle = poolHandle;
    this.dataPpid = checkDataPpid(options.dataPpid ?? DEFAULT_DATA_PPID);
    this.#items = options.items ?? 0;
    this.#connectTimeout = options.connectTimeout ?? 5000;
    this.#failover = options.failover ?? true;
    this.#failoverTimeout = options.failoverTimeout ?? 15_000;
    this.#retryInterval = options.retryInterval ?? 250;
    this.#maxQueued = options.maxQueued ?? 1000;
    this.#remoteUdpPort = options.remoteUdpPort ?? 'sctp-port';
  }

  /**
   * Opens a session with a pool (RFC 5352 §6.5.1): resolves and connects to a PE. Rejects
   * with NoPoolElementError (none reachable within failoverTimeout), UnknownPoolHandleError,
   * NoRegistrarError or ClosedError.
   */
  static async open(pu: PoolUser, poolHandle: string | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const handle = poolHandleBytes(poolHandle).slice();
    if (handle.length === 0) throw new RangeError('empty pool handle');
    const session = new Session(pu, handle, options);
    const pe = await session.#connectSomewhere();
    session.#state = 'up';
    session.emit('up', pe);
    session.#flush();
    return session;
  }

  get state(): State {
    return this.#state;
  }

  /** The PE the session talks to now (null during a failover or after close). */
  get poolElement(): ResolvedPoolElement | null {
    return this.#state === 'up' ? this.#pe : null;
  }

  /** The last cookie a PE sent (RFC 5352 §3.8), or null. */
  get cookie(): Uint8Array | null {
    return this.#cookie;
  }

  /** The failover order of the last business card (RFC 5352 §3.9), possibly empty. */
  get businessCard(): readonly ResolvedPoolElement[] {
    return this.#card;
  }

  /** Failovers so far. */
  get failovers(): number {
    return this.#failovers;
  }

  /**
   * Sends application data to the PE. While a failover runs the message is queued and goes
   * to the new PE (best effort, RFC 5352 §6.5.5: messages in flight to a failed PE may be
   * lost). Returns false when queued (or beyond the association's high-water mark).
   * Throws ClosedError after close, and SendQueueFullError when the PE left the association's
   * send-queue limit unacknowledged (nothing was queued).
   *
   * Ownership: a Uint8Array is kept (not copied) until the PE acknowledges it: do not reuse it.
   */
  send(data: Uint8Array | string, ppid = this.dataPpid): boolean {
    if (this.#state === 'closed') throw new ClosedError('session');
    checkDataPpid(ppid);
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    const a = this.#association;
    if (this.#state === 'up' && a !== null && a.state !== 'down') return a.send(payload, ppid);
    if (this.#queue.length >= this.#maxQueued) {
      // Oldest first out: the application learns through its own protocol; we keep the newest.
      this.#queue.shift();
    }
    this.#queue.push({ payload: Buffer.from(payload), ppid });
    return false;
  }

  /** ASAP_BUSINESS_CARD to the PE, for a PU that is also a PE (RFC 5352 §3.9). */
  sendBusinessCard(poolHandle: string | Uint8Array, failoverOrder: readonly ResolvedPoolElement[]): boolean {
    if (this.#state !== 'up' || this.#association === null) return false;
    return sendControl(this.#association, encodeBusinessCard(poolHandleBytes(poolHandle), failoverOrder));
  }

  /**
   * Ends the session: graceful SCTP shutdown of the data association. Resolves once the
   * association is down, or after `graceMs` (then it is aborted).
   */
  close(graceMs = 1000): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    this.#state = 'closed';
    const a = this.#association;
    this.#association = null;
    this.#queue = [];
    this.emit('close', null);
    if (a === null || a.state === 'down') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        a.abort('shutdown took too long');
        resolve();
      }, graceMs);
      a.once('down', () => {
        clearTimeout(timer);
        resolve();
      });
      a.close();
    });
  }

  #end(error: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#association?.abort('session ended');
    this.#association = null;
    this.#queue = [];
    this.emit('close', error);
  }

  #flush(): void {
    const a = this.#association;
    if (a === null) return;
    const queued = this.#queue;
    this.#queue = [];
    try {
      for (const m of queued) a.send(m.payload, m.ppid);
    } catch (error) {
      // Best effort (RFC 5352 §6.5.5): what the new PE's send queue cannot take is dropped.
      if (!(error instanceof SendQueueFullError)) throw error;
    }
  }

  #attach(a: Association, pe: ResolvedPoolElement): void {
    this.#association = a;
    this.#pe = pe;
    a.on('message', (payload, ppid) => {
      if (a !== this.#association) return;
      if (ppid !== PPID_ASAP) {
        this.emit('data', payload, ppid);
        return;
      }
      const m = decodeControl(payload);
      if (m.kind === 'cookie') {
        // §3.8: store it, discarding the older one.
        this.#cookie = m.cookie;
        this.emit('cookie', m.cookie);
      } else if (m.kind === 'business-card') {
        this.#card = m.poolElements;
        this.emit('businessCard', m.poolElements);
      }
    });
    a.once('down', (reason: AssociationDownReason) => {
      if (a !== this.#association || this.#state === 'closed') return;
      void this.#failOver(`association ${reason}`);
    });
  }

  /** RFC 5352 §3.7/§6.9: the PE failed. */
  async #failOver(reason: string): Promise<void> {
    const old = this.#pe!;
    const a = this.#association;
    this.#association = null;
    if (a !== null && a.state !== 'down') a.abort('failing over');
    this.#markFailed(old.peId);
    if (!this.#failover) {
      this.#end(new SessionSendError(old.peId, new Uint8Array(0), `${reason}; failover disabled`));
      return;
    }
    this.#state = 'failing-over';
    let next: ResolvedPoolElement;
    try {
      next = await this.#connectSomewhere();
    } catch (error) {
      this.#end(error as Error);
      return;
    }
    if (this.#isClosed()) {
      // Closed meanwhile.
      const stray = this.#association as Association | null;
      stray?.abort('session closed');
      return;
    }
    this.#state = 'up';
    this.#failovers++;
    this.emit('failover', old, next, reason);
    this.emit('up', next);
    this.#flush();
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #markFailed(peId: number): void {
    this.#failed.set(peId, performance.now());
    // §3.5: report once per failure event; the registrar counts reports (MAX-BAD-PE-REPORT).
    this.pu.reportUnreachable(this.poolHandle, peId).catch(() => {
      /* no registrar now: the report is advice */
    });
  }

  #isFailed(peId: number): boolean {
    const at = this.#failed.get(peId);
    if (at === undefined) return false;
    if (performance.now() - at > FAILED_PE_MEMORY_MS) {
      this.#failed.delete(peId);
      return false;
    }
    return true;
  }

  /**
   * Selects and connects: the business card's order first (§3.9 BC2), then a fresh handle
   * resolution. Keeps trying until failoverTimeout (a new PE may register meanwhile).
   */
  async #connectSomewhere(): Promise<ResolvedPoolElement> {
    const deadline = performance.now() + this.#failoverTimeout;
    const tried: number[] = [];
    let why = 'no pool element';
    for (;;) {
      if (this.#state === 'closed') throw new ClosedError('session');
      const candidates: ResolvedPoolElement[] = [];
      const seen = new Set<number>();
      const consider = (e: ResolvedPoolElement): void => {
        if (seen.has(e.peId) || this.#isFailed(e.peId) || e.userTransport === null || e.userTransport.protocol !== 'sctp') return;
        seen.add(e.peId);
        candidates.push(e);
      };
      for (const e of this.#card) consider(e);
      try {
        for (const e of await this.pu.resolve(this.poolHandle, { items: this.#items, fresh: true })) consider(e);
      } catch (error) {
        // Unknown pool handle, no registrar...: final at open, worth retrying during a failover.
        if (this.#pe === null) throw error;
        why = (error as Error).message;
      }
      for (const pe of candidates) {
        const a = await this.#connect(pe);
        if (this.#isClosed()) {
          a?.abort('session closed');
          throw new ClosedError('session');
        }
        if (a === null) {
          tried.push(pe.peId);
          this.#markFailed(pe.peId);
          why = 'connection failed';
          continue;
        }
        this.#attach(a, pe);
        // §3.8: the latest cookie goes first on the control channel of the new PE.
        if (this.#cookie !== null) sendControl(a, encodeCookieEcho(this.#cookie));
        return pe;
      }
      if (candidates.length === 0 && why === 'no pool element') why = 'the pool has no other element';
      if (performance.now() + this.#retryInterval > deadline) throw new NoPoolElementError(this.poolHandle, tried, why);
      await sleep(this.#retryInterval);
    }
  }

  /** One SCTP association to a PE's user transport, trying its addresses in order; null on failure. */
  async #connect(pe: ResolvedPoolElement): Promise<Association | null> {
    const t = pe.userTransport!;
    const sctp = this.pu.asap.sctp;
    // IPv4 first: an endpoint bound to IPv4 only cannot reach the IPv6 ones (associate() throws
    // or the attempt times out), so those come last.
    const addresses = [...t.addresses.filter((x) => !x.includes(':')), ...t.addresses.filter((x) => x.includes(':'))];
    for (const address of addresses) {
      let a: Association;
      try {
        a = sctp.associate({ address, port: t.port, udpPort: this.#remoteUdpPort === 'sctp-port' ? t.port : this.#remoteUdpPort });
      } catch {
        continue;
      }
      const up = await new Promise<boolean>((resolve) => {
        if (a.state === 'up') return resolve(true);
        const timer = setTimeout(() => done(false), this.#connectTimeout);
        const onUp = (): void => done(true);
        const onDown = (): void => done(false);
        const done = (ok: boolean): void => {
          clearTimeout(timer);
          a.off('up', onUp);
          a.off('down', onDown);
          resolve(ok);
        };
        a.once('up', onUp);
        a.once('down', onDown);
      });
      if (up) return a;
      a.abort('connect timeout');
    }
    return null;
  }

  override toString(): string {
    return `session with pool "${poolHandleText(this.poolHandle)}"${this.#pe !== null ? ` at PE ${hexId(this.#pe.peId)}` : ''}`;
  }
}
