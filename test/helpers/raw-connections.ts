// TCP connections to a server under test, made by hand (half-sent requests, several source
// addresses), each kept in `sockets` so the test's afterEach can destroy what is left open.
import { connect, type Socket } from 'node:net';

export function rawConnections(sockets: Socket[]) {
  /** A connection to 127.0.0.1:`port` from `localAddress`, once established. */
  function dial(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
      s.once('error', reject);
      sockets.push(s);
    });
  }

  /** Sends `text` on a new connection; resolves with everything read until the server closes it. */
  async function raw(port: number, text: string, localAddress = '127.0.0.1'): Promise<string> {
    const s = await dial(port, localAddress);
    return new Promise((resolve) => {
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
      s.write(text);
    });
  }

  return { dial, raw };
}
