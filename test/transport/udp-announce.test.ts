import { describe, expect, it } from 'vitest';
import { AnnounceReceiver, AnnounceSender, parseMulticastGroup } from '../../src/transport/udp-announce.js';

describe('UDP multicast announces', () => {
  it('a receiver on this host sees announces sent to the group (loopback on)', async () => {
    const group = { address: '239.0.0.50', port: 30000 + (process.pid % 20000) };
    const receiver = await AnnounceReceiver.open({ group, interfaceAddress: '127.0.0.1' });
    const sender = await AnnounceSender.open({ group, interfaceAddress: '127.0.0.1', ttl: 1 });
    try {
      const got = new Promise<Uint8Array>((resolve) => receiver.once('announce', (m) => resolve(m)));
      await sender.send(Buffer.from([0x0a, 0x00, 0x00, 0x04]));
      expect([...(await got)]).toEqual([0x0a, 0x00, 0x00, 0x04]);
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it('parses group:port', () => {
    expect(parseMulticastGroup('239.0.0.51:9901')).toEqual({ address: '239.0.0.51', port: 9901 });
    expect(() => parseMulticastGroup('239.0.0.51')).toThrow(RangeError);
  });
});
