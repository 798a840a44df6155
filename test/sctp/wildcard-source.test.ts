// An endpoint on the wildcard lists no addresses in its INIT / INIT ACK (RFC 9260 §5.1.2), so
// its peer knows it by one address only: the one the handshake used. The kernel picks the source
// of each packet by its route to the destination, so a packet to another of the peer's listed
// addresses may leave from another of our addresses, one the peer never heard of: for the peer
// that packet is out of the blue, answered by an ABORT with the T bit (§8.4 rule 8) that carries
// our peer's tag and so ends the association (§8.5.1 B). Seen with a PE on the wildcard and a
// terminal whose INIT listed the host's address: the PE's first HEARTBEAT to it left from that
// address, the terminal ABORTed, the session died before its first message. A kernel's wildcard
// socket always lists its addresses, so any such peer meets this.
import { describe, expect, it } from 'vitest';
import { ChunkType } from '../../src/sctp/chunk.js';
import { SctpStackEndpoint } from '../../src/sctp/index.js';
import type { Association } from '../../src/transport/sctp-provider.js';
import { PacketReader } from '../../src/sctp/packet.js';
import { Network, type MemoryLowerLayer } from './wire.js';

/** Two links: 10.0.0.x and 10.1.0.x; a host sends from its address on the destination's link. */
function twoLinkHost(net: Network, index: number, listed: readonly string[] | undefined): MemoryLowerLayer {
  const h = net.host([`10.0.0.${index}`, `10.1.0.${index}`]);
  h.route = (to) => (to.startsWith('10.1.0.') ? `10.1.0.${index}` : `10.0.0.${index}`);
  h.listed = listed;
  return h;
}

function chunkTypes(bytes: Uint8Array): number[] {
  const r = new PacketReader();
  return r.read(bytes) ? [...r.types.subarray(0, r.count)] : [];
}

function echoRun(wildcardIsServer: boolean) {
  const net = new Network();
  // The wildcard side lists nothing; the other lists both its addresses (a kernel's wildcard socket).
  const serverHost = twoLinkHost(net, 1, wildcardIsServer ? [] : undefined);
  const clientHost = twoLinkHost(net, 2, wildcardIsServer ? undefined : []);
  const server = SctpStackEndpoint.open(serverHost, { port: 5000, clock: net.clock, hbInterval: 1000 });
  const client = SctpStackEndpoint.open(clientHost, { port: 5001, clock: net.clock, hbInterval: 1000 });
  const servers: Association[] = [];
  server.on('association', (s) => {
    servers.push(s);
    s.on('message', (m, ppid) => s.send(Uint8Array.from(m), ppid));
  });
  const a = client.associate({ address: '10.0.0.1', port: 5000 });
  const got: string[] = [];
  a.on('message', (m) => got.push(Buffer.from(m).toString()));
  let down = '';
  a.on('down', (reason) => (down = reason));
  expect(net.until(() => a.state === 'up', 5000)).toBe(true);
  // Data right after up, while the heartbeats to the unconfirmed addresses go out.
  for (const line of ['a', 'b', 'c']) a.send(Buffer.from(line), 0);
  net.run(10_000);
  return { net, a, servers, got, down, wildcard: wildcardIsServer ? '10.0.0.1' : '10.0.0.2' };
}

describe('an endpoint on the wildcard and a peer that lists its addresses', () => {
  for (const wildcardIsServer of [true, false]) {
    it(`${wildcardIsServer ? 'the server' : 'the client'} on the wildcard: every packet it sends leaves from the address the peer knows, no ABORT, the data is echoed`, () => {
      const { net, a, servers, got, down, wildcard } = echoRun(wildcardIsServer);
      const aborts = net.sent.filter((p) => chunkTypes(p.bytes).includes(ChunkType.ABORT));
      expect(aborts).toEqual([]);
      expect(down).toBe('');
      expect(a.state).toBe('up');
      expect(servers).toHaveLength(1);
      expect(servers[0]!.state).toBe('up');
      expect(got).toEqual(['a', 'b', 'c']);
      // The wildcard side sent from the one address the peer knows it by.
      const wildcardHost = wildcard.endsWith('.1') ? ['10.0.0.1', '10.1.0.1'] : ['10.0.0.2', '10.1.0.2'];
      const sources = new Set(net.sent.filter((p) => wildcardHost.includes(p.from)).map((p) => p.from));
      expect([...sources]).toEqual([wildcard]);
      // The peer's listed addresses are still its addresses (a registrar checks a PE's
      // registered addresses against them, RFC 5355): only no packet goes to them.
      const wildcardSide = wildcardIsServer ? servers[0]! : a;
      expect([...wildcardSide.remoteAddresses].sort()).toEqual(wildcardIsServer ? ['10.0.0.2', '10.1.0.2'] : ['10.0.0.1', '10.1.0.1']);
    });
  }

  it('the listing side still uses every address of a peer that lists its own (multi-homing is unchanged)', () => {
    const net = new Network();
    const server = SctpStackEndpoint.open(twoLinkHost(net, 1, undefined), { port: 5000, clock: net.clock, hbInterval: 1000 });
    const client = SctpStackEndpoint.open(twoLinkHost(net, 2, undefined), { port: 5001, clock: net.clock, hbInterval: 1000 });
    const servers: Association[] = [];
    server.on('association', (s) => servers.push(s));
    const a = client.associate({ address: '10.0.0.1', port: 5000 });
    expect(net.until(() => a.state === 'up' && servers.length === 1, 5000)).toBe(true);
    net.run(5000);
    expect(net.sent.some((p) => p.from === '10.1.0.1' && p.to === '10.1.0.2' && chunkTypes(p.bytes).includes(ChunkType.HEARTBEAT))).toBe(true);
    expect(net.sent.some((p) => p.from === '10.1.0.2' && p.to === '10.1.0.1' && chunkTypes(p.bytes).includes(ChunkType.HEARTBEAT))).toBe(true);
    expect(a.state).toBe('up');
  });
});
