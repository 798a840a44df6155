// A secured registrar (RFC 5352 §9.3): `--tls-only` refuses ASAP that did not come over TLS
// (SCTP, plain TCP) with "Rejected due to Security Considerations", and per-pool-handle
// authorization lets a TLS peer register only under the pool handles its credentials name
// (certificate SAN URIs rserpool:pool:<handle>, or --tls-pool-map for a PSK identity or a
// certificate CN). Every refusal leaves the handlespace as it was. Unit tests of the parsing
// and the gate, then end to end with certificates made by `openssl`.
import { RegistrarMetrics } from '../../src/registrar/metrics.js';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AsapEndpoint, PoolElement, PoolUser, RegistrationRejectedError } from '../../src/client/index.js';
import { asapGateFor, asapVerdict, parsePoolMap } from '../../src/registrar/tls-authorization.js';
import type { Association } from '../../src/transport/sctp-provider.js';
import { StreamAssociation } from '../../src/transport/stream-association.js';
import { loadTlsCredentials, TlsCredentialError, type TlsFiles } from '../../src/transport/tls-credentials.js';
import { poolsOfSubjectAltName, type TlsPeer } from '../../src/transport/tls-peer.js';
import { AsapFlag, AsapType, Cause, decodeAsap, encodeMessage, ParamType, PolicyType } from '../../src/wire/index.js';
import { RegistrarTable } from '../../src/client/registrar-table.js';
import { deregistration, handleResolution, registration } from './asap-peer.js';
import { freeTcpPort, makeTlsFixtures, type TlsFixtures } from '../transport/tls-fixtures.js';
import { LogLevel, startTestRegistrar, waitFor, type TestRegistrar } from './harness.js';

describe('pool names in certificates and the pool map', () => {
  it('reads rserpool:pool: URIs of a subjectAltName as Node prints it, %XX-decoded, other entries ignored', () => {
    const pools = poolsOfSubjectAltName('URI:rserpool:pool:echo, DNS:pe.example, URI:https://example.org/, URI:rserpool:pool:my%20pool, IP Address:127.0.0.1, URI:"rserpool:pool:a,b"');
    expect([...pools!].sort()).toEqual(['a,b', 'echo', 'my pool']);
    expect(poolsOfSubjectAltName('DNS:pe.example, URI:rserpool:pool:%zz')).toBeNull();
    expect(poolsOfSubjectAltName(undefined)).toBeNull();
    expect([...poolsOfSubjectAltName('URI:rserpool:pool:*')!]).toEqual(['*']);
  });

  it('parses the pool map: psk:/cn:/plain names, pools, %XX escapes, * and comments; a name without pools or a broken escape is an error naming the line', () => {
    const map = parsePoolMap('# scope\npsk:pe-1 echo my%20pool\n\npsk:pe-1 other\ncn:admin *\nplain open\n', 'map.txt');
    expect([...map.get('psk:pe-1')!].sort()).toEqual(['echo', 'my pool', 'other']);
    expect([...map.get('cn:admin')!]).toEqual(['*']);
    expect([...map.get('plain')!]).toEqual(['open']);
    expect(() => parsePoolMap('psk:pe-1\n', 'map.txt')).toThrow(/map.txt line 1: "psk:pe-1" names no pool handle/);
    expect(() => parsePoolMap('psk:ok a\npsk:pe-2 bad%2\n', 'map.txt')).toThrow(TlsCredentialError);
    expect(() => parsePoolMap('cn: a\n', 'map.txt')).toThrow(/names no identity after its prefix/);
  });

  it('an unprefixed name is the one kind of credential accepted; with PSKs and certificates both it is an error that says how to write it', () => {
    expect([...parsePoolMap('pe-1 echo\n', 'm', { psk: true, cn: false }).keys()]).toEqual(['psk:pe-1']);
    expect([...parsePoolMap('pe-1 echo\n', 'm', { psk: false, cn: true }).keys()]).toEqual(['cn:pe-1']);
    expect(() => parsePoolMap('psk:a x\npe-1 echo\n', 'm', { psk: true, cn: true })).toThrow(/m line 2: "pe-1" has no psk: or cn: prefix, and both PSKs \(--tls-psk\) and certificates \(--tls-ca\) are accepted/);
    try {
      parsePoolMap('pe-1 echo\n', 'm');
    } catch (error) {
      expect((error as TlsCredentialError).hint).toBe('write psk:pe-1 for a PSK identity or cn:pe-1 for a certificate\'s CN');
    }
  });
});

/** A stand-in for an association accepted over TLS with this peer (the gate reads only tlsPeer). */
function tlsAssociation(peer: Partial<TlsPeer>): Association {
  const a = Object.create(StreamAssociation.prototype) as Association;
  Object.defineProperty(a, 'tlsPeer', { value: { pskIdentity: null, certificateSubject: null, certificatePools: null, ...peer } });
  return a;
}
const plainAssociation = {} as Association;

describe('the gate of an association', () => {
  const map = parsePoolMap('psk:pe-1 echo\ncn:pe-1 cn-echo\npsk:wild *\n', 'map');

  it('no --tls-only and no map: plain associations, PSK peers and certificates naming no pool are not checked', () => {
    const none = { tlsOnly: false, poolMap: null };
    expect(asapGateFor(plainAssociation, none)).toBeNull();
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'pe-1' }), none)).toBeNull();
    expect(asapGateFor(tlsAssociation({ certificateSubject: 'pe-1' }), none)).toBeNull();
  });

  it('a certificate naming pools is held to them even without a map', () => {
    expect(asapGateFor(tlsAssociation({ certificateSubject: 'x', certificatePools: new Set(['echo']) }), { tlsOnly: false, poolMap: null })).toEqual({ kind: 'pools', pools: new Set(['echo']) });
  });

  it('with a map: PSK identities get their psk: line, certificate CNs their cn: line (two name spaces), others and plain associations may not register; * is anything', () => {
    const s = { tlsOnly: false, poolMap: map };
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'pe-1' }), s)).toEqual({ kind: 'pools', pools: new Set(['echo']) });
    expect(asapGateFor(tlsAssociation({ certificateSubject: 'pe-1' }), s)).toEqual({ kind: 'pools', pools: new Set(['cn-echo']) });
    // A certificate whose CN is a PSK identity does not get that identity's line.
    expect(asapGateFor(tlsAssociation({ certificateSubject: 'wild' }), s)).toEqual({ kind: 'no-registration' });
    // A certificate without CN matches no line.
    expect(asapGateFor(tlsAssociation({ certificateSubject: null }), s)).toEqual({ kind: 'no-registration' });
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'stranger' }), s)).toEqual({ kind: 'no-registration' });
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'wild' }), s)).toBeNull();
    expect(asapGateFor(plainAssociation, s)).toEqual({ kind: 'no-registration', plain: true });
    expect(asapGateFor(plainAssociation, { tlsOnly: true, poolMap: map })).toEqual({ kind: 'plain-refused' });
  });

  it('with a CA (certificates may name pools) plain associations may not register, without a map too; a map line "plain" opens pools to them', () => {
    expect(asapGateFor(plainAssociation, { tlsOnly: false, poolMap: null, certificates: true })).toEqual({ kind: 'no-registration', plain: true });
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'pe-1' }), { tlsOnly: false, poolMap: null, certificates: true })).toBeNull();
    expect(asapGateFor(plainAssociation, { tlsOnly: false, poolMap: parsePoolMap('plain open\n', 'm'), certificates: true })).toEqual({ kind: 'pools', pools: new Set(['open']) });
    expect(asapGateFor(plainAssociation, { tlsOnly: false, poolMap: parsePoolMap('plain *\n', 'm'), certificates: true })).toBeNull();
    // A map of plain lines only holds no TLS peer to anything (a certificate naming pools still is).
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'pe-1' }), { tlsOnly: false, poolMap: parsePoolMap('plain *\n', 'm'), certificates: true })).toBeNull();
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'pe-1' }), { tlsOnly: false, poolMap: parsePoolMap('plain *\npsk:x y\n', 'm'), certificates: true })).toEqual({ kind: 'no-registration' });
    expect(asapGateFor(tlsAssociation({ pskIdentity: 'pe-1' }), { tlsOnly: false, poolMap: new Map(), certificates: true })).toEqual({ kind: 'no-registration' });
    // --tls-only wins over a plain line.
    expect(asapGateFor(plainAssociation, { tlsOnly: true, poolMap: parsePoolMap('plain *\n', 'm'), certificates: true })).toEqual({ kind: 'plain-refused' });
    const refused = asapVerdict({ kind: 'no-registration', plain: true }, encodeMessage(registration('echo', 7)));
    expect(refused.action === 'reject' && refused.reason).toMatch(/^not over TLS \(plain associations may not register/);
  });

  it('verdicts: a named pool passes, another is answered with a rejecting response (Security Considerations); plain under --tls-only is answered or dropped', () => {
    const pools = { kind: 'pools' as const, pools: new Set(['echo']) };
    expect(asapVerdict(pools, encodeMessage(registration('echo', 7)))).toEqual({ action: 'pass' });
    expect(asapVerdict(pools, encodeMessage(handleResolution('other')))).toEqual({ action: 'pass' });
    const refused = asapVerdict(pools, encodeMessage(registration('other', 7)));
    expect(refused.action).toBe('reject');
    const response = decodeAsap((refused as { response: Uint8Array }).response);
    expect(response.ok && response.message.type === AsapType.RegistrationResponse && response.message.flags & AsapFlag.Reject).toBeTruthy();
    expect(response.ok && response.message.type === AsapType.RegistrationResponse && [response.message.peId, response.message.error?.causes[0]?.code]).toEqual([7, Cause.RejectedDueToSecurityConsiderations]);
    const dereg = decodeAsap((asapVerdict(pools, encodeMessage(deregistration('other', 7))) as { response: Uint8Array }).response);
    expect(dereg.ok && dereg.message.type === AsapType.DeregistrationResponse && dereg.message.error?.causes[0]?.code).toBe(Cause.RejectedDueToSecurityConsiderations);

    const plain = { kind: 'plain-refused' as const };
    const resolution = decodeAsap((asapVerdict(plain, encodeMessage(handleResolution('echo'))) as { response: Uint8Array }).response);
    expect(resolution.ok && resolution.message.type === AsapType.HandleResolutionResponse && [resolution.message.poolElements.length, resolution.message.error?.causes[0]?.code]).toEqual([0, Cause.RejectedDueToSecurityConsiderations]);
    expect(asapVerdict(plain, Uint8Array.of(AsapType.EndpointKeepAliveAck, 0, 0, 4))).toEqual({ action: 'drop' });
    expect(asapVerdict(plain, Uint8Array.of(AsapType.Registration, 0, 0, 4))).toEqual({ action: 'drop' });
  });
});

const LOOPBACK = '127.0.0.1';
const TIMERS = { t1EnrpRequest: 1000, t2Registration: 1000, t3Deregistration: 1000, t5ServerHunt: 500, t7EnrpOutdate: 3000, retranMax: 2000 };

describe('a secured registrar end to end (--tls-only, --tls-pool-map, certificates naming pools)', () => {
  let f: TlsFixtures;
  let reg: TestRegistrar;
  let tcpPort: number;
  let tlsPort: number;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    f = makeTlsFixtures();
    // pe-1 is a PSK identity and the CN of the scope's plain client certificate: two names, two pools.
    const map = `${f.dir}/pools.txt`;
    writeFileSync(map, '# who may register where\npsk:pe-1 psk-pool\ncn:pe-1 cn-pool\n');
    [tcpPort, tlsPort] = [await freeTcpPort(), await freeTcpPort()];
    reg = await startTestRegistrar({ shards: 2, enrpAnnounce: false, mentorDiscoveryTimeout: 0, tcpPort, tlsPort, tlsPsk: f.psk, tlsCert: f.registrarCert, tlsKey: f.registrarKey, tlsCa: f.ca, tlsOnly: true, tlsPoolMap: map });
    await waitFor(() => reg.registrar.enrp.isReady, 5000, 'registrar ready');
  }, 30_000);

  afterAll(async () => {
    await reg?.registrar.close();
    f?.remove();
  });

  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
  });

  async function endpoint(how: 'sctp' | 'tcp' | 'tls', files: TlsFiles = {}): Promise<AsapEndpoint> {
    const registrar = how === 'sctp' ? reg.registrar.asapAddress : { address: LOOPBACK, port: how === 'tcp' ? tcpPort : tlsPort };
    const asap = await AsapEndpoint.open({
      registrars: [registrar],
      announces: false,
      sctp: { mode: 'udp', address: LOOPBACK },
      ...(how !== 'sctp' ? { stream: { protocol: how, ...(how === 'tls' ? { tls: loadTlsCredentials(files, 'client') } : {}) } } : {}),
      timers: TIMERS,
      homeTimeout: 3000,
      localAddresses: [LOOPBACK],
    });
    open.push(asap);
    return asap;
  }

  function element(asap: AsapEndpoint, pool: string): PoolElement {
    const pe = new PoolElement(asap, { poolHandle: pool, policy: { type: PolicyType.RoundRobin }, userTransport: { port: 7300, protocol: 'sctp', use: 'data' }, registrationLife: 30_000 });
    open.push({ close: () => pe.close() });
    return pe;
  }

  async function pools(): Promise<string[]> {
    // The dump names pools by the hex of their handle's bytes.
    return (await reg.registrar.dump()).map((row) => Buffer.from(String(row[0]), 'hex').toString('utf8')).sort();
  }

  async function rejectedForSecurity(asap: AsapEndpoint, pool: string): Promise<void> {
    const before = await pools();
    const rejectedBefore = (await reg.registrar.stats()).tlsAccess.rejected;
    const error = await element(asap, pool).register().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RegistrationRejectedError);
    expect((error as RegistrationRejectedError).causeCode).toBe(Cause.RejectedDueToSecurityConsiderations);
    expect(await pools()).toEqual(before);
    expect((await reg.registrar.stats()).tlsAccess.rejected).toBeGreaterThan(rejectedBefore);
  }

  it('--tls-only: a PE over SCTP and a PE over plain TCP are rejected due to security considerations, logged with the address, nothing changes', async () => {
    await rejectedForSecurity(await endpoint('sctp'), 'psk-pool');
    await rejectedForSecurity(await endpoint('tcp'), 'psk-pool');
    const logged = reg.logs.filter((l) => l.level >= LogLevel.warn && /rejected due to security considerations: not over TLS/.test(l.msg));
    expect(logged.length).toBeGreaterThan(0);
    expect(String(logged[0]!.remote)).toMatch(/^127\.0\.0\.1:\d+$/);
    // The scrape shows what /stats counts, with the endpoint named.
    const metrics = new RegistrarMetrics();
    try {
      const text = await metrics.scrape(() => reg.registrar.metrics());
      const stats = await reg.registrar.stats();
      expect(stats.tlsAccess.rejected).toBeGreaterThanOrEqual(2);
      expect(text).toContain(`rserpool_stream_events_total{endpoint="tls-access",event="rejected"} ${stats.tlsAccess.rejected}`);
      expect(text).toMatch(/rserpool_stream_events_total\{endpoint="tls",event="accepted"\} \d+/);
    } finally {
      metrics.close();
    }
  });

  it('--tls-only: a PU over plain TCP gets no pool element (an error response), over TLS it does', async () => {
    const pe = element(await endpoint('tls', { psk: f.psk }), 'psk-pool');
    await pe.register();
    const plain = await new PoolUser(await endpoint('tcp'), { staleCacheValue: 0 }).resolve('psk-pool').then(
      (found) => found,
      (e: unknown) => e,
    );
    // The client reads the rejecting response as a resolution error (or no element): no PE either way.
    expect(Array.isArray(plain) ? plain : (plain as Error).message).not.toEqual(expect.arrayContaining([expect.objectContaining({ peId: pe.peId })]));
    expect(await pools()).toContain('psk-pool');
    const secure = await new PoolUser(await endpoint('tls', { psk: f.psk, pskIdentity: 'pu-1' }), { staleCacheValue: 0 }).resolve('psk-pool');
    expect(secure.map((e) => e.peId)).toEqual([pe.peId]);
  });

  it('a PSK identity registers under the pool the map names for it, not under another', async () => {
    const asap = await endpoint('tls', { psk: f.psk });
    const pe = element(asap, 'psk-pool');
    await pe.register();
    expect(pe.registered).toBe(true);
    await rejectedForSecurity(asap, 'someone-elses-pool');
  });

  it('a PSK identity the map does not name may resolve but not register', async () => {
    const asap = await endpoint('tls', { psk: f.psk, pskIdentity: 'pu-1' });
    await rejectedForSecurity(asap, 'psk-pool');
  });

  it('a certificate naming pools in SAN URIs registers under them (my%20pool is "my pool"), not under the map\'s or any other', async () => {
    const asap = await endpoint('tls', { cert: f.poolClientCert, key: f.poolClientKey, ca: f.ca });
    for (const pool of ['allowed-pool', 'my pool']) {
      const pe = element(asap, pool);
      await pe.register();
      expect(pe.registered).toBe(true);
    }
    expect(await pools()).toEqual(expect.arrayContaining(['allowed-pool', 'my pool']));
    await rejectedForSecurity(asap, 'psk-pool');
  });

  it('a certificate naming no pool gets the map\'s cn: line for its CN, not the psk: line of the PSK identity of that name', async () => {
    const asap = await endpoint('tls', { cert: f.clientCert, key: f.clientKey, ca: f.ca });
    const pe = element(asap, 'cn-pool');
    await pe.register();
    expect(pe.registered).toBe(true);
    await rejectedForSecurity(asap, 'psk-pool');
    await rejectedForSecurity(asap, 'allowed-pool-2');
    await rejectedForSecurity(await endpoint('tls', { psk: f.psk }), 'cn-pool');
  });
});

describe('TLS with a CA, without --tls-only: pools named in certificates hold over SCTP too', () => {
  it('plain associations may resolve but not register (said at start); a certificate is held to its pools; a map line "plain POOL" opens that pool to them', async () => {
    const f = makeTlsFixtures();
    const running: TestRegistrar[] = [];
    const open: { close(): Promise<void> }[] = [];
    try {
      const start = async (config: Partial<Parameters<typeof startTestRegistrar>[0]> = {}): Promise<TestRegistrar> => {
        const r = await startTestRegistrar({ shards: 1, enrpAnnounce: false, mentorDiscoveryTimeout: 0, tlsPort: await freeTcpPort(), tlsCert: f.registrarCert, tlsKey: f.registrarKey, tlsCa: f.ca, ...config });
        running.push(r);
        await waitFor(() => r.registrar.enrp.isReady, 5000, 'registrar ready');
        return r;
      };
      const endpoint = async (r: TestRegistrar, files?: TlsFiles): Promise<AsapEndpoint> => {
        const tlsPort = (await r.registrar.stats()).streams.find((x) => x.protocol === 'tls')!.port;
        const asap = await AsapEndpoint.open({
          registrars: [files === undefined ? r.registrar.asapAddress : { address: LOOPBACK, port: tlsPort }],
          announces: false,
          sctp: { mode: 'udp', address: LOOPBACK },
          ...(files !== undefined ? { stream: { protocol: 'tls' as const, tls: loadTlsCredentials(files, 'client') } } : {}),
          timers: TIMERS,
          homeTimeout: 3000,
          localAddresses: [LOOPBACK],
        });
        open.push(asap);
        return asap;
      };
      const register = async (asap: AsapEndpoint, pool: string): Promise<PoolElement | number> => {
        const pe = new PoolElement(asap, { poolHandle: pool, userTransport: { port: 7310, protocol: 'sctp', use: 'data' }, registrationLife: 30_000 });
        open.push({ close: () => pe.close() });
        return pe.register().then(
          () => pe,
          (e: unknown) => (e instanceof RegistrationRejectedError ? e.causeCode : Promise.reject(e)),
        );
      };

      const a = await start();
      expect(a.logs.some((l) => l.level >= LogLevel.warn && /plain SCTP\/TCP associations may resolve but not register/.test(l.msg))).toBe(true);
      const certified = await register(await endpoint(a, { cert: f.poolClientCert, key: f.poolClientKey, ca: f.ca }), 'allowed-pool');
      expect(certified).toBeInstanceOf(PoolElement);
      expect(await register(await endpoint(a, { cert: f.poolClientCert, key: f.poolClientKey, ca: f.ca }), 'echo')).toBe(Cause.RejectedDueToSecurityConsiderations);
      // The same PE over SCTP cannot go around its certificate.
      const sctp = await endpoint(a);
      expect(await register(sctp, 'allowed-pool')).toBe(Cause.RejectedDueToSecurityConsiderations);
      expect(await register(sctp, 'echo')).toBe(Cause.RejectedDueToSecurityConsiderations);
      expect((await a.registrar.dump()).length).toBe(1);
      // Resolving over SCTP is not restricted.
      const found = await new PoolUser(sctp, { staleCacheValue: 0 }).resolve('allowed-pool');
      expect(found.map((e) => e.peId)).toEqual([(certified as PoolElement).peId]);

      const map = `${f.dir}/plain.txt`;
      writeFileSync(map, 'plain open-pool\n');
      const b = await start({ tlsPoolMap: map });
      const plain = await endpoint(b);
      expect(await register(plain, 'open-pool')).toBeInstanceOf(PoolElement);
      expect(await register(plain, 'echo')).toBe(Cause.RejectedDueToSecurityConsiderations);
    } finally {
      for (const x of open.reverse()) await x.close().catch(() => undefined);
      for (const r of running) await r.registrar.close();
      f.remove();
    }
  }, 60_000);
});

describe('announcing a secured registrar', () => {
  it('under --tls-only the announce names the TLS port as a TCP transport and not the SCTP port: a TLS client\'s table takes it, an SCTP client\'s takes nothing', async () => {
    const f = makeTlsFixtures();
    const tlsPort = await freeTcpPort();
    const reg = await startTestRegistrar({ shards: 1, enrpAnnounce: false, mentorDiscoveryTimeout: 0, tlsPort, tlsPsk: f.psk, tlsOnly: true, enrpTlsPort: await freeTcpPort() });
    try {
      // The message the announce cycle multicasts (sent only with a multicast route; built the same either way).
      const announce = (reg.registrar as unknown as { announceMessage(): Uint8Array }).announceMessage();
      const tlsTable = new RegistrarTable(60_000, 9899, ParamType.TcpTransport);
      expect(tlsTable.heardAnnounce(announce, { address: LOOPBACK, port: 3863 })).toBeGreaterThan(0);
      expect(tlsTable.entries().map((e) => e.remote.port)).toEqual(expect.arrayContaining([tlsPort]));
      expect(tlsTable.entries().every((e) => e.remote.port === tlsPort && e.remote.udpPort === undefined)).toBe(true);
      // Its SCTP port refuses registrations and resolutions: an SCTP client (RSPLIB) must not pick it.
      const decoded = decodeAsap(announce);
      expect(decoded.ok && decoded.message.type === AsapType.ServerAnnounce && decoded.message.transports.map((t) => t.type)).toEqual([ParamType.TcpTransport]);
      const sctpTable = new RegistrarTable(60_000, 9899);
      expect(sctpTable.heardAnnounce(announce, { address: LOOPBACK, port: 3863 })).toBe(0);
      expect(sctpTable.entries()).toEqual([]);
    } finally {
      await reg.registrar.close();
      f.remove();
    }
  });
});

describe('start-up checks', () => {
  it('--tls-only without TLS files, and a pool map that cannot be read, end the start with the reason', async () => {
    await expect(startTestRegistrar({ shards: 1, enrpAnnounce: false, mentorDiscoveryTimeout: 0, tlsOnly: true })).rejects.toThrow(/--tls-only without TLS/);
    const f = makeTlsFixtures();
    try {
      await expect(startTestRegistrar({ shards: 1, enrpAnnounce: false, mentorDiscoveryTimeout: 0, tlsPort: await freeTcpPort(), tlsPsk: f.psk, tlsPoolMap: `${f.dir}/missing.txt` })).rejects.toThrow(/cannot read --tls-pool-map .*missing.txt: no such file/);
    } finally {
      f.remove();
    }
  });
});
