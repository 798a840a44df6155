// Stream associations (ASAP over TCP, RFC 5352 §6) have the contract of an SCTP association:
// messages with PPID 11, 'up'/'down' with reasons, the send-queue limit, and the limits of the
// listening endpoint (association count, idle time).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SendQueueFullError, type Association, type AssociationDownReason } from '../../src/transport/sctp-provider.js';
import { setNextStreamAssociationId } from '../../src/transport/stream-association.js';
import { StreamConnector } from '../../src/transport/stream-connector.js';
import { StreamEndpoint, type StreamEndpointOptions } from '../../src/transport/stream-endpoint.js';
import { freeTcpPort } from './tls-fixtures.js';

const LOOPBACK = '127.0.0.1';
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function listen(options: Partial<StreamEndpointOptions> = {}): Promise<{ endpoint: StreamEndpoint; accepted: Association[] }> {
  const endpoint = await StreamEndpoint.open({ protocol: 'tcp', port: 0, addresses: [LOOPBACK], ppid: 11, maxAssociations: 100, maxSendQueueBytes: 1 << 20, idleTimeout: 0, handshakeTimeout: 1000, ...options });
  open.push(endpoint);
  const accepted: Association[] = [];
  endpoint.on('association', (a) => accepted.push(a));
  return { endpoint, accepted };
}

function connector(): StreamConnector {
  const c = new StreamConnector({ protocol: 'tcp', ppid: 11 });
  open.push(c);
  return c;
}

function message(bytes: number, type = 0x05): Uint8Array {
  const m = new Uint8Array(bytes);
  m[0] = type;
  m[2] = bytes >> 8;
  m[3] = bytes & 0xff;
  return m;
}

const down = (a: Association): Promise<AssociationDownReason> => new Promise((resolve) => a.once('down', resolve));
const next = <T>(a: Association, event: 'message'): Promise<T> => new Promise((resolve) => a.once(event, (...args: unknown[]) => resolve(args as T)));

async function pair(options: Partial<StreamEndpointOptions> = {}): Promise<{ client: Association; server: Association; endpoint: StreamEndpoint }> {
  const { endpoint, accepted } = await listen(options);
  const client = await connector().connect({ address: LOOPBACK, port: endpoint.port });
  await waitUntil(() => accepted.length === 1);
  return { client, server: accepted[0]!, endpoint };
}

async function waitUntil(condition: () => boolean, ms = 3000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('StreamAssociation', () => {
  it('carries messages both ways with the endpoint PPID on stream 0; up on both sides', async () => {
    const { client, server } = await pair();
    expect([client.state, server.state]).toEqual(['up', 'up']);
    expect(server.remote.address).toBe(LOOPBACK);
    expect(server.remoteAddresses).toEqual([LOOPBACK]);
    const got = next<[Uint8Array, number, number]>(server, 'message');
    expect(client.send(message(12), 11)).toBe(true);
    const [payload, ppid, stream] = await got;
    expect([payload.byteLength, ppid, stream]).toEqual([12, 11, 0]);
    const back = next<[Uint8Array, number, number]>(client, 'message');
    server.send(message(20, 0x06), 11);
    expect((await back)[0][0]).toBe(0x06);
  });

  it('refuses what a stream cannot carry: another PPID, a message whose length field lies', async () => {
    const { client } = await pair();
    expect(() => client.send(message(8), 12)).toThrow(TypeError);
    const liar = message(12);
    liar[3] = 40;
    expect(() => client.send(liar, 11)).toThrow(RangeError);
    expect(() => client.send(new Uint8Array(2), 11)).toThrow(RangeError);
  });

  it('beyond the send-queue limit send() throws SendQueueFullError and queues nothing (a peer that does not read)', async () => {
    const limit = 256 * 1024;
    const { endpoint, accepted } = await listen({ maxSendQueueBytes: limit });
    // A peer that connects and never reads: the kernel buffers fill, then ours.
    const reader = net.connect(endpoint.port, LOOPBACK);
    reader.pause();
    open.push({ close: () => reader.destroy() });
    await waitUntil(() => accepted.length === 1);
    const server = accepted[0]!;
    const m = message(60_000);
    let full: unknown = null;
    let sent = 0;
    for (let i = 0; i < 5000 && full === null; i++) {
      try {
        server.send(m, 11);
        sent++;
      } catch (error) {
        full = error;
      }
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(full).toBeInstanceOf(SendQueueFullError);
    expect((full as SendQueueFullError).limit).toBe(limit);
    expect(server.bufferedAmount).toBeLessThanOrEqual(limit);
    expect(sent).toBeGreaterThan(4);
    // What was refused was not queued: the queue is what it was.
    const before = server.bufferedAmount;
    expect(() => server.send(m, 11)).toThrow(SendQueueFullError);
    expect(server.bufferedAmount).toBe(before);
  });

  it('a peer that closes: down with shutdown; abort(): down with local-abort at once', async () => {
    const first = await pair();
    const serverDown = down(first.server);
    first.client.close();
    expect(await serverDown).toBe('shutdown');
    const second = await pair();
    const reasons: string[] = [];
    second.client.on('down', (r) => reasons.push(r));
    second.client.abort('test');
    expect(reasons).toEqual(['local-abort']);
    expect(second.client.state).toBe('down');
    expect(await down(second.server)).toBe('abort');
  });

  it('a refused connection: down before up, the error reported', async () => {
    const port = await freeTcpPort();
    const errors: string[] = [];
    const c = new StreamConnector({ protocol: 'tcp', ppid: 11, onError: (_r, e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message) });
    open.push(c);
    const a = c.associate({ address: LOOPBACK, port });
    expect(await down(a)).toBe('abort');
    expect(errors).toEqual(['ECONNREFUSED']);
  });
});

describe('StreamEndpoint limits', () => {
  it('an idle association is closed after the idle limit, counted', async () => {
    const { client, endpoint } = await pair({ idleTimeout: 200 });
    const started = performance.now();
    expect(await down(client)).toBe('shutdown');
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(endpoint.counters.idleClosed).toBe(1);
  });

  it('connections beyond maxAssociations are refused and counted', async () => {
    const { endpoint, accepted } = await listen({ maxAssociations: 1 });
    await connector().connect({ address: LOOPBACK, port: endpoint.port });
    await waitUntil(() => accepted.length === 1);
    const second = connector().associate({ address: LOOPBACK, port: endpoint.port });
    await down(second);
    expect(endpoint.counters.refused).toBe(1);
    expect(accepted).toHaveLength(1);
  });

  it('maxAssociations holds for the endpoint across its addresses (one listener each), not per address', async () => {
    const { endpoint, accepted } = await listen({ maxAssociations: 1, addresses: [LOOPBACK, '127.0.0.2'] });
    await connector().connect({ address: LOOPBACK, port: endpoint.port });
    await waitUntil(() => accepted.length === 1);
    const other = connector().associate({ address: '127.0.0.2', port: endpoint.port });
    await down(other);
    expect(endpoint.counters.refused).toBe(1);
    expect(accepted).toHaveLength(1);
  });

  it('association ids wrap from 2^32 - 1 back to 2^31, skipping ids still in use', async () => {
    const first = await pair();
    setNextStreamAssociationId(0xffff_fffe);
    const a = await pair();
    const b = await pair();
    expect([a.client.id, a.server.id, b.client.id].sort()).toEqual([0xffff_fffe, 0xffff_ffff, 0x8000_0000].sort());
    // The next free one after 2^31 (2^31 + 1 is b's server); ids of live associations are not handed out again.
    setNextStreamAssociationId(first.client.id);
    const c = await pair();
    expect([c.client.id, c.server.id]).not.toContain(first.client.id);
    expect([c.client.id, c.server.id]).not.toContain(first.server.id);
  });

  it('a Message Length over the limit aborts the connection, counted', async () => {
    const { client, endpoint } = await pair({ maxMessageBytes: 1000 });
    client.send(message(1004), 11);
    await down(client);
    expect(endpoint.counters.framingAborts).toBe(1);
  });

  it('on all addresses (dual stack), an IPv4 peer is named by its IPv4 address, not ::ffff:', async () => {
    const { endpoint, accepted } = await listen({ addresses: [] });
    await connector().connect({ address: LOOPBACK, port: endpoint.port });
    await waitUntil(() => accepted.length === 1);
    expect(accepted[0]!.remote.address).toBe(LOOPBACK);
  });

  it('closing the endpoint ends its associations with endpoint-closed', async () => {
    const { server, endpoint } = await pair();
    const reason = down(server);
    await endpoint.close();
    expect(await reason).toBe('endpoint-closed');
  });
});
