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
//   or certificate CN. Anything else: the rejecting response, nothing changes. Resolutions are
//   not restricted (a PU may resolve any pool).
//
// Which peers are restricted: a certificate that names pools always is; once `--tls-pool-map`
// is given every peer is (a TLS peer named nowhere may register nothing, and plain
// associations may not register at all, else authorization would be bypassed over SCTP).
// Without a map, PSK peers and certificates naming no pool may register under any handle.
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

/** Pool handles (latin1 text of their bytes, '*' for all) by PSK identity or certificate CN. */
export type PoolMap = ReadonlyMap<string, ReadonlySet<string>>;

/** A map file bigger than this is refused (it is a list of names, not data). */
const MAX_POOL_MAP_BYTES = 4 * 1024 * 1024;

/**
 * `--tls-pool-map FILE`: one `name pool-handle [pool-handle...]` a line, whitespace between;
 * `name` is a PSK identity of `--tls-psk` or a certificate's subject CN; a pool handle is its
 * text (UTF-8) with %XX escapes for other bytes and spaces, `*` for every pool. Blank lines and
 * lines starting with # are skipped; a name may appear on several lines (the pools add up).
 */
export function parsePoolMap(text: string, path: string): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  const lines = text.split(/\r?\n/);
  const hint = 'each line is a PSK identity or certificate CN and the pool handles it may register under, e.g. pe-1 echo my%20pool (* for all)';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [name, ...pools] = line.split(/\s+/);
    if (pools.length === 0) throw new TlsCredentialError(`--tls-pool-map ${path} line ${i + 1}: "${name}" names no pool handle`, hint);
    let set = map.get(name!);
    if (set === undefined) map.set(name!, (set = new Set()));
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

/** Reads and checks the map file (at start, before any port opens). */
export function loadPoolMap(path: string): Map<string, Set<string>> {
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
  return parsePoolMap(text, path);
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
  /** May resolve, not register (plain with a pool map, or a TLS peer named nowhere). */
  | { kind: 'no-registration' }
  /** May register only under these pool handles. */
  | { kind: 'pools'; pools: ReadonlySet<string> };

const PLAIN_REFUSED: AsapGate = { kind: 'plain-refused' };
const KEEP_ALIVE_ONLY: AsapGate = { kind: 'keep-alive-only' };
const NO_REGISTRATION: AsapGate = { kind: 'no-registration' };

export interface AsapAccessSettings {
  tlsOnly: boolean;
  poolMap: PoolMap | null;
}

/** The TLS peer of an association we accepted over TLS; null for SCTP, plain TCP and associations we started. */
export function tlsPeerOfAssociation(a: Association): TlsPeer | null {
  return a instanceof StreamAssociation ? a.tlsPeer : null;
}

/** The gate of an association, decided once when it comes up; `started`: one we started to a PE. */
export function asapGateFor(a: Association, s: AsapAccessSettings, started = false): AsapGate | null {
  const peer = tlsPeerOfAssociation(a);
  if (peer === null) return s.tlsOnly ? (started ? KEEP_ALIVE_ONLY : PLAIN_REFUSED) : s.poolMap !== null ? NO_REGISTRATION : null;
  const name = peer.pskIdentity ?? peer.certificateSubject;
  const pools = peer.certificatePools ?? (name !== null ? s.poolMap?.get(name) : undefined) ?? null;
  if (pools === null) return s.poolMap !== null ? NO_REGISTRATION : null;
  if (pools.has('*')) return null;
  return { kind: 'pools', pools };
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
  const reason = plain ? 'not over TLS (--tls-only)' : gate.kind === 'no-registration' ? 'its credentials name no pool handle' : 'its credentials do not name this pool handle';
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
