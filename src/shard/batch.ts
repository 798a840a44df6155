// The batch format between the I/O thread and a shard worker. One batch is one ArrayBuffer,
// transferred (not copied) across the thread boundary, holding records:
//
//   u32 association id | u16 kind | u16 reserved | u32 payload length | payload, padded to 4
//
// The I/O thread fills one batch per shard per event-loop turn; a shard answers with one
// batch per batch it processed (plus batches for timer events).

/** Record kinds, I/O thread → shard. */
export const ToShard = {
  /** An ASAP message received on the association (PPID 11). */
  AsapMessage: 1,
  /** An association came up; payload: u16 remote port, then the remote address as text. */
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
  /** Next handle table page; association id = session; payload: `encodePageRequest`. */
  HandleTablePage: 9,
  /** A handle table session ended early; association id = session. */
  HandleTableEnd: 10,
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

/** ToShard.HandleTablePage payload. */
export interface PageRequest {
  /** 0: every PE; otherwise only this owner's (W flag, RFC 5353 §2.2). */
  owner: number;
  maxElements: number;
  /** About this many bytes per response at most; 0: no byte cap. */
  maxBytes: number;
  senderId: number;
  receiverId: number;
}

export function encodeWords(...words: number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(i * 4, w >>> 0));
  return out;
}

export function readWord(payload: Uint8Array, index: number): number {
  const p = index * 4;
  return ((payload[p]! << 24) | (payload[p + 1]! << 16) | (payload[p + 2]! << 8) | payload[p + 3]!) >>> 0;
}

export function encodePageRequest(r: PageRequest): Uint8Array {
  return encodeWords(r.owner, r.maxElements, r.maxBytes, r.senderId, r.receiverId);
}

export function decodePageRequest(payload: Uint8Array): PageRequest {
  return { owner: readWord(payload, 0), maxElements: readWord(payload, 1), maxBytes: readWord(payload, 2), senderId: readWord(payload, 3), receiverId: readWord(payload, 4) };
}

const RECORD_HEADER = 12;

export class BatchWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  /** Records in the current batch. */
  count = 0;

  constructor(initialSize = 16 * 1024) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** Appends a record; `payload` is copied (it is usually a view of a receive buffer). */
  add(associationId: number, kind: number, payload: Uint8Array | null): void {
    const length = payload === null ? 0 : payload.length;
    const padded = (length + 3) & ~3;
    this.ensure(RECORD_HEADER + padded);
    const v = this.view;
    const p = this.pos;
    v.setUint32(p, associationId);
    v.setUint16(p + 4, kind);
    v.setUint16(p + 6, 0);
    v.setUint32(p + 8, length);
    if (payload !== null) this.buf.set(payload, p + RECORD_HEADER);
    this.pos = p + RECORD_HEADER + padded;
    this.count++;
  }

  /**
   * Hands out the batch as an ArrayBuffer to transfer, and starts a new one. The buffer given
   * away is the writer's own (sized to fit); the next batch allocates afresh.
   */
  take(): ArrayBuffer {
    const used = this.pos;
    const out = this.buf.buffer.byteLength === used ? this.buf.buffer : this.buf.buffer.slice(0, used);
    if (out === this.buf.buffer) {
      this.buf = new Uint8Array(Math.max(16 * 1024, used));
      this.view = new DataView(this.buf.buffer);
    }
    this.pos = 0;
    this.count = 0;
    return out as ArrayBuffer;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
}

/** Calls `visit` for each record of a batch; payloads are views into the batch buffer. */
export function readBatch(
  batch: ArrayBuffer,
  visit: (associationId: number, kind: number, payload: Uint8Array) => void,
): void {
  const view = new DataView(batch);
  const bytes = new Uint8Array(batch);
  let p = 0;
  while (p + RECORD_HEADER <= batch.byteLength) {
    const associationId = view.getUint32(p);
    const kind = view.getUint16(p + 4);
    const length = view.getUint32(p + 8);
    const start = p + RECORD_HEADER;
    if (start + length > batch.byteLength) return; // cannot happen with BatchWriter; never read past the end
    visit(associationId, kind, bytes.subarray(start, start + length));
    p = start + ((length + 3) & ~3);
  }
}

/** Encodes an association's remote transport address for ToShard.AssociationUp. */
export function encodeRemote(address: string, port: number): Uint8Array {
  const text = new TextEncoder().encode(address);
  const out = new Uint8Array(2 + text.length);
  out[0] = port >>> 8;
  out[1] = port & 0xff;
  out.set(text, 2);
  return out;
}

export function decodeRemote(payload: Uint8Array): { address: string; port: number } {
  return { port: (payload[0]! << 8) | payload[1]!, address: new TextDecoder().decode(payload.subarray(2)) };
}
