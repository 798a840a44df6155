// User transports (RFC 5354 §3.3-3.7): how a PE offers its service. Public form with address
// strings, converted to and from the codec's TransportParameter.
import { ParamType, TransportUse } from '../wire/constants.js';
import { addressToString, parseAddress } from '../wire/address.js';
import type { TransportParameter } from '../wire/parameters.js';

export type TransportProtocol = 'sctp' | 'tcp' | 'udp' | 'udp-lite' | 'dccp';

/** Data only, or data plus the ASAP control channel (RFC 5354 §3.4 Transport Use). */
export type TransportUsage = 'data' | 'data+control';

export interface UserTransport {
  protocol: TransportProtocol;
  /** IPv4/IPv6 literals; SCTP may carry several (multi-homing), the others exactly one. */
  addresses: string[];
  port: number;
  use: TransportUsage;
  /** DCCP service code (RFC 5354 §3.3); 0 otherwise. */
  serviceCode: number;
}

/** What a PE gives when it registers; omitted addresses come from the ASAP endpoint. */
export interface UserTransportInit {
  protocol?: TransportProtocol;
  addresses?: string[];
  port: number;
  use?: TransportUsage;
  serviceCode?: number;
}

const protocolType: Record<TransportProtocol, number> = {
  sctp: ParamType.SctpTransport,
  tcp: ParamType.TcpTransport,
  udp: ParamType.UdpTransport,
  'udp-lite': ParamType.UdpLiteTransport,
  dccp: ParamType.DccpTransport,
};

const typeProtocol = new Map<number, TransportProtocol>(
  (Object.entries(protocolType) as [TransportProtocol, number][]).map(([p, t]) => [t, p]),
);

/**
 * Codec form of a user transport. Throws RangeError on a bad address or port: these come
 * from the application's own configuration, not from the wire.
 */
export function toTransportParameter(init: UserTransportInit, defaultAddresses: readonly string[]): TransportParameter {
  const protocol = init.protocol ?? 'sctp';
  const type = protocolType[protocol];
  if (type === undefined) throw new RangeError(`unknown transport protocol ${String(protocol)}`);
  if (!Number.isInteger(init.port) || init.port < 0 || init.port > 0xffff) throw new RangeError(`port ${init.port} out of range`);
  const texts = init.addresses !== undefined && init.addresses.length > 0 ? init.addresses : defaultAddresses;
  if (texts.length === 0) throw new RangeError('a user transport needs at least one address');
  // RFC 5354 §3.3, §3.5-3.7: only SCTP carries more than one address.
  const chosen = protocol === 'sctp' ? texts : texts.slice(0, 1);
  const addresses = chosen.map((text) => {
    const bytes = parseAddress(text);
    if (bytes === null) throw new RangeError(`not an IP address: ${text}`);
    return bytes;
  });
  // For TCP/UDP/UDP-Lite/DCCP the field is reserved (always data only, §3.5-3.7).
  const transportUse = protocol === 'sctp' && (init.use ?? 'data') === 'data+control' ? TransportUse.DataPlusControl : TransportUse.DataOnly;
  return { type, port: init.port, transportUse, serviceCode: protocol === 'dccp' ? (init.serviceCode ?? 0) : 0, addresses, opaque: null };
}

/** Public form of a decoded transport parameter; null for opaque transports (§3.16). */
export function fromTransportParameter(t: TransportParameter): UserTransport | null {
  const protocol = typeProtocol.get(t.type);
  if (protocol === undefined) return null;
  const addresses: string[] = new Array<string>(t.addresses.length);
  for (let i = 0; i < t.addresses.length; i++) addresses[i] = addressToString(t.addresses[i]!);
  return {
    protocol,
    addresses,
    port: t.port,
    use: t.type === ParamType.SctpTransport && t.transportUse === TransportUse.DataPlusControl ? 'data+control' : 'data',
    serviceCode: t.serviceCode,
  };
}
