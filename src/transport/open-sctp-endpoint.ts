// Factory: pick the SCTP provider and mode, and open a listening endpoint.
// Providers: 'stack' (default), our own SCTP (src/sctp/, RFC 9260) on a lower layer of raw IP
// or UDP (RFC 6951); 'package', the patched `sctp` npm package, kept selectable until the
// benchmark comparison is recorded (then it goes, with patches/ and patch-package).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { RawSctpEndpoint } from './raw-endpoint.js';
import { UdpSctpEndpoint } from './udp-encapsulation.js';
import { setProtocolParameters, type SctpProtocolParameters } from './sctp-package.js';
import type { SctpEndpoint, SctpMode } from './sctp-provider.js';
import { PORT_SCTP_OVER_UDP } from '../wire/constants.js';
import { SctpStackEndpoint, type Clock, type LowerLayer, type SctpStackOptions } from '../sctp/index.js';
import { RawLowerLayer, IPPROTO_SCTP } from '../sctp/raw-lower-layer.js';
import { UdpLowerLayer } from '../sctp/udp-lower-layer.js';

const require = createRequire(import.meta.url);

export type SctpProvider = 'stack' | 'package';

/** Protocol parameters and limits of one endpoint (RFC 9260 §15; src/sctp/options.ts has the defaults). */
export type SctpProtocolOptions = Omit<SctpStackOptions, 'log'>;

export interface OpenSctpEndpointOptions {
  /** Local SCTP port. */
  port: number;
  /** 'auto' (default): raw when a raw SCTP socket opens and the kernel has no SCTP, else udp. */
  mode?: SctpMode | 'auto';
  /**
   * 'stack' (our own SCTP) or 'package' (the patched `sctp` package, IPv4 only); default the
   * environment's RSERPOOL_SCTP_PROVIDER, else 'stack'.
   */
  provider?: SctpProvider;
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
  /** Limits against hostile peers (stack only; see SctpStackOptions). */
  maxSendQueueBytes?: number;
  maxAssociations?: number;
  maxInboundStreams?: number;
  maxReassemblyBytes?: number;
  /**
   * Protocol parameters (RTO bounds, HB.interval, Association.Max.Retrans...) of this endpoint
   * and the ports it opens. With the 'package' provider they are process-wide and apply to
   * associations created afterwards.
   */
  protocol?: SctpProtocolOptions;
  /** Time source of the stack (tests); default the system clock. */
  clock?: Clock;
  /** Where the provider decision and stack diagnostics are reported; default: nowhere. */
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

/** The provider asked for, or the environment's, or 'stack'. */
export function sctpProvider(asked?: SctpProvider): SctpProvider {
  const chosen = asked ?? process.env.RSERPOOL_SCTP_PROVIDER ?? 'stack';
  if (chosen !== 'stack' && chosen !== 'package') throw new Error(`SCTP provider "${chosen}" is neither 'stack' nor 'package' (RSERPOOL_SCTP_PROVIDER)`);
  return chosen;
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
  const provider = sctpProvider(options.provider);
  let mode: SctpMode;
  if (options.mode === undefined || options.mode === 'auto') {
    const decision = chooseSctpMode();
    mode = decision.mode;
    options.log?.(`SCTP provider: ${provider}, ${mode} mode (${decision.reason})`);
  } else {
    mode = options.mode;
    options.log?.(`SCTP provider: ${provider}, ${mode} mode (configured)`);
  }
  const addresses = localAddresses(options);
  if (provider === 'package') return openPackageEndpoint(options, mode, addresses);

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

/** The stack's parameter names in the package's (`defs.NET_SCTP`). */
function packageParameters(p: SctpProtocolOptions): SctpProtocolParameters {
  const out: SctpProtocolParameters = {};
  const map: Array<[keyof SctpProtocolOptions, keyof SctpProtocolParameters]> = [
    ['rtoInitial', 'rto_initial'],
    ['rtoMin', 'rto_min'],
    ['rtoMax', 'rto_max'],
    ['maxBurst', 'max_burst'],
    ['associationMaxRetrans', 'association_max_retrans'],
    ['maxInitRetransmits', 'max_init_retransmits'],
    ['hbInterval', 'hb_interval'],
    ['sackDelay', 'sack_timeout'],
    ['sackFrequency', 'sack_freq'],
    ['mtu', 'PMTU'],
    ['receiveWindow', 'RWND'],
  ];
  for (const [ours, theirs] of map) {
    const v = p[ours];
    if (typeof v === 'number') out[theirs] = v;
  }
  return out;
}

async function openPackageEndpoint(options: OpenSctpEndpointOptions, mode: SctpMode, addresses: string[]): Promise<SctpEndpoint> {
  if (addresses.length > 1 || (addresses.length === 1 && isIP(addresses[0]!) !== 4)) {
    throw new Error(`the 'package' SCTP provider binds one IPv4 address (got ${addresses.join(', ')}): use the 'stack' provider`);
  }
  if (options.protocol) setProtocolParameters(packageParameters(options.protocol));
  const common = {
    port: options.port,
    ...(addresses.length === 1 ? { address: addresses[0]! } : {}),
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
