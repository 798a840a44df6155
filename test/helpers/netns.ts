// A private LAN in Linux network namespaces for tests that need several "hosts": a bridge in
// its own namespace and, per host, a namespace joined to it by a veth pair, with a private
// address (RSPLIB drops loopback and link-local addresses, so multi-host tests need these)
// and a route for multicast (ASAP announces, ENRP presence) out of that link. Everything
// carries a random tag and is removed by `cleanup()`, which tests call in afterAll.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { NO_TSHARK_MESSAGE, TSHARK, type LiveCapture } from './tshark.js';

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'not root: creating network namespaces needs CAP_SYS_ADMIN';
  if (spawnSync('ip', ['-V'], { encoding: 'utf8' }).status !== 0) return 'no `ip` (apt-get install -y iproute2)';
  const probe = `rsp-probe-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `\`ip netns add\` is not permitted here: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

export function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** A child process with its output kept as lines (stdout and stderr interleaved). */
export interface LabProcess {
  process: ChildProcess;
  lines: string[];
  /** Resolves with the exit code (null after a signal). */
  exited: Promise<number | null>;
}

export function keepLines(child: ChildProcess): LabProcess {
  const lines: string[] = [];
  const partial = { out: '', err: '' };
  const take = (which: 'out' | 'err') => (d: Buffer): void => {
    const parts = (partial[which] + d.toString('utf8')).split('\n');
    partial[which] = parts.pop()!;
    lines.push(...parts);
  };
  child.stdout?.on('data', take('out'));
  child.stderr?.on('data', take('err'));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const rest of [partial.out, partial.err]) if (rest !== '') lines.push(rest);
      resolve(code);
    }),
  );
  return { process: child, lines, exited };
}

/** JSON records among a process's lines (pino logs, --json output is not line-based). */
export function jsonRecords(lines: string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line that only looks like JSON
    }
  }
  return out;
}

export interface LabHost {
  name: string;
  /** The host's namespace. */
  ns: string;
  /** Its interface inside the namespace. */
  iface: string;
  address: string;
}

export class NetnsLab {
  readonly tag = randomBytes(2).toString('hex');
  readonly bridgeNs = `rsp-${this.tag}-br`;
  readonly #created: string[] = [];
  readonly #children: ChildProcess[] = [];
  readonly #captures: LiveCapture[] = [];
  readonly #cleanups: Array<() => Promise<void> | void> = [];

  /** `subnet` is the first three octets of a /24 ("10.77.1"). */
  constructor(readonly subnet: string) {
    ip('netns', 'add', this.bridgeNs);
    this.#created.push(this.bridgeNs);
    ip('-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', this.bridgeNs, 'link', 'set', 'br0', 'up');
  }

  address(hostNumber: number): string {
    return `${this.subnet}.${hostNumber}`;
  }

  /** A namespace host with address subnet.hostNumber on a veth into the bridge. */
  addHost(name: string, hostNumber: number): LabHost {
    const ns = `rsp-${this.tag}-${name}`;
    ip('netns', 'add', ns);
    this.#created.push(ns);
    // Short unique names while both ends are briefly in the root namespace.
    const inside = `r${this.tag}${hostNumber}`;
    const outside = `r${this.tag}${hostNumber}b`;
    ip('link', 'add', inside, 'type', 'veth', 'peer', 'name', outside);
    ip('link', 'set', inside, 'netns', ns);
    ip('link', 'set', outside, 'netns', this.bridgeNs);
    ip('-n', this.bridgeNs, 'link', 'set', outside, 'master', 'br0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const address = this.address(hostNumber);
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inside);
    ip('-n', ns, 'link', 'set', inside, 'up', 'multicast', 'on');
    // Multicast leaves by the bridge link; there is no other route.
    ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', inside);
    return { name, ns, iface: inside, address };
  }

  /** A TAP device on the bridge (for a virtual machine, e.g. User-mode Linux). */
  addTap(name: string): string {
    const tap = `t${this.tag}${name}`.slice(0, 15);
    ip('-n', this.bridgeNs, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
    ip('-n', this.bridgeNs, 'link', 'set', tap, 'master', 'br0', 'up');
    return tap;
  }

  /** Runs `command args` inside a namespace; killed (SIGKILL, by its process group) in cleanup. */
  spawn(ns: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' } = {}): LabProcess {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
      stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
      detached: true,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      env: options.env ?? process.env,
    });
    this.#children.push(child);
    return keepLines(child);
  }

  /** tshark on the bridge: it sees every packet between the hosts. */
  async capture(file: string, filter = 'udp'): Promise<LiveCapture> {
    const c = await captureInNamespace(this.bridgeNs, 'br0', file, filter);
    this.#captures.push(c);
    return c;
  }

  /** Extra teardown (e.g. a virtual machine), run before the namespaces go. */
  onCleanup(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const fn of this.#cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // keep tearing down
      }
    }
    for (const c of this.#captures) await c.stop(0).catch(() => undefined);
    for (const c of this.#children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    for (const name of this.#created.reverse()) spawnSync('ip', ['netns', 'del', name]);
  }
}

/**
 * `tshark -i IFACE -f FILTER -w FILE` inside a namespace; resolves once tshark reports that it
 * captures (as captureLoopback does on the host's loopback).
 */
export async function captureInNamespace(ns: string, iface: string, file: string, filter: string): Promise<LiveCapture> {
  if (TSHARK === null) throw new Error(NO_TSHARK_MESSAGE);
  const child = spawn('ip', ['netns', 'exec', ns, TSHARK, '-i', iface, '-f', filter, '-w', file, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshark did not start capturing within 15 s: ${stderr.trim()}`)), 15_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (/Capture started|Capturing on/.test(stderr)) {
        clearTimeout(timer);
        // "Capturing on" can come before dumpcap has opened the interface: a short grace.
        setTimeout(resolve, /Capture started/.test(stderr) ? 0 : 1000);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tshark exited (status ${code}) before capturing: ${stderr.trim()}`));
    });
  });
  return {
    file,
    async stop(settleMs = 300): Promise<void> {
      await new Promise((r) => setTimeout(r, settleMs));
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}
