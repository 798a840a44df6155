// Registrar settings, with RSPLIB's defaults (shared/notes/rsplib-facts.md) where it has one.
import { availableParallelism, networkInterfaces } from 'node:os';
import { ASAP_ANNOUNCE_GROUP, DEFAULT_ANNOUNCE_TTL, ENRP_PRESENCE_GROUP, type MulticastGroup } from '../transport/index.js';
import { PORT_ASAP, PORT_ENRP, PORT_SCTP_OVER_UDP } from '../wire/constants.js';

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
  /** Address to bind and to announce; 0.0.0.0 binds all and announces every IPv4 address. */
  address: string;
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
}

export function defaultRegistrarConfig(): RegistrarConfig {
  return {
    registrarId: 0,
    address: '0.0.0.0',
    asapPort: PORT_ASAP,
    transport: 'auto',
    udpPort: PORT_SCTP_OVER_UDP,
    shards: availableParallelism(),
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
  };
}

/** The IPv4 addresses a registrar bound to `address` tells others about (announces, Server Information). */
export function advertisedAddresses(address: string): string[] {
  if (address !== '0.0.0.0') return [address];
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && i.family === 'IPv4')
    .map((i) => i!.address);
}
