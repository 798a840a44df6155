// The registrar's control channel for operators: a small HTTP server on 127.0.0.1 only (it
// is not part of RSerPool and has no authentication, so it never listens beyond the host).
//   GET /handlespace  every pool, its policy, every element (owner, transports, policy
//                     values, pending timer): what `rserpool dump` prints
//   GET /stats        the registrar's counters (associations, shards, ENRP)
// Default port 3870 (`--control-port`, 0 turns it off): near ASAP's 3863 and clear of the
// RSerPool ports (3863/3864 ASAP, 9901/9902 ENRP, 9899 SCTP over UDP).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SnapshotPool } from '../shard/handlespace-snapshot.js';

export const DEFAULT_CONTROL_PORT = 3870;
export const CONTROL_ADDRESS = '127.0.0.1';

/** The registrar as the control channel sees it. */
export interface ControlSource {
  readonly id: number;
  handlespace(): Promise<SnapshotPool[]>;
  stats(): Promise<object>;
}

/** The body of GET /handlespace. */
export interface HandlespaceDocument {
  registrarId: number;
  time: string;
  pools: SnapshotPool[];
}

export class ControlServer {
  private constructor(private readonly server: Server) {}

  /** Listens on 127.0.0.1:`port` (0: any free port, see `port`). Rejects if the port is taken. */
  static async open(source: ControlSource, port: number): Promise<ControlServer> {
    const server = createServer((request, response) => {
      const send = (status: number, body: unknown): void => {
        const text = `${JSON.stringify(body, null, 2)}\n`;
        response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        response.end(text);
      };
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, { error: 'only GET' });
      const answer = (work: Promise<unknown>): void => {
        work.then(
          (body) => send(200, body),
          (error: Error) => send(500, { error: error.message }),
        );
      };
      if (path === '/handlespace') {
        answer(source.handlespace().then((pools): HandlespaceDocument => ({ registrarId: source.id, time: new Date().toISOString(), pools })));
      } else if (path === '/stats') {
        answer(source.stats());
      } else {
        send(404, { error: `no such resource ${path}; try /handlespace or /stats` });
      }
    });
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, CONTROL_ADDRESS, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new ControlServer(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
