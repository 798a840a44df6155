// An RSPLIB "host" on a test LAN: Debian's RSPLIB programs (rspregistrar, rspserver,
// rspterminal, hsdump) running in a User-mode Linux kernel.
//
// Why a UML kernel: Debian builds RSPLIB 3.4.4 against the kernel's SCTP (libsctp1), and the
// kernels these tests run on have no SCTP (socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP)
// fails with ESOCKTNOSUPPORT; no modules to load). Debian's `user-mode-linux` kernel ships
// sctp.ko: UML boots in about 2 s as an ordinary process, its root is the host's file system
// (hostfs), so the installed RSPLIB binaries run unchanged, and its eth0 is a TAP device on the
// lab's bridge. Its SCTP is told to use UDP encapsulation on port 9899 both ways (RFC 6951;
// sysctls net.sctp.udp_port / encap_port), which is how RSPLIB's own userland stack talks and
// what our `--transport udp --udp-port 9899` speaks.
//
// Control: the init script (written here) configures the network and then reads shell
// commands line by line from the UML console (the process's stdin); each program's output goes
// to a file in a host directory that both sides see.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepLines, netnsUnavailable, type LabProcess, type NetnsLab } from '../helpers/netns.js';

const RSPLIB_PROGRAMS = ['rspregistrar', 'rspserver', 'rspterminal', 'hsdump'] as const;
const INSTALL = 'apt-get install -y rsplib-registrar rsplib-tools user-mode-linux kmod';

function which(program: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The UML kernel's module tree (…/kernel) that has sctp.ko, or null. */
function umlModules(): string | null {
  const base = '/usr/lib/uml/modules';
  if (!existsSync(base)) return null;
  for (const version of readdirSync(base)) {
    const dir = join(base, version, 'kernel');
    if (existsSync(join(dir, 'net/sctp/sctp.ko'))) return dir;
  }
  return null;
}

/** Why RSPLIB interop cannot run here, or null when it can. */
export function rsplibUnavailable(): string | null {
  const netns = netnsUnavailable();
  if (netns !== null) return netns;
  for (const p of RSPLIB_PROGRAMS) if (which(p) === null) return `RSPLIB's ${p} is not installed (${INSTALL})`;
  if (which('linux.uml') === null) return `no User-mode Linux kernel to run RSPLIB's kernel-SCTP binaries in (${INSTALL})`;
  if (which('insmod') === null) return `no insmod to load the UML kernel's sctp.ko (${INSTALL})`;
  if (umlModules() === null) return 'the UML kernel has no sctp.ko module';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun for the UML network interface';
  return null;
}

// Load order matters: sctp needs ipv6, udp_tunnel, ip6_udp_tunnel; ipv6 needs crc-ccitt; the
// SCTP cookie HMAC (md5, built in) needs the hmac template.
const MODULES = ['crypto/hmac.ko', 'lib/crc-ccitt.ko', 'net/ipv6/ipv6.ko', 'net/ipv4/udp_tunnel.ko', 'net/ipv6/ip6_udp_tunnel.ko', 'net/sctp/sctp.ko'];

export class RsplibHost {
  readonly #uml: LabProcess;
  readonly #dir: string;
  #next = 0;

  private constructor(
    readonly name: string,
    readonly address: string,
    uml: LabProcess,
    dir: string,
  ) {
    this.#uml = uml;
    this.#dir = dir;
  }

  /**
   * Boots a UML kernel on the lab's bridge with `address`/24; resolves when its shell is ready.
   * `eth1Address` ("10.77.6.10/24") gives it a second interface, on a second TAP on the same
   * bridge (a multi-homed host: kernel-sctp.test.ts).
   */
  static async boot(lab: NetnsLab, name: string, hostNumber: number, options: { eth1Address?: string } = {}): Promise<RsplibHost> {
    const modules = umlModules();
    if (modules === null) throw new Error('no UML sctp.ko');
    const address = lab.address(hostNumber);
    const dir = mkdtempSync(join(tmpdir(), `rsplib-${name}-`));
    const tap = lab.addTap(name);
    const tap1 = options.eth1Address !== undefined ? lab.addTap(`${name}1`) : undefined;
    const eth1 = options.eth1Address !== undefined ? `ip addr add ${options.eth1Address} dev eth1\nip link set eth1 up\n` : '';
    const init = join(dir, 'init.sh');
    writeFileSync(
      init,
      `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
hostname ${name}
for m in ${MODULES.join(' ')}; do insmod ${modules}/$m || echo "@@ERROR insmod $m"; done
ip link set lo up
ip addr add ${address}/24 dev eth0
ip link set eth0 up multicast on
ip route add 224.0.0.0/4 dev eth0
${eth1}sysctl -q -w net.sctp.udp_port=9899 net.sctp.encap_port=9899 || echo "@@ERROR sysctl"
echo "@@READY"
while read -r cmd; do eval "$cmd"; done
halt -f
`,
    );
    chmodSync(init, 0o755);
    const child: ChildProcess = spawn(
      'ip',
      ['netns', 'exec', lab.bridgeNs, 'linux.uml', 'mem=96M', 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${init}`, `eth0=tuntap,${tap}`, ...(tap1 !== undefined ? [`eth1=tuntap,${tap1}`] : []), 'con=null', 'con0=fd:0,fd:1', `umid=rsp${lab.tag}${name}`, `uml_dir=${dir}`],
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    const uml = keepLines(child);
    const host = new RsplibHost(name, address, uml, dir);
    lab.onCleanup(() => host.shutdown());
    const deadline = Date.now() + 60_000;
    while (!uml.lines.some((l) => l.includes('@@READY'))) {
      if (uml.process.exitCode !== null || Date.now() > deadline) throw new Error(`UML host ${name} did not boot: ${uml.lines.slice(-20).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const errors = uml.lines.filter((l) => l.includes('@@ERROR'));
    if (errors.length > 0) throw new Error(`UML host ${name}: ${errors.join('; ')}`);
    return host;
  }

  #send(line: string): void {
    this.#uml.process.stdin!.write(`${line}\n`);
  }

  logFile(name: string): string {
    return join(this.#dir, `${name}.log`);
  }

  /** A program's output so far ('' before it wrote anything). */
  log(name: string): string {
    try {
      return readFileSync(this.logFile(name), 'utf8');
    } catch {
      return '';
    }
  }

  /** A file in the shared directory (e.g. a pool user's input). */
  writeFile(name: string, text: string): string {
    const path = join(this.#dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Starts `command` in the background; its output goes to log(name). */
  start(name: string, command: string): void {
    this.#send(`${command} > ${this.logFile(name)} 2>&1 < /dev/null & echo $! > ${join(this.#dir, `${name}.pid`)}`);
  }

  /** Runs a short `command` (bounded by `timeout`) and resolves with its exit code and output. */
  async run(name: string, command: string, timeoutMs = 15_000): Promise<{ code: number; output: string }> {
    const marker = `@@DONE ${this.#next++}`;
    this.#send(`timeout ${Math.ceil(timeoutMs / 1000)} ${command} > ${this.logFile(name)} 2>&1 < /dev/null; echo "${marker} $?"`);
    const deadline = Date.now() + timeoutMs + 5000;
    for (;;) {
      const line = this.#uml.lines.find((l) => l.startsWith(`${marker} `));
      if (line !== undefined) return { code: Number(line.slice(marker.length + 1)), output: this.log(name) };
      if (Date.now() > deadline || this.#uml.process.exitCode !== null) throw new Error(`${command}: no completion in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal to a program started with start(); STOP hangs it (its kernel's SCTP still answers). */
  signal(name: string, signal: 'KILL' | 'TERM' | 'INT' | 'STOP' | 'CONT'): void {
    this.#send(`kill -${signal} $(cat ${join(this.#dir, `${name}.pid`)})`);
  }

  async shutdown(): Promise<void> {
    const p = this.#uml.process;
    if (p.exitCode === null && p.signalCode === null) {
      this.#send('halt -f');
      const stopped = await Promise.race([this.#uml.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!stopped && p.pid !== undefined) {
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
        await this.#uml.exited;
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** RSPLIB prints its server ID as "Server ID: $3deb34aa" at start. */
export function rsplibServerId(log: string): number | null {
  const m = /Server ID:\s+\$([0-9a-f]+)/i.exec(log);
  return m === null ? null : parseInt(m[1]!, 16);
}
