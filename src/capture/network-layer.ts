// From a captured link-layer frame to the IP payload: the link types RSerPool traffic is
// captured on (Ethernet with 802.1Q/802.1ad tags, Linux cooked SLL and SLL2, raw IP, BSD
// loopback), then IPv4 (RFC 791, options skipped) or IPv6 (RFC 8200, extension headers skipped).
import { addressToString as formatIpAddress } from '../wire/address.js';

/** LINKTYPE_* values (tcpdump.org link-layer header types) this reader understands. */
export const LinkType = {
  Null: 0,
  Ethernet: 1,
  /** DLT_RAW as most systems number it in memory; some writers put it into files. */
  RawAlt12: 12,
  /** DLT_RAW on OpenBSD. */
  RawAlt14: 14,
  Raw: 101,
  Loop: 108,
  LinuxSll: 113,
  Ipv4: 228,
  Ipv6: 229,
  LinuxSll2: 276,
} as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;

/** IP protocol numbers (IANA). */
export const IpProtocol = {
  HopByHop: 0,
  Tcp: 6,
  Udp: 17,
  Routing: 43,
  Fragment: 44,
  Esp: 50,
  Ah: 51,
  NoNextHeader: 59,
  DestinationOptions: 60,
  Mobility: 135,
  Hip: 139,
  Shim6: 140,
  Sctp: 132,
} as const;

/** An IP packet's addresses, upper-layer protocol and payload (a view into the frame). */
export interface IpPacket {
  version: 4 | 6;
  src: string;
  dst: string;
  /** IPv4 Protocol / the IPv6 Next Header after the extension headers. */
  protocol: number;
  payload: Uint8Array;
  /** True when the capture holds fewer payload bytes than the IP header announces. */
  truncated: boolean;
}

export type SkipReason = 'unknown-link-type' | 'not-ip' | 'ip-fragment' | 'truncated' | 'malformed-ip';

export type NetworkResult = { ok: true; packet: IpPacket } | { ok: false; reason: SkipReason };

/** Finds the IP packet inside a frame of the given link type. */
export function readIpPacket(linkType: number, frame: Uint8Array): NetworkResult {
  const ip = ipBytes(linkType, frame);
  if (ip === null) return { ok: false, reason: isKnownLinkType(linkType) ? 'not-ip' : 'unknown-link-type' };
  if (ip === 'truncated') return { ok: false, reason: 'truncated' };
  if (ip.length < 1) return { ok: false, reason: 'truncated' };
  const version = ip[0]! >> 4;
  if (version === 4) return readIpv4(ip);
  if (version === 6) return readIpv6(ip);
  return { ok: false, reason: 'not-ip' };
}

function isKnownLinkType(linkType: number): boolean {
  return (Object.values(LinkType) as number[]).includes(linkType);
}

/** The bytes of the network-layer packet, null when the frame carries no IP. */
function ipBytes(linkType: number, frame: Uint8Array): Uint8Array | 'truncated' | null {
  switch (linkType) {
    case LinkType.Ethernet: {
      let offset = 12;
      for (;;) {
        if (frame.length < offset + 2) return 'truncated';
        const etherType = (frame[offset]! << 8) | frame[offset + 1]!;
        if (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_OLD) {
          offset += 4; // tag control information, then the next EtherType (IEEE 802.1Q)
          continue;
        }
        return etherType === ETHERTYPE_IPV4 || etherType === ETHERTYPE_IPV6 ? frame.subarray(offset + 2) : null;
      }
    }
    case LinkType.LinuxSll: {
      if (frame.length < 16) return 'truncated';
      const protocol = (frame[14]! << 8) | frame[15]!;
      return protocol === ETHERTYPE_IPV4 || protocol === ETHERTYPE_IPV6 ? frame.subarray(16) : null;
    }
    case LinkType.LinuxSll2: {
      if (frame.length < 20) return 'truncated';
      const protocol = (frame[0]! << 8) | frame[1]!;
      return protocol === ETHERTYPE_IPV4 || protocol === ETHERTYPE_IPV6 ? frame.subarray(20) : null;
    }
    case LinkType.Null:
    case LinkType.Loop:
      // A 4-byte address family, in the capturing host's byte order (Null) or network order
      // (Loop); its value differs between systems for IPv6, so the IP version nibble decides.
      if (frame.length < 4) return 'truncated';
      return frame.subarray(4);
    case LinkType.Raw:
    case LinkType.RawAlt12:
    case LinkType.RawAlt14:
    case LinkType.Ipv4:
    case LinkType.Ipv6:
      return frame;
    default:
      return null;
  }
}

function readIpv4(ip: Uint8Array): NetworkResult {
  if (ip.length < 20) return { ok: false, reason: 'truncated' };
  const headerLength = (ip[0]! & 0x0f) * 4;
  if (headerLength < 20) return { ok: false, reason: 'malformed-ip' };
  if (ip.length < headerLength) return { ok: false, reason: 'truncated' };
  const totalLength = (ip[2]! << 8) | ip[3]!;
  // A total length of 0 is seen with TCP segmentation offload; take what was captured then.
  if (totalLength !== 0 && totalLength < headerLength) return { ok: false, reason: 'malformed-ip' };
  const fragmentOffset = ((ip[6]! & 0x1f) << 8) | ip[7]!;
  // Only the first fragment carries the upper-layer header (RFC 791 §2.3).
  if (fragmentOffset !== 0) return { ok: false, reason: 'ip-fragment' };
  const moreFragments = (ip[6]! & 0x20) !== 0;
  const end = totalLength === 0 ? ip.length : Math.min(totalLength, ip.length);
  return {
    ok: true,
    packet: {
      version: 4,
      src: formatIpAddress(ip.subarray(12, 16)),
      dst: formatIpAddress(ip.subarray(16, 20)),
      protocol: ip[9]!,
      payload: ip.subarray(headerLength, end),
      truncated: moreFragments || (totalLength !== 0 && totalLength > ip.length),
    },
  };
}

function readIpv6(ip: Uint8Array): NetworkResult {
  if (ip.length < 40) return { ok: false, reason: 'truncated' };
  const payloadLength = (ip[4]! << 8) | ip[5]!;
  // A payload length of 0 means a jumbogram (RFC 2675) or TSO; take what was captured.
  const end = payloadLength === 0 ? ip.length : Math.min(40 + payloadLength, ip.length);
  let next = ip[6]!;
  let offset = 40;
  let fragmented = false;
  for (;;) {
    if (
      next === IpProtocol.HopByHop ||
      next === IpProtocol.Routing ||
      next === IpProtocol.DestinationOptions ||
      next === IpProtocol.Mobility ||
      next === IpProtocol.Hip ||
      next === IpProtocol.Shim6
    ) {
      if (offset + 2 > end) return { ok: false, reason: 'truncated' };
      const following = ip[offset]!;
      offset += (ip[offset + 1]! + 1) * 8;
      next = following;
    } else if (next === IpProtocol.Ah) {
      if (offset + 2 > end) return { ok: false, reason: 'truncated' };
      const following = ip[offset]!;
      offset += (ip[offset + 1]! + 2) * 4; // RFC 4302 §2.2: length in 4-octet units minus 2
      next = following;
    } else if (next === IpProtocol.Fragment) {
      if (offset + 8 > end) return { ok: false, reason: 'truncated' };
      const fragmentOffset = ((ip[offset + 2]! << 8) | ip[offset + 3]!) >> 3;
      if (fragmentOffset !== 0) return { ok: false, reason: 'ip-fragment' };
      fragmented = (ip[offset + 3]! & 0x01) !== 0;
      next = ip[offset]!;
      offset += 8;
    } else {
      break;
    }
    if (offset > end) return { ok: false, reason: 'truncated' };
  }
  return {
    ok: true,
    packet: {
      version: 6,
      src: formatIpAddress(ip.subarray(8, 24)),
      dst: formatIpAddress(ip.subarray(24, 40)),
      protocol: next,
      payload: ip.subarray(offset, end),
      truncated: fragmented || (payloadLength !== 0 && 40 + payloadLength > ip.length),
    },
  };
}
