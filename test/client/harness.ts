// Helpers for the client tests: real registrars and real SCTP-over-UDP endpoints on loopback.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { startRegistrar, type RegistrarConfig } from '../../src/registrar/index.js';
import type { Registrar } from '../../src/registrar/index.js';
import { openSctpEndpoint } from '../../src/transport/open-sctp-endpoint.js';
import type { Association, SctpEndpoint } from '../../src/transport/sctp-provider.js';
import { AsapEndpoint, type AsapEndpointOptions } from '../../src/client/index.js';
import { decodeMessage } from '../../src/wire/decode.js';
import type { AsapMessage } from '../../src/wire/messages.js';
import { PPID_ASAP } from '../../src/wire/constants.js';

export const LOOPBACK = '127.0.0.1';

/** SCTP ports in UDP mode are not OS ports: any distinct non-zero number will do. */
export function sctpPort(): number {
  return randomInt(20000, 60000);
}

/** A multicast group of our own, so other tests' announces never reach ours. */
export function testGroup(): { address: string; port: number } {
  return { address: '239.0.0.50', port: randomInt(10000, 32000) }; // below the ephemeral range
}

export async function registrar(config: Partial<RegistrarConfig> = {}): Promise<Registrar> {
  return startRegistrar({
    transport: 'udp',
    udpPort: 0,
    asapPort: sctpPort(),
    address: LOOPBACK,
    shards: 1,
    announce: false,
    logLevel: 'silent',
    ...config,
  });
}

/** Fast timers for tests (RFC 5352 §7 values scaled down). */
export const FAST_TIMERS = {
  t1EnrpRequest: 1000,
  t2Registration: 1000,
  t3Deregistration: 1000,
  t5ServerHunt: 500,
  t7EnrpOutdate: 3000,
  retranMax: 2000,
};

export async function asapEndpoint(options: AsapEndpointOptions = {}): Promise<AsapEndpoint> {
  return AsapEndpoint.open({
    announces: false,
    ...options,
    sctp: { mode: 'udp', address: LOOPBACK, ...options.sctp },
    timers: { ...FAST_TIMERS, ...options.timers },
    localAddresses: options.localAddresses ?? [LOOPBACK],
  });
}

/**
 * A scripted peer standing in for a registrar: a real SCTP endpoint whose answers the test
 * writes with the wire codec (to test what the real registrar never does: silence, reordering).
 */
export class ScriptedRegistrar {
  readonly received: AsapMessage[] = [];
  readonly associations: Association[] = [];
  onMessage: (m: AsapMessage, a: Association) => void = () => {};

  private constructor(readonly endpoint: SctpEndpoint) {
    endpoint.on('association', (a) => this.serve(a));
  }

  /** Records and answers the messages of this association (passive ones are served anyway). */
  serve(a: Association): void {
    this.associations.push(a);
    a.on('message', (payload, ppid) => {
      if (ppid !== PPID_ASAP) return;
      const r = decodeMessage('asap', payload);
      if (!r.ok || r.message.protocol !== 'asap') return;
      this.received.push(r.message);
      this.onMessage(r.message, a);
    });
  }

  static async open(): Promise<ScriptedRegistrar> {
    return new ScriptedRegistrar(await openSctpEndpoint({ mode: 'udp', port: sctpPort(), udpPort: 0, address: LOOPBACK }));
  }

  get address(): { address: string; port: number; udpPort: number } {
    return { address: LOOPBACK, port: this.endpoint.port, udpPort: this.endpoint.udpPort! };
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}

/** A UDP socket that swallows everything: a registrar address nobody answers at. */
export async function blackhole(): Promise<{ address: string; port: number; udpPort: number; received: () => number; close: () => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', () => count++);
  await new Promise<void>((resolve) => socket.bind(0, LOOPBACK, resolve));
  return {
    address: LOOPBACK,
    port: sctpPort(),
    udpPort: socket.address().port,
    received: () => count,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
