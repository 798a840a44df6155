// A session's traffic under Wireshark: registration, handle resolution, data, ASAP_COOKIE,
// ASAP_BUSINESS_CARD, a failover with ASAP_COOKIE_ECHO, deregistration; captured on the
// loopback (SCTP over UDP) and dissected by tshark: no malformed packet, every type present.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PoolElementService, PoolUser } from '../../src/client/index.js';
import { AsapType } from '../../src/wire/index.js';
import { blockingFindings, captureLoopback, findNodes, NO_TSHARK_MESSAGE, parsePdml, runTshark, tsharkAvailable, type LiveCapture } from '../helpers/tshark.js';
import { freeUdpPort } from '../registrar/harness.js';
import { asapEndpoint, registrar, until } from './harness.js';

describe.skipIf(!tsharkAvailable())('session traffic under Wireshark', () => {
  it('decodes without a malformed packet and holds every session message type', async (ctx) => {
    const file = join(mkdtempSync(join(tmpdir(), 'rserpool-session-capture-')), 'session.pcapng');
    const r = await registrar();
    const closers: { close(): Promise<void> | void }[] = [];
    let capture: LiveCapture | null = null;
    try {
      // Fixed data-endpoint ports (free ones: a random pick could meet one in use), so the
      // capture filter and the decode-as rules know them.
      const ports = [await freeUdpPort()];
      while (ports.length < 2) {
        const port = await freeUdpPort();
        if (port !== ports[0]) ports.push(port);
      }
      const udpPorts = [r.asapAddress.udpPort!, ...ports];
      try {
        capture = await captureLoopback({ file, filter: udpPorts.map((p) => `udp port ${p}`).join(' or ') });
      } catch (error) {
        ctx.skip(`capture on lo is not permitted here (${(error as Error).message.split('\n')[0]})`);
      }
      const peAsap = await asapEndpoint({ registrars: [r.asapAddress] });
      const puAsap = await asapEndpoint({ registrars: [r.asapAddress] });
      closers.push(puAsap, peAsap);
      const services = [
        await PoolElementService.open(peAsap, { poolHandle: 'capture', port: ports[0]!, registrationLife: 30_000 }),
        await PoolElementService.open(peAsap, { poolHandle: 'capture', port: ports[1]!, registrationLife: 30_000 }),
      ];
      const echoes: Uint8Array[] = [];
      for (const s of services) {
        s.on('session', (session) => {
          session.on('cookieEcho', (c) => echoes.push(c));
          session.on('data', (payload) => {
            session.send(payload);
            session.sendCookie(`state of ${s.peId}`);
          });
        });
      }
      const pu = new PoolUser(puAsap, { staleCacheValue: 0 });
      const session = await pu.openSession('capture', { dataPpid: 0x12345678, failoverTimeout: 5000 });
      const data: string[] = [];
      const cards: number[] = [];
      session.on('data', (p) => data.push(Buffer.from(p).toString()));
      session.on('businessCard', (order) => cards.push(order.length));
      session.send('ping');
      await until(() => data.length === 1 && session.cookie !== null && cards.length === 1, 5000, 'echo, cookie, business card');
      const first = services.find((s) => s.peId === session.poolElement!.peId)!;
      const second = services.find((s) => s !== first)!;
      await first.endpoint.close();
      await until(() => echoes.length === 1, 8000, 'failover with cookie echo');
      session.send('pong');
      await until(() => data.length === 2, 5000, 'echo after failover');
      await session.close();
      await first.close();
      await second.close();
      await capture?.stop(500);
      capture = null;

      const decodeAs = udpPorts.flatMap((p) => ['-d', `udp.port==${p},sctp`]);
      const run = runTshark(['-r', file, '-T', 'pdml', ...decodeAs]);
      expect(run.status, run.stderr).toBe(0);
      const packets = parsePdml(run.stdout);
      expect(blockingFindings(packets).map((f) => `frame ${f.frame} [${f.protocol}] ${f.severity}: ${f.message}`)).toEqual([]);
      const nodes = packets.flatMap((p) => p.protos);
      const types = new Set(findNodes(nodes, (n) => n.name === 'asap.message_type').map((n) => Number(n.show)));
      for (const type of [
        AsapType.Registration,
        AsapType.RegistrationResponse,
        AsapType.HandleResolution,
        AsapType.HandleResolutionResponse,
        AsapType.EndpointUnreachable,
        AsapType.Cookie,
        AsapType.CookieEcho,
        AsapType.BusinessCard,
        AsapType.Deregistration,
        AsapType.DeregistrationResponse,
      ]) {
        expect(types.has(type), `ASAP type 0x${type.toString(16)} in the capture`).toBe(true);
      }
      // Application data went under its own PPID beside PPID 11 on the session associations.
      const ppids = new Set(findNodes(nodes, (n) => n.name === 'sctp.data_payload_proto_id').map((n) => Number(n.show)));
      expect(ppids.has(0x12345678)).toBe(true);
      expect(ppids.has(11)).toBe(true);
    } finally {
      await capture?.stop(0);
      for (const c of closers) await c.close();
      await r.close();
    }
  });
});

if (!tsharkAvailable()) console.warn(NO_TSHARK_MESSAGE);
