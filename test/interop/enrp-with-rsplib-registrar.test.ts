// Interop 3: ENRP between RSPLIB's registrar and ours, one operational scope.
//
// LAN 10.77.3.0/24: our registrar on .1, RSPLIB's rspregistrar and rspserver on .10 (UML
// host, see rsplib-host.ts), our PE on .2, our pool users on .3. Each registrar names the
// other as a static peer, and both send ENRP_PRESENCE to 239.0.0.51:9901. Checked: each sees
// the other as a peer; a PE registered at either is resolvable at both, with the right home;
// hsdump (RSPLIB's tool, a pretend peer) downloads our registrar's handlespace. Every packet
// on the bridge is dissected by tshark.
//
// Our ENRP associations start from our ENRP port 9901, so RSPLIB (which keeps only those
// Server Information addresses that match the association's peer address AND port) accepts
// our presences and lists us as a peer with 10.77.3.1:9901. RSPLIB's registrar hung is taken
// over by ours, and rspserver re-homes to ours on our ENDPOINT_KEEP_ALIVE with the H bit.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonRecords, NetnsLab } from '../helpers/netns.js';
import { assertNoMalformed, TSHARK } from '../helpers/tshark.js';
import { resolveJson, rserpool, SKIP, sleep, waitFor } from './common.js';
import { RsplibHost, rsplibServerId } from './rsplib-host.js';

const OUR_ID = 0x0a770301;
const OUR_POOL = 'pool-at-ours';
const RSP_POOL = 'pool-at-rsplib';
const OUR_PE = 0x00c0ffee;
let lab: NetnsLab | null = null;

afterAll(async () => {
  await lab?.cleanup();
});

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

describe.skipIf(SKIP !== null)('ENRP between RSPLIB\'s registrar and ours (network namespaces, UML host)', () => {
  it('ours peers with RSPLIB (mentor, handle table); PEs registered at either resolve at both; hsdump reads our handlespace; RSPLIB lists ours as a peer (presences from our ENRP port); RSPLIB\'s registrar hung is taken over by ours and rspserver re-homes to ours; tshark finds nothing malformed', async () => {
    lab = new NetnsLab('10.77.3');
    const regHost = lab.addHost('reg', 1);
    const peHost = lab.addHost('pe', 2);
    const puHost = lab.addHost('pu', 3);
    const capture = TSHARK !== null ? await lab.capture(join(tmpdir(), `interop-3-${lab.tag}.pcapng`)) : null;
    const rsplib = await RsplibHost.boot(lab, 'rsp', 10);
    const fast = { heartbeat: 500, lastHeard: 1500, noResponse: 1000, takeover: 1000, keepAlive: 1000 };

    rsplib.start(
      'registrar',
      `rspregistrar -asap=${rsplib.address}:3863 -enrp=${rsplib.address}:9901 -peer=${regHost.address}:9901 -mentordiscoverytimeout=300 ` +
        `-peerheartbeatcycle=${fast.heartbeat} -peermaxtimelastheard=${fast.lastHeard} -peermaxtimenoresponse=${fast.noResponse} -takeoverexpiryinterval=${fast.takeover} -loglevel=5 -logcolor=off`,
    );
    await waitFor(() => rsplib.log('registrar').includes('The registrar is ready'), 15_000, 'RSPLIB registrar ready');
    const rsplibId = rsplibServerId(rsplib.log('registrar'))!;

    const ours = rserpool(lab, regHost.ns, [
      'registrar', '--id', String(OUR_ID), '--transport', 'udp', '--address', regHost.address, '--udp-port', '9899', '--shards', '1', '--control-port', '0',
      '--peer', `${rsplib.address}:9901`, '--mentor-discovery-timeout', '3000', '--peer-heartbeat-cycle', String(fast.heartbeat),
      '--max-time-last-heard', String(fast.lastHeard), '--max-time-no-response', String(fast.noResponse), '--takeover-expiry', String(fast.takeover),
      '--keep-alive-interval', String(fast.keepAlive), '--keep-alive-timeout', String(fast.keepAlive),
    ]);
    const log = (): Array<Record<string, unknown>> => jsonRecords(ours.lines);
    await waitFor(() => log().some((r) => r['msg'] === 'new ENRP peer' && r['peer'] === hex(rsplibId)), 15_000, 'our registrar knows RSPLIB\'s');
    await waitFor(() => log().some((r) => r['msg'] === 'registrar started'), 15_000, 'our registrar started');

    const pe = rserpool(lab, peHost.ns, ['pe', '--pool', OUR_POOL, '--id', String(OUR_PE), '--transport', 'udp', '--udp-port', '9899', '--registrar', `${regHost.address}:3863:9899`, '--local-address', peHost.address]);
    await waitFor(() => pe.lines.some((l) => l.includes('registered PE')), 15_000, 'our PE registered at ours');
    rsplib.start('server', `rspserver -echo -poolhandle=${RSP_POOL} -registrar=${rsplib.address}:3863 -local=${rsplib.address} -loglevel=3 -logcolor=off`);

    const at = (where: string): string[] => ['--registrar', `${where}:3863:9899`];
    // Our PE at RSPLIB's registrar (learned by ENRP_HANDLE_UPDATE), home ours.
    let r = null as Awaited<ReturnType<typeof resolveJson>>;
    await waitFor(async () => (r = await resolveJson(lab!, puHost.ns, OUR_POOL, at(rsplib.address))) !== null, 10_000, 'our PE resolvable at RSPLIB', 300);
    expect(r!.elements.map((e) => [e.peId, e.homeRegistrarId])).toEqual([[OUR_PE, OUR_ID]]);
    // RSPLIB's PE at ours, home RSPLIB's.
    await waitFor(async () => (r = await resolveJson(lab!, puHost.ns, RSP_POOL, at(regHost.address))) !== null, 10_000, 'rspserver resolvable at ours', 300);
    expect(r!.elements).toHaveLength(1);
    const rspPe = r!.elements[0]!;
    expect(rspPe.homeRegistrarId).toBe(rsplibId);
    expect(rspPe.userTransport).toEqual(expect.objectContaining({ protocol: 'sctp', addresses: [rsplib.address] }));

    // RSPLIB's hsdump plays a peer of ours and downloads our handlespace (paged ENRP_HANDLE_TABLE_RESPONSE).
    const dump = await rsplib.run('hsdump', `hsdump ${regHost.address}:9901 -loglevel=1 -logcolor=off`, 8000);
    expect(dump.output).toContain(`Pool "${OUR_POOL}"`);
    expect(dump.output).toContain(`Pool "${RSP_POOL}"`);
    expect(dump.output).toMatch(new RegExp(`\\$${OUR_PE.toString(16).padStart(8, "0")} [^\\n]*\\n\\s+chsum=\\$[0-9a-f]+ home=\\$${OUR_ID.toString(16).padStart(8, "0")}`));

    // RSPLIB takes our presences: they come over an association from our ENRP port 9901 now,
    // which is what RSPLIB matches the Server Information against (address AND port), and it
    // enters us in its peer list with that address.
    const rspLog = (): string => rsplib.log('registrar');
    const ourHex = OUR_ID.toString(16).padStart(8, '0');
    await waitFor(() => rspLog().includes(`Sending Presence to new peer $${ourHex}`), 5000, 'RSPLIB lists ours as a peer');
    expect(rspLog()).toMatch(new RegExp(`Sending Presence to new peer \\$${ourHex} [^\\n]*\\n\\s+addrs: \\{10\\.77\\.3\\.1\\} 9901/SCTP`));
    expect(rspLog()).not.toContain('contains no usable ENRP endpoint addresses');

    // RSPLIB's registrar hung (SIGSTOP): silent, while its kernel keeps its associations up,
    // so rspserver stays with it. Ours finds it silent and takes it over (RFC 5353 §3.5),
    // claiming rspserver's PE, and sends the PE an ENDPOINT_KEEP_ALIVE with the H bit over an
    // association of ours to the PE's ASAP transport (RFC 5352 §3.7: "this is your new home").
    // In RSPLIB that transport is the PE's registrar-hunt socket: the keep-alive arriving there
    // with the H bit makes it peel that association off and use it as its home. (Killed
    // instead, its kernel aborts rspserver's association and rspserver hunts on its own,
    // finding ours by our ASAP announces; that works too but does not exercise the H bit.)
    rsplib.signal('registrar', 'STOP');
    await waitFor(() => log().some((x) => String(x['msg']).startsWith('takeover: the target') && x['target'] === hex(rsplibId)), 15_000, "ours took over RSPLIB's registrar");
    await waitFor(() => rsplib.log('server').includes(`Home registrar is $${ourHex}`), 10_000, 'rspserver re-homed to ours (keep-alive with H)');
    expect(rsplib.log('server')).toContain(`EndpointKeepAlive from $${ourHex}`);
    // Resolvable at ours with ours as home, and still after a few keep-alive rounds (each
    // unanswered within the timeout would have removed it): rspserver answers ours now.
    const rehomed = async (): Promise<boolean> => {
      const x = await resolveJson(lab!, puHost.ns, RSP_POOL, at(regHost.address));
      return x?.elements.length === 1 && x.elements[0]!.peId === rspPe.peId && x.elements[0]!.homeRegistrarId === OUR_ID;
    };
    await waitFor(rehomed, 5000, "rspserver's PE at ours with ours as home", 300);
    await sleep(3 * fast.keepAlive + 500);
    expect(await rehomed()).toBe(true);

    if (capture !== null) {
      await capture.stop();
      const packets = assertNoMalformed(capture.file);
      expect(new Set(packets.flatMap((p) => p.protos.map((q) => q.name)))).toContain('enrp');
    }
  }, 180_000);
});
