// Multi-host ENRP in Linux network namespaces: three registrars and a PE on four "hosts"
// (namespaces) joined by veth pairs to a bridge in a fifth namespace, with private addresses
// that exist only inside these namespaces (10.77.0.0/24) and SCTP over UDP on port 9899 as
// RSPLIB runs it. The registrars are given no peers: they find each other by ENRP_PRESENCE on
// the multicast group, as on a real LAN. A PE registered at A resolves at B and C; A is
// killed with SIGKILL; one survivor takes over, the PE re-homes there after the keep-alive
// with the H bit, and both survivors name the winner as its home.
//
// Needs root and iproute2 (`ip netns`); otherwise skipped with the reason. Everything is
// created and removed by the test (unique names; removed in afterAll even on failure).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT } from '../helpers/cli.js';
import { netnsUnavailable } from '../helpers/netns.js';
import { FAST_ENRP, sleep, waitFor } from './harness.js';

const AGENT = new URL('./netns-agent.ts', import.meta.url).pathname;
const GROUP = '239.0.0.51:9901'; // RSPLIB's ENRP group: it exists only on our private bridge

const SKIP = netnsUnavailable();
if (SKIP !== null) console.warn(`netns test skipped: ${SKIP}`);

const tag = randomBytes(2).toString('hex');
const BRIDGE_NS = `rsp-${tag}-br`;
const HOSTS = ['a', 'b', 'c', 'pe'] as const;
type Host = (typeof HOSTS)[number];
const ns = (h: Host): string => `rsp-${tag}-${h}`;
const address = (h: Host): string => `10.77.0.${HOSTS.indexOf(h) + 1}`;
const IDS = { a: 0x0a000001, b: 0x0b000002, c: 0x0c000003 } as const;

const created: string[] = [];
const children: ChildProcess[] = [];

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Bridge namespace with br0; per host a namespace, a veth pair into the bridge, an address. */
function buildNetwork(): void {
  ip('netns', 'add', BRIDGE_NS);
  created.push(BRIDGE_NS);
  ip('-n', BRIDGE_NS, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
  ip('-n', BRIDGE_NS, 'link', 'set', 'br0', 'up');
  for (const h of HOSTS) {
    ip('netns', 'add', ns(h));
    created.push(ns(h));
    // Short unique names while both ends are briefly in the root namespace.
    const inside = `r${tag}${h}`;
    const outside = `r${tag}${h}b`;
    ip('link', 'add', inside, 'type', 'veth', 'peer', 'name', outside);
    ip('link', 'set', inside, 'netns', ns(h));
    ip('link', 'set', outside, 'netns', BRIDGE_NS);
    ip('-n', BRIDGE_NS, 'link', 'set', outside, 'master', 'br0', 'up');
    ip('-n', ns(h), 'link', 'set', 'lo', 'up');
    ip('-n', ns(h), 'addr', 'add', `${address(h)}/24`, 'dev', inside);
    ip('-n', ns(h), 'link', 'set', inside, 'up', 'multicast', 'on');
    // Multicast (the ENRP presence group) leaves by the bridge link; there is no other route.
    ip('-n', ns(h), 'route', 'add', '224.0.0.0/4', 'dev', inside);
  }
}

interface Child {
  process: ChildProcess;
  lines: string[];
}

function inNamespace(h: Host, args: string[]): Child {
  const child = spawn('ip', ['netns', 'exec', ns(h), process.execPath, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  children.push(child);
  const c: Child = { process: child, lines: [] };
  let partial = '';
  const take = (d: Buffer): void => {
    const text = partial + d.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop()!;
    c.lines.push(...parts);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return c;
}

function records(c: Child): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of c.lines) {
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not JSON (a plain stderr line)
    }
  }
  return out;
}

function registrar(h: 'a' | 'b' | 'c'): Child {
  return inNamespace(h, [
    CLI, 'registrar', '--id', String(IDS[h]), '--transport', 'udp', '--address', address(h), '--udp-port', '9899', '--shards', '1',
    '--announce', 'off', '--enrp-announce', GROUP,
    '--peer-heartbeat-cycle', String(FAST_ENRP.peerHeartbeatCycle), '--max-time-last-heard', String(FAST_ENRP.maxTimeLastHeard),
    '--max-time-no-response', String(FAST_ENRP.maxTimeNoResponse), '--mentor-discovery-timeout', '800', '--takeover-expiry', String(FAST_ENRP.takeoverExpiry),
  ]);
}

async function resolveAt(h: 'b' | 'c'): Promise<Array<{ peId: number; home: number }>> {
  const c = inNamespace('pe', ['--import', 'tsx', AGENT, 'resolve', address('pe'), address(h), 'netns-pool']);
  const code = await new Promise<number | null>((resolve) => c.process.once('exit', (n) => resolve(n)));
  const answer = records(c).find((r) => r['event'] === 'resolved');
  if (code !== 0 || answer === undefined) throw new Error(`resolution at ${h} failed: ${c.lines.join(' | ')}`);
  return answer['pes'] as Array<{ peId: number; home: number }>;
}

const knows = (c: Child, peer: number): boolean => records(c).some((r) => r['msg'] === 'new ENRP peer' && r['peer'] === `0x${peer.toString(16).padStart(8, '0')}`);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sleep(100);
  for (const name of created.reverse()) spawnSync('ip', ['netns', 'del', name]);
});

describe.skipIf(SKIP !== null)('registrars on separate hosts (network namespaces, multicast presence)', () => {
  it('a PE registered at A resolves at B and C; A killed with SIGKILL is taken over and the PE re-homes', async () => {
    buildNetwork();
    const a = registrar('a');
    await waitFor(() => a.lines.some((l) => l.includes('"registrar started"')), 15_000, 'A started');
    const b = registrar('b');
    const c = registrar('c');
    // No --peer anywhere: they meet on the multicast group across the bridge.
    await waitFor(() => knows(a, IDS.b) && knows(a, IDS.c) && knows(b, IDS.a) && knows(b, IDS.c) && knows(c, IDS.a) && knows(c, IDS.b), 45_000, 'registrars found each other by presence');
    await waitFor(() => b.lines.some((l) => l.includes('"registrar started"')) && c.lines.some((l) => l.includes('"registrar started"')), 30_000, 'B and C started');

    const pe = inNamespace('pe', ['--import', 'tsx', AGENT, 'pe', address('pe'), address('a'), 'netns-pool', '4242']);
    await waitFor(() => records(pe).some((r) => r['event'] === 'registered' && r['reject'] === false), 10_000, 'PE registered at A');
    for (const h of ['b', 'c'] as const) {
      let pes: Array<{ peId: number; home: number }> = [];
      // Each try starts a process (seconds on a loaded machine): 8 s allowed about one.
      await waitFor(async () => (pes = await resolveAt(h)).length === 1, 30_000, `PE resolvable at ${h}`, 200);
      expect(pes).toEqual([{ peId: 4242, home: IDS.a }]);
    }

    a.process.kill('SIGKILL');
    await waitFor(() => records(pe).some((r) => r['event'] === 'home'), 20_000, 'keep-alive with H from the winner');
    const home = records(pe).find((r) => r['event'] === 'home')!;
    const winner = home['serverId'] as number;
    expect([IDS.b, IDS.c]).toContain(winner);
    expect(home['remote']).toBe(winner === IDS.b ? address('b') : address('c'));
    const won = (x: Child): number => records(x).filter((r) => typeof r['msg'] === 'string' && (r['msg'] as string).startsWith('takeover: the target')).length;
    expect(won(b) + won(c)).toBe(1);
    expect(won(winner === IDS.b ? b : c)).toBe(1);
    // The PE re-registered at the winner; both survivors name the winner as its home.
    await waitFor(() => records(pe).filter((r) => r['event'] === 'registered' && r['reject'] === false).length >= 2, 15_000, 're-registered at the winner');
    for (const h of ['b', 'c'] as const) expect(await resolveAt(h)).toEqual([{ peId: 4242, home: winner }]);
    // About 7-19 s; every wait is for something that happens as soon as it can (the takeover's
    // schedule is tested in virtual time, peer-monitoring.test.ts), so a loaded machine only
    // makes them longer.
  }, 180_000);
});
