// INIT collision in raw mode (SCTP over IP): two hosts (network namespaces, each with its own
// raw socket view) associate to each other on one SCTP port pair, as two registrars that start
// together and name each other as ENRP peers do. The stack's §5.2.1 handling must bring up one
// association on both ends well before the first INIT retransmission (20 s here; the tests allow
// 10 s, as the machine may be loaded). Needs root and
// `ip netns`, and raw SCTP sockets.
import { afterEach, describe, expect, it } from 'vitest';
import { chooseSctpMode } from '../../src/transport/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { jsonRecords, NetnsLab, netnsUnavailable, type LabProcess } from '../helpers/netns.js';
import { sleep, until } from './udp-relay.js';

const AGENT = new URL('./association-agent.ts', import.meta.url).pathname;
const raw = chooseSctpMode();
const SKIP = netnsUnavailable() ?? (raw.mode === 'raw' ? null : raw.reason);
if (SKIP !== null) console.warn(`raw-mode INIT collision test skipped: ${SKIP}`);

let lab: NetnsLab | null = null;
afterEach(async () => {
  await lab?.cleanup();
  lab = null;
});

const events = (p: LabProcess): Array<Record<string, unknown>> => jsonRecords(p.lines);

/** Two agents on port 9901 of .1 and .2; `delays` before each associates after the go line. */
async function collide(delays: [number, number]): Promise<[LabProcess, LabProcess]> {
  lab = new NetnsLab('10.77.9');
  const hosts = [lab.addHost('x', 1), lab.addHost('y', 2)] as const;
  const agents = [0, 1].map((i) =>
    lab!.spawn(hosts[i]!.ns, process.execPath, ['--import', 'tsx', AGENT, 'raw', hosts[i]!.address, '9901', hosts[1 - i]!.address, String(delays[i])], { cwd: REPO_ROOT, stdin: 'pipe' }),
  ) as [LabProcess, LabProcess];
  await until(() => agents.every((a) => events(a).some((e) => e['event'] === 'ready')), 15_000);
  for (const a of agents) expect(events(a).some((e) => e['event'] === 'ready'), a.lines.join('\n')).toBe(true);
  for (const a of agents) a.process.stdin!.write('go\n');
  return agents;
}

describe.skipIf(SKIP !== null)('INIT collision in raw mode (network namespaces)', () => {
  it('both ends send INIT at the same moment: one association, up on both ends before an INIT retransmission', async () => {
    const agents = await collide([0, 0]);
    await until(() => agents.every((a) => events(a).some((e) => e['event'] === 'up')), 10_000);
    for (const a of agents) {
      const up = events(a).filter((e) => e['event'] === 'up');
      expect(up, a.lines.join("\n")).toHaveLength(1);
      expect(up[0]!['ms']).toBeLessThan(10_000);
    }
    await sleep(300);
    for (const a of agents) expect(events(a).filter((e) => e['event'] === 'up')).toHaveLength(1);
  }, 30_000);

  it('one end associates 400 ms after the other: it finds the association made, one on both ends', async () => {
    const agents = await collide([0, 400]);
    await until(() => agents.every((a) => events(a).some((e) => e['event'] === 'up')) && events(agents[1]).some((e) => e['event'] === 'not associated'), 10_000);
    for (const a of agents) expect(events(a).filter((e) => e['event'] === 'up'), a.lines.join('\n')).toHaveLength(1);
    expect(events(agents[1]).some((e) => e['event'] === 'not associated'), agents[1].lines.join('\n')).toBe(true);
  }, 30_000);
});
