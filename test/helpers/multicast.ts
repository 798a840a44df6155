// Whether IPv4 multicast reaches this host's own sockets by the kernel's default route, for
// tests whose registrar announces without naming an interface. A host (or container) whose
// only interface is `lo` has no multicast route: as root, the test adds one via lo for its
// group (with source 127.0.0.1, or the datagrams would leave with source 0.0.0.0) and removes
// it afterwards; otherwise the test is skipped with the reason.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';

/** Sends one datagram to the group by the default route and waits for it to loop back. */
export async function multicastLoopsBack(group: string, timeoutMs = 500): Promise<boolean> {
  const receiver = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const sender = dgram.createSocket({ type: 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      receiver.once('error', reject);
      receiver.bind(0, () => resolve());
    });
    const port = receiver.address().port;
    receiver.addMembership(group);
    const token = `probe-${process.pid}-${Date.now()}`;
    const heard = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      receiver.on('message', (m) => {
        if (m.toString() !== token) return;
        clearTimeout(timer);
        resolve(true);
      });
    });
    await new Promise<void>((resolve) => sender.bind(0, () => resolve()));
    sender.setMulticastLoopback(true);
    const sent = await new Promise<boolean>((resolve) => sender.send(token, port, group, (e) => resolve(e === null || e === undefined)));
    return sent && (await heard);
  } catch {
    return false; // addMembership ENODEV: no interface for the group
  } finally {
    receiver.close();
    sender.close();
  }
}

export interface MulticastSetup {
  /** Why multicast tests cannot run here, or null when they can. */
  skip: string | null;
  /** Removes what the setup added (a route via lo); a no-op otherwise. */
  cleanup(): void;
}

/** Makes multicast to `group` loop back on this host, adding a route via lo when needed and allowed. */
export async function prepareMulticast(group: string): Promise<MulticastSetup> {
  const nothing = (): void => undefined;
  if (await multicastLoopsBack(group)) return { skip: null, cleanup: nothing };
  const route = [`${group}/32`, 'dev', 'lo', 'src', '127.0.0.1'];
  const how = `ip route add ${route.join(' ')}`;
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    return { skip: `multicast to ${group} has no route here (only lo?) and adding one needs root: ${how}`, cleanup: nothing };
  }
  const add = spawnSync('ip', ['route', 'add', ...route], { encoding: 'utf8' });
  if (add.status !== 0) return { skip: `multicast to ${group} has no route here and \`${how}\` failed: ${(add.stderr ?? add.error?.message ?? '').trim()}`, cleanup: nothing };
  const cleanup = (): void => void spawnSync('ip', ['route', 'del', ...route]);
  if (await multicastLoopsBack(group)) return { skip: null, cleanup };
  cleanup();
  return { skip: `multicast to ${group} does not loop back even with ${how}`, cleanup: nothing };
}
