// GET /handlespace on the control channel: streamed (64 KiB pieces with backpressure) against
// one JSON.stringify string (the form before; it throws past ~860,000 PEs), end to end over
// loopback with fetch, on a made-up handlespace of PEs in pools of 1,000.
//   npx tsx native-free-bench/control-handlespace.ts [PEs, default 100000]
import { ControlServer, type ControlSource } from '../src/registrar/control.js';
import { handlespaceOf } from './made-up-handlespace.js';

const N = Number(process.argv[2] ?? 100_000);
const PER = 1000;
const ROUNDS = 5;
const pools = handlespaceOf(Math.ceil(N / PER), PER);
const source: ControlSource = { id: 1, handlespace: async () => pools, stats: async () => ({}) };
const server = await ControlServer.open(source, {
  port: 0,
  routes: [{ path: '/one-string', handle: (r) => r.json(200, { registrarId: 1, time: new Date().toISOString(), pools }) }],
});
async function median(path: string): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    bytes = (await (await fetch(`http://127.0.0.1:${server.port}${path}`)).arrayBuffer()).byteLength;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: Math.round(times[Math.floor(ROUNDS / 2)]!), bytes };
}
const streamed = await median('/handlespace');
const whole = await median('/one-string');
console.log(JSON.stringify({ pes: N, bytes: streamed.bytes, bytesPerPe: Math.round(streamed.bytes / N), streamedMedianMs: streamed.ms, oneStringMedianMs: whole.ms, ratio: +(streamed.ms / whole.ms).toFixed(2) }));
await server.close();
