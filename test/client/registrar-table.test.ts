// The registrar table fed by ASAP_SERVER_ANNOUNCE (RFC 5352 §3.6, RFC 5351 §2.2.10): every
// announced address, IPv4 and IPv6, becomes a registrar to hunt; the table stays bounded.
import { describe, expect, it } from 'vitest';
import { MAX_ANNOUNCED_REGISTRARS, RegistrarTable } from '../../src/client/registrar-table.js';
import { parseAddress } from '../../src/wire/address.js';
import { AsapType, ParamType, TransportUse } from '../../src/wire/constants.js';
import { encodeMessage } from '../../src/wire/encode.js';
import type { TransportParameter } from '../../src/wire/parameters.js';

const ip = (text: string): Uint8Array => parseAddress(text)!;

function sctp(port: number, ...addresses: string[]): TransportParameter {
  return { type: ParamType.SctpTransport, port, transportUse: TransportUse.DataPlusControl, serviceCode: 0, addresses: addresses.map(ip), opaque: null };
}

function announce(serverId: number, transports: TransportParameter[]): Uint8Array {
  return encodeMessage({ protocol: 'asap', type: AsapType.ServerAnnounce, flags: 0, paddedLength: false, unknownParams: null, serverId, transports });
}

const FROM = { address: '192.0.2.9', port: 40000 };

describe('RegistrarTable.heardAnnounce', () => {
  it('takes IPv4 and IPv6 addresses of an announce, IPv4 first; skips link-local IPv6', () => {
    const table = new RegistrarTable(5000, 9899);
    const added = table.heardAnnounce(announce(7, [sctp(3863, '2001:db8::1', '192.0.2.1', 'fe80::1', '192.0.2.2', '::1')]), FROM);
    expect(added).toBe(4);
    expect(table.entries().map((e) => e.remote)).toEqual([
      { address: '192.0.2.1', port: 3863, udpPort: 9899 },
      { address: '192.0.2.2', port: 3863, udpPort: 9899 },
      { address: '2001:db8::1', port: 3863, udpPort: 9899 },
      { address: '::1', port: 3863, udpPort: 9899 },
    ]);
    expect(table.serverIdOf({ address: '2001:db8::1', port: 3863, udpPort: 9899 })).toBe(7);
    // The hunt gets them in that order (none tried or failed yet).
    expect(table.candidates(3).map((c) => c.remote.address)).toEqual(['192.0.2.1', '192.0.2.2', '2001:db8::1']);
    // A repeated announce adds nothing and refreshes T7.
    expect(table.heardAnnounce(announce(7, [sctp(3863, '2001:db8::1', '192.0.2.1')]), FROM)).toBe(0);
  });

  it('an IPv6-only registrar is found; the RSPLIB form (no transport) uses the UDP source, IPv6 too', () => {
    const table = new RegistrarTable(5000, 9899);
    expect(table.heardAnnounce(announce(1, [sctp(3863, '2001:db8::7')]), FROM)).toBe(1);
    expect(table.heardAnnounce(announce(2, []), { address: '2001:db8::8', port: 3863 })).toBe(1);
    expect(table.entries().map((e) => e.remote.address)).toEqual(['2001:db8::7', '2001:db8::8']);
  });

  it('a TCP transport is not an SCTP registrar; garbage is no announce', () => {
    const table = new RegistrarTable(5000, 9899);
    const tcp: TransportParameter = { ...sctp(3863, '192.0.2.1'), type: ParamType.TcpTransport };
    expect(table.heardAnnounce(announce(1, [tcp]), FROM)).toBe(0);
    expect(table.heardAnnounce(Uint8Array.from([0x0a, 0, 0, 99, 1]), FROM)).toBe(-1);
    expect(table.size).toBe(0);
  });

  it('holds at most MAX_ANNOUNCED_REGISTRARS announced entries (a flood of made-up addresses); configured ones always', () => {
    const table = new RegistrarTable(60_000, 9899);
    table.addConfigured({ address: '192.0.2.250', port: 3863, udpPort: 9899 });
    let added = 0;
    for (let i = 0; i < 40; i++) {
      const addresses = Array.from({ length: 20 }, (_, j) => `2001:db8::${(i * 20 + j).toString(16)}`);
      added += table.heardAnnounce(announce(i, [sctp(3863, ...addresses)]), FROM);
    }
    expect(added).toBe(MAX_ANNOUNCED_REGISTRARS);
    expect(table.size).toBe(MAX_ANNOUNCED_REGISTRARS + 1);
    table.addConfigured({ address: '192.0.2.251', port: 3863, udpPort: 9899 });
    expect(table.size).toBe(MAX_ANNOUNCED_REGISTRARS + 2);
  });
});
