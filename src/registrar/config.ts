// Registrar settings, with RSPLIB's defaults (shared/notes/rsplib-facts.md) where it has one.
import { isIP } from 'node:net';
import { availableParallelism, networkInterfaces } from 'node:os';
import { ASAP_ANNOUNCE_GROUP, DEFAULT_ANNOUNCE_TTL, ENRP_PRESENCE_GROUP, type MulticastGroup } from '../transport/index.js';
import { PORT_ASAP, PORT_ASAP_TLS, PORT_ENRP, PORT_SCTP_OVER_UDP } from '../wire/constants.js';
import { defaultSubscriptionSettings } from '../shard/subscriptions.js';
import { DEFAULT_DASHBOARD_CLIENTS, DEFAULT_DASHBOARD_INTERVAL } from './dashboard.js';
import { DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS, DEFAULT_CONTROL_HEAD_TIMEOUT_MS, DEFAULT_CONTROL_MAX_CONNECTIONS, DEFAULT_CONTROL_PROBE_RESERVE, DEFAULT_CONTROL_RESPONSE_TIMEOUT_MS } from './control-connections.js';

/** A peer registrar given by configuration (RFC 5353 §3.2.2.1 "administrative means"). */
export interface StaticPeer {
  address: string;
  /** SCTP port of its ENRP endpoint (RFC 5353 §5.3: 9901). */
  port: number;
  /** Its UDP encapsulation port in udp mode; default `peerUdpPort`. */
  udpPort?: number;
}

export interface RegistrarConfig {
  /** Server ID (RFC 5353 §2.1); 0 picks a random non-zero one at start. */
  registrarId: number;
  /**
   * Addresses to bind and to announce (IPv4 and IPv6 literals; `--address`, repeatable): the
   * ASAP and ENRP endpoints use all of them (SCTP multi-homing, RFC 9260 §6.4), and
   * ASAP_SERVER_ANNOUNCE and ENRP Server Information list all of them (advertisedAddresses).
   * Empty, or only '0.0.0.0': bind all and announce every IPv4 address of the host; '::':
   * every IPv4 and IPv6 address.
   */
  addresses: string[];
  /** Shorthand for `addresses: [address]` (embedders, tests); `addresses` wins when both are given. */
  address?: string;
  /** SCTP port of the ASAP endpoint (RFC 5352 §8: 3863). */
  asapPort: number;
  /** SCTP provider: raw IP, SCTP over UDP (RFC 6951), or auto. */
  transport: 'raw' | 'udp' | 'auto';
  /** UDP encapsulation port in udp mode (RFC 6951 §7: 9899). */
  udpPort: number;
  /** Shard worker threads owning handlespace partitions. */
  shards: number;
  /** Keep-alive transmission interval and timeout, ms (RSPLIB 5 s / 5 s). */
  keepAliveInterval: number;
  keepAliveTimeout: number;
  /** ENDPOINT_UNREACHABLE reports that remove a PE (RFC 5352 §3.5 MAX-BAD-PE-REPORT). */
  maxBadPeReports: number;
  /** Handle resolution items when a request does not say, and the cap (≤ 128). */
  handleResolutionItems: number;
  maxHandleResolutionItems: number;
  /** ASAP_SERVER_ANNOUNCE on the multicast channel (RFC 5352 §3.6). */
  announce: boolean;
  announceGroup: MulticastGroup;
  announceInterval: number;
  announceTtl: number;
  logLevel: string;
  /**
   * TCP port of the operators' control channel on 127.0.0.1 (src/registrar/control.ts);
   * 0 or absent: off. `rserpool registrar` turns it on at 3870 by default.
   */
  controlPort?: number;
  /** Address of the control channel (default 127.0.0.1); any other than loopback needs controlTokenFile. */
  controlAddress?: string;
  /** File holding the control channel's bearer token (one word, ≥ 16 characters; e.g. `openssl rand -hex 32`). */
  controlTokenFile?: string;
  /** Control channel over HTTPS: its certificate (PEM); needs controlTlsKey (src/registrar/control-tls.ts). */
  controlTlsCert?: string;
  /** Private key (PEM, unencrypted) of controlTlsCert. */
  controlTlsKey?: string;
  /** CA (PEM) whose client certificates the HTTPS control channel requires (mutual TLS; the probes excepted). */
  controlTlsCa?: string;
  /** HTTP connections the control channel holds at once (dashboard streams included); beyond, new ones wait in the kernel's backlog. */
  controlMaxConnections: number;
  /** Control connections one source address holds at once (default 16; beyond: the probe reserve only). */
  controlMaxConnectionsPerAddress?: number;
  /** Control connections kept for /health and /ready beyond the caps (default 8). */
  controlProbeReserve?: number;
  /** A control request head must arrive within this, ms, from the connection or the previous answer (default 10 s). */
  controlHeadTimeout?: number;
  /** A control response (but the dashboard's event stream) that makes no progress this long is cut, ms (default 30 s). */
  controlResponseTimeout?: number;
  /**
   * Live dashboard on the control channel (src/registrar/dashboard.ts): browsers watching it
   * at once (server-sent event streams; beyond: 503), and its update interval, ms.
   */
  dashboardClients: number;
  dashboardInterval: number;
  // ---------------------------------------------------------------- ENRP (RFC 5353)
  /** SCTP port of the ENRP endpoint (RFC 5353 §5.3: 9901); shares the UDP socket in udp mode. */
  enrpPort: number;
  /** Peers to contact at start; more are learned from presences and list responses. */
  peers: StaticPeer[];
  /** ENRP_PRESENCE on the multicast channel, and listening to it (RFC 5353 §3.1). */
  enrpAnnounce: boolean;
  enrpGroup: MulticastGroup;
  /** UDP encapsulation port assumed for peers whose port is not known otherwise (RFC 6951: 9899). */
  peerUdpPort: number;
  /**
   * UDP encapsulation port of PEs reached at their ASAP transport after a takeover (the
   * transport parameter carries no UDP port; RFC 6951 §5.1 default 9899).
   */
  peUdpPort: number;
  /** PEER-HEARTBEAT-CYCLE, MAX-TIME-LAST-HEARD, MAX-TIME-NO-RESPONSE (RFC 5353 §4.2), ms. */
  peerHeartbeatCycle: number;
  maxTimeLastHeard: number;
  maxTimeNoResponse: number;
  /** How long a starting registrar looks for a mentor before serving alone, ms. */
  mentorDiscoveryTimeout: number;
  /** How long a takeover waits for INIT_TAKEOVER_ACKs before it proceeds, ms. */
  takeoverExpiry: number;
  /** PEs per ENRP_HANDLE_TABLE_RESPONSE, and a byte cap per response (0: none; RSPLIB ~1400). */
  maxHandleTableElements: number;
  maxHandleTableBytes: number;
  // ------------------------------------------------- limits (everything from the network is hostile)
  /**
   * Bytes queued plus unacknowledged per association (SCTP send-queue limit): what does not fit
   * is dropped and counted (stats answersDropped, enrp.messagesDropped), so a peer that never
   * acknowledges holds at most this much of our memory.
   */
  maxSendQueueBytes: number;
  /** An association over its send-queue limit this long (no acknowledgement freed room) is aborted, ms. */
  sendQueueTimeout: number;
  /** Associations per SCTP endpoint (ASAP and ENRP each); further INITs are refused. */
  maxAssociations: number;
  /** Associations we start to PEs' ASAP transports (takeover, warm restart keep-alives) open at a time; beyond: refused (the PE times out). */
  maxPeAssociations: number;
  /** Associations started to PEs per second; beyond it the keep-alive waits (src/registrar/pe-association-gate.ts). */
  peAssociationRate: number;
  /** Inbound streams an association may have (RFC 9260 §5.1.1 MIS cap). */
  maxInboundStreams: number;
  /** Bytes an association may hold for reassembly and ordering; DATA beyond it is dropped, not acknowledged. */
  maxReassemblyBytes: number;
  // ------------------------------------------- who may change what (RFC 5355 §5-6, issue 11)
  /** PEs one association may have registered at a time (beyond: Lack of Resources). */
  maxElementsPerAssociation: number;
  /** PEs in one pool (beyond: Lack of Resources). */
  maxElementsPerPool: number;
  /** PEs in the whole handlespace, own and peers' (beyond: Lack of Resources). */
  maxElements: number;
  /**
   * PEs one peer registrar may be home of, per shard (--max-pes-per-peer): its ENRP updates and
   * table pages beyond it are dropped and counted (peerLimitRefused), so one peer cannot fill
   * --max-pes.
   */
  maxElementsPerPeer: number;
  /**
   * Accept a PE's user transport naming addresses that are not its association's peer
   * addresses (NAT, separate data networks). Off: such a registration is rejected.
   */
  allowForeignAddresses: boolean;
  // ------------------------------------------- handlespace snapshot, warm restart (issue 13)
  /**
   * Snapshot file (src/snapshot/): loaded at start (own PEs get a keep-alive with the H bit,
   * those that do not answer are removed), written every snapshotInterval and at close; null: none.
   */
  snapshot: string | null;
  /** Period of the snapshot writes, ms (0: only at close). */
  snapshotInterval: number;
  /**
   * ms of each shard's event-loop turn spent restoring the start snapshot in the background
   * while serving (a pool asked for first is restored at once); 0: all of it before serving.
   */
  snapshotRestoreSlice: number;
  // ------------------------------------------- subscriptions (RFC 5352 §2.2.5-2.2.6, issue 15)
  /** Pool changes within this many ms make one update to each subscribed pool user. */
  subscriptionInterval: number;
  /** Pools one association may subscribe to (per shard; beyond: answered without the A bit). */
  maxSubscriptionsPerAssociation: number;
  /** Pool users subscribed to one pool (beyond: answered without the A bit). */
  maxSubscriptionsPerPool: number;
  /**
   * RSPLIB's takeover suggestion (T flag on ENRP_HANDLE_UPDATE, src/registrar/takeover-suggestion.ts):
   * suggest each own PE to the peer with the largest ID XOR PE ID, and become the home of PEs
   * suggested to us. Off by default (as in RSPLIB).
   */
  takeoverSuggestion: boolean;
  /**
   * Token-bucket rates per association, messages per second (the bucket holds one second's
   * worth); beyond: the message is dropped and counted. 0: unlimited.
   */
  registrationRate: number;
  resolutionRate: number;
  unreachableReportRate: number;
  /**
   * Networks (CIDR, IPv4 or IPv6) whose ENRP is heard; empty: any (an open scope, which trusts
   * its network). With --peer, a closed scope: ENRP from anywhere else is ignored and counted.
   */
  enrpAllow: string[];
  /** Takeovers this registrar starts per MAX-TIME-LAST-HEARD interval, at most. */
  maxTakeoversPerInterval: number;
  /** ENRP peers at most (a real scope has a handful); beyond, new ones are ignored and counted (peersRefused). */
  maxPeers: number;
  // ------------------------------------ ASAP over TCP and TLS (RFC 5352 §6, issue 12)
  /**
   * TCP port of plain ASAP (IANA asap-tcp 3863; not in the way of SCTP's 3863 nor UDP 9899);
   * 0 or absent: off. `rserpool registrar` serves it on 3863 by default.
   */
  tcpPort?: number;
  /** A taken tcpPort is logged and skipped instead of ending the start (the CLI's default port, not one asked for). */
  tcpPortOptional?: boolean;
  /** TCP port of ASAP over TLS (IANA asap-tcp-tls 3864); served when tlsPsk or tlsCert is given; 0: off. */
  tlsPort: number;
  /** PSK file, one `identity:hex-key` a line; certificate, its key, and the CA clients' certificates chain to (PEM files). */
  tlsPsk?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  /** A TLS handshake not complete this long after the connection is cut, ms. */
  tlsHandshakeTimeout: number;
  /** A TCP/TLS association without a byte either way this long is closed, ms (0: never). */
  streamIdleTimeout: number;
  /** Largest ASAP message a TCP/TLS peer may send (≤ 65,535); a larger Message Length aborts it. */
  maxStreamMessageBytes: number;
  /**
   * A secured registrar (RFC 5352 §9.3): ASAP not over TLS is refused (registrations with
   * Rejected due to Security Considerations), and so is ENRP not over TLS (src/registrar/tls-authorization.ts).
   */
  tlsOnly: boolean;
  /** PSK identities and certificate CNs → the pool handles they may register under (src/registrar/tls-authorization.ts). */
  tlsPoolMap?: string;
  /**
   * TCP port of ENRP over TLS (9902, RFC 5353 §6 with the --tls-* files): given, the scope speaks
   * ENRP over TLS and ENRP over SCTP is refused; absent: ENRP over SCTP, unless tlsOnly (then 9902).
   */
  enrpTlsPort?: number;
  /** With ENRP over TLS: file of the server IDs each credential may speak for (src/registrar/enrp-server-ids.ts); absent: any. */
  enrpTlsServerIds?: string;
}

/**
 * Shard workers by default: one per core but one, at least one. The I/O thread (all SCTP work)
 * needs a core of its own; each further shard adds a batch per turn, an isolate that compiles
 * and collects on its own, and a thread contending for the cores. Measured on 2 cores (issue
 * 14, docs/benchmarks.md "Shard default"): registrar CPU per registration 44 µs with 1 shard,
 * 58 with 2, 78 with 4.
 */
export function defaultShardCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

export function defaultRegistrarConfig(): RegistrarConfig {
  return {
    registrarId: 0,
    addresses: [],
    asapPort: PORT_ASAP,
    transport: 'auto',
    udpPort: PORT_SCTP_OVER_UDP,
    shards: defaultShardCount(),
    keepAliveInterval: 5000,
    keepAliveTimeout: 5000,
    maxBadPeReports: 3,
    handleResolutionItems: 3,
    maxHandleResolutionItems: 128,
    announce: true,
    announceGroup: ASAP_ANNOUNCE_GROUP,
    announceInterval: 1000,
    announceTtl: DEFAULT_ANNOUNCE_TTL,
    logLevel: process.env.LOG_LEVEL ?? 'info',
    // A few operators' browsers; each gets one bounded update per interval.
    dashboardClients: DEFAULT_DASHBOARD_CLIENTS,
    dashboardInterval: DEFAULT_DASHBOARD_INTERVAL,
    controlMaxConnections: DEFAULT_CONTROL_MAX_CONNECTIONS,
    controlMaxConnectionsPerAddress: DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS,
    controlProbeReserve: DEFAULT_CONTROL_PROBE_RESERVE,
    controlHeadTimeout: DEFAULT_CONTROL_HEAD_TIMEOUT_MS,
    controlResponseTimeout: DEFAULT_CONTROL_RESPONSE_TIMEOUT_MS,
    enrpPort: PORT_ENRP,
    peers: [],
    enrpAnnounce: true,
    enrpGroup: ENRP_PRESENCE_GROUP,
    peerUdpPort: PORT_SCTP_OVER_UDP,
    peUdpPort: PORT_SCTP_OVER_UDP,
    // RSPLIB's defaults (shared/notes/rsplib-facts.md); RFC 5353 §4.2 says 30 s / 61 s / 5 s.
    peerHeartbeatCycle: 2440,
    maxTimeLastHeard: 5000,
    maxTimeNoResponse: 5000,
    mentorDiscoveryTimeout: 5000,
    takeoverExpiry: 5000,
    maxHandleTableElements: 128,
    maxHandleTableBytes: 0,
    // An answer is at most a few KiB (a handle resolution response with 128 PEs); 1 MiB holds
    // some 1,700 answers of 610 bytes, far more than a client that acknowledges ever leaves
    // unacknowledged. Worst case held by hostile peers: maxAssociations × maxSendQueueBytes
    // for sendQueueTimeout, then they are aborted.
    maxSendQueueBytes: 1024 * 1024,
    sendQueueTimeout: 10_000,
    maxAssociations: 10_000,
    // A takeover of a peer with PE processes on distinct ports: one association each. 1,000 INITs
    // a second start 10,000 within the default keep-alive timeout's few seconds of slack.
    maxPeAssociations: 10_000,
    peAssociationRate: 1_000,
    maxInboundStreams: 2048,
    // ASAP and ENRP messages are at most 65,535 bytes (16-bit Message Length, RFC 5352 §2,
    // RFC 5353 §2): four of them fit.
    maxReassemblyBytes: 256 * 1024,
    // A PE registers one PE ID per association (RSPLIB, our client); proxies registering many
    // raise it. Totals sized for a large deployment: 1,000,000 PEs take ~730 MiB (docs/benchmarks.md).
    maxElementsPerAssociation: 100,
    maxElementsPerPool: 100_000,
    maxElements: 1_000_000,
    maxElementsPerPeer: 100_000,
    allowForeignAddresses: false,
    snapshot: null,
    snapshotInterval: 60_000,
    snapshotRestoreSlice: 4,
    // A PU subscribes to the few pools it uses; a pool's subscribers are its long-running users.
    subscriptionInterval: defaultSubscriptionSettings.interval,
    maxSubscriptionsPerAssociation: defaultSubscriptionSettings.maxPerAssociation,
    maxSubscriptionsPerPool: defaultSubscriptionSettings.maxPerPool,
    takeoverSuggestion: false,
    // A PE re-registers every few seconds at most, a PU resolves per session or failover: these
    // are 2-3 orders of magnitude above what a well-behaved client sends.
    registrationRate: 100,
    resolutionRate: 10_000,
    unreachableReportRate: 100,
    enrpAllow: [],
    maxTakeoversPerInterval: 16,
    maxPeers: 1024,
    tlsPort: PORT_ASAP_TLS,
    tlsHandshakeTimeout: 10_000,
    // A PE sends keep-alive acks every few seconds; a PU that stays silent this long hunts again on its next request.
    streamIdleTimeout: 600_000,
    maxStreamMessageBytes: 0xffff,
    tlsOnly: false,
  };
}

/** The configured addresses: `addresses`, else the `address` shorthand; wildcards dropped (empty: bind all). */
export function bindAddresses(config: Pick<RegistrarConfig, 'addresses' | 'address'>): string[] {
  const list = config.addresses.length > 0 ? config.addresses : config.address !== undefined ? [config.address] : [];
  return list.filter((a) => !isWildcard(a));
}

/** '0.0.0.0' or '::' (any spelling of the IPv6 unspecified address). */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || (isIP(address) === 6 && /^[0:]+$/.test(address));
}

/**
 * The addresses a registrar tells others about (ASAP_SERVER_ANNOUNCE transport parameters,
 * ENRP Server Information, RFC 5354 §3.3): every configured address; for the wildcard, every
 * IPv4 address of the host, and with '::' configured its IPv6 addresses too (link-local ones
 * excepted: a transport parameter cannot carry their zone).
 */
export function advertisedAddresses(config: Pick<RegistrarConfig, 'addresses' | 'address'>): string[] {
  const bound = bindAddresses(config);
  if (bound.length > 0) return bound;
  const configured = config.addresses.length > 0 ? config.addresses : config.address !== undefined ? [config.address] : [];
  const withIpv6 = configured.some((a) => isIP(a) === 6);
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && (i.family === 'IPv4' || (withIpv6 && i.family === 'IPv6' && !i.address.toLowerCase().startsWith('fe80:'))))
    .map((i) => i!.address);
}
