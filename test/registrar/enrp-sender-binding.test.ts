// An authenticated scope member may speak ENRP only for the one server ID its association
// belongs to (RFC 5353 §3.4.1: the association is the peer; RFC 5355 §2.9-2.10: a peer speaks
// only about its own PEs). Attacks on a real registrar over loopback, on ephemeral ports:
// - over TLS (a PSK of the scope): a connection that said it is M sends a HANDLE_UPDATE and a
//   PRESENCE in the name of V (a server that is not connected): both refused, counted in
//   enrp.senderMismatch, logged once with the credential (psk:NAME), the handlespace and the
//   peer list unchanged;
// - the same over plain SCTP (ENRP over SCTP, no TLS);
// - a registrar re-associating to a peer it knows (the link bound by us to that ID) hears the
//   remote speak as that ID, then a PRESENCE in another's name: refused. Before, a PRESENCE
//   could still "correct" the ID of a link we associated for, after messages in that ID;
// - --enrp-tls-server-ids: a credential speaks only for the IDs of its line, also on a new
//   connection of its own; a credential named nowhere for none (enrpTls.serverIdRefused).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseServerIdMap } from '../../src/registrar/enrp-server-ids.js';
import { Registrar, type RegistrarConfig } from '../../src/registrar/index.js';
import { loadTlsCredentials } from '../../src/transport/tls-credentials.js';
import { StreamConnector } from '../../src/transport/stream-connector.js';
import { StreamEndpoint } from '../../src/transport/stream-endpoint.js';
import type { Association, RemoteAddress } from '../../src/transport/index.js';
import { EnrpFlag, EnrpType, PPID_ENRP, UpdateAction, decodeEnrp, encodeMessage, type EnrpMessage, type Message } from '../../src/wire/index.js';
import { freeTcpPort, makeTlsFixtures, type TlsFixtures } from '../transport/tls-fixtures.js';
import { EnrpPeer } from '../enrp/enrp-peer.js';
import { FAST_ENRP, freeUdpPort, logSink, sleep, startMember, waitFor } from '../enrp/harness.js';
import { registration } from './asap-peer.js';

const LOOPBACK = '127.0.0.1';
const M_ID = 0x4d000001; // the member's own ID
const V_ID = 0x56000001; // the victim: a server of the scope that is not connected
let f: TlsFixtures;
const registrars: Registrar[] = [];
const closers: { close(): Promise<void> | void }[] = [];

const dir = mkdtempSync(join(tmpdir(), 'rserpool-server-ids-'));
beforeAll(() => {
  f = makeTlsFixtures();
});
afterAll(() => {
  f?.remove();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await Promise.race([Promise.resolve(c.close()).catch(() => undefined), sleep(2000)]);
  await Promise.all(registrars.splice(0).map((r) => r.close()));
});

type Fields = { type: number; flags?: number; receiverId?: number } & Record<string, unknown>;

function enrp(senderId: number, fields: Fields): Uint8Array {
  return encodeMessage({ protocol: 'enrp', flags: 0, receiverId: 0, paddedLength: false, unknownParams: null, senderId, ...fields } as unknown as Message);
}

const presence = (senderId: number, flags = 0): Uint8Array => enrp(senderId, { type: EnrpType.Presence, flags, checksum: null, serverInfo: null });

/** A HANDLE_UPDATE adding a PE homed at `home`. */
function addPe(senderId: number, pool: string, peId: number, home: number): Uint8Array {
  const reg = registration(pool, peId);
  if (reg.type !== 0x01) throw new Error('registration() built something else');
  return enrp(senderId, { type: EnrpType.HandleUpdate, action: UpdateAction.AddPe, reserved: 0, poolHandle: reg.poolHandle, poolElement: { ...reg.poolElement, homeRegistrarId: home } });
}

/**
 * The scope member's side of one association: what it received, and what an empty registrar
 * answers by itself, as `answerAs` (presence with reply-required, list and table requests).
 */
class Member {
  readonly received: EnrpMessage[] = [];
  answerAs: number | null = M_ID;

  constructor(readonly link: Association) {
    link.on('message', (payload, ppid) => {
      if (ppid !== PPID_ENRP) return;
      const r = decodeEnrp(payload.slice());
      if (!r.ok || r.message.protocol !== 'enrp') return;
      const m = r.message;
      this.received.push(m);
      const id = this.answerAs;
      if (id === null) return;
      if (m.type === EnrpType.Presence && (m.flags & EnrpFlag.ReplyRequired) !== 0) this.send(presence(id));
      else if (m.type === EnrpType.ListRequest) this.send(enrp(id, { type: EnrpType.ListResponse, servers: [] }));
      else if (m.type === EnrpType.HandleTableRequest) this.send(enrp(id, { type: EnrpType.HandleTableResponse, entries: [] }));
    });
  }

  send(bytes: Uint8Array): void {
    this.link.send(bytes, PPID_ENRP);
  }

  /** Sends `bytes`, then a LIST_REQUEST as `probeAs`; resolves once its answer is back (the registrar has handled everything before it). */
  async exchange(messages: Uint8Array[], probeAs = M_ID): Promise<void> {
    const before = this.received.length;
    for (const m of messages) this.send(m);
    this.send(enrp(probeAs, { type: EnrpType.ListRequest }));
    await waitFor(() => this.received.slice(before).some((m) => m.type === EnrpType.ListResponse), 5000, 'the answer to the probe');
  }
}

async function secured(id: number, config: Partial<RegistrarConfig> = {}): Promise<{ registrar: Registrar; logs: ReturnType<typeof logSink>['logs']; enrpTlsPort: number }> {
  const { log, logs } = logSink();
  const enrpTlsPort = await freeTcpPort();
  const registrar = await Registrar.start(
    {
      registrarId: id,
      transport: 'udp',
      address: LOOPBACK,
      asapPort: 3863,
      enrpPort: 9901,
      udpPort: await freeUdpPort(),
      shards: 1,
      announce: false,
      enrpAnnounce: false,
      logLevel: 'info',
      ...FAST_ENRP,
      mentorDiscoveryTimeout: 0,
      tlsOnly: true,
      tlsPort: await freeTcpPort(),
      enrpTlsPort,
      tlsPsk: f.psk,
      ...config,
    },
    log,
  );
  registrars.push(registrar);
  return { registrar, logs, enrpTlsPort };
}

const mismatchLogs = (logs: ReturnType<typeof logSink>['logs']): Array<Record<string, unknown>> =>
  logs.filter((l) => /ENRP message from another sender than the association's peer ignored/.test(l.msg)) as unknown as Array<Record<string, unknown>>;

const homesOf = async (r: Registrar): Promise<number[]> => (await r.dump()).map((row) => row[2] as number).sort();

describe('ENRP: an association speaks for the one server ID it belongs to', () => {
  it('over TLS: a member that said it is M cannot speak for V (update and presence refused, counted, logged once with its credential)', async () => {
    const a = await secured(0x0a);
    const connector = new StreamConnector({ protocol: 'tls', ppid: PPID_ENRP, tls: loadTlsCredentials({ psk: f.psk, pskIdentity: 'pu-1' }, 'client') });
    closers.push(connector);
    const member = new Member(connector.associate({ address: LOOPBACK, port: a.enrpTlsPort }));
    await new Promise<void>((resolve, reject) => {
      member.link.once('up', () => resolve());
      member.link.once('down', (reason) => reject(new Error(`down: ${String(reason)}`)));
    });
    // M binds the connection, and may add its own PE.
    await member.exchange([presence(M_ID, EnrpFlag.ReplyRequired), addPe(M_ID, 'm-pool', 1, M_ID)]);
    await waitFor(async () => (await a.registrar.dump()).length === 1, 3000, "M's PE");
    const before = (await a.registrar.stats()).enrp.senderMismatch!;

    // In V's name: a PE homed at V, V's presence (it would make V a peer reached over M's link), and a deletion of M's PE signed V.
    await member.exchange([addPe(V_ID, 'v-pool', 2, V_ID), presence(V_ID), enrp(V_ID, { type: EnrpType.HandleUpdate, action: UpdateAction.DelPe, reserved: 0, ...delFields('m-pool', 1, M_ID) })]);
    const stats = await a.registrar.stats();
    expect(stats.enrp.senderMismatch).toBe(before + 3);
    expect(stats.peers).toContain(M_ID);
    expect(stats.peers).not.toContain(V_ID);
    expect(await homesOf(a.registrar)).toEqual([M_ID]);
    const logged = mismatchLogs(a.logs);
    expect(logged).toHaveLength(1); // once, not once per message
    expect(logged[0]).toMatchObject({ tlsPeer: 'psk:pu-1', peer: '0x4d000001', sender: '0x56000001' });
    // M still speaks over it.
    await member.exchange([addPe(M_ID, 'm-pool', 3, M_ID)]);
    await waitFor(async () => (await a.registrar.dump()).length === 2, 3000, "M's second PE");
  }, 30_000);

  it('over plain SCTP: the same refusal (an association that announced M cannot speak for V)', async () => {
    const h = await EnrpPeer.open(M_ID);
    closers.push(h);
    const r = await startMember(await freeUdpPort(), [], { registrarId: 0x0b, mentorDiscoveryTimeout: 0 });
    registrars.push(r.registrar);
    await h.connect(r.registrar.enrpAddress as RemoteAddress);
    const member = new Member(h.association!);
    member.answerAs = null; // EnrpPeer answers as M itself
    await member.exchange([presence(M_ID, EnrpFlag.ReplyRequired), addPe(M_ID, 'm-pool', 1, M_ID)]);
    await waitFor(async () => (await r.registrar.dump()).length === 1, 3000, "M's PE");
    const before = (await r.registrar.stats()).enrp.senderMismatch!;
    await member.exchange([addPe(V_ID, 'v-pool', 2, V_ID), presence(V_ID)]);
    const stats = await r.registrar.stats();
    expect(stats.enrp.senderMismatch).toBe(before + 2);
    expect(stats.peers).not.toContain(V_ID);
    expect(await homesOf(r.registrar)).toEqual([M_ID]);
    const logged = mismatchLogs(r.logs);
    expect(logged).toHaveLength(1);
    expect(logged[0]!['tlsPeer']).toBeUndefined(); // no credential over SCTP
  }, 30_000);

  it('a link the registrar re-opened to a known peer: once the remote spoke as that peer, a PRESENCE in another ID does not rebind it', async () => {
    // The "member": a TLS server of the scope's PSK that the registrar has as its static peer.
    const server = await StreamEndpoint.open({ protocol: 'tls', port: 0, addresses: [LOOPBACK], ppid: PPID_ENRP, tls: loadTlsCredentials({ psk: f.psk }, 'server'), maxAssociations: 16, maxSendQueueBytes: 1 << 20, idleTimeout: 0, handshakeTimeout: 5000 });
    closers.push(server);
    const links: Member[] = [];
    server.on('association', (link) => {
      const m = new Member(link);
      links.push(m);
      // The first link: say who we are (M). Later ones: keep quiet until the test speaks.
      if (links.length === 1) m.send(presence(M_ID));
      else m.answerAs = null;
    });
    const a = await secured(0x0c, { peers: [{ address: LOOPBACK, port: server.port }], maxTimeLastHeard: 3000, maxTimeNoResponse: 2000 });
    await waitFor(async () => (await a.registrar.stats()).peers.includes(M_ID), 8000, 'M a peer');

    // The link drops; the registrar associates to M's transport again (bound by it to M).
    links[0]!.link.abort('gone');
    await waitFor(() => links.length >= 2 && links[1]!.link.state === 'up', 8000, 'the registrar associates to M again');
    const second = links[1]!;
    await sleep(100);
    // It speaks as M (accepted: the link is M's now), then as V: a presence (before, it rebound the link to V) and V's PE.
    await second.exchange([addPe(M_ID, 'm-pool', 1, M_ID)]);
    await waitFor(async () => (await a.registrar.dump()).length === 1, 3000, "M's PE");
    const before = (await a.registrar.stats()).enrp.senderMismatch!;
    await second.exchange([presence(V_ID), addPe(V_ID, 'v-pool', 2, V_ID)]);
    const stats = await a.registrar.stats();
    expect(stats.peers).not.toContain(V_ID);
    expect(stats.enrp.senderMismatch).toBe(before + 2);
    expect(await homesOf(a.registrar)).toEqual([M_ID]);
  }, 30_000);
});

/** The fields of a HANDLE_UPDATE deleting a PE (the PE parameter as registration() builds it). */
function delFields(pool: string, peId: number, home: number): Record<string, unknown> {
  const reg = registration(pool, peId);
  if (reg.type !== 0x01) throw new Error('registration() built something else');
  return { poolHandle: reg.poolHandle, poolElement: { ...reg.poolElement, homeRegistrarId: home } };
}

/** A TLS connection to an ENRP TLS port with a PSK identity of the scope, up. */
async function connectAs(port: number, pskIdentity: string): Promise<Member> {
  const connector = new StreamConnector({ protocol: 'tls', ppid: PPID_ENRP, tls: loadTlsCredentials({ psk: f.psk, pskIdentity }, 'client') });
  closers.push(connector);
  const member = new Member(connector.associate({ address: LOOPBACK, port }));
  await new Promise<void>((resolve, reject) => {
    member.link.once('up', () => resolve());
    member.link.once('down', (reason) => reject(new Error(`down: ${String(reason)}`)));
  });
  return member;
}

describe('--enrp-tls-server-ids: a credential speaks only for its own server IDs', () => {
  it('pu-1 may be M only: M is heard; V on a new connection of its own is refused, and pe-1 (named nowhere) speaks for no ID', async () => {
    const map = join(dir, 'ids-1.txt');
    writeFileSync(map, `# registrars' IDs\npsk:pu-1 ${M_ID}\n`);
    const a = await secured(0x0d, { enrpTlsServerIds: map });
    const refused = async (): Promise<number> => (await a.registrar.stats()).enrpTls?.serverIdRefused ?? -1;
    expect(await refused()).toBe(0);

    const m = await connectAs(a.enrpTlsPort, 'pu-1');
    await m.exchange([presence(M_ID, EnrpFlag.ReplyRequired), addPe(M_ID, 'm-pool', 1, M_ID)]);
    await waitFor(async () => (await a.registrar.dump()).length === 1, 3000, "M's PE");

    // Its own second connection, first speaking for V: the per-connection binding alone would let that pass.
    const v = await connectAs(a.enrpTlsPort, 'pu-1');
    v.send(presence(V_ID, EnrpFlag.ReplyRequired));
    v.send(addPe(V_ID, 'v-pool', 2, V_ID));
    await waitFor(async () => (await refused()) === 2, 5000, 'V refused twice');
    // pe-1 is named nowhere: no ID at all, not even one nobody else has.
    const stranger = await connectAs(a.enrpTlsPort, 'pe-1');
    stranger.send(presence(0x58000001, EnrpFlag.ReplyRequired));
    await waitFor(async () => (await refused()) === 3, 5000, 'the stranger refused');
    await sleep(200);
    const stats = await a.registrar.stats();
    expect(stats.peers).toEqual([M_ID]);
    expect(await homesOf(a.registrar)).toEqual([M_ID]);
    expect(v.received.filter((x) => x.type === EnrpType.Presence && x.receiverId === V_ID)).toEqual([]); // no answer to V
    const logged = a.logs.filter((l) => /its sender ID is not one of the credential's/.test(l.msg)) as unknown as Array<Record<string, unknown>>;
    expect(logged).toHaveLength(1); // once per 1000
    expect(logged[0]).toMatchObject({ tlsPeer: 'psk:pu-1', sender: '0x56000001' });
  }, 30_000);

  it('two registrars with certificates (CN registrar-1) whose line lists both IDs peer as usual, both ways; one that lists only A is refused B', async () => {
    const both = join(dir, 'ids-both.txt');
    writeFileSync(both, 'cn:registrar-1 0x0a000001 0x0a000002\n');
    const certs = { tlsPsk: undefined, tlsCert: f.registrarCert, tlsKey: f.registrarKey, tlsCa: f.ca, enrpTlsServerIds: both };
    const a = await secured(0x0a000001, certs);
    const b = await secured(0x0a000002, { ...certs, peers: [{ address: LOOPBACK, port: a.enrpTlsPort }] });
    await waitFor(async () => (await a.registrar.stats()).peers.includes(0x0a000002) && (await b.registrar.stats()).peers.includes(0x0a000001), 8000, 'A and B peers');
    expect((await a.registrar.stats()).enrpTls?.serverIdRefused).toBe(0);
    expect((await b.registrar.stats()).enrpTls?.serverIdRefused).toBe(0);

    const onlyA = join(dir, 'ids-only-a.txt');
    writeFileSync(onlyA, 'cn:registrar-1 0x0a000003\n');
    const c = await secured(0x0a000003, { ...certs, enrpTlsServerIds: onlyA });
    const d = await secured(0x0a000004, { ...certs, peers: [{ address: LOOPBACK, port: c.enrpTlsPort }] });
    await waitFor(async () => ((await c.registrar.stats()).enrpTls?.serverIdRefused ?? 0) > 0, 8000, "C refuses D's ID");
    expect((await c.registrar.stats()).peers).not.toContain(0x0a000004);
    expect(d.registrar.id).toBe(0x0a000004);
  }, 40_000);

  it('a bad file ends the start with its line; the file without ENRP over TLS is refused', async () => {
    const bad = join(dir, 'ids-bad.txt');
    writeFileSync(bad, `psk:pu-1 0x4d000001\ncn:reg-b 0x1ffffffff\n`);
    await expect(secured(0x0e, { enrpTlsServerIds: bad })).rejects.toThrow(/--enrp-tls-server-ids .* line 2: "0x1ffffffff" is not a server ID/);
    await expect(startMember(await freeUdpPort(), [], { registrarId: 0x0f, enrpTlsServerIds: bad })).rejects.toThrow(/without ENRP over TLS/);
  }, 30_000);

  it('parses names, decimal and hex IDs, comments, repeated names', () => {
    const map = parseServerIdMap('# c\n\npsk:reg 1 0x0A\ncn:reg-a 0xffffffff\npsk:reg 3\n', 'f');
    expect([...map.entries()].map(([k, v]) => [k, [...v]])).toEqual([
      ['psk:reg', [1, 10, 3]],
      ['cn:reg-a', [0xffffffff]],
    ]);
    expect(() => parseServerIdMap('reg 1\n', 'f')).toThrow(/line 1: "reg" is not psk:IDENTITY or cn:CERTIFICATE-CN/);
    expect(() => parseServerIdMap('cn:a\n', 'f')).toThrow(/names no server ID/);
    expect(() => parseServerIdMap('cn:a 0\n', 'f')).toThrow(/"0" is not a server ID/);
    expect(() => parseServerIdMap('cn:a 1e3\n', 'f')).toThrow(/"1e3" is not a server ID/);
  });
});
