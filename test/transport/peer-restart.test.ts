// A peer that crashes (SIGKILL: no ABORT, no SHUTDOWN) and comes back on the same port pair
// associates again at once (RFC 9260 §5.2.2, §5.2.4 action A; src/sctp/association.ts): the
// stale association on our side is reported down with reason 'restart' and the new one comes
// up, rather than the new INIT being refused until the stale one times out by heartbeats. UDP mode on the loopback always; raw mode across two network
// namespaces when root, `ip netns` and raw SCTP sockets are there.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseSctpMode, openSctpEndpoint, type Association, type AssociationDownReason, type SctpEndpoint } from '../../src/transport/index.js';
import { writeSctpChecksum } from '../../src/sctp/crc32c.js';
import { PPID_ENRP } from '../../src/wire/constants.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { jsonRecords, keepLines, NetnsLab, netnsUnavailable, type LabProcess } from '../helpers/netns.js';
import { freeUdpPort } from '../registrar/harness.js';
import { sleep, until } from './udp-relay.js';

const AGENT = new URL('./association-agent.ts', import.meta.url).pathname;
const raw = chooseSctpMode();
const RAW_SKIP = netnsUnavailable() ?? (raw.mode === 'raw' ? null : raw.reason);
if (RAW_SKIP !== null) console.warn(`raw-mode peer restart test skipped: ${RAW_SKIP}`);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const events = (p: LabProcess): Array<Record<string, unknown>> => jsonRecords(p.lines);
const has = (p: LabProcess, event: string): boolean => events(p).some((e) => e['event'] === event);

/** A udp-mode agent on the loopback (started, ready, told to go). */
async function udpAgent(args: string[]): Promise<LabProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', AGENT, 'udp', ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const agent = keepLines(child);
  cleanups.push(() => void child.kill('SIGKILL'));
  expect(await until(() => has(agent, 'ready'), 15_000), agent.lines.join('\n')).toBe(true);
  child.stdin!.write('go\n');
  return agent;
}

describe('peer restart on the same port pair', () => {
  it('udp mode: the stale association goes down as a restart and the new one is up at once', async () => {
    const sctpPort = 30000 + (process.pid % 1000) * 10 + 7;
    const ours: SctpEndpoint = await openSctpEndpoint({ mode: 'udp', port: sctpPort, udpPort: 0, address: '127.0.0.1' });
    cleanups.push(() => ours.close());
    const seen: Association[] = [];
    const downs: AssociationDownReason[] = [];
    ours.on('association', (a) => {
      seen.push(a);
      a.on('down', (reason) => downs.push(reason));
    });
    const peerUdp = await freeUdpPort();
    const args = ['127.0.0.1', String(sctpPort), '127.0.0.1', '0', String(peerUdp), String(ours.udpPort)];

    const first = await udpAgent(args);
    expect(await until(() => has(first, 'up') && seen.length === 1 && seen[0]!.state === 'up', 10_000), first.lines.join('\n')).toBe(true);
    first.process.kill('SIGKILL');
    await first.exited;

    const second = await udpAgent(args);
    // Before the agent's first INIT retransmission (20 s) and any heartbeat timeout (30 s
    // heartbeats): 10 s is generous for a loaded machine.
    expect(await until(() => has(second, 'up'), 10_000), second.lines.join('\n')).toBe(true);
    expect(events(second).filter((e) => e['event'] === 'down')).toEqual([]);
    expect(downs).toEqual(['restart']);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.state).toBe('up');
    expect(ours.associations).toEqual([seen[1]]);
    // The new association carries data.
    expect(seen[1]!.send(Buffer.from('after the restart'), PPID_ENRP)).toBe(true);
  });

  it('udp mode: a forged INIT in the name of a live peer ends nothing (the INIT ACK goes to the real peer, which drops it)', async () => {
    const sctpPort = 30000 + (process.pid % 1000) * 10 + 8;
    const ours = await openSctpEndpoint({ mode: 'udp', port: sctpPort, udpPort: 0, address: '127.0.0.1' });
    cleanups.push(() => ours.close());
    const peer = await openSctpEndpoint({ mode: 'udp', port: sctpPort, udpPort: 0, address: '127.0.0.1' });
    cleanups.push(() => peer.close());
    const downs: AssociationDownReason[] = [];
    const received: string[] = [];
    ours.on('association', (b) => {
      b.on('down', (r) => downs.push(r));
      b.on('message', (m) => received.push(Buffer.from(m).toString()));
    });
    const a = await peer.connect({ address: '127.0.0.1', port: sctpPort, udpPort: ours.udpPort! });
    // A lone INIT with a fresh Initiate Tag, from the peer's own address and UDP port.
    const init = Buffer.alloc(12 + 20);
    init.writeUInt16BE(sctpPort, 0);
    init.writeUInt16BE(sctpPort, 2);
    init.writeUInt8(1, 12); // INIT, Verification Tag 0
    init.writeUInt16BE(20, 14);
    init.writeUInt32BE(0x12345678, 16); // Initiate Tag
    init.writeUInt32BE(65536, 20); // a_rwnd
    init.writeUInt16BE(10, 24); // OS
    init.writeUInt16BE(10, 26); // MIS
    init.writeUInt32BE(1, 28); // initial TSN
    writeSctpChecksum(init);
    await peer.sendDatagram!(init, ours.udpPort!, '127.0.0.1');
    await sleep(300);
    expect(a.state).toBe('up');
    expect(downs).toEqual([]);
    expect(a.send(Buffer.from('still the same association'), PPID_ENRP)).toBe(true);
    expect(await until(() => received.length === 1, 5000)).toBe(true);
    expect(received).toEqual(['still the same association']);
  });
});

describe.skipIf(RAW_SKIP !== null)('peer restart on the same port pair, raw mode (network namespaces)', () => {
  it('the stale association goes down as a restart and the restarted peer is associated at once', async () => {
    const lab = new NetnsLab('10.77.8');
    cleanups.push(() => lab.cleanup());
    const x = lab.addHost('x', 1);
    const y = lab.addHost('y', 2);
    const start = async (host: typeof x, peer: typeof x, delay: string): Promise<LabProcess> => {
      const p = lab.spawn(host.ns, process.execPath, ['--import', 'tsx', AGENT, 'raw', host.address, '9901', peer.address, delay], { cwd: REPO_ROOT, stdin: 'pipe' });
      expect(await until(() => has(p, 'ready'), 15_000), p.lines.join('\n')).toBe(true);
      p.process.stdin!.write('go\n');
      return p;
    };
    const passive = await start(x, y, 'passive');
    const first = await start(y, x, '0');
    expect(await until(() => has(first, 'up') && has(passive, 'up'), 10_000), passive.lines.join('\n')).toBe(true);
    process.kill(-first.process.pid!, 'SIGKILL');
    await first.exited;
    const second = await start(y, x, '0');
    expect(await until(() => has(second, 'up'), 10_000), second.lines.join('\n')).toBe(true);
    const xs = events(passive);
    expect(xs.filter((e) => e['event'] === 'down')).toEqual([{ event: 'down', reason: 'restart' }]);
    expect(xs.filter((e) => e['event'] === 'up')).toHaveLength(2);
  }, 40_000);
});
