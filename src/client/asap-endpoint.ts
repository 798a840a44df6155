// An ASAP endpoint (RFC 5352 §1.1, §4): the SCTP endpoint of a PE and/or PU, its list of
// registrars (configured, and heard in ASAP_SERVER_ANNOUNCE), the server hunt, and the home
// registrar connection that every pool element and pool user of this endpoint shares. Many
// pool elements register over the one home association (a load generator registers
// thousands); keep-alives are routed to them here.
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import { AsapFlag, ParamType, PORT_SCTP_OVER_UDP, TransportUse } from '../wire/constants.js';
import { transportParameter, type TransportParameter } from '../wire/parameters.js';
import { parseAddress } from '../wire/address.js';
import type { AsapEndpointKeepAlive } from '../wire/messages.js';
import { openSctpEndpoint, type SctpProtocolOptions } from '../transport/open-sctp-endpoint.js';
import type { Association, SctpEndpoint, SctpMode } from '../transport/sctp-provider.js';
import { ASAP_ANNOUNCE_GROUP, AnnounceReceiver, type MulticastGroup } from '../transport/udp-announce.js';
import { StreamConnector } from '../transport/stream-connector.js';
import type { TlsCredentials } from '../transport/tls-credentials.js';
import { PPID_ASAP } from '../wire/constants.js';
import { asapTimers, type AsapTimers } from './asap-timers.js';
import { ClosedError, NoRegistrarError } from './errors.js';
import { bytesEqual } from './pool-handle.js';
import { RegistrarConnection } from './registrar-connection.js';
import { RegistrarTable, type RegistrarAddress } from './registrar-table.js';
import { ServerHunt } from './server-hunt.js';

/** What the endpoint needs of a pool element it serves (implemented by PoolElement). */
export interface HomedPoolElement {
  readonly poolHandle: Uint8Array;
  readonly peId: number;
  /** The home registrar changed (SH6 or KA2.4): register there (RFC 5352 §3.1, §3.6). */
  homeChanged(home: RegistrarConnection): void;
  /** Deregister and stop (called by AsapEndpoint.close()). */
  close(): Promise<void>;
}

export interface AsapEndpointOptions {
  /** Configured registrars (RFC 5352 §3.6: needed when multicast is not used). */
  registrars?: RegistrarAddress[];
  /**
   * Listen for ASAP_SERVER_ANNOUNCE (RFC 5352 §3.6). Default: on when no registrar is
   * configured. `group` defaults to RSPLIB's 239.0.0.50:3863.
   */
  announces?: boolean | { group?: MulticastGroup; interfaceAddress?: string };
  /** UDP encapsulation port of registrars learned from announces (RFC 6951 §7: 9899). */
  registrarUdpPort?: number;
  /** SCTP provider: mode (default 'auto'), local SCTP port (default random), UDP port (default 0: any). */
  sctp?: {
    mode?: SctpMode | 'auto';
    port?: number;
    udpPort?: number;
    /** Local address(es) to bind, IPv4 and/or IPv6; default the wildcard. */
    address?: string | readonly string[];
    /**
     * SCTP protocol parameters (RTO bounds, HB.interval, Association.Max.Retrans) of this
     * endpoint and the service endpoints opened beside it. Sessions detect a silently dead PE
     * by heartbeats and retransmissions, so a short hbInterval and few retransmissions speed
     * failover.
     */
    protocol?: SctpProtocolOptions;
  };
  /**
   * Reach registrars over TCP or TLS (RFC 5352 §6) instead of SCTP: the configured registrars
   * are then TCP (TLS) addresses. Pool element service and sessions stay on SCTP (`sctp`).
   * Over TLS the hunt also takes the TCP transports of announces (a --tls-only registrar
   * announces its TLS port so); over plain TCP it is over configured registrars only.
   */
  stream?: {
    protocol: 'tcp' | 'tls';
    /** Required for 'tls' (loadTlsCredentials(files, 'client')). */
    tls?: TlsCredentials;
    /** A connection or TLS handshake to a registrar failed (tools print it). */
    onError?: (remote: RegistrarAddress, error: Error) => void;
  };
  /** Addresses a PE registers when its user transport names none; default: this host's IPv4 addresses. */
  localAddresses?: string[];
  timers?: Partial<AsapTimers>;
  /** How long a request waits for a home registrar before NoRegistrarError; default T1. */
  homeTimeout?: number;
}

export interface AsapEndpointEvents {
  /** A new home registrar (after a hunt, or adopted from a keep-alive with the H flag). */
  home: [connection: RegistrarConnection];
  /** The home registrar was lost (association down or requests unanswered). */
  homeLost: [connection: RegistrarConnection];
}

interface HomeWaiter {
  resolve: (c: RegistrarConnection) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  since: number;
}

function hostAddresses(): string[] {
  const all = Object.values(networkInterfaces()).flat();
  const v4 = all.filter((i) => i !== undefined && i.family === 'IPv4').map((i) => i!.address);
  // Prefer addresses other than loopback (RSPLIB drops loopback from transports), but keep it
  // when it is all there is.
  const external = v4.filter((a) => !a.startsWith('127.'));
  return external.length > 0 ? external : v4.length > 0 ? v4 : ['127.0.0.1'];
}

export class AsapEndpoint extends EventEmitter<AsapEndpointEvents> {
  readonly sctp: SctpEndpoint;
  /** The provider and protocol parameters of `sctp`, for endpoints opened beside it (a PE's service). */
  readonly sctpSettings: { protocol?: SctpProtocolOptions };
  readonly timers: AsapTimers;
  readonly registrars: RegistrarTable;
  readonly localAddresses: readonly string[];
  readonly homeTimeout: number;
  readonly #hunt: ServerHunt;
  readonly #announces: AnnounceReceiver | null;
  /** Registrar associations over TCP/TLS, when `stream` is given. */
  readonly #connector: StreamConnector | null;
  #home: RegistrarConnection | null = null;
  /** Associations registrars opened to us (a takeover sends KEEP_ALIVE with H over one). */
  readonly #passive = new Set<RegistrarConnection>();
  readonly #elements = new Map<number, HomedPoolElement[]>();
  #elementCount = 0;
  #waiters: HomeWaiter[] = [];
  #closed = false;

  private constructor(sctp: SctpEndpoint, announces: AnnounceReceiver | null, options: AsapEndpointOptions) {
    super();
    this.sctp = sctp;
    const s = options.sctp ?? {};
    this.sctpSettings = s.protocol !== undefined ? { protocol: s.protocol } : {};
    this.timers = asapTimers(options.timers);
    this.homeTimeout = options.homeTimeout ?? this.timers.t1EnrpRequest;
    this.localAddresses = options.localAddresses ?? (sctp.addresses.length > 0 ? sctp.addresses : hostAddresses());
    // Over TLS, announced TCP transports are the TLS ports of secured registrars (--tls-only).
    const announced = options.stream?.protocol === 'tls' ? ParamType.TcpTransport : ParamType.SctpTransport;
    this.registrars = new RegistrarTable(this.timers.t7EnrpOutdate, options.registrarUdpPort ?? PORT_SCTP_OVER_UDP, announced);
    for (const r of options.registrars ?? []) this.registrars.addConfigured(r);
    const st = options.stream;
    this.#connector =
      st === undefined
        ? null
        : new StreamConnector({ protocol: st.protocol, ppid: PPID_ASAP, ...(st.tls !== undefined ? { tls: st.tls } : {}), ...(st.onError !== undefined ? { onError: st.onError } : {}) });
    this.#hunt = new ServerHunt(this.#connector ?? sctp, this.registrars, { t5ServerHunt: this.timers.t5ServerHunt, retranMax: this.timers.retranMax });
    this.#hunt.on('found', (association, registrar) => {
      this.#setHome(new RegistrarConnection(association, { timers: this.timers, serverId: registrar.serverId }));
    });
    this.#announces = announces;
    announces?.on('announce', (datagram, from) => {
      if (this.registrars.heardAnnounce(datagram, from) > 0) this.#hunt.registrarAdded();
    });
    announces?.on('error', () => {
      /* a bad datagram or socket hiccup: announces are periodic, the next one counts */
    });
    sctp.on('association', (association) => this.#accept(association));
    sctp.on('error', () => {
      /* socket-level errors surface as association failures */
    });
  }

  static async open(options: AsapEndpointOptions = {}): Promise<AsapEndpoint> {
    const s = options.sctp ?? {};
    const sctp = await openSctpEndpoint({
      mode: s.mode ?? 'auto',
      // Each client endpoint has its own UDP socket, so the SCTP port only needs to be
      // unlikely to clash in raw mode: a random one from the dynamic range.
      port: s.port ?? randomInt(49152, 65536),
      udpPort: s.udpPort ?? 0,
      remoteUdpPort: options.registrarUdpPort ?? PORT_SCTP_OVER_UDP,
      ...(s.address !== undefined ? { address: s.address } : {}),
      ...(s.protocol !== undefined ? { protocol: s.protocol } : {}),
      // On the wildcard, the INIT lists the addresses a PE registers (localAddresses), so the
      // registrar sees them among the association's addresses and accepts them (RFC 5355).
      ...(s.address === undefined ? { advertisedAddresses: options.localAddresses ?? hostAddresses() } : {}),
    });
    const wantAnnounces = options.announces ?? (options.registrars === undefined || options.registrars.length === 0);
    let announces: AnnounceReceiver | null = null;
    if (wantAnnounces !== false) {
      const a = typeof wantAnnounces === 'object' ? wantAnnounces : {};
      try {
        announces = await AnnounceReceiver.open({ group: a.group ?? ASAP_ANNOUNCE_GROUP, ...(a.interfaceAddress !== undefined ? { interfaceAddress: a.interfaceAddress } : {}) });
      } catch (error) {
        await sctp.close();
        throw error;
      }
    }
    return new AsapEndpoint(sctp, announces, options);
  }

  /** The home registrar connection, or null while there is none. */
  get home(): RegistrarConnection | null {
    return this.#home;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a server hunt is under way. */
  get hunting(): boolean {
    return this.#hunt.running;
  }

  /** Adds a configured registrar. */
  addRegistrar(remote: RegistrarAddress): void {
    this.registrars.addConfigured(remote);
    this.#hunt.registrarAdded();
  }

  /**
   * The home registrar; hunts for one if needed (RFC 5352 §3.3 NR2). Rejects with
   * NoRegistrarError after `timeoutMs`, ClosedError once closed.
   */
  homeConnection(timeoutMs = this.homeTimeout): Promise<RegistrarConnection> {
    if (this.#closed) return Promise.reject(new ClosedError('ASAP endpoint'));
    if (this.#home !== null) return Promise.resolve(this.#home);
    return new Promise((resolve, reject) => {
      const waiter: HomeWaiter = {
        resolve,
        reject,
        since: performance.now(),
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new NoRegistrarError(Math.round(performance.now() - waiter.since), this.registrars.size));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
      this.#hunt.start();
    });
  }

  /**
   * The home did not answer (T1/T2/T3 exhausted, RFC 5352 §3.7.2) or failed otherwise: drop
   * it and hunt for another. Its pending requests fail with RegistrarConnectionLostError.
   */
  homeFailed(connection: RegistrarConnection): void {
    if (connection !== this.#home) return;
    this.registrars.markFailed(connection.association.remote);
    this.#loseHome(connection);
    connection.abort();
  }

  /** Routes keep-alives for this pool element to it (RFC 5352 §3.4). */
  attach(element: HomedPoolElement): void {
    const list = this.#elements.get(element.peId);
    if (list === undefined) this.#elements.set(element.peId, [element]);
    else if (!list.includes(element)) list.push(element);
    else return;
    this.#elementCount++;
  }

  detach(element: HomedPoolElement): void {
    const list = this.#elements.get(element.peId);
    if (list === undefined) return;
    const i = list.indexOf(element);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.#elements.delete(element.peId);
    this.#elementCount--;
  }

  /** Pool elements attached (registered or registering). */
  get elementCount(): number {
    return this.#elementCount;
  }

  /**
   * Closes the pool elements still attached (they deregister, RFC 5352 §3.2), then the SCTP
   * endpoint (associations are aborted) and the announce listener.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const elements = [...this.#elements.values()].flat();
    await Promise.all(elements.map((e) => e.close()));
    if (this.#closed) return;
    this.#closed = true;
    this.#hunt.stop();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new ClosedError('ASAP endpoint'));
    }
    await this.#announces?.close();
    this.#connector?.close();
    await this.sctp.close();
  }

  /**
   * The ASAP transport our PEs name (RFC 5354 §3.5 optional SCTP transport of the Pool Element
   * parameter) when we reach registrars over TCP/TLS: our SCTP endpoint, where a registrar that
   * took over our home's PEs sends its keep-alives (RFC 5353 §3.5.2), instead of the address
   * and ephemeral TCP port it would derive from our stream. Null over SCTP (derived alike).
   */
  get asapTransport(): TransportParameter | null {
    if (this.#connector === null) return null;
    const addresses = this.localAddresses.map((a) => parseAddress(a)).filter((a) => a !== null);
    return addresses.length > 0 ? transportParameter(ParamType.SctpTransport, this.sctp.port, addresses, TransportUse.DataOnly) : null;
  }

  #accept(association: Association): void {
    // A registrar associated with us (RFC 5352 §3.4: takeover keep-alives arrive this way).
    const connection = new RegistrarConnection(association, { timers: this.timers, serverId: null });
    this.#passive.add(connection);
    this.#wire(connection);
  }

  #wire(connection: RegistrarConnection): void {
    connection.on('keepAlive', (m, c) => this.#keepAlive(m, c));
    connection.on('requestTimeout', (_kind, c) => this.homeFailed(c));
    connection.on('down', (_reason, c) => {
      this.#passive.delete(c);
      if (c === this.#home) {
        this.registrars.markFailed(c.association.remote);
        this.#loseHome(c);
      }
    });
  }

  #setHome(connection: RegistrarConnection): void {
    if (this.#closed) {
      connection.abort();
      return;
    }
    const old = this.#home;
    this.#home = connection;
    this.#hunt.stop();
    if (this.#passive.has(connection)) this.#passive.delete(connection);
    else this.#wire(connection);
    // SH1: no more associations than needed; the old home's pending requests fail over.
    if (old !== null && old !== connection) old.close();
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(connection);
    }
    for (const list of this.#elements.values()) for (const e of list) e.homeChanged(connection);
    this.emit('home', connection);
  }

  #loseHome(connection: RegistrarConnection): void {
    if (connection !== this.#home) return;
    this.#home = null;
    this.emit('homeLost', connection);
    // Registered PEs need a home at once (RFC 5352 §3.6: "when it fails to communicate with
    // its Home ENRP server"); PUs hunt on their next request.
    if (!this.#closed && (this.#elementCount > 0 || this.#waiters.length > 0)) this.#hunt.start();
  }

  /** RFC 5352 §3.4 KA1-KA2.4. */
  #keepAlive(m: AsapEndpointKeepAlive, connection: RegistrarConnection): void {
    let matched = false;
    if (m.peId !== null) {
      const list = this.#elements.get(m.peId);
      if (list !== undefined) {
        for (const e of list) {
          if (!bytesEqual(e.poolHandle, m.poolHandle)) continue;
          connection.keepAliveAck(e.poolHandle, e.peId);
          matched = true;
        }
      }
    } else {
      // The RFC form names only the pool handle: answer for each of our PEs in that pool.
      for (const list of this.#elements.values()) {
        for (const e of list) {
          if (!bytesEqual(e.poolHandle, m.poolHandle)) continue;
          connection.keepAliveAck(e.poolHandle, e.peId);
          matched = true;
        }
      }
    }
    // KA1: a pool handle we did not register is silently discarded.
    if (!matched) return;
    connection.serverId = m.serverId;
    // KA2.4: the H flag from a registrar that is not our home makes it home. Not an SCTP
    // association it opened to us when we reach registrars over TCP/TLS (a registrar taking
    // over after a failure reaches PEs over SCTP, RFC 5353 §3.5.2): acknowledged above, but our
    // requests stay on our transport, and the hunt finds a home over it (a --tls-only registrar
    // would refuse our re-registration over SCTP).
    if (this.#connector !== null && this.#passive.has(connection)) return;
    if ((m.flags & AsapFlag.Home) !== 0 && connection !== this.#home) {
      const home = this.#home;
      if (home === null || home.serverId === null || home.serverId !== m.serverId) this.#setHome(connection);
    }
  }
}
