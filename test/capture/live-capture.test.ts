// The loopback capture helper end to end: an SCTP-over-UDP packet carrying an ASAP message is
// sent to 127.0.0.1:9899 while tshark captures, then the capture is checked by tshark and read
// back by the capture reader.
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSctpPacket, readRSerPoolCapture } from '../../src/capture/index.js';
import { PORT_ASAP, PORT_SCTP_OVER_UDP, PPID_ASAP } from '../../src/wire/constants.js';
import { assertNoMalformed, captureLoopback, NO_TSHARK_MESSAGE, tsharkAvailable } from '../helpers/tshark.js';

if (!tsharkAvailable()) console.warn(NO_TSHARK_MESSAGE);

// RSPLIB's ASAP Deregistration sample (pool handle "WRandPool", PE 0x0e200001).
const DEREGISTRATION = Buffer.from('0200001c0009000d5752616e64506f6f6c000000000e00080e200001', 'hex');

describe.skipIf(!tsharkAvailable())('captureLoopback + assertNoMalformed', () => {
  it('captures SCTP over UDP on lo, and the capture decodes cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rserpool-live-'));
    const socket = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const port = socket.address().port;
      // Only this test's datagrams: other tests may use port 9899 at the same time.
      const file = join(dir, 'lo.pcapng');
      const capture = await captureLoopback({ file, filter: `udp and src port ${port} and dst port ${PORT_SCTP_OVER_UDP}` });
      const packet = buildSctpPacket(40000, PORT_ASAP, 0x01020304, [{ tsn: 77, ppid: PPID_ASAP, payload: DEREGISTRATION }]);
      await new Promise<void>((resolve, reject) => socket.send(packet, PORT_SCTP_OVER_UDP, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      await capture.stop(500);
      const packets = assertNoMalformed(file);
      expect(packets).toHaveLength(1);
      expect(packets[0]!.protos.map((p) => p.name)).toContain('asap');
      const reading = readRSerPoolCapture(readFileSync(file));
      expect(reading.error).toBeNull();
      expect(reading.messages.map((m) => [m.transport, m.src, m.sport, m.dport, m.tsn, Buffer.from(m.payload).toString('hex')])).toEqual([
        ['sctp/udp', '127.0.0.1', 40000, PORT_ASAP, 77, DEREGISTRATION.toString('hex')],
      ]);
    } finally {
      socket.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
