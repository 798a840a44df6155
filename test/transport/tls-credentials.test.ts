// TLS credential files (RFC 5352 §6): each problem names the file and says what is wrong.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamConnector } from '../../src/transport/stream-connector.js';
import { StreamEndpoint } from '../../src/transport/stream-endpoint.js';
import type { StreamAssociation } from '../../src/transport/stream-association.js';
import { loadTlsCredentials, parsePskFile, TlsCredentialError, type TlsFiles } from '../../src/transport/tls-credentials.js';
import type { TlsPeer } from '../../src/transport/tls-peer.js';
import { makeTlsFixtures, type TlsFixtures } from './tls-fixtures.js';

let f: TlsFixtures;
beforeAll(() => {
  f = makeTlsFixtures();
});
afterAll(() => f.remove());

function failure(run: () => unknown): TlsCredentialError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TlsCredentialError);
    return error as TlsCredentialError;
  }
  throw new Error('no error');
}

describe('PSK file', () => {
  it('reads identity:hex-key lines, skips comments and blank lines', () => {
    const keys = parsePskFile('# scope\n\npe-1:00112233445566778899aabbccddeeff\nurn:pe:2:ffeeddccbbaa99887766554433221100\n', 'k');
    expect([...keys.keys()]).toEqual(['pe-1', 'urn:pe:2']);
    expect(keys.get('pe-1')!.toString('hex')).toBe('00112233445566778899aabbccddeeff');
  });

  it.each([
    ['no-colon-here', /line 1: expected identity:hex-key/],
    ['pe-1:xyz0', /line 1: the key is not an even number of hex digits/],
    ['pe-1:abc', /line 1: the key is not an even number of hex digits/],
    ['pe-1:0011', /line 1: a key of 2 bytes \(16\.\.512 wanted\)/],
    ['pe-1:00112233445566778899aabbccddeeff\npe-1:00112233445566778899aabbccddeeff', /line 2: identity "pe-1" given twice/],
    ['# only a comment', /no identity:hex-key line/],
  ])('%j is refused: %s', (text, message) => {
    expect(failure(() => parsePskFile(text, 'keys.txt')).message).toMatch(message);
  });
});

describe('files', () => {
  it('a missing file says so, with the flag and the path', () => {
    const e = failure(() => loadTlsCredentials({ psk: join(f.dir, 'nope.txt') }, 'server'));
    expect(e.message).toBe(`cannot read --tls-psk ${join(f.dir, 'nope.txt')}: no such file`);
  });

  it('a certificate and key that belong together load; the subject is reported', () => {
    const c = loadTlsCredentials({ cert: f.registrarCert, key: f.registrarKey, ca: f.ca }, 'server');
    expect(c.certificate?.subject).toBe('CN=registrar-1');
    expect(c.cert).not.toBeNull();
  });

  it('the wrong key for the certificate', () => {
    const e = failure(() => loadTlsCredentials({ cert: f.registrarCert, key: f.clientKey, ca: f.ca }, 'server'));
    expect(e.message).toMatch(/--tls-key .*client\.key is not the key of the certificate .*registrar\.pem \(subject CN=registrar-1\)/);
  });

  it('an expired certificate (the clock moved past its end)', () => {
    const later = new Date(Date.now() + 5 * 24 * 3600 * 1000);
    const e = failure(() => loadTlsCredentials({ cert: f.registrarCert, key: f.registrarKey, ca: f.ca }, 'server', later));
    expect(e.message).toMatch(/--tls-cert .*registrar\.pem expired on .* \(subject CN=registrar-1\)/);
    expect(e.hint).toMatch(/issue a new certificate/);
  });

  it('a file that is not PEM, and a key that is not a key', () => {
    const junk = join(f.dir, 'junk.pem');
    writeFileSync(junk, 'hello\n');
    expect(failure(() => loadTlsCredentials({ cert: junk, key: f.registrarKey, ca: f.ca }, 'server')).message).toMatch(/--tls-cert .*junk\.pem is not a PEM certificate/);
    expect(failure(() => loadTlsCredentials({ cert: f.registrarCert, key: junk, ca: f.ca }, 'server')).message).toMatch(/--tls-key .*junk\.pem is not a private key/);
  });

  it('half a pair, and a server certificate without a CA for its clients', () => {
    expect(failure(() => loadTlsCredentials({ cert: f.registrarCert }, 'server')).message).toBe('--tls-cert without --tls-key');
    expect(failure(() => loadTlsCredentials({ cert: f.registrarCert, key: f.registrarKey }, 'server')).message).toBe('--tls-cert without --tls-ca');
  });

  it('a client picks its PSK identity; an unknown one is refused', () => {
    expect(loadTlsCredentials({ psk: f.psk }, 'client').pskIdentity).toBe('pe-1');
    expect(loadTlsCredentials({ psk: f.psk, pskIdentity: 'pu-1' }, 'client').pskIdentity).toBe('pu-1');
    expect(failure(() => loadTlsCredentials({ psk: f.psk, pskIdentity: 'pu-9' }, 'client')).message).toMatch(/--tls-psk-identity pu-9 is not in/);
  });
});

describe('the client checks the server it reached', () => {
  /** A TLS server on 127.0.0.1 with these files; connects a client with `client` and says how it ended. */
  async function connect(server: TlsFiles, client: TlsFiles, authorize?: (peer: TlsPeer) => string | null): Promise<{ up: boolean; error: string | null; peer: TlsPeer | null; serverSaw: number }> {
    const endpoint = await StreamEndpoint.open({ protocol: 'tls', port: 0, addresses: ['127.0.0.1'], ppid: 11, tls: loadTlsCredentials(server, 'server'), maxAssociations: 4, maxSendQueueBytes: 65536, idleTimeout: 0, handshakeTimeout: 5000 });
    let serverSaw = 0;
    endpoint.on('association', (a) => a.on('message', () => serverSaw++));
    const errors: Error[] = [];
    const connector = new StreamConnector({ protocol: 'tls', ppid: 11, tls: loadTlsCredentials(client, 'client'), connectTimeout: 5000, onError: (_remote, error) => errors.push(error), ...(authorize !== undefined ? { authorize } : {}) });
    try {
      const a = connector.associate({ address: '127.0.0.1', port: endpoint.port }) as StreamAssociation;
      const up = await new Promise<boolean>((resolve) => {
        a.once('up', () => resolve(true));
        a.once('down', () => resolve(false));
      });
      if (up) a.send(Uint8Array.of(1, 0, 0, 4), 11, 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { up, error: errors[0]?.message ?? null, peer: a.tlsPeer, serverSaw };
    } finally {
      connector.close();
      await endpoint.close();
    }
  }

  it('with a PSK and a CA both, a server that presents a certificate must still name the address', async () => {
    // The client has a certificate too (a server with a CA requires one when no PSK is used).
    const client = { psk: f.psk, ca: f.ca, cert: f.clientCert, key: f.clientKey };
    // A PSK handshake: no certificate, the key authenticates.
    const psk = await connect({ psk: f.psk }, client);
    expect(psk).toMatchObject({ up: true, peer: { pskIdentity: 'pe-1', certificateSubject: null } });
    // A certificate of the CA for the address: up, the server known by its CN.
    expect(await connect({ cert: f.registrarCert, key: f.registrarKey, ca: f.ca }, client)).toMatchObject({ up: true, peer: { pskIdentity: null, certificateSubject: 'registrar-1' } });
    // A certificate of the CA for another address: refused (it was not, while the PSK was set).
    const elsewhere = await connect({ cert: f.elsewhereCert, key: f.elsewhereKey, ca: f.ca }, client);
    expect(elsewhere.up).toBe(false);
    expect(elsewhere.error).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list: 10\.9\.9\.9/);
  });

  it('authorize() sees the server\'s certificate (its pools) before the association is up, and a reason aborts it: nothing is sent', async () => {
    const seen: TlsPeer[] = [];
    const refused = await connect({ cert: f.poolServerCert, key: f.poolServerKey, ca: f.ca }, { cert: f.registrarCert, key: f.registrarKey, ca: f.ca }, (peer) => {
      seen.push(peer);
      return peer.certificatePools !== null ? 'a pool element' : null;
    });
    expect(refused.up).toBe(false);
    expect(refused.error).toMatch(/refused: a pool element/);
    expect(refused.serverSaw).toBe(0);
    expect(seen.map((p) => [p.certificateSubject, [...(p.certificatePools ?? [])]])).toEqual([['pe-echo', ['echo']]]);
    const passed = await connect({ cert: f.registrarCert, key: f.registrarKey, ca: f.ca }, { cert: f.registrarCert, key: f.registrarKey, ca: f.ca }, (peer) => (peer.certificatePools !== null ? 'a pool element' : null));
    expect(passed).toMatchObject({ up: true, serverSaw: 1 });
  });
});
