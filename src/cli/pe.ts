// `rserpool pe`: a pool element offering a built-in service (echo, discard, daytime, chargen)
// in a pool, until SIGINT/SIGTERM (then it deregisters). Each session gets a cookie with its
// state after every answer (RFC 5352 §3.8) and a business card (§3.9), so pool users can
// fail over to another PE of the pool and carry on.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SendQueueFullError } from '../transport/sctp-provider.js';
import { loadFromFraction, PoolElementService, type PoolElementSession, type RegistrarConnection } from '../client/index.js';
import { addClientOptions, runTool, fraction, hexId, integer, isAdaptive, note, openClientEndpoint, policyName, policyType, PolicyType, type ClientCliOptions } from './client-options.js';

export type ServiceName = 'echo' | 'discard' | 'daytime' | 'chargen';

/** The state a PE puts in its cookie: what the session has been served so far. */
export interface ServiceCookie {
  pool: string;
  pe: string;
  messages: number;
}

interface PeCliOptions extends ClientCliOptions {
  pool: string;
  service: ServiceName;
  policy: number;
  weight?: number;
  priority?: number;
  load?: number;
  loadDegradation?: number;
  capacity: number;
  port?: number;
  id?: number;
  registrationLife: number;
  businessCard: number;
  ppid: number;
}

/** RFC 864's 95 printable characters; line n starts at character n mod 95, 72 wide. */
function chargenLine(n: number): string {
  let s = '';
  for (let i = 0; i < 72; i++) s += String.fromCharCode(32 + ((n + i) % 95));
  return `${s}\r\n`;
}

/** RFC 867 leaves the format free: a readable date. */
function daytime(): string {
  return `${new Date().toString()}\r\n`;
}

function parseCookie(bytes: Uint8Array): ServiceCookie | null {
  try {
    const c = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<ServiceCookie>;
    if (typeof c.messages !== 'number' || !Number.isInteger(c.messages) || c.messages < 0) return null;
    return { pool: String(c.pool ?? ''), pe: String(c.pe ?? ''), messages: c.messages };
  } catch {
    return null;
  }
}

const peId = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new InvalidArgumentError('expected a PE ID in 1..0xffffffff (decimal or 0x hex)');
  return n;
};

export function registerPe(program: Command): void {
  const command = program
    .command('pe')
    .description('run a pool element offering a built-in service in a pool (registers, answers sessions, deregisters on SIGINT/SIGTERM)')
    .requiredOption('--pool <handle>', 'pool handle to register under')
    .addOption(new Option('--service <name>', 'built-in service').choices(['echo', 'discard', 'daytime', 'chargen']).default('echo'))
    .option('--policy <name|code>', 'pool policy by name (e.g. RoundRobin, LeastUsed, weighted-random) or code (e.g. 0x40000001)', policyType, PolicyType.RoundRobin)
    .option('--weight <n>', 'weight (weighted policies)', integer(0, 0xffffffff))
    .option('--priority <n>', 'priority (priority policies)', integer(0, 0xffffffff))
    .option('--load <fraction>', 'initial load, 0..1 or a percentage (least-used policies; updated from the sessions)', fraction)
    .option('--load-degradation <fraction>', 'load degradation, 0..1 or a percentage', fraction)
    .option('--capacity <n>', 'sessions at full load: with an adaptive policy, load = sessions / capacity', integer(1, 1_000_000), 10)
    .option('--port <port>', 'SCTP port of the service (default: random)', integer(1, 65535))
    .option('--id <peId>', 'PE identifier (default: random)', peId)
    .option('--registration-life <ms>', 'registration life', integer(1000, 0x7fffffff), 300_000)
    .option('--business-card <n>', 'other PEs named as failover order in each session\'s business card (0: none)', integer(0, 128), 3)
    .option('--ppid <n>', 'SCTP PPID of application data (not 11 or 12)', integer(0, 0xffffffff), 0);
  addClientOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  rserpool pe --pool echo --registrar 127.0.0.1:3863
  rserpool pe --pool echo --service daytime --policy LeastUsed --capacity 5
  rserpool pe --pool prio --policy Priority --priority 7 --transport udp --registrar 10.0.0.1:3863:9899

Sessions: application data under --ppid, ASAP_COOKIE / ASAP_COOKIE_ECHO / ASAP_BUSINESS_CARD
under PPID 11 on the same association. The cookie is JSON: {"pool","pe","messages"}; a session
that fails over to this PE continues the count from the cookie it echoes.
`,
    )
    .action((opts: PeCliOptions) => runTool(() => runPe(opts)));
}

async function runPe(opts: PeCliOptions): Promise<number> {
  if (opts.ppid === 11 || opts.ppid === 12) throw new InvalidArgumentError('--ppid 11 and 12 belong to ASAP and ENRP');
  const adaptive = isAdaptive(opts.policy);
  const asap = await openClientEndpoint(opts, 'pe');
  const configured = asap.registrars.entries().filter((r) => r.configured);
  note('pe', `SCTP ${asap.sctp.mode} mode; ${configured.length > 0 ? `registrars ${configured.map((r) => `${r.remote.address}:${r.remote.port}`).join(', ')}` : `hunting by announces on ${opts.announce}`}`);
  let service: PoolElementService;
  try {
    service = await PoolElementService.open(asap, {
      poolHandle: opts.pool,
      policy: {
        type: opts.policy,
        ...(opts.weight !== undefined ? { weight: opts.weight } : {}),
        ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
        ...(opts.load !== undefined ? { load: loadFromFraction(opts.load) } : {}),
        ...(opts.loadDegradation !== undefined ? { loadDegradation: loadFromFraction(opts.loadDegradation) } : {}),
      },
      registrationLife: opts.registrationLife,
      businessCard: opts.businessCard,
      dataPpid: opts.ppid,
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      // With --udp-port the sessions share the ASAP endpoint's UDP port (e.g. 9899 for RSPLIB PUs).
      ...(opts.udpPort !== undefined && opts.udpPort !== 0 ? { udpPort: opts.udpPort } : {}),
      ...(opts.id !== undefined ? { peId: opts.id } : {}),
      ...(opts.localAddress !== undefined ? { addresses: opts.localAddress } : {}),
    });
  } catch (error) {
    await asap.close();
    throw error;
  }
  const pe = hexId(service.peId);
  const t = service.element.parameter.userTransport;
  note(
    'pe',
    `registered PE ${pe} in pool "${opts.pool}" (${opts.service} service, policy ${policyName(opts.policy)}) at registrar ${registrarText(service.element.registrar)}; user transport sctp port ${t.port} (${service.endpoint.mode} mode)`,
  );
  service.on('registered', (c) => {
    if (c !== lastRegistrar) note('pe', `registered at registrar ${registrarText(c)}`);
    lastRegistrar = c;
  });
  let lastRegistrar = service.element.registrar;
  service.on('failure', (e) => note('pe', `registration: ${e.message}`));

  const updateLoad = (): void => {
    if (!adaptive) return;
    const load = Math.min(1, service.sessions.size / opts.capacity);
    service.updateLoad(load).then(
      () => note('pe', `load ${(load * 100).toFixed(0)}% (${service.sessions.size}/${opts.capacity} sessions)`),
      (e: Error) => note('pe', `load update failed: ${e.message}`),
    );
  };

  service.on('session', (session) => {
    serve(session, opts, pe);
    updateLoad();
    session.once('close', () => updateLoad());
  });

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      note('pe', `${signal}: deregistering PE ${pe}`);
      service
        .close()
        .then(() => asap.close())
        .then(resolve, (e: Error) => {
          note('pe', `close: ${e.message}`);
          resolve();
        });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

function registrarText(c: RegistrarConnection | null): string {
  if (c === null) return '(none)';
  const r = c.association.remote;
  return `${r.address}:${r.port}${c.serverId !== null ? ` (${hexId(c.serverId)})` : ''}`;
}

function serve(session: PoolElementSession, opts: PeCliOptions, pe: string): void {
  const who = `session ${session.id} from ${session.remote.address}:${session.remote.port}`;
  note('pe', `${who}: up`);
  let messages = 0;
  const cookie = (): void => {
    const state: ServiceCookie = { pool: opts.pool, pe, messages };
    session.sendCookie(JSON.stringify(state));
  };
  session.on('cookieEcho', (bytes) => {
    const state = parseCookie(bytes);
    if (state === null) {
      note('pe', `${who}: cookie echo not understood (${bytes.length} bytes), starting afresh`);
      return;
    }
    messages = state.messages;
    note('pe', `${who}: failed over from PE ${state.pe}; cookie echo says ${state.messages} message(s) served, continuing`);
  });
  session.on('controlError', (reason) => note('pe', `${who}: control channel: ${reason}`));
  session.on('close', (reason) => note('pe', `${who}: closed (${reason}) after ${messages} message(s)`));
  if (opts.service === 'daytime') session.send(daytime());
  session.on('data', (payload) => {
    messages++;
    try {
      switch (opts.service) {
        case 'echo':
          // The received payload is memory of its own: sent back as it is (no copy).
          session.send(payload);
          break;
        case 'discard':
          break;
        case 'daytime':
          session.send(daytime());
          break;
        case 'chargen':
          session.send(chargenLine(messages - 1));
          break;
      }
    } catch (error) {
      if (!(error instanceof SendQueueFullError)) throw error;
      // A pool user that sends but does not acknowledge what it gets: it is not served further.
      note('pe', `${who}: ${error.message}; aborting the session`);
      session.abort();
      return;
    }
    cookie();
  });
}
