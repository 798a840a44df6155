// The PE side of the session layer (RFC 5351 §2.5, RFC 5352 §3.8-3.9): a pool element that
// offers its service on its own SCTP endpoint (its user transport), accepts data associations
// from pool users, and uses each one as data channel plus control channel: application data
// under the application's PPID, ASAP_COOKIE / ASAP_COOKIE_ECHO / ASAP_BUSINESS_CARD under
// PPID 11 on the same association.
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PPID_ASAP } from '../wire/constants.js';
import { openSctpEndpoint } from '../transport/open-sctp-endpoint.js';
import type { Association, AssociationDownReason, RemoteAddress, SctpEndpoint } from '../transport/sctp-provider.js';
import type { AsapEndpoint } from './asap-endpoint.js';
import { checkDataPpid, decodeControl, DEFAULT_DATA_PPID, encodeBusinessCard, encodeCookie, sendControl } from './control-channel.js';
import { ClosedError } from './errors.js';
import { loadFromFraction, PoolElement, type PoolElementOptions } from './pool-element.js';
import { PoolUser, type ResolvedPoolElement } from './pool-user.js';
import type { RegistrarConnection } from './registrar-connection.js';

export interface PoolElementServiceOptions extends Omit<PoolElementOptions, 'userTransport'> {
  /**
   * SCTP port of the user transport; default a random one in 49152-65535. In UDP mode
   * (RFC 6951) the data endpoint's UDP encapsulation port is the same number, which is how
   * this library's pool users find it (a Pool Element parameter names no UDP port).
   */
  port?: number;
  /**
   * UDP encapsulation port of the data endpoint in UDP mode; default the SCTP port (above).
   * Peers that reach a PE by its registered address alone send to the well-known 9899
   * (RFC 6951 §5.1; RSPLIB's PUs always do): set it to 9899 for them. When it is the ASAP
   * endpoint's own UDP port, the data endpoint shares that socket as another SCTP port.
   */
  udpPort?: number;
  /** Addresses registered in the user transport; default the ASAP endpoint's local addresses. */
  addresses?: string[];
  /** Local address to bind the data endpoint to; default all. */
  bindAddress?: string;
  /** PPID of application data on sessions; default 0 (see DEFAULT_DATA_PPID). */
  dataPpid?: number;
  /**
   * Send each new session an ASAP_BUSINESS_CARD (RFC 5352 §3.9: "a PE should always send")
   * naming up to this many other PEs of the pool as failover order, from a handle
   * resolution; 0 sends none. Default 3.
   */
  businessCard?: number;
}

export interface PoolElementServiceEvents {
  /** A pool user opened a session (its data association is up). */
  session: [session: PoolElementSession];
  /** Registered (or re-registered) at a registrar. */
  registered: [connection: RegistrarConnection];
  /** A registration attempt failed (the element keeps trying unless rejected). */
  failure: [error: Error];
}

export interface PoolElementSessionEvents {
  /** Application data from the pool user. */
  data: [payload: Uint8Array, ppid: number];
  /**
   * ASAP_COOKIE_ECHO (RFC 5352 §3.8): the pool user failed over to us and hands back the last
   * cookie another PE of the pool sent it. It arrives before any data of the session.
   */
  cookieEcho: [cookie: Uint8Array];
  /** ASAP_BUSINESS_CARD from a PU that is also a PE (RFC 5352 §3.9). */
  businessCard: [poolHandle: Uint8Array, failoverOrder: ResolvedPoolElement[]];
  /** A control message that was malformed or not one of cookie/cookie echo/business card. */
  controlError: [reason: string];
  /** The data association is gone. */
  close: [reason: AssociationDownReason];
}

let nextSessionId = 1;

/** One pool user's session at this pool element. */
export class PoolElementSession extends EventEmitter<PoolElementSessionEvents> {
  readonly id = nextSessionId++;
  readonly association: Association;
  readonly dataPpid: number;
  /** The last cookie sent, and the cookie echoed when the session began by failover. */
  #cookieEcho: Uint8Array | null = null;

  constructor(association: Association, dataPpid: number) {
    super();
    this.association = association;
    this.dataPpid = dataPpid;
    association.on('message', (payload, ppid) => {
      if (ppid !== PPID_ASAP) {
        this.emit('data', payload, ppid);
        return;
      }
      const m = decodeControl(payload);
      if (m.kind === 'cookie-echo') {
        this.#cookieEcho = m.cookie;
        this.emit('cookieEcho', m.cookie);
      } else if (m.kind === 'business-card') this.emit('businessCard', m.poolHandle, m.poolElements);
      else if (m.kind === 'malformed') this.emit('controlError', m.reason);
      else this.emit('controlError', `unexpected ASAP message on the control channel (${m.kind === 'other' ? `type 0x${m.type.toString(16)}` : m.kind})`);
    });
    association.once('down', (reason) => this.emit('close', reason));
  }

  get remote(): RemoteAddress {
    return this.association.remote;
  }

  get open(): boolean {
    return this.association.state !== 'down';
  }

  /** The cookie the pool user echoed when it failed over to us, or null. */
  get cookieEcho(): Uint8Array | null {
    return this.#cookieEcho;
  }

  /**
   * Sends application data; false when queued beyond the high-water mark or the session is gone.
   * Throws SendQueueFullError when the pool user left the send-queue limit unacknowledged
   * (nothing was queued). A Uint8Array is kept, not copied, until acknowledged: do not reuse it
   * (a received payload may be sent back as it is).
   */
  send(data: Uint8Array | string, ppid = this.dataPpid): boolean {
    return this.association.send(typeof data === 'string' ? Buffer.from(data) : data, checkDataPpid(ppid));
  }

  /** ASAP_COOKIE (RFC 5352 §3.8): state the pool user echoes to the next PE on failover; false when dropped. */
  sendCookie(cookie: Uint8Array | string): boolean {
    return sendControl(this.association, encodeCookie(typeof cookie === 'string' ? Buffer.from(cookie) : cookie));
  }

  /** ASAP_BUSINESS_CARD (RFC 5352 §3.9): the pool handle and a preferred failover order; false when dropped. */
  sendBusinessCard(poolHandle: Uint8Array, failoverOrder: readonly ResolvedPoolElement[]): boolean {
    return sendControl(this.association, encodeBusinessCard(poolHandle, failoverOrder));
  }

  /** Graceful SCTP shutdown after queued data. */
  close(): void {
    this.association.close();
  }

  abort(): void {
    this.association.abort('session aborted');
  }
}

/** Random SCTP port for a user transport (dynamic range). */
function randomPort(): number {
  return randomInt(49152, 65536);
}

/**
 * A pool element with its service endpoint. `open()` binds the endpoint, registers, and
 * resolves once registered; `close()` deregisters first (RFC 5352 §3.2), then ends the sessions.
 */
export class PoolElementService extends EventEmitter<PoolElementServiceEvents> {
  readonly asap: AsapEndpoint;
  readonly element: PoolElement;
  readonly endpoint: SctpEndpoint;
  readonly dataPpid: number;
  readonly businessCardSize: number;
  readonly #sessions = new Set<PoolElementSession>();
  readonly #pu: PoolUser;
  #closed = false;

  private constructor(asap: AsapEndpoint, endpoint: SctpEndpoint, options: PoolElementServiceOptions) {
    super();
    this.asap = asap;
    this.endpoint = endpoint;
    this.dataPpid = checkDataPpid(options.dataPpid ?? DEFAULT_DATA_PPID);
    this.businessCardSize = options.businessCard ?? 3;
    const { port: _port, udpPort: _udpPort, addresses, bindAddress: _bind, dataPpid: _ppid, businessCard: _card, ...elementOptions } = options;
    this.element = new PoolElement(asap, {
      ...elementOptions,
      userTransport: { protocol: 'sctp', port: endpoint.port, use: 'data+control', ...(addresses !== undefined ? { addresses } : {}) },
    });
    this.element.on('registered', (c) => this.emit('registered', c));
    this.element.on('failure', (e) => this.emit('failure', e));
    // The pool's other elements for business cards: one resolution per second at most.
    this.#pu = new PoolUser(asap, { staleCacheValue: 1000 });
    endpoint.on('association', (a) => this.#accept(a));
    endpoint.on('error', () => {
      /* socket-level errors surface as association failures */
    });
  }

  /**
   * Opens the service endpoint (same SCTP mode as the ASAP endpoint) and registers. Rejects
   * with RegistrationRejectedError or NoRegistrarError (the endpoint is then closed again).
   */
  static async open(asap: AsapEndpoint, options: PoolElementServiceOptions): Promise<PoolElementService> {
    if (asap.closed) throw new ClosedError('ASAP endpoint');
    const mode = asap.sctp.mode;
    let endpoint: SctpEndpoint | null = null;
    let lastError: Error | null = null;
    // A random port may be taken (UDP mode binds it as a UDP port too): a few tries.
    for (let attempt = 0; attempt < (options.port !== undefined ? 1 : 8) && endpoint === null; attempt++) {
      const port = options.port ?? randomPort();
      try {
        // Another port on the ASAP endpoint's lower layer: always in raw mode (one raw socket
        // serves every port), and in udp mode when asked for the ASAP endpoint's UDP port.
        const share = options.bindAddress === undefined && (mode === 'raw' || (options.udpPort !== undefined && options.udpPort === asap.sctp.udpPort));
        endpoint = share
          ? await asap.sctp.openPort(port)
          : await openSctpEndpoint({
              mode,
              port,
              udpPort: options.udpPort ?? port,
              ...asap.sctpSettings,
              ...(options.bindAddress !== undefined ? { address: options.bindAddress } : {}),
            });
      } catch (error) {
        lastError = error as Error;
      }
    }
    if (endpoint === null) throw lastError ?? new Error('no port for the service endpoint');
    const service = new PoolElementService(asap, endpoint, options);
    try {
      await service.element.register();
    } catch (error) {
      await endpoint.close();
      throw error;
    }
    return service;
  }

  get poolHandle(): Uint8Array {
    return this.element.poolHandle;
  }

  get peId(): number {
    return this.element.peId;
  }

  get port(): number {
    return this.endpoint.port;
  }

  get sessions(): ReadonlySet<PoolElementSession> {
    return this.#sessions;
  }

  /** Updates the load (a fraction 0..1 of full load, RFC 5356 §5) and re-registers. */
  updateLoad(fraction: number): Promise<void> {
    return this.element.updateLoad(loadFromFraction(fraction));
  }

  /** Other elements of the pool, for a business card (RFC 5352 §3.9): up to `count`. */
  async failoverOrder(count = this.businessCardSize): Promise<ResolvedPoolElement[]> {
    if (count <= 0) return [];
    const all = await this.#pu.resolve(this.poolHandle, { items: Math.min(128, count + 1) });
    return all.filter((e) => e.peId !== this.peId).slice(0, count);
  }

  /** Deregisters, then aborts the sessions and closes the endpoint. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.element.close();
    this.#pu.close();
    await this.endpoint.close();
  }

  #accept(association: Association): void {
    if (this.#closed) {
      association.abort('pool element closing');
      return;
    }
    const session = new PoolElementSession(association, this.dataPpid);
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    this.emit('session', session);
    if (this.businessCardSize > 0) {
      this.failoverOrder().then(
        (order) => {
          if (session.open) session.sendBusinessCard(this.poolHandle, order);
        },
        () => {
          /* no registrar at the moment: the card is advice, the session works without it */
        },
      );
    }
  }
}
