// A peer that restarted (RFC 9260 §5.2.2, §5.2.4 action A): it lost its association state, as a
// registrar or pool element that crashed and came back on the same port pair, and associates
// anew while ours is still established. The `sctp` package answers such an INIT with an ABORT
// (when it lists addresses, as every INIT of ours does) and does not implement the restart, so
// the peer could not associate until our stale association timed out by heartbeats (tens of
// seconds with the defaults). Handled here, before the package sees the packet:
// - an INIT (Verification Tag 0) while ours is established: answered as if there were no
//   association, statelessly with an INIT ACK (new Initiate Tag) and a State Cookie;
// - a COOKIE ECHO with a valid cookie of ours whose tags are both new (action A; tie-tags are
//   not kept): the old association is reported down ('restart') and the COOKIE ECHO then makes
//   the new one.
// A forged INIT changes nothing (the INIT ACK goes to the real peer, which drops it); ending an
// association takes a cookie this endpoint made, i.e. one seen on the path to the peer.
import { associationInState, Chunk, ChunkType, type PackageAssociation, type PackageChunk, type PackageEndpoint, type PackagePacket } from './sctp-package.js';

/** Package internals read here. */
interface RestartingEndpoint {
  onInit(chunk: PackageChunk, source: string, destination: string | undefined, header: PackagePacket): void;
  validateCookie(cookie: Buffer, header: PackagePacket): { my_tag: number; initChunk: Buffer } | undefined;
}
interface EstablishedAssociation {
  my_tag: number;
  peer_tag: number;
  _communicationLost(reason: string): void;
}

/**
 * Applies the rule to a packet from `source` about to reach `endpoint`; true when the packet
 * was answered here and must not reach the package.
 */
export function handlePeerRestart(endpoint: PackageEndpoint, packet: PackagePacket, source: string, destination?: string): boolean {
  const first = packet.chunks?.[0];
  if (first === undefined || first.length < 4) return false;
  const type = first[0];
  if (type !== ChunkType.INIT && type !== ChunkType.COOKIE_ECHO) return false;
  const ours = associationInState(endpoint, packet, source, 'ESTABLISHED') as (PackageAssociation & EstablishedAssociation) | undefined;
  if (ours === undefined) return false;
  const package_ = endpoint as PackageEndpoint & RestartingEndpoint;
  if (type === ChunkType.INIT) {
    // Only a lone INIT with tag 0 is an INIT (RFC 9260 §8.5.1); the package discards the rest.
    if (packet.v_tag !== 0 || packet.chunks!.length !== 1) return false;
    const init = Chunk.fromBuffer(first);
    if (!init || init.error === true || init.chunkType !== 'init') return false; // the package discards it
    package_.onInit(init, source, destination, packet);
    return true;
  }
  const echo = Chunk.fromBuffer(first);
  if (!echo || echo.error === true || echo.cookie === undefined) return false;
  const cookie = package_.validateCookie(echo.cookie, packet);
  if (cookie === undefined || cookie.initChunk.length < 8) return false;
  if (cookie.my_tag === ours.my_tag || cookie.initChunk.readUInt32BE(4) === ours.peer_tag) return false; // not a restart (§5.2.4 B-D)
  ours._communicationLost('restart');
  return false; // the COOKIE ECHO goes on to the Endpoint, which makes the new association
}
