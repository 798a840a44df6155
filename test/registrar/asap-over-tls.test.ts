// ASAP over TCP and TLS (RFC 5352 §6, IANA asap-tcp 3863, asap-tcp-tls 3864) end to end: a
// PE registers and a PU resolves over plain TCP, TLS with a PSK and TLS with certificates
// (mutual authentication against the scope's CA); peers without a PSK of the file or a
// certificate of the CA are turned away and the handlespace does not change; a stalled
// handshake, garbage and bad lengths are cut, logged with the peer's address and counted; and
// `openssl s_client` (not ours) gets a HANDLE_RESOLUTION answered through the TLS port.
import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AsapEndpoint, NoRegistrarError, PoolElement, PoolUser } from '../../src/client/index.js';
import { loadTlsCredentials, type TlsFiles } from '../../src/transport/tls-credentials.js';
import { MessageFramer } from '../../src/transport/stream-framing.js';
import { AsapType, decodeAsap, encodeMessage, PolicyType } from '../../src/wire/index.js';
import { join } from 'node:path';
import { CLI, REPO_ROOT, runCli, runCliAsync } from '../helpers/cli.js';
import { captureLoopback, runTshark, tsharkAvailable } from '../helpers/tshark.js';
import { freeTcpPort, makeTlsFixtures, type TlsFixtures } from '../transport/tls-fixtures.js';
import { freeUdpPort, LogLevel, startTestRegistrar, waitFor, type TestRegistrar } from './harness.js';

const LOOPBACK = '127.0.0.1';
const TIMERS = { t1EnrpRequest: 1000, t2Registration: 1000, t3Deregistration: 1000, t5ServerHunt: 500, t7EnrpOutdate: 3000, retranMax: 2000 };

let f: TlsFixtures;
let reg: TestRegistrar;
let tcpPort: number;
let tlsPort: number;

beforeAll(async () => {
  f = makeTlsFixtures();
  [tcpPort, tlsPort] = [await freeTcpPort(), await freeTcpPort()];
  reg = await startTestRegistrar({
    shards: 2,
    enrpAnnounce: false,
    mentorDiscoveryTimeout: 0,
    tcpPort,
    tlsPort,
    tlsPsk: f.psk,
    tlsCert: f.registrarCert,
    tlsKey: f.registrarKey,
    tlsCa: f.ca,
    tlsHandshakeTimeout: 400,
    // With a CA, plain associations may not register unless a map line says so (tls-authorization.ts).
    tlsPoolMap: plainPoolMap(f),
  });
  await waitFor(() => reg.registrar.enrp.isReady, 5000, 'registrar ready');
}, 30_000);

/** A pool map that lets plain SCTP/TCP associations register under any pool. */
function plainPoolMap(fixtures: TlsFixtures): string {
  writeFileSync(`${fixtures.dir}/plain-pools.txt`, 'plain *\n');
  return `${fixtures.dir}/plain-pools.txt`;
}

afterAll(async () => {
  await reg?.registrar.close();
  f?.remove();
});

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

/** An ASAP endpoint reaching the registrar over TCP or TLS, closed after the test. */
async function endpoint(protocol: 'tcp' | 'tls', files: TlsFiles = {}, homeTimeout = 3000): Promise<AsapEndpoint> {
  const asap = await lastingEndpoint(protocol, files, homeTimeout);
  open.push(asap);
  return asap;
}

/** The same, for a describe's beforeAll: the caller closes it. */
async function lastingEndpoint(protocol: 'tcp' | 'tls', files: TlsFiles = {}, homeTimeout = 3000): Promise<AsapEndpoint> {
  return AsapEndpoint.open({
    registrars: [{ address: LOOPBACK, port: protocol === 'tcp' ? tcpPort : tlsPort }],
    announces: false,
    sctp: { mode: 'udp', address: LOOPBACK },
    stream: { protocol, ...(protocol === 'tls' ? { tls: loadTlsCredentials(files, 'client') } : {}) },
    timers: TIMERS,
    homeTimeout,
    localAddresses: [LOOPBACK],
  });
}

/** A PE registered over `pe`, resolved over `pu`: the PU sees the PE's ID. */
async function registerAndResolve(pool: string, pe: AsapEndpoint, pu: AsapEndpoint): Promise<void> {
  const element = new PoolElement(pe, { poolHandle: pool, policy: { type: PolicyType.RoundRobin }, userTransport: { port: 7100, protocol: 'sctp', use: 'data' }, registrationLife: 30_000 });
  open.push({ close: () => element.close() });
  await element.register();
  expect(element.registered).toBe(true);
  const resolved = await new PoolUser(pu, { staleCacheValue: 0 }).resolve(pool);
  expect(resolved.map((e) => e.peId)).toEqual([element.peId]);
  expect(resolved[0]!.homeRegistrarId).toBe(reg.registrar.id);
}

async function streamStats(protocol: 'tcp' | 'tls') {
  return (await reg.registrar.stats()).streams.find((s) => s.protocol === protocol)!;
}

async function poolsInHandlespace(): Promise<string[]> {
  return (await reg.registrar.dump()).map((row) => String(row[0]));
}

function warnings(pattern: RegExp): Array<Record<string, unknown>> {
  return reg.logs.filter((l) => l.level >= LogLevel.warn && pattern.test(l.msg));
}

describe('ASAP over TCP and TLS at the registrar', () => {
  it('over plain TCP: a PE registers, a PU resolves it', async () => {
    await registerAndResolve('tcp-pool', await endpoint('tcp'), await endpoint('tcp'));
    expect((await streamStats('tcp')).accepted).toBeGreaterThanOrEqual(2);
  });

  it('over TLS with a PSK (TLS 1.3, one identity per peer): a PE registers, a PU resolves it', async () => {
    await registerAndResolve('psk-pool', await endpoint('tls', { psk: f.psk }), await endpoint('tls', { psk: f.psk, pskIdentity: 'pu-1' }));
  });

  it('over TLS with certificates of the scope CA (mutual authentication): a PE registers, a PU resolves it', async () => {
    const files = { cert: f.clientCert, key: f.clientKey, ca: f.ca };
    await registerAndResolve('cert-pool', await endpoint('tls', files), await endpoint('tls', files));
  });

  it('mixed: a PE over TLS and a PU over TCP see the same handlespace (same shards)', async () => {
    await registerAndResolve('mixed-pool', await endpoint('tls', { psk: f.psk }), await endpoint('tcp'));
  });

  it.each([
    ['no certificate', { ca: () => f.ca }],
    ['a certificate of another CA', { cert: () => f.otherClientCert, key: () => f.otherClientKey, ca: () => f.ca }],
  ])('a PE with %s is turned away in the handshake, logged with its address, and the handlespace does not change', { timeout: 15_000 }, async (_what, pick) => {
    const files = Object.fromEntries(Object.entries(pick).map(([k, v]) => [k, v()])) as TlsFiles;
    const before = await poolsInHandlespace();
    const turnedAway = async (): Promise<number> => {
      const s = await streamStats('tls');
      return s.handshakeFailures + s.unauthenticated;
    };
    const turnedAwayBefore = await turnedAway();
    const pe = await endpoint('tls', files, 1500);
    const element = new PoolElement(pe, { poolHandle: 'intruder-pool', policy: { type: PolicyType.RoundRobin }, userTransport: { port: 7200, protocol: 'sctp', use: 'data' } });
    open.push({ close: () => element.close() });
    await expect(element.register()).rejects.toBeInstanceOf(NoRegistrarError);
    expect(await poolsInHandlespace()).toEqual(before);
    expect(before).not.toContain('intruder-pool');
    expect(await turnedAway()).toBeGreaterThan(turnedAwayBefore);
    // Refused in the handshake: the client got the alert (certificate required, unknown CA).
    const logged = warnings(/^TLS handshake failed/);
    expect(logged.length).toBeGreaterThan(0);
    expect(String(logged.at(-1)!.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('a PSK identity the registrar does not know fails the handshake', async () => {
    const { writeFileSync } = await import('node:fs');
    const stranger = `${f.dir}/stranger.txt`;
    writeFileSync(stranger, 'stranger:00112233445566778899aabbccddeeff\n');
    const failures = (await streamStats('tls')).handshakeFailures;
    const pe = await endpoint('tls', { psk: stranger }, 1500);
    await expect(pe.homeConnection()).rejects.toBeInstanceOf(NoRegistrarError);
    expect((await streamStats('tls')).handshakeFailures).toBeGreaterThan(failures);
  });

  it('a handshake that stalls is cut by the handshake timeout, logged and counted', async () => {
    const timeouts = (await streamStats('tls')).handshakeTimeouts;
    const socket = net.connect(tlsPort, LOOPBACK);
    const started = performance.now();
    let localPort = 0;
    socket.on('connect', () => (localPort = socket.localPort!));
    await new Promise<void>((resolve) => socket.on('close', () => resolve()).on('error', () => undefined));
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(8000); // the given 400 ms, not the default 10 s (timers run late when loaded)
    await waitFor(async () => (await streamStats('tls')).handshakeTimeouts === timeouts + 1, 10_000, 'handshake timeout counted');
    expect(warnings(/^TLS handshake timed out/).at(-1)!.peer).toBe(`127.0.0.1:${localPort}`);
  });

  it('garbage instead of a ClientHello is a failed handshake: closed, counted, no crash', async () => {
    const failures = (await streamStats('tls')).handshakeFailures;
    const socket = net.connect(tlsPort, LOOPBACK, () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    await new Promise<void>((resolve) => socket.on('close', () => resolve()).on('error', () => undefined));
    await waitFor(async () => (await streamStats('tls')).handshakeFailures === failures + 1, 10_000, 'handshake failure counted');
  });

  it('on TCP, a Message Length under 4 aborts the connection (logged with the address), and the registrar serves on', async () => {
    const aborts = (await streamStats('tcp')).framingAborts;
    let localPort = 0;
    const socket = net.connect(tcpPort, LOOPBACK, () => {
      localPort = socket.localPort!;
      socket.write(Uint8Array.of(AsapType.HandleResolution, 0, 0, 2, 0, 0, 0, 0));
    });
    await new Promise<void>((resolve) => socket.on('close', () => resolve()).on('error', () => undefined));
    expect((await streamStats('tcp')).framingAborts).toBe(aborts + 1);
    const logged = warnings(/Message Length 2 is under the 4-byte common header/).at(-1)!;
    expect(logged.peer).toBe(`127.0.0.1:${localPort}`);
    await registerAndResolve('after-garbage', await endpoint('tcp'), await endpoint('tcp'));
  });

  it('inside TLS, a Message Length under 4 aborts the session too; a PSK peer holding half a maximal message holds at most 64 KiB', async () => {
    const aborts = (await streamStats('tls')).framingAborts;
    const key = Buffer.from(f.pskHex, 'hex');
    const connect = (): Promise<tls.TLSSocket> =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: LOOPBACK, port: tlsPort, pskCallback: () => ({ identity: 'pe-1', psk: key }), checkServerIdentity: () => undefined, ciphers: 'TLS_AES_128_GCM_SHA256:PSK-AES128-GCM-SHA256' }, () => resolve(s));
        s.on('error', reject);
      });
    const bad = await connect();
    bad.write(Uint8Array.of(AsapType.HandleResolution, 0, 0, 3, 0, 0, 0, 0));
    await new Promise<void>((resolve) => bad.on('close', () => resolve()));
    expect((await streamStats('tls')).framingAborts).toBe(aborts + 1);
    // 0xFFFF announced, 32 KiB sent: the association stays, holding one partial message, and
    // the registrar answers others meanwhile.
    const slow = await connect();
    const partial = new Uint8Array(32 * 1024);
    partial.set([AsapType.HandleResolution, 0, 0xff, 0xff]);
    slow.write(partial);
    await registerAndResolve('while-a-peer-stalls', await endpoint('tls', { psk: f.psk }), await endpoint('tcp'));
    expect(slow.destroyed).toBe(false);
    slow.destroy();
  });

  it('on TCP, a message the registrar cannot decode gets the RFC answer (ASAP_ERROR), not a disconnect', async () => {
    const socket = net.connect(tcpPort, LOOPBACK, () => socket.write(Uint8Array.of(0x7f, 0, 0, 8, 0, 0, 0, 0)));
    const answer = await firstMessage(socket);
    socket.destroy();
    const decoded = decodeAsap(answer);
    expect(decoded.ok && decoded.message.type).toBe(AsapType.Error);
  });
});

/** The first framed message a socket receives. */
function firstMessage(socket: net.Socket): Promise<Uint8Array> {
  const framer = new MessageFramer();
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => framer.push(chunk, (m) => resolve(m.slice())));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed before an answer')));
  });
}

describe('openssl s_client against the TLS port', () => {
  const resolution = encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: new TextEncoder().encode('s-client-pool'), items: null });

  /** s_client with `args`, the HANDLE_RESOLUTION on its stdin; resolves with the first ASAP message it prints. */
  function throughSClient(args: string[]): Promise<Uint8Array> {
    const child = spawn('openssl', ['s_client', '-connect', `${LOOPBACK}:${tlsPort}`, '-quiet', '-nocommands', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const framer = new MessageFramer();
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`no answer through s_client: ${stderr}`));
      }, 10_000);
      child.stdout.on('data', (chunk: Buffer) =>
        framer.push(chunk, (m) => {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve(m.slice());
        }),
      );
      child.on('exit', () => setTimeout(() => reject(new Error(`s_client exited: ${stderr}`)), 100));
      // -quiet implies -ign_eof: s_client keeps the session after stdin ends.
      child.stdin.end(Buffer.from(resolution));
    });
  }

  beforeAll(async () => {
    // A PE for s_client to find, registered over TLS.
    const pe = await AsapEndpoint.open({ registrars: [{ address: LOOPBACK, port: tlsPort }], announces: false, sctp: { mode: 'udp', address: LOOPBACK }, stream: { protocol: 'tls', tls: loadTlsCredentials({ psk: f.psk }, 'client') }, timers: TIMERS, localAddresses: [LOOPBACK] });
    const element = new PoolElement(pe, { poolHandle: 's-client-pool', policy: { type: PolicyType.RoundRobin }, userTransport: { port: 7300, protocol: 'sctp', use: 'data' } });
    await element.register();
    sClientPe = { asap: pe, element };
  }, 20_000);
  let sClientPe: { asap: AsapEndpoint; element: PoolElement };
  afterAll(async () => {
    await sClientPe?.element.close();
    await sClientPe?.asap.close();
  });

  it.each([
    ['TLS 1.3 with a PSK', () => ['-tls1_3', '-psk', f.pskHex, '-psk_identity', 'pe-1']],
    ['TLS 1.2 with a PSK', () => ['-tls1_2', '-psk', f.pskHex, '-psk_identity', 'pe-1']],
    ['TLS 1.3 with a certificate', () => ['-tls1_3', '-cert', f.clientCert, '-key', f.clientKey, '-CAfile', f.ca, '-verify_return_error']],
    ['TLS 1.2 with a certificate', () => ['-tls1_2', '-cert', f.clientCert, '-key', f.clientKey, '-CAfile', f.ca, '-verify_return_error']],
  ])('%s: the HANDLE_RESOLUTION_RESPONSE decodes and names the PE', async (_what, args) => {
    const answer = await throughSClient(args());
    const decoded = decodeAsap(answer);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok || decoded.message.protocol !== 'asap' || decoded.message.type !== AsapType.HandleResolutionResponse) throw new Error('not a HANDLE_RESOLUTION_RESPONSE');
    expect(decoded.message.poolElements.map((e) => e.peId)).toEqual([sClientPe.element.peId]);
  });
});

describe.skipIf(!tsharkAvailable())('tshark decodes the TLS of the ASAP port', () => {
  it('PSK and certificate sessions (TLS 1.3): ClientHello, ServerHello, application data, nothing malformed', { timeout: 60_000 }, async () => {
    const file = join(f.dir, 'asap-tls.pcapng');
    const capture = await captureLoopback({ file, filter: `tcp port ${tlsPort}` });
    try {
      for (const files of [{ psk: f.psk }, { cert: f.clientCert, key: f.clientKey, ca: f.ca }]) {
        const pu = await lastingEndpoint('tls', files);
        await new PoolUser(pu, { staleCacheValue: 0 })
          .resolve('nobody-in-this-pool')
          .catch(() => undefined);
        await pu.close();
      }
    } finally {
      await capture.stop(500);
    }
    const decodeAs = ['-d', `tcp.port==${tlsPort},tls`];
    const fields = runTshark(['-r', file, ...decodeAs, '-T', 'fields', '-e', 'tls.handshake.type', '-e', 'tls.record.content_type', '-e', 'tls.record.opaque_type']);
    expect(fields.status).toBe(0);
    const values = fields.stdout.split(/[\s,]+/).filter((v) => v !== '');
    expect(values).toContain('1'); // ClientHello
    expect(values).toContain('2'); // ServerHello
    expect(values).toContain('23'); // application data (TLS 1.3: the opaque type of every encrypted record): the ASAP messages
    const malformed = runTshark(['-r', file, ...decodeAs, '-Y', '_ws.malformed || tls.alert_message']);
    expect(malformed.status).toBe(0);
    expect(malformed.stdout.trim()).toBe('');
  });
});

/** `rserpool <args>` without blocking this process (the registrar under test lives in it). */
const cli = (args: string[]) => runCliAsync(args, 20_000);

describe('rserpool resolve over TCP and TLS', () => {
  beforeAll(async () => {
    const asap = await lastingEndpoint('tcp');
    const element = new PoolElement(asap, { poolHandle: 'cli-pool', policy: { type: PolicyType.RoundRobin }, userTransport: { port: 7400, protocol: 'sctp', use: 'data' } });
    await element.register();
    cliPe = { asap, element };
  }, 20_000);
  let cliPe: { asap: AsapEndpoint; element: PoolElement };
  afterAll(async () => {
    await cliPe?.element.close();
    await cliPe?.asap.close();
  });

  it.each([
    ['tcp', () => ['--registrar', `${LOOPBACK}:${tcpPort}`]],
    ['tls', () => ['--registrar', `${LOOPBACK}:${tlsPort}`, '--tls-psk', f.psk, '--tls-psk-identity', 'pu-1']],
    ['tls', () => ['--registrar', `${LOOPBACK}:${tlsPort}`, '--tls-cert', f.clientCert, '--tls-key', f.clientKey, '--tls-ca', f.ca]],
  ])('--transport %s %#: the PE is listed', { timeout: 30_000 }, async (transport, args) => {
    const r = await cli(['resolve', 'cli-pool', '--json', '--transport', transport, '--local-address', LOOPBACK, ...args()]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { elements: Array<{ peId: number }> };
    expect(out.elements.map((e) => e.peId)).toEqual([cliPe.element.peId]);
  });

  it('a registrar certificate of another CA: the TLS failure is said, and the tool fails', { timeout: 30_000 }, async () => {
    const r = await cli(['resolve', 'cli-pool', '--transport', 'tls', '--registrar', `${LOOPBACK}:${tlsPort}`, '--tls-cert', f.otherClientCert, '--tls-key', f.otherClientKey, '--tls-ca', f.otherCa]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/TLS to registrar 127\.0\.0\.1:\d+ failed: .*(self-signed|unable to verify|certificate)/i);
  });

  it('--transport tcp without --registrar says announces name no plain TCP registrar', { timeout: 30_000 }, async () => {
    const r = await cli(['resolve', 'cli-pool', '--transport', 'tcp']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--transport tcp needs --registrar host[:port] (announces name SCTP registrars and the TLS ports of --tls-only ones)');
  });
});

describe('rserpool registrar with TLS files', () => {
  it('--tls-psk alone serves ASAP over TLS with a PSK (and plain TCP); rserpool resolve reaches it', { timeout: 40_000 }, async () => {
    const [tcp, tlsP, udp] = [await freeTcpPort(), await freeTcpPort(), await freeUdpPort()];
    const child = spawn(process.execPath, [CLI, 'registrar', '--transport', 'udp', '--udp-port', String(udp), '--address', LOOPBACK, '--announce', 'off', '--shards', '1', '--control-port', '0', '--mentor-discovery-timeout', '0', '--tcp-port', String(tcp), '--tls-port', String(tlsP), '--tls-psk', f.psk], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await waitFor(() => log.includes('"registrar started"'), 20_000, 'registrar started');
      expect(log).toMatch(/"tlsPort":\d+,"auth":"PSK \(2 identities\)".*"ASAP over TLS listening"/);
      expect(log).toContain('"ASAP over TCP listening"');
      const r = await cli(['resolve', 'nobody-here', '--transport', 'tls', '--registrar', `${LOOPBACK}:${tlsP}`, '--tls-psk', f.psk]);
      // An answer from the registrar: the pool is unknown there.
      expect(r.stderr).toContain('unknown pool handle "nobody-here"');
    } finally {
      child.kill('SIGKILL');
    }
  });


  it('the default TCP port 3863 taken: the registrar starts without ASAP over TCP, and says so; a --tcp-port asked for and taken ends the start', { timeout: 40_000 }, async () => {
    // Hold 127.0.0.1:3863 (or find it held by another registrar of the test run: the same case).
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.once('error', () => resolve()).listen(3863, LOOPBACK, () => resolve()));
    try {
      const child = spawn(process.execPath, [CLI, 'registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--address', LOOPBACK, '--announce', 'off', '--shards', '1', '--control-port', '0', '--mentor-discovery-timeout', '0'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      try {
        await waitFor(() => log.includes('"registrar started"'), 20_000, 'registrar started');
        expect(log).toContain('TCP port 3863 is in use: ASAP over TCP is off (give --tcp-port to require it, 0 to turn it off)');
      } finally {
        child.kill('SIGKILL');
      }
      const taken = (holder.address() as net.AddressInfo | null)?.port ?? 3863;
      const r = await cli(['registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--address', LOOPBACK, '--announce', 'off', '--shards', '1', '--control-port', '0', '--mentor-discovery-timeout', '0', '--tcp-port', String(taken)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`cannot start: cannot open ASAP over TCP (TCP port ${taken} on 127.0.0.1)`);
      expect(r.stderr).toMatch(/hint: .*--tcp-port/);
    } finally {
      holder.close();
    }
  });

  it('a missing PSK file ends the start: exit 1, the file named, a hint', async () => {
    const r = runCli(['registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--address', LOOPBACK, '--announce', 'off', '--shards', '1', '--control-port', '0', '--tcp-port', '0', '--tls-psk', `${f.dir}/missing.txt`], 20_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot start: cannot read --tls-psk ${f.dir}/missing.txt: no such file`);
    expect(r.stderr).toMatch(/hint: give --tls-psk a readable file/);
  });

  it('a certificate with the wrong key ends the start with what is wrong', async () => {
    const r = runCli(['registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--address', LOOPBACK, '--announce', 'off', '--shards', '1', '--control-port', '0', '--tcp-port', '0', '--tls-cert', f.registrarCert, '--tls-key', f.clientKey, '--tls-ca', f.ca], 20_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--tls-key .*client\.key is not the key of the certificate/);
  });
});
