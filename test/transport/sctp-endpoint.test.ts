// Real associations over loopback through the provider interface, in SCTP-over-UDP
// mode (always) and raw IP mode (when running with CAP_NET_RAW and raw-socket loads).
import { afterEach, describe, expect, it } from 'vitest';
import { chooseSctpMode, openSctpEndpoint, type SctpProtocolOptions } from '../../src/transport/index.js';
import type { Association, AssociationDownReason, SctpEndpoint, SctpMode } from '../../src/transport/index.js';
import { PPID_ASAP, PPID_ENRP } from '../../src/wire/constants.js';
import { freeUdpPort } from '../registrar/harness.js';
import { UdpRelay, sleep, until } from './udp-relay.js';

const rawDecision = chooseSctpMode();
const modes: SctpMode[] = ['udp'];
if (rawDecision.mode === 'raw') modes.push('raw');
else console.warn(`raw-mode SCTP tests skipped: ${rawDecision.reason}`);

let nextPort = 40000 + (process.pid % 1000) * 10;
const open: SctpEndpoint[] = [];

/** Short timers so retransmission paths run within the test budget (per endpoint). */
const BASE: SctpProtocolOptions = { rtoInitial: 500, rtoMin: 200, rtoMax: 2000 };

async function endpoint(mode: SctpMode, protocol: SctpProtocolOptions = {}): Promise<SctpEndpoint> {
  const e = await openSctpEndpoint({ mode, port: nextPort++, udpPort: 0, address: '127.0.0.1', protocol: { ...BASE, ...protocol } });
  open.push(e);
  return e;
}

function remoteOf(server: SctpEndpoint): { address: string; port: number; udpPort?: number } {
  return server.udpPort !== undefined
    ? { address: '127.0.0.1', port: server.port, udpPort: server.udpPort }
    : { address: '127.0.0.1', port: server.port };
}

function nextMessage(a: Association): Promise<{ payload: Uint8Array; ppid: number; stream: number }> {
  return new Promise((resolve) => a.once('message', (payload, ppid, stream) => resolve({ payload, ppid, stream })));
}

function nextDown(a: Association): Promise<AssociationDownReason> {
  return new Promise((resolve) => a.once('down', resolve));
}

function nextAssociation(server: SctpEndpoint): Promise<Association> {
  return new Promise((resolve) => server.once('association', resolve));
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

describe.each(modes)('SCTP endpoint in %s mode', (mode) => {
  it('connects and exchanges messages with PPIDs and streams both ways', async () => {
    const server = await endpoint(mode);
    const client = await endpoint(mode);
    const accepted = nextAssociation(server);
    const a = await client.connect(remoteOf(server));
    const b = await accepted;
    expect(a.state).toBe('up');
    expect(b.remote.port).toBe(client.port);
    expect(a.outboundStreams).toBeGreaterThan(1);

    const atServer = nextMessage(b);
    a.send(Buffer.from('registration'), PPID_ASAP, 1);
    expect(await atServer).toMatchObject({ ppid: PPID_ASAP, stream: 1 });

    const atClient = nextMessage(a);
    b.send(new TextEncoder().encode('presence'), PPID_ENRP, 0);
    const got = await atClient;
    expect(Buffer.from(got.payload).toString()).toBe('presence');
    expect(got.ppid).toBe(PPID_ENRP);
    expect(server.associations).toHaveLength(1);
  });

  it('carries a 5,000-byte message intact in both directions', async () => {
    const server = await endpoint(mode);
    const client = await endpoint(mode);
    const accepted = nextAssociation(server);
    const a = await client.connect(remoteOf(server));
    const b = await accepted;
    const big = Buffer.alloc(5000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const atServer = nextMessage(b);
    a.send(big, PPID_ASAP);
    expect(Buffer.compare(Buffer.from((await atServer).payload), big)).toBe(0);
    const atClient = nextMessage(a);
    b.send(big, PPID_ENRP);
    expect(Buffer.compare(Buffer.from((await atClient).payload), big)).toBe(0);
  });

  it('serves many associations on one endpoint', async () => {
    const server = await endpoint(mode);
    server.on('association', (assoc) => assoc.on('message', (p, ppid) => assoc.send(p, ppid + 100)));
    const clients = await Promise.all(Array.from({ length: 20 }, () => endpoint(mode)));
    const associations = await Promise.all(clients.map((c) => c.connect(remoteOf(server))));
    const replies = await Promise.all(
      associations.map((a, i) => {
        const reply = nextMessage(a);
        a.send(Buffer.from(`pe-${i}`), PPID_ASAP);
        return reply;
      }),
    );
    replies.forEach((r, i) => {
      expect(Buffer.from(r.payload).toString()).toBe(`pe-${i}`);
      expect(r.ppid).toBe(PPID_ASAP + 100);
    });
    expect(server.associations).toHaveLength(20);
  });

  it('(9) queues messages sent before the association is up', async () => {
    const server = await endpoint(mode);
    const client = await endpoint(mode);
    const accepted = nextAssociation(server);
    const a = client.associate(remoteOf(server));
    expect(a.state).toBe('connecting');
    for (let i = 0; i < 3; i++) a.send(Buffer.from(`early-${i}`), PPID_ASAP);
    const b = await accepted;
    const got: string[] = [];
    await new Promise<void>((resolve) =>
      b.on('message', (p) => {
        got.push(Buffer.from(p).toString());
        if (got.length === 3) resolve();
      }),
    );
    expect(got).toEqual(['early-0', 'early-1', 'early-2']);
  });

  it('reports abort on both sides', async () => {
    const server = await endpoint(mode);
    const client = await endpoint(mode);
    const accepted = nextAssociation(server);
    const a = await client.connect(remoteOf(server));
    const b = await accepted;
    const remoteDown = nextDown(b);
    const localDown = nextDown(a);
    a.abort('test');
    expect(await localDown).toBe('local-abort');
    expect(await remoteDown).toBe('abort');
    expect(server.associations).toHaveLength(0);
  });

  it('shuts down gracefully after delivering queued data', async () => {
    const server = await endpoint(mode);
    const client = await endpoint(mode);
    const accepted = nextAssociation(server);
    const a = await client.connect(remoteOf(server));
    const b = await accepted;
    const got: number[] = [];
    b.on('message', (p) => got.push(p.length));
    const downs = Promise.all([nextDown(a), nextDown(b)]);
    for (let i = 0; i < 10; i++) a.send(Buffer.alloc(2000 + i), PPID_ASAP);
    a.close();
    expect(await downs).toEqual(['shutdown', 'shutdown']);
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => 2000 + i));
  });

  it('aborting one association leaves the others of the endpoint working', async () => {
    const server = await endpoint(mode);
    const accepted: Association[] = [];
    server.on('association', (assoc) => {
      accepted.push(assoc);
      assoc.on('message', (p, ppid) => assoc.send(p, ppid));
    });
    const clients = await Promise.all([0, 1, 2].map(() => endpoint(mode)));
    const associations = await Promise.all(clients.map((c) => c.connect(remoteOf(server))));
    const down = nextDown(associations[1]!);
    accepted.find((x) => x.remote.port === clients[1]!.port)!.abort();
    expect(await down).toBe('abort');
    for (const i of [0, 2]) {
      const reply = nextMessage(associations[i]!);
      associations[i]!.send(Buffer.from('still there'), PPID_ASAP);
      expect(Buffer.from((await reply).payload).toString()).toBe('still there');
    }
    // Closing the endpoint reaches every remaining association.
    const remaining = Promise.all([nextDown(associations[0]!), nextDown(associations[2]!)]);
    await server.close();
    expect(await remaining).toEqual(['abort', 'abort']);
  });
});

describe('SCTP over UDP specifics', () => {
  it('demultiplexes one UDP socket: one association per remote UDP address and port', async () => {
    const server = await endpoint('udp');
    const clients = await Promise.all([0, 1, 2].map(() => endpoint('udp')));
    await Promise.all(clients.map((c) => c.connect(remoteOf(server))));
    expect(server.associations).toHaveLength(3);
    expect(new Set(server.associations.map((a) => a.remote.udpPort)).size).toBe(3);
  });

  it('a wildcard endpoint lists its advertised addresses in INIT: the peer knows them, and data flows (RFC 9260 §5.1.2)', async () => {
    const server = await openSctpEndpoint({ mode: 'udp', port: nextPort++, udpPort: 0, protocol: { ...BASE, hbInterval: 50 } });
    open.push(server);
    const client = await openSctpEndpoint({ mode: 'udp', port: nextPort++, udpPort: 0, advertisedAddresses: ['192.0.2.77'], protocol: BASE });
    open.push(client);
    const arrived = new Promise<Association>((resolve) => server.once('association', resolve));
    const a = await client.connect({ address: '127.0.0.1', port: server.port, udpPort: server.udpPort! });
    const s = await arrived;
    expect(s.remoteAddresses).toEqual(['127.0.0.1', '192.0.2.77']);
    s.on('message', (payload, ppid) => s.send(payload, ppid));
    // Several heartbeat intervals: the server (listing none of its own) sends nothing to the
    // listed address, so nothing comes back as out of the blue and the association lives.
    await sleep(300);
    const echoed = nextMessage(a);
    a.send(new Uint8Array([1, 2, 3]), PPID_ASAP);
    expect([...(await echoed).payload]).toEqual([1, 2, 3]);
    expect(a.state).toBe('up');
  });

  it('detects a dead peer by heartbeats and reports timeout', async () => {
    // Each unanswered HEARTBEAT doubles the RTO (RFC 9260 §8.3, §6.3.3 E2): RTO.Max bounds the
    // wait, 4 misses of at most RTO.Max + HB.interval.
    const fast = { hbInterval: 100, associationMaxRetrans: 3, rtoMin: 200, rtoMax: 400 };
    const server = await endpoint('udp', fast);
    const client = await endpoint('udp', fast);
    const relay = await UdpRelay.open(server.udpPort!);
    try {
      const a = await client.connect({ address: '127.0.0.1', port: server.port, udpPort: relay.port });
      const down = nextDown(a);
      relay.drop = () => true; // the server host vanishes
      const started = performance.now();
      expect(await down).toBe('timeout');
      // These options give at most 4 x (1.5 x RTO.Max + HB.interval) = 2.8 s; the exact schedule
      // is tested in virtual time (association.test.ts). Here: far sooner than the default
      // options would (30 s heartbeats), so the endpoint applied them.
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      relay.close();
    }
  });

  it('rejects connect() when the peer never answers', async () => {
    const client = await endpoint('udp', { maxInitRetransmits: 1, rtoInitial: 100, rtoMin: 100 });
    const relay = await UdpRelay.open(1); // nothing behind it
    relay.drop = () => true;
    await expect(client.connect({ address: '127.0.0.1', port: 9, udpPort: relay.port })).rejects.toThrow(/timeout/);
    relay.close();
  });

  // INIT collision (RFC 9260 §5.2.1): two ends on one SCTP port pair associate to each other,
  // as two ENRP registrars do: the stack answers every INIT (§5.2.1) so that one association
  // results, on both ends.
  describe('INIT collision on one SCTP port pair', () => {
    const port = () => 30000 + (process.pid % 1000) * 10 + Math.floor(Math.random() * 9);
    const pair = async (sctpPort: number, udpPort = 0) => {
      // A long first INIT retransmission (20 s), so that only the settlement can bring the pair
      // up within the 10 s allowed below, however loaded the machine.
      const e = await openSctpEndpoint({ mode: 'udp', port: sctpPort, udpPort, address: '127.0.0.1', protocol: { rtoInitial: 20_000, rtoMin: 200, rtoMax: 60_000 } });
      open.push(e);
      return e;
    };
    const ups = (e: SctpEndpoint) => e.associations.filter((a) => a.state === 'up');
    /** Both ends up well before the first INIT retransmission (20 s), on one association each. */
    const oneAssociationUp = async (x: SctpEndpoint, y: SctpEndpoint, started: number): Promise<void> => {
      await until(() => ups(x).length + ups(y).length >= 2, 10_000 - (performance.now() - started));
      expect(performance.now() - started).toBeLessThan(10_000);
      await sleep(100);
      expect(ups(x)).toHaveLength(1);
      expect(ups(y)).toHaveLength(1);
    };

    it('both ends send INIT at the same moment: one association, up on both ends', async () => {
      const sctpPort = port();
      const x = await pair(sctpPort);
      const y = await pair(sctpPort);
      const started = performance.now();
      x.associate({ address: '127.0.0.1', port: sctpPort, udpPort: y.udpPort! });
      y.associate({ address: '127.0.0.1', port: sctpPort, udpPort: x.udpPort! });
      await oneAssociationUp(x, y, started);
      const got = nextMessage(ups(y)[0]!);
      ups(x)[0]!.send(Buffer.from('over the one association'), PPID_ENRP);
      expect(Buffer.from((await got).payload).toString()).toBe('over the one association');
    });

    it('an INIT sent before the peer listened does not hold up the peer\'s own INIT for a retransmission timeout', async () => {
      const sctpPort = port();
      // The peer's UDP port, free now: our first INIT to it is lost.
      const yUdp = await freeUdpPort();
      const x = await pair(sctpPort);
      x.associate({ address: '127.0.0.1', port: sctpPort, udpPort: yUdp });
      await sleep(100);
      const y = await pair(sctpPort, yUdp);
      const started = performance.now();
      y.associate({ address: '127.0.0.1', port: sctpPort, udpPort: x.udpPort! });
      // Without the settlement both wait for x's INIT retransmission, 20 s after the first.
      await oneAssociationUp(x, y, started);
    });
  });

  it('backpressure: send() returns false above the high-water mark and drain follows', async () => {
    const server = await openSctpEndpoint({ mode: 'udp', port: nextPort++, udpPort: 0, address: '127.0.0.1' });
    const client = await openSctpEndpoint({ mode: 'udp', port: nextPort++, udpPort: 0, address: '127.0.0.1', highWaterMark: 10_000 });
    open.push(server, client);
    let received = 0;
    server.on('association', (b) => b.on('message', () => received++));
    const a = await client.connect(remoteOf(server));
    let accepted = true;
    let sent = 0;
    while (accepted) {
      accepted = a.send(Buffer.alloc(1000), PPID_ASAP);
      sent++;
    }
    expect(a.bufferedAmount).toBeGreaterThan(10_000);
    await new Promise<void>((resolve) => a.once('drain', () => resolve()));
    await sleep(100);
    expect(received).toBe(sent);
  });
});
