// Interop 1: our pool element and pool users against RSPLIB's registrar.
//
// LAN 10.77.1.0/24 in network namespaces: RSPLIB's rspregistrar on .10 (a UML host, see
// rsplib-host.ts), our `rserpool pe` on .2, our pool users on .3. SCTP over UDP 9899 on both
// sides. Checked: the registration as RSPLIB itself sees it (hsdump asks the registrar's
// handlespace over ENRP), our resolution by address and by RSPLIB's ID-only server announces,
// a session of our terminal with our PE, a session of RSPLIB's rspterminal with our PE, and
// the deregistration. Every packet on the bridge is captured and dissected by tshark.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab, type LabHost } from '../helpers/netns.js';
import { assertNoMalformed, TSHARK } from '../helpers/tshark.js';
import { resolveJson, rserpool, rserpoolRun, SKIP, waitFor } from './common.js';
import { RsplibHost, rsplibServerId } from './rsplib-host.js';

const POOL = 'interop-echo';
const PE_ID = 0x1234abcd;
let lab: NetnsLab | null = null;

afterAll(async () => {
  await lab?.cleanup();
});

describe.skipIf(SKIP !== null)('our PE and PUs with RSPLIB\'s registrar (network namespaces, UML host)', () => {
  it('registers, resolves (by address and by announce), serves sessions to our terminal and to rspterminal, deregisters; tshark finds nothing malformed', async () => {
    lab = new NetnsLab('10.77.1');
    const peHost: LabHost = lab.addHost('pe', 2);
    const puHost: LabHost = lab.addHost('pu', 3);
    const capture = TSHARK !== null ? await lab.capture(join(tmpdir(), `interop-1-${lab.tag}.pcapng`)) : null;
    const rsplib = await RsplibHost.boot(lab, 'rsp', 10);
    const registrar = `${rsplib.address}:3863:9899`;

    rsplib.start('registrar', `rspregistrar -asap=${rsplib.address}:3863 -enrp=${rsplib.address}:9901 -mentordiscoverytimeout=300 -loglevel=3 -logcolor=off`);
    await waitFor(() => rsplib.log('registrar').includes('The registrar is ready'), 15_000, 'RSPLIB registrar ready');
    const rsplibId = rsplibServerId(rsplib.log('registrar'));
    expect(rsplibId).not.toBeNull();

    // Our PE listens on UDP 9899: RSPLIB's pool users send to the well-known encapsulation
    // port, since ASAP transport parameters carry no UDP port (RFC 6951 §5.1).
    const pe = rserpool(lab, peHost.ns, ['pe', '--pool', POOL, '--id', String(PE_ID), '--transport', 'udp', '--udp-port', '9899', '--registrar', registrar, '--local-address', peHost.address]);
    await waitFor(() => pe.lines.some((l) => l.includes('registered PE')), 15_000, 'our PE registered at RSPLIB');

    // RSPLIB's view: hsdump plays a peer registrar and downloads the handlespace over ENRP.
    const dump = await rsplib.run('hsdump', `hsdump ${rsplib.address}:9901 -loglevel=1 -logcolor=off`, 8000);
    expect(dump.output).toContain(`Pool "${POOL}", Policy "RoundRobin", Protocol SCTP, CtrlCh=yes`);
    expect(dump.output).toMatch(new RegExp(`\\$${PE_ID.toString(16).padStart(8, "0")} [^\\n]*\\n\\s+chsum=\\$[0-9a-f]+ home=\\$${rsplibId!.toString(16).padStart(8, "0")}`));
    expect(dump.output).toContain(`userT: {${peHost.address}}`);

    // Our resolution at RSPLIB's registrar, by address.
    const byAddress = await resolveJson(lab, puHost.ns, POOL, ['--registrar', registrar]);
    expect(byAddress?.elements).toEqual([
      expect.objectContaining({ peId: PE_ID, homeRegistrarId: rsplibId, userTransport: expect.objectContaining({ protocol: 'sctp', addresses: [peHost.address], use: 'data+control' }), policy: expect.objectContaining({ name: 'RoundRobin' }) }),
    ]);
    // ... and by hunting: RSPLIB's ASAP_SERVER_ANNOUNCE carries only its server ID; the UDP
    // source address and port name its ASAP endpoint.
    const byAnnounce = await resolveJson(lab, puHost.ns, POOL, ['--announce', '239.0.0.50:3863']);
    expect(byAnnounce?.elements.map((e) => [e.peId, e.homeRegistrarId])).toEqual([[PE_ID, rsplibId]]);

    // Our terminal: resolution at RSPLIB, session with our PE, echo.
    const terminal = rserpool(lab, puHost.ns, ['terminal', POOL, '--transport', 'udp', '--registrar', registrar, '--linger', '1500', '--pe-udp-port', '9899'], 'pipe');
    let echoed = '';
    terminal.process.stdout!.on('data', (d: Buffer) => (echoed += d.toString('utf8')));
    terminal.process.stdin!.end('hello from rserpool-ts\nsecond line\n');
    expect(await terminal.exited).toBe(0);
    expect(echoed).toBe('hello from rserpool-ts\nsecond line\n');

    // RSPLIB's rspterminal: resolution at its registrar, session with our PE (kernel SCTP in
    // the UML host, UDP encapsulation to our PE's port 9899), its line echoed back.
    const input = rsplib.writeFile('rspterminal.in', 'hello from rspterminal\n');
    await rsplib.run('rspterminal', `sh -c '(cat ${input}; sleep 3) | rspterminal -registrar=${rsplib.address}:3863 -poolhandle=${POOL} -loglevel=1 -logcolor=off'`, 8000);
    expect(rsplib.log('rspterminal')).toContain('hello from rspterminal');
    expect(rsplib.log('rspterminal')).not.toContain('FAILOVER');
    await waitFor(() => pe.lines.some((l) => /session \d+ from 10\.77\.1\.10:\d+: closed/.test(l)), 5000, 'our PE saw rspterminal\'s session');

    // Deregistration on SIGTERM: RSPLIB's registrar then answers Unknown Pool Handle.
    pe.process.kill('SIGTERM');
    expect(await pe.exited).toBe(0);
    const after = await rserpoolRun(lab, puHost.ns, ['resolve', POOL, '--transport', 'udp', '--registrar', registrar]);
    expect(after.code).toBe(1);
    expect(after.lines.join('\n')).toMatch(/unknown pool handle/i);

    if (capture !== null) {
      await capture.stop();
      const packets = assertNoMalformed(capture.file);
      const names = new Set(packets.flatMap((p) => p.protos.map((q) => q.name)));
      expect(names).toContain('asap');
      expect(names).toContain('enrp');
    }
  }, 180_000);
});
