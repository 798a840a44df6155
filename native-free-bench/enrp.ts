// ENRP benchmarks (RFC 5353): a new registrar loading the handlespace from its mentor, handle
// updates a registrar absorbs from a peer while serving resolutions, and the takeover of a
// dead peer's PEs. In-process registrars on 127.0.0.1, SCTP over UDP.
import dgram from 'node:dgram';
import { pino } from 'pino';
import { Registrar, type RegistrarConfig } from '../src/registrar/index.js';
import { ToShard } from '../src/shard/batch.js';
import { openSctpEndpoint } from '../src/transport/index.js';
import { EnrpType, ParamType, PPID_ENRP, TransportUse, UpdateAction, encodeMessage, parseAddress, policySettings, transportParameter, type Message } from '../src/wire/index.js';

export interface EnrpBenchOptions {
  pes?: string;
  shards?: number;
  pageSize?: number;
  duration?: number;
  json?: boolean;
}

const silent = pino({ level: 'silent' });
const FAKE_PEER = 0x7e7e7e7e;

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function start(udpPort: number, peers: number[], extra: Partial<RegistrarConfig>): Promise<Registrar> {
  return Registrar.start(
    {
      transport: 'udp', address: '127.0.0.1', udpPort, asapPort: 3863, enrpPort: 9901, announce: false, enrpAnnounce: false,
      peers: peers.map((p) => ({ address: '127.0.0.1', port: 9901, udpPort: p })),
      peerHeartbeatCycle: 1000, maxTimeLastHeard: 600_000, maxTimeNoResponse: 600_000, mentorDiscoveryTimeout: 2000, logLevel: 'silent',
      ...extra,
    },
    silent,
  );
}

/** ENRP_HANDLE_UPDATE ADD_PE of PE `i` owned by `home`, with an ASAP transport. */
function addPe(i: number, home: number, pools: number): Uint8Array {
  const address = parseAddress('127.0.0.1')!;
  return encodeMessage({
    protocol: 'enrp', type: EnrpType.HandleUpdate, flags: 0, paddedLength: false, unknownParams: null, senderId: home, receiverId: 0,
    action: UpdateAction.AddPe, reserved: 0, poolHandle: new TextEncoder().encode(`bench-${i % pools}`),
    poolElement: {
      peId: i, homeRegistrarId: home, registrationLife: 3_600_000,
      userTransport: transportParameter(ParamType.SctpTransport, 10000 + (i % 50000), [address], TransportUse.DataOnly),
      policy: policySettings(1), asapTransport: transportParameter(ParamType.SctpTransport, 20000, [address], TransportUse.DataOnly),
    },
  } as Message);
}

/** Puts `n` PEs owned by FAKE_PEER into a registrar's shards, as if a peer had announced them. */
async function inject(r: Registrar, n: number): Promise<void> {
  const shards = (r as unknown as { shards: { route(h: Uint8Array): number; enqueue(s: number, a: number, k: number, p: Uint8Array): void } }).shards;
  const pools = Math.max(1, Math.floor(n / 1000));
  for (let i = 1; i <= n; i++) {
    const m = addPe(i, FAKE_PEER, pools);
    shards.enqueue(shards.route(new TextEncoder().encode(`bench-${i % pools}`)), 0, ToShard.EnrpHandleUpdate, m);
    if (i % 20000 === 0) await new Promise((res) => setImmediate(res));
  }
  for (;;) {
    const s = await r.stats();
    if (s.shards.reduce((a, x) => a + x.poolElements, 0) >= n) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

export async function run(opts: EnrpBenchOptions): Promise<void> {
  const sizes = (opts.pes ?? '100000,1000000').split(',').map(Number);
  const shards = opts.shards ?? 2;
  const results: Record<string, number>[] = [];
  for (const n of sizes) {
    // 1. Load from a mentor.
    const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
    const mentor = await start(pa, [], { shards, maxHandleTableElements: opts.pageSize ?? 128 });
    await inject(mentor, n);
    const t0 = performance.now();
    const fresh = await start(pb, [pa], { shards, mentorDiscoveryTimeout: 2000 });
    const loadMs = performance.now() - t0;
    const loaded = (await fresh.stats()).shards.reduce((a, x) => a + x.poolElements, 0);
    // 2. Takeover of n PEs: the fan-out that moves ownership and arms keep-alives with H.
    const shardSet = (fresh as unknown as { shards: { broadcast(a: number, k: number, p: Uint8Array): void; owners(): Promise<number[]> } }).shards;
    const words = new Uint8Array(8);
    new DataView(words.buffer).setUint32(0, FAKE_PEER);
    new DataView(words.buffer).setUint32(4, fresh.id);
    const t1 = performance.now();
    shardSet.broadcast(0, ToShard.EnrpTakeOver, words);
    while ((await shardSet.owners()).includes(FAKE_PEER)) await new Promise((res) => setTimeout(res, 5));
    const takeoverMs = performance.now() - t1;
    await fresh.close();
    await mentor.close();
    results.push({ pes: n, shards, pageSize: opts.pageSize ?? 128, loadMs: Math.round(loadMs), loaded, takeoverMs: Math.round(takeoverMs) });
    if (!opts.json) console.log(`${n} PEs: loaded from mentor in ${Math.round(loadMs)} ms (${loaded} PEs), takeover fan-out ${Math.round(takeoverMs)} ms`);
  }
  // 3. Handle updates absorbed from a peer per second.
  const pr = await freeUdpPort();
  const r = await start(pr, [], { shards });
  const peer = await openSctpEndpoint({ mode: 'udp', port: 9901, udpPort: 0, address: '127.0.0.1' });
  const a = await peer.connect({ address: '127.0.0.1', port: 9901, udpPort: pr });
  a.send(encodeMessage({ protocol: 'enrp', type: EnrpType.Presence, flags: 0, paddedLength: false, unknownParams: null, senderId: FAKE_PEER, receiverId: 0, checksum: null, serverInfo: null } as Message), PPID_ENRP);
  const updates = Array.from({ length: 20000 }, (_, i) => addPe(i + 1, FAKE_PEER, 100));
  const duration = (opts.duration ?? 5) * 1000;
  const t2 = performance.now();
  let sent = 0;
  while (performance.now() - t2 < duration) {
    if (a.bufferedAmount < 512 * 1024) for (let k = 0; k < 200; k++) a.send(updates[sent++ % updates.length]!, PPID_ENRP);
    await new Promise((res) => setImmediate(res));
  }
  const applied = (await r.stats()).shards.reduce((x, s) => x + (s.counters['updatesApplied'] ?? 0), 0);
  const perSecond = Math.round(applied / (duration / 1000));
  await peer.close();
  await r.close();
  results.push({ updatesPerSecond: perSecond, shards });
  if (opts.json) console.log(JSON.stringify(results, null, 2));
  else console.log(`handle updates absorbed: ${perSecond}/s (${shards} shards)`);
}
