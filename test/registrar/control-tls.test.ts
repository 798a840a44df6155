// The control channel over HTTPS (--control-tls-cert, --control-tls-key; --control-tls-ca for
// client certificates), on real `rserpool registrar` processes with certificates made by
// openssl here: /health and /metrics over HTTPS with the token, plain HTTP refused on that
// port, no plain-HTTP warning, the connection caps and head timeout still hold, the tools
// reach it with --control-ca (and --control-cert for mutual TLS), and every bad file or
// missing half is a start-up error naming the flag and the file.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { controlTarget } from '../../src/cli/control-client.js';
import { readControlTls } from '../../src/registrar/control-tls.js';
import { ControlServer } from '../../src/registrar/control.js';
import { ControlConnections } from '../../src/registrar/control-connections.js';
import { handlespaceOf } from '../../native-free-bench/made-up-handlespace.js';
import { runCliAsync } from '../helpers/cli.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { rawConnections } from '../helpers/raw-connections.js';
import { registrarProcesses, type StartedRegistrar } from '../helpers/registrar-process.js';
import { makeTlsFixtures } from '../transport/tls-fixtures.js';
import { waitFor } from './harness.js';

const f = makeTlsFixtures();
const TOKEN = 'control-tls-test-token-0123456789abcdef';
const tokenFile = join(f.dir, 'control.token');
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
afterAll(() => f.remove());
const processes = registrarProcesses();
const sockets: Socket[] = [];
const { raw } = rawConnections(sockets);
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  processes.killAll();
});

/** A registrar process with its control channel on a free port; resolves once it has started, with its stderr so far. */
const registrar = (args: string[]): Promise<StartedRegistrar> => processes.start(['--mentor-discovery-timeout', '0', ...args]);

interface Answer {
  status: number;
  body: string;
}

/** GET over HTTPS, trusting the test CA; with a token and a client certificate if given. */
function httpsGet(port: number, path: string, o: { token?: string; cert?: string; key?: string; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        ca: readFileSync(f.ca),
        ...(o.cert !== undefined ? { cert: readFileSync(o.cert), key: readFileSync(o.key!) } : {}),
        ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
        headers: o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {},
        timeout: 10_000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (c: string) => (body += c));
        response.on('end', () => resolve({ status: response.statusCode!, body }));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

/** GET over plain HTTP: resolves with the status, or rejects with the error the connection ended in. */
function httpGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

/**
 * `get` once the server has seen the previous connection of that address close: a client has
 * its answer (and closes) a moment before the server counts the connection gone, and until then
 * a new one is beyond the caps and cut at once.
 */
async function soon(get: () => Promise<Answer>): Promise<Answer> {
  for (let i = 0; ; i++) {
    try {
      return await get();
    } catch (error) {
      if (i >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('readControlTls(): the files, checked before anything opens', () => {
  test('none given: plain HTTP', () => {
    expect(readControlTls({})).toBeNull();
  });

  test('certificate and key: what HTTPS needs, with the subject for the log', () => {
    const tls = readControlTls({ cert: f.registrarCert, key: f.registrarKey });
    expect(tls).toMatchObject({ ca: null, subject: 'CN=registrar-1' });
    expect(tls!.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(readControlTls({ cert: f.registrarCert, key: f.registrarKey, ca: f.ca })!.ca!.toString()).toContain('BEGIN CERTIFICATE');
  });

  test.each([
    ['a certificate without its key', { cert: 'C' }, /^--control-tls-cert C without --control-tls-key$/],
    ['a key without its certificate', { key: 'K' }, /^--control-tls-key K without --control-tls-cert$/],
    ['a CA alone', { ca: 'A' }, /^--control-tls-ca A without --control-tls-cert and --control-tls-key$/],
  ])('%s', (_name, files, message) => {
    expect(() => readControlTls(files)).toThrow(message);
  });

  test('an unreadable file, a file that is not PEM, a key of another certificate, a bad CA: each named', () => {
    const missing = join(f.dir, 'missing.pem');
    expect(() => readControlTls({ cert: f.registrarCert, key: missing })).toThrow(`cannot read --control-tls-key ${missing}: no such file`);
    expect(() => readControlTls({ cert: f.dir, key: f.registrarKey })).toThrow(`cannot read --control-tls-cert ${f.dir}: it is a directory`);
    expect(() => readControlTls({ cert: f.psk, key: f.registrarKey })).toThrow(new RegExp(`^--control-tls-cert ${f.psk} is not a PEM certificate`));
    expect(() => readControlTls({ cert: f.registrarCert, key: f.psk })).toThrow(new RegExp(`^--control-tls-key ${f.psk} is not a private key`));
    expect(() => readControlTls({ cert: f.registrarCert, key: f.clientKey })).toThrow(`--control-tls-key ${f.clientKey} is not the key of the certificate ${f.registrarCert} (subject CN=registrar-1)`);
    expect(() => readControlTls({ cert: f.registrarCert, key: f.registrarKey, ca: f.psk })).toThrow(new RegExp(`^--control-tls-ca ${f.psk} is not a PEM certificate`));
  });
});

describe('controlTarget(): --registrar of the tools', () => {
  test.each([
    ['127.0.0.1', { host: '127.0.0.1', port: 3870, scheme: null }],
    ['127.0.0.1:4000', { host: '127.0.0.1', port: 4000, scheme: null }],
    ['[::1]:4000', { host: '::1', port: 4000, scheme: null }],
    ['https://10.0.0.1', { host: '10.0.0.1', port: 3870, scheme: 'https' }],
    ['https://control.example:8443/', { host: 'control.example', port: 8443, scheme: 'https' }],
    ['HTTP://[2001:db8::1]:3871', { host: '2001:db8::1', port: 3871, scheme: 'http' }],
    ['https://10.0.0.1:443', { host: '10.0.0.1', port: 443, scheme: 'https' }],
    ['http://[::1]:80', { host: '::1', port: 80, scheme: 'http' }],
  ])('%s', (text, target) => {
    expect(controlTarget(text)).toEqual(target);
  });

  test.each(['https://10.0.0.1/control', 'https://user@10.0.0.1', 'ftp://10.0.0.1', '10.0.0.1:99999', '[zz]:1', 'https://'])('refuses %s', (text) => {
    expect(() => controlTarget(text)).toThrow(/expected/);
  });
});

describe('rserpool registrar --control-tls-cert/--control-tls-key: HTTPS', () => {
  test('off loopback with the token: /health and /metrics over HTTPS, plain HTTP refused, no plain-HTTP warning, the tools with --control-ca', async () => {
    const r = await registrar(['--control-address', '0.0.0.0', '--control-token-file', tokenFile, '--control-tls-cert', f.registrarCert, '--control-tls-key', f.registrarKey]);
    const listening = r.stderr().split('\n').find((l) => l.includes('control channel listening'))!;
    expect(JSON.parse(listening)).toMatchObject({ control: `0.0.0.0:${r.port}`, token: true, https: 'CN=registrar-1', clientCertificates: false });
    expect(r.stderr()).not.toContain('plain HTTP');

    const health = await httpsGet(r.port, '/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'serving' });
    expect((await httpsGet(r.port, '/metrics')).status).toBe(401);
    const metrics = await httpsGet(r.port, '/metrics', { token: TOKEN });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^rserpool_pool_elements /m);

    // Plain HTTP on that port: no HTTP answer, the connection is ended.
    await expect(httpGet(r.port, '/health')).rejects.toThrow(/ECONNRESET|socket hang up/);
    const got = await raw(r.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(got).not.toMatch(/^HTTP\//);

    const target = `https://127.0.0.1:${r.port}`;
    const [dump, implied, untrusted, plain, noToken, wrongScheme] = await Promise.all([
      runCliAsync(['dump', '--registrar', target, '--control-ca', f.ca, '--token-file', tokenFile], 60_000),
      runCliAsync(['dump', '--json', '--registrar', `127.0.0.1:${r.port}`, '--control-ca', f.ca, '--token-file', tokenFile], 60_000),
      runCliAsync(['dump', '--registrar', target, '--token-file', tokenFile], 60_000),
      runCliAsync(['dump', '--registrar', `127.0.0.1:${r.port}`, '--token-file', tokenFile], 60_000),
      runCliAsync(['dump', '--registrar', target, '--control-ca', f.ca], 60_000),
      runCliAsync(['dump', '--registrar', `http://127.0.0.1:${r.port}`, '--control-ca', f.ca], 60_000),
    ]);
    expect(dump.stderr).toBe('');
    expect(dump.status).toBe(0);
    expect(dump.stdout).toMatch(/^Handlespace of registrar 0x[0-9a-f]{8} at .*: 0 pool\(s\), 0 element\(s\)/);
    expect(implied.status).toBe(0);
    expect(JSON.parse(implied.stdout)).toMatchObject({ pools: [] });
    expect(untrusted.status).toBe(1);
    expect(untrusted.stderr).toContain(`cannot trust the certificate of the control channel at ${target}`);
    expect(untrusted.stderr).toContain('give --control-ca FILE');
    expect(plain.status).toBe(1);
    expect(plain.stderr).toContain(`control channel at 127.0.0.1:${r.port} closed the connection without answering: if it speaks HTTPS (registrar --control-tls-cert), give --registrar ${target} and --control-ca FILE`);
    expect(noToken.status).toBe(1);
    expect(noToken.stderr).toContain(`control channel at ${target} needs its bearer token`);
    expect(wrongScheme.status).toBe(1);
    expect(wrongScheme.stderr).toContain(`--control-ca is for an HTTPS control channel, and --registrar says http://: give ${target}`);
  }, 120_000);

  // Head timeout 4 s: room for the steps below on a loaded machine before the held ones are cut,
  // and still told apart from the default 10 s.
  test('the caps and the head timeout hold over TLS: per-address cap 2, probe reserve 1, head timeout 4 s', async () => {
    const r = await registrar(['--control-token-file', tokenFile, '--control-tls-cert', f.registrarCert, '--control-tls-key', f.registrarKey, '--control-max-connections-per-address', '2', '--control-probe-reserve', '1', '--control-head-timeout', '4000']);
    /** A TLS connection from 127.0.0.2 that sends half a request head; `secure` false when it was cut before its handshake ended. */
    const attacker = (): Promise<{ socket: Socket; secure: boolean }> =>
      new Promise((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: r.port, localAddress: '127.0.0.2', ca: readFileSync(f.ca) });
        sockets.push(s);
        s.on('error', () => undefined);
        s.once('secureConnect', () => {
          s.write('GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '); // a request head never finished
          resolve({ socket: s, secure: true });
        });
        s.once('close', () => resolve({ socket: s, secure: false }));
      });
    const attackers = [await attacker(), await attacker()];
    const t0 = Date.now();
    // Its share is taken: a third connection is the reserve's, which answers the probes only
    // (its TLS socket is matched to its TCP connection).
    const reserved = await httpsGet(r.port, '/stats', { token: TOKEN, localAddress: '127.0.0.2' });
    expect(reserved.status).toBe(503);
    expect(reserved.body).toContain('may ask /health and /ready only');
    expect((await soon(() => httpsGet(r.port, '/health', { localAddress: '127.0.0.2' }))).status).toBe(200);
    // Six more: one holds the reserve, five are cut at once (each resolved when it closed).
    for (let i = 0; i < 6; i++) attackers.push(await attacker());
    expect(attackers.filter((a) => !a.secure).length).toBe(5);
    expect(attackers.filter((a) => !a.socket.destroyed).length).toBe(3);
    // Another address is served meanwhile.
    expect((await httpsGet(r.port, '/stats', { token: TOKEN, localAddress: '127.0.0.3' })).status).toBe(200);
    // The head timeout given (4 s; the reserve's 2 s) cuts them.
    while (attackers.some((a) => !a.socket.destroyed) && Date.now() - t0 < 12_000) await new Promise((resolve) => setTimeout(resolve, 50));
    const cutAfter = Date.now() - t0;
    expect(attackers.every((a) => a.socket.destroyed)).toBe(true);
    expect(cutAfter).toBeGreaterThan(3000);
    expect(cutAfter).toBeLessThan(9000);
    expect((await soon(() => httpsGet(r.port, '/stats', { token: TOKEN, localAddress: '127.0.0.2' }))).status).toBe(200);
  }, 60_000);

  test('a TLS handshake never finished is cut by the head timeout too', async () => {
    const r = await registrar(['--control-tls-cert', f.registrarCert, '--control-tls-key', f.registrarKey, '--control-head-timeout', '1000']);
    const t0 = Date.now();
    // A TCP connection that sends nothing (no ClientHello).
    const got = await raw(r.port, '');
    expect(got).toBe('');
    const cutAfter = Date.now() - t0;
    expect(cutAfter).toBeGreaterThan(800);
    expect(cutAfter).toBeLessThan(8000);
  }, 60_000);
});

describe('rserpool registrar --control-tls-ca: client certificates (mutual TLS)', () => {
  test('the probes without one; everything else needs a certificate of that CA; the tools give theirs; keys of a config file', async () => {
    const config = join(f.dir, 'control-mtls.yaml');
    writeFileSync(config, `control-tls-cert: ${f.registrarCert}\ncontrol-tls-key: ${f.registrarKey}\ncontrol-tls-ca: ${f.ca}\n`);
    const r = await registrar(['--config', config]);
    expect(r.stderr()).toMatch(/"clientCertificates":true/);
    expect((await httpsGet(r.port, '/health')).status).toBe(200);
    expect((await httpsGet(r.port, '/ready')).status).toBe(200);
    const none = await httpsGet(r.port, '/stats');
    expect(none.status).toBe(403);
    expect(JSON.parse(none.body)).toEqual({ error: 'this control channel needs a client certificate issued by its --control-tls-ca (none was given)' });
    const other = await httpsGet(r.port, '/stats', { cert: f.otherClientCert, key: f.otherClientKey });
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body).error).toMatch(/the one given is not: [A-Z_]+/);
    const ok = await httpsGet(r.port, '/stats', { cert: f.clientCert, key: f.clientKey });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toHaveProperty('registrarId');

    const target = `https://127.0.0.1:${r.port}`;
    const file = join(f.dir, 'mtls.rshs');
    const [dump, noCert, save] = await Promise.all([
      runCliAsync(['dump', '--registrar', target, '--control-ca', f.ca, '--control-cert', f.clientCert, '--control-key', f.clientKey], 60_000),
      runCliAsync(['dump', '--registrar', target, '--control-ca', f.ca], 60_000),
      runCliAsync(['snapshot', 'save', file, '--registrar', target, '--control-ca', f.ca, '--control-cert', f.clientCert, '--control-key', f.clientKey], 60_000),
    ]);
    expect(dump.stderr).toBe('');
    expect(dump.status).toBe(0);
    expect(dump.stdout).toMatch(/^Handlespace of registrar/);
    expect(noCert.status).toBe(1);
    expect(noCert.stderr).toContain(`control channel at ${target} refused: this control channel needs a client certificate issued by its --control-tls-ca (none was given): give --control-cert and --control-key`);
    expect(save.stderr).toBe('');
    expect(save.status).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(save.stdout).toMatch(/mtls\.rshs: registrar 0x[0-9a-f]{8}, 0 pool\(s\), 0 element\(s\)/);
  }, 120_000);
});

describe('ControlServer over TLS: large bodies and slow readers', () => {
  test('a large /handlespace streams whole over TLS; a reader that takes no bytes is cut after the response timeout', async () => {
    const pools = handlespaceOf(60, 1000); // ~21 MB: more than the kernel buffers hold
    const server = await ControlServer.open({ id: 1, handlespace: async () => pools, stats: async () => ({}) }, { port: 0, tls: readControlTls({ cert: f.registrarCert, key: f.registrarKey }), responseTimeoutMs: 1000, routes: [] });
    try {
      const whole = await httpsGet(server.port, '/handlespace');
      expect(whole.status).toBe(200);
      expect((JSON.parse(whole.body) as { pools: unknown[] }).pools).toHaveLength(60);
      // Reads nothing for 4 s: the server's writes stall, and it gives up after 1 s.
      const slow = tlsConnect({ host: '127.0.0.1', port: server.port, ca: readFileSync(f.ca) });
      sockets.push(slow);
      slow.on('error', () => undefined);
      await new Promise<void>((resolve) => slow.once('secureConnect', () => resolve()));
      slow.pause();
      slow.write('GET /handlespace HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 4000));
      let got = 0;
      slow.on('data', (d: Buffer) => (got += d.length));
      const closed = new Promise<void>((resolve) => (slow.destroyed ? resolve() : slow.once('close', () => resolve())));
      slow.resume();
      await closed;
      expect(got).toBeGreaterThan(0);
      expect(got).toBeLessThan(whole.body.length);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe('ControlConnections over TLS: a TLS connection is matched to its own TCP connection', () => {
  test('two connections from one source port to two local addresses (a wildcard bind): the admitted one is not taken for the reserve one, nor the other way round', async () => {
    const connections = new ControlConnections({ maxConnections: 1, maxPerAddress: 1, reserve: 1, headTimeoutMs: 10_000 });
    const server = createHttpsServer({ cert: readFileSync(f.registrarCert), key: readFileSync(f.registrarKey) }, (q, r) => r.end(`reserve=${connections.isReserve(q.socket as Socket)}`));
    connections.attach(server);
    let accepted = 0;
    server.on('connection', () => accepted++);
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const open = (host: string, localPort: number): Promise<Socket> =>
        new Promise((resolve, reject) => {
          const c = netConnect({ port, host, localAddress: '127.0.0.1', localPort }, () => resolve(c));
          c.once('error', reject);
          sockets.push(c);
        });
      const localPort = 20_000 + Math.floor(Math.random() * 40_000);
      const admitted = await open('127.0.0.1', localPort);
      await waitFor(() => accepted === 1, 10_000, 'the first connection accepted');
      const reserve = await open('127.0.0.2', localPort); // same source address and port
      await waitFor(() => accepted === 2, 10_000, 'the second connection accepted');
      const ask = async (raw: Socket): Promise<string> => {
        const t = tlsConnect({ socket: raw, rejectUnauthorized: false });
        await new Promise((resolve) => t.once('secureConnect', resolve));
        const answer = new Promise<string>((resolve) => t.once('data', (d: Buffer) => resolve(d.toString().split('\r\n').at(-1)!)));
        t.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        return answer;
      };
      expect(await ask(admitted)).toBe('reserve=false');
      expect(await ask(reserve)).toBe('reserve=true');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('the tools against a plain HTTP channel', () => {
  test('https:// or --control-ca there: says it does not speak HTTPS', async () => {
    const server = await ControlServer.open({ id: 1, handlespace: async () => [], stats: async () => ({}) }, { port: 0, routes: [] });
    try {
      const [https, plain] = await Promise.all([
        runCliAsync(['dump', '--registrar', `https://127.0.0.1:${server.port}`, '--control-ca', f.ca], 60_000),
        runCliAsync(['dump', '--registrar', `http://127.0.0.1:${server.port}`], 60_000),
      ]);
      expect(https.status).toBe(1);
      expect(https.stderr).toContain(`control channel at https://127.0.0.1:${server.port} does not speak HTTPS (plain HTTP?): give --registrar http://127.0.0.1:${server.port} without --control-ca`);
      expect(plain.stderr).toBe('');
      expect(plain.status).toBe(0);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe('start-up errors and --help', () => {
  test('a missing half, an unreadable file, a key of another certificate: exit 1 before anything opens, naming the flag and the file', async () => {
    const base = ['registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--address', '127.0.0.1', '--shards', '1', '--announce', 'off', '--enrp-announce', 'off', '--tcp-port', '0', '--tls-port', '0', '--control-port', String(await freeTcpPort())];
    const missing = join(f.dir, 'nothing.key');
    const runs = await Promise.all([
      runCliAsync([...base, '--control-tls-cert', f.registrarCert], 60_000),
      runCliAsync([...base, '--control-tls-key', f.registrarKey], 60_000),
      runCliAsync([...base, '--control-tls-cert', f.registrarCert, '--control-tls-key', missing], 60_000),
      runCliAsync([...base, '--control-tls-cert', f.registrarCert, '--control-tls-key', f.clientKey], 60_000),
    ]);
    const expected = [
      `--control-tls-cert ${f.registrarCert} without --control-tls-key`,
      `--control-tls-key ${f.registrarKey} without --control-tls-cert`,
      `cannot read --control-tls-key ${missing}: no such file`,
      `--control-tls-key ${f.clientKey} is not the key of the certificate ${f.registrarCert}`,
    ];
    runs.forEach((run, i) => {
      expect(run.status, run.stderr).toBe(1);
      expect(run.stderr).toContain(`rserpool registrar: cannot start: ${expected[i]}`);
      expect(run.stderr).toMatch(/\n {2}hint: \S/);
      expect(run.stderr).not.toContain('registrar started');
    });
  }, 90_000);

  test('--help names the flags', async () => {
    const [registrarHelp, dumpHelp, saveHelp] = await Promise.all([runCliAsync(['registrar', '--help']), runCliAsync(['dump', '--help']), runCliAsync(['snapshot', 'save', '--help'])]);
    const text = (s: string): string => s.replace(/\s+/g, ' ');
    expect(text(registrarHelp.stdout)).toMatch(/--control-tls-cert <file> certificate \(PEM\) of the control channel: it then speaks HTTPS only/);
    expect(text(registrarHelp.stdout)).toMatch(/--control-tls-key <file>/);
    expect(text(registrarHelp.stdout)).toMatch(/--control-tls-ca <file> .*client certificate/);
    for (const help of [dumpHelp, saveHelp]) {
      expect(text(help.stdout)).toMatch(/--registrar <host\[:port\]\|https:\/\/host\[:port\]>/);
      expect(text(help.stdout)).toMatch(/--control-ca <file>/);
      expect(text(help.stdout)).toMatch(/--control-cert <file>/);
      expect(text(help.stdout)).toMatch(/--control-key <file>/);
    }
  }, 60_000);
});
