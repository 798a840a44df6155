// Which addresses a PE may advertise in its user transport (RFC 5355 §6: a registrar must not
// hand pool users an address the PE does not hold, or any client can point every pool user
// at a victim). The rule: every address of the user transport is one of the peer addresses
// of the association the registration arrived over (all of them known at association up: the
// peer lists them in its INIT, RFC 9260 §5.1.2). The unspecified address (0.0.0.0, ::) means
// "where I am": it stands for the association's peer addresses (for the one-address
// transports, TCP/UDP/UDP-Lite/DCCP, RFC 5354 §3.5-3.7: the primary), which a pool user can
// reach, instead of being handed out as is (0.0.0.0 reaches the pool user's own host).
//
// A peer that associates from a loopback address is on this host (no other host can send from
// one: the kernel drops such packets as martians), so the host's own addresses are its
// addresses too: a PE on the registrar's host whose endpoint lists none in its INIT (a wildcard
// socket of our stack) may advertise them.
import { networkInterfaces } from 'node:os';
import { ParamType, parseAddress, type TransportParameter } from '../wire/index.js';
import { NetworkList, unmapped } from '../wire/network.js';
import { bytesEqual as sameBytes } from '../wire/bytes-equal.js';

/**
 * An association's peer addresses in wire form (4 or 16 bytes, IPv4-mapped IPv6 as IPv4), the
 * primary first; for a peer on this host (a loopback address among them), this host's addresses
 * follow (`hostAddresses`, default the interfaces' now).
 */
export function peerAddressBytes(addresses: readonly string[], hostAddresses: () => readonly string[] = interfaceAddresses): Uint8Array[] {
  const out: Uint8Array[] = [];
  const local = addresses.some(isLoopback);
  for (const text of local ? [...addresses, ...hostAddresses()] : addresses) {
    const bytes = parseAddress(text);
    if (bytes === null) continue;
    const a = unmapped(bytes);
    if (!out.some((b) => sameBytes(a, b))) out.push(a);
  }
  return out;
}

/** The transport to advertise, or the first address of it the PE may not advertise. */
export type AdvertisedTransport = { ok: true; transport: TransportParameter } | { ok: false; address: Uint8Array };

/**
 * The user transport as the registrar advertises it: unspecified addresses replaced by the
 * peer addresses, and, when `checkForeign`, every other address one of them (otherwise the
 * first foreign address is returned). Returns the transport itself when nothing changes.
 */
export function advertisedTransport(t: TransportParameter, peer: readonly Uint8Array[], checkForeign: boolean): AdvertisedTransport {
  let wildcard = false;
  for (const raw of t.addresses) {
    const a = unmapped(raw);
    if (isUnspecified(a)) wildcard = true;
    else if (checkForeign && !peer.some((b) => sameBytes(a, b))) return { ok: false, address: raw };
  }
  if (!wildcard || peer.length === 0) return { ok: true, transport: t };
  const addresses: Uint8Array[] = [];
  for (const raw of t.addresses) {
    const a = unmapped(raw);
    for (const candidate of isUnspecified(a) ? peer : [a]) if (!addresses.some((b) => sameBytes(candidate, b))) addresses.push(candidate);
  }
  return { ok: true, transport: { ...t, addresses: t.type === ParamType.SctpTransport ? addresses : addresses.slice(0, 1) } };
}

const LOOPBACK = new NetworkList(['127.0.0.0/8', '::1/128']);

function isUnspecified(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

function isLoopback(text: string): boolean {
  return LOOPBACK.contains(text);
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((i) => (i === undefined || i.address.toLowerCase().startsWith('fe80:') ? [] : [i.address]));
}
