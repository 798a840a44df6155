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
  type AsapMessage,
  type PolicySettings,
} from '../../src/wire/index.js';
import type { RegistrarAddress } from '../../src/registrar/index.js';

export class AsapPeer {
  readonly received: AsapMessage[] = [];
  private waiters: Array<{ match: (m: AsapMessage) => boolean; resolve: (m: AsapMessage) => void }> = [];
  autoAckKeepAlives = true;

  private constructor(
    readonly endpoint: SctpEndpoint,
    readonly association: Association,
  ) {
    association.on('message', (payload, ppid) => {
      if (ppid !== PPID_ASAP) return;
      const r = decodeAsap(payload.slice());
      if (!r.ok || r.message.protocol !== 'asap') return;
      const m = r.message;
      if (m.type === AsapType.EndpointKeepAlive && this.autoAckKeepAlives && m.peId !== null) {
        this.send({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: m.poolHandle.slice(), peId: m.peId });
      }
      this.received.push(m);
      const i = this.waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
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

  next(match: (m: AsapMessage) => boolean, timeoutMs = 5000): Promise<AsapMessage> {
    const seen = this.received.findIndex(match);
    if (seen >= 0) return Promise.resolve(this.received.splice(seen, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching ASAP message in time')), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          this.received.splice(this.received.indexOf(m), 1);
          resolve(m);
        },
      });
    });
  }

  nextOfType(type: number, timeoutMs?: number): Promise<AsapMessage> {
    return this.next((m) => m.type === type, timeoutMs);
  }

  async close(): Promise<void> {
    await this.endpoint.close();
  }
}

export function registration(pool: string, peId: number, policy: PolicySettings = policySettings(0x1), port = 4000): AsapMessage {
  return {
    protocol: 'asap',
    type: AsapType.Registration,
    flags: 0,
    paddedLength: false,
    unknownParams: null,
    poolHandle: new TextEncoder().encode(pool),
    poolElement: {
      peId,
      homeRegistrarId: 0,
      registrationLife: 300_000,
      userTransport: transportParameter(ParamType.SctpTransport, port, [parseAddress('127.0.0.1')!], TransportUse.DataPlusControl),
      policy,
      asapTransport: null,
    },
  };
}

export function handleResolution(pool: string, items: number | null = null): AsapMessage {
  return { protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: new TextEncoder().encode(pool), items };
}
