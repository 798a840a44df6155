// IP networks in CIDR notation (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6 prefixes) and a
// list of them that answers "is this address inside one?". The registrar's closed ENRP scope
// (--enrp-allow) is such a list. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291
// §2.5.5.2), as dual-stack sockets report IPv4 peers, counts as its IPv4 address.
import { parseAddress } from './address.js';

export interface Network {
  /** The network address, 4 or 16 bytes, host bits cleared. */
  readonly address: Uint8Array;
  /** Prefix length in bits: 0-32 for IPv4, 0-128 for IPv6. */
  readonly bits: number;
}

/** Parses "addr/bits" (an address alone is a /32 or /128); null if it is not a network. */
export function parseNetwork(text: string): Network | null {
  const parts = text.trim().split('/');
  if (parts.length > 2) return null;
  const address = parseAddress(parts[0]!);
  if (address === null) return null;
  const max = address.length * 8;
  let bits = max;
  if (parts.length === 2) {
    if (!/^\d{1,3}$/.test(parts[1]!)) return null;
    bits = Number(parts[1]);
    if (bits > max) return null;
  }
  return { address: maskTo(address, bits), bits };
}

/** The 4-byte form of an IPv4 or IPv4-mapped IPv6 address, otherwise the address itself. */
export function unmapped(address: Uint8Array): Uint8Array {
  if (address.length !== 16) return address;
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return address;
  if (address[10] !== 0xff || address[11] !== 0xff) return address;
  return address.subarray(12);
}

function maskTo(address: Uint8Array, bits: number): Uint8Array {
  const out = address.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    out[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/** True when `address` (4 or 16 bytes) lies inside `network`. */
export function networkContains(network: Network, address: Uint8Array): boolean {
  const a = unmapped(address);
  const n = unmapped(network.address);
  // A mapped network (::ffff:10.0.0.0/104) is the IPv4 network 10.0.0.0/8.
  const bits = n !== network.address ? network.bits - 96 : network.bits;
  if (a.length !== n.length || bits < 0) return false;
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== n[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[full]! & mask) === n[full];
}

/**
 * A list of networks. Empty: it holds nothing (callers decide what empty means; the ENRP
 * scope reads it as "anywhere", see EnrpScope).
 */
export class NetworkList {
  readonly networks: readonly Network[];

  /** Throws on an entry that is not a network (the CLI validates flags before this). */
  constructor(cidrs: readonly string[]) {
    this.networks = cidrs.map((c) => {
      const n = parseNetwork(c);
      if (n === null) throw new Error(`not a network: ${c}`);
      return n;
    });
  }

  get size(): number {
    return this.networks.length;
  }

  /** True when the address (text) is inside one of the networks; false for a non-address. */
  contains(address: string): boolean {
    // A scope (zone) index (fe80::1%eth0, RFC 4007 §11) does not change the address.
    const zone = address.indexOf('%');
    const bytes = parseAddress(zone < 0 ? address : address.slice(0, zone));
    if (bytes === null) return false;
    for (const n of this.networks) if (networkContains(n, bytes)) return true;
    return false;
  }
}
