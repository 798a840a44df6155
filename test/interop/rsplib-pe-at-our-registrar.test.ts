// Interop 2: RSPLIB's pool elements and pool user against our registrar.
//
// LAN 10.77.2.0/24: our registrar on .1 (SCTP over UDP 9899, announces on), RSPLIB's
// rspserver (echo service) and rspterminal on .10 (UML host, see rsplib-host.ts), our tools on
// .3. One rspserver is given our registrar's address, the other finds it by our
// ASAP_SERVER_ANNOUNCE alone. Checked: both registered with RSPLIB's policy and transport as
// our handlespace dump shows them, our resolution, rspterminal's session through our
// registrar, our terminal's session with an RSPLIB PE, and the removal of a PE killed with
// SIGKILL. Every packet on the bridge is dissected by tshark.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab } from '../helpers/netns.js';
import { assertNoMalformed, TSHARK } from '../helpers/tshark.js';
import { resolveJson, rserpool, rserpoolRun, SKIP, waitFor } from './common.js';
import { RsplibHost } from './rsplib-host.js';
import { PolicyType } from '../../src/wire/constants.js';

const POOL = 'RspEcho';
const OUR_ID = 0x0a770201;
const CONTROL_PORT = 3870;
let lab: NetnsLab | null = null;

afterAll(async () => {
  await lab?.cleanup();
});

interface DumpJson {
  registrarId: number;
  pools: Array<{ handle: string; policy: { type: number; name: string }; elements: Array<{ peId: number; home: number; userTransport: { protocol: string; addresses: string[]; port: number; use: string } }> }>;
}

describe.skipIf(SKIP !== null)('RSPLIB\'s PEs and PU with our registrar (network namespaces, UML host)', () => {
  it('rspserver registers (by address and by our announce) with its policy and transport, rspterminal and our terminal reach it, a killed PE is removed; tshark finds nothing malformed', async () => {
    lab = new NetnsLab('10.77.2');
    const regHost = lab.addHost('reg', 1);
    const puHost = lab.addHost('pu', 3);
    const capture = TSHARK !== null ? await lab.capture(join(tmpdir(), `interop-2-${lab.tag}.pcapng`)) : null;
    const registrar = rserpool(lab, regHost.ns, [
      'registrar', '--id', String(OUR_ID), '--transport', 'udp', '--address', regHost.address, '--udp-port', '9899', '--shards', '1',
      '--mentor-discovery-timeout', '300', '--keep-alive-interval', '1000', '--keep-alive-timeout', '1000', '--control-port', String(CONTROL_PORT),
    ]);
    const rsplib = await RsplibHost.boot(lab, 'rsp', 10);
    await waitFor(() => registrar.lines.some((l) => l.includes('"registrar started"')), 15_000, 'our registrar started').catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; its last output: ${registrar.lines.slice(-10).join(' | ')}`);
    });

    rsplib.start('server-a', `rspserver -echo -poolhandle=${POOL} -policy=LeastUsed -registrar=${regHost.address}:3863 -local=${rsplib.address} -loglevel=2 -logcolor=off`);
    // No -registrar: it hunts on 239.0.0.50:3863, where our announces carry our ASAP transport.
    rsplib.start('server-b', `rspserver -echo -poolhandle=${POOL} -policy=LeastUsed -local=${rsplib.address} -loglevel=2 -logcolor=off`);

    const dump = async (): Promise<DumpJson> => {
      const r = await rserpoolRun(lab!, regHost.ns, ['dump', '--json', '--registrar', `127.0.0.1:${CONTROL_PORT}`]);
      return JSON.parse(r.stdout) as DumpJson;
    };
    let table: DumpJson | null = null;
    await waitFor(async () => ((table = await dump()).pools[0]?.elements.length ?? 0) === 2, 20_000, 'both rspservers registered', 300);
    const pool = table!.pools[0]!;
    expect(pool.handle).toBe(POOL);
    expect(pool.policy).toEqual({ type: PolicyType.LeastUsed, name: 'LeastUsed' });
    for (const e of pool.elements) {
      expect(e.home).toBe(OUR_ID);
      expect(e.userTransport).toEqual(expect.objectContaining({ protocol: 'sctp', addresses: [rsplib.address], use: 'data+control' }));
    }

    const resolved = await resolveJson(lab, puHost.ns, POOL, ['--registrar', `${regHost.address}:3863:9899`, '--items', '5']);
    expect(resolved?.elements.map((e) => e.peId).sort()).toEqual(pool.elements.map((e) => e.peId).sort());
    expect(resolved?.elements.every((e) => e.policy.name === 'LeastUsed' && e.homeRegistrarId === OUR_ID)).toBe(true);

    // RSPLIB's pool user through our registrar.
    const input = rsplib.writeFile('rspterminal.in', 'hello from rspterminal\n');
    await rsplib.run('rspterminal', `sh -c '(cat ${input}; sleep 3) | rspterminal -registrar=${regHost.address}:3863 -poolhandle=${POOL} -loglevel=1 -logcolor=off'`, 8000);
    expect(rsplib.log('rspterminal')).toContain('hello from rspterminal');
    expect(rsplib.log('rspterminal')).not.toContain('FAILOVER');

    // Our terminal with an RSPLIB PE: its kernel SCTP listens on UDP 9899.
    const terminal = rserpool(lab, puHost.ns, ['terminal', POOL, '--transport', 'udp', '--registrar', `${regHost.address}:3863:9899`, '--pe-udp-port', '9899', '--linger', '1500'], 'pipe');
    let echoed = '';
    terminal.process.stdout!.on('data', (d: Buffer) => (echoed += d.toString('utf8')));
    terminal.process.stdin!.end('hello rspserver\n');
    expect(await terminal.exited).toBe(0);
    expect(echoed).toBe('hello rspserver\n');

    // A PE killed with SIGKILL: its association goes (ABORT from its kernel) or its
    // keep-alives go unanswered; either way our registrar removes it.
    rsplib.signal('server-a', 'KILL');
    await waitFor(async () => ((await dump()).pools[0]?.elements.length ?? 0) === 1, 10_000, 'killed rspserver removed', 300);

    if (capture !== null) {
      await capture.stop();
      const packets = assertNoMalformed(capture.file);
      expect(new Set(packets.flatMap((p) => p.protos.map((q) => q.name)))).toContain('asap');
    }
  }, 180_000);
});
