// ASAP handle resolutions over SCTP (over UDP), plain TCP and TLS (PSK, TLS 1.3) against one
// registrar process, and TLS handshakes per second: the cost of the stream transports
// (issue 12). Closed loop: `--window` resolutions in flight on one association, runs
// alternating between transports; registrar CPU from /proc per resolution (and per handshake).
//
//   npm run build && node dist/native-free-bench/stream-transports.js [--duration 5] [--runs 3] [--window 32]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { AsapEndpoint, PoolElement } from '../src/client/index.js';
import { poolHandleBytes } from '../src/client/pool-handle.js';
import { loadTlsCredentials, tlsClientOptions } from '../src/transport/tls-credentials.js';

const LOOPBACK = '127.0.0.1';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const DURATION_S = arg('duration', 5);
const RUNS = arg('runs', 3);
const WINDOW = arg('window', 32);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, LOOPBACK, r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** utime + stime of a process, seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rserpool-stream-bench-'));
  const psk = join(dir, 'psk.txt');
  writeFileSync(psk, 'bench:8f3a5c0d1e2b4a6978c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f4051627\n');
  const [udpPort, tcpPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
  const registrar = spawn(process.execPath, [CLI, 'registrar', '--transport', 'udp', '--udp-port', String(udpPort), '--address', LOOPBACK, '--tcp-port', String(tcpPort), '--tls-port', String(tlsPort), '--tls-psk', psk, '--shards', '1', '--announce', 'off', '--enrp-announce', 'off', '--control-port', '0', '--mentor-discovery-timeout', '0', '--resolution-rate', '0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Up once its TCP port answers (it opens after SCTP and ENRP).
  for (let up = false; !up; ) {
    up = await new Promise<boolean>((resolve) => {
      const c = connect(tcpPort, LOOPBACK, () => (c.destroy(), resolve(true)));
      c.on('error', () => setTimeout(() => resolve(false), 100));
    });
  }
  const pid = registrar.pid!;
  const registrars = {
    sctp: { address: LOOPBACK, port: 3863, udpPort },
    tcp: { address: LOOPBACK, port: tcpPort },
    tls: { address: LOOPBACK, port: tlsPort },
  };
  const credentials = loadTlsCredentials({ psk }, 'client');
  const open = (t: 'sctp' | 'tcp' | 'tls'): Promise<AsapEndpoint> =>
    AsapEndpoint.open({ registrars: [registrars[t]], announces: false, sctp: { mode: 'udp', address: LOOPBACK }, localAddresses: [LOOPBACK], ...(t === 'sctp' ? {} : { stream: { protocol: t, ...(t === 'tls' ? { tls: credentials } : {}) } }) });
  const peSide = await open('sctp');
  const pes: PoolElement[] = [];
  for (let i = 0; i < 10; i++) {
    const pe = new PoolElement(peSide, { poolHandle: 'bench', userTransport: { port: 7000 + i } });
    await pe.register();
    pes.push(pe);
  }
  const handle = poolHandleBytes('bench');
  const results: Record<string, { rate: number[]; cpuUs: number[] }> = { sctp: { rate: [], cpuUs: [] }, tcp: { rate: [], cpuUs: [] }, tls: { rate: [], cpuUs: [] }, handshakes: { rate: [], cpuUs: [] } };
  for (let run = 0; run < RUNS; run++) {
    for (const t of ['sctp', 'tcp', 'tls'] as const) {
      const asap = await open(t);
      const home = await asap.homeConnection();
      await home.resolveHandle(handle); // warm
      let done = 0;
      const end = performance.now() + DURATION_S * 1000;
      const cpu0 = cpuSeconds(pid);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: WINDOW }, async () => {
          while (performance.now() < end) {
            await home.resolveHandle(handle);
            done++;
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(pid) - cpu0;
      results[t]!.rate.push(done / seconds);
      results[t]!.cpuUs.push((cpu / done) * 1e6);
      await asap.close();
    }
    // TLS handshakes (PSK, TLS 1.3), one after another, each closed once complete.
    const options = tlsClientOptions(credentials);
    let handshakes = 0;
    const end = performance.now() + DURATION_S * 1000;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    while (performance.now() < end) {
      await new Promise<void>((resolve, reject) => {
        const s = tls.connect({ ...options, host: LOOPBACK, port: tlsPort }, () => {
          handshakes++;
          s.end();
          resolve();
        });
        s.on('error', reject);
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    results.handshakes!.rate.push(handshakes / seconds);
    results.handshakes!.cpuUs.push(((cpuSeconds(pid) - cpu0) / handshakes) * 1e6);
  }
  for (const pe of pes) await pe.close();
  await peSide.close();
  registrar.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  const sctpRate = median(results.sctp!.rate);
  console.log(`window ${WINDOW}, ${DURATION_S} s x ${RUNS} runs alternating; medians (registrar CPU per operation)`);
  for (const [name, r] of Object.entries(results)) {
    const rate = median(r.rate);
    const ratio = name === 'handshakes' ? '' : `  ${(rate / sctpRate).toFixed(2)}x SCTP`;
    console.log(`${name.padEnd(10)} ${rate.toFixed(0).padStart(8)}/s  ${median(r.cpuUs).toFixed(1).padStart(7)} us${ratio}   runs: ${r.rate.map((x) => x.toFixed(0)).join(', ')}`);
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(error);
    process.exit(1);
  },
);
