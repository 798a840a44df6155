// The control channel between a PU and a PE (RFC 5352 §3.8 note): ASAP messages with PPID 11
// multiplexed on the data association, beside application data under the application's PPID.
// Only ASAP_COOKIE, ASAP_COOKIE_ECHO and ASAP_BUSINESS_CARD travel here (RFC 5352 §3.8-3.9).
import { AsapType, PPID_ASAP, PPID_ENRP } from '../wire/constants.js';
import { decodeAsap } from '../wire/decode.js';
import { encodeMessage } from '../wire/encode.js';
import type { PoolElementParameter } from '../wire/parameters.js';
import { policySettings } from '../wire/policy-settings.js';
import { SendQueueFullError, type Association } from '../transport/sctp-provider.js';
import type { ResolvedPoolElement } from './pool-user.js';
import { fromTransportParameter, toTransportParameter } from './user-transport.js';

/**
 * Default PPID of application data: 0, "unspecified by SCTP" (RFC 9260 §3.3.1), i.e. the
 * application's own. Anything but ASAP's 11 and ENRP's 12 may be chosen.
 */
export const DEFAULT_DATA_PPID = 0;

/** What a control-channel message carried, in the client's public forms. */
export type ControlMessage =
  | { kind: 'cookie'; cookie: Uint8Array }
  | { kind: 'cookie-echo'; cookie: Uint8Array }
  | { kind: 'business-card'; poolHandle: Uint8Array; poolElements: ResolvedPoolElement[] }
  | { kind: 'other'; type: number }
  | { kind: 'malformed'; reason: string };

/** Throws RangeError for a PPID the application may not use for data (its own configuration). */
export function checkDataPpid(ppid: number): number {
  if (!Number.isInteger(ppid) || ppid < 0 || ppid > 0xffffffff) throw new RangeError(`PPID ${ppid} is not a 32-bit unsigned integer`);
  if (ppid === PPID_ASAP || ppid === PPID_ENRP) throw new RangeError(`PPID ${ppid} is reserved for ${ppid === PPID_ASAP ? 'ASAP' : 'ENRP'}; choose another for application data`);
  return ppid;
}

export function encodeCookie(cookie: Uint8Array): Uint8Array {
  return encodeMessage({ protocol: 'asap', type: AsapType.Cookie, flags: 0, paddedLength: false, unknownParams: null, cookie });
}

export function encodeCookieEcho(cookie: Uint8Array): Uint8Array {
  return encodeMessage({ protocol: 'asap', type: AsapType.CookieEcho, flags: 0, paddedLength: false, unknownParams: null, cookie });
}

/** A Pool Element parameter for a business card from the public form of an element. */
export function toPoolElementParameter(e: ResolvedPoolElement): PoolElementParameter | null {
  if (e.userTransport === null) return null;
  return {
    peId: e.peId,
    homeRegistrarId: e.homeRegistrarId,
    registrationLife: e.registrationLife,
    userTransport: toTransportParameter(e.userTransport, []),
    policy: policySettings(e.policy.type, e.policy),
    asapTransport: null,
  };
}

/** ASAP_BUSINESS_CARD (RFC 5352 §2.2.13): the pool handle and the failover order. */
export function encodeBusinessCard(poolHandle: Uint8Array, failoverOrder: readonly ResolvedPoolElement[]): Uint8Array {
  const poolElements: PoolElementParameter[] = [];
  for (const e of failoverOrder) {
    const p = toPoolElementParameter(e);
    if (p !== null) poolElements.push(p);
  }
  return encodeMessage({ protocol: 'asap', type: AsapType.BusinessCard, flags: 0, paddedLength: false, unknownParams: null, poolHandle, poolElements });
}

/** Public form of a card's element; the policy is copied (the decoded one may hold views). */
function resolved(p: PoolElementParameter): ResolvedPoolElement {
  return {
    peId: p.peId,
    homeRegistrarId: p.homeRegistrarId,
    registrationLife: p.registrationLife,
    userTransport: fromTransportParameter(p.userTransport),
    policy: policySettings(p.policy.type, { ...p.policy, raw: p.policy.raw === null ? null : p.policy.raw.slice() }),
  };
}

/**
 * Decodes a PPID 11 message of the control channel. Cookies are copied out of the received
 * buffer: the PU keeps the last one for as long as the session lives (RFC 5352 §3.8).
 */
export function decodeControl(payload: Uint8Array): ControlMessage {
  const r = decodeAsap(payload);
  if (!r.ok) return { kind: 'malformed', reason: r.error.reason };
  const m = r.message;
  if (m.protocol !== 'asap') return { kind: 'other', type: m.type };
  switch (m.type) {
    case AsapType.Cookie:
      return { kind: 'cookie', cookie: m.cookie.slice() };
    case AsapType.CookieEcho:
      return { kind: 'cookie-echo', cookie: m.cookie.slice() };
    case AsapType.BusinessCard:
      return { kind: 'business-card', poolHandle: m.poolHandle.slice(), poolElements: m.poolElements.map(resolved) };
    default:
      return { kind: 'other', type: m.type };
  }
}

/** A control-channel message (PPID 11, RFC 5352 §3.8-3.9): advisory, so a full send queue drops it (false). */
export function sendControl(a: Association, message: Uint8Array): boolean {
  try {
    return a.send(message, PPID_ASAP);
  } catch (error) {
    if (error instanceof SendQueueFullError) return false;
    throw error;
  }
}
