// Options shared by the client tools (`pe`, `terminal`, `resolve`): how to reach registrars
// and which SCTP provider to use, and the ASAP endpoint built from them.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { AsapEndpoint, type AsapEndpointOptions, type RegistrarAddress } from '../client/index.js';
import { hasTlsFiles, loadTlsCredentials, parseMulticastGroup, TlsCredentialError, type TlsCredentials } from '../transport/index.js';
import { PORT_ASAP_TLS } from '../wire/constants.js';
import type { SctpProtocolOptions } from '../transport/open-sctp-endpoint.js';
import { isIP } from 'node:net';
import { PORT_ASAP, PORT_SCTP_OVER_UDP, policyFields, PolicyType, policyTypeName } from '../wire/index.js';
import { policyByName } from '../policy/registry.js';
import { startupErrorMessage } from './errors.js';

export interface ClientCliOptions {
  registrar: RegistrarAddress[];
  /** SCTP provider; 'tcp' and 'tls' reach the registrar over TCP or TLS (RFC 5352 §6), SCTP stays 'auto' for the rest. */
  transport: 'auto' | 'raw' | 'udp' | 'tcp' | 'tls';
  announce: string;
  localAddress?: string[];
  udpPort?: number;
  tlsPsk?: string;
  tlsPskIdentity?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** Registrar addresses given without a port: over TLS they mean asap-tcp-tls 3864, not 3863. */
const portDefaulted = new WeakSet<RegistrarAddress>();

/**
 * "host:port[:udpPort]", "host", "[v6]:port[:udpPort]", "[v6]" or a bare IPv6 literal (ASAP
 * port 3863, UDP encapsulation port 9899 by default).
 */
export function parseRegistrarAddress(text: string): RegistrarAddress {
  const t = text.trim();
  let address: string;
  let rest: string[];
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    address = close > 0 ? t.slice(1, close) : '';
    const after = close > 0 ? t.slice(close + 1) : '';
    if (close < 0 || (after !== '' && !after.startsWith(':'))) throw new InvalidArgumentError(`expected [IPv6]:port[:udpPort], got "${text}"`);
    rest = after === '' ? [] : after.slice(1).split(':');
  } else if (isIP(t) === 6) {
    address = t;
    rest = [];
  } else {
    [address = '', ...rest] = t.split(':');
  }
  if (isIP(address) === 0 || rest.length > 2) {
    throw new InvalidArgumentError(`expected host:port[:udpPort] with an IPv4 host, or [IPv6]:port[:udpPort], got "${text}"`);
  }
  const port = rest[0] === undefined || rest[0] === '' ? PORT_ASAP : Number(rest[0]);
  const udpPort = rest[1] === undefined || rest[1] === '' ? PORT_SCTP_OVER_UDP : Number(rest[1]);
  for (const [what, n] of [['port', port], ['UDP port', udpPort]] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`${what} in "${text}" is not in 1..65535`);
  }
  const r = { address, port, udpPort };
  if (rest[0] === undefined || rest[0] === '') portDefaulted.add(r);
  return r;
}

const collectRegistrar = (value: string, previous: RegistrarAddress[] = []): RegistrarAddress[] => [...previous, parseRegistrarAddress(value)];
const collectAddress = (value: string, previous: string[] = []): string[] => {
  if (isIP(value) === 0) throw new InvalidArgumentError(`not an IPv4 or IPv6 address: ${value}`);
  return [...previous, value];
};

export const integer =
  (min: number, max: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };

/** A fraction 0..1, or a percentage ("50%"). */
export const fraction = (v: string): number => {
  const t = v.trim();
  const n = t.endsWith('%') ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a fraction 0..1 or a percentage 0%..100%');
  return n;
};

/** A policy by RSPLIB name (any case, dashes/underscores ignored) or by type code (decimal or 0x hex). */
export const policyType = (v: string): number => {
  const t = v.trim();
  if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) {
    const n = Number(t);
    if (n <= 0 || n > 0xffffffff) throw new InvalidArgumentError('a policy code is a non-zero 32-bit number');
    return n >>> 0;
  }
  const d = policyByName(t);
  if (d === undefined) {
    const names = [...policyTypeName.values()].join(', ');
    throw new InvalidArgumentError(`unknown policy "${v}"; one of: ${names}`);
  }
  return d.type >>> 0;
};

/** Name of a policy code for output. */
export function policyName(type: number): string {
  return policyTypeName.get(type >>> 0) ?? `0x${(type >>> 0).toString(16).padStart(8, '0')}`;
}

/** Whether the policy carries a load value (RFC 5356 §4: the adaptive policies). */
export function isAdaptive(type: number): boolean {
  return (policyFields.get(type >>> 0) ?? []).includes('load');
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--registrar <host:port[:udpPort]>', 'registrar to use (repeatable; IPv6 as [::1]:3863); default: hunt by ASAP announces', collectRegistrar)
    .addOption(
      new Option('--transport <mode>', 'SCTP provider: raw IP, SCTP over UDP (RFC 6951), or auto (raw when root and no kernel SCTP, as the registrar decides); tcp or tls: reach the registrar over TCP (3863) or TLS (3864) instead, RFC 5352 §6 (tcp needs --registrar; tls without it hunts --tls-only registrars by announce; sessions stay on SCTP, auto)')
        .choices(['auto', 'raw', 'udp', 'tcp', 'tls'])
        .default('auto'),
    )
    .option('--tls-psk <file>', 'with --transport tls: pre-shared keys, identity:hex-key a line (the first identity is used)')
    .option('--tls-psk-identity <name>', 'which identity of --tls-psk to use')
    .option('--tls-cert <file>', 'with --transport tls: this client\'s certificate (PEM), with --tls-key')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM, unencrypted)')
    .option('--tls-ca <file>', 'CA certificate(s) (PEM) the registrar\'s certificate must chain to')
    .option('--announce <group>', 'ASAP announce group:port to hunt on when no --registrar is given', '239.0.0.50:3863')
    .option('--local-address <ip>', 'IPv4 or IPv6 address to register/advertise (repeatable); default: this host\'s IPv4 addresses', collectAddress)
    // RFC 6951 §5.1: the UDP port is not part of ASAP transport parameters, so a peer that
    // reaches this endpoint by its registered address (a PU, or a registrar after a
    // takeover) sends to the well-known 9899. RSPLIB's stacks always do: a PE serving them
    // in udp mode must listen there.
    .option('--udp-port <port>', 'local UDP encapsulation port in udp mode (0: any; 9899 lets RSPLIB PUs and takeover registrars reach a PE)', integer(0, 65535));
}

/**
 * The tools' SCTP settings: heartbeats every second and few retransmissions, so a pool
 * element that died without a word is noticed in a few seconds and sessions fail over.
 */
export const TOOL_SCTP_PROTOCOL: SctpProtocolOptions = { hbInterval: 1000, associationMaxRetrans: 4, rtoInitial: 1000, rtoMax: 2000 };

export async function openClientEndpoint(options: ClientCliOptions, tool = 'client'): Promise<AsapEndpoint> {
  let registrars = options.registrar ?? [];
  const streamProtocol = options.transport === 'tcp' || options.transport === 'tls' ? options.transport : null;
  let stream: AsapEndpointOptions['stream'];
  const tlsFiles = { psk: options.tlsPsk, pskIdentity: options.tlsPskIdentity, cert: options.tlsCert, key: options.tlsKey, ca: options.tlsCa };
  if (streamProtocol === null && hasTlsFiles(tlsFiles)) throw new Error('--tls-psk, --tls-cert, --tls-key and --tls-ca go with --transport tls');
  if (streamProtocol !== null) {
    // Announces name a TLS port (a --tls-only registrar's TCP transport), never a plain TCP one.
    if (registrars.length === 0 && streamProtocol === 'tcp') throw new Error('--transport tcp needs --registrar host[:port] (announces name SCTP registrars and the TLS ports of --tls-only ones)');
    if (streamProtocol === 'tls') registrars = registrars.map((r) => (portDefaulted.has(r) ? { ...r, port: PORT_ASAP_TLS } : r));
    let tls: TlsCredentials | undefined;
    if (streamProtocol === 'tls') {
      try {
        tls = loadTlsCredentials(tlsFiles, 'client');
      } catch (error) {
        if (error instanceof TlsCredentialError) throw new Error(`${error.message} (${error.hint})`);
        throw error;
      }
    }
    stream = { protocol: streamProtocol, ...(tls !== undefined ? { tls } : {}), onError: (remote, error) => note(tool, `${streamProtocol.toUpperCase()} to registrar ${remote.address}:${remote.port} failed: ${error.message.split('\n')[0]}`) };
  }
  const announces = registrars.length === 0 ? { group: parseMulticastGroup(options.announce) } : false;
  const mode = streamProtocol === null ? (options.transport as 'auto' | 'raw' | 'udp') : 'auto';
  return AsapEndpoint.open({
    registrars,
    announces,
    sctp: { mode, protocol: TOOL_SCTP_PROTOCOL, ...(options.udpPort !== undefined ? { udpPort: options.udpPort } : {}) },
    ...(stream !== undefined ? { stream } : {}),
    ...(options.localAddress !== undefined ? { localAddresses: options.localAddress } : {}),
  });
}

/** One line on stderr with a time stamp: what the tool is doing. */
export function note(tool: string, message: string): void {
  process.stderr.write(`${new Date().toISOString()} rserpool ${tool}: ${message}\n`);
}

/**
 * Ends the process once stdout is flushed: in raw mode the SCTP provider's raw socket is
 * process-wide and keeps the event loop alive after the endpoints are closed.
 */
export async function exitWhenFlushed(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

/** Runs a client tool's body; an error is printed as `rserpool: <message>` and exits 1. */
export async function runTool(body: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await body();
  } catch (error) {
    process.stderr.write(`rserpool: ${startupErrorMessage(error)}\n`);
    code = 1;
  }
  return exitWhenFlushed(code);
}

export function hexId(id: number): string {
  return `0x${(id >>> 0).toString(16).padStart(8, '0')}`;
}

export { PolicyType };
