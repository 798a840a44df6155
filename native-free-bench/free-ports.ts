// Ports that were free a moment ago (bound to 0, read, released), for the registrars these
// benchmarks and the tests start.
import dgram from 'node:dgram';
import { createServer, isIP } from 'node:net';

/** A TCP port on `address` that was free a moment ago (a registrar's control, TCP or TLS port). */
export async function freeTcpPort(address = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A UDP port on `address` that was free a moment ago (a registrar's SCTP-over-UDP port). */
export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const socket = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, resolve);
  });
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
