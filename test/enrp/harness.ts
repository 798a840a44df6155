// A scope of registrars for the ENRP tests: in-process registrars on 127.0.0.1, SCTP over
// UDP, each on its own UDP port (ASAP and ENRP share it), every one configured with the
// others as static peers, short ENRP timers.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';
import { Registrar, type RegistrarConfig } from '../../src/registrar/index.js';
import { freeUdpPort, type LogRecord } from '../registrar/harness.js';

export { sleep, waitFor, freeUdpPort } from '../registrar/harness.js';

/** ENRP timers scaled down for tests (RSPLIB: 2440 / 5000 / 5000 / 5000 / 5000 ms). */
export const FAST_ENRP: Partial<RegistrarConfig> = {
  peerHeartbeatCycle: 250,
  maxTimeLastHeard: 800,
  maxTimeNoResponse: 500,
  mentorDiscoveryTimeout: 1000,
  takeoverExpiry: 1000,
};

export interface ScopeMember {
  registrar: Registrar;
  logs: LogRecord[];
  udpPort: number;
}

/** The registrar's log records, kept for the test (ENRP_TEST_LOG=debug keeps association events too). */
export function logSink(): { log: Logger; logs: LogRecord[] } {
  const logs: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return { log: pino<never>({ name: 'registrar', level: process.env.ENRP_TEST_LOG ?? 'info' }, sink), logs };
}

/** One registrar with a given UDP port and static peers. */
export async function startMember(udpPort: number, peers: number[], config: Partial<RegistrarConfig> = {}): Promise<ScopeMember> {
  const { log, logs } = logSink();
  const registrar = await Registrar.start(
    {
      transport: 'udp',
      address: '127.0.0.1',
      asapPort: 3863,
      enrpPort: 9901,
      udpPort,
      shards: 1,
      announce: false,
      enrpAnnounce: false,
      logLevel: 'info',
      peers: peers.filter((p) => p !== udpPort).map((p) => ({ address: '127.0.0.1', port: 9901, udpPort: p })),
      ...FAST_ENRP,
      ...config,
    },
    log,
  );
  return { registrar, logs, udpPort };
}

/** `n` registrars that know each other, started together. */
export async function startScope(n: number, config: Partial<RegistrarConfig> = {}): Promise<ScopeMember[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freeUdpPort());
  // One after another, as operators start them: each finds the running ones (its mentor).
  const members: ScopeMember[] = [];
  for (const p of ports) members.push(await startMember(p, ports, config));
  return members;
}

/** True when every registrar knows every other as a peer. */
export async function meshed(members: ScopeMember[]): Promise<boolean> {
  for (const m of members) {
    const peers = new Set((await m.registrar.stats()).peers);
    for (const other of members) if (other !== m && !peers.has(other.registrar.id)) return false;
  }
  return true;
}
