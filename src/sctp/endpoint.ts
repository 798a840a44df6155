// An SCTP endpoint on one local port of a LowerLayer (RFC 9260 §2.4): it finds the
// association of each packet by the peer's transport address (every address of a
// multi-homed peer, §6.4), answers INIT statelessly with a State Cookie (§5.1.3), turns a valid
// COOKIE ECHO into an association (§5.1.5) and answers out-of-the-blue packets (§8.4).

import { EventEmitter } from 'node:events';
import type { Association, RemoteAddress, SctpEndpoint, SctpEndpointEvents, SctpMode } from '../transport/sctp-provider.js';
import { addressToString, parseAddress } from '../wire/address.js';
import { RateLimitedLog, StackAssociation, randomTag, type AssociationHost, type InitAckTags } from './association.js';
import {
  addressParameter,
  ChunkFlag,
  ChunkType,
  decodeErrorCauses,
  decodeInit,
  ErrorCauseCode,
  errorCause,
  ParameterType,
  staleCookieCause,
  writeU16,
  type InitChunk,
} from './chunk.js';
import { systemClock, type Clock } from './clock.js';
import { CookieSigner, type CookieVerdict, type StateCookie } from './cookie.js';
import { AssociationFailedError, SctpEndpointError } from './errors.js';
import type { LowerLayer, PeerTransport } from './lower-layer.js';
import { resolveSctpOptions, type ResolvedSctpOptions, type SctpStackOptions } from './options.js';
import { PacketReader, PacketWriter } from './packet.js';

export interface SctpStackEndpointOptions extends SctpStackOptions {
  /** Local SCTP port. */
  port: number;
  /** Time source; default the system clock. Tests pass a VirtualClock. */
  clock?: Clock;
  /**
   * Addresses to list in INIT and INIT ACK when the lower layer is bound to the wildcard
   * (RFC 9260 §5.1.2): the addresses this host is reached at, as a kernel's wildcard socket
   * lists them, so that the peer knows them all (a registrar checks a PE's advertised
   * transport against them, RFC 5355). Default none: the peer uses the source address.
   */
  advertisedAddresses?: readonly string[];
}

/** What the endpoint counted (hostile or stray input is counted, never thrown). */
export interface SctpEndpointStats {
  packetsReceived: number;
  /** Bad checksum, lying lengths, too short. */
  packetsDropped: number;
  /** Packets for no association (§8.4). */
  outOfTheBlue: number;
  /** INITs answered with an INIT ACK. */
  initsAnswered: number;
  /** INITs or COOKIE ECHOs refused for maxAssociations ("Out of Resource"). */
  associationsRejected: number;
  /** INITs dropped by maxInitsPerSecond. */
  initsRateLimited: number;
  /** COOKIE ECHOs whose cookie failed authentication or binding, or was stale. */
  cookiesRejected: number;
  /** Associations aborted because an exception was thrown while handling them. */
  internalErrors: number;
  /** DATA chunks retransmitted by every association so far (T3-rtx, fast retransmit, failover). */
  retransmissions: number;
  /** Fast retransmit events (RFC 9260 §7.2.4) of every association so far. */
  fastRetransmits: number;
  /** T3-rtx expirations (§6.3.3) of every association so far. */
  retransmissionTimeouts: number;
}

/** OOTB answers (ABORT, SHUTDOWN COMPLETE) per second at most (§8.4: rate-limit them). */
const MAX_OOTB_ANSWERS_PER_SECOND = 100;

export class SctpStackEndpoint extends EventEmitter<SctpEndpointEvents> implements SctpEndpoint, AssociationHost {
  readonly lower: LowerLayer;
  readonly clock: Clock;
  readonly options: ResolvedSctpOptions;
  readonly port: number;
  readonly writer = new PacketWriter();
  readonly addressParameters: readonly Uint8Array[];
  readonly stats: SctpEndpointStats = {
    packetsReceived: 0,
    packetsDropped: 0,
    outOfTheBlue: 0,
    initsAnswered: 0,
    associationsRejected: 0,
    initsRateLimited: 0,
    cookiesRejected: 0,
    internalErrors: 0,
    retransmissions: 0,
    fastRetransmits: 0,
    retransmissionTimeouts: 0,
  };
  readonly sendDatagram: ((payload: Uint8Array, port: number, address: string, multicastTtl?: number) => Promise<void>) | undefined;
  readonly #inputOptions: SctpStackEndpointOptions;
  readonly #cookies: CookieSigner;
  readonly #reader = new PacketReader();
  #receiving = false;
  /** Each peer transport address (address, SCTP port, UDP port) -> its association. */
  readonly #byPeer = new PeerTable();
  /** The association of the last packet and where it came from: consecutive packets from one
   *  peer (the usual case) skip the table. Cleared when any association is released. */
  #lastAddress = '';
  #lastPort = -1;
  #lastUdpPort: number | undefined = undefined;
  #lastAssociation: StackAssociation | undefined = undefined;
  readonly #associations = new Set<StackAssociation>();
  #closed = false;
  /** Lines packets make us log (internal errors), rate-limited per endpoint. */
  readonly #packetLog: RateLimitedLog;
  #ootbWindow = 0;
  #ootbCount = 0;
  #initWindow = 0;
  #initCount = 0;

  /** Binds `options.port` on `lower` (throws if it is taken) and starts listening. */
  static open(lower: LowerLayer, options: SctpStackEndpointOptions): SctpStackEndpoint {
    return new SctpStackEndpoint(lower, options);
  }

  private constructor(lower: LowerLayer, options: SctpStackEndpointOptions) {
    super();
    this.lower = lower;
    this.clock = options.clock ?? systemClock;
    this.options = resolveSctpOptions(options);
    this.port = options.port;
    this.#inputOptions = options;
    this.#cookies = new CookieSigner(this.options.validCookieLife, this.clock.now());
    this.#packetLog = new RateLimitedLog(this.clock, this.options.log);
    const params: Uint8Array[] = [];
    for (const a of lower.localAddresses.length > 0 ? lower.localAddresses : (options.advertisedAddresses ?? [])) {
      const p = addressParameter(a);
      if (p) params.push(p);
    }
    this.addressParameters = params;
    this.sendDatagram = lower.sendDatagram ? (payload, port, address, ttl) => lower.sendDatagram!(payload, port, address, ttl) : undefined;
    lower.bind(this.port, this.#receive);
  }

  get mode(): SctpMode {
    return this.lower.mode;
  }

  get udpPort(): number | undefined {
    return this.lower.udpPort;
  }

  get addresses(): readonly string[] {
    return this.lower.localAddresses;
  }

  get associations(): ReadonlyArray<Association> {
    return [...this.#associations];
  }

  associate(remote: RemoteAddress): Association {
    if (this.#closed) throw new SctpEndpointError(`SCTP endpoint on port ${this.port} is closed`);
    const address = canonicalAddress(remote.address);
    if (address === undefined) throw new RangeError(`${remote.address} is not an IPv4 or IPv6 address`);
    if (!Number.isInteger(remote.port) || remote.port <= 0 || remote.port > 0xffff) throw new RangeError(`SCTP port ${remote.port} is invalid`);
    // udp mode: the peer's encapsulation port is part of the peer's identity (see PeerTable).
    const udpPort = this.lower.mode === 'udp' ? (remote.udpPort ?? this.lower.remoteUdpPort) : undefined;
    const existing = this.#byPeer.get(address, remote.port, udpPort);
    if (existing !== undefined && existing.state !== 'down') return existing;
    const association = new StackAssociation(this, { address, port: remote.port, ...(udpPort !== undefined ? { udpPort } : {}) });
    this.#associations.add(association);
    association.start();
    return association;
  }

  connect(remote: RemoteAddress): Promise<Association> {
    let association: Association;
    try {
      association = this.associate(remote);
    } catch (error) {
      return Promise.reject(error);
    }
    if (association.state === 'up') return Promise.resolve(association);
    return new Promise((resolve, reject) => {
      const onUp = (): void => {
        association.off('down', onDown);
        resolve(association);
      };
      const onDown = (reason: string): void => {
        association.off('up', onUp);
        reject(new AssociationFailedError(reason, `${remote.address}:${remote.port}`));
      };
      association.once('up', onUp);
      association.once('down', onDown);
    });
  }

  async openPort(port: number): Promise<SctpEndpoint> {
    // Raw mode: the host-wide claim first, race-free (LowerLayer.claim), then bind() uses it.
    await this.lower.claim?.(port);
    return SctpStackEndpoint.open(this.lower, { ...this.#inputOptions, port });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const a of [...this.#associations]) {
      try {
        a.endpointClosing();
      } catch (error) {
        this.options.log?.(`SCTP endpoint ${this.port}: closing association ${a.id}: ${String(error)}`);
      }
    }
    this.lower.unbind(this.port);
    await this.lower.close();
    this.emit('close');
  }

  // ------------------------------------------------------------------------------------------
  // AssociationHost

  sendInitAck(init: InitChunk, from: PeerTransport, peerPort: number, tags: InitAckTags, to: PeerTransport): void {
    const o = this.options;
    const peerAddresses = [from.address];
    for (const a of init.addresses) if (a !== from.address) peerAddresses.push(a);
    const outboundStreams = Math.min(o.outboundStreams, init.inboundStreams);
    const inboundStreams = Math.min(o.inboundStreams, init.outboundStreams, o.maxInboundStreams);
    const cookie: StateCookie = {
      createdAt: this.clock.now(),
      lifespan: o.validCookieLife,
      localTag: tags.localTag,
      peerTag: init.initiateTag,
      localInitialTsn: tags.localInitialTsn,
      peerInitialTsn: init.initialTsn,
      peerReceiveWindow: init.advertisedReceiverWindow,
      outboundStreams,
      inboundStreams,
      localTieTag: tags.localTieTag,
      peerTieTag: tags.peerTieTag,
      localPort: this.port,
      peerPort,
      peerUdpPort: from.udpPort ?? 0,
      peerAddresses,
    };
    const signed = this.#cookies.make(cookie, this.clock.now());
    const params: Uint8Array[] = [...this.addressParameters];
    const cookieParam = new Uint8Array(4 + signed.length);
    writeU16(cookieParam, 0, ParameterType.STATE_COOKIE);
    writeU16(cookieParam, 2, 4 + signed.length);
    cookieParam.set(signed, 4);
    params.push(cookieParam);
    // §3.3.3: parameters of the INIT we did not recognize and were asked to report.
    for (const u of init.unrecognized) {
      const p = new Uint8Array(4 + u.length);
      writeU16(p, 0, ParameterType.UNRECOGNIZED_PARAMETER);
      writeU16(p, 2, 4 + u.length);
      p.set(u, 4);
      params.push(p);
    }
    const w = this.writer;
    w.begin(this.port, peerPort, init.initiateTag, 0xffff);
    w.addInit(ChunkType.INIT_ACK, tags.localTag, o.receiveWindow, outboundStreams, o.inboundStreams, tags.localInitialTsn, params);
    this.lower.send(w.finish(), to);
    this.stats.initsAnswered++;
  }

  openCookie(bytes: Uint8Array): CookieVerdict {
    return this.#cookies.open(bytes, this.clock.now());
  }

  claimAddress(association: StackAssociation, address: string): boolean {
    const { port, udpPort } = association.remote;
    const owner = this.#byPeer.get(address, port, udpPort);
    if (owner !== undefined && owner !== association) return false;
    this.#byPeer.set(address, port, udpPort, association);
    return true;
  }

  released(association: StackAssociation): void {
    if (!this.#associations.delete(association)) return;
    this.#lastAssociation = undefined;
    const { port, udpPort } = association.remote;
    for (const a of association.remoteAddresses) this.#byPeer.delete(a, port, udpPort, association);
    this.#byPeer.delete(association.remote.address, port, udpPort, association);
  }

  restart(old: StackAssociation, cookie: StateCookie, from: PeerTransport): StackAssociation | undefined {
    old.replacedByRestart();
    return this.#associateFromCookie(cookie, from, old.remote.port);
  }

  // ------------------------------------------------------------------------------------------
  // Receiving

  readonly #receive = (packet: Uint8Array, from: PeerTransport, _localAddress: string | undefined): void => {
    // A lower layer that delivers synchronously from within a send would re-enter: the shared
    // reader is in use then, so that packet gets its own.
    const nested = this.#receiving;
    const r = nested ? new PacketReader() : this.#reader;
    this.#receiving = true;
    try {
      this.#handle(r, packet, from);
    } catch (error) {
      // The association's own handler aborts it; here only the endpoint's code remains.
      this.stats.internalErrors++;
      this.#packetLog.write(`SCTP endpoint ${this.port}: packet from ${from.address} dropped after an internal error: ${String(error)}`);
    } finally {
      this.#receiving = nested;
    }
  };

  #handle(r: PacketReader, packet: Uint8Array, from: PeerTransport): void {
    this.stats.packetsReceived++;
    if (this.#closed) return;
    if (!r.read(packet)) {
      this.stats.packetsDropped++;
      return;
    }
    if (r.destinationPort !== this.port || r.sourcePort === 0) {
      this.stats.packetsDropped++;
      return;
    }
    const address = from.address;
    const port = r.sourcePort;
    const udpPort = from.udpPort;
    let association: StackAssociation | undefined;
    if (this.#lastAssociation !== undefined && port === this.#lastPort && udpPort === this.#lastUdpPort && address === this.#lastAddress) {
      association = this.#lastAssociation;
    } else {
      association = this.#byPeer.get(address, port, udpPort);
      if (association !== undefined) {
        this.#lastAddress = address;
        this.#lastPort = port;
        this.#lastUdpPort = udpPort;
        this.#lastAssociation = association;
      }
    }
    if (association !== undefined) {
      try {
        association.receive(r, from);
      } catch (error) {
        this.stats.internalErrors++;
        association.failed(error);
      }
      return;
    }
    this.#outOfTheBlue(r, from);
  }

  /** §8.4: a packet for no association. */
  #outOfTheBlue(r: PacketReader, from: PeerTransport): void {
    this.stats.outOfTheBlue++;
    if (r.has(ChunkType.ABORT)) return; // item 2
    const first = r.types[0]!;
    if (first === ChunkType.INIT) {
      // item 3; §8.5.1 A: tag 0 and alone in the packet.
      if (r.verificationTag === 0 && r.count === 1) this.#onInit(r, from);
      return;
    }
    if (first === ChunkType.COOKIE_ECHO) {
      this.#onCookieEcho(r, from); // item 4
      return;
    }
    if (r.has(ChunkType.SHUTDOWN_ACK)) {
      // item 5: SHUTDOWN COMPLETE with the T bit, the tag reflected.
      if (this.#ootbAllowed()) this.#sendSingle(from, r.sourcePort, r.verificationTag, ChunkType.SHUTDOWN_COMPLETE, ChunkFlag.T, undefined);
      return;
    }
    if (r.has(ChunkType.SHUTDOWN_COMPLETE) || r.has(ChunkType.COOKIE_ACK)) return; // items 6, 7
    for (let i = 0; i < r.count; i++) {
      if (r.types[i] !== ChunkType.ERROR) continue;
      const causes = decodeErrorCauses(r.bytes, r.offsets[i]!, r.lengths[i]!);
      if (causes?.some((c) => c.code === ErrorCauseCode.STALE_COOKIE)) return; // item 7
    }
    // item 8: ABORT with the T bit, the tag reflected.
    if (this.#ootbAllowed()) this.#sendSingle(from, r.sourcePort, r.verificationTag, ChunkType.ABORT, ChunkFlag.T, undefined);
  }

  #ootbAllowed(): boolean {
    const second = Math.floor(this.clock.now() / 1000);
    if (second !== this.#ootbWindow) {
      this.#ootbWindow = second;
      this.#ootbCount = 0;
    }
    return ++this.#ootbCount <= MAX_OOTB_ANSWERS_PER_SECOND;
  }

  /** §5.1.2, §5.1.3: an INIT without a TCB, answered without creating state. */
  #onInit(r: PacketReader, from: PeerTransport): void {
    const init = decodeInit(r.bytes, r.offsets[0]!, r.lengths[0]!);
    if (init === undefined) return;
    if (init.invalid !== undefined) {
      // §3.3.2: ABORT with the INIT's tag (an INIT with tag 0 cannot be answered).
      if (init.initiateTag !== 0) this.#sendSingle(from, r.sourcePort, init.initiateTag, ChunkType.ABORT, 0, [errorCause(ErrorCauseCode.INVALID_MANDATORY_PARAMETER)]);
      return;
    }
    if (init.hostNameAddress) {
      // RFC 9260 §3.3.2.1: Host Name Address is not supported: ABORT, Unresolvable Address.
      this.#sendSingle(from, r.sourcePort, init.initiateTag, ChunkType.ABORT, 0, [errorCause(ErrorCauseCode.UNRESOLVABLE_ADDRESS)]);
      return;
    }
    const limit = this.options.maxInitsPerSecond;
    if (limit > 0) {
      const second = Math.floor(this.clock.now() / 1000);
      if (second !== this.#initWindow) {
        this.#initWindow = second;
        this.#initCount = 0;
      }
      if (++this.#initCount > limit) {
        this.stats.initsRateLimited++;
        return;
      }
    }
    if (this.#associations.size >= this.options.maxAssociations) {
      this.stats.associationsRejected++;
      this.#sendSingle(from, r.sourcePort, init.initiateTag, ChunkType.ABORT, 0, [errorCause(ErrorCauseCode.OUT_OF_RESOURCE)]);
      return;
    }
    this.sendInitAck(init, from, r.sourcePort, { localTag: randomTag(), localInitialTsn: randomTag(), localTieTag: 0, peerTieTag: 0 }, from);
  }

  /** §5.1.5: a COOKIE ECHO without a TCB. */
  #onCookieEcho(r: PacketReader, from: PeerTransport): void {
    const verdict = this.openCookie(r.chunk(0).subarray(4));
    if (!verdict.ok) {
      this.stats.cookiesRejected++;
      return; // step 2: silently discarded
    }
    const c = verdict.cookie;
    // The cookie binds the tag, the ports and the peer's source address.
    if (r.verificationTag !== c.localTag || c.peerPort !== r.sourcePort || c.localPort !== this.port || c.peerAddresses[0] !== from.address) {
      this.stats.cookiesRejected++;
      return;
    }
    if (verdict.stalenessMs > 0) {
      // step 3: "Stale Cookie" ERROR, the packet discarded.
      this.stats.cookiesRejected++;
      this.#sendSingle(from, r.sourcePort, c.peerTag, ChunkType.ERROR, 0, [staleCookieCause(verdict.stalenessMs)]);
      return;
    }
    if (this.#associations.size >= this.options.maxAssociations) {
      this.stats.associationsRejected++;
      this.#sendSingle(from, r.sourcePort, c.peerTag, ChunkType.ABORT, 0, [errorCause(ErrorCauseCode.OUT_OF_RESOURCE)]);
      return;
    }
    const association = this.#associateFromCookie(c, from, r.sourcePort);
    if (association !== undefined && r.count > 1) association.receive(r, from, 1, true);
  }

  #associateFromCookie(c: StateCookie, from: PeerTransport, peerPort: number): StackAssociation | undefined {
    const remote: RemoteAddress = { address: from.address, port: peerPort, ...(from.udpPort !== undefined ? { udpPort: from.udpPort } : {}) };
    const association = new StackAssociation(this, remote);
    this.#associations.add(association);
    try {
      association.startFromCookie(c, from);
      this.emit('association', association);
      association.announceUp();
    } catch (error) {
      this.stats.internalErrors++;
      association.failed(error);
      return undefined;
    }
    return association;
  }

  #sendSingle(to: PeerTransport, peerPort: number, vtag: number, type: number, flags: number, causes: Uint8Array[] | undefined): void {
    const w = this.writer;
    w.begin(this.port, peerPort, vtag, 0xffff);
    if (causes) w.addCauses(type, flags, causes);
    else w.addEmpty(type, flags);
    this.lower.send(w.finish(), to);
  }
}

/**
 * An association's peers: address and SCTP port (RFC 9260 §1.4), and in udp mode also the
 * peer's UDP encapsulation port. RFC 6951 §5.4 looks up by address and SCTP port alone and then
 * follows the UDP port; keying by it as well lets several SCTP stacks on one host share an SCTP
 * port on distinct UDP ports (registrars of a scope on one machine, as RSPLIB's sctplib cannot),
 * at the price that a peer whose UDP port changes (NAT rebinding) is a new peer and associates anew.
 * By address first, then by the two ports as one number: no key string is built per packet.
 */
class PeerTable {
  readonly #byAddress = new Map<string, Map<number, StackAssociation>>();

  static #ports(port: number, udpPort: number | undefined): number {
    return port * 0x10000 + (udpPort ?? 0);
  }

  get(address: string, port: number, udpPort: number | undefined): StackAssociation | undefined {
    return this.#byAddress.get(address)?.get(PeerTable.#ports(port, udpPort));
  }

  set(address: string, port: number, udpPort: number | undefined, association: StackAssociation): void {
    let ports = this.#byAddress.get(address);
    if (ports === undefined) {
      ports = new Map();
      this.#byAddress.set(address, ports);
    }
    ports.set(PeerTable.#ports(port, udpPort), association);
  }

  /** Forgets the entry if `association` owns it. */
  delete(address: string, port: number, udpPort: number | undefined, association: StackAssociation): void {
    const ports = this.#byAddress.get(address);
    if (ports === undefined) return;
    const k = PeerTable.#ports(port, udpPort);
    if (ports.get(k) !== association) return;
    ports.delete(k);
    if (ports.size === 0) this.#byAddress.delete(address);
  }
}

/** The canonical text of an IP literal (as addresses from INIT are written), or undefined. */
function canonicalAddress(address: string): string | undefined {
  const raw = parseAddress(address);
  if (raw === null || (raw.length !== 4 && raw.length !== 16)) return undefined;
  return addressToString(raw);
}
