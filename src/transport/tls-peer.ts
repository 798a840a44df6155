// Who a TLS peer authenticated as (RFC 5352 §9.3: a secured registrar authenticates its PE
// registrants), kept on its stream association for the registrar's authorization: the PSK
// identity it used, or its certificate's subject and the pool handles the certificate names.
//
// A certificate names pools in subjectAltName URIs of the form
//   rserpool:pool:<pool handle>
// the pool handle's bytes percent-encoded where they are not URI-safe (RFC 3986 §2.1), e.g.
// `URI:rserpool:pool:echo` or `URI:rserpool:pool:my%20pool`; `rserpool:pool:*` names every
// pool. Other URIs and other SAN kinds are ignored.
import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';

export interface TlsPeer {
  /** The PSK identity the handshake used, or null (certificate). */
  pskIdentity: string | null;
  /** The peer certificate's subject CN (certificate handshakes), or null (a PSK, or a certificate without CN). */
  certificateSubject: string | null;
  /**
   * Pool handles (as latin1 text of their bytes) the certificate names, '*' for all; null when
   * it names none (or the peer used a PSK).
   */
  certificatePools: ReadonlySet<string> | null;
}

export const POOL_URI_PREFIX = 'rserpool:pool:';

/** The peer of a finished handshake; `pskIdentity` when a PSK was used; `x509`: the peer's certificate if already read. */
export function tlsPeerOf(socket: tls.TLSSocket, pskIdentity: string | null, x509: X509Certificate | undefined = socket.getPeerX509Certificate()): TlsPeer {
  if (pskIdentity !== null) return { pskIdentity, certificateSubject: null, certificatePools: null };
  // No CN: null (a pool map's cn: line can name no such certificate).
  const subject = x509?.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? null;
  return { pskIdentity: null, certificateSubject: subject, certificatePools: poolsOfSubjectAltName(x509?.subjectAltName) };
}

/**
 * The pools named by `rserpool:pool:` URIs in a subjectAltName as Node prints it
 * ("URI:a, DNS:b, IP Address:c"; an entry with a comma or quote is printed JSON-quoted).
 * Null when none is named; an entry that does not decode is ignored (names nothing).
 */
export function poolsOfSubjectAltName(san: string | undefined): ReadonlySet<string> | null {
  if (san === undefined || san === '') return null;
  const pools = new Set<string>();
  for (const entry of splitSubjectAltName(san)) {
    if (!entry.startsWith('URI:')) continue;
    const uri = unquote(entry.slice(4));
    if (uri === null || !uri.startsWith(POOL_URI_PREFIX)) continue;
    const handle = uri.slice(POOL_URI_PREFIX.length);
    if (handle === '*') {
      pools.add('*');
      continue;
    }
    const bytes = percentDecode(handle);
    if (bytes !== null && bytes.length > 0) pools.add(bytes.toString('latin1'));
  }
  return pools.size > 0 ? pools : null;
}

/** Entries separated by ", ", a JSON-quoted value kept whole. */
function splitSubjectAltName(san: string): string[] {
  const entries: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < san.length; i++) {
    const c = san[i];
    if (c === '"' && san[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === ',' && san[i + 1] === ' ') {
      entries.push(san.slice(start, i));
      start = i + 2;
      i++;
    }
  }
  entries.push(san.slice(start));
  return entries;
}

function unquote(value: string): string | null {
  if (!value.startsWith('"')) return value;
  try {
    const v: unknown = JSON.parse(value);
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** %XX escapes to bytes, other characters as UTF-8; null for a broken escape. */
export function percentDecode(text: string): Buffer | null {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '%') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c, 'utf8')) out.push(b);
    }
  }
  return Buffer.from(out);
}
