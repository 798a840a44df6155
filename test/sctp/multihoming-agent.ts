// One end of a multi-homed association for test/sctp/multihoming-netns.test.ts, run inside a
// network namespace with two links to the peer.
//
//   node --import tsx multihoming-agent.ts <raw|udp> <local addresses,> <peer addresses,> <send N | receive>
//
// Opens an endpoint on SCTP port 5000 (udp mode: UDP 9899) bound to every local address and
// prints {"event":"ready"}. "send N": associates to the peer's first address, then sends N
// numbered messages, one every 2 ms, printing {"event":"sent","n":...} every 250 and at the end
// {"event":"paths",...}: the path in use and each path's state. "receive": checks that the
// numbers arrive in order without a gap and prints {"event":"received","n":...} every 250 and
// {"event":"out of order",...} on a violation. Both print {"event":"down",...} if the association ends.
import { openSctpEndpoint, type Association } from '../../src/transport/index.js';

const [mode, localText, peerText, role, countText] = process.argv.slice(2);
const out = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const locals = localText!.split(',');
const peers = peerText!.split(',');
const endpoint = await openSctpEndpoint({
  mode: mode as 'raw' | 'udp',
  port: 5000,
  address: locals,
  udpPort: 9899,
  // Quick failure detection, so the test takes seconds: the RFC's defaults would take minutes.
  protocol: { rtoInitial: 300, rtoMin: 100, rtoMax: 400, hbInterval: 200, pathMaxRetrans: 2, associationMaxRetrans: 20 },
});

const watch = (a: Association): void => {
  a.on('down', (reason) => out({ event: 'down', reason }));
};

if (role === 'receive') {
  let expected = 0;
  endpoint.on('association', (a) => {
    watch(a);
    a.on('message', (m) => {
      const n = new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(0);
      if (n !== expected) out({ event: 'out of order', expected, got: n });
      expected = n + 1;
      if (expected % 250 === 0) out({ event: 'received', n: expected });
    });
  });
  out({ event: 'ready' });
} else {
  out({ event: 'ready' });
  const count = Number(countText);
  const a = await endpoint.connect({ address: peers[0]!, port: 5000 });
  watch(a);
  out({ event: 'up', remoteAddresses: a.remoteAddresses });
  let n = 0;
  const timer = setInterval(() => {
    const m = new Uint8Array(200);
    new DataView(m.buffer).setUint32(0, n);
    a.send(m, 1);
    n++;
    if (n % 250 === 0) out({ event: 'sent', n });
    if (n === count) {
      clearInterval(timer);
      // What the stack knows of its paths, for the test's log.
      const stack = a as unknown as { paths?: ReadonlyArray<{ peer: { address: string }; active: boolean; errorCount: number }>; currentPath?: { peer: { address: string } } };
      const paths = stack.paths ?? [];
      out({ event: 'paths', primary: a.remote.address, current: stack.currentPath?.peer.address, paths: paths.map((p) => ({ address: p.peer.address, active: p.active, errors: p.errorCount })) });
    }
  }, 2);
}
