// A PE's ASAP transport (RFC 5354 §3.10: the optional SCTP transport after the policy in a
// Pool Element parameter): where a registrar reaches the PE's ASAP endpoint. The home
// registrar records it at registration (RSPLIB derives it from the association's remote
// address when the PE omits it), sends it in ENRP, and a registrar that takes over a PE
// associates to it to send the ENDPOINT_KEEP_ALIVE with the H bit (RFC 5353 §3.5.2).
import type { PoolElement } from '../handlespace/index.js';
import { ParamType, TransportUse, Writer, encodeParameter, parseAddress, writeTransport, type TransportParameter } from '../wire/index.js';

/**
 * The ASAP transport TLV (padded) of each PE. A WeakMap: a removed PE's entry goes with it,
 * and the partition's PoolElement needs no field of ENRP's.
 */
export class AsapTransportTable {
  private readonly table = new WeakMap<PoolElement, Uint8Array>();

  get(element: PoolElement): Uint8Array | undefined {
    return this.table.get(element);
  }

  set(element: PoolElement, tlv: Uint8Array | null): void {
    if (tlv === null) this.table.delete(element);
    else this.table.set(element, tlv);
  }
}

/** The TLV of a decoded transport parameter (copied: the decoded one views a receive buffer). */
export function asapTransportTlv(t: TransportParameter): Uint8Array {
  return encodeParameter((w) => writeTransport(w, t));
}

/** The ASAP transport derived from an association's remote address and SCTP port. */
export function derivedAsapTransportTlv(remote: { address: string; port: number }): Uint8Array | null {
  const address = parseAddress(remote.address);
  if (address === null) return null;
  return asapTransportTlv({ type: ParamType.SctpTransport, port: remote.port, transportUse: TransportUse.DataOnly, serviceCode: 0, addresses: [address], opaque: null });
}

/**
 * Writes the PE's Pool Element parameter for ENRP: its cached encoding with the current home
 * registrar patched in (it changes on takeover) and the ASAP transport appended.
 */
export function writeEnrpPoolElement(w: Writer, element: PoolElement, asapTransport: Uint8Array | undefined): void {
  const enc = element.encoded;
  const len = (enc[2]! << 8) | enc[3]!;
  const padded = (len + 3) & ~3;
  const start = w.pos;
  w.bytes(enc.length > padded ? enc.subarray(0, padded) : enc);
  if (enc.length < padded) w.zeros(padded - enc.length);
  const home = element.homeRegistrarId;
  w.setU16(start + 8, home >>> 16);
  w.setU16(start + 10, home & 0xffff);
  if (asapTransport === undefined) {
    w.setU16(start + 2, len);
    w.lastPad = padded - len;
    return;
  }
  const tStart = w.pos;
  w.bytes(asapTransport);
  const tLen = (asapTransport[2]! << 8) | asapTransport[3]!;
  w.setU16(start + 2, tStart - start + tLen);
  w.lastPad = asapTransport.length - tLen;
}

/** A transport TLV as the I/O thread needs it to associate: first address and port. */
export function readAsapTransport(tlv: Uint8Array): { address: Uint8Array; port: number } | null {
  // RFC 5354 §3.5 SCTP transport: type, length, port, transport use, then address TLVs.
  if (tlv.length < 12) return null;
  const type = (tlv[0]! << 8) | tlv[1]!;
  if (type !== ParamType.SctpTransport) return null;
  const port = (tlv[4]! << 8) | tlv[5]!;
  const aType = (tlv[8]! << 8) | tlv[9]!;
  const aLen = (tlv[10]! << 8) | tlv[11]!;
  if (aType === ParamType.Ipv4Address && aLen === 8 && tlv.length >= 16) return { address: tlv.subarray(12, 16), port };
  if (aType === ParamType.Ipv6Address && aLen === 20 && tlv.length >= 28) return { address: tlv.subarray(12, 28), port };
  return null;
}
