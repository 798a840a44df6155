// Throwaway TLS material for the TLS tests, made with the `openssl` command: two CAs, a
// registrar certificate for 127.0.0.1 and client certificates of each CA, and a PSK file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsFixtures {
  dir: string;
  ca: string;
  registrarCert: string;
  registrarKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA the registrar does not trust, and a client certificate it issued. */
  otherCa: string;
  otherClientCert: string;
  otherClientKey: string;
  /** A client certificate of the scope CA naming pools in SAN URIs: `allowed-pool` and `my pool` (rserpool:pool:my%20pool). */
  poolClientCert: string;
  poolClientKey: string;
  /** A PE's certificate of the scope CA usable by a server at 127.0.0.1 (IP SAN, serverAuth) that names pool `echo`. */
  poolServerCert: string;
  poolServerKey: string;
  /** A server certificate of the scope CA for another address (10.9.9.9), no pools. */
  elsewhereCert: string;
  elsewhereKey: string;
  psk: string;
  pskIdentity: string;
  pskHex: string;
  remove(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, cn: string, ca: string, extensions: string): void {
  openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
}

function authority(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
}

export function makeTlsFixtures(): TlsFixtures {
  const dir = mkdtempSync(join(tmpdir(), 'rserpool-tls-'));
  authority(dir, 'scope-ca');
  authority(dir, 'other-ca');
  issue(dir, 'registrar', 'registrar-1', 'scope-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  issue(dir, 'client', 'pe-1', 'scope-ca', 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'other-client', 'intruder', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'pool-client', 'pe-pools', 'scope-ca', 'subjectAltName=URI:rserpool:pool:allowed-pool,URI:rserpool:pool:my%20pool,DNS:pe.example\nextendedKeyUsage=clientAuth\n');
  issue(dir, 'pool-server', 'pe-echo', 'scope-ca', 'subjectAltName=IP:127.0.0.1,URI:rserpool:pool:echo\nextendedKeyUsage=serverAuth,clientAuth\n');
  issue(dir, 'elsewhere', 'registrar-2', 'scope-ca', 'subjectAltName=IP:10.9.9.9\nextendedKeyUsage=serverAuth,clientAuth\n');
  const pskHex = '8f3a5c0d1e2b4a6978c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f4051627';
  writeFileSync(join(dir, 'psk.txt'), `# test scope\npe-1:${pskHex}\npu-1:00112233445566778899aabbccddeeff\n`);
  const f = (n: string): string => join(dir, n);
  return {
    dir,
    ca: f('scope-ca.pem'),
    registrarCert: f('registrar.pem'),
    registrarKey: f('registrar.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    otherCa: f('other-ca.pem'),
    otherClientCert: f('other-client.pem'),
    otherClientKey: f('other-client.key'),
    poolClientCert: f('pool-client.pem'),
    poolClientKey: f('pool-client.key'),
    poolServerCert: f('pool-server.pem'),
    poolServerKey: f('pool-server.key'),
    elsewhereCert: f('elsewhere.pem'),
    elsewhereKey: f('elsewhere.key'),
    psk: f('psk.txt'),
    pskIdentity: 'pe-1',
    pskHex,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export { freeTcpPort } from '../helpers/ports.js';
