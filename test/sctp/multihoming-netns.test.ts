// Multi-homing across network namespaces (RFC 9260 §6.4, §8.2): two hosts joined by two
// links, an association over both, the primary link cut in the middle of a stream of messages:
// the sender fails over to the other path and no message is lost or reordered. Real processes,
// real sockets, in udp mode and (when raw SCTP sockets can be opened) raw mode.
import { afterEach, describe, expect, it } from 'vitest';
import { chooseSctpMode } from '../../src/transport/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { ip, jsonRecords, NetnsLab, netnsUnavailable, type LabProcess } from '../helpers/netns.js';

const AGENT = new URL('./multihoming-agent.ts', import.meta.url).pathname;
const SKIP = netnsUnavailable();
if (SKIP !== null) console.warn(`multi-homing test skipped: ${SKIP}`);
const raw = chooseSctpMode();

let lab: NetnsLab | null = null;
afterEach(async () => {
  await lab?.cleanup();
  lab = null;
});

const events = (p: LabProcess, name: string): Array<Record<string, unknown>> => jsonRecords(p.lines).filter((e) => e['event'] === name);

async function until(predicate: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return predicate();
}

async function failover(mode: 'udp' | 'raw'): Promise<void> {
  // Link 1 through the lab's bridge (10.88.1.0/24), link 2 a direct veth pair (10.88.2.0/24).
  lab = new NetnsLab('10.88.1');
  const x = lab.addHost('x', 1);
  const y = lab.addHost('y', 2);
  const vx = `m${lab.tag}x`;
  const vy = `m${lab.tag}y`;
  ip('link', 'add', vx, 'type', 'veth', 'peer', 'name', vy);
  ip('link', 'set', vx, 'netns', x.ns);
  ip('link', 'set', vy, 'netns', y.ns);
  ip('-n', x.ns, 'addr', 'add', '10.88.2.1/24', 'dev', vx);
  ip('-n', y.ns, 'addr', 'add', '10.88.2.2/24', 'dev', vy);
  ip('-n', x.ns, 'link', 'set', vx, 'up');
  ip('-n', y.ns, 'link', 'set', vy, 'up');

  const count = 3000;
  const receiver = lab.spawn(y.ns, process.execPath, ['--import', 'tsx', AGENT, mode, '10.88.1.2,10.88.2.2', '10.88.1.1,10.88.2.1', 'receive'], { cwd: REPO_ROOT });
  expect(await until(() => events(receiver, 'ready').length > 0, 15_000), receiver.lines.join('\n')).toBe(true);
  const sender = lab.spawn(x.ns, process.execPath, ['--import', 'tsx', AGENT, mode, '10.88.1.1,10.88.2.1', '10.88.1.2,10.88.2.2', 'send', String(count)], { cwd: REPO_ROOT });
  expect(await until(() => events(sender, 'up').length > 0, 15_000), sender.lines.join('\n')).toBe(true);
  expect(events(sender, 'up')[0]!['remoteAddresses']).toEqual(['10.88.1.2', '10.88.2.2']);

  // Cut link 1 a second into the stream: y's port on the bridge goes down.
  expect(await until(() => events(sender, 'sent').some((e) => (e['n'] as number) >= 500), 15_000), sender.lines.join('\n')).toBe(true);
  ip('-n', lab.bridgeNs, 'link', 'set', `r${lab.tag}2b`, 'down');

  const done = await until(() => events(receiver, 'received').some((e) => e['n'] === count), 30_000);
  const log = `sender:\n${sender.lines.join('\n')}\nreceiver:\n${receiver.lines.join('\n')}`;
  expect(done, log).toBe(true);
  expect(events(receiver, 'out of order'), log).toEqual([]);
  expect(events(sender, 'down'), log).toEqual([]);
  expect(events(receiver, 'down'), log).toEqual([]);
  // Data left by the second path once the first had failed (Path.Max.Retrans, RFC 9260 §8.2).
  expect(await until(() => events(sender, 'paths').length > 0, 15_000), log).toBe(true);
  const paths = events(sender, 'paths')[0]!;
  expect(paths['current'], log).toBe('10.88.2.2');
  expect(paths['paths'], log).toEqual([
    expect.objectContaining({ address: '10.88.1.2', active: false }),
    expect.objectContaining({ address: '10.88.2.2', active: true }),
  ]);
}

describe.skipIf(SKIP !== null)('multi-homing across network namespaces', () => {
  it('udp mode: the primary link is cut mid-stream; failover to the second path, no message lost', () => failover('udp'), 60_000);
  it.skipIf(raw.mode !== 'raw')('raw mode: the same over IP directly', () => failover('raw'), 60_000);
});
