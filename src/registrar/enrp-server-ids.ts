// Which ENRP server IDs a TLS credential may speak for (`--enrp-tls-server-ids FILE`), so that
// an authenticated member of the scope cannot claim another registrar's ID on a connection of
// its own (RFC 5355 §2.9-2.10: a peer speaks only for itself; the association binding in
// enrp-service.ts ties one connection to one ID, this ties the credential to its IDs).
//
// One line per credential: `psk:IDENTITY ID [ID...]` or `cn:CERTIFICATE-CN ID [ID...]`, IDs
// in decimal or 0x hex (1..0xffffffff), `#` comments and blank lines skipped; a name may come
// on several lines (its IDs add up). Once the file is given, a credential named nowhere in it
// speaks for no ID at all. A scope with one PSK file shares one identity between all its
// registrars (each uses the file's first identity): list every registrar's ID on that
// identity's line; only certificates (one CN per registrar) bind each registrar to its own ID.
import { readFileSync } from 'node:fs';
import { TlsCredentialError } from '../transport/tls-credentials.js';
import type { TlsPeer } from '../transport/tls-peer.js';
import { tlsPeerName } from './tls-authorization.js';

/** Server IDs by credential name (`psk:IDENTITY`, `cn:CN`). */
export type ServerIdMap = ReadonlyMap<string, ReadonlySet<number>>;

/** A file bigger than this is refused (a list of names and numbers). */
const MAX_SERVER_ID_MAP_BYTES = 1024 * 1024;
const HINT = 'each line is psk:IDENTITY or cn:CERTIFICATE-CN, then the ENRP server IDs it may speak for (decimal or 0x hex), e.g. cn:reg-a 0x0a000001';

export function parseServerIdMap(text: string, path: string): Map<string, Set<number>> {
  const map = new Map<string, Set<number>>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [name, ...ids] = line.split(/\s+/);
    const where = `--enrp-tls-server-ids ${path} line ${i + 1}`;
    if (!/^(psk|cn):./.test(name!)) throw new TlsCredentialError(`${where}: "${name}" is not psk:IDENTITY or cn:CERTIFICATE-CN`, HINT);
    if (ids.length === 0) throw new TlsCredentialError(`${where}: "${name}" names no server ID`, HINT);
    let set = map.get(name!);
    if (set === undefined) map.set(name!, (set = new Set()));
    for (const text of ids) {
      const id = /^(0x[0-9a-f]{1,8}|[0-9]{1,10})$/i.test(text) ? Number(text) : NaN;
      if (!(id >= 1 && id <= 0xffffffff)) throw new TlsCredentialError(`${where}: "${text}" is not a server ID (1..0xffffffff)`, HINT);
      set.add(id);
    }
  }
  return map;
}

/** Reads the file at start: a problem is a TlsCredentialError with a hint (fatal, before anything opens). */
export function loadServerIdMap(path: string): Map<string, Set<number>> {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_SERVER_ID_MAP_BYTES) throw new TlsCredentialError(`--enrp-tls-server-ids ${path} is larger than ${MAX_SERVER_ID_MAP_BYTES} bytes`, HINT);
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof TlsCredentialError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new TlsCredentialError(`cannot read --enrp-tls-server-ids ${path}: ${why}`, 'give --enrp-tls-server-ids a readable file');
  }
  return parseServerIdMap(text, path);
}

/** Whether the credential `peer` may speak for `serverId`: only for the IDs of its line. */
export function mayClaimServerId(map: ServerIdMap, peer: TlsPeer, serverId: number): boolean {
  const name = tlsPeerName(peer);
  return name !== null && map.get(name)?.has(serverId >>> 0) === true;
}
