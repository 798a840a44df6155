// Factory: pick the SCTP provider mode and open a listening endpoint.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { RawSctpEndpoint } from './raw-endpoint.js';
import { UdpSctpEndpoint } from './udp-encapsulation.js';
import { setProtocolParameters } from './sctp-package.js';
import type { SctpProtocolParameters } from './sctp-package.js';
import type { SctpEndpoint, SctpMode } from './sctp-provider.js';
import type { UdpSctpEndpointOptions } from './udp-encapsulation.js';
import { PORT_SCTP_OVER_UDP } from '../wire/constants.js';

const require = createRequire(import.meta.url);

/** IPPROTO_SCTP (IANA protocol numbers). */
const IPPROTO_SCTP = 132;

/** The UDP endpoint's options (the raw endpoint uses those without the UDP ports), and: */
export interface OpenSctpEndpointOptions extends UdpSctpEndpointOptions {
  /** 'auto' (default): raw when a raw SCTP socket opens and the kernel has no SCTP, else udp. */
  mode?: SctpMode | 'auto';
  /**
   * SCTP protocol parameters (RTO, heartbeat interval, Association.Max.Retrans...).
   * Process-wide in the `sctp` package: they apply to associations created afterwards.
   */
  protocol?: SctpProtocolParameters;
  /** Where the mode decision is reported; default: nowhere. */
  log?: (message: string) => void;
}

export interface ModeDecision {
  mode: SctpMode;
  reason: string;
}

/**
 * Decide between raw IP and SCTP over UDP. Node cannot open socket(AF_INET,
 * SOCK_STREAM, IPPROTO_SCTP) to probe for kernel SCTP, so /proc/net/sctp (present
 * while the sctp module is loaded) stands for it: with kernel SCTP, the kernel would
 * answer our raw SCTP packets with ABORTs.
 */
export function chooseSctpMode(): ModeDecision {
  if (existsSync('/proc/net/sctp')) {
    return { mode: 'udp', reason: 'kernel SCTP is loaded (/proc/net/sctp exists); it would answer raw SCTP packets' };
  }
  let raw: { createSocket(options: { protocol: number }): { close(): void } };
  try {
    raw = require('raw-socket') as typeof raw;
  } catch (error) {
    return { mode: 'udp', reason: `raw-socket addon unavailable (${(error as Error).message.split('\n')[0]})` };
  }
  try {
    raw.createSocket({ protocol: IPPROTO_SCTP }).close();
  } catch (error) {
    return { mode: 'udp', reason: `cannot open a raw SCTP socket (needs root or CAP_NET_RAW): ${(error as Error).message}` };
  }
  return { mode: 'raw', reason: 'raw SCTP socket opened and no kernel SCTP present' };
}

export async function openSctpEndpoint(options: OpenSctpEndpointOptions): Promise<SctpEndpoint> {
  if (options.protocol) setProtocolParameters(options.protocol);
  let mode: SctpMode;
  if (options.mode === undefined || options.mode === 'auto') {
    const decision = chooseSctpMode();
    mode = decision.mode;
    options.log?.(`SCTP provider: ${mode} mode (${decision.reason})`);
  } else {
    mode = options.mode;
    options.log?.(`SCTP provider: ${mode} mode (configured)`);
  }
  const common = {
    port: options.port,
    ...(options.address !== undefined ? { address: options.address } : {}),
    ...(options.inboundStreams !== undefined ? { inboundStreams: options.inboundStreams } : {}),
    ...(options.outboundStreams !== undefined ? { outboundStreams: options.outboundStreams } : {}),
    ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
  };
  if (mode === 'raw') return RawSctpEndpoint.open(common);
  return UdpSctpEndpoint.open({
    ...common,
    udpPort: options.udpPort ?? PORT_SCTP_OVER_UDP,
    remoteUdpPort: options.remoteUdpPort ?? PORT_SCTP_OVER_UDP,
  });
}
