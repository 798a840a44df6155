// The control channel's JSON admin API (docs/operations.md, "Admin API"):
//   GET    /api                                     what is here
//   GET    /api/pools                               every pool: handle, policy, element count
//   GET    /api/pools/{handle}                      one pool with its elements
//   GET    /api/pools/{handle}/elements/{peId}      one element
//   DELETE /api/pools/{handle}/elements/{peId}      removes an own PE, as a deregistration by
//                                                   this registrar would (peers hear DEL_PE)
//   GET    /api/peers                               ENRP peers with state and checksums
//   GET    /api/stats                               the counters (GET /stats) and message counts
// {handle} is the pool handle as URL-encoded text (UTF-8 bytes), or `hex:` and its bytes in hex
// (for handles that are not text); {peId} is hexadecimal, with or without 0x (as the tools print
// it). Read-only but for the DELETE, which always needs the bearer token, on loopback too: it
// changes the handlespace the whole scope sees, so being on the host is not enough; a registrar
// without --control-token-file answers it 403. Errors are JSON: { "error": "..." }.
import type { ControlRequest, ControlRoute, ControlSource } from './control.js';
import type { DumpElement, DumpPool } from '../shard/handlespace-dump.js';
import { hexId } from '../wire/identifier-text.js';

/** Longest pool handle the API parses (RFC 5352 bounds handles by the registrar's limit; this is generous). */
const MAX_HANDLE_BYTES = 1024;

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `{handle}` of a path: URL-encoded text, or `hex:` and hex digits. */
export function parsePoolHandle(segment: string): Uint8Array {
  let text: string;
  try {
    text = decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, `pool handle "${segment}" is not valid URL encoding`);
  }
  let bytes: Uint8Array;
  if (text.startsWith('hex:')) {
    const hex = text.slice(4);
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) throw new ApiError(400, `pool handle "${text}": after hex: an even number of hex digits`);
    bytes = Buffer.from(hex, 'hex');
  } else {
    bytes = Buffer.from(text, 'utf8');
  }
  if (bytes.length === 0) throw new ApiError(400, 'empty pool handle');
  if (bytes.length > MAX_HANDLE_BYTES) throw new ApiError(400, `pool handle longer than ${MAX_HANDLE_BYTES} bytes`);
  return bytes;
}

/** `{peId}` of a path: 1-8 hex digits, with or without 0x. */
export function parsePeId(segment: string): number {
  const m = /^(?:0x)?([0-9a-fA-F]{1,8})$/.exec(segment);
  if (m === null) throw new ApiError(400, `PE identifier "${segment}" is not hexadecimal (e.g. 0x0e200001)`);
  return Number.parseInt(m[1]!, 16) >>> 0;
}

/** The path segment that names a pool in this API. */
export function poolPathSegment(pool: { handle: string; handleHex: string }): string {
  const text = Buffer.from(pool.handleHex, 'hex').toString('utf8');
  return pool.handle === text ? encodeURIComponent(text) : `hex:${pool.handleHex}`;
}

/** An element as the API shows it: identifiers in hex, as every tool prints them. */
function elementView(e: DumpElement): Omit<DumpElement, 'peId' | 'home'> & { peId: string; home: string } {
  return { ...e, peId: hexId(e.peId), home: hexId(e.home) };
}

function poolView(pool: DumpPool): object {
  return { handle: pool.handle, handleHex: pool.handleHex, path: `/api/pools/${poolPathSegment(pool)}`, policy: pool.policy, elementCount: pool.elements.length, elements: pool.elements.map(elementView) };
}

function need<T>(what: string, f: T | undefined): T {
  if (f === undefined) throw new ApiError(501, `this control channel has no ${what}`);
  return f;
}

const INDEX = {
  endpoints: [
    'GET /api/pools',
    'GET /api/pools/{handle}',
    'GET /api/pools/{handle}/elements/{peId}',
    'DELETE /api/pools/{handle}/elements/{peId} (bearer token)',
    'GET /api/peers',
    'GET /api/stats',
  ],
  handle: 'the pool handle as URL-encoded text, or hex:<bytes in hex>',
  peId: 'hexadecimal, with or without 0x',
};

async function get(source: ControlSource, parts: string[], req: ControlRequest): Promise<void> {
  const [, resource, handle, sub, peId, ...rest] = parts; // parts[0] is 'api'
  if (resource === undefined) return req.json(200, INDEX);
  if (resource === 'pools') {
    if (handle === undefined) {
      const pools = await need('pool listing', source.pools?.bind(source))();
      return req.json(200, { registrarId: hexId(source.id), pools: pools.map((p) => ({ ...p, path: `/api/pools/${poolPathSegment(p)}` })) });
    }
    const pool = await need('pool lookup', source.pool?.bind(source))(parsePoolHandle(handle));
    if (sub === undefined) {
      if (pool === null) throw new ApiError(404, `no pool ${decodeSafe(handle)} in the handlespace`);
      return req.json(200, poolView(pool));
    }
    if (sub !== 'elements' || rest.length > 0) throw new ApiError(404, `no such resource ${req.url.pathname}; try /api`);
    if (pool === null) throw new ApiError(404, `no pool ${decodeSafe(handle)} in the handlespace`);
    if (peId === undefined) return req.json(200, { elements: pool.elements.map(elementView) });
    const id = parsePeId(peId);
    const element = pool.elements.find((e) => e.peId >>> 0 === id);
    if (element === undefined) throw new ApiError(404, `no PE ${hexId(id)} in pool ${pool.handle}`);
    return req.json(200, elementView(element));
  }
  if (parts.length > 2) throw new ApiError(404, `no such resource ${req.url.pathname}; try /api`);
  if (resource === 'peers') {
    const peers = await need('peer list', source.peers?.bind(source))();
    return req.json(200, { registrarId: hexId(source.id), peers });
  }
  if (resource === 'stats') {
    const [stats, counters] = await Promise.all([source.stats(), source.counters?.() ?? Promise.resolve(null)]);
    return req.json(200, { stats, counters });
  }
  throw new ApiError(404, `no such resource ${req.url.pathname}; try /api`);
}

async function remove(source: ControlSource, parts: string[], req: ControlRequest): Promise<void> {
  const [, resource, handle, sub, peId, ...rest] = parts;
  if (resource !== 'pools' || handle === undefined || sub !== 'elements' || peId === undefined || rest.length > 0) {
    throw new ApiError(405, `DELETE is only for /api/pools/{handle}/elements/{peId}, not ${req.url.pathname}`);
  }
  const poolHandle = parsePoolHandle(handle);
  const id = parsePeId(peId);
  const outcome = await need('PE removal', source.removeElement?.bind(source))(poolHandle, id);
  switch (outcome) {
    case 'removed':
      return req.json(200, { removed: { pool: decodeSafe(handle), peId: hexId(id) } });
    case 'unknown':
      throw new ApiError(404, `no PE ${hexId(id)} in pool ${decodeSafe(handle)}`);
    case 'not-own':
      throw new ApiError(409, `PE ${hexId(id)} is homed at another registrar: remove it there (here, its home's next update would bring it back)`);
    case 'shard-down':
      throw new ApiError(503, 'the shard of this pool is restarting; try again');
  }
}

function decodeSafe(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}

function failed(req: ControlRequest, error: unknown): void {
  if (error instanceof ApiError) {
    if (error.status === 405) req.response.setHeader('allow', 'GET, HEAD');
    return req.json(error.status, { error: error.message });
  }
  req.json(500, { error: (error as Error).message });
}

/** The admin API's routes: reads (GET, HEAD) and the one write (DELETE, always authenticated). */
export function adminApiRoutes(source: ControlSource): ControlRoute[] {
  return [
    {
      prefix: '/api',
      handle: (req) => get(source, splitPath(req.url.pathname), req).catch((e: unknown) => failed(req, e)),
    },
    {
      prefix: '/api',
      methods: ['DELETE'],
      alwaysAuthenticated: true,
      handle: (req) => remove(source, splitPath(req.url.pathname), req).catch((e: unknown) => failed(req, e)),
    },
  ];
}
