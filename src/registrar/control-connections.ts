// The control channel's connection admission: a cap on connections at once, a cap per source
// address (one client cannot take them all), and a few reserved connections for the probes.
// A connection beyond either cap is admitted into the reserve while it has room: there it may
// ask /health or /ready only (anything else: 503), must send its request head within
// RESERVE_HEAD_TIMEOUT_MS, and is closed after its answer. So a client that holds its share of
// half-sent requests does not keep the probes out. And a request head must arrive within the
// head timeout (--control-head-timeout) of the connection (or of the previous answer) or the
// connection is cut: Node's
// own headersTimeout is not enough (Node 20: once any other request on the server has been
// answered, a head already pending is never timed out; seen with v20.20.2).
// Over HTTPS (--control-tls-cert) the same holds from the TCP connection on: it is admitted,
// and its head timer (which then bounds the handshake too) runs, before the TLS handshake; the
// TLS socket the requests arrive on is matched to its TCP connection once the handshake is done.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';

/**
 * Connections the control channel holds at once (--control-max-connections): operators, a
 * Prometheus or two, the dashboard's browsers (--dashboard-clients, 8): 64 is ample.
 */
export const DEFAULT_CONTROL_MAX_CONNECTIONS = 64;
/**
 * Connections one source address holds at once, beyond: only the reserve
 * (--control-max-connections-per-address). A NAT or proxy in front of many operators needs more.
 */
export const DEFAULT_CONTROL_CONNECTIONS_PER_ADDRESS = 16;
/** Connections kept for /health and /ready beyond the caps (--control-probe-reserve): the probes of a few orchestrators. */
export const DEFAULT_CONTROL_PROBE_RESERVE = 8;
/** A response (but the dashboard's event stream) that makes no progress for this long is cut, ms (--control-response-timeout). */
export const DEFAULT_CONTROL_RESPONSE_TIMEOUT_MS = 30_000;
/** A reserve connection's time to send its request head and be answered. */
export const RESERVE_HEAD_TIMEOUT_MS = 2000;
/** Time for a request head, from the connection or from the previous answer, ms (--control-head-timeout). */
export const DEFAULT_CONTROL_HEAD_TIMEOUT_MS = 10_000;

export interface ConnectionLimits {
  /** Connections at once, the reserve not counted (--control-max-connections). */
  maxConnections: number;
  /** Connections one source address holds at once. */
  maxPerAddress: number;
  /** Reserve connections (probes only). */
  reserve: number;
  /** Time for a request head, ms (default DEFAULT_CONTROL_HEAD_TIMEOUT_MS). */
  headTimeoutMs?: number;
}

export class ControlConnections {
  private total = 0;
  private reserved = 0;
  private readonly byAddress = new Map<string, number>();
  private readonly reserveSockets = new WeakSet<Socket>();
  /** The head deadline of each connection waiting for a request head. */
  private readonly headTimers = new WeakMap<Socket, NodeJS.Timeout>();
  /** HTTPS: open TCP connections by remote address and port, until their handshake is done. */
  private readonly handshaking = new Map<string, Socket>();
  /** HTTPS: the TCP connection under each TLS socket. */
  private readonly tcpOf = new WeakMap<Socket, Socket>();
  /** Connections refused at once (every cap and the reserve full). */
  refused = 0;

  constructor(private readonly limits: ConnectionLimits) {}

  /** Admits (or cuts) every connection `server` accepts. */
  attach(server: Server): void {
    const secure = server instanceof TlsServer;
    server.on('connection', (socket: Socket) => {
      if (!this.admit(socket, secure)) return;
      this.armHeadTimer(socket);
      socket.once('close', () => clearTimeout(this.headTimers.get(socket)));
      if (secure) {
        const key = connectionKey(socket);
        this.handshaking.set(key, socket);
        socket.once('close', () => {
          if (this.handshaking.get(key) === socket) this.handshaking.delete(key);
        });
      }
    });
    if (secure) {
      server.on('secureConnection', (tlsSocket: TLSSocket) => {
        const key = connectionKey(tlsSocket);
        const tcp = this.handshaking.get(key);
        // Every admitted connection is in the map until its handshake ends: one that is not
        // was never admitted as such; it is not served.
        if (tcp === undefined) {
          tlsSocket.destroy();
          return;
        }
        this.handshaking.delete(key);
        this.tcpOf.set(tlsSocket, tcp);
      });
    }
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      const socket = this.tcp(request.socket);
      clearTimeout(this.headTimers.get(socket));
      this.headTimers.delete(socket);
      response.once('finish', () => {
        if (!socket.destroyed) this.armHeadTimer(socket);
      });
    });
  }

  private armHeadTimer(socket: Socket): void {
    clearTimeout(this.headTimers.get(socket));
    const timer = setTimeout(() => socket.destroy(), this.limits.headTimeoutMs ?? DEFAULT_CONTROL_HEAD_TIMEOUT_MS);
    timer.unref();
    this.headTimers.set(socket, timer);
  }

  /** True for a connection admitted into the probe reserve (its TCP or, over HTTPS, its TLS socket). */
  isReserve(socket: Socket): boolean {
    return this.reserveSockets.has(this.tcp(socket));
  }

  /** The TCP connection of a socket the requests arrive on (itself over plain HTTP). */
  private tcp(socket: Socket): Socket {
    return this.tcpOf.get(socket) ?? socket;
  }

  private admit(socket: Socket, secure: boolean): boolean {
    const address = socket.remoteAddress ?? '';
    const mine = this.byAddress.get(address) ?? 0;
    if (this.total < this.limits.maxConnections && mine < this.limits.maxPerAddress) {
      this.total++;
      this.byAddress.set(address, mine + 1);
      socket.once('close', () => {
        this.total--;
        const n = (this.byAddress.get(address) ?? 1) - 1;
        if (n <= 0) this.byAddress.delete(address);
        else this.byAddress.set(address, n);
      });
      return true;
    }
    if (this.reserved < this.limits.reserve) {
      this.reserved++;
      this.reserveSockets.add(socket);
      socket.once('close', () => this.reserved--);
      if (secure) {
        // Over HTTPS the TCP socket is not the one Node's HTTP server watches, and its own
        // timeout never fires (the TLS socket took its handle): it is cut
        // RESERVE_HEAD_TIMEOUT_MS after it connected, handshake, request and answer included.
        const cut = setTimeout(() => socket.destroy(), RESERVE_HEAD_TIMEOUT_MS);
        cut.unref();
        socket.once('close', () => clearTimeout(cut));
      } else {
        // No 'timeout' listener on the server: Node destroys the socket when this fires.
        socket.setTimeout(RESERVE_HEAD_TIMEOUT_MS);
      }
      return true;
    }
    this.refused++;
    socket.destroy();
    return false;
  }
}

/**
 * A TCP connection's four-tuple: unique among open connections. The remote end alone is not,
 * on a wildcard address: one source port can reach two local addresses of the host.
 */
function connectionKey(socket: Socket): string {
  return `${socket.localAddress ?? ''}|${socket.localPort ?? 0}|${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
}
