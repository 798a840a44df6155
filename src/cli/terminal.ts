// `rserpool terminal <pool>`: a pool user session on the command line. Lines from stdin go
// to a PE of the pool, answers go to stdout, and what happens to the session (the PE it
// reached, cookies, failovers) goes to stderr.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { SendQueueFullError } from '../transport/sctp-provider.js';
import { PoolUser, type ResolvedPoolElement, type Session } from '../client/index.js';
import { addClientOptions, hexId, runTool, integer, note, openClientEndpoint, type ClientCliOptions } from './client-options.js';

interface TerminalCliOptions extends ClientCliOptions {
  items: number;
  ppid: number;
  failoverTimeout: number;
  connectTimeout: number;
  resend: boolean;
  linger: number;
  peUdpPort?: number;
}

/** Lines kept for re-sending after a failover (those sent since the last answer). */
const MAX_UNANSWERED = 64;

function where(pe: ResolvedPoolElement): string {
  const t = pe.userTransport;
  return `PE ${hexId(pe.peId)}${t !== null ? ` at ${t.addresses.join(',')}:${t.port}` : ''}`;
}

export function registerTerminal(program: Command): void {
  const command = program
    .command('terminal')
    .argument('<pool>', 'pool handle')
    .description('open a session with a pool: stdin lines go to a pool element, its answers are printed; failovers are shown on stderr')
    .option('--items <n>', 'pool elements asked for per handle resolution (0: the registrar\'s default)', integer(0, 128), 0)
    .option('--ppid <n>', 'SCTP PPID of application data (not 11 or 12)', integer(0, 0xffffffff), 0)
    .option('--failover-timeout <ms>', 'how long to look for a reachable pool element', integer(100, 3_600_000), 15_000)
    .option('--connect-timeout <ms>', 'how long one connection attempt may take', integer(100, 600_000), 5000)
    .option('--no-resend', 'do not re-send lines still unanswered when a failover happens')
    .option('--pe-udp-port <port>', 'UDP encapsulation port of pool elements in udp mode (default: their SCTP port, as rserpool pe listens; 9899 for RSPLIB PEs)', integer(1, 65535))
    .option('--linger <ms>', 'after end of input, wait this long for outstanding answers', integer(0, 600_000), 2000);
  addClientOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  rserpool terminal echo --registrar 127.0.0.1:3863
  echo hello | rserpool terminal echo

Lines unanswered when the pool element fails are sent again to the next one (the built-in
services answer every line); --no-resend turns that off.
`,
    )
    .action((pool: string, opts: TerminalCliOptions) => runTool(() => runTerminal(pool, opts)));
}

async function runTerminal(pool: string, opts: TerminalCliOptions): Promise<number> {
  const asap = await openClientEndpoint(opts, 'terminal');
  const pu = new PoolUser(asap, { staleCacheValue: 0 });
  let session: Session;
  try {
    session = await pu.openSession(pool, {
      items: opts.items,
      dataPpid: opts.ppid,
      failoverTimeout: opts.failoverTimeout,
      connectTimeout: opts.connectTimeout,
      ...(opts.peUdpPort !== undefined ? { remoteUdpPort: opts.peUdpPort } : {}),
    });
  } catch (error) {
    await asap.close();
    throw error;
  }
  note('terminal', `session with pool "${pool}": connected to ${where(session.poolElement!)} (SCTP ${asap.sctp.mode} mode)`);

  const unanswered: string[] = [];
  let inputDone = false;
  let finished = false;
  let ended: (code: number) => void = () => {};
  const exitCode = new Promise<number>((resolve) => (ended = resolve));
  const finish = async (code: number): Promise<void> => {
    if (finished) return;
    finished = true;
    await session.close();
    await asap.close().catch(() => {});
    ended(code);
  };
  let lingerTimer: NodeJS.Timeout | null = null;
  const maybeFinish = (): void => {
    if (!inputDone) return;
    if (unanswered.length === 0) {
      void finish(0);
      return;
    }
    if (lingerTimer === null) lingerTimer = setTimeout(() => void finish(0), opts.linger);
  };

  /** A line to the PE; a PE that leaves the send-queue limit unacknowledged ends the session. */
  const send = (line: string): void => {
    try {
      session.send(line);
    } catch (error) {
      if (!(error instanceof SendQueueFullError)) throw error;
      note('terminal', `session ended: ${error.message}`);
      void finish(1);
    }
  };

  session.on('data', (payload) => {
    const text = Buffer.from(payload).toString('utf8');
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    unanswered.shift();
    maybeFinish();
  });
  session.on('cookie', (cookie) => {
    if (process.env.RSERPOOL_TERMINAL_DEBUG !== undefined) note('terminal', `cookie (${cookie.length} bytes)`);
  });
  session.on('businessCard', (order) => {
    note('terminal', `business card: failover order ${order.length > 0 ? order.map((e) => hexId(e.peId)).join(', ') : '(none)'}`);
  });
  session.on('failover', (from, to, reason) => {
    note('terminal', `failover: ${where(from)} failed (${reason}); now at ${where(to)}${session.cookie !== null ? ', cookie echoed' : ''}`);
    if (opts.resend) for (const line of unanswered) send(line);
  });
  session.on('close', (error) => {
    if (error !== null) {
      note('terminal', `session ended: ${error.message}`);
      void finish(1);
    }
  });

  const input = createInterface({ input: process.stdin, terminal: false });
  input.on('line', (line) => {
    if (finished) return;
    if (unanswered.length >= MAX_UNANSWERED) unanswered.shift();
    unanswered.push(line);
    send(line);
  });
  input.on('close', () => {
    inputDone = true;
    maybeFinish();
  });
  process.once('SIGINT', () => void finish(130));
  process.once('SIGTERM', () => void finish(143));
  const code = await exitCode;
  input.close();
  return code;
}
