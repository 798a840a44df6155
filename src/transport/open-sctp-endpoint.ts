// Factory: pick the mode and open a listening endpoint of our SCTP stack (src/sctp/, RFC 9260)
// on a lower layer of raw IP or UDP (RFC 6951).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { SctpEndpoint, SctpMode } from './sctp-provider.js';
import { PORT_SCTP_OVER_UDP } from '../wire/constants.js';
import { SctpStackEndpoint, type Clock, type LowerLayer, type SctpStackOptions } from '../sctp/index.js';
import { RawLowerLayer, IPPROTO_SCTP } from '../sctp/raw-lower-layer.js';
import { UdpLowerLayer } from '../sctp/udp-lower-layer.js';

const require = createRequire(import.meta.url);

/** Protocol parameters and limits of one endpoint (RFC 9260 §15; src/sctp/options.ts has the defaults). */
export type SctpProtocolOptions = Omit<SctpStackOptions, 'log'>;

export interface OpenSctpEndpointOptions {
  /** Local SCTP port. */
  port: number;
  /** 'auto' (default): raw when a raw SCTP socket opens and the kernel has no SCTP, else udp. */
  mode?: SctpMode | 'auto';
  /** Local address(es), IPv4 and/or IPv6 literals; default the wildcard. */
  address?: string | readonly string[];
  /** Same as `address` (both may be given; the lists are merged). */
  addresses?: readonly string[];
  /**
   * Bound to the wildcard: the addresses to list in INIT/INIT ACK (RFC 9260 §5.1.2), those this
   * host is reached at; default none (the peer then knows only the source address).
   */
  advertisedAddresses?: readonly string[];
  /** Local UDP encapsulation port (udp mode); default 9899 (RFC 6951 §5.1); 0 picks one. */
  udpPort?: number;
  /** UDP port of peers that do not say theirs; default 9899. */
  remoteUdpPort?: number;
  /** Streams we offer (MIS) and ask for (OS). */
  inboundStreams?: number;
  outboundStreams?: number;
  /** send() returns false above this many bytes queued. */
  highWaterMark?: number;
  /** Limits against hostile peers (see SctpStackOptions). */
  maxSendQueueBytes?: number;
  maxAssociations?: number;
  maxInboundStreams?: number;
  maxReassemblyBytes?: number;
  /**
   * Protocol parameters (RTO bounds, HB.interval, Association.Max.Retrans...) of this endpoint
   * and the ports it opens.
   */
  protocol?: SctpProtocolOptions;
  /** Time source of the stack (tests); default the system clock. */
  clock?: Clock;
  /** Where the mode decision and stack diagnostics are reported; default: nowhere. */
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

/** Every local address given, checked and without duplicates; empty for the wildcard. */
export function localAddresses(options: Pick<OpenSctpEndpointOptions, 'address' | 'addresses'>): string[] {
  const given = [...(typeof options.address === 'string' ? [options.address] : (options.address ?? [])), ...(options.addresses ?? [])];
  const out: string[] = [];
  for (const a of given) {
    if (isIP(a) === 0) throw new TypeError(`local address ${a} is not an IPv4 or IPv6 literal`);
    if (!out.includes(a)) out.push(a);
  }
  // The one wildcard alone means what no address means: every address of both families.
  return out.length === 1 && out[0] === '0.0.0.0' ? [] : out;
}

export async function openSctpEndpoint(options: OpenSctpEndpointOptions): Promise<SctpEndpoint> {
  let mode: SctpMode;
  if (options.mode === undefined || options.mode === 'auto') {
    const decision = chooseSctpMode();
    mode = decision.mode;
    options.log?.(`SCTP: ${mode} mode (${decision.reason})`);
  } else {
    mode = options.mode;
    options.log?.(`SCTP: ${mode} mode (configured)`);
  }
  const addresses = localAddresses(options);

  const stackOptions: SctpStackOptions = { ...options.protocol };
  for (const key of ['inboundStreams', 'outboundStreams', 'highWaterMark', 'maxSendQueueBytes', 'maxAssociations', 'maxInboundStreams', 'maxReassemblyBytes'] as const) {
    if (options[key] !== undefined) stackOptions[key] = options[key];
  }
  if (options.log !== undefined) stackOptions.log = options.log;
  let endpoint: SctpStackEndpoint | undefined;
  // A socket error after start-up goes to the endpoint's 'error' listeners, if it has any.
  const onError = (error: Error): void => {
    if (endpoint !== undefined && endpoint.listenerCount('error') > 0) endpoint.emit('error', error);
    else options.log?.(`SCTP lower layer: ${error.message}`);
  };
  let lower: LowerLayer;
  if (mode === 'raw') {
    const raw = RawLowerLayer.open({ addresses, onError });
    try {
      // The host-wide claim, race-free before bind() (another process may hold the port).
      await raw.claim(options.port);
    } catch (error) {
      await raw.close();
      throw error;
    }
    lower = raw;
  } else {
    lower = await UdpLowerLayer.open({
      addresses,
      udpPort: options.udpPort ?? PORT_SCTP_OVER_UDP,
      remoteUdpPort: options.remoteUdpPort ?? PORT_SCTP_OVER_UDP,
      onError,
    });
  }
  try {
    endpoint = SctpStackEndpoint.open(lower, {
      ...stackOptions,
      port: options.port,
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
      ...(options.advertisedAddresses !== undefined ? { advertisedAddresses: options.advertisedAddresses } : {}),
    });
  } catch (error) {
    lower.unbind(options.port);
    await lower.close();
    throw error;
  }
  return endpoint;
}
