// Registrar settings, with RSPLIB's defaults (shared/notes/rsplib-facts.md) where it has one.
import { availableParallelism } from 'node:os';
import { ASAP_ANNOUNCE_GROUP, DEFAULT_ANNOUNCE_TTL, type MulticastGroup } from '../transport/index.js';
import { PORT_ASAP, PORT_SCTP_OVER_UDP } from '../wire/constants.js';

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
  };
}
