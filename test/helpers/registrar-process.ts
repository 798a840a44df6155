// A real `rserpool registrar` process for tests of what an operator sees (flags, start-up logs,
// the control channel): SCTP over UDP on a free port, 127.0.0.1, one shard, no announces, the
// TCP and TLS ports ephemeral, the control channel on a free port; its stderr kept. A file's
// processes are killed after each test (`killAll` in afterEach).
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, REPO_ROOT } from './cli.js';
import { freeTcpPort, freeUdpPort } from './ports.js';

export interface StartedRegistrar {
  child: ChildProcess;
  /** The control channel's port. */
  port: number;
  /** Its stderr so far (JSON log lines). */
  stderr(): string;
}

export interface RegistrarProcesses {
  /** Starts one with `args` after the defaults above; resolves once its stderr has `until` (default: "registrar started"). */
  start(args: string[], o?: { until?: string; timeoutMs?: number }): Promise<StartedRegistrar>;
  killAll(): void;
}

export function registrarProcesses(): RegistrarProcesses {
  const children: ChildProcess[] = [];
  return {
    async start(args, { until = '"registrar started"', timeoutMs = 30_000 } = {}) {
      const port = await freeTcpPort();
      const child = spawn(
        process.execPath,
        [CLI, 'registrar', '--transport', 'udp', '--udp-port', String(await freeUdpPort()), '--address', '127.0.0.1', '--shards', '1', '--announce', 'off', '--enrp-announce', 'off', '--tcp-port', '0', '--tls-port', '0', '--control-port', String(port), ...args],
        { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
      );
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const start = Date.now();
      while (!stderr.includes(until)) {
        if (child.exitCode !== null) throw new Error(`registrar exited (${child.exitCode}):\n${stderr}`);
        if (Date.now() - start > timeoutMs) throw new Error(`no ${until} within ${timeoutMs} ms:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return { child, port, stderr: () => stderr };
    },
    killAll() {
      for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
