// Everything that crosses between the registrar's I/O thread and a shard worker, defined once:
// the batch framing, every record kind in both directions with ONE encoder (a method of the
// direction's writer) and ONE decoder (a case of the direction's reader, which hands typed
// fields to a handler), and the structured-cloned control requests and replies.
//
// A batch is one ArrayBuffer, transferred (never copied) across the thread boundary:
//
//   u32 bytes used (this word included) | records...
//   record: u32 association id | u16 kind | u16 reserved | u32 payload length | payload, padded to 4
//
// The writer hands out its own buffer and starts a new one, so a transferred batch is never
// written again: payloads read from it (views) may be kept, e.g. by Association.send(), which
// holds a message's bytes until they are acknowledged.
//
// This module is loaded by both threads: it imports nothing but types, and nothing of the
// transport or the SCTP stack.
import type { DumpRow, EnrpHandlespaceCounters } from './enrp-handlespace.js';
import type { AsapCounters } from './asap-service.js';
import type { SubscriptionCounters } from './subscriptions.js';
import type { PoolSummary, DumpPool } from './handlespace-dump.js';
import type { RestoreProgress } from '../snapshot/restore.js';
import type { ShardMetrics } from './metrics-counts.js';
import { poolHandleHash } from '../handlespace/pool-handle.js';

/**
 * shard = hash(pool handle) mod N (ARCHITECTURE.md "Shape"), with the handlespace's hash: the
 * I/O thread routes by it, and a shard keeps only its pools' entries of a handle table by it.
 */
export function shardOf(poolHandle: Uint8Array, shards: number): number {
  return poolHandleHash(poolHandle) % shards;
}

/** Record kinds, I/O thread → shard. */
export const ToShard = {
  /** An ASAP message received on the association (PPID 11). */
  AsapMessage: 1,
  /**
   * An association came up; payload: u16 remote port, u8 number of peer addresses, then each
   * address as u8 length and text, the primary first (RFC 9260 §6.4: every address the peer
   * listed in its INIT; a PE may advertise only these, unless foreign addresses are allowed).
   */
  AssociationUp: 2,
  /** An association went down: every PE registered over it goes (RFC 5352 §3.5). */
  AssociationDown: 3,
  /** A peer's ENRP_HANDLE_UPDATE for a pool of this shard (RFC 5353 §3.3). */
  EnrpHandleUpdate: 4,
  /** An ENRP_HANDLE_TABLE_RESPONSE: the shard takes its pools' entries (RFC 5353 §3.2.3). */
  EnrpHandleTable: 5,
  /** Audit of a peer begins: mark its PEs (RFC 5353 §3.6.3); payload: u32 owner. */
  EnrpAuditBegin: 6,
  /** Audit ends: remove its PEs still marked; payload: u32 owner. */
  EnrpAuditEnd: 7,
  /** Takeover (RFC 5353 §3.5.2); payload: u32 from, u32 to. */
  EnrpTakeOver: 8,
  /** Next handle table page; association id = session; payload: five u32 (PageRequest). */
  HandleTablePage: 9,
  /** A handle table session ended early; association id = session. */
  HandleTableEnd: 10,
  /**
   * An association the registrar aborted itself so that its PE re-registers (a shard that
   * held some of its PEs restarted empty): the shard forgets the association but keeps its
   * PEs, which the re-registration moves to the new association (or the keep-alive timeout
   * removes, if the PE never comes back).
   */
  AssociationDetached: 11,
} as const;

/** Record kinds, shard → I/O thread. */
export const FromShard = {
  /** Send this ASAP message on the association. */
  SendAsap: 1,
  /** Abort the association (e.g. a PE that failed its keep-alive, RFC 5352 §3.5). */
  AbortAssociation: 2,
  /** An ENRP_HANDLE_UPDATE about an own PE, for every peer (RFC 5353 §3.3). */
  EnrpHandleUpdate: 3,
  /** A handle table page; association id = session; payload: u32 more (0/1), message. */
  HandleTablePage: 4,
  /** An ASAP message for a PE reached at its ASAP transport: u32 TLV length, TLV, message. */
  SendAsapToTransport: 5,
} as const;

/** ToShard.HandleTablePage: which page of a handle table session to produce. */
export interface PageRequest {
  /** 0: every PE; otherwise only this owner's (W flag, RFC 5353 §2.2). */
  owner: number;
  maxElements: number;
  /** About this many bytes per response at most; 0: no byte cap. */
  maxBytes: number;
  senderId: number;
  receiverId: number;
}

/** An association's remote transport address (primary). */
export interface RemoteTransport {
  address: string;
  port: number;
}

/** Peer addresses an AssociationUp record carries at most (more are left out). */
export const MAX_PEER_ADDRESSES = 64;

// ---------------------------------------------------------------------------- framing

const BATCH_HEADER = 4;
const RECORD_HEADER = 12;
/** The smallest batch buffer: a batch of one message fits, and its zero-filling costs nothing. */
const MIN_CAPACITY = 1024;

// Batches are read and written byte by byte in big-endian order (no DataView: one fewer
// object per batch on each thread; a record header is three words).

function putU32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

function getU32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

function getU16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}

/**
 * Builds one batch at a time. Subclasses add one encoder method per record kind; nothing
 * else writes records.
 */
export class BatchWriter {
  private buf: Uint8Array;
  private pos = BATCH_HEADER;
  /** Records in the current batch. */
  count = 0;

  constructor() {
    this.buf = new Uint8Array(MIN_CAPACITY);
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /**
   * Hands out the batch, to be transferred, and starts the next one in a new buffer: the one
   * handed out is never written again (its payloads may be kept as views by the receiver).
   * The whole buffer is transferred (a transfer costs the same for any size; no copy to trim).
   * The next buffer is sized for a batch like this one (a power of two), so that it rarely grows
   * and a batch of one message does not zero-fill kilobytes.
   */
  take(): ArrayBuffer {
    const used = this.pos;
    putU32(this.buf, 0, used);
    const out = this.buf.buffer as ArrayBuffer;
    let capacity = MIN_CAPACITY;
    while (capacity < used) capacity *= 2;
    this.buf = new Uint8Array(capacity);
    this.pos = BATCH_HEADER;
    this.count = 0;
    return out;
  }

  /** Starts a record with `length` payload bytes; returns where the payload goes. */
  protected record(associationId: number, kind: number, length: number): number {
    const padded = (length + 3) & ~3;
    this.ensure(RECORD_HEADER + padded);
    const b = this.buf;
    const p = this.pos;
    putU32(b, p, associationId);
    b[p + 4] = kind >>> 8;
    b[p + 5] = kind;
    b[p + 6] = 0;
    b[p + 7] = 0;
    putU32(b, p + 8, length);
    this.pos = p + RECORD_HEADER + padded;
    this.count++;
    return p + RECORD_HEADER;
  }

  /** A record whose payload is `message`, copied once, into the batch. */
  protected bytesRecord(associationId: number, kind: number, message: Uint8Array): void {
    const p = this.record(associationId, kind, message.length);
    this.buf.set(message, p);
  }

  /** A record whose payload is `parts` one after the other (each copied once, into the batch). */
  protected partsRecord(associationId: number, kind: number, parts: readonly Uint8Array[]): void {
    let length = 0;
    for (const part of parts) length += part.length;
    let p = this.record(associationId, kind, length);
    for (const part of parts) {
      this.buf.set(part, p);
      p += part.length;
    }
  }

  /** A record whose payload is u32 words. */
  protected wordsRecord(associationId: number, kind: number, ...words: number[]): void {
    const p = this.record(associationId, kind, words.length * 4);
    for (let i = 0; i < words.length; i++) putU32(this.buf, p + i * 4, words[i]!);
  }

  /** A u32, then `first` and `second` (each copied once, into the batch). */
  protected wordAndBytesRecord(associationId: number, kind: number, word: number, first: Uint8Array, second?: Uint8Array): void {
    const p = this.record(associationId, kind, 4 + first.length + (second?.length ?? 0));
    putU32(this.buf, p, word);
    this.buf.set(first, p + 4);
    if (second !== undefined) this.buf.set(second, p + 4 + first.length);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
}

/**
 * Walks the records of a batch (a shorter batch than it claims, or a record running past its
 * end, ends the walk: never an exception). One cursor per reader, reused batch after batch:
 * reading a batch allocates nothing but the payload views it hands out.
 */
class BatchCursor {
  bytes: Uint8Array = new Uint8Array(0);
  private end = 0;
  private next = 0;
  associationId = 0;
  kind = 0;
  /** Where the current record's payload starts in `bytes`, and its length. */
  start = 0;
  length = 0;

  open(batch: ArrayBuffer): void {
    this.bytes = new Uint8Array(batch);
    this.end = batch.byteLength < BATCH_HEADER ? 0 : Math.min(getU32(this.bytes, 0), batch.byteLength);
    this.next = BATCH_HEADER;
  }

  /** Moves to the next record; false at the end. */
  advance(): boolean {
    const b = this.bytes;
    const p = this.next;
    if (p + RECORD_HEADER > this.end) return this.close();
    const length = getU32(b, p + 8);
    const start = p + RECORD_HEADER;
    if (length > this.end - start) return this.close();
    this.associationId = getU32(b, p);
    this.kind = getU16(b, p + 4);
    this.start = start;
    this.length = length;
    this.next = start + ((length + 3) & ~3);
    return true;
  }

  /** The current record's payload (a view: the batch is never written again). */
  payload(): Uint8Array {
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.start, this.length);
  }

  u32(offset: number): number {
    return getU32(this.bytes, this.start + offset);
  }

  /** At the end the batch is let go (its payload views keep it while they live). */
  private close(): false {
    this.bytes = EMPTY;
    return false;
  }
}

const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------- I/O thread → shard

export class ToShardWriter extends BatchWriter {
  asapMessage(associationId: number, message: Uint8Array): void {
    this.bytesRecord(associationId, ToShard.AsapMessage, message);
  }

  /** `addresses`: every peer address (the primary, remote.address, goes first in any case). */
  associationUp(associationId: number, remote: RemoteTransport, addresses: readonly string[] = []): void {
    const list = [remote.address];
    for (const a of addresses) if (a !== remote.address && list.length < MAX_PEER_ADDRESSES) list.push(a);
    const parts: Uint8Array[] = [new Uint8Array([remote.port >>> 8, remote.port & 0xff, list.length])];
    for (const a of list) {
      const text = textEncoder.encode(a).subarray(0, 255);
      parts.push(new Uint8Array([text.length]), text);
    }
    this.partsRecord(associationId, ToShard.AssociationUp, parts);
  }

  associationDown(associationId: number): void {
    this.record(associationId, ToShard.AssociationDown, 0);
  }

  associationDetached(associationId: number): void {
    this.record(associationId, ToShard.AssociationDetached, 0);
  }

  enrpHandleUpdate(message: Uint8Array): void {
    this.bytesRecord(0, ToShard.EnrpHandleUpdate, message);
  }

  enrpHandleTable(message: Uint8Array): void {
    this.bytesRecord(0, ToShard.EnrpHandleTable, message);
  }

  enrpAuditBegin(owner: number): void {
    this.wordsRecord(0, ToShard.EnrpAuditBegin, owner);
  }

  enrpAuditEnd(owner: number): void {
    this.wordsRecord(0, ToShard.EnrpAuditEnd, owner);
  }

  enrpTakeOver(from: number, to: number): void {
    this.wordsRecord(0, ToShard.EnrpTakeOver, from, to);
  }

  handleTablePage(session: number, r: PageRequest): void {
    this.wordsRecord(session, ToShard.HandleTablePage, r.owner, r.maxElements, r.maxBytes, r.senderId, r.receiverId);
  }

  handleTableEnd(session: number): void {
    this.record(session, ToShard.HandleTableEnd, 0);
  }
}

/** What a shard does with each record kind; payload views are valid while the batch lives. */
export interface ToShardHandler {
  asapMessage(associationId: number, message: Uint8Array): void;
  /** `addresses`: the association's peer addresses, the primary first. */
  associationUp(associationId: number, remote: RemoteTransport, addresses: string[]): void;
  associationDown(associationId: number): void;
  associationDetached(associationId: number): void;
  enrpHandleUpdate(message: Uint8Array): void;
  enrpHandleTable(message: Uint8Array): void;
  enrpAuditBegin(owner: number): void;
  enrpAuditEnd(owner: number): void;
  enrpTakeOver(from: number, to: number): void;
  handleTablePage(session: number, request: PageRequest): void;
  handleTableEnd(session: number): void;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** The peer addresses of an AssociationUp payload (after port and count); a short payload ends the list. */
function readAddresses(payload: Uint8Array): string[] {
  const count = payload[2]!;
  const out: string[] = [];
  let p = 3;
  for (let i = 0; i < count && p < payload.length; i++) {
    const length = payload[p]!;
    if (p + 1 + length > payload.length) break;
    out.push(textDecoder.decode(payload.subarray(p + 1, p + 1 + length)));
    p += 1 + length;
  }
  return out;
}

/**
 * The cursor a reader uses, lent out while it reads (a handler that read another batch of the
 * same direction meanwhile would get a cursor of its own).
 */
class CursorLender {
  private free: BatchCursor | null = new BatchCursor();
  take(): BatchCursor {
    const c = this.free ?? new BatchCursor();
    this.free = null;
    return c;
  }
  give(c: BatchCursor): void {
    this.free = c;
  }
}

const toShardCursors = new CursorLender();

/** Decodes a batch for a shard; records too short for their kind, and unknown kinds, are skipped. */
export function readToShard(batch: ArrayBuffer, h: ToShardHandler): void {
  const c = toShardCursors.take();
  try {
    c.open(batch);
    while (c.advance()) {
      const id = c.associationId;
      const n = c.length;
      switch (c.kind) {
        case ToShard.AsapMessage:
          h.asapMessage(id, c.payload());
          break;
        case ToShard.AssociationUp: {
          if (n < 3) break;
          const payload = c.payload();
          const addresses = readAddresses(payload);
          if (addresses.length === 0) break;
          h.associationUp(id, { port: (payload[0]! << 8) | payload[1]!, address: addresses[0]! }, addresses);
          break;
        }
        case ToShard.AssociationDown:
          h.associationDown(id);
          break;
        case ToShard.AssociationDetached:
          h.associationDetached(id);
          break;
        case ToShard.EnrpHandleUpdate:
          h.enrpHandleUpdate(c.payload());
          break;
        case ToShard.EnrpHandleTable:
          h.enrpHandleTable(c.payload());
          break;
        case ToShard.EnrpAuditBegin:
          if (n >= 4) h.enrpAuditBegin(c.u32(0));
          break;
        case ToShard.EnrpAuditEnd:
          if (n >= 4) h.enrpAuditEnd(c.u32(0));
          break;
        case ToShard.EnrpTakeOver:
          if (n >= 8) h.enrpTakeOver(c.u32(0), c.u32(4));
          break;
        case ToShard.HandleTablePage:
          if (n < 20) break;
          h.handleTablePage(id, { owner: c.u32(0), maxElements: c.u32(4), maxBytes: c.u32(8), senderId: c.u32(12), receiverId: c.u32(16) });
          break;
        case ToShard.HandleTableEnd:
          h.handleTableEnd(id);
          break;
        default:
          break;
      }
    }
  } finally {
    toShardCursors.give(c);
  }
}

// ---------------------------------------------------------------------------- shard → I/O thread

export class FromShardWriter extends BatchWriter {
  sendAsap(associationId: number, message: Uint8Array): void {
    this.bytesRecord(associationId, FromShard.SendAsap, message);
  }

  abortAssociation(associationId: number): void {
    this.record(associationId, FromShard.AbortAssociation, 0);
  }

  enrpHandleUpdate(message: Uint8Array): void {
    this.bytesRecord(0, FromShard.EnrpHandleUpdate, message);
  }

  handleTablePage(session: number, more: boolean, message: Uint8Array): void {
    this.wordAndBytesRecord(session, FromShard.HandleTablePage, more ? 1 : 0, message);
  }

  sendAsapToTransport(asapTransport: Uint8Array, message: Uint8Array): void {
    this.wordAndBytesRecord(0, FromShard.SendAsapToTransport, asapTransport.length, asapTransport, message);
  }
}

/**
 * What the I/O thread does with each record kind. Message views point into a transferred
 * batch that nobody writes again: they may be kept (sent without a copy).
 */
export interface FromShardHandler {
  sendAsap(associationId: number, message: Uint8Array): void;
  abortAssociation(associationId: number): void;
  enrpHandleUpdate(message: Uint8Array): void;
  handleTablePage(session: number, more: boolean, message: Uint8Array): void;
  sendAsapToTransport(asapTransport: Uint8Array, message: Uint8Array): void;
}

const fromShardCursors = new CursorLender();

export function readFromShard(batch: ArrayBuffer, h: FromShardHandler): void {
  const c = fromShardCursors.take();
  try {
    c.open(batch);
    while (c.advance()) {
      const id = c.associationId;
      const n = c.length;
      switch (c.kind) {
        case FromShard.SendAsap:
          h.sendAsap(id, c.payload());
          break;
        case FromShard.AbortAssociation:
          h.abortAssociation(id);
          break;
        case FromShard.EnrpHandleUpdate:
          h.enrpHandleUpdate(c.payload());
          break;
        case FromShard.HandleTablePage:
          if (n >= 4) h.handleTablePage(id, c.u32(0) === 1, c.payload().subarray(4));
          break;
        case FromShard.SendAsapToTransport: {
          if (n < 4) break;
          const length = c.u32(0);
          if (length > n - 4) break;
          const payload = c.payload();
          h.sendAsapToTransport(payload.subarray(4, 4 + length), payload.subarray(4 + length));
          break;
        }
        default:
          break;
      }
    }
  } finally {
    fromShardCursors.give(c);
  }
}

// ---------------------------------------------------------------------------- control messages

/** Control requests (structured-cloned objects); batches travel as bare ArrayBuffers. */
export type ShardRequest =
  | { op: 'stats'; id: number }
  | { op: 'associationElements'; id: number; associationId: number }
  /** The shard's part of a handlespace snapshot (src/snapshot/part-writer.ts). */
  | { op: 'snapshotPart'; id: number }
  /**
   * Warm restart: take this shard's pools from a snapshot file's bytes (src/snapshot/restore.ts),
   * in the background, `sliceMs` of each event-loop turn (0: all of them before answering).
   * Answered once the part is opened and checked.
   */
  | { op: 'restoreSnapshot'; id: number; snapshot: SharedArrayBuffer; sliceMs: number }
  /** Where the restore stands now, or (`wait`) once it is complete; null: there was none. */
  | { op: 'restoreProgress'; id: number; wait: boolean }
  /** Ones'-complement sums behind the PE checksums of these owners (RFC 5353 §3.6.2). */
  | { op: 'checksums'; id: number; owners: number[] }
  | { op: 'owners'; id: number }
  | { op: 'dump'; id: number }
  | { op: 'handlespace'; id: number }
  /** The shard's figures for /metrics (src/registrar/metrics.ts); a scrape resets the batch maximum and event-loop delay windows. */
  | { op: 'metrics'; id: number; resetWindows: boolean }
  /** An operator removes an own PE (the control channel's admin API), as a deregistration would. */
  | { op: 'removeElement'; id: number; poolHandle: Uint8Array; peId: number }
  /** The admin API: every pool without its elements; one pool with them (null: not here). */
  | { op: 'poolSummaries'; id: number }
  | { op: 'pool'; id: number; poolHandle: Uint8Array };

export type ShardReply =
  | { op: 'stats'; id: number; pools: number; poolElements: number; timers: number; counters: AsapCounters & EnrpHandlespaceCounters & SubscriptionCounters }
  | { op: 'checksums'; id: number; sums: number[] }
  | { op: 'owners'; id: number; owners: number[] }
  | { op: 'dump'; id: number; rows: DumpRow[] }
  | { op: 'handlespace'; id: number; pools: DumpPool[] }
  | { op: 'associationElements'; id: number; count: number }
  /** `bytes`: a finished Part FlatBuffer, transferred; `error`: why there is none. */
  | { op: 'snapshotPart'; id: number; bytes: ArrayBuffer; pools: number; elements: number; error: string | null }
  | { op: 'restoreSnapshot'; id: number; progress: RestoreProgress }
  | { op: 'restoreProgress'; id: number; progress: RestoreProgress | null }
  | { op: 'metrics'; id: number; metrics: ShardMetrics }
  | { op: 'removeElement'; id: number; outcome: 'removed' | 'unknown' | 'not-own' }
  | { op: 'poolSummaries'; id: number; pools: PoolSummary[] }
  | { op: 'pool'; id: number; pool: DumpPool | null }
  | { op: 'log'; level: 'info' | 'warn'; fields: object; message: string };

/** A request without its id (the request path assigns ids). */
export type ShardRequestBody = ShardRequest extends infer R ? (R extends ShardRequest ? Omit<R, 'id'> : never) : never;
