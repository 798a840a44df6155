// `rserpool registrar`: run a registrar (ENRP server) until SIGINT/SIGTERM.
import { isIP } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CONTROL_ADDRESS, DEFAULT_CONTROL_PORT } from '../registrar/control.js';
import { installProcessFaultHandlers } from './process-faults.js';
import { defaultRegistrarConfig, Registrar, type RegistrarConfig } from '../registrar/index.js';
import type { StaticPeer } from '../registrar/config.js';
import { parseMulticastGroup } from '../transport/index.js';
import { addressToString, parseAddress, PORT_ASAP } from '../wire/index.js';
import { parseNetwork } from '../wire/network.js';
import { applyConfigFileHook, configFileOption } from './config-file.js';

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

/** An IPv6 literal in its canonical text (so that one peer is one string), an IPv4 literal as is. */
function canonical(address: string): string {
  if (isIP(address) !== 6) return address;
  const bytes = parseAddress(address);
  return bytes === null ? address : addressToString(bytes);
}

/** `--peer host:port[:udpPort]` or `--peer [ipv6]:port[:udpPort]`, repeatable. */
function collectPeer(value: string, previous: StaticPeer[]): StaticPeer[] {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})(?::(\d{1,5}))?$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m ? Number(m[3]) : NaN;
  const udpPort = m?.[4] !== undefined ? Number(m[4]) : undefined;
  if (!m || host === undefined || (m[1] !== undefined && isIP(m[1]) !== 6) || port < 1 || port > 0xffff || (udpPort !== undefined && (udpPort < 1 || udpPort > 0xffff))) {
    throw new InvalidArgumentError(`expected host:port[:udpPort] or [ipv6]:port[:udpPort], got ${value}`);
  }
  return [...previous, { address: canonical(host), port, ...(udpPort !== undefined ? { udpPort } : {}) }];
}

/** `--address <ip>`, repeatable: IPv4 and IPv6 literals (0.0.0.0 or :: for all). */
function collectAddress(value: string, previous: string[]): string[] {
  const v = value.trim();
  if (isIP(v) === 0) throw new InvalidArgumentError(`expected an IPv4 or IPv6 address, got ${value}`);
  return [...previous, canonical(v)];
}

/** `--enrp-allow <cidr>`, repeatable: an IPv4 or IPv6 network (an address alone is a /32 or /128). */
function collectCidr(value: string, previous: string[]): string[] {
  const network = parseNetwork(value);
  if (network === null) throw new InvalidArgumentError(`expected a network like 10.0.0.0/24 or 2001:db8::/32, got ${value}`);
  return [...previous, `${addressToString(network.address)}/${network.bits}`];
}

/** --control-address: an IP address (or localhost). */
function controlAddress(value: string): string {
  if (value !== 'localhost' && isIP(value) === 0) throw new InvalidArgumentError(`expected an IP address like 127.0.0.1, 0.0.0.0 or ::, got ${value}`);
  return value;
}

/** What an operator can do about a registrar that cannot start (by system error code). */
function startHint(error: Error & { code?: string | undefined; hint?: string }): string {
  if (typeof error.hint === 'string') return error.hint; // TLS files: what is wrong with which one
  const text = `${error.code ?? ''} ${error.message}`;
  if (/EADDRINUSE|address already in use|in use/i.test(text)) {
    return 'another process (another registrar?) already uses that port on this host: stop it, or give this registrar other ports (--udp-port, --asap-port, --enrp-port, --tcp-port, --tls-port, --control-port; --control-port 0 turns the control channel off, --tcp-port 0 ASAP over TCP)';
  }
  if (/EPERM|EACCES|not permitted|permission/i.test(text)) {
    return 'raw SCTP needs root or CAP_NET_RAW (setcap cap_net_raw+ep on node): run with it, or use --transport udp (SCTP over UDP, RFC 6951)';
  }
  if (/control (channel|token)/i.test(text) && !/EADDRINUSE|in use/i.test(text)) return 'the control channel: --control-address, --control-token-file (see rserpool registrar --help); --control-port 0 turns it off';
  if (/EADDRNOTAVAIL|cannot assign/i.test(text)) return '--address must be an address of this host';
  return 'see the message above; --log-level debug tells more';
}

export function registerRegistrar(program: Command): void {
  const d = defaultRegistrarConfig();
  program
    .command('registrar')
    .description('run a registrar (ENRP server) that pool elements register with and pool users resolve at')
    .addOption(configFileOption())
    .hook('preAction', applyConfigFileHook)
    .option('--id <id>', 'server ID (default: random)', serverId)
    .option('--address <ip>', 'address to bind and announce, IPv4 or IPv6 (repeatable: every one is announced; default: all IPv4 addresses)', collectAddress, [])
    .option('--asap-port <port>', 'SCTP port for ASAP', integer(1, 65535), d.asapPort)
    .addOption(new Option('--transport <mode>', 'SCTP provider: raw IP, SCTP over UDP (RFC 6951), or auto').choices(['auto', 'raw', 'udp']).default(d.transport))
    .option('--udp-port <port>', 'UDP encapsulation port (udp mode)', integer(1, 65535), d.udpPort)
    .addOption(new Option('--shards <n>', 'shard worker threads (0: no worker, the handlespace on the I/O thread)').argParser(integer(0, 256)).default(d.shards, `one per core but one for the I/O thread, at least 1: ${d.shards}`))
    .option('--keep-alive-interval <ms>', 'keep-alive transmission interval', integer(10, 3_600_000), d.keepAliveInterval)
    .option('--keep-alive-timeout <ms>', 'keep-alive timeout', integer(10, 3_600_000), d.keepAliveTimeout)
    .option('--max-bad-pe-reports <n>', 'ENDPOINT_UNREACHABLE reports before a PE is removed', integer(1, 1000), d.maxBadPeReports)
    .option('--items <n>', 'handle resolution items when a request does not say', integer(1, 128), d.handleResolutionItems)
    .option('--announce <group|off>', 'ASAP_SERVER_ANNOUNCE multicast group:port, or off', `${d.announceGroup.address}:${d.announceGroup.port}`)
    .option('--announce-interval <ms>', 'announce cycle', integer(10, 3_600_000), d.announceInterval)
    .option('--enrp-port <port>', 'SCTP port for ENRP (RFC 5353: 9901)', integer(1, 65535), d.enrpPort)
    .option('--peer <host:port[:udpPort]>', 'a peer registrar\'s ENRP address, [ipv6]:port[:udpPort] for IPv6 (repeatable)', collectPeer, [])
    .option('--enrp-announce <group|off>', 'ENRP_PRESENCE multicast group:port, or off (default: on unless --announce off)')
    .option('--peer-udp-port <port>', 'UDP encapsulation port assumed for peers that do not tell theirs', integer(1, 65535), d.peerUdpPort)
    .option('--pe-udp-port <port>', 'UDP encapsulation port of PEs reached after a takeover', integer(1, 65535), d.peUdpPort)
    .option('--peer-heartbeat-cycle <ms>', 'ENRP_PRESENCE cycle (PEER-HEARTBEAT-CYCLE)', integer(10, 3_600_000), d.peerHeartbeatCycle)
    .option('--max-time-last-heard <ms>', 'silence before a peer is asked to reply (MAX-TIME-LAST-HEARD)', integer(10, 3_600_000), d.maxTimeLastHeard)
    .option('--max-time-no-response <ms>', 'wait for a reply before a peer is dead (MAX-TIME-NO-RESPONSE)', integer(10, 3_600_000), d.maxTimeNoResponse)
    .option('--mentor-discovery-timeout <ms>', 'how long to look for a mentor at start', integer(0, 3_600_000), d.mentorDiscoveryTimeout)
    .option('--takeover-expiry <ms>', 'how long a takeover waits for acknowledgements', integer(10, 3_600_000), d.takeoverExpiry)
    .option('--max-handle-table-elements <n>', 'PEs per ENRP_HANDLE_TABLE_RESPONSE', integer(1, 100_000), d.maxHandleTableElements)
    .option('--max-handle-table-bytes <n>', 'byte cap per ENRP_HANDLE_TABLE_RESPONSE (0: none; RSPLIB ~1400)', integer(0, 60_000), d.maxHandleTableBytes)
    .option('--max-send-queue <bytes>', 'bytes queued plus unacknowledged per association; answers beyond are dropped and counted', integer(4096, 1 << 30), d.maxSendQueueBytes)
    .option('--send-queue-timeout <ms>', 'an association over --max-send-queue this long is aborted', integer(10, 3_600_000), d.sendQueueTimeout)
    .option('--max-associations <n>', 'associations per SCTP endpoint (ASAP, ENRP); more INITs are refused', integer(1, 1_000_000), d.maxAssociations)
    .option('--max-pe-associations <n>', 'associations the registrar starts to PEs (keep-alives after a takeover or warm restart) open at a time; more are refused and those PEs time out', integer(1, 1_000_000), d.maxPeAssociations)
    .option('--pe-association-rate <n>', 'associations started to PEs per second; beyond it their keep-alives wait', integer(1, 1_000_000), d.peAssociationRate)
    .option('--max-inbound-streams <n>', 'inbound streams an association may have', integer(1, 65535), d.maxInboundStreams)
    .option('--max-reassembly-bytes <bytes>', 'bytes per association held for reassembly and ordering', integer(65536, 1 << 30), d.maxReassemblyBytes)
    .option('--max-pes-per-association <n>', 'PEs one association may register, counted per shard: n in the pools of each shard, so up to n x --shards in all (beyond: Lack of Resources; --max-pes bounds the registrar as a whole)', integer(1, 10_000_000), d.maxElementsPerAssociation)
    .option('--max-pes-per-pool <n>', 'PEs in one pool (beyond: Lack of Resources)', integer(1, 100_000_000), d.maxElementsPerPool)
    .option('--max-pes <n>', 'PEs in the handlespace, all shards together (beyond: Lack of Resources)', integer(1, 100_000_000), d.maxElements)
    .option('--max-pes-per-peer <n>', 'PEs one peer registrar may be home of, counted per shard: n in the pools of each shard, so up to n x --shards in all (beyond: its updates are dropped and counted; --max-pes bounds the registrar as a whole)', integer(1, 100_000_000), d.maxElementsPerPeer)
    .option('--allow-foreign-addresses', 'accept PE transports naming addresses other than the association\'s (NAT, separate data networks)', d.allowForeignAddresses)
    .option('--subscription-interval <ms>', 'pool changes within this interval make one update to each subscribed pool user (RFC 5352 S bit)', integer(1, 3_600_000), d.subscriptionInterval)
    .option('--max-subscriptions-per-association <n>', 'pools one association may subscribe to, counted per shard (so up to n x shards in all; beyond: answered without the A bit)', integer(0, 1_000_000), d.maxSubscriptionsPerAssociation)
    .option('--max-subscriptions-per-pool <n>', 'pool users subscribed to one pool (beyond: answered without the A bit)', integer(0, 100_000_000), d.maxSubscriptionsPerPool)
    .option('--takeover-suggestion', 'RSPLIB\'s takeover suggestion: suggest each own PE to the peer with the largest ID XOR PE ID (T flag), and become the home of PEs suggested to us', d.takeoverSuggestion)
    .option('--registration-rate <n>', 'registrations and deregistrations per second per association (0: unlimited)', integer(0, 100_000_000), d.registrationRate)
    .option('--resolution-rate <n>', 'handle resolutions per second per association (0: unlimited)', integer(0, 100_000_000), d.resolutionRate)
    .option('--report-rate <n>', 'ENDPOINT_UNREACHABLE reports per second per association (0: unlimited)', integer(0, 100_000_000), d.unreachableReportRate)
    .option('--enrp-allow <cidr>', 'network whose ENRP is heard, e.g. 10.0.0.0/24 (repeatable; default: any)', collectCidr, [])
    .option('--max-takeovers <n>', 'takeovers started per MAX-TIME-LAST-HEARD interval', integer(1, 100_000), d.maxTakeoversPerInterval)
    .option('--max-peers <n>', 'ENRP peers at most (beyond: new ones ignored and counted)', integer(1, 1_000_000), d.maxPeers)
    .option('--tcp-port <port>', 'TCP port for ASAP over plain TCP (RFC 5352 §6, IANA asap-tcp); 0: off', integer(0, 65535), PORT_ASAP)
    .option('--tls-port <port>', 'TCP port for ASAP over TLS (IANA asap-tcp-tls), served when --tls-psk or --tls-cert is given; 0: off', integer(0, 65535), d.tlsPort)
    .option('--tls-psk <file>', 'TLS pre-shared keys, one identity:hex-key a line (e.g. pe-1:<openssl rand -hex 32>)')
    .option('--tls-cert <file>', 'TLS certificate of this registrar (PEM); needs --tls-key and --tls-ca')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM, unencrypted)')
    .option('--tls-ca <file>', 'CA certificate(s) (PEM) that PE and PU certificates must chain to (mutual authentication)')
    .option('--tls-only', 'a secured registrar (RFC 5352 §9.3): ASAP and ENRP not over TLS are refused (registrations rejected due to security considerations)', d.tlsOnly)
    .option('--tls-pool-map <file>', 'PSK identities or certificate CNs and the pool handles each may register under, one "name pool..." a line (certificates may name theirs in SAN URIs rserpool:pool:<handle>)')
    .option('--enrp-tls-port <port>', 'ENRP over TLS on this TCP port (IANA 9902) with the --tls-* files; ENRP over SCTP is then refused, and --peer ports are TLS ports (default: off, 9902 with --tls-only)', integer(1, 65535))
    .option('--enrp-tls-server-ids <file>', 'ENRP over TLS: which server IDs each credential may speak for, one `psk:IDENTITY ID...` or `cn:CERTIFICATE-CN ID...` a line (IDs decimal or 0x hex); a credential named nowhere speaks for none (default: any credential of the scope for any ID)')
    .option('--tls-handshake-timeout <ms>', 'a TLS handshake not complete by then is cut', integer(100, 600_000), d.tlsHandshakeTimeout)
    .option('--stream-idle-timeout <ms>', 'a TCP/TLS association silent this long is closed (0: never)', integer(0, 86_400_000), d.streamIdleTimeout)
    .option('--max-stream-message <bytes>', 'largest ASAP message a TCP/TLS peer may send; a larger Message Length aborts the connection', integer(4, 65535), d.maxStreamMessageBytes)
    .option('--log-level <level>', 'trace, debug, info, warn, error', d.logLevel)
    .option('--snapshot <file>', 'handlespace snapshot (FlatBuffers): loaded at start (warm restart: PEs served at once, own PEs get a keep-alive with the H bit and are removed if they do not answer), written every --snapshot-interval and at SIGTERM/SIGINT')
    .option('--snapshot-interval <ms>', 'period of the --snapshot writes (0: only at shutdown)', integer(0, 86_400_000), d.snapshotInterval)
    .option('--snapshot-restore-slice <ms>', 'at start, each shard serves at once and restores the --snapshot in the background, this many ms of each event-loop turn (a pool asked for first is restored at once); 0: restore all before serving', integer(0, 1000), d.snapshotRestoreSlice)
    .option('--control-port <port>', 'HTTP control channel for operators: /metrics (Prometheus), /health, /ready, /api (admin), the dashboard, /handlespace for `rserpool dump`; 0: off', integer(0, 65535), DEFAULT_CONTROL_PORT)
    .option('--control-address <ip>', 'address of the control channel; any but loopback needs --control-token-file', controlAddress, CONTROL_ADDRESS)
    .option('--control-max-connections <n>', 'HTTP connections the control channel holds at once (dashboard streams included; at most --control-max-connections-per-address from one address; --control-probe-reserve more kept for /health and /ready)', integer(1, 100_000), d.controlMaxConnections)
    .option('--control-max-connections-per-address <n>', 'control connections one source address holds at once (a NAT or proxy in front of many operators needs more); beyond: the probe reserve only', integer(1, 100_000), d.controlMaxConnectionsPerAddress)
    .option('--control-probe-reserve <n>', 'control connections kept beyond the caps for /health and /ready only (2 s to send a request, closed after the answer); 0: none', integer(0, 1000), d.controlProbeReserve)
    .option('--control-head-timeout <ms>', 'a control connection that sends no complete request head within this (from connecting, or from the previous answer) is cut', integer(1000, 600_000), d.controlHeadTimeout)
    .option('--control-response-timeout <ms>', 'a control response that makes no progress this long (a client that reads nothing) is cut; the dashboard\'s event stream excepted', integer(1000, 3_600_000), d.controlResponseTimeout)
    .option('--control-token-file <file>', 'file holding the control channel\'s bearer token (one word, >= 16 characters, e.g. `openssl rand -hex 32 > FILE`); then every request but /health and /ready needs it (Authorization: Bearer, or ?token= for browsers); DELETE in the admin API always needs it')
    .option('--control-tls-cert <file>', 'certificate (PEM) of the control channel: it then speaks HTTPS only (TLS 1.2/1.3), so the token does not cross the network in clear; needs --control-tls-key (tools: rserpool dump --registrar https://HOST:PORT --control-ca CA)')
    .option('--control-tls-key <file>', 'private key (PEM, unencrypted) of --control-tls-cert')
    .option('--control-tls-ca <file>', 'CA certificate(s) (PEM): every control request but /health and /ready then needs a client certificate issued by it (mutual TLS; 403 without); needs --control-tls-cert')
    .option('--dashboard-clients <n>', 'browsers watching the live dashboard (http://CONTROL/ , server-sent events) at once; beyond: 503; 0: dashboard off', integer(0, 1000), d.dashboardClients)
    .option('--dashboard-interval <ms>', 'live dashboard update interval', integer(100, 3_600_000), d.dashboardInterval)
    .addHelpText('after', '\nExamples:\n  rserpool registrar                       # defaults: ASAP on SCTP port 3863, auto transport\n  rserpool registrar --transport udp --udp-port 9899 --shards 4\n  rserpool registrar --announce off --keep-alive-interval 1000\n  rserpool registrar --address 10.0.0.1 --address 2001:db8::1 --peer 10.0.0.2:9901 --peer [2001:db8::2]:9901\n')
    .action(async (opts: Record<string, unknown>, command: Command) => {
      const config: Partial<RegistrarConfig> = {
        registrarId: (opts.id as number | undefined) ?? 0,
        addresses: opts.address as string[],
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
        snapshot: (opts.snapshot as string | undefined) ?? null,
        snapshotInterval: opts.snapshotInterval as number,
        snapshotRestoreSlice: opts.snapshotRestoreSlice as number,
        controlPort: opts.controlPort as number,
        controlAddress: opts.controlAddress as string,
        ...(opts.controlTokenFile !== undefined ? { controlTokenFile: opts.controlTokenFile as string } : {}),
        ...(opts.controlTlsCert !== undefined ? { controlTlsCert: opts.controlTlsCert as string } : {}),
        ...(opts.controlTlsKey !== undefined ? { controlTlsKey: opts.controlTlsKey as string } : {}),
        ...(opts.controlTlsCa !== undefined ? { controlTlsCa: opts.controlTlsCa as string } : {}),
        controlMaxConnections: opts.controlMaxConnections as number,
        controlMaxConnectionsPerAddress: opts.controlMaxConnectionsPerAddress as number,
        controlProbeReserve: opts.controlProbeReserve as number,
        controlHeadTimeout: opts.controlHeadTimeout as number,
        controlResponseTimeout: opts.controlResponseTimeout as number,
        dashboardClients: opts.dashboardClients as number,
        dashboardInterval: opts.dashboardInterval as number,
        enrpPort: opts.enrpPort as number,
        peers: opts.peer as StaticPeer[],
        peerUdpPort: opts.peerUdpPort as number,
        peUdpPort: opts.peUdpPort as number,
        peerHeartbeatCycle: opts.peerHeartbeatCycle as number,
        maxTimeLastHeard: opts.maxTimeLastHeard as number,
        maxTimeNoResponse: opts.maxTimeNoResponse as number,
        mentorDiscoveryTimeout: opts.mentorDiscoveryTimeout as number,
        takeoverExpiry: opts.takeoverExpiry as number,
        maxHandleTableElements: opts.maxHandleTableElements as number,
        maxHandleTableBytes: opts.maxHandleTableBytes as number,
        maxSendQueueBytes: opts.maxSendQueue as number,
        sendQueueTimeout: opts.sendQueueTimeout as number,
        maxAssociations: opts.maxAssociations as number,
        maxPeAssociations: opts.maxPeAssociations as number,
        peAssociationRate: opts.peAssociationRate as number,
        maxInboundStreams: opts.maxInboundStreams as number,
        maxReassemblyBytes: opts.maxReassemblyBytes as number,
        maxElementsPerAssociation: opts.maxPesPerAssociation as number,
        maxElementsPerPool: opts.maxPesPerPool as number,
        maxElements: opts.maxPes as number,
        maxElementsPerPeer: opts.maxPesPerPeer as number,
        allowForeignAddresses: opts.allowForeignAddresses as boolean,
        subscriptionInterval: opts.subscriptionInterval as number,
        maxSubscriptionsPerAssociation: opts.maxSubscriptionsPerAssociation as number,
        maxSubscriptionsPerPool: opts.maxSubscriptionsPerPool as number,
        takeoverSuggestion: opts.takeoverSuggestion as boolean,
        registrationRate: opts.registrationRate as number,
        resolutionRate: opts.resolutionRate as number,
        unreachableReportRate: opts.reportRate as number,
        enrpAllow: opts.enrpAllow as string[],
        maxTakeoversPerInterval: opts.maxTakeovers as number,
        maxPeers: opts.maxPeers as number,
        tcpPort: opts.tcpPort as number,
        // The default 3863 gives way to another registrar on this host; a port asked for does not.
        tcpPortOptional: command.getOptionValueSource('tcpPort') === 'default',
        tlsPort: opts.tlsPort as number,
        tlsHandshakeTimeout: opts.tlsHandshakeTimeout as number,
        streamIdleTimeout: opts.streamIdleTimeout as number,
        maxStreamMessageBytes: opts.maxStreamMessage as number,
        ...(opts.tlsPsk !== undefined ? { tlsPsk: opts.tlsPsk as string } : {}),
        ...(opts.tlsCert !== undefined ? { tlsCert: opts.tlsCert as string } : {}),
        ...(opts.tlsKey !== undefined ? { tlsKey: opts.tlsKey as string } : {}),
        ...(opts.tlsCa !== undefined ? { tlsCa: opts.tlsCa as string } : {}),
        tlsOnly: opts.tlsOnly as boolean,
        ...(opts.tlsPoolMap !== undefined ? { tlsPoolMap: opts.tlsPoolMap as string } : {}),
        ...(opts.enrpTlsPort !== undefined ? { enrpTlsPort: opts.enrpTlsPort as number } : {}),
        ...(opts.enrpTlsServerIds !== undefined ? { enrpTlsServerIds: opts.enrpTlsServerIds as string } : {}),
      };
      const enrpAnnounce = opts.enrpAnnounce as string | undefined;
      if (enrpAnnounce !== undefined) {
        config.enrpAnnounce = enrpAnnounce !== 'off';
        if (enrpAnnounce !== 'off') config.enrpGroup = parseMulticastGroup(enrpAnnounce);
      }
      if (opts.announce !== 'off') config.announceGroup = parseMulticastGroup(opts.announce as string);
      // A bug that escapes every handler: an unhandled rejection is reported and the registrar
      // serves on, an uncaught exception is reported and exits 70 (src/cli/process-faults.ts).
      installProcessFaultHandlers();
      let registrar: Registrar;
      try {
        registrar = await Registrar.start(config);
      } catch (error) {
        // Fatal at start (a port taken, no privilege for raw sockets): say what and what to do.
        const e = error as Error & { code?: string };
        process.stderr.write(`rserpool registrar: cannot start: ${e.message}\n  hint: ${startHint(e)}\n`);
        process.exit(1);
      }
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
