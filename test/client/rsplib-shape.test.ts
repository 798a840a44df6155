// The client's messages are shaped as RSPLIB's clients shape them: for every ASAP message a
// pool element or pool user sends to a registrar, the parameters (and the parameters nested in
// a Pool Element) come in the same types and order as in RSPLIB's traffic
// (../shared/vectors/rsplib-samples.json). The client's traffic is captured on the loopback
// and read back with our capture reader.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PoolElement, PoolUser } from '../../src/client/index.js';
import { readRSerPoolCapture } from '../../src/capture/index.js';
import { AsapType, ParamType, PolicyType } from '../../src/wire/index.js';
import { SHARED } from '../helpers/cli.js';
import { captureLoopback, tsharkAvailable, NO_TSHARK_MESSAGE, type LiveCapture } from '../helpers/tshark.js';
import { asapEndpoint, registrar, until } from './harness.js';

const SAMPLES = join(SHARED, 'vectors', 'rsplib-samples.json');

interface Sample {
  protocol: string;
  type: number;
  variant: string;
  payload_hex: string;
}

/** Parameter types in order; a Pool Element or transport parameter lists its nested ones. */
function shape(bytes: Uint8Array, start: number, end: number): string[] {
  const out: string[] = [];
  let p = start;
  while (p + 4 <= end) {
    const type = (bytes[p]! << 8) | bytes[p + 1]!;
    const length = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    if (length < 4) break;
    let nested = '';
    if (type === ParamType.PoolElement) nested = `[${shape(bytes, p + 16, p + length).join(',')}]`;
    else if (type === ParamType.SctpTransport) nested = `[${shape(bytes, p + 8, p + length).join(',')}]`;
    out.push(`0x${type.toString(16)}${nested}`);
    p += (length + 3) & ~3;
  }
  return out;
}

function messageShape(bytes: Uint8Array): string[] {
  const length = Math.min(bytes.length, (bytes[2]! << 8) | bytes[3]!);
  return shape(bytes, 4, length);
}

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

describe.skipIf(!tsharkAvailable() || !existsSync(SAMPLES))('client messages shaped as RSPLIB shapes them', () => {
  it('registration, handle resolution, keep-alive ack, unreachable report and deregistration', async (ctx) => {
    const samples = JSON.parse(readFileSync(SAMPLES, 'utf8')) as Sample[];
    const rsplib = (type: number, variant = ''): string[] =>
      messageShape(fromHex(samples.find((s) => s.protocol === 'asap' && s.type === type && s.variant === variant)!.payload_hex));

    const file = join(mkdtempSync(join(tmpdir(), 'rserpool-shape-')), 'client.pcapng');
    const r = await registrar({ keepAliveInterval: 200, keepAliveTimeout: 2000 });
    const udpPort = r.asapAddress.udpPort!;
    let capture: LiveCapture | null = null;
    try {
      capture = await captureLoopback({ file, filter: `udp port ${udpPort}` });
    } catch (error) {
      await r.close();
      ctx.skip(`capture on lo is not permitted here (${(error as Error).message.split('\n')[0]})`);
    }
    const asap = await asapEndpoint({ registrars: [r.asapAddress] });
    try {
      const pe = new PoolElement(asap, {
        poolHandle: 'TestPool-0001',
        policy: { type: PolicyType.RoundRobin },
        userTransport: { port: 4711, addresses: ['127.0.0.1'] },
      });
      await pe.register();
      const pu = new PoolUser(asap, { staleCacheValue: 0 });
      await pu.resolve('TestPool-0001', { items: 1 });
      // Let the registrar's keep-alives (every 200 ms) be answered a few times.
      await new Promise((done) => setTimeout(done, 700));
      await pu.reportUnreachable('TestPool-0001', pe.peId);
      await pe.close();
      await until(async () => (await r.stats()).shards.every((s) => s.poolElements === 0), 5000, 'deregistered');
      await capture!.stop(500);
      capture = null;

      const reading = readRSerPoolCapture(readFileSync(file), { sctpOverUdpPorts: [udpPort] });
      const toRegistrar = reading.messages.filter((m) => m.protocol === 'asap' && m.dport === r.asapAddress.port);
      const ours = (type: number): string[][] => toRegistrar.filter((m) => m.payload[0] === type).map((m) => messageShape(m.payload));

      const expected: Array<[number, string]> = [
        [AsapType.Registration, ''],
        [AsapType.HandleResolution, 'with-HROption'],
        [AsapType.EndpointKeepAliveAck, ''],
        [AsapType.EndpointUnreachable, ''],
        [AsapType.Deregistration, ''],
      ];
      for (const [type, variant] of expected) {
        const shapes = ours(type);
        expect(shapes.length, `ASAP type 0x${type.toString(16)} sent by the client`).toBeGreaterThan(0);
        for (const s of shapes) expect(s, `ASAP type 0x${type.toString(16)}`).toEqual(rsplib(type, variant));
      }
    } finally {
      await capture?.stop(0);
      await asap.close();
      await r.close();
    }
  });
});

if (!tsharkAvailable()) console.warn(NO_TSHARK_MESSAGE);
