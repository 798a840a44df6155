// The shard's side of ENRP (RFC 5353 §3.3, §3.5.2, §3.6): it applies peers' handle updates
// and handle table pages to its partition, marks and sweeps for audits, moves ownership on
// takeover, produces handle table pages of its own pools, and writes the ENRP_HANDLE_UPDATE
// for each change to an own PE. The I/O thread fans these out over the shards and merges.
import type { HandleTableCursor, Partition, Pool, PoolElement } from '../handlespace/index.js';
import { bytesEqual } from '../wire/bytes-equal.js';
import type { PoolWatch } from './subscriptions.js';
import {
  EnrpFlag,
  EnrpType,
  ParamType,
  UpdateAction,
  Writer,
  decodeEnrp,
  encodePoolElement,
  writeBytesParam,
  type PoolElementParameter,
} from '../wire/index.js';
import { Authority, EnrpSource, OWN_TABLE_MARK, mayLearn, mayRemove } from './enrp-authority.js';
import { AsapTransportTable, asapTransportTlv, writeEnrpPoolElement } from './pe-asap-transport.js';

/** What the shard ships to the I/O thread for ENRP. */
export interface EnrpHandlespaceOutput {
  /** An ENRP_HANDLE_UPDATE to send to every peer (receiver ID 0, RFC 5353 §3.3). */
  handleUpdate(message: Uint8Array): void;
}

export interface EnrpHandlespaceCounters {
  updatesApplied: number;
  updatesRejected: number;
  tableEntriesApplied: number;
  auditRemovals: number;
  takenOver: number;
  /** ADD_PEs with RSPLIB's T flag that made this registrar the PE's home (takeoverSuggestion on). */
  takeoverSuggestionsAccepted: number;
  /** PEs homed here that a peer's update or table page tried to change (refused, enrp-authority.ts). */
  ownPeChangesRefused: number;
  /** PEs of a home other than the sending peer's in its update or own-children page (refused). */
  foreignHomeChangesRefused: number;
  /** PEs a peer's update or table page would add beyond --max-pes-per-peer for their home (dropped). */
  peerLimitRefused: number;
}

/** One row of a handlespace dump: pool handle (hex), PE ID, home registrar. */
export type DumpRow = [poolHandle: string, peId: number, home: number];

export class EnrpHandlespace {
  readonly counters: EnrpHandlespaceCounters = {
    updatesApplied: 0,
    updatesRejected: 0,
    tableEntriesApplied: 0,
    auditRemovals: 0,
    takenOver: 0,
    takeoverSuggestionsAccepted: 0,
    ownPeChangesRefused: 0,
    foreignHomeChangesRefused: 0,
    peerLimitRefused: 0,
  };
  private readonly writer = new Writer(1024);
  private readonly pageWriter = new Writer(16 * 1024);
  private readonly sessions = new Map<number, HandleTableCursor>();
  /** Audits under way: the "marked" PEs of each peer (RFC 5353 §3.6.3 step 1). */
  private readonly audits = new Map<number, Set<PoolElement>>();
  private readonly page: PoolElement[] = [];
  /** Told when a pool changes in a way a pool user sees (its subscribers, src/shard/subscriptions.ts). */
  poolWatch: PoolWatch | undefined = undefined;
  /** Act on RSPLIB's takeover suggestion (T flag on ADD_PE, src/registrar/takeover-suggestion.ts). */
  takeoverSuggestion = false;
  /** While a warm restart restores pools (src/snapshot/restore.ts): puts a pool back before an update or a table entry touches it. */
  restorePool: ((poolHandle: Uint8Array) => void) | undefined = undefined;

  constructor(
    private readonly partition: Partition,
    private readonly ownId: number,
    private readonly asapTransports: AsapTransportTable,
    private readonly output: EnrpHandlespaceOutput,
    /** Whether a pool handle belongs to this shard (a table page spans all shards). */
    private readonly mine: (poolHandle: Uint8Array) => boolean,
    /**
     * PEs one home registrar other than us may have in this partition (--max-pes-per-peer):
     * one peer cannot fill the handlespace (--max-pes) that our own PEs and every other
     * peer's share. Counted per shard, as --max-pes-per-association.
     */
    private readonly maxElementsPerPeer = Number.POSITIVE_INFINITY,
  ) {}

  // ------------------------------------------------------------ RFC 5353 §3.3: own changes

  /** ADD_PE (added) or DEL_PE for an own PE, sent to every peer. */
  ownChange(element: PoolElement, added: boolean): void {
    const w = this.writer;
    w.reset();
    w.u8(EnrpType.HandleUpdate);
    w.u8(0);
    w.u16(0);
    w.u32(this.ownId);
    w.u32(0); // RFC 5353 §3.3.1: receiving server's ID left blank
    w.u16(added ? UpdateAction.AddPe : UpdateAction.DelPe);
    w.u16(0);
    writeBytesParam(w, ParamType.PoolHandle, element.pool.handle);
    writeEnrpPoolElement(w, element, this.asapTransports.get(element));
    w.setU16(2, w.pos - w.lastPad);
    this.output.handleUpdate(w.buf.slice(0, w.pos));
  }

  // ------------------------------------------------------------ RFC 5353 §3.3: peers' changes

  /** A peer's ENRP_HANDLE_UPDATE (already validated by the I/O thread). */
  applyHandleUpdate(bytes: Uint8Array): void {
    const r = decodeEnrp(bytes);
    if (!r.ok || r.discard || r.message.protocol !== 'enrp' || r.message.type !== EnrpType.HandleUpdate) {
      this.counters.updatesRejected++;
      return;
    }
    const m = r.message;
    this.restorePool?.(m.poolHandle);
    if (m.action === UpdateAction.AddPe) {
      if (this.learn(EnrpSource.Update, m.poolHandle, m.poolElement, m.senderId)) {
        this.counters.updatesApplied++;
        if (this.takeoverSuggestion && (m.flags & EnrpFlag.TakeoverSuggested) !== 0) this.acceptSuggestion(m.poolHandle, m.poolElement.peId);
      } else {
        this.counters.updatesRejected++;
      }
    } else if (m.action === UpdateAction.DelPe) {
      // A peer removes its own PEs only (RFC 5353 §3.3.2: the home announces removal).
      const element = this.partition.findElement(m.poolHandle, m.poolElement.peId);
      const verdict = mayRemove(this.ownId, m.senderId, element?.homeRegistrarId);
      if (verdict === Authority.Apply) {
        this.partition.remove(element!);
        this.poolWatch?.changed(element!.pool);
        this.counters.updatesApplied++;
      } else if (verdict !== Authority.Nothing) {
        this.refused(verdict);
        this.counters.updatesRejected++;
      }
    } else {
      this.counters.updatesRejected++;
    }
  }

  private refused(verdict: Authority): void {
    if (verdict === Authority.OwnPe) this.counters.ownPeChangesRefused++;
    else if (verdict === Authority.ForeignHome) this.counters.foreignHomeChangesRefused++;
  }

  /**
   * Adds or replaces a PE learned from a peer (RFC 5353 §3.3.1 rules 1-3, §3.2.3 rules A-C),
   * if the sender may (enrp-authority.ts).
   */
  private learn(source: EnrpSource, poolHandle: Uint8Array, pe: PoolElementParameter, senderId: number): boolean {
    const held = this.partition.findElement(poolHandle, pe.peId);
    const { verdict, home } = mayLearn(source, this.ownId, senderId, pe.homeRegistrarId, held?.homeRegistrarId);
    if (verdict !== Authority.Apply) {
      this.refused(verdict);
      return false;
    }
    // A PE new to this home (added, or moved here from another home) counts against its budget.
    if ((held === undefined || held.homeRegistrarId >>> 0 !== home) && this.partition.ownedCount(home) >= this.maxElementsPerPeer) {
      this.counters.peerLimitRefused++;
      return false;
    }
    const t = pe.userTransport;
    const policy = pe.policy.raw === null ? pe.policy : { ...pe.policy, raw: pe.policy.raw.slice() };
    const seenBefore = held !== undefined && this.poolWatch?.watched(held.pool) === true ? held.encoded : undefined;
    const result = this.partition.register({
      poolHandle,
      peId: pe.peId,
      homeRegistrarId: home,
      registrationLife: pe.registrationLife,
      policy,
      userTransport: { protocol: t.type, port: t.port, use: t.transportUse, addressCount: t.addresses.length },
      associationId: 0,
      encoded: encodePoolElement({ ...pe, homeRegistrarId: home, policy, asapTransport: null }),
    });
    if (!result.ok) return false;
    if (result.created || (seenBefore !== undefined && !bytesEqual(seenBefore, result.element.encoded))) this.poolWatch?.changed(result.element.pool);
    this.asapTransports.set(result.element, pe.asapTransport !== null ? asapTransportTlv(pe.asapTransport) : null);
    const marked = this.audits.get(home);
    if (marked !== undefined) marked.delete(result.element);
    return true;
  }

  /**
   * RSPLIB's takeover suggestion: the PE's home suggested us (T flag). We become its home as
   * after a takeover (RFC 5353 §3.5.2): an ENDPOINT_KEEP_ALIVE with the H bit to its ASAP
   * transport at once, and the PE re-registers here. Not without a transport to reach it.
   */
  private acceptSuggestion(poolHandle: Uint8Array, peId: number): void {
    const element = this.partition.findElement(poolHandle, peId);
    if (element === undefined || element.homeRegistrarId === this.ownId || this.asapTransports.get(element) == null) return;
    this.partition.changeOwner(element, this.ownId);
    this.counters.takeoverSuggestionsAccepted++;
    this.poolWatch?.changed(element.pool);
  }

  // ------------------------------------------------------------ RFC 5353 §3.2.3, §3.6.3

  /**
   * One ENRP_HANDLE_TABLE_RESPONSE we asked for: the entries of this shard's pools go in, as
   * enrp-authority.ts allows for a full or an own-children table (OWN_TABLE_MARK).
   */
  applyHandleTable(bytes: Uint8Array): void {
    const r = decodeEnrp(bytes);
    if (!r.ok || r.discard || r.message.protocol !== 'enrp' || r.message.type !== EnrpType.HandleTableResponse) return;
    const m = r.message;
    if ((m.flags & EnrpFlag.Reject) !== 0) return;
    const source = (m.flags & OWN_TABLE_MARK) !== 0 ? EnrpSource.OwnTable : EnrpSource.FullTable;
    for (const entry of m.entries) {
      if (!this.mine(entry.poolHandle)) continue;
      this.restorePool?.(entry.poolHandle);
      for (const pe of entry.poolElements) if (this.learn(source, entry.poolHandle, pe, m.senderId)) this.counters.tableEntriesApplied++;
    }
  }

  /** §3.6.3 step 1: mark every PE the peer owns here. */
  auditBegin(owner: number): void {
    this.audits.set(owner >>> 0, new Set(this.partition.elementsOwnedBy(owner)));
  }

  /** §3.6.3 step 5: PEs still marked were not in the peer's table: removed silently. */
  auditEnd(owner: number): number {
    const marked = this.audits.get(owner >>> 0);
    if (marked === undefined) return 0;
    this.audits.delete(owner >>> 0);
    let removed = 0;
    for (const element of marked) {
      if (!element.registered || element.homeRegistrarId !== owner >>> 0) continue;
      this.partition.remove(element);
      this.poolWatch?.changed(element.pool);
      removed++;
    }
    this.counters.auditRemovals += removed;
    return removed;
  }

  // ------------------------------------------------------------ RFC 5353 §3.5.2

  /** Every PE of `from` now belongs to `to`; to ourselves, each gets a keep-alive with H. */
  takeOver(from: number, to: number): number {
    // The PEs' home changes in what pool users see (their Server Identifier, RFC 5354 §3.13).
    const watch = this.poolWatch;
    const changed = watch === undefined || from >>> 0 === to >>> 0 ? null : new Set<Pool>();
    if (changed !== null) for (const element of this.partition.elementsOwnedBy(from)) if (watch!.watched(element.pool)) changed.add(element.pool);
    const moved = this.partition.takeOver(from, to);
    if (changed !== null) for (const pool of changed) watch!.changed(pool);
    this.counters.takenOver += moved;
    return moved;
  }

  // ------------------------------------------------------------ handle table pages (§2.3)

  /**
   * The next page of this shard's part of a handle table session: an ENRP_HANDLE_TABLE_RESPONSE
   * with up to `maxElements` PEs (and about `maxBytes`, 0: no byte cap), all PEs or only
   * `owner`'s (W flag). Its M flag says whether this shard has more; the I/O thread merges.
   */
  nextPage(session: number, owner: number, maxElements: number, maxBytes: number, senderId: number, receiverId: number): { message: Uint8Array; more: boolean } {
    let cursor = this.sessions.get(session);
    if (cursor === undefined) {
      cursor = owner === 0 ? this.partition.cursor() : this.partition.cursor(owner);
      this.sessions.set(session, cursor);
    }
    const w = this.pageWriter;
    w.reset();
    w.u8(EnrpType.HandleTableResponse);
    w.u8(0);
    w.u16(0);
    w.u32(senderId);
    w.u32(receiverId);
    const page = this.page;
    let count = 0;
    let more = true;
    let pool: unknown = null;
    let largest = 0;
    while (count < maxElements) {
      more = cursor.next(1, page);
      const element = page[0];
      if (element === undefined) {
        more = false;
        break;
      }
      const before = w.pos;
      if (element.pool !== pool) {
        pool = element.pool;
        writeBytesParam(w, ParamType.PoolHandle, element.pool.handle);
      }
      writeEnrpPoolElement(w, element, this.asapTransports.get(element));
      count++;
      largest = Math.max(largest, w.pos - before);
      if (!more) break;
      if (maxBytes > 0 && w.pos + largest > maxBytes) break;
    }
    page.length = 0;
    if (!more) this.sessions.delete(session);
    w.setU16(2, w.pos - w.lastPad);
    w.buf[1] = more ? EnrpFlag.MoreToSend : 0;
    return { message: w.buf.slice(0, w.pos), more };
  }

  /** A session ended early (the peer went away). */
  endSession(session: number): void {
    this.sessions.delete(session);
  }

  // ------------------------------------------------------------ checksums and dumps

  /** The ones'-complement sum behind a PE checksum (uncomplemented), so shards can be added. */
  checksumSum(owner: number): number {
    return ~this.partition.peChecksum(owner) & 0xffff;
  }

  owners(): number[] {
    return this.partition.ownerIds();
  }

  dump(): DumpRow[] {
    const rows: DumpRow[] = [];
    for (const pool of this.partition.allPools()) {
      const handle = Buffer.from(pool.handle).toString('hex');
      for (const element of pool.elements.values()) rows.push([handle, element.peId, element.homeRegistrarId]);
    }
    return rows;
  }
}
