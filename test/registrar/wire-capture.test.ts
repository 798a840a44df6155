// Everything a registrar and its well-behaved peers put on the wire in a working session,
// captured on the loopback with tshark and dissected by Wireshark: no malformed packet, no
// expert warning, and every ASAP message type a registrar sends is in the capture.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AsapFlag, AsapType, Cause, PolicyType, encodeMessage, policyFields, policySettings } from '../../src/wire/index.js';
import { blockingFindings, captureLoopback, findNodes, NO_TSHARK_MESSAGE, parsePdml, runTshark, tsharkAvailable, type LiveCapture } from '../helpers/tshark.js';
import { AsapPeer, endpointUnreachable } from './asap-peer.js';
import { poolsOverShards, sleep, startTestRegistrar, waitFor } from './harness.js';

if (!tsharkAvailable()) console.warn(NO_TSHARK_MESSAGE);

const SHARDS = 3;
const POLICY_TYPES = Object.values(PolicyType);

describe.skipIf(!tsharkAvailable())('registrar traffic under Wireshark', () => {
  test('a session with every policy, keep-alives, rejections, errors and a timeout decodes without a malformed packet', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'rserpool-registrar-capture-'));
    const file = join(dir, 'registrar.pcapng');
    // Short keep-alive cycles for a few in the capture; a timeout the answering PE's acks cannot
    // miss on a loaded machine (250 ms could: its PEs would be gone).
    const { registrar } = await startTestRegistrar({ shards: SHARDS, keepAliveInterval: 250, keepAliveTimeout: 1000 });
    const udpPort = registrar.asapAddress.udpPort!;
    let capture: LiveCapture | null = null;
    const peers: AsapPeer[] = [];
    try {
      try {
        // Only this registrar's encapsulation port: other tests run SCTP over UDP meanwhile.
        capture = await captureLoopback({ file, filter: `udp port ${udpPort}` });
      } catch (error) {
        ctx.skip(`capture on lo is not permitted here (${(error as Error).message.split('\n')[0]}): the registrar capture check is skipped`);
      }
      const pe = await AsapPeer.connect(registrar.asapAddress);
      const pu = await AsapPeer.connect(registrar.asapAddress);
      const silent = await AsapPeer.connect(registrar.asapAddress);
      peers.push(pe, pu, silent);
      silent.autoAckKeepAlives = false;

      // One pool per policy type, two PEs each, with every value the policy carries.
      const pools = poolsOverShards('capture', POLICY_TYPES.length, SHARDS);
      for (const [i, pool] of pools.entries()) {
        const type = POLICY_TYPES[i]!;
        for (const peId of [1, 2]) {
          const values: Record<string, number> = {};
          for (const field of policyFields.get(type)!) values[field] = 0x1000_0000 * peId + i;
          expect((await pe.register(pool, (i + 1) * 10 + peId, policySettings(type, values), 5000 + i)).flags & AsapFlag.Reject).toBe(0);
        }
        expect((await pu.resolve(pool, 2)).poolElements).toHaveLength(2);
      }
      // A rejection with cause-specific information (the pool's policy), an unknown pool,
      // an unrecognized message answered with ASAP_ERROR, an unreachability report.
      const rejected = await pe.register(pools[0]!, 99, policySettings(PolicyType.LeastUsed, { load: 7 }), 5999);
      expect(rejected.error?.causes[0]?.code).toBe(Cause.InconsistentPoolingPolicy);
      expect((await pu.resolve('capture-nobody')).error?.causes[0]?.code).toBe(Cause.UnknownPoolHandle);
      pu.send(encodeMessage({ protocol: 'asap', type: AsapType.Cookie, flags: 0, paddedLength: false, unknownParams: null, cookie: new TextEncoder().encode('not for a registrar') }));
      expect((await pu.nextOfType(AsapType.Error)).type).toBe(AsapType.Error);
      pu.send(endpointUnreachable(pools[1]!, 21));
      // Keep-alives and their acks for a few cycles; the silent PE times out and is aborted.
      expect((await silent.register(pools[2]!, 77, policySettings(POLICY_TYPES[2]!), 5077)).flags & AsapFlag.Reject).toBe(0);
      await silent.down(10_000);
      await waitFor(() => pe.keepAlives.length >= 2 * 2 * POLICY_TYPES.length, 15_000, 'keep-alive cycles');
      for (const [i, pool] of pools.entries()) await pe.deregister(pool, (i + 1) * 10 + 1);
      await sleep(100);
      await capture?.stop(500);
      capture = null;

      // tshark decodes SCTP over UDP on 9899 only unless told; the registrar uses an ephemeral port.
      const run = runTshark(['-r', file, '-T', 'pdml', '-d', `udp.port==${udpPort},sctp`]);
      expect(run.status, run.stderr).toBe(0);
      const packets = parsePdml(run.stdout);
      const findings = blockingFindings(packets);
      expect(findings.map((f) => `frame ${f.frame} [${f.protocol}] ${f.severity}: ${f.message}`)).toEqual([]);
      // The capture really holds the session: every ASAP message type of it, in Wireshark's reading.
      const types = new Set(findNodes(packets.flatMap((p) => p.protos), (n) => n.name === 'asap.message_type').map((n) => Number(n.show)));
      for (const type of [
        AsapType.Registration,
        AsapType.RegistrationResponse,
        AsapType.Deregistration,
        AsapType.DeregistrationResponse,
        AsapType.HandleResolution,
        AsapType.HandleResolutionResponse,
        AsapType.EndpointKeepAlive,
        AsapType.EndpointKeepAliveAck,
        AsapType.EndpointUnreachable,
        AsapType.Cookie,
        AsapType.Error,
      ]) {
        expect(types, `ASAP message type ${type}`).toContain(type);
      }
      // And every policy type, as Wireshark names the code.
      const policies = new Set(findNodes(packets.flatMap((p) => p.protos), (n) => n.name === 'asap.pool_member_selection_policy_type').map((n) => Number(n.show)));
      for (const type of POLICY_TYPES) expect(policies, `policy 0x${type.toString(16)}`).toContain(type);
    } finally {
      await capture?.stop(0);
      for (const peer of peers) await peer.close();
      await registrar.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // About 3 s; tshark's decoding of the capture is slow on a loaded machine (30 s was passed).
  }, 90_000);
});
