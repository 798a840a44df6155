// Ping-pong over SCTP-over-UDP (RFC 6951) through the provider interface, on loopback,
// two endpoints in one process: 100-byte messages, 1 and 32 outstanding.
// Run: npx tsx native-free-bench/sctp-pingpong.ts [seconds-per-case]
import { pathToFileURL } from 'node:url';
import { openSctpEndpoint } from '../src/transport/index.js';
import type { Association } from '../src/transport/index.js';
import { PPID_ASAP } from '../src/wire/constants.js';

export interface PingPongResult {
  outstanding: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function pingPong(client: Association, outstanding: number, seconds: number): Promise<PingPongResult> {
  const payload = Buffer.alloc(100, 0x5a);
  const sentAt: number[] = [];
  const rtts: number[] = [];
  let done = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const onMessage = (): void => {
      const now = performance.now();
      rtts.push(now - sentAt[done]!);
      done++;
      inFlight--;
      if (now < deadline) {
        sentAt.push(performance.now());
        client.send(payload, PPID_ASAP);
        inFlight++;
      } else if (inFlight === 0) {
        client.off('message', onMessage);
        resolve();
      }
    };
    client.on('message', onMessage);
    for (let i = 0; i < outstanding; i++) {
      sentAt.push(performance.now());
      client.send(payload, PPID_ASAP);
      inFlight++;
    }
  });
  const elapsed = (performance.now() - start) / 1000;
  rtts.sort((a, b) => a - b);
  return {
    outstanding,
    messages: done,
    seconds: elapsed,
    messagesPerSecond: done / elapsed,
    p50Ms: rtts[Math.floor(rtts.length * 0.5)] ?? NaN,
    p99Ms: rtts[Math.floor(rtts.length * 0.99)] ?? NaN,
  };
}

export async function run(seconds = 3): Promise<PingPongResult[]> {
  const server = await openSctpEndpoint({ mode: 'udp', port: 3863, udpPort: 0, address: '127.0.0.1' });
  const client = await openSctpEndpoint({ mode: 'udp', port: 3864, udpPort: 0, address: '127.0.0.1' });
  server.on('association', (a) => a.on('message', (p, ppid, stream) => a.send(p, ppid, stream)));
  try {
    const association = await client.connect({ address: '127.0.0.1', port: server.port, udpPort: server.udpPort! });
    const results: PingPongResult[] = [];
    for (const outstanding of [1, 32]) results.push(await pingPong(association, outstanding, seconds));
    return results;
  } finally {
    await client.close();
    await server.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(process.argv[2] ?? 3);
  for (const r of await run(seconds)) {
    console.log(
      `udp ping-pong, ${r.outstanding} outstanding: ${Math.round(r.messagesPerSecond)} msg/s ` +
        `(${r.messages} in ${r.seconds.toFixed(1)} s, p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms)`,
    );
  }
}
