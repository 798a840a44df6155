// What the ENRP-over-TLS sender checks cost (docs/benchmarks.md, "ENRP over TLS: sender
// checks"): a peer on one TLS connection (PSK) sends N ENRP_HANDLE_UPDATEs to an in-process
// registrar, which checks every one against the connection's server ID and, with
// --enrp-tls-server-ids, against its credential's line; timed until the I/O thread has taken
// in all N (a LIST_REQUEST sent after them is answered). Runs without and with the file,
// alternating, and prints the medians.
// Run: node dist/native-free-bench/enrp-tls-sender-check.js [--updates N] [--runs N]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Registrar } from '../src/registrar/index.js';
import { StreamConnector } from '../src/transport/stream-connector.js';
import { loadTlsCredentials } from '../src/transport/tls-credentials.js';
import { EnrpFlag, EnrpType, ParamType, PPID_ENRP, TransportUse, UpdateAction, encodeMessage, parseAddress, policySettings, transportParameter, type Message } from '../src/wire/index.js';
import { freeTcpPort, freeUdpPort } from './free-ports.js';

const MEMBER = 0x4d000001;
const { values } = parseArgs({ options: { updates: { type: 'string', default: '20000' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.updates);
const RUNS = Number(values.runs);

const dir = mkdtempSync(join(tmpdir(), 'rserpool-sender-check-'));
const psk = join(dir, 'psk.txt');
writeFileSync(psk, 'member:00112233445566778899aabbccddeeff\n');
const ids = join(dir, 'ids.txt');
writeFileSync(ids, `psk:member ${MEMBER}\n`);

function enrp(fields: Record<string, unknown>): Uint8Array {
  return encodeMessage({ protocol: 'enrp', flags: 0, paddedLength: false, unknownParams: null, senderId: MEMBER, receiverId: 0, ...fields } as unknown as Message);
}

const address = parseAddress('127.0.0.1')!;
const updates = Array.from({ length: N }, (_, k) =>
  enrp({
    type: EnrpType.HandleUpdate,
    action: UpdateAction.AddPe,
    reserved: 0,
    poolHandle: new TextEncoder().encode(`pool-${k % 100}`),
    poolElement: { peId: k + 1, homeRegistrarId: MEMBER, registrationLife: 3_600_000, userTransport: transportParameter(ParamType.SctpTransport, 10000 + (k % 50000), [address], TransportUse.DataOnly), policy: policySettings(1), asapTransport: null },
  }),
);

/** Updates per second the registrar took in, with or without the credential file. */
async function run(withIds: boolean): Promise<number> {
  const enrpTlsPort = await freeTcpPort();
  const registrar = await Registrar.start(
    { registrarId: 0x0a, transport: 'udp', address: '127.0.0.1', udpPort: await freeUdpPort(), shards: 1, announce: false, enrpAnnounce: false, mentorDiscoveryTimeout: 0, tcpPort: 0, tlsPort: await freeTcpPort(), enrpTlsPort, tlsPsk: psk, maxElementsPerPeer: N + 1, ...(withIds ? { enrpTlsServerIds: ids } : {}) },
    pino({ level: 'silent' }),
  );
  const connector = new StreamConnector({ protocol: 'tls', ppid: PPID_ENRP, tls: loadTlsCredentials({ psk, pskIdentity: 'member' }, 'client'), maxSendQueueBytes: 256 * 1024 * 1024 });
  try {
    const link = connector.associate({ address: '127.0.0.1', port: enrpTlsPort });
    await new Promise<void>((resolve, reject) => {
      link.once('up', () => resolve());
      link.once('down', (reason) => reject(new Error(String(reason))));
    });
    link.send(enrp({ type: EnrpType.Presence, flags: EnrpFlag.ReplyRequired, checksum: null, serverInfo: null }), PPID_ENRP);
    for (;;) {
      if ((await registrar.stats()).peers.includes(MEMBER)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    // Timed: until the answer to a LIST_REQUEST sent after the updates is back, i.e. the I/O
    // thread (where the checks run) has decoded, checked and routed all N.
    const answered = new Promise<void>((resolve) => link.on('message', (payload) => payload[0] === EnrpType.ListResponse && resolve()));
    const t0 = performance.now();
    for (const u of updates) link.send(u, PPID_ENRP);
    link.send(enrp({ type: EnrpType.ListRequest }), PPID_ENRP);
    await answered;
    const seconds = (performance.now() - t0) / 1000;
    // Not timed: every update reached the handlespace.
    for (const t1 = performance.now(); ; ) {
      const s = await registrar.stats();
      if (s.shards.reduce((a, x) => a + x.poolElements, 0) >= N) break;
      if (performance.now() - t1 > 120_000) throw new Error('not all updates arrived within 120 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const refused = (await registrar.stats()).enrpTls?.serverIdRefused ?? 0;
    if (refused !== 0) throw new Error(`${refused} updates refused`);
    return N / seconds;
  } finally {
    connector.close();
    await registrar.close();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const without: number[] = [];
const withFile: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    without.push(await run(false));
    withFile.push(await run(true));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const round = (x: number): number => Math.round(x);
console.log(JSON.stringify({ updates: N, runs: RUNS, loadavg: loadavg().map((x) => x.toFixed(2)), withoutServerIds: { perSecond: without.map(round), median: round(median(without)) }, withServerIds: { perSecond: withFile.map(round), median: round(median(withFile)) }, ratio: +(median(withFile) / median(without)).toFixed(3) }));
