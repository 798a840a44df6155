// A raw ASAP peer for registrar tests: an SCTP-over-UDP association that sends encoded
// messages and collects decoded answers. It speaks the wire directly (no client library), so
// tests see exactly what the registrar sends.
import { openSctpEndpoint, type Association, type SctpEndpoint } from '../../src/transport/index.js';
import {
  AsapType,
  PPID_ASAP,
  ParamType,
  TransportUse,
  decodeAsap,
  encodeMessage,
  parseAddress,
  policySettings,
  transportParameter,
  type AsapHandleResolutionResponse,
  type AsapMessage,
  type AsapRegistrationResponse,
  type PolicySettings,
} from '../../src/wire/index.js';
import type { RegistrarAddress } from '../../src/registrar/index.js';

export class AsapPeer {
  readonly received: AsapMessage[] = [];
  /** Every ASAP_ENDPOINT_KEEP_ALIVE received, acknowledged or not. */
  readonly keepAlives: AsapMessage[] = [];
  /** Payloads on this association that did not decode as ASAP (must stay empty). */
  readonly undecodable: Uint8Array[] = [];
  private waiters: Array<{ match: (m: AsapMessage) => boolean; resolve: (m: AsapMessage) => void }> = [];
  autoAckKeepAlives = true;
  /** PE IDs whose keep-alives go unanswered even while `autoAckKeepAlives` is on. */
  readonly silentPeIds = new Set<number>();
  /** Why the association went down, once it has. */
  downReason: string | null = null;

  private constructor(
    readonly endpoint: SctpEndpoint,
    readonly association: Association,
  ) {
    association.on('down', (reason) => (this.downReason = reason));
    association.on('message', (payload, ppid) => {
      if (ppid !== PPID_ASAP) return;
      const r = decodeAsap(payload.slice());
      if (!r.ok || r.message.protocol !== 'asap') {
        this.undecodable.push(payload.slice());
        return;
      }
      const m = r.message;
      if (m.type === AsapType.EndpointKeepAlive) {
        this.keepAlives.push(m);
        if (this.autoAckKeepAlives && m.peId !== null && !this.silentPeIds.has(m.peId)) {
          this.send({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: m.poolHandle.slice(), peId: m.peId });
        }
        // Keep-alives are bookkeeping of the association, not answers: tests wait for them
        // through `keepAlives`, so they do not pile up in `received`.
        return;
      }
      const i = this.waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
      else this.received.push(m);
    });
  }

  static async connect(registrar: RegistrarAddress): Promise<AsapPeer> {
    const endpoint = await openSctpEndpoint({ mode: 'udp', port: 10000 + Math.floor(Math.random() * 50000), udpPort: 0, address: '127.0.0.1' });
    const association = await endpoint.connect({ address: registrar.address, port: registrar.port, udpPort: registrar.udpPort! });
    return new AsapPeer(endpoint, association);
  }

  send(m: AsapMessage | Uint8Array): void {
    this.association.send(m instanceof Uint8Array ? m : encodeMessage(m), PPID_ASAP);
  }

  /** Sends bytes with any PPID (wrong-PPID tests). */
  sendRaw(bytes: Uint8Array, ppid: number): void {
    this.association.send(bytes, ppid);
  }

  /** The first message (received or yet to come) that matches; it is taken out of `received`. */
  next(match: (m: AsapMessage) => boolean, timeoutMs = 5000): Promise<AsapMessage> {
    const seen = this.received.findIndex(match);
    if (seen >= 0) return Promise.resolve(this.received.splice(seen, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: AsapMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no matching ASAP message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  nextOfType(type: number, timeoutMs?: number): Promise<AsapMessage> {
    return this.next((m) => m.type === type, timeoutMs);
  }

  /** Sends a registration and waits for the response about the same pool handle and PE ID. */
  async register(pool: string, peId: number, policy?: PolicySettings, port?: number, timeoutMs?: number): Promise<AsapRegistrationResponse> {
    this.send(registration(pool, peId, policy, port));
    return (await this.next((m) => m.type === AsapType.RegistrationResponse && m.peId === peId && text(m.poolHandle) === pool, timeoutMs)) as AsapRegistrationResponse;
  }

  /** Sends a handle resolution and waits for the response about the same pool handle. */
  async resolve(pool: string | Uint8Array, items: number | null = null, timeoutMs?: number): Promise<AsapHandleResolutionResponse> {
    const handle = typeof pool === 'string' ? new TextEncoder().encode(pool) : pool;
    this.send(handleResolution(handle, items));
    return (await this.next((m) => m.type === AsapType.HandleResolutionResponse && sameBytes(m.poolHandle, handle), timeoutMs)) as AsapHandleResolutionResponse;
  }

  async deregister(pool: string, peId: number): Promise<AsapMessage> {
    this.send(deregistration(pool, peId));
    return this.next((m) => m.type === AsapType.DeregistrationResponse && m.peId === peId && text(m.poolHandle) === pool);
  }

  /** Resolves once the association is down (or rejects after the timeout). */
  async down(timeoutMs = 5000): Promise<string> {
    if (this.association.state === 'down') return this.downReason ?? 'down';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`association still up after ${timeoutMs} ms`)), timeoutMs);
      this.association.once('down', (reason) => {
        clearTimeout(timer);
        resolve(reason);
      });
    });
  }

  async close(): Promise<void> {
    await this.endpoint.close();
  }
}

export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function registration(pool: string | Uint8Array, peId: number, policy: PolicySettings = policySettings(0x1), port = 4000, transportType: number = ParamType.SctpTransport): AsapMessage {
  return {
    protocol: 'asap',
    type: AsapType.Registration,
    flags: 0,
    paddedLength: false,
    unknownParams: null,
    poolHandle: typeof pool === 'string' ? new TextEncoder().encode(pool) : pool,
    poolElement: {
      peId,
      homeRegistrarId: 0,
      registrationLife: 300_000,
      userTransport: transportParameter(
        transportType,
        port,
        [parseAddress('127.0.0.1')!],
        transportType === ParamType.SctpTransport || transportType === ParamType.TcpTransport ? TransportUse.DataPlusControl : TransportUse.DataOnly,
      ),
      policy,
      asapTransport: null,
    },
  };
}

export function handleResolution(pool: string | Uint8Array, items: number | null = null): AsapMessage {
  return { protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: typeof pool === 'string' ? new TextEncoder().encode(pool) : pool, items };
}

export function deregistration(pool: string, peId: number): AsapMessage {
  return { protocol: 'asap', type: AsapType.Deregistration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: new TextEncoder().encode(pool), peId };
}

export function endpointUnreachable(pool: string, peId: number): AsapMessage {
  return { protocol: 'asap', type: AsapType.EndpointUnreachable, flags: 0, paddedLength: false, unknownParams: null, poolHandle: new TextEncoder().encode(pool), peId };
}
