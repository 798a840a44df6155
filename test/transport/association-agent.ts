// One end of an association for the transport tests that need a second process: an INIT
// collision in raw mode (each network namespace has its own raw socket view, as two hosts do)
// and a peer restart (a process killed with SIGKILL, no ABORT sent, and started again).
//
//   node --import tsx association-agent.ts <raw|udp> <local address> <SCTP port> <peer address>
//        <delay ms | passive> [<local UDP port> <peer UDP port>]
//     opens an endpoint on the SCTP port (udp mode: on the local UDP port), prints
//     {"event":"ready"}, and on a line on stdin associates to the peer's same SCTP port after the
//     delay ("passive": never). Prints {"event":"up","ms":...} per association up (ms since the
//     line), {"event":"down","reason":...} per one lost, and {"event":"not associated"} when
//     the peer's association came first (associate() threw, or returned that association);
//     runs until killed.
import { createInterface } from 'node:readline';
import { openSctpEndpoint, type Association } from '../../src/transport/index.js';

const [mode, local, portText, peer, delayText, udpText, peerUdpText] = process.argv.slice(2);
const port = Number(portText);
const out = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
// A long first INIT retransmission (20 s): only the rules under test can bring associations up
// within the tests' bounds (10 s, generous for a loaded machine).
const protocol = { rtoInitial: 20_000 };
const endpoint =
  mode === 'udp'
    ? await openSctpEndpoint({ mode: 'udp', port, address: local!, udpPort: Number(udpText), protocol })
    : await openSctpEndpoint({ mode: 'raw', port, address: local!, protocol });
let started = performance.now();
const watched = new WeakSet<Association>();
const watch = (a: Association): void => {
  if (watched.has(a)) return; // ours is announced as 'association' too once up
  watched.add(a);
  const up = (): void => out({ event: 'up', ms: Math.round(performance.now() - started) });
  if (a.state === 'up') up();
  else a.on('up', up);
  a.on('down', (reason) => out({ event: 'down', reason }));
};
endpoint.on('association', watch);
out({ event: 'ready' });
createInterface({ input: process.stdin }).once('line', () => {
  started = performance.now();
  if (delayText === 'passive') return;
  setTimeout(() => {
    try {
      const a = endpoint.associate({ address: peer!, port, ...(mode === 'udp' ? { udpPort: Number(peerUdpText) } : {}) });
      // Our stack hands back the association the peer made (one per port pair, RFC 9260 §1.4).
      if (watched.has(a)) out({ event: 'not associated', error: 'the peer\'s association exists' });
      else watch(a);
    } catch (error) {
      out({ event: 'not associated', error: (error as Error).message }); // the peer's came first
    }
  }, Number(delayText));
});
