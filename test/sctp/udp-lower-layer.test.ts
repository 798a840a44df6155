// The UDP lower layer (RFC 6951) on loopback: several SCTP ports on one socket, IPv6, ports
// nobody bound, and the bind errors users see.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerTransport } from '../../src/sctp/lower-layer.js';
import { LowerLayerBindError, UdpLowerLayer } from '../../src/sctp/udp-lower-layer.js';
import { minimalSctpPacket as packet } from '../helpers/sctp-packets.js';

interface Received {
  port: number;
  body: string;
  from: PeerTransport;
  local: string | undefined;
  packet: Uint8Array;
}

function collector(layer: UdpLowerLayer, port: number, into: Received[]): void {
  layer.bind(port, (p, from, local) => into.push({ port, body: Buffer.from(p.subarray(12)).toString('latin1'), from, local, packet: p }));
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const hasIpv6Loopback = ((): boolean => {
  try {
    return execFileSync('ip', ['-6', 'addr', 'show', 'lo'], { encoding: 'utf8' }).includes('::1');
  } catch {
    return false;
  }
})();

/** A non-loopback IPv4 address of this host (for a layer with two addresses), if it has one. */
const otherIpv4 = Object.values(networkInterfaces())
  .flatMap((list) => list ?? [])
  .find((i) => i.family === 'IPv4' && !i.internal)?.address;

const open: UdpLowerLayer[] = [];
async function layer(options: Parameters<typeof UdpLowerLayer.open>[0]): Promise<UdpLowerLayer> {
  const l = await UdpLowerLayer.open(options);
  open.push(l);
  return l;
}
afterEach(async () => {
  for (const l of open.splice(0)) {
    for (const p of l.boundPorts) l.unbind(p);
    await l.close();
  }
});

describe('UdpLowerLayer', () => {
  it('carries packets for two SCTP ports of one socket, each to its own receiver, as fresh memory', async () => {
    const a = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const b = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    expect(a.udpPort).toBeGreaterThan(0);
    expect(a.localAddresses).toEqual(['127.0.0.1']);
    const atB: Received[] = [];
    const atA: Received[] = [];
    collector(b, 3863, atB);
    collector(b, 9901, atB);
    collector(a, 5000, atA);
    a.send(packet(5000, 3863, 'asap'), { address: '127.0.0.1', udpPort: b.udpPort });
    a.send(packet(5000, 9901, 'enrp'), { address: '127.0.0.1', udpPort: b.udpPort });
    await until(() => atB.length === 2);
    expect(atB.map((r) => [r.port, r.body]).sort()).toEqual([
      [3863, 'asap'],
      [9901, 'enrp'],
    ]);
    // The source is the peer's encapsulation socket: an answer goes back there.
    expect(atB[0]!.from).toEqual({ address: '127.0.0.1', udpPort: a.udpPort });
    expect(atB[0]!.local).toBe('127.0.0.1');
    // Each packet is its own memory (the stack keeps views into it).
    expect(atB[0]!.packet.buffer).not.toBe(atB[1]!.packet.buffer);
    b.send(packet(3863, 5000, 'answer'), atB[0]!.from);
    await until(() => atA.length === 1);
    expect(atA[0]!.body).toBe('answer');
    expect(b.stats.received).toBe(2);
  });

  it('ignores packets for SCTP ports nobody bound, and datagrams shorter than a common header', async () => {
    const a = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const b = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const atB: Received[] = [];
    const atA: Received[] = [];
    collector(b, 3863, atB);
    collector(a, 5000, atA);
    a.send(packet(5000, 4444, 'nobody'), { address: '127.0.0.1', udpPort: b.udpPort });
    await a.sendDatagram(Buffer.from('short'), b.udpPort, '127.0.0.1');
    a.send(packet(5000, 3863, 'mine'), { address: '127.0.0.1', udpPort: b.udpPort });
    await until(() => atB.length === 1);
    await until(() => b.stats.ignored === 2);
    expect(atB[0]!.body).toBe('mine');
    // Nothing answered the packet for the unbound port.
    await new Promise((r) => setTimeout(r, 50));
    expect(atA).toEqual([]);
    // Unbound, a port's packets are ignored from then on.
    b.unbind(3863);
    a.send(packet(5000, 3863, 'late'), { address: '127.0.0.1', udpPort: b.udpPort });
    await until(() => b.stats.ignored === 3);
    expect(atB).toHaveLength(1);
  });

  it('sends to the default remote UDP port when the peer names none', async () => {
    const b = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const a = await layer({ addresses: ['127.0.0.1'], udpPort: 0, remoteUdpPort: b.udpPort });
    const atB: Received[] = [];
    collector(b, 7, atB);
    a.send(packet(8, 7, 'x'), { address: '127.0.0.1' });
    await until(() => atB.length === 1);
  });

  it('refuses an SCTP port bound twice on one socket', async () => {
    const a = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    a.bind(3863, () => {});
    expect(() => a.bind(3863, () => {})).toThrow(/SCTP port 3863 is already bound/);
    expect(() => a.bind(0, () => {})).toThrow(RangeError);
  });

  it('names the UDP port in use and the option to change it (EADDRINUSE)', async () => {
    const a = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const error = await UdpLowerLayer.open({ addresses: ['127.0.0.1'], udpPort: a.udpPort }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LowerLayerBindError);
    expect((error as LowerLayerBindError).code).toBe('EADDRINUSE');
    expect((error as Error).message).toBe(`UDP port ${a.udpPort} on 127.0.0.1 is in use (another registrar or rserpool process?): choose --udp-port`);
  });

  it('names an address that is not this host\'s (EADDRNOTAVAIL) and rejects non-literals', async () => {
    const error = await UdpLowerLayer.open({ addresses: ['192.0.2.77'], udpPort: 0 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/192\.0\.2\.77 is not an address of this host/);
    await expect(UdpLowerLayer.open({ addresses: ['localhost'] })).rejects.toThrow(/not an IPv4 or IPv6 literal/);
    await expect(UdpLowerLayer.open({ addresses: ['0.0.0.0', '127.0.0.1'] })).rejects.toThrow(/wildcard alone/);
  });

  it('on the wildcard binds every family the host has, on one port number, and lists no address', async () => {
    const a = await layer({ udpPort: 0 });
    expect(a.localAddresses).toEqual([]);
    expect(a.families.has(4)).toBe(true);
    if (hasIpv6Loopback) expect(a.families.has(6)).toBe(true);
    const b = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const atA: Received[] = [];
    collector(a, 3863, atA);
    b.send(packet(1, 3863, 'v4'), { address: '127.0.0.1', udpPort: a.udpPort });
    await until(() => atA.length === 1);
    expect(atA[0]!.local).toBeUndefined();
  });

  it.runIf(hasIpv6Loopback)('carries packets over IPv6 loopback (::1), and v4 and v6 on one layer', async () => {
    const a = await layer({ addresses: ['::1', '127.0.0.1'], udpPort: 0 });
    const b = await layer({ addresses: ['::1'], udpPort: 0 });
    expect(a.localAddresses).toEqual(['::1', '127.0.0.1']);
    const atA: Received[] = [];
    const atB: Received[] = [];
    collector(a, 3863, atA);
    collector(b, 5000, atB);
    b.send(packet(5000, 3863, 'six'), { address: '::1', udpPort: a.udpPort });
    await until(() => atA.length === 1);
    expect(atA[0]!.from).toEqual({ address: '::1', udpPort: b.udpPort });
    expect(atA[0]!.local).toBe('::1');
    a.send(packet(3863, 5000, 'back'), atA[0]!.from);
    await until(() => atB.length === 1);
    // The IPv4 socket of the same layer has the same port number.
    const v4 = dgram.createSocket('udp4');
    await new Promise<void>((r) => v4.bind(0, '127.0.0.1', () => r()));
    v4.send(packet(9, 3863, 'four'), a.udpPort, '127.0.0.1');
    await until(() => atA.length === 2);
    expect(atA[1]!.local).toBe('127.0.0.1');
    v4.close();
    // A family the layer has no socket for is a counted send error, never a throw.
    b.send(packet(5000, 3863, 'x'), { address: '127.0.0.1', udpPort: a.udpPort });
    expect(b.stats.sendErrors).toBe(1);
  });

  it('sendDatagram goes out from the encapsulation port (its source port tells receivers ours)', async () => {
    const a = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const rx = dgram.createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    const got = new Promise<dgram.RemoteInfo>((r) => rx.once('message', (_m, info) => r(info)));
    await a.sendDatagram(Buffer.from('presence'), rx.address().port, '127.0.0.1', 30);
    expect((await got).port).toBe(a.udpPort);
    rx.close();
  });

  it('packets sent just before close() still leave (a closing endpoint\'s ABORTs)', async () => {
    const b = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const atB: Received[] = [];
    collector(b, 3863, atB);
    const a = await UdpLowerLayer.open({ addresses: ['127.0.0.1'], udpPort: 0 });
    a.bind(5000, () => {});
    a.send(packet(5000, 3863, 'abort 1'), { address: '127.0.0.1', udpPort: b.udpPort });
    a.send(packet(5000, 3863, 'abort 2'), { address: '127.0.0.1', udpPort: b.udpPort });
    a.unbind(5000);
    await a.close();
    await until(() => atB.length === 2);
  });

  it('close() releases the socket once no port is bound (the last endpoint to close closes it)', async () => {
    const a = await UdpLowerLayer.open({ addresses: ['127.0.0.1'], udpPort: 0 });
    a.bind(1, () => {});
    a.bind(2, () => {});
    a.unbind(1);
    await a.close(); // port 2 still bound: nothing happens
    a.bind(3, () => {});
    a.unbind(2);
    a.unbind(3);
    await a.close();
    expect(() => a.bind(4, () => {})).toThrow(/closed/);
    const again = await layer({ addresses: ['127.0.0.1'], udpPort: a.udpPort });
    expect(again.udpPort).toBe(a.udpPort);
  });

  it.runIf(otherIpv4 !== undefined)('with several addresses, a packet leaves from the address the route to its destination uses (multi-homing)', async () => {
    // The first socket is 127.0.0.1's; the kernel's route to the host's other address has that
    // address as its source. Before: every packet left from the first socket (127.0.0.1).
    const other = otherIpv4!;
    const a = await layer({ addresses: ['127.0.0.1', other], udpPort: 0 });
    const b = await layer({ addresses: [other], udpPort: 0 });
    const c = await layer({ addresses: ['127.0.0.1'], udpPort: 0 });
    const atB: Received[] = [];
    const atC: Received[] = [];
    collector(b, 3863, atB);
    collector(c, 3863, atC);
    // Sent at once, before any lookup finished: they wait for it and keep their order.
    for (let i = 0; i < 20; i++) a.send(packet(5000, 3863, `b${i}`), { address: other, udpPort: b.udpPort });
    a.send(packet(5000, 3863, 'c'), { address: '127.0.0.1', udpPort: c.udpPort });
    await until(() => atB.length === 20 && atC.length === 1);
    expect(atB.map((r) => r.body)).toEqual(Array.from({ length: 20 }, (_, i) => `b${i}`));
    expect(atB.every((r) => r.from.address === other && r.from.udpPort === a.udpPort)).toBe(true);
    expect(atC[0]!.from.address).toBe('127.0.0.1');
    // One lookup per destination, then the cached answer.
    expect(a.stats.routeLookups).toBe(2);
    a.send(packet(5000, 3863, 'again'), { address: other, udpPort: b.udpPort });
    await until(() => atB.length === 21);
    expect(atB[20]!.from.address).toBe(other);
    expect(a.stats.routeLookups).toBe(2);
    expect(await a.sourceFor(other)).toBe(other);
    expect(await a.sourceFor('127.0.0.1')).toBe('127.0.0.1');
    // sendDatagram follows the route too.
    const rx = dgram.createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, other, () => r()));
    const got = new Promise<dgram.RemoteInfo>((r) => rx.once('message', (_m, info) => r(info)));
    await a.sendDatagram(Buffer.from('presence'), rx.address().port, other);
    expect((await got).address).toBe(other);
    rx.close();
    // A family without a socket is still a counted error, and an explicit `from` wins.
    a.send(packet(5000, 3863, 'x'), { address: '::1', udpPort: b.udpPort });
    expect(a.stats.sendErrors).toBe(1);
    a.send(packet(5000, 3863, 'from'), { address: '127.0.0.1', udpPort: c.udpPort }, other);
    await until(() => atC.length === 2);
    expect(atC[1]!.from.address).toBe(other);
  });

  it.runIf(otherIpv4 !== undefined)('packets waiting for a route lookup still leave when the layer closes at once', async () => {
    const other = otherIpv4!;
    const b = await layer({ addresses: [other], udpPort: 0 });
    const atB: Received[] = [];
    collector(b, 3863, atB);
    const a = await UdpLowerLayer.open({ addresses: ['127.0.0.1', other], udpPort: 0 });
    a.bind(5000, () => {});
    a.send(packet(5000, 3863, 'abort'), { address: other, udpPort: b.udpPort });
    a.unbind(5000);
    await a.close();
    await until(() => atB.length === 1);
    expect(atB[0]!.from.address).toBe(other);
  });
});
