// Hand-made pcapng files (both byte orders, several interfaces with their own link types and
// timestamp resolutions, Enhanced and Simple Packet Blocks) and every link type and IP variant
// the reader understands.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildIpPacket,
  buildSctpPacket,
  buildUdpDatagram,
  crc32c,
  IpProtocol,
  LinkType,
  readCaptureFrames,
  readRSerPoolCapture,
  readIpPacket,
  verifySctpChecksum,
} from '../../src/capture/index.js';
import { addressToString as formatIpAddress, parseAddress as parseIpAddress } from '../../src/wire/address.js';
import { PORT_ASAP, PORT_SCTP_OVER_UDP, PPID_ASAP, PPID_ENRP } from '../../src/wire/constants.js';

const ASAP = Uint8Array.from([0x05, 0x00, 0x00, 0x0c, 0x00, 0x09, 0x00, 0x08, 0x50, 0x6f, 0x6f, 0x6c]);

/** An IPv4 packet with SCTP over UDP holding one ASAP DATA chunk. */
function ipv4SctpOverUdp(tsn: number): Uint8Array {
  const sctp = buildSctpPacket(40000, PORT_ASAP, 1, [{ tsn, ppid: PPID_ASAP, payload: ASAP }]);
  return buildIpPacket('192.0.2.1', '192.0.2.2', IpProtocol.Udp, buildUdpDatagram('192.0.2.1', '192.0.2.2', PORT_SCTP_OVER_UDP, PORT_SCTP_OVER_UDP, sctp));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** pcapng block builder in the given byte order. */
class Pcapng {
  readonly parts: Uint8Array[] = [];
  constructor(readonly le: boolean) {}

  block(type: number, body: Uint8Array): this {
    const padded = (body.length + 3) & ~3;
    const total = 12 + padded;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    v.setUint32(0, type, this.le);
    v.setUint32(4, total, this.le);
    out.set(body, 8);
    v.setUint32(total - 4, total, this.le);
    this.parts.push(out);
    return this;
  }

  u32s(...values: number[]): Uint8Array {
    const out = new Uint8Array(4 * values.length);
    const v = new DataView(out.buffer);
    values.forEach((x, i) => v.setUint32(4 * i, x, this.le));
    return out;
  }

  option(code: number, value: Uint8Array): Uint8Array {
    const out = new Uint8Array(4 + ((value.length + 3) & ~3));
    const v = new DataView(out.buffer);
    v.setUint16(0, code, this.le);
    v.setUint16(2, value.length, this.le);
    out.set(value, 4);
    return out;
  }

  sectionHeader(): this {
    const body = new Uint8Array(16);
    const v = new DataView(body.buffer);
    v.setUint32(0, 0x1a2b3c4d, this.le);
    v.setUint16(4, 1, this.le);
    v.setUint16(6, 0, this.le);
    v.setBigInt64(8, -1n, this.le);
    return this.block(0x0a0d0d0a, body);
  }

  interface(linkType: number, options: Uint8Array[] = []): this {
    const head = new Uint8Array(8);
    const v = new DataView(head.buffer);
    v.setUint16(0, linkType, this.le);
    v.setUint32(4, 0, this.le);
    return this.block(1, concat(head, ...options, options.length > 0 ? new Uint8Array(4) : new Uint8Array(0)));
  }

  enhanced(interfaceId: number, ticks: bigint, frame: Uint8Array): this {
    return this.block(6, concat(this.u32s(interfaceId, Number(ticks >> 32n), Number(ticks & 0xffffffffn), frame.length, frame.length), frame));
  }

  simple(frame: Uint8Array): this {
    return this.block(3, concat(this.u32s(frame.length), frame));
  }

  bytes(): Uint8Array {
    return concat(...this.parts);
  }
}

function ethernet(ip: Uint8Array, vlanTags = 0): Uint8Array {
  const header = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  for (let i = 0; i < vlanTags; i++) header.push(i === 0 && vlanTags > 1 ? 0x88 : 0x81, i === 0 && vlanTags > 1 ? 0xa8 : 0x00, 0x00, 0x64 + i);
  header.push(0x08, 0x00);
  return concat(Uint8Array.from(header), ip);
}

function sll(ip: Uint8Array): Uint8Array {
  const h = new Uint8Array(16);
  h[1] = 4; // packet sent by us
  h[3] = 1; // ARPHRD_ETHER
  h[5] = 6;
  h[14] = 0x08;
  h[15] = 0x00;
  return concat(h, ip);
}

function sll2(ip: Uint8Array): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = 0x08;
  h[1] = 0x00;
  h[9] = 1;
  h[11] = 6;
  return concat(h, ip);
}

function nullLoopback(ip: Uint8Array, family: number, le: boolean): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, family, le);
  return concat(h, ip);
}

describe('pcapng', () => {
  for (const le of [true, false]) {
    it(`reads a ${le ? 'little' : 'big'}-endian file with two interfaces, EPB, SPB and an unknown block`, () => {
      const nanoseconds = Uint8Array.of(9);
      const binary20 = Uint8Array.of(0x80 | 20);
      const f = new Pcapng(le)
        .sectionHeader()
        .interface(LinkType.Ethernet, [new Pcapng(le).option(9, nanoseconds)])
        .interface(LinkType.LinuxSll2, [new Pcapng(le).option(9, binary20)])
        .enhanced(0, 1_795_239_748_595_715_766n, ethernet(ipv4SctpOverUdp(1)))
        .block(4, new Uint8Array(8)) // a Name Resolution Block: no frame
        .enhanced(1, (1_700_000_000n << 20n) | (1n << 19n), sll2(ipv4SctpOverUdp(2)))
        .simple(ethernet(ipv4SctpOverUdp(3)));
      const frames = readCaptureFrames(f.bytes());
      expect(frames.error).toBeNull();
      expect(frames.format).toBe('pcapng');
      expect(frames.frames.map((x) => [x.number, x.linkType, x.time])).toEqual([
        [1, LinkType.Ethernet, { seconds: 1_795_239_748, nanoseconds: 595_715_766 }],
        [2, LinkType.LinuxSll2, { seconds: 1_700_000_000, nanoseconds: 500_000_000 }],
        [3, LinkType.Ethernet, { seconds: 0, nanoseconds: 0 }],
      ]);
      const reading = readRSerPoolCapture(f.bytes());
      expect(reading.messages.map((m) => [m.frame, m.tsn, m.transport, m.src, m.dst])).toEqual([
        [1, 1, 'sctp/udp', '192.0.2.1', '192.0.2.2'],
        [2, 2, 'sctp/udp', '192.0.2.1', '192.0.2.2'],
        [3, 3, 'sctp/udp', '192.0.2.1', '192.0.2.2'],
      ]);
    });
  }

  it('defaults to microseconds without if_tsresol and starts over at a new section', () => {
    const first = new Pcapng(true).sectionHeader().interface(LinkType.Raw).enhanced(0, 1_500_000n, ipv4SctpOverUdp(1));
    const second = new Pcapng(false).sectionHeader().interface(LinkType.Ethernet).enhanced(0, 2_000_001n, ethernet(ipv4SctpOverUdp(2)));
    const frames = readCaptureFrames(concat(first.bytes(), second.bytes()));
    expect(frames.error).toBeNull();
    expect(frames.frames.map((x) => [x.number, x.linkType, x.time])).toEqual([
      [1, LinkType.Raw, { seconds: 1, nanoseconds: 500_000_000 }],
      [2, LinkType.Ethernet, { seconds: 2, nanoseconds: 1000 }],
    ]);
  });

  it('reports a truncated block, a bad block length and a packet for an undescribed interface', () => {
    const f = new Pcapng(true).sectionHeader().interface(LinkType.Raw).enhanced(0, 0n, ipv4SctpOverUdp(1)).enhanced(0, 0n, ipv4SctpOverUdp(2));
    const all = f.bytes();
    const cut = readRSerPoolCapture(all.subarray(0, all.length - 7));
    expect(cut.messages).toHaveLength(1);
    expect(cut.error?.kind).toBe('truncated');

    const bad = all.slice();
    const secondBlock = f.parts[0]!.length + f.parts[1]!.length + f.parts[2]!.length;
    new DataView(bad.buffer).setUint32(secondBlock + 4, 13, true);
    expect(readCaptureFrames(bad).error?.kind).toBe('malformed');

    const orphan = new Pcapng(true).sectionHeader().enhanced(3, 0n, ipv4SctpOverUdp(1));
    const r = readCaptureFrames(orphan.bytes());
    expect(r.error?.kind).toBe('malformed');
    expect(r.error?.message).toMatch(/interface 3/);
  });
});

describe('link types and IP variants', () => {
  const ip = ipv4SctpOverUdp(9);
  const cases: [string, number, Uint8Array][] = [
    ['Ethernet', LinkType.Ethernet, ethernet(ip)],
    ['Ethernet with an 802.1Q tag', LinkType.Ethernet, ethernet(ip, 1)],
    ['Ethernet with 802.1ad + 802.1Q tags', LinkType.Ethernet, ethernet(ip, 2)],
    ['Linux cooked (SLL)', LinkType.LinuxSll, sll(ip)],
    ['Linux cooked v2 (SLL2)', LinkType.LinuxSll2, sll2(ip)],
    ['raw IP', LinkType.Raw, ip],
    ['LINKTYPE_IPV4', LinkType.Ipv4, ip],
    ['BSD loopback, host order', LinkType.Null, nullLoopback(ip, 2, true)],
    ['OpenBSD loopback, network order', LinkType.Loop, nullLoopback(ip, 2, false)],
  ];
  for (const [name, linkType, frame] of cases) {
    it(`finds the IP packet in ${name}`, () => {
      const r = readIpPacket(linkType, frame);
      expect(r.ok).toBe(true);
      if (r.ok) expect([r.packet.version, r.packet.src, r.packet.dst, r.packet.protocol, r.packet.payload.length]).toEqual([4, '192.0.2.1', '192.0.2.2', IpProtocol.Udp, ip.length - 20]);
    });
  }

  it('skips non-IP frames and unknown link types', () => {
    const arp = ethernet(new Uint8Array(28));
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(readIpPacket(LinkType.Ethernet, arp)).toEqual({ ok: false, reason: 'not-ip' });
    expect(readIpPacket(147, ip)).toEqual({ ok: false, reason: 'unknown-link-type' });
    expect(readIpPacket(LinkType.Ethernet, new Uint8Array(5))).toEqual({ ok: false, reason: 'truncated' });
  });

  it('skips IPv4 options, and skips non-first IPv4 fragments', () => {
    const withOptions = new Uint8Array(ip.length + 8);
    withOptions.set(ip.subarray(0, 20));
    withOptions[0] = 0x47; // IHL 7: 8 bytes of options
    withOptions.set([0x01, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00], 20); // NOPs and End of Options
    withOptions.set(ip.subarray(20), 28);
    new DataView(withOptions.buffer).setUint16(2, withOptions.length);
    const r = readIpPacket(LinkType.Raw, withOptions);
    expect(r.ok && [...r.packet.payload]).toEqual([...ip.subarray(20)]);

    const fragment = ip.slice();
    fragment[6] = 0x00;
    fragment[7] = 0x10; // offset 16 × 8 bytes
    expect(readIpPacket(LinkType.Raw, fragment)).toEqual({ ok: false, reason: 'ip-fragment' });
  });

  it('skips IPv6 extension headers and non-first IPv6 fragments', () => {
    const sctp = buildSctpPacket(40000, PORT_ASAP, 1, [{ tsn: 1, ppid: PPID_ENRP, payload: ASAP }]);
    const plain = buildIpPacket('2001:db8::1', '2001:db8::2', IpProtocol.Sctp, sctp);
    const hopByHop = Uint8Array.from([IpProtocol.DestinationOptions, 0, 1, 4, 0, 0, 0, 0]); // PadN
    const destination = Uint8Array.from([IpProtocol.Fragment, 1, 1, 12, ...new Array<number>(12).fill(0)]);
    const firstFragment = Uint8Array.from([IpProtocol.Sctp, 0, 0x00, 0x00, 0, 0, 0, 42]);
    const packet = concat(plain.subarray(0, 40), hopByHop, destination, firstFragment, sctp);
    packet[6] = IpProtocol.HopByHop;
    new DataView(packet.buffer).setUint16(4, packet.length - 40);
    const r = readIpPacket(LinkType.Raw, packet);
    expect(r.ok && [r.packet.version, r.packet.protocol, r.packet.src, r.packet.payload.length]).toEqual([6, IpProtocol.Sctp, '2001:db8::1', sctp.length]);

    const later = packet.slice();
    later[40 + 8 + 16 + 3] = 0x08; // fragment offset 1 (× 8 bytes)
    expect(readIpPacket(LinkType.Raw, later)).toEqual({ ok: false, reason: 'ip-fragment' });
  });
});

describe('CRC32c and addresses', () => {
  it('computes the CRC32c check value and the SCTP checksum', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283); // the CRC-32C check value
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    const sctp = buildSctpPacket(1, 2, 3, [{ tsn: 4, ppid: 5, payload: ASAP }]);
    expect(verifySctpChecksum(sctp)).toBe(true);
    sctp[20] = sctp[20]! ^ 1;
    expect(verifySctpChecksum(sctp)).toBe(false);
  });

  const scope = fileURLToPath(new URL('../../../shared/vectors/rsplib-scope.pcapng', import.meta.url));
  it.skipIf(!existsSync(scope))('agrees with the checksums of every SCTP packet RSPLIB sent (rsplib-scope.pcapng)', () => {
    const { frames } = readCaptureFrames(readFileSync(scope));
    let checked = 0;
    for (const frame of frames) {
      const r = readIpPacket(frame.linkType, frame.data);
      if (!r.ok || r.packet.protocol !== IpProtocol.Udp) continue;
      const p = r.packet.payload;
      if (((p[0]! << 8) | p[1]!) !== PORT_SCTP_OVER_UDP) continue;
      expect(verifySctpChecksum(p.subarray(8)), `frame ${frame.number}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('formats and parses IPv4 and IPv6 addresses (RFC 5952)', () => {
    const cases: [string, string][] = [
      ['10.77.0.11', '10.77.0.11'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
      ['2001:db8:0:2:3:4:5:6', '2001:db8:0:2:3:4:5:6'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ];
    for (const [text, canonical] of cases) {
      const bytes = parseIpAddress(text);
      expect(bytes, text).not.toBeNull();
      expect(formatIpAddress(bytes!)).toBe(canonical);
    }
    for (const bad of ['1.2.3', '1.2.3.256', '1::2::3', '12345::', 'x', '1:2:3:4:5:6:7:8:9']) expect(parseIpAddress(bad), bad).toBeNull();
  });
});
