// RSPLIB's takeover suggestion (draft-dreibholz-rserpool-enrpupdate; RSPLIB option
// -supporttakeoversuggestion, off by default; ../shared/notes/rsplib-facts.md): when a
// registrar sends ADD_PE for a PE whose home it is, it looks for the peer with the largest
// metric peerID XOR peID and, only if that is larger than ownID XOR peID, sends that one peer
// an extra copy of the ENRP_HANDLE_UPDATE with the T flag. The receiver, after applying it,
// makes itself the PE's home (an ENDPOINT_KEEP_ALIVE with the H bit, as after a takeover):
// PEs spread over the registrars of a scope instead of staying where they first registered.
// This module is the sender's side; the receiver's is in src/shard/enrp-handlespace.ts.
import { EnrpFlag, EnrpType, ParamType, UpdateAction } from '../wire/constants.js';

/** The XOR metric of a registrar for a PE (unsigned 32 bits). */
export function suggestionMetric(registrarId: number, peId: number): number {
  return ((registrarId >>> 0) ^ (peId >>> 0)) >>> 0;
}

/** The peer to suggest the PE to: the largest metric, if larger than ours; else null. */
export function suggestionTarget(ownId: number, peId: number, peerIds: Iterable<number>): number | null {
  let best: number | null = null;
  let bestMetric = suggestionMetric(ownId, peId);
  for (const id of peerIds) {
    const metric = suggestionMetric(id, peId);
    if (metric > bestMetric) {
      best = id >>> 0;
      bestMetric = metric;
    }
  }
  return best;
}

/**
 * The PE ID of an ENRP_HANDLE_UPDATE with action ADD_PE, as a shard writes it (header, action,
 * Pool Handle, Pool Element: RFC 5353 §2.4); null for anything else. Reads in place.
 */
export function addedPeId(message: Uint8Array): number | null {
  if (message.length < 16 || message[0] !== EnrpType.HandleUpdate) return null;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  if (view.getUint16(12) !== UpdateAction.AddPe) return null;
  let p = 16;
  while (p + 4 <= message.length) {
    const type = view.getUint16(p) & 0x3fff;
    const length = view.getUint16(p + 2);
    if (length < 4) return null;
    if (type === ParamType.PoolElement) return p + 8 <= message.length ? view.getUint32(p + 4) : null;
    p += (length + 3) & ~3;
  }
  return null;
}

/** A copy of an ENRP_HANDLE_UPDATE with the T flag set. */
export function withTakeoverSuggestion(message: Uint8Array): Uint8Array {
  const copy = message.slice();
  copy[1] = copy[1]! | EnrpFlag.TakeoverSuggested;
  return copy;
}
