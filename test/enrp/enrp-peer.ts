// A scripted ENRP peer for arbitration tests: an SCTP-over-UDP endpoint on 127.0.0.1 that a
// registrar (configured with it as a static peer) associates to. It answers what a quiet,
// empty registrar answers (presence, list and handle table requests), keeps itself alive with
// presences, and leaves everything else to the test: which INIT_TAKEOVER it sends, whether it
// acknowledges one, when it falls silent. It speaks the wire directly, so the test sees
// exactly what the registrar under test sends and when.
import { openSctpEndpoint, type Association, type RemoteAddress, type SctpEndpoint } from '../../src/transport/index.js';
import { EnrpFlag, EnrpType, PPID_ENRP, decodeEnrp, encodeMessage, type EnrpMessage, type Message } from '../../src/wire/index.js';
import { freeUdpPort } from './harness.js';

type EnrpFields = { type: number; flags?: number; receiverId?: number } & Record<string, unknown>;

export class EnrpPeer {
  /** Every ENRP message received, in order (answered ones included). */
  readonly received: EnrpMessage[] = [];
  /** Messages on PPID 12 that did not decode as ENRP. */
  undecodable = 0;
  association: Association | null = null;
  /** Send presences every `presenceEvery` ms and answer reply-required ones. */
  alive = true;
  private presenceTimer: NodeJS.Timeout | undefined;
  private waiters: Array<{ match: (m: EnrpMessage) => boolean; resolve: (m: EnrpMessage) => void }> = [];
  private readonly handlers: Array<(m: EnrpMessage) => void> = [];

  private constructor(
    readonly serverId: number,
    readonly endpoint: SctpEndpoint,
    readonly udpPort: number,
  ) {
    endpoint.on('association', (a) => this.attach(a));
  }

  /** A peer listening on SCTP port 9901 over its own UDP port; a registrar must contact it. */
  static async open(serverId: number, presenceEvery = 200): Promise<EnrpPeer> {
    const udpPort = await freeUdpPort();
    const endpoint = await openSctpEndpoint({ mode: 'udp', port: 9901, udpPort, address: '127.0.0.1' });
    const peer = new EnrpPeer(serverId >>> 0, endpoint, udpPort);
    peer.presenceTimer = setInterval(() => {
      if (peer.alive && peer.association !== null) peer.send({ type: EnrpType.Presence, checksum: null, serverInfo: null });
    }, presenceEvery);
    return peer;
  }

  /**
   * Associates to a registrar's ENRP endpoint itself (a stranger, or a peer the registrar was
   * not told about); this becomes the association `send` uses.
   */
  async connect(remote: RemoteAddress): Promise<Association> {
    const a = await this.endpoint.connect(remote);
    this.association = a;
    this.attach(a);
    return a;
  }

  private attach(a: Association): void {
    this.association ??= a;
    a.on('message', (payload, ppid) => {
      if (ppid !== PPID_ENRP) return;
      const r = decodeEnrp(payload.slice());
      if (!r.ok || r.message.protocol !== 'enrp') {
        this.undecodable++;
        return;
      }
      const m = r.message;
      this.received.push(m);
      this.answer(m);
      for (const h of this.handlers) h(m);
      const i = this.waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    });
  }

  /** What an empty registrar answers by itself (RFC 5353 §3.2.2.2, §3.2.3, §3.4.1). */
  private answer(m: EnrpMessage): void {
    if (!this.alive) return;
    if (m.type === EnrpType.Presence && (m.flags & EnrpFlag.ReplyRequired) !== 0) this.send({ type: EnrpType.Presence, checksum: null, serverInfo: null });
    else if (m.type === EnrpType.ListRequest) this.send({ type: EnrpType.ListResponse, servers: [] });
    else if (m.type === EnrpType.HandleTableRequest) this.send({ type: EnrpType.HandleTableResponse, entries: [] });
  }

  /** Calls `handler` for every message from now on, after the automatic answers. */
  onMessage(handler: (m: EnrpMessage) => void): void {
    this.handlers.push(handler);
  }

  /** An ENRP message with our server ID as sender, encoded. */
  encode(fields: EnrpFields): Uint8Array {
    return encodeMessage({ protocol: 'enrp', flags: 0, receiverId: 0, paddedLength: false, unknownParams: null, senderId: this.serverId, ...fields } as unknown as Message);
  }

  /** Sends an ENRP message with our server ID as sender over the registrar's association. */
  send(fields: EnrpFields): void {
    if (this.association === null) throw new Error('no association yet');
    this.association.send(this.encode(fields), PPID_ENRP);
  }

  /** The first message (received or yet to come) that matches. */
  next(match: (m: EnrpMessage) => boolean, timeoutMs = 5000): Promise<EnrpMessage> {
    const seen = this.received.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (m: EnrpMessage) => (clearTimeout(timer), resolve(m)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching ENRP message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  count(type: number, target?: number): number {
    return this.received.filter((m) => m.type === type && (target === undefined || ('targetServerId' in m && m.targetServerId === target))).length;
  }

  async close(): Promise<void> {
    clearInterval(this.presenceTimer);
    await this.endpoint.close();
  }
}
