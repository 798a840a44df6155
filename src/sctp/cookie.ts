// The State Cookie (RFC 9260 §5.1.3, §5.1.5): an INIT creates no state; what the TCB needs
// travels in the cookie of the INIT ACK, signed with HMAC-SHA256 under a secret of this
// endpoint. The secret rotates (every Valid.Cookie.Life) and the previous one is kept, so
// cookies in flight at a rotation stay valid. The cookie binds the peer's source address and
// port: a cookie replayed from elsewhere is discarded.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { addressToString, parseAddress } from '../wire/address.js';
import { readU16, readU32, writeU16, writeU32 } from './chunk.js';

/** What the TCB needs (§5.1.3), as carried in the cookie. */
export interface StateCookie {
  /** ms on the endpoint's clock when the cookie was made */
  createdAt: number;
  /** ms the cookie is valid for */
  lifespan: number;
  /** Our Initiate Tag (the Verification Tag the peer must use). */
  localTag: number;
  /** The peer's Initiate Tag. */
  peerTag: number;
  localInitialTsn: number;
  peerInitialTsn: number;
  peerReceiveWindow: number;
  /** Negotiated outbound streams: min(our OS, the peer's MIS). */
  outboundStreams: number;
  /** Negotiated inbound streams: min(our MIS, the peer's OS). */
  inboundStreams: number;
  /** Tie-tags (§5.2.2): zero unless a TCB existed when the INIT ACK was made. */
  localTieTag: number;
  peerTieTag: number;
  localPort: number;
  peerPort: number;
  /** The peer's UDP encapsulation port (udp mode), 0 otherwise. */
  peerUdpPort: number;
  /** The peer's source address of the INIT first, then the addresses its INIT listed. */
  peerAddresses: string[];
}

const VERSION = 1;
const FIXED = 56;
const MAC_LENGTH = 32;
const MAX_ADDRESSES = 17;

export type CookieVerdict =
  | { ok: true; cookie: StateCookie; stalenessMs: number }
  | { ok: false };

export class CookieSigner {
  #current: Buffer;
  #previous: Buffer | undefined;
  #generation = 0;
  #rotatedAt: number;

  constructor(
    private readonly rotateEveryMs: number,
    now: number,
  ) {
    this.#current = randomBytes(32);
    this.#rotatedAt = now;
  }

  /** Starts a new secret when the current one is older than the rotation interval. */
  #rotate(now: number): void {
    if (now - this.#rotatedAt < this.rotateEveryMs) return;
    this.#previous = this.#current;
    this.#current = randomBytes(32);
    this.#generation = (this.#generation + 1) & 0xff;
    this.#rotatedAt = now;
  }

  /** Makes a signed cookie. */
  make(cookie: StateCookie, now: number): Uint8Array {
    this.#rotate(now);
    const raw: Uint8Array[] = [];
    let n = FIXED + MAC_LENGTH;
    for (const a of cookie.peerAddresses) {
      if (raw.length >= MAX_ADDRESSES) break;
      const r = parseAddress(a);
      if (r === null || (r.length !== 4 && r.length !== 16)) continue;
      raw.push(r);
      n += 1 + r.length;
    }
    const b = Buffer.allocUnsafe(n);
    b[0] = VERSION;
    b[1] = this.#generation;
    b[2] = 0;
    b[3] = 0;
    const created = Math.max(0, Math.floor(cookie.createdAt));
    writeU32(b, 4, Math.floor(created / 0x100000000));
    writeU32(b, 8, created >>> 0);
    writeU32(b, 12, Math.min(cookie.lifespan, 0xffffffff));
    writeU32(b, 16, cookie.localTag);
    writeU32(b, 20, cookie.peerTag);
    writeU32(b, 24, cookie.localInitialTsn);
    writeU32(b, 28, cookie.peerInitialTsn);
    writeU32(b, 32, cookie.peerReceiveWindow);
    writeU16(b, 36, cookie.outboundStreams);
    writeU16(b, 38, cookie.inboundStreams);
    writeU32(b, 40, cookie.localTieTag);
    writeU32(b, 44, cookie.peerTieTag);
    writeU16(b, 48, cookie.localPort);
    writeU16(b, 50, cookie.peerPort);
    writeU16(b, 52, cookie.peerUdpPort);
    b[54] = raw.length;
    b[55] = 0;
    let o = FIXED;
    for (const r of raw) {
      b[o++] = r.length;
      b.set(r, o);
      o += r.length;
    }
    createHmac('sha256', this.#current).update(b.subarray(0, o)).digest().copy(b, o);
    return b;
  }

  /**
   * Authenticates a cookie (§5.1.5 steps 1-2) and unpacks it. Staleness (step 3) is reported,
   * not judged: §5.2.4 accepts a stale cookie whose tags match the existing association.
   */
  open(bytes: Uint8Array, now: number): CookieVerdict {
    if (bytes.length < FIXED + MAC_LENGTH || bytes[0] !== VERSION) return { ok: false };
    const generation = bytes[1]!;
    let secret: Buffer | undefined;
    if (generation === this.#generation) secret = this.#current;
    else if (generation === ((this.#generation + 255) & 0xff)) secret = this.#previous;
    if (secret === undefined) return { ok: false };
    const count = bytes[54]!;
    if (count > MAX_ADDRESSES) return { ok: false };
    let o = FIXED;
    const peerAddresses: string[] = [];
    for (let i = 0; i < count; i++) {
      if (o >= bytes.length) return { ok: false };
      const len = bytes[o]!;
      if ((len !== 4 && len !== 16) || o + 1 + len > bytes.length) return { ok: false };
      peerAddresses.push(addressToString(bytes.subarray(o + 1, o + 1 + len)));
      o += 1 + len;
    }
    if (o + MAC_LENGTH !== bytes.length) return { ok: false };
    const mac = createHmac('sha256', secret).update(bytes.subarray(0, o)).digest();
    if (!timingSafeEqual(mac, bytes.subarray(o, o + MAC_LENGTH))) return { ok: false };
    const createdAt = readU32(bytes, 4) * 0x100000000 + readU32(bytes, 8);
    const lifespan = readU32(bytes, 12);
    const cookie: StateCookie = {
      createdAt,
      lifespan,
      localTag: readU32(bytes, 16),
      peerTag: readU32(bytes, 20),
      localInitialTsn: readU32(bytes, 24),
      peerInitialTsn: readU32(bytes, 28),
      peerReceiveWindow: readU32(bytes, 32),
      outboundStreams: readU16(bytes, 36),
      inboundStreams: readU16(bytes, 38),
      localTieTag: readU32(bytes, 40),
      peerTieTag: readU32(bytes, 44),
      localPort: readU16(bytes, 48),
      peerPort: readU16(bytes, 50),
      peerUdpPort: readU16(bytes, 52),
      peerAddresses,
    };
    return { ok: true, cookie, stalenessMs: Math.max(0, Math.floor(now) - (createdAt + lifespan)) };
  }
}
