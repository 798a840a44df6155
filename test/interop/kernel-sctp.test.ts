// Interop 4: our SCTP endpoint against the Linux kernel's SCTP, both directions, over UDP
// encapsulation (RFC 6951).
//
// The kernel is the User-mode Linux guest of rsplib-host.ts (Linux 6.1, sctp.ko, UDP
// encapsulation since 5.11 through net.sctp.udp_port = encap_port = 9899); its programs are
// kernel-sctp-peer.py run by Debian's python3 over the guest's hostfs root. Ours is
// sctp-agent.ts in a namespace host, on whatever provider openSctpEndpoint returns (mode 'udp').
//
// LAN 10.77.5.0/24 (+ fd77:5::/64): ours on .2, the guest on .10 with a second interface
// 10.77.6.10 on the same bridge (multi-homing). Checked: association setup both ways, echo
// with PPID and stream kept (full 32-bit PPIDs), messages fragmented into many DATA chunks
// (5,000 and 60,000 bytes), bursts of small messages (bundling), graceful SHUTDOWN both ways;
// the same over IPv6; a multi-homed kernel client whose primary address goes away mid-
// association (RFC 9260 §6.4: ours must take DATA from, and fail over to, its other address);
// and tshark finds nothing malformed in any of it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { ip, jsonRecords, NetnsLab, type LabHost, type LabProcess } from '../helpers/netns.js';
import { assertNoMalformed, runTshark, TSHARK, type LiveCapture } from '../helpers/tshark.js';
import { SKIP, waitFor } from './common.js';
import { RsplibHost } from './rsplib-host.js';
import type { AgentCommand, AgentEvent } from './sctp-agent.js';

const PEER = fileURLToPath(new URL('./kernel-sctp-peer.py', import.meta.url));
const AGENT = fileURLToPath(new URL('./sctp-agent.ts', import.meta.url));
const V6 = { ours: 'fd77:5::2', guest: 'fd77:5::10' };
/** PPIDs no dissector claims (11 and 12 would make tshark read the test bytes as ASAP/ENRP). */
const P = 0x7e570000;
/** SIZE:PPID:STREAM; sizes past one PMTU make the sender fragment (RFC 9260 §6.9). */
const MESSAGES: Array<[size: number, ppid: number, stream: number]> = [
  [5, P + 1, 0],
  [5000, P + 2, 1],
  [60_000, 0xfffffffe, 3],
  [1, 0, 2],
];
/** A burst of small messages sent at once: several DATA chunks per packet (bundling). */
const BURST: Array<[number, number, number]> = Array.from({ length: 12 }, (_, i) => [100 + i, P + 100 + i, i % 4]);

let lab: NetnsLab | null = null;
let guest: RsplibHost;
let ours: LabHost;
let capture: LiveCapture | null = null;

/** Our endpoint process (sctp-agent.ts) in the `ours` namespace. */
class Agent {
  readonly #p: LabProcess;
  constructor(l: NetnsLab, ns: string) {
    this.#p = l.spawn(ns, process.execPath, ['--import', 'tsx', AGENT], { cwd: REPO_ROOT, stdin: 'pipe' });
  }
  get events(): AgentEvent[] {
    return jsonRecords(this.#p.lines) as AgentEvent[];
  }
  command(c: AgentCommand): void {
    this.#p.process.stdin!.write(`${JSON.stringify(c)}\n`);
  }
  async event(match: (e: AgentEvent) => boolean, timeoutMs: number, what: string): Promise<AgentEvent> {
    await waitFor(() => this.events.some(match) || this.events.some((e) => e.ev === 'error'), timeoutMs, `${what} (agent output: ${this.#p.lines.slice(-5).join(' | ')})`, 50);
    const error = this.events.find((e) => e.ev === 'error');
    if (error !== undefined) throw new Error(`our endpoint: ${String(error['message'])}`);
    return this.events.find(match)!;
  }
  messages(id: number): AgentEvent[] {
    return this.events.filter((e) => e.ev === 'message' && e.id === id);
  }
  async exit(): Promise<void> {
    this.command({ op: 'exit' });
    const timer = setTimeout(() => this.#p.process.kill('SIGKILL'), 5000);
    await this.#p.exited;
    clearTimeout(timer);
  }
}

/** The TAP of the guest's eth0 on the bridge (NetnsLab.addTap's name for host 'k'). */
const eth0Tap = (): string => `t${lab!.tag}k`.slice(0, 15);

/** "RECV"/"ECHO" lines of the peer's log as [size, ppid, stream, ok]. */
function peerLines(log: string, kind: 'RECV' | 'ECHO'): Array<[number, number, number, boolean]> {
  return [...log.matchAll(new RegExp(`^${kind} (\\d+) (\\d+) (\\d+) (ok|bad)$`, 'gm'))].map((m) => [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === 'ok']);
}

afterAll(async () => {
  await lab?.cleanup();
});

describe.skipIf(SKIP !== null)('our SCTP endpoint and the Linux kernel\'s SCTP (User-mode Linux guest, UDP encapsulation)', () => {
  beforeAll(async () => {
    lab = new NetnsLab('10.77.5');
    ours = lab.addHost('ours', 2);
    capture = TSHARK !== null ? await lab.capture(join(tmpdir(), `interop-kernel-${lab.tag}.pcapng`), 'udp port 9899') : null;
    guest = await RsplibHost.boot(lab, 'k', 10, { eth1Address: '10.77.6.10/24' });
    // IPv6 on the same link; no DAD, so the addresses work at once.
    ip('-n', ours.ns, '-6', 'addr', 'add', `${V6.ours}/64`, 'dev', ours.iface, 'nodad');
    expect((await guest.run('v6', `ip -6 addr add ${V6.guest}/64 dev eth0 nodad`)).code).toBe(0);
    // The guest's second address is on the same bridge: reachable from ours on-link, and the
    // guest reaches ours through eth1 once eth0 is gone (a worse route until then).
    ip('-n', ours.ns, 'route', 'add', '10.77.6.0/24', 'dev', ours.iface);
    expect((await guest.run('route', 'ip route add 10.77.5.0/24 dev eth1 metric 500')).code).toBe(0);
  }, 60_000);

  it('ours associates to a kernel SCTP listener: echo with PPID and stream kept, fragmented 5,000 and 60,000-byte messages, a burst of small ones, SHUTDOWN', async () => {
    guest.start('server4', `python3 ${PEER} server ${guest.address} 5001`);
    await waitFor(() => guest.log('server4').includes('LISTENING'), 10_000, 'kernel listener');
    const agent = new Agent(lab!, ours.ns);
    try {
      agent.command({ op: 'connect', address: guest.address, port: 5001, localPort: 40001 });
      const up = await agent.event((e) => e.ev === 'up', 15_000, 'association up');
      const id = up.id!;
      expect(up['remote']).toEqual(expect.objectContaining({ address: guest.address, port: 5001 }));
      for (const [size, ppid, stream] of [...MESSAGES, ...BURST]) agent.command({ op: 'send', id, size, ppid, stream });
      const all = [...MESSAGES, ...BURST];
      await agent.event(() => agent.messages(id).length >= all.length, 20_000, 'every echo');
      // Per stream the order is kept (RFC 9260 §6.5); across streams it may differ.
      const got = agent.messages(id).map((e) => [e['length'], e['ppid'], e['stream'], e['ok']]);
      expect(got).toHaveLength(all.length);
      expect(new Set(got.map((g) => JSON.stringify(g)))).toEqual(new Set(all.map(([s, p, st]) => JSON.stringify([s, p, st, true]))));
      for (let stream = 0; stream < 4; stream++) {
        const sent = all.filter((m) => m[2] === stream).map((m) => m[1]);
        expect(got.filter((g) => g[2] === stream).map((g) => g[1])).toEqual(sent);
      }
      // What the kernel received: the same bytes, PPIDs and streams.
      expect(new Set(peerLines(guest.log('server4'), 'RECV').map((g) => JSON.stringify(g)))).toEqual(new Set(all.map(([s, p, st]) => JSON.stringify([s, p, st, true]))));
      agent.command({ op: 'close', id });
      const down = await agent.event((e) => e.ev === 'down', 10_000, 'association down');
      expect(down['reason']).toBe('shutdown');
      await waitFor(() => guest.log('server4').includes('EOF'), 5000, 'the kernel saw the SHUTDOWN');
    } finally {
      await agent.exit();
    }
  }, 60_000);

  it('a kernel SCTP client associates to our listener: echo with PPID and stream kept, fragmented messages, its SHUTDOWN', async () => {
    const agent = new Agent(lab!, ours.ns);
    try {
      agent.command({ op: 'listen', port: 5002, echo: true });
      await agent.event((e) => e.ev === 'listening', 10_000, 'our listener');
      const specs = MESSAGES.map((m) => m.join(':')).join(' ');
      const run = await guest.run('client4', `python3 ${PEER} client ${ours.address} 5002 ${specs}`, 30_000);
      expect(run.output).toContain('CONNECTED');
      expect(peerLines(run.output, 'ECHO')).toEqual(MESSAGES.map(([s, p, st]) => [s, p, st, true]));
      expect(run.code, run.output).toBe(0);
      const association = await agent.event((e) => e.ev === 'association', 1000, 'the passive association');
      expect(association['remote']).toEqual(expect.objectContaining({ address: guest.address }));
      const id = association.id!;
      expect(agent.messages(id).map((e) => [e['length'], e['ppid'], e['stream'], e['ok']])).toEqual(MESSAGES.map(([s, p, st]) => [s, p, st, true]));
      const down = await agent.event((e) => e.ev === 'down' && e.id === id, 10_000, 'association down');
      expect(down['reason']).toBe('shutdown');
    } finally {
      await agent.exit();
    }
  }, 60_000);

  it('IPv6: ours to a kernel listener and a kernel client to ours', async () => {
    guest.start('server6', `python3 ${PEER} server ${V6.guest} 5003`);
    await waitFor(() => guest.log('server6').includes('LISTENING'), 10_000, 'kernel IPv6 listener');
    const agent = new Agent(lab!, ours.ns);
    try {
      agent.command({ op: 'connect', address: V6.guest, port: 5003, localPort: 40003, localAddress: V6.ours });
      const up = await agent.event((e) => e.ev === 'up', 15_000, 'IPv6 association up');
      const id = up.id!;
      for (const [size, ppid, stream] of MESSAGES) agent.command({ op: 'send', id, size, ppid, stream });
      await agent.event(() => agent.messages(id).length >= MESSAGES.length, 20_000, 'every IPv6 echo');
      expect(agent.messages(id).map((e) => [e['length'], e['ppid'], e['stream'], e['ok']])).toEqual(MESSAGES.map(([s, p, st]) => [s, p, st, true]));
      agent.command({ op: 'close', id });
      expect((await agent.event((e) => e.ev === 'down', 10_000, 'IPv6 association down'))['reason']).toBe('shutdown');
    } finally {
      await agent.exit();
    }
    const listener = new Agent(lab!, ours.ns);
    try {
      listener.command({ op: 'listen', port: 5004, address: V6.ours, echo: true });
      await listener.event((e) => e.ev === 'listening', 10_000, 'our IPv6 listener');
      const specs = MESSAGES.map((m) => m.join(':')).join(' ');
      const run = await guest.run('client6', `python3 ${PEER} client ${V6.ours} 5004 ${specs}`, 30_000);
      expect(peerLines(run.output, 'ECHO'), run.output).toEqual(MESSAGES.map(([s, p, st]) => [s, p, st, true]));
      expect(run.code).toBe(0);
    } finally {
      await listener.exit();
    }
  }, 60_000);

  it('multi-homing: a kernel client with two addresses (two links) keeps its association through the loss of its primary address', async () => {
    const agent = new Agent(lab!, ours.ns);
    try {
      agent.command({ op: 'listen', port: 5005, echo: true });
      await agent.event((e) => e.ev === 'listening', 10_000, 'our listener');
      // Unbound, the kernel's socket lists every address of the guest in its INIT
      // (RFC 9260 §5.1.2); it sends two messages, sleeps while its primary address goes, sends two more.
      const before = [[1000, P + 21, 0], [6000, P + 22, 1]];
      const after = [[1000, P + 23, 0], [9000, P + 24, 2]];
      const specs = [...before.map((m) => m.join(':')), 'sleep:6', ...after.map((m) => m.join(':'))].join(' ');
      const client = guest.run('client-mh', `python3 ${PEER} client ${ours.address} 5005 ${specs}`, 45_000);
      const association = await agent.event((e) => e.ev === 'up', 10_000, 'the multi-homed association');
      await waitFor(() => guest.log('client-mh').split('\n').filter((l) => l.startsWith('ECHO')).length === 2, 10_000, 'echoes before the link loss');
      // The primary address and link go (the address deleted, so that nothing on the guest
      // answers for it, not even ARP on eth1): the kernel sends from 10.77.6.10 over eth1, and ours must accept
      // DATA from that address and fail over to it (RFC 9260 §6.4, §6.4.1, §8.2).
      const gone = await guest.run('eth0-down', `ip addr del ${guest.address}/24 dev eth0 && ip link set eth0 down && ip -4 addr show`);
      expect(gone.code, gone.output).toBe(0);
      expect(gone.output).not.toContain(`${guest.address}/`);
      // And the wire: eth0's TAP leaves the bridge (the guest's kernel kept sending from its
      // deleted address, and UML's eth0 kept receiving, with the link "down" inside alone).
      ip('-n', lab!.bridgeNs, 'link', 'set', eth0Tap(), 'down');
      const run = await client;
      ip('-n', lab!.bridgeNs, 'link', 'set', eth0Tap(), 'up');
      await guest.run('eth0-up', `ip link set eth0 up && ip addr add ${guest.address}/24 dev eth0 && ip route replace 224.0.0.0/4 dev eth0`);
      expect(peerLines(run.output, 'ECHO'), run.output).toEqual([...before, ...after].map(([s, p, st]) => [s, p, st, true]));
      expect(run.code).toBe(0);
      const id = association.id!;
      expect(agent.messages(id).map((e) => [e['length'], e['ppid'], e['stream'], e['ok']])).toEqual([...before, ...after].map(([s, p, st]) => [s, p, st, true]));
      // Both of its addresses, from its INIT (the primary first).
      expect(association['remoteAddresses']).toEqual([guest.address, '10.77.6.10']);
    } finally {
      spawnSync('ip', ['-n', lab!.bridgeNs, 'link', 'set', eth0Tap(), 'up']);
      await guest.run('eth0-up', `ip link set eth0 up; ip addr add ${guest.address}/24 dev eth0 2>/dev/null; ip route replace 224.0.0.0/4 dev eth0`).catch(() => undefined);
      await agent.exit();
    }
  }, 60_000);

  it.skipIf(TSHARK === null)('tshark: nothing malformed in the kernel\'s and our SCTP over UDP 9899', async () => {
    await capture!.stop();
    const packets = assertNoMalformed(capture!.file);
    const protos = new Set(packets.flatMap((p) => p.protos.map((q) => q.name)));
    expect(protos).toContain('sctp');
  }, 60_000);

  it.skipIf(TSHARK === null)('our SCTP packets fit the path MTU: no IP fragments from ours (RFC 9260 §6.9, §7.3; the kernel\'s never are)', async () => {
    await capture!.stop();
    const fragments = (from: string): number => {
      const r = runTshark(['-r', capture!.file, '-Y', from.includes(':') ? `ipv6.src == ${from} && ipv6.fragment` : `ip.src == ${from} && (ip.flags.mf == 1 || ip.frag_offset > 0)`, '-T', 'fields', '-e', 'frame.number']);
      if (r.status !== 0) throw new Error(`tshark failed (status ${r.status}): ${r.stderr}`);
      return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
    };
    expect(fragments(guest.address) + fragments(V6.guest)).toBe(0);
    expect(fragments(ours.address) + fragments(V6.ours)).toBe(0);
  });
});
