// INIT collision (RFC 9260 §5.2.1, §5.2.4): both ends of one SCTP port pair sent INIT, as two
// ENRP registrars that start together and name each other as peers do. The `sctp` package
// ignores an INIT, and mistakes a COOKIE ECHO for a restart, while it has a TCB in COOKIE-WAIT,
// so neither association would ever come up. Settled here, before the package sees the
// packet, alike on both ends, so that one association results:
// - an INIT while ours waits in COOKIE-WAIT: the end whose own Initiate Tag is lower drops its
//   attempt silently (reported 'down', as an attempt that failed) and lets the INIT through,
//   which its Endpoint answers statelessly; the end with the higher tag keeps its attempt and
//   repeats its INIT at once (the first may have been sent before the peer listened, seconds
//   before its retransmission), which the other end then accepts. Both ends see both tags, so
//   they agree without talking.
// - a COOKIE ECHO not for our tag while ours waits in COOKIE-WAIT: the peer took our stateless
//   answer to its INIT (sent before we started ours), so its association wins: ours is dropped
//   and the COOKIE ECHO goes to the Endpoint, which makes the association.
import { associationInState, ChunkType, type PackageAssociation, type PackageEndpoint, type PackagePacket } from './sctp-package.js';

/** Package internals the rule reads: our Initiate Tag and INIT, the silent teardown. */
interface CollidingAssociation {
  my_tag: number;
  /** The parameters of our INIT (kept by our patch of the package). */
  initParams?: object;
  _sendChunk(type: 'init', options: object): void;
  _communicationLost(reason: string): void;
}

/**
 * Applies the rule to a packet from `remoteAddress` about to reach `endpoint`. Returns true
 * when our attempt was dropped for the peer's: its COOKIE ECHO will need the cookie secret of
 * this Endpoint, which must stay a while even without associations.
 */
export function settleInitCollision(endpoint: PackageEndpoint, packet: PackagePacket, remoteAddress: string): boolean {
  const chunk = packet.chunks?.[0];
  if (chunk === undefined || chunk.length < 4) return false;
  const type = chunk[0];
  if (!((type === ChunkType.INIT && packet.v_tag === 0 && chunk.length >= 8) || type === ChunkType.COOKIE_ECHO)) return false;
  const ours = associationInState(endpoint, packet, remoteAddress, 'COOKIE-WAIT') as (PackageAssociation & CollidingAssociation) | undefined;
  if (ours === undefined || typeof ours.my_tag !== 'number') return false;
  if (type === ChunkType.INIT && ours.my_tag > chunk.readUInt32BE(4)) {
    if (ours.initParams !== undefined) ours._sendChunk('init', ours.initParams);
    return false;
  }
  if (type === ChunkType.COOKIE_ECHO && packet.v_tag === ours.my_tag) return false;
  ours._communicationLost('timeout');
  return true;
}
