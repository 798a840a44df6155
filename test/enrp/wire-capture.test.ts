// Everything three registrars say to each other over ENRP in one working session, captured on
// the loopback with tshark and dissected by Wireshark: no malformed packet, no expert warning,
// and every ENRP message type of the session is in the capture: presence (point to point and
// multicast, with and without the reply-required bit), list request/response, a paged handle
// table download (M bit), handle updates ADD and DEL, and a takeover (INIT_TAKEOVER, its ACK,
// TAKEOVER_SERVER).
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EnrpType, UpdateAction } from '../../src/wire/constants.js';
import { blockingFindings, captureLoopback, findNodes, NO_TSHARK_MESSAGE, parsePdml, runTshark, tsharkAvailable, type LiveCapture, type PdmlNode } from '../helpers/tshark.js';
import { AsapPeer } from '../registrar/asap-peer.js';
import { FAST_ENRP, freeUdpPort, meshed, sleep, startMember, waitFor, type ScopeMember } from './harness.js';

if (!tsharkAvailable()) console.warn(NO_TSHARK_MESSAGE);

/**
 * A free UDP port below the ephemeral range. Wireshark's UDP dissector tries the lower port of
 * a datagram first: a multicast presence sent from a registrar's encapsulation port (decoded
 * as SCTP) to this group port (decoded as ENRP) is then read as ENRP.
 */
async function lowFreePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const socket = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, () => resolve(true));
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (ok) return port;
  }
}

describe.skipIf(!tsharkAvailable())('ENRP traffic under Wireshark', () => {
  test('startup with a paged mentor download, updates, multicast presence and a takeover decode without a malformed packet', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'rserpool-enrp-capture-'));
    const file = join(dir, 'enrp.pcapng');
    const group = { address: `239.0.0.${100 + Math.floor(Math.random() * 150)}`, port: await lowFreePort() };
    const ports = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    const ids = [0x0e000001, 0x0e000002, 0x0e000003] as const;
    // Two PEs per handle table page, so that the mentor download takes several (M bit).
    // A generous mentor discovery timeout: on a loaded CI machine the association and the first
    // page may take over a second, and this test wants C ready through its mentor's table.
    const config = (i: number) => ({ registrarId: ids[i]!, enrpAnnounce: true, enrpGroup: group, maxHandleTableElements: 2, mentorDiscoveryTimeout: 10_000 });
    const members: ScopeMember[] = [];
    const peers: AsapPeer[] = [];
    let capture: LiveCapture | null = null;
    try {
      try {
        capture = await captureLoopback({ file, filter: [...ports, group.port].map((p) => `udp port ${p}`).join(' or ') });
      } catch (error) {
        ctx.skip(`capture on lo is not permitted here (${(error as Error).message.split('\n')[0]}): the ENRP capture check is skipped`);
      }
      members.push(await startMember(ports[0]!, ports, config(0)));
      members.push(await startMember(ports[1]!, ports, config(1)));
      const [a, b] = members as [ScopeMember, ScopeMember];
      await waitFor(() => meshed([a, b]), 20_000, 'A and B meshed');
      // PEs at A (handle updates ADD), then C starts and downloads them from its mentor.
      const pe = await AsapPeer.connect(a.registrar.asapAddress);
      peers.push(pe);
      for (let i = 1; i <= 7; i++) await pe.register('capture-enrp', i);
      await waitFor(async () => (await b.registrar.dump()).length === 7, 20_000, 'B has the PEs');
      members.push(await startMember(ports[2]!, ports, config(2)));
      const c = members[2]!;
      await waitFor(async () => (await meshed(members)) && (await c.registrar.dump()).length === 7, 20_000, 'C meshed and loaded');
      // C downloaded pages from its mentor (the capture below checks pages with and without M).
      // Under CPU load a page may come after the per-request timer (max-time-no-response), and
      // C then turns ready with what it has; the download still happened, which is what is checked.
      expect(c.logs.some((r) => typeof r.msg === 'string' && r.msg.startsWith('ENRP ready'))).toBe(true);
      expect((await c.registrar.stats()).enrp.tablePagesReceived).toBeGreaterThan(1);
      // A deregistration (DEL).
      await pe.deregister('capture-enrp', 7);
      await waitFor(async () => (await c.registrar.dump()).length === 6, 20_000, 'DEL at C');
      // A falls silent: presence with reply-required, then a takeover by B or C.
      await (a.registrar.enrp as unknown as { close(): Promise<void> }).close();
      // Counted by target: under CPU load the test's short timers can also make B and C suspect
      // each other for a moment.
      const aHex = `0x${ids[0].toString(16).padStart(8, '0')}`;
      const tookOverA = (m: ScopeMember): number =>
        m.logs.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('takeover: the target') && (r as { target?: unknown }).target === aHex).length;
      await waitFor(() => tookOverA(b) + tookOverA(c) >= 1, 30_000, 'takeover of A');
      // Exactly one owner: a second registrar would decide at the latest one takeover expiry later.
      await sleep(FAST_ENRP.takeoverExpiry! + 300);
      expect(tookOverA(b) + tookOverA(c), 'registrars that took A over').toBe(1);
      await sleep(300);
      await capture?.stop(500);
      capture = null;

      const decodeAs = [...ports.flatMap((p) => ['-d', `udp.port==${p},sctp`]), '-d', `udp.port==${group.port},enrp`];
      const run = runTshark(['-r', file, '-T', 'pdml', ...decodeAs]);
      expect(run.status, run.stderr).toBe(0);
      const packets = parsePdml(run.stdout);
      const findings = blockingFindings(packets);
      expect(findings.map((f) => `frame ${f.frame} [${f.protocol}] ${f.severity}: ${f.message}`)).toEqual([]);

      // Each ENRP message as Wireshark reads it: its type, flags and fields.
      const messages: PdmlNode[][] = [];
      const multicastPresences: number[] = [];
      for (const p of packets) {
        const ip = findNodes(p.protos, (n) => n.name === 'ip.dst')[0]?.show;
        for (const proto of p.protos.filter((x) => x.name === 'enrp')) {
          const fields = findNodes([proto], () => true);
          messages.push(fields);
          if (ip === group.address) multicastPresences.push(Number(fields.find((n) => n.name === 'enrp.message_type')?.show));
        }
      }
      const field = (m: PdmlNode[], name: string): string | undefined => m.find((n) => n.name === name)?.show;
      const ofType = (type: number): PdmlNode[][] => messages.filter((m) => Number(field(m, 'enrp.message_type')) === type);
      for (const type of Object.values(EnrpType)) {
        if (type === EnrpType.Error) continue; // a working session has none
        expect(ofType(type).length, `ENRP message type ${type}`).toBeGreaterThan(0);
      }
      const bit = (m: PdmlNode[], name: string): boolean => ['1', 'True', 'true'].includes(field(m, name) ?? '0');
      expect(ofType(EnrpType.Presence).some((m) => bit(m, 'enrp.r_bit')), 'presence with reply-required').toBe(true);
      expect(ofType(EnrpType.Presence).every((m) => field(m, 'enrp.pe_checksum') !== undefined), 'every presence carries a PE checksum').toBe(true);
      expect(multicastPresences.length, 'presence on the multicast group').toBeGreaterThan(0);
      expect(new Set(multicastPresences)).toEqual(new Set([EnrpType.Presence]));
      const pages = ofType(EnrpType.HandleTableResponse);
      expect(pages.some((m) => bit(m, 'enrp.m_bit')), 'a handle table page with M').toBe(true);
      expect(pages.some((m) => !bit(m, 'enrp.m_bit')), 'a last page without M').toBe(true);
      const actions = new Set(ofType(EnrpType.HandleUpdate).map((m) => Number(field(m, 'enrp.update_action'))));
      expect(actions).toEqual(new Set([UpdateAction.AddPe, UpdateAction.DelPe]));
      const target = (type: number): Set<number> => new Set(ofType(type).map((m) => Number(field(m, 'enrp.target_servers_id'))));
      expect(target(EnrpType.InitTakeover)).toContain(ids[0]);
      expect(target(EnrpType.InitTakeoverAck)).toContain(ids[0]);
      expect(target(EnrpType.TakeoverServer)).toEqual(new Set([ids[0]]));
    } finally {
      await capture?.stop(0);
      for (const p of peers) await Promise.race([p.close(), sleep(2000)]);
      await Promise.all(members.map((m) => m.registrar.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
