// Active opens of ASAP associations over TCP or TLS (RFC 5352 §6): a PE or PU that reaches
// its registrar over a stream. It has the one method of an SCTP endpoint the server hunt
// uses (associate: an association at once, 'up' once connected and, for TLS, once the
// handshake authenticated the registrar by the PSK or by a certificate of the CA).
import net from 'node:net';
import tls from 'node:tls';
import { StreamAssociation } from './stream-association.js';
import { MAX_FRAMED_MESSAGE_BYTES } from './stream-framing.js';
import { tlsClientOptions, type TlsCredentials } from './tls-credentials.js';
import { tlsPeerOf, type TlsPeer } from './tls-peer.js';
import type { Association, RemoteAddress } from './sctp-provider.js';
import type { StreamProtocol } from './stream-endpoint.js';

export interface StreamConnectorOptions {
  protocol: StreamProtocol;
  /** PPID of the protocol (ASAP: 11). */
  ppid: number;
  /** Required for 'tls'. */
  tls?: TlsCredentials;
  /** Bytes queued before send() throws SendQueueFullError; default 1 MiB. */
  maxSendQueueBytes?: number;
  maxMessageBytes?: number;
  /** A connection (and handshake) not up after this long is abandoned, ms; default 10 s. */
  connectTimeout?: number;
  /** A connection or handshake failed: the reason, for the tool's output. */
  onError?: (remote: RemoteAddress, error: Error) => void;
  /**
   * TLS: who the server authenticated as, checked once the handshake is done and before the
   * association is up; a reason aborts it (it never comes up, 'down' follows). The ENRP
   * endpoint refuses a server whose credentials are a PE's this way.
   */
  authorize?: (peer: TlsPeer, remote: RemoteAddress) => string | null;
}

/** How long a TLS 1.3 client waits for a sign that the server accepted it (see #secured). */
const TLS13_ACCEPT_GRACE_MS = 250;

export class StreamConnector {
  readonly protocol: StreamProtocol;
  readonly #options: StreamConnectorOptions;
  readonly #tls: tls.ConnectionOptions | null;
  readonly #associations = new Set<StreamAssociation>();

  constructor(options: StreamConnectorOptions) {
    if (options.protocol === 'tls' && options.tls === undefined) throw new TypeError('TLS needs credentials');
    this.protocol = options.protocol;
    this.#options = options;
    this.#tls = options.protocol === 'tls' ? tlsClientOptions(options.tls!) : null;
  }

  /** Live associations. */
  get associations(): ReadonlyArray<Association> {
    return [...this.#associations];
  }

  /** Starts a connection and returns its association, 'connecting'; 'up' or 'down' follows. */
  associate(remote: RemoteAddress): Association {
    const o = this.#options;
    const socket = this.#tls !== null ? tls.connect({ ...this.#tls, host: remote.address, port: remote.port }) : net.connect({ host: remote.address, port: remote.port });
    const a = new StreamAssociation(socket, remote, {
      ppid: o.ppid,
      protocol: o.protocol,
      maxMessageBytes: o.maxMessageBytes ?? MAX_FRAMED_MESSAGE_BYTES,
      maxSendQueueBytes: o.maxSendQueueBytes ?? 1024 * 1024,
    });
    this.#associations.add(a);
    const timer = setTimeout(() => {
      o.onError?.(remote, new Error(`${o.protocol.toUpperCase()} connection to ${a.peer} not up within ${o.connectTimeout ?? 10_000} ms`));
      a.abort();
    }, o.connectTimeout ?? 10_000);
    timer.unref();
    const up = (): void => {
      clearTimeout(timer);
      a.markUp();
    };
    if (this.#tls === null) socket.once('connect', up);
    else socket.once('secureConnect', () => this.#secured(socket as tls.TLSSocket, a, up));
    // Failures to set up (refused, unreachable, a TLS alert); errors of a live association show as its 'down'.
    socket.once('error', (error) => {
      if (a.state === 'connecting') o.onError?.(remote, error);
    });
    a.once('down', () => {
      clearTimeout(timer);
      this.#associations.delete(a);
    });
    return a;
  }

  /**
   * In TLS 1.3 the client's handshake ends before the server has checked the client's
   * certificate: a server that refuses it sends its alert after our 'secureConnect'. The
   * association is up once the server has shown it accepted us: its first session ticket
   * (sent after it verified our Finished) or data, or, for a server that sends no tickets, a
   * moment without an alert. TLS 1.2 ends with the server's Finished: up at once.
   */
  #secured(socket: tls.TLSSocket, a: StreamAssociation, up: () => void): void {
    // Who the server is: its certificate (CN, pools it names), or, when it presented none, the
    // PSK identity we used (the key is shared by the identity's holders).
    // (Read once: a second getPeerX509Certificate() on a client socket gives undefined.)
    const x509 = socket.getPeerX509Certificate();
    a.tlsPeer = tlsPeerOf(socket, x509 === undefined ? (this.#options.tls?.pskIdentity ?? null) : null, x509);
    const refused = this.#options.authorize?.(a.tlsPeer, a.remote) ?? null;
    if (refused !== null) {
      this.#options.onError?.(a.remote, new Error(`${a.peer} refused: ${refused}`));
      a.abort(refused);
      return;
    }
    if (socket.getProtocol() !== 'TLSv1.3') {
      up();
      return;
    }
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      clearTimeout(grace);
      socket.off('session', once);
      socket.off('data', once);
      // Not from inside the 'session' callback: OpenSSL is mid-read there, and a write made
      // from it is lost.
      setImmediate(() => {
        if (!socket.destroyed) up();
      });
    };
    const grace = setTimeout(once, TLS13_ACCEPT_GRACE_MS);
    grace.unref();
    socket.once('session', once);
    socket.once('data', once);
  }

  /** associate() and wait for 'up'; rejects with the socket's error on 'down' before it. */
  connect(remote: RemoteAddress): Promise<Association> {
    const a = this.associate(remote) as StreamAssociation;
    return new Promise((resolve, reject) => {
      a.once('up', () => resolve(a));
      a.once('down', (reason) => reject(a.socketError ?? new Error(`${this.protocol.toUpperCase()} association to ${a.peer} down before up: ${reason}`)));
    });
  }

  /** Aborts every association. */
  close(): void {
    for (const a of [...this.#associations]) a.abort();
  }
}
