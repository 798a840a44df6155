// `rserpool registrar`: run a registrar (ENRP server) until SIGINT/SIGTERM.
import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultRegistrarConfig, Registrar, type RegistrarConfig } from '../registrar/index.js';
import { parseMulticastGroup } from '../transport/index.js';

const integer = (min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
  return n;
};
const serverId = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new InvalidArgumentError('expected a server ID in 1..0xffffffff (decimal or 0x hex)');
  return n;
};

export function registerRegistrar(program: Command): void {
  const d = defaultRegistrarConfig();
  program
    .command('registrar')
    .description('run a registrar (ENRP server) that pool elements register with and pool users resolve at')
    .option('--id <id>', 'server ID (default: random)', serverId)
    .option('--address <ip>', 'IPv4 address to bind and announce', d.address)
    .option('--asap-port <port>', 'SCTP port for ASAP', integer(1, 65535), d.asapPort)
    .addOption(new Option('--transport <mode>', 'SCTP provider: raw IP, SCTP over UDP (RFC 6951), or auto').choices(['auto', 'raw', 'udp']).default(d.transport))
    .option('--udp-port <port>', 'UDP encapsulation port (udp mode)', integer(1, 65535), d.udpPort)
    .option('--shards <n>', 'shard worker threads (default: available cores)', integer(1, 256), d.shards)
    .option('--keep-alive-interval <ms>', 'keep-alive transmission interval', integer(10, 3_600_000), d.keepAliveInterval)
    .option('--keep-alive-timeout <ms>', 'keep-alive timeout', integer(10, 3_600_000), d.keepAliveTimeout)
    .option('--max-bad-pe-reports <n>', 'ENDPOINT_UNREACHABLE reports before a PE is removed', integer(1, 1000), d.maxBadPeReports)
    .option('--items <n>', 'handle resolution items when a request does not say', integer(1, 128), d.handleResolutionItems)
    .option('--announce <group|off>', 'ASAP_SERVER_ANNOUNCE multicast group:port, or off', `${d.announceGroup.address}:${d.announceGroup.port}`)
    .option('--announce-interval <ms>', 'announce cycle', integer(10, 3_600_000), d.announceInterval)
    .option('--log-level <level>', 'trace, debug, info, warn, error', d.logLevel)
    .addHelpText('after', '\nExamples:\n  rserpool registrar                       # defaults: ASAP on SCTP port 3863, auto transport\n  rserpool registrar --transport udp --udp-port 9899 --shards 4\n  rserpool registrar --announce off --keep-alive-interval 1000\n')
    .action(async (opts: Record<string, unknown>) => {
      const config: Partial<RegistrarConfig> = {
        registrarId: (opts.id as number | undefined) ?? 0,
        address: opts.address as string,
        asapPort: opts.asapPort as number,
        transport: opts.transport as RegistrarConfig['transport'],
        udpPort: opts.udpPort as number,
        shards: opts.shards as number,
        keepAliveInterval: opts.keepAliveInterval as number,
        keepAliveTimeout: opts.keepAliveTimeout as number,
        maxBadPeReports: opts.maxBadPeReports as number,
        handleResolutionItems: opts.items as number,
        announce: opts.announce !== 'off',
        announceInterval: opts.announceInterval as number,
        logLevel: opts.logLevel as string,
      };
      if (opts.announce !== 'off') config.announceGroup = parseMulticastGroup(opts.announce as string);
      const registrar = await Registrar.start(config);
      const stop = (signal: string): void => {
        process.stderr.write(`rserpool registrar: ${signal}, stopping\n`);
        registrar.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      await new Promise(() => undefined);
    });
}
