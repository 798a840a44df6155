// GET /snapshot on the registrar's control channel: the handlespace as a snapshot file's
// bytes (application/octet-stream), what `rserpool snapshot save` writes to a file. Behind the
// control channel's token like every route but /health and /ready. A reader that takes no
// bytes for 30 s is cut (the control server's response timeout).
import type { ControlRoute, ControlSource } from '../registrar/control.js';

/** A control source that can take a snapshot (the Registrar). */
export interface SnapshotSource {
  snapshot(): Promise<Uint8Array>;
}

export const SNAPSHOT_PATH = '/snapshot';
export const SNAPSHOT_MEDIA_TYPE = 'application/octet-stream';

export function snapshotRoutes(source: ControlSource): ControlRoute[] {
  const take = (source as ControlSource & Partial<SnapshotSource>).snapshot;
  if (typeof take !== 'function') return [];
  // Requests that arrive while a snapshot is being taken share it: each one would make every
  // shard encode its whole partition.
  let inFlight: Promise<Uint8Array> | null = null;
  const shared = (): Promise<Uint8Array> => {
    inFlight ??= take.call(source).finally(() => (inFlight = null));
    return inFlight;
  };
  return [
    {
      path: SNAPSHOT_PATH,
      async handle(r) {
        // One large body per connection at a time (a pipelining client gets 429 for the next).
        if (!r.claimLargeBody()) return;
        const bytes = await shared();
        if (r.response.destroyed) return;
        r.response.writeHead(200, { 'content-type': SNAPSHOT_MEDIA_TYPE, 'content-length': String(bytes.length), 'cache-control': 'no-store' });
        r.response.end(r.method === 'HEAD' ? undefined : bytes);
      },
    },
  ];
}
