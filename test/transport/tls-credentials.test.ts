// TLS credential files (RFC 5352 §6): each problem names the file and says what is wrong.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsCredentials, parsePskFile, TlsCredentialError } from '../../src/transport/tls-credentials.js';
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
