// The list of registrars ("ENRP servers") an ASAP endpoint knows (RFC 5352 §3.6): configured
// ones, which never expire, and ones heard in ASAP_SERVER_ANNOUNCE, each kept for
// T7-ENRPoutdate after its last announce.
import { AsapType, ParamType } from '../wire/constants.js';
import { addressToString } from '../wire/address.js';
import { decodeMessage } from '../wire/decode.js';
import { PORT_SCTP_OVER_UDP } from '../wire/constants.js';

/** Where a registrar's ASAP endpoint is. `udpPort` matters for SCTP over UDP (RFC 6951). */
export interface RegistrarAddress {
  address: string;
  port: number;
  udpPort?: number | undefined;
}

export interface KnownRegistrar {
  readonly key: string;
  readonly remote: RegistrarAddress;
  /** Server ID when an announce named it. */
  serverId: number | null;
  readonly configured: boolean;
  /** When an announced entry is forgotten (performance.now() clock); Infinity if configured. */
  expiresAt: number;
  /** Last time the hunt tried it, and last time it failed (0: never). */
  lastTried: number;
  lastFailed: number;
}

const now = (): number => performance.now();

/**
 * Announced registrars kept at most (announces are unauthenticated multicast: a flood of them
 * listing made-up addresses must not grow the table without bound); configured ones don't count.
 */
export const MAX_ANNOUNCED_REGISTRARS = 256;

/** fe80::/10: meaningless without the interface (scope) it was heard on, which an announce lacks. */
function isLinkLocalIpv6(a: Uint8Array): boolean {
  return a.length === 16 && a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

export class RegistrarTable {
  readonly #entries = new Map<string, KnownRegistrar>();

  constructor(
    /** T7-ENRPoutdate (RFC 5352 §7.1). */
    private readonly outdateMs: number,
    /** UDP encapsulation port of registrars whose announce cannot say (RFC 6951 §7: 9899). */
    private readonly defaultUdpPort: number | undefined = PORT_SCTP_OVER_UDP,
    /**
     * The transport parameter type taken from announces: SCTP, or TCP for a client that
     * reaches registrars over TLS (a secured registrar announces its TLS port as a TCP
     * transport, RFC 5352 §2.2.10 allowing SCTP and TCP ones).
     */
    private readonly announcedTransport: number = ParamType.SctpTransport,
  ) {}

  get size(): number {
    this.#purge(now());
    return this.#entries.size;
  }

  entries(): KnownRegistrar[] {
    this.#purge(now());
    return [...this.#entries.values()];
  }

  static key(r: RegistrarAddress): string {
    return `${r.address}:${r.port}/${r.udpPort ?? ''}`;
  }

  get(remote: RegistrarAddress): KnownRegistrar | undefined {
    return this.#entries.get(RegistrarTable.key(remote));
  }

  addConfigured(remote: RegistrarAddress): KnownRegistrar {
    const key = RegistrarTable.key(remote);
    const existing = this.#entries.get(key);
    const entry: KnownRegistrar = {
      key,
      remote: { ...remote },
      serverId: existing?.serverId ?? null,
      configured: true,
      expiresAt: Number.POSITIVE_INFINITY,
      lastTried: existing?.lastTried ?? 0,
      lastFailed: existing?.lastFailed ?? 0,
    };
    this.#entries.set(key, entry);
    return entry;
  }

  /**
   * An ASAP_SERVER_ANNOUNCE datagram from `from` (RFC 5352 §3.6): inserts new transport
   * addresses, restarts T7 of known ones. The registrar announces every address it has, IPv4
   * and IPv6 (RFC 5352 §2.2.10: an SCTP transport parameter lists them all); each becomes an
   * entry, IPv4 ones first (the hunt tries entries in table order among equals, and IPv6 is the
   * second choice where both work). Link-local IPv6 addresses are skipped (no scope).
   * Without transport parameters (RSPLIB's form) the UDP source address and port are the
   * registrar's SCTP address and ASAP port. Returns the number of registrars not known before,
   * or -1 if the datagram is no usable announce.
   */
  heardAnnounce(datagram: Uint8Array, from: { address: string; port: number }): number {
    const result = decodeMessage('asap', datagram);
    if (!result.ok || result.discard) return -1;
    const m = result.message;
    if (m.protocol !== 'asap' || m.type !== AsapType.ServerAnnounce) return -1;
    const v4: RegistrarAddress[] = [];
    const v6: RegistrarAddress[] = [];
    for (const t of m.transports) {
      // §2.2.10: only SCTP and TCP transports appear; this client speaks the one it was made for.
      if (t.type !== this.announcedTransport) continue;
      const udpPort = t.type === ParamType.SctpTransport ? this.defaultUdpPort : undefined;
      for (const a of t.addresses) {
        if (a.length === 4) v4.push({ address: addressToString(a), port: t.port, udpPort });
        else if (a.length === 16 && !isLinkLocalIpv6(a)) v6.push({ address: addressToString(a), port: t.port, udpPort });
      }
    }
    const remotes = [...v4, ...v6];
    if (m.transports.length === 0 && this.announcedTransport === ParamType.SctpTransport) remotes.push({ address: from.address, port: from.port, udpPort: this.defaultUdpPort });
    let added = 0;
    const t = now();
    let announced = -1;
    for (const remote of remotes) {
      const key = RegistrarTable.key(remote);
      const entry = this.#entries.get(key);
      if (entry !== undefined) {
        entry.serverId = m.serverId;
        if (!entry.configured) entry.expiresAt = t + this.outdateMs;
        continue;
      }
      if (announced < 0) {
        this.#purge(t);
        announced = 0;
        for (const e of this.#entries.values()) if (!e.configured) announced++;
      }
      if (announced >= MAX_ANNOUNCED_REGISTRARS) continue;
      this.#entries.set(key, { key, remote, serverId: m.serverId, configured: false, expiresAt: t + this.outdateMs, lastTried: 0, lastFailed: 0 });
      announced++;
      added++;
    }
    return added;
  }

  /** Server ID of the registrar at this address, if an announce named it. */
  serverIdOf(remote: RegistrarAddress): number | null {
    return this.#entries.get(RegistrarTable.key(remote))?.serverId ?? null;
  }

  markFailed(remote: RegistrarAddress): void {
    const entry = this.#entries.get(RegistrarTable.key(remote));
    if (entry !== undefined) entry.lastFailed = now();
  }

  /**
   * Up to `max` registrars to try next (RFC 5352 §3.6 SH1, SH5.2: a different set each
   * round): those that failed least recently first, then those tried least recently.
   * The chosen ones are marked tried.
   */
  candidates(max: number): KnownRegistrar[] {
    const t = now();
    this.#purge(t);
    const all = [...this.#entries.values()];
    all.sort((a, b) => a.lastFailed - b.lastFailed || a.lastTried - b.lastTried);
    const chosen = all.slice(0, max);
    for (const c of chosen) c.lastTried = t;
    return chosen;
  }

  #purge(t: number): void {
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= t) this.#entries.delete(key);
  }
}
