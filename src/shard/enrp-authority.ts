// Who may change which PE over ENRP (RFC 5353 §3.2.3, §3.3, §3.6.3; RFC 5355 §2.9-2.10):
// pure rules the shard applies to every PE a peer sends, so that a later ENRP core can call
// them too. The sender is the peer the I/O thread verified (the one bound to the association,
// src/registrar/enrp-service.ts); the rules decide what that peer may do to the handlespace.
//
// The rules:
// - A PE homed here (we are its Home ENRP server) is never overwritten or deleted by a peer,
//   by any message. Only its home announces a PE's changes (§3.3.1, §3.3.2: "the Home ENRP
//   server uses this procedure"), and we are that home; a PE that moved re-registers
//   (RFC 5352 §3.1) and our copy leaves by the keep-alive rules.
// - ENRP_HANDLE_UPDATE (§3.3): the peer speaks for its own PEs only. ADD_PE must name the
//   sender as home (0 reads as the sender) and may create a PE or replace one homed at the
//   sender, not one held for a third server; DEL_PE removes only a PE homed at the sender.
//   A PE moving from a third server to the sender arrives once that server's DEL_PE removed
//   it, or by the next audit (§3.6).
// - A full handle table page (§3.2.3, W flag 0: startup from the mentor, a restarted shard's
//   reload), asked for by us: the mentor's copy of the whole handlespace, so PEs of every home
//   come in (rules A-C: add, or replace a PE homed elsewhere); a PE naming us as home that we
//   do not hold stays the sender's.
// - An own-children page (§3.6.3, W flag 1: an audit we started): as an update, only PEs
//   homed at the sender, new or held for the sender. Not one held for a third server: a peer
//   starts our audit of itself by announcing any checksum, so its pages must not be able to
//   take what an update may not (measured: a flood's forged checksums and pages stole another
//   peer's PEs this way). A PE that moved heals by the third server's DEL_PE and a later audit.
// - Pages nobody asked for are ignored by the I/O thread before they reach a shard.

/** What carried the PE. */
export const EnrpSource = {
  /** ENRP_HANDLE_UPDATE (§3.3). */
  Update: 0,
  /** ENRP_HANDLE_TABLE_RESPONSE to a request with W = 0 (§3.2.3). */
  FullTable: 1,
  /** ENRP_HANDLE_TABLE_RESPONSE to a request with W = 1 (§3.6.3). */
  OwnTable: 2,
} as const;
export type EnrpSource = (typeof EnrpSource)[keyof typeof EnrpSource];

export const Authority = {
  /** Apply it. */
  Apply: 0,
  /** Refused: the PE is homed here. */
  OwnPe: 1,
  /** Refused: the sender is not the PE's home (announced, or as held here). */
  ForeignHome: 2,
  /** Nothing to do (a DEL_PE for a PE not held: RFC 5353 §3.3.2 "no further actions"). */
  Nothing: 3,
} as const;
export type Authority = (typeof Authority)[keyof typeof Authority];

/**
 * May `sender` add or replace a PE it announced with home `announcedHome`? `heldHome`: the
 * home of the copy held here, undefined if none. Returns the verdict and, when applied, the
 * home the PE gets.
 */
export function mayLearn(source: EnrpSource, ownId: number, sender: number, announcedHome: number, heldHome: number | undefined): { verdict: Authority; home: number } {
  const own = ownId >>> 0;
  const from = sender >>> 0;
  let home = announcedHome >>> 0;
  if (home === 0) home = from;
  if (heldHome !== undefined && heldHome >>> 0 === own) return { verdict: Authority.OwnPe, home };
  if (source === EnrpSource.FullTable) {
    // Rule C replaces a copy held for anyone but us; one naming us that we lack is the sender's.
    return { verdict: Authority.Apply, home: home === own ? from : home };
  }
  if (home !== from) return { verdict: home === own ? Authority.OwnPe : Authority.ForeignHome, home };
  if (heldHome !== undefined && heldHome >>> 0 !== from) return { verdict: Authority.ForeignHome, home };
  return { verdict: Authority.Apply, home };
}

/** May `sender` remove (DEL_PE) a PE held here with home `heldHome` (undefined: not held)? */
export function mayRemove(ownId: number, sender: number, heldHome: number | undefined): Authority {
  if (heldHome === undefined) return Authority.Nothing;
  if (heldHome >>> 0 === ownId >>> 0) return Authority.OwnPe;
  if (heldHome >>> 0 !== sender >>> 0) return Authority.ForeignHome;
  return Authority.Apply;
}

/**
 * The I/O thread tells the shards which table it asked for in the copy of the response it
 * hands them: this bit of the flags byte (unused on the wire, RFC 5353 §2.3 defines R and M)
 * set means an own-children page (W = 1), clear a full one. Whatever the peer put there is
 * overwritten.
 */
export const OWN_TABLE_MARK = 0x80;
