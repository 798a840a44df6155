// CIDR networks (src/wire/network.ts): parsing, IPv4 and IPv6 prefixes at and off byte
// boundaries, IPv4-mapped IPv6 addresses, and lists.
import { describe, expect, it } from 'vitest';
import { NetworkList, networkContains, parseNetwork } from '../../src/wire/network.js';
import { parseAddress } from '../../src/wire/address.js';

const inside = (cidr: string, address: string): boolean => networkContains(parseNetwork(cidr)!, parseAddress(address)!);

describe('parseNetwork', () => {
  it('reads addr/bits, an address alone as a host network, and clears host bits', () => {
    expect(parseNetwork('10.1.2.3/8')).toEqual({ address: Uint8Array.from([10, 0, 0, 0]), bits: 8 });
    expect(parseNetwork('10.1.2.3')?.bits).toBe(32);
    expect(parseNetwork('2001:db8::1')?.bits).toBe(128);
    expect(parseNetwork('2001:db8:ffff::/33')?.address).toEqual(parseAddress('2001:db8:8000::'));
    expect(parseNetwork('0.0.0.0/0')?.bits).toBe(0);
  });

  it('refuses what is not a network', () => {
    for (const bad of ['', '10.0.0.0/33', '::/129', '10.0.0/8', '10.0.0.0/-1', '10.0.0.0/8/8', 'host/24', '10.0.0.0/ 8', '10.0.0.0/1e1']) expect(parseNetwork(bad), bad).toBeNull();
  });
});

describe('networkContains', () => {
  it('IPv4 prefixes on and off byte boundaries', () => {
    expect(inside('10.0.0.0/8', '10.255.1.1')).toBe(true);
    expect(inside('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(inside('192.168.4.0/22', '192.168.7.255')).toBe(true);
    expect(inside('192.168.4.0/22', '192.168.8.0')).toBe(false);
    expect(inside('192.168.4.0/22', '192.168.3.255')).toBe(false);
    expect(inside('127.0.0.1/32', '127.0.0.1')).toBe(true);
    expect(inside('127.0.0.1/32', '127.0.0.2')).toBe(false);
    expect(inside('0.0.0.0/0', '203.0.113.9')).toBe(true);
  });

  it('IPv6 prefixes', () => {
    expect(inside('2001:db8::/32', '2001:db8:1234::1')).toBe(true);
    expect(inside('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(inside('fd00::/7', 'fdff::1')).toBe(true);
    expect(inside('fd00::/7', 'fe00::1')).toBe(false);
    expect(inside('::1/128', '::1')).toBe(true);
    expect(inside('::/0', '2001:db8::1')).toBe(true);
  });

  it('families do not mix, except IPv4-mapped IPv6 addresses, which are their IPv4 address', () => {
    expect(inside('::/0', '10.0.0.1')).toBe(false);
    expect(inside('0.0.0.0/0', '2001:db8::1')).toBe(false);
    expect(inside('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(inside('10.0.0.0/8', '::ffff:11.1.2.3')).toBe(false);
    expect(inside('::ffff:10.0.0.0/104', '10.9.9.9')).toBe(true);
    expect(inside('::ffff:10.0.0.0/104', '11.9.9.9')).toBe(false);
  });
});

describe('NetworkList', () => {
  it('contains an address inside any of its networks; text that is no address is outside', () => {
    const list = new NetworkList(['10.0.0.0/24', '2001:db8::/48', '127.0.0.1/32']);
    expect(list.size).toBe(3);
    expect(list.contains('10.0.0.200')).toBe(true);
    expect(list.contains('10.0.1.1')).toBe(false);
    expect(list.contains('2001:db8:0:ffff::1')).toBe(true);
    expect(list.contains('2001:db8:1::1')).toBe(false);
    expect(list.contains('127.0.0.1')).toBe(true);
    expect(list.contains('fe80::1%eth0')).toBe(false);
    expect(new NetworkList(['fe80::/10']).contains('fe80::1%eth0')).toBe(true);
    expect(list.contains('localhost')).toBe(false);
    expect(new NetworkList([]).contains('10.0.0.1')).toBe(false);
  });

  it('refuses an entry that is no network', () => {
    expect(() => new NetworkList(['10.0.0.0/40'])).toThrow(/not a network/);
  });
});
