// Who may do what over which ASAP association: the registrar's TLS policy (RFC 5352 §9.3,
// "secured ENRP server"), applied on the I/O thread before a message is routed to a shard, so
// a refused message reaches no shard and changes nothing.
//
// - `--tls-only`: ASAP that did not come over TLS (SCTP, plain TCP) is refused. A
//   REGISTRATION or DEREGISTRATION gets its response with an Operation Error "Rejected due to
//   Security Considerations" (RFC 5354 §3.12.10; RFC 5352 §9.3: "it will receive an error
//   message response indicated as an error due to security considerations and the
//   registration will be rejected"), a HANDLE_RESOLUTION a response with that error and no
//   PE; keep-alive acks and unreachable reports are dropped (a plain association has no PE,
//   and its reports must not count against PEs).
// - Per-pool-handle authorization: a TLS peer may register and deregister only under the pool
//   handles its credentials name: its certificate's `rserpool:pool:<handle>` subjectAltName
//   URIs (src/transport/tls-peer.ts), else the line of `--tls-pool-map` for its PSK identity
//   (`psk:NAME`) or certificate CN (`cn:NAME`): two name spaces, so that a certificate whose
//   CN is a PSK identity does not get that identity's pools. Anything else: the rejecting
//   response, nothing changes. Resolutions are not restricted (a PU may resolve any pool).
//
// Which peers are restricted: a certificate that names pools always is; once `--tls-pool-map`
// is given every peer is (a TLS peer named nowhere may register nothing). Plain associations
// (SCTP, plain TCP) may not register once a pool map is given or TLS is served with a CA
// (--tls-ca: any certificate of it may name pools, and pools it names would mean nothing if
// the same PE could register any pool over SCTP); a map line `plain POOL...` opens those pools
// (or `plain *` all) to them again; a map of `plain` lines only restricts no TLS peer (but
// certificates naming pools). Without a map and a CA, PSK peers and plain associations may
// register under any handle.
import { readFileSync } from 'node:fs';
import type { Association } from '../transport/sctp-provider.js';
import { StreamAssociation } from '../transport/stream-association.js';
import { TlsCredentialError } from '../transport/tls-credentials.js';
import { percentDecode, type TlsPeer } from '../transport/tls-peer.js';
import { AsapFlag, AsapType, Cause } from '../wire/constants.js';
import { decodeAsap } from '../wire/decode.js';
import { encodeHandleResolutionResponse, encodeMessage } from '../wire/encode.js';
import { errorCause } from '../wire/parameters.js';
import { Writer } from '../wire/writer.js';

/**
 * Pool handles (latin1 text of their bytes, '*' for all) by `psk:IDENTITY`, `cn:COMMON-NAME`,
 * or `plain` (SCTP and plain TCP associations).
 */
export type PoolMap = ReadonlyMap<string, ReadonlySet<string>>;

/** The key of plain associations' line in a pool map. */
export const PLAIN_POOL_MAP_KEY = 'plain';

/** Which credentials the registrar accepts, for unprefixed map lines: unambiguous when only one kind is. */
export interface PoolMapKinds {
  /** --tls-psk given. */
  psk: boolean;
  /** --tls-ca given: certificates, by their CN. */
  cn: boolean;
}

/** A map file bigger than this is refused (it is a list of names, not data). */
const MAX_POOL_MAP_BYTES = 4 * 1024 * 1024;

/**
 * `--tls-pool-map FILE`: one `name pool-handle [pool-handle...]` a line, whitespace between;
 * `name` is `psk:IDENTITY` (a PSK identity of `--tls-psk`), `cn:NAME` (a certificate's subject
 * CN) or `plain` (SCTP and plain TCP associations); a name without prefix is taken as the one
 * kind of credential the registrar accepts (`kinds`), and is an error when it accepts both. A
 * pool handle is its text (UTF-8) with %XX escapes for other bytes and spaces, `*` for every
 * pool. Blank lines and lines starting with # are skipped; a name may appear on several lines
 * (the pools add up).
 */
export function parsePoolMap(text: string, path: string, kinds: PoolMapKinds = { psk: true, cn: true }): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  const lines = text.split(/\r?\n/);
  const hint = 'each line is psk:IDENTITY, cn:CERTIFICATE-CN or plain, then the pool handles it may register under, e.g. psk:pe-1 echo my%20pool (* for all)';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [given, ...pools] = line.split(/\s+/);
    const where = `--tls-pool-map ${path} line ${i + 1}`;
    if (pools.length === 0) throw new TlsCredentialError(`${where}: "${given}" names no pool handle`, hint);
    const name = poolMapKey(given!, kinds);
    if (name === null) {
      const both = kinds.psk && kinds.cn ? 'both PSKs (--tls-psk) and certificates (--tls-ca) are accepted' : 'neither --tls-psk nor --tls-ca is given';
      throw new TlsCredentialError(`${where}: "${given}" has no psk: or cn: prefix, and ${both}`, `write psk:${given} for a PSK identity or cn:${given} for a certificate's CN`);
    }
    if (name === 'psk:' || name === 'cn:') throw new TlsCredentialError(`${where}: "${given}" names no identity after its prefix`, hint);
    let set = map.get(name);
    if (set === undefined) map.set(name, (set = new Set()));
    for (const pool of pools) {
      if (pool === '*') {
        set.add('*');
        continue;
      }
      const bytes = percentDecode(pool);
      if (bytes === null) throw new TlsCredentialError(`--tls-pool-map ${path} line ${i + 1}: "${pool}" has a broken %XX escape`, hint);
      set.add(bytes.toString('latin1'));
    }
  }
  return map;
}

/** The map key of a line's name: prefixed, `plain`, or unprefixed when only one kind of credential is accepted; null when ambiguous. */
function poolMapKey(name: string, kinds: PoolMapKinds): string | null {
  if (name.startsWith('psk:') || name.startsWith('cn:') || name === PLAIN_POOL_MAP_KEY) return name;
  if (kinds.psk && !kinds.cn) return `psk:${name}`;
  if (kinds.cn && !kinds.psk) return `cn:${name}`;
  return null;
}

/** Reads and checks the map file (at start, before any port opens). */
export function loadPoolMap(path: string, kinds?: PoolMapKinds): Map<string, Set<string>> {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_POOL_MAP_BYTES) throw new TlsCredentialError(`--tls-pool-map ${path} is larger than ${MAX_POOL_MAP_BYTES} bytes`, 'give a list of names and pool handles');
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof TlsCredentialError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new TlsCredentialError(`cannot read --tls-pool-map ${path}: ${why}`, 'give --tls-pool-map a readable file');
  }
  return parsePoolMap(text, path, kinds);
}

/**
 * The pool handles a TLS peer's credentials name: its certificate's SAN URIs, else its map
 * line (`psk:` for a PSK identity, `cn:` for a certificate's CN; a certificate without CN has
 * none); null when named nowhere.
 */
export function poolsOfPeer(peer: TlsPeer, map: PoolMap | null): ReadonlySet<string> | null {
  if (peer.certificatePools !== null) return peer.certificatePools;
  if (map === null) return null;
  if (peer.pskIdentity !== null) return map.get(`psk:${peer.pskIdentity}`) ?? null;
  if (peer.certificateSubject !== null) return map.get(`cn:${peer.certificateSubject}`) ?? null;
  return null;
}

/** What an association may do; no gate (null) means anything. */
export type AsapGate =
  /** Not over TLS, and --tls-only: nothing but a rejection. */
  | { kind: 'plain-refused' }
  /**
   * An association the registrar started to a PE's ASAP transport after a takeover (RFC 5353
   * §3.5.2; over SCTP: a PE listens on no TLS port), under --tls-only: the PE's keep-alive
   * acks pass, anything else is refused as plain.
   */
  | { kind: 'keep-alive-only' }
  /** May resolve, not register (plain with a pool map or a CA, or a TLS peer named nowhere). */
  | { kind: 'no-registration'; plain?: true }
  /** May register only under these pool handles. */
  | { kind: 'pools'; pools: ReadonlySet<string> };

const PLAIN_REFUSED: AsapGate = { kind: 'plain-refused' };
const KEEP_ALIVE_ONLY: AsapGate = { kind: 'keep-alive-only' };
const NO_REGISTRATION: AsapGate = { kind: 'no-registration' };
const PLAIN_NO_REGISTRATION: AsapGate = { kind: 'no-registration', plain: true };

export interface AsapAccessSettings {
  tlsOnly: boolean;
  poolMap: PoolMap | null;
  /** TLS is served with a CA (--tls-ca): certificates may name pools, plain associations may not register (unless a `plain` map line says so). */
  certificates?: boolean;
}

/** What asapAccessSettings() reads of the registrar's configuration. */
export interface AsapAccessConfig {
  tlsOnly: boolean;
  tlsPoolMap?: string | undefined;
  tlsPsk?: string | undefined;
  tlsCa?: string | undefined;
}

/**
 * The settings of a registrar (at start, before any port opens: a bad map file is a
 * TlsCredentialError); `asapTls`: whether ASAP is served over TLS (with a CA, certificates
 * may name pools).
 */
export function asapAccessSettings(c: AsapAccessConfig, asapTls: boolean): AsapAccessSettings {
  const kinds = { psk: c.tlsPsk !== undefined, cn: c.tlsCa !== undefined };
  return { tlsOnly: c.tlsOnly, poolMap: c.tlsPoolMap !== undefined ? loadPoolMap(c.tlsPoolMap, kinds) : null, certificates: asapTls && c.tlsCa !== undefined };
}

/** Plain associations may not register everywhere (said at start, so that an operator knows why SCTP PEs are rejected). */
export function plainRegistrationRestricted(s: AsapAccessSettings): boolean {
  return !s.tlsOnly && (s.poolMap !== null || s.certificates === true) && s.poolMap?.get(PLAIN_POOL_MAP_KEY)?.has('*') !== true;
}

/** The TLS peer of an association we accepted over TLS; null for SCTP, plain TCP and associations we started. */
export function tlsPeerOfAssociation(a: Association): TlsPeer | null {
  return a instanceof StreamAssociation ? a.tlsPeer : null;
}

/** How logs name a TLS peer: `psk:IDENTITY`, `cn:CERTIFICATE-CN` (the pool map's names), or null (a certificate without CN). */
export function tlsPeerName(peer: TlsPeer): string | null {
  return peer.pskIdentity !== null ? `psk:${peer.pskIdentity}` : peer.certificateSubject !== null ? `cn:${peer.certificateSubject}` : null;
}

/** The gate of an association, decided once when it comes up; `started`: one we started to a PE. */
export function asapGateFor(a: Association, s: AsapAccessSettings, started = false): AsapGate | null {
  const peer = tlsPeerOfAssociation(a);
  if (peer === null) {
    if (s.tlsOnly) return started ? KEEP_ALIVE_ONLY : PLAIN_REFUSED;
    const plain = s.poolMap?.get(PLAIN_POOL_MAP_KEY);
    if (plain !== undefined) return plain.has('*') ? null : { kind: 'pools', pools: plain };
    return s.poolMap !== null || s.certificates === true ? PLAIN_NO_REGISTRATION : null;
  }
  const pools = poolsOfPeer(peer, s.poolMap);
  if (pools === null) return s.poolMap !== null && mapHoldsTlsPeers(s.poolMap) ? NO_REGISTRATION : null;
  if (pools.has('*')) return null;
  return { kind: 'pools', pools };
}

/** Whether a map holds TLS peers named nowhere to nothing: any map but one of `plain` lines only (which says what plain associations may do, and no more). */
function mapHoldsTlsPeers(map: PoolMap): boolean {
  return map.size !== 1 || !map.has(PLAIN_POOL_MAP_KEY);
}

/** The verdict on one message: pass it on, drop it, or answer with `response` (and route nothing). */
export type AsapVerdict = { action: 'pass' } | { action: 'drop' } | { action: 'reject'; response: Uint8Array; reason: string; poolHandle: Uint8Array | null };

const PASS: AsapVerdict = { action: 'pass' };
const DROP: AsapVerdict = { action: 'drop' };

/** Applies a gate to one ASAP message (PPID checked by the caller). */
export function asapVerdict(gate: AsapGate, payload: Uint8Array): AsapVerdict {
  const type = payload[0];
  if (gate.kind === 'keep-alive-only' && type === AsapType.EndpointKeepAliveAck) return PASS;
  const plain = gate.kind === 'plain-refused' || gate.kind === 'keep-alive-only';
  switch (type) {
    case AsapType.Registration:
    case AsapType.Deregistration:
      break;
    case AsapType.HandleResolution:
      if (!plain) return PASS;
      break;
    case AsapType.Error:
    case AsapType.ServerAnnounce:
      return PASS; // logged or ignored by the registrar, never routed
    default:
      return plain ? DROP : PASS;
  }
  const result = decodeAsap(payload);
  // Undecodable: a plain one is dropped; a TLS peer's goes on to be answered with the decoding error.
  if (!result.ok) return plain ? DROP : PASS;
  const m = result.message;
  if (m.protocol !== 'asap') return DROP;
  const reason = plain
    ? 'not over TLS (--tls-only)'
    : gate.kind === 'no-registration'
      ? gate.plain === true
        ? 'not over TLS (plain associations may not register once --tls-ca or --tls-pool-map is given; a map line "plain POOL..." allows it)'
        : 'its credentials name no pool handle'
      : 'its credentials do not name this pool handle';
  const error = { causes: [errorCause(Cause.RejectedDueToSecurityConsiderations)] };
  switch (m.type) {
    case AsapType.Registration:
      if (gate.kind === 'pools' && gate.pools.has(latin1(m.poolHandle))) return PASS;
      return {
        action: 'reject',
        reason,
        poolHandle: m.poolHandle,
        response: encodeMessage({ protocol: 'asap', type: AsapType.RegistrationResponse, flags: AsapFlag.Reject, paddedLength: false, unknownParams: null, poolHandle: m.poolHandle, peId: m.poolElement.peId, error }),
      };
    case AsapType.Deregistration:
      if (gate.kind === 'pools' && gate.pools.has(latin1(m.poolHandle))) return PASS;
      return {
        action: 'reject',
        reason,
        poolHandle: m.poolHandle,
        response: encodeMessage({ protocol: 'asap', type: AsapType.DeregistrationResponse, flags: 0, paddedLength: false, unknownParams: null, poolHandle: m.poolHandle, peId: m.peId, error }),
      };
    case AsapType.HandleResolution:
      return { action: 'reject', reason, poolHandle: m.poolHandle, response: encodeHandleResolutionResponse(new Writer(64 + m.poolHandle.length), 0, m.poolHandle, null, [], 0, error).slice() };
    default:
      return DROP;
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** What the gates turned away, for the registrar's stats. */
export interface AsapAccessCounters {
  /** Messages answered with Rejected due to Security Considerations. */
  rejected: number;
  /** Messages dropped (keep-alive acks, reports and others over plain associations under --tls-only). */
  dropped: number;
}
