// One end of a raw-mode (SCTP over IP) association for the INIT collision test, run as a child
// process inside a network namespace (`ip netns exec NS node --import tsx raw-agent.ts ...`):
// each namespace has its own raw socket view, as two hosts do.
//
//   <local address> <SCTP port> <peer address> <delay ms>
//     opens a raw endpoint, prints {"event":"ready"}, and on a line on stdin associates to the
//     peer's same SCTP port after the delay. Prints {"event":"up","ms":...} per association up
//     (ms since the line), {"event":"down"} per one lost, and {"event":"not associated"} when the
//     peer's association came first; runs until killed.
import { createInterface } from 'node:readline';
import { openSctpEndpoint, setProtocolParameters } from '../../src/transport/index.js';

const [local, portText, peer, delayText] = process.argv.slice(2);
const port = Number(portText);
const out = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
// A long first INIT retransmission: only the collision rule can bring the pair up quickly.
setProtocolParameters({ rto_initial: 3000 });
const endpoint = await openSctpEndpoint({ mode: 'raw', port, address: local! });
let started = 0;
const watched = new WeakSet<object>();
const watch = (a: { on(e: 'up' | 'down', f: () => void): unknown; state: string }): void => {
  if (watched.has(a)) return; // ours is announced as 'association' too once up
  watched.add(a);
  const up = (): void => out({ event: 'up', ms: Math.round(performance.now() - started) });
  if (a.state === 'up') up();
  else a.on('up', up);
  a.on('down', () => out({ event: 'down' }));
};
endpoint.on('association', watch);
out({ event: 'ready' });
createInterface({ input: process.stdin }).once('line', () => {
  started = performance.now();
  setTimeout(() => {
    try {
      watch(endpoint.associate({ address: peer!, port }));
    } catch (error) {
      out({ event: 'not associated', error: (error as Error).message }); // the peer's came first
    }
  }, Number(delayText));
});
