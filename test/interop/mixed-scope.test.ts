// Interop 5: one operational scope of RSPLIB's registrar and two of ours, started in either
// order, with a registrar killed (SIGKILL).
//
// The issue this reproduces: RSPLIB's registrar started 2 s before two of ours, each naming the
// other two as peers. The INITs crossed on ENRP port 9901 <-> 9901 and ours never answered
// RSPLIB's INIT (the `sctp` package drops an INIT that collides with its own, instead of the
// RFC 9260 §5.2.1 answer), so the handlespace stayed split, and a kill -9 of RSPLIB's registrar
// re-homed nothing. (RSPLIB here is Debian's 3.4.4; the report was on 3.5.)
//
// LAN 10.77.11.0/24 (case a) or 10.77.12.0/24 (case b): ours on .1 and .2, RSPLIB's
// rspregistrar and rspserver on .10 (UML host, rsplib-host.ts), our PEs on .4 and .5, our
// pool users on .3. Each registrar has one PE of its own pool. Checked: every registrar
// resolves every pool, with the right home; after the kill, the dead registrar's PEs are
// resolvable at both survivors with a survivor as home, and the other PEs still are.
import { afterEach, describe, expect, it } from 'vitest';
import { NetnsLab, type LabHost, type LabProcess } from '../helpers/netns.js';
import { resolveJson, rserpool, SKIP, sleep, waitFor, type ResolvedJson } from './common.js';
import { RsplibHost, rsplibServerId } from './rsplib-host.js';

// A keep-alive timeout a PE's ack cannot miss on a loaded machine (the PEs are processes in
// network namespaces, rspserver runs in a User-mode Linux kernel).
const FAST = { heartbeat: 500, lastHeard: 1500, noResponse: 1000, takeover: 1000, keepAlive: 1000, keepAliveTimeout: 3000 };
/**
 * How long the views may take to agree: each poll runs `rserpool resolve` 9 times (3 pools at 3
 * registrars), seconds apiece on a loaded machine, so a short timeout allowed a single poll.
 */
const CONVERGE_MS = 45_000;
const REHOME_MS = 60_000;
const POOL = { rsp: 'mixed-rsplib', one: 'mixed-ours-1', two: 'mixed-ours-2' } as const;
let lab: NetnsLab | null = null;

afterEach(async () => {
  await lab?.cleanup();
  lab = null;
});

interface Scope {
  lab: NetnsLab;
  rsplib: RsplibHost;
  reg: [LabHost, LabHost];
  ids: [number, number];
  regs: LabProcess[];
  pu: LabHost;
  rsplibId: () => number;
}

function ourRegistrar(l: NetnsLab, host: LabHost, id: number, peers: string[]): LabProcess {
  return rserpool(l, host.ns, [
    'registrar', '--id', String(id), '--transport', 'udp', '--address', host.address, '--udp-port', '9899', '--shards', '1', '--control-port', '0',
    ...peers.flatMap((p) => ['--peer', `${p}:9901`]), '--mentor-discovery-timeout', '1000', '--peer-heartbeat-cycle', String(FAST.heartbeat),
    '--max-time-last-heard', String(FAST.lastHeard), '--max-time-no-response', String(FAST.noResponse), '--takeover-expiry', String(FAST.takeover),
    '--keep-alive-interval', String(FAST.keepAlive), '--keep-alive-timeout', String(FAST.keepAliveTimeout),
  ]);
}

function startRsplibRegistrar(rsplib: RsplibHost, peers: string[]): void {
  rsplib.start(
    'registrar',
    `rspregistrar -asap=${rsplib.address}:3863 -enrp=${rsplib.address}:9901 ${peers.map((p) => `-peer=${p}:9901`).join(' ')} -mentordiscoverytimeout=300 ` +
      `-peerheartbeatcycle=${FAST.heartbeat} -peermaxtimelastheard=${FAST.lastHeard} -peermaxtimenoresponse=${FAST.noResponse} -takeoverexpiryinterval=${FAST.takeover} ` +
      `-endpointkeepalivetransmissioninterval=${FAST.keepAlive} -endpointkeepalivetimeoutinterval=${FAST.keepAliveTimeout} -loglevel=3 -logcolor=off`,
  );
}

const started = (p: LabProcess): boolean => p.lines.some((l) => l.includes('"registrar started"'));

async function scope(subnet: string, order: 'rsplib-first' | 'ours-first'): Promise<Scope> {
  const l = (lab = new NetnsLab(subnet));
  const reg: [LabHost, LabHost] = [l.addHost('reg1', 1), l.addHost('reg2', 2)];
  const pu = l.addHost('pu', 3);
  const ids: [number, number] = [0x0a770001 + (subnet.endsWith('12') ? 0x100 : 0), 0x0a770002 + (subnet.endsWith('12') ? 0x100 : 0)];
  const rsplib = await RsplibHost.boot(l, 'rsp', 10);
  const regs: LabProcess[] = [];
  const startOurs = (): void => {
    regs.push(ourRegistrar(l, reg[0], ids[0], [rsplib.address, reg[1].address]));
    regs.push(ourRegistrar(l, reg[1], ids[1], [rsplib.address, reg[0].address]));
  };
  if (order === 'rsplib-first') {
    startRsplibRegistrar(rsplib, [reg[0].address, reg[1].address]);
    await waitFor(() => rsplib.log('registrar').includes('The registrar is ready'), 15_000, 'RSPLIB registrar ready');
    await sleep(2000);
    startOurs();
    await waitFor(() => regs.every(started), 15_000, 'ours started');
  } else {
    startOurs();
    await waitFor(() => regs.every(started), 15_000, 'ours started');
    await sleep(2000);
    startRsplibRegistrar(rsplib, [reg[0].address, reg[1].address]);
    await waitFor(() => rsplib.log('registrar').includes('The registrar is ready'), 15_000, 'RSPLIB registrar ready');
  }
  return { lab: l, rsplib, reg, ids, regs, pu, rsplibId: () => rsplibServerId(rsplib.log('registrar'))! };
}

/** One PE per registrar: rspserver at RSPLIB's, our `rserpool pe` at each of ours. */
function startPes(s: Scope): LabProcess[] {
  s.rsplib.start('server', `rspserver -echo -poolhandle=${POOL.rsp} -registrar=${s.rsplib.address}:3863 -local=${s.rsplib.address} -loglevel=3 -logcolor=off`);
  return ([[POOL.one, 0, 4], [POOL.two, 1, 5]] as const).map(([pool, at, n]) => {
    const host = s.lab.addHost(`pe${n}`, n);
    return rserpool(s.lab, host.ns, ['pe', '--pool', pool, '--transport', 'udp', '--udp-port', '9899', '--local-address', host.address, '--registrar', `${s.reg[at].address}:3863:9899`]);
  });
}

/** pool -> [peId, home] as `rserpool resolve` sees it at `registrar` (null: not resolvable). */
async function view(s: Scope, registrar: string): Promise<Record<string, Array<[number, number]> | null>> {
  const out: Record<string, Array<[number, number]> | null> = {};
  for (const pool of Object.values(POOL)) {
    const r: ResolvedJson | null = await resolveJson(s.lab, s.pu.ns, pool, ['--registrar', `${registrar}:3863:9899`, '--items', '5']);
    out[pool] = r === null || r.elements.length === 0 ? null : r.elements.map((e) => [e.peId, e.homeRegistrarId]);
  }
  return out;
}

/** Waits until every registrar in `at` resolves every pool of `pools` to one PE with a home in `homes`. */
async function converged(s: Scope, at: string[], pools: string[], homes: (pool: string) => number[], timeoutMs: number, what: string): Promise<void> {
  let last: Record<string, unknown> = {};
  try {
    await waitFor(async () => {
      last = {};
      let ok = true;
      for (const registrar of at) {
        const v = await view(s, registrar);
        last[registrar] = v;
        for (const pool of pools) {
          const pes = v[pool];
          if (pes === null || pes === undefined || pes.length !== 1 || !homes(pool).includes(pes[0]![1])) ok = false;
        }
      }
      return ok;
    }, timeoutMs, what, 500);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last views (pool -> [peId, home]): ${JSON.stringify(last)}`);
  }
}

describe.skipIf(SKIP !== null)('a mixed scope: RSPLIB\'s registrar and two of ours (network namespaces, UML host)', () => {
  it('(a) RSPLIB\'s registrar first, ours 2 s later: every registrar resolves every PE; RSPLIB\'s registrar killed, rspserver re-homes to ours, resolvable at both', async () => {
    const s = await scope('10.77.11', 'rsplib-first');
    const pes = startPes(s);
    await waitFor(() => pes.every((p) => p.lines.some((l) => l.includes('registered PE'))) && s.rsplib.log('server').includes('Home registrar is'), 15_000, 'every PE registered');
    const all = [s.rsplib.address, s.reg[0].address, s.reg[1].address];
    const home: Record<string, number> = { [POOL.rsp]: s.rsplibId(), [POOL.one]: s.ids[0], [POOL.two]: s.ids[1] };
    await converged(s, all, Object.values(POOL), (pool) => [home[pool]!], CONVERGE_MS, 'one handlespace: every pool at every registrar');

    s.rsplib.signal('registrar', 'KILL');
    await converged(s, [s.reg[0].address, s.reg[1].address], Object.values(POOL), (pool) => (pool === POOL.rsp ? s.ids : [home[pool]!]), REHOME_MS, "rspserver re-homed to ours, every pool at both of ours");
  }, 240_000);

  it('(b) ours first, RSPLIB\'s registrar 2 s later: every registrar resolves every PE; one of ours killed, its PE re-homes, resolvable at the survivors', async () => {
    const s = await scope('10.77.12', 'ours-first');
    const pes = startPes(s);
    await waitFor(() => pes.every((p) => p.lines.some((l) => l.includes('registered PE'))) && s.rsplib.log('server').includes('Home registrar is'), 15_000, 'every PE registered');
    const all = [s.rsplib.address, s.reg[0].address, s.reg[1].address];
    const home: Record<string, number> = { [POOL.rsp]: s.rsplibId(), [POOL.one]: s.ids[0], [POOL.two]: s.ids[1] };
    await converged(s, all, Object.values(POOL), (pool) => [home[pool]!], CONVERGE_MS, 'one handlespace: every pool at every registrar');

    // kill -9 of our first registrar (its process group: `ip netns exec` and node).
    process.kill(-s.regs[0]!.process.pid!, 'SIGKILL');
    await converged(s, [s.rsplib.address, s.reg[1].address], Object.values(POOL), (pool) => (pool === POOL.one ? [s.ids[1], s.rsplibId()] : [home[pool]!]), REHOME_MS, 'our first registrar\'s PE re-homed, every pool at both survivors');
  }, 240_000);
});
