// `rserpool bench <suite>`: the benchmarks of native-free-bench/, run from the installed command.
// Suites are imported only when asked for, so the rest of the command starts fast.
import type { Command } from 'commander';

const number = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got "${v}"`);
  return n;
};

const count = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a count (0 or more), got "${v}"`);
  return n;
};

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('run a benchmark suite (no native addon needed)');

  bench
    .command('codec')
    .description('wire codec: decode/encode of a registration, a handle resolution, and responses with 3 and 128 PEs')
    .option('--time <ms>', 'time budget per case in milliseconds', number)
    .option('--json', 'print results as JSON')
    .action(async (opts: { time?: number; json?: boolean }) => {
      const { run } = await import('../../native-free-bench/codec.js');
      await run(opts);
    });

  bench
    .command('handlespace')
    .description('one handlespace partition: register, re-register, deregister and resolve (3 items) per policy')
    .option('--pes <n>', 'pool elements per pool (default: the standard matrix)', number)
    .option('--pools <n>', 'number of pools (default: the standard matrix)', number)
    .option('--policy <name>', 'one policy by name or code (default: all 18 policies)')
    .option('--runs <n>', 'repetitions per case; the median is reported (default 3, 1 at a million PEs or with --quick)', number)
    .option('--quick', 'small pools only (1 x 1000 and 100 x 100), one run each, no heap measurement: a few seconds')
    .option('--json', 'print results as JSON')
    .addHelpText(
      'after',
      `
Runs every policy the engine implements: RFC 5356's RoundRobin, WeightedRoundRobin, Priority,
LeastUsed, LeastUsedDegradation, PriorityLeastUsed, Random, WeightedRandom and
RandomizedLeastUsed, and RSPLIB's PriorityLeastUsedDegradation, RandomizedPriorityLeastUsed,
RandomizedLeastUsedDegradation, RandomizedPriorityLeastUsedDegradation, WeightedRandomDPF,
LeastUsedDPF, LeastUsedDegradationDPF, PriorityLeastUsedDPF and PriorityLeastUsedDegradationDPF,
on the standard matrix of pools x PEs per pool: 1 x 1000, 1 x 100000,
100 x 1000, 10000 x 10 and 1 x 1000000, 3 runs per case (1 at a million PEs), then the heap
bytes per pool element at a million PEs in a child process. That is 90 cases and takes several
minutes; progress goes to stderr, one line per case. --quick, --policy, --pes/--pools make a
run short.

Examples:
  $ rserpool bench handlespace --quick
  $ rserpool bench handlespace --policy LeastUsed --pes 100000 --pools 1 --runs 5
  $ rserpool bench handlespace --json 2>/dev/null > handlespace.json`,
    )
    .action(async (opts: import('../../native-free-bench/handlespace.js').HandlespaceBenchOptions) => {
      const { run } = await import('../../native-free-bench/handlespace.js');
      await run(opts);
    });

  bench
    .command('enrp')
    .description('ENRP: a new registrar loading the handlespace from its mentor, takeover of a peer\'s PEs, handle updates absorbed per second')
    .option('--pes <n[,n...]>', 'handlespace sizes (default 100000,1000000)')
    .option('--shards <n>', 'shards per registrar (default 2)', number)
    .option('--page-size <n>', 'PEs per handle table response (default 128)', number)
    .option('--duration <s>', 'seconds of the handle update phase (default 5)', number)
    .option('--pus <n>', 'pool user associations resolving during the update stream (default 10)', number)
    .option('--window <n>', 'resolutions in flight per pool user association (default 32)', number)
    .option('--pools <n>', 'pools the streamed PEs and the resolutions are spread over (default 100)', number)
    .option('--runs <n>', 'repetitions of the update phases; medians are reported (default 1)', number)
    .option('--json', 'print results as JSON')
    .action(async (opts: import('../../native-free-bench/enrp.js').EnrpBenchOptions) => {
      const { run } = await import('../../native-free-bench/enrp.js');
      await run(opts);
    });

  bench
    .command('hostile')
    .description('hostile flood: mutated ASAP and made-up ENRP against a registrar child with 100 legitimate PEs and a resolving pool user; rate, p99, RSS before/after, ENRP out/in')
    .option('--asap <n>', 'hostile ASAP messages per flood (default 1000000)', count)
    .option('--enrp <n>', 'hostile ENRP messages per flood (default 100000)', count)
    .option('--floods <n>', 'floods one after another, memory measured after each (default 2)', number)
    .option('--settle <s>', 'seconds after a flood before memory is measured (default 10)', number)
    .option('--before <s>', 'seconds of the pool user measured before the first flood (default 5)', number)
    .option('--shards <n>', 'registrar shard workers (default 2)', number)
    .option('--pes <n>', 'legitimate PEs (default 100)', number)
    .option('--pools <n>', 'pools of the legitimate PEs (default 10)', number)
    .option('--pu-rate <n>', "the pool user's resolutions per second (default 1000)", number)
    .option('--attackers <n>', 'attacking ASAP associations (default 4)', number)
    .option('--seed <n>', 'seed of the hostile messages (default 11)', number)
    .option('--keep-attackers', "keep the attackers' associations (and their PEs) after each flood")
    .option('--no-limits', 'registrar without per-association rates and PE limits')
    .option('--heap-snapshot <dir>', 'heap snapshots of every registrar thread after the last flood')
    .option('--json', 'print results as JSON')
    .action(async (opts: import('../../native-free-bench/hostile.js').HostileBenchOptions & { limits?: boolean }) => {
      const { run } = await import('../../native-free-bench/hostile.js');
      await run({ ...opts, noLimits: opts.limits === false });
    });

  bench
    .command('subscriptions')
    .description('pool users subscribed to a pool (RFC 5352 S bit) while its PEs re-register: pushes/s, registrar CPU per push, change-to-push delay, effect on resolutions')
    .option('--subscribers <n>', 'subscribed pool user associations (default 1000)', number)
    .option('--pes <n>', 'PEs in the pool (default 1000)', number)
    .option('--rate <n>', 're-registrations per second, each with a new load (default 1000)', number)
    .option('--interval <ms>', "the registrar's --subscription-interval (default 100)", number)
    .option('--duration <s>', 'seconds per measured phase (default 10)', number)
    .option('--shards <n>', 'registrar shard workers (default 1)', number)
    .option('--resolvers <n>', 'resolving pool user associations in the resolution phases (default 4)', number)
    .option('--window <n>', 'resolutions in flight per resolver (default 16)', number)
    .option('--marker-every <ms>', 'how often the marker PE changes (the delay samples; default 50)', number)
    .option('--subscriber-threads <n>', "worker threads of the generator receiving the subscribers' pushes (default 2)", number)
    .option('--in-process', "only the shard's side, in this process and virtual time: CPU per push of selection, encoding and the batch copy (no SCTP)")
    .option('--json', 'print results as JSON')
    .action(async (opts: import('../../native-free-bench/subscriptions.js').SubscriptionsBenchOptions) => {
      const { run } = await import('../../native-free-bench/subscriptions.js');
      await run(opts);
    });

  bench
    .command('snapshot')
    .description('handlespace snapshot (FlatBuffers): save and load of 1,000,000 PEs (CPU time, file size), one pool read from the file against the full parse, and a registrar\'s warm start from a snapshot of 100,000 PEs')
    .option('--pes <n>', 'PEs saved and loaded (default 1000000)', number)
    .option('--pools <n>', 'pools they are spread over (default 1000)', number)
    .option('--parts <n>', 'partitions (shards) the handlespace is split into (default 4)', number)
    .option('--runs <n>', 'repetitions of save and load; medians are reported (default 3)', number)
    .option('--warm-pes <n>', 'PEs of the registrar warm start (default 100000; 0: skip it)', count)
    .option('--json', 'print results as JSON')
    .action(async (opts: import('../../native-free-bench/snapshot.js').SnapshotBenchOptions) => {
      const { run } = await import('../../native-free-bench/snapshot.js');
      await run(opts);
    });

  bench
    .command('e2e')
    .description('end to end: PEs registering and re-registering, PUs resolving handles over SCTP/UDP, TCP or TLS, against a registrar child process on loopback or any running registrar (--registrar)')
    .option('--shards <n[,n...]>', "registrar shard count (0: its one shard on the I/O thread), or a list to compare, runs alternating between them (default: the registrar's, cores - 1, at least 1)")
    .option('--transport <t[,t...]>', 'what the associations run over: sctp (SCTP over UDP), tcp (plain TCP), tls (TLS with a PSK; a PSK file is written for our registrar), or a list to compare, runs alternating (default sctp); over tcp and tls each run ends with connection setups (TLS handshakes) per second')
    .option('--connect-seconds <s>', 'seconds of the connection-setup phase over tcp and tls (default --duration, at most 5)', number)
    .option('--address <ip>', 'address of the registrar, the load generator and every PE (default 127.0.0.1)')
    .option('--registrar <host:port[:udpPort]>', 'drive this registrar (any ASAP registrar over SCTP over UDP) instead of starting ours; ports default to 3863 and 9899')
    .option('--registrar-tls-port <port>', 'with --registrar and --transport tls: its TLS port (default 3864); tcp uses the port of --registrar', number)
    .option('--registrar-tls-psk <file>', 'with --registrar and --transport tls: a PSK file the registrar knows (identity:hex-key lines; the first is offered)')
    .option('--registrar-pid <pid[,pid...]>', 'with --registrar: its process ID(s) on this host, for its CPU per operation and RSS (/proc; several are summed)', (v: string) => v.split(',').map(number))
    .option('--local-address <ip>', 'local address of the SCTP associations, one per association in turn (repeat the option); each PE advertises that of the association it registers over (default --address, or with --registrar the address this host sends from towards it)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--local-udp-port <port>', 'local UDP encapsulation port of the first association, the next ones count up (default 0: any free port each)', count)
    .option('--request-timeout <ms>', 'a request unanswered this long counts as a timeout and frees its slot; 3 times this with no answer at all ends a phase (default 5000)', number)
    .option('--pes <n>', 'pool elements (default 100000)', number)
    .option('--pools <n>', 'pools the PEs are spread over (default 100)', number)
    .option('--pus <n>', 'pool user associations resolving handles (default 10)', number)
    .option('--policy <name>', 'pool policy by name or alias (default RoundRobin)')
    .option('--duration <s>', 'seconds of measured handle resolutions, and of the paced run (default 10)', number)
    .option('--pe-associations <n>', 'associations the PEs register over (default 10)', number)
    .option('--window <n>', 'requests in flight per association (default 32)', number)
    .option('--runs <n>', 'repetitions per shard count and transport; medians are reported (default 1)', number)
    .option('--rate <n>', 'requests/s of the paced resolution phase (default: half the measured rate)', number)
    .option('--keep-alive-interval <ms>', "registrar's keep-alive interval (default 600000: no keep-alives during the phases)", number)
    .option('--cpu-prof <dir>', 'write node --cpu-prof profiles of the registrar child here (also: RSERPOOL_BENCH_CPU_PROF)')
    .option('--heap-snapshot <dir>', 'write a heap snapshot of every registrar thread here once every PE is registered (summary: dist/native-free-bench/e2e-heap-summary.js)')
    .option('--soak <s>', "instead of the phases: a soak of this many seconds with keep-alives on (the registrar's default interval unless --keep-alive-interval), every keep-alive answered, every PE re-registering every --reregister-interval, resolutions paced at --rate (default 15000); --pes defaults to 20000", number)
    .option('--soak-window <s>', 'with --soak: seconds per reported window (default 30)', number)
    .option('--soak-warmup <s>', 'with --soak: windows starting before this are left out of the medians and the RSS slope (default 60)', count)
    .option('--reregister-interval <ms>', 'with --soak: every PE re-registers this often, spread evenly over the interval (default 30000)', number)
    .option('--json', 'print results as JSON')
    .addHelpText(
      'after',
      `
--soak S (issue 14) registers the PEs once, then for S seconds keeps the registrar living a
production life: keep-alives answered, re-registrations spread evenly, paced resolutions. Per
window (stderr, one line each; --json: everything): resolutions, empty answers, timeouts,
p50/p99/max latency and a log-bucket histogram, keep-alives received/answered, PEs lost (the
registrar's keep-alive timeouts), registrar RSS and CPU, the event-loop delay of every
registrar thread and of the generator, GC pauses per registrar thread, the largest shard batch.
At the end: medians of the windows after --soak-warmup, and the RSS slope in MiB per hour
(least squares). SCTP over UDP against the registrar the bench starts; one shard count.

Every request ends once: answered, answered negatively (ASAP_ERROR or a rejecting response,
counted by cause), or timed out (counted, its slot freed). A phase in which the registrar stops
answering ends and says so; the run goes on with the next phase.

Examples:
  $ rserpool bench e2e --pes 10000 --runs 3 --shards 1,2
  $ rserpool bench e2e --pes 10000 --runs 3 --transport sctp,tcp,tls
  $ rserpool bench e2e --registrar 10.0.0.1:3863 --transport tls --registrar-tls-psk psk.txt --pes 10000
  $ rserpool bench e2e --registrar 10.0.0.1:3863:9899 --local-address 10.0.0.2 --pes 10000
  $ rserpool bench e2e --registrar [fd00::1]:3863 --local-address fd00::2 --local-address fd00::3
  $ rserpool bench e2e --soak 900 --pes 20000 --rate 15000 --json > soak.json 2> soak.log`,
    )
    .action(async (opts: import('../../native-free-bench/e2e.js').E2eBenchOptions & Omit<import('../../native-free-bench/e2e-soak.js').SoakBenchOptions, 'soak'> & { soak?: number }) => {
      if (opts.soak !== undefined) {
        const unsupported = (['registrar', 'transport', 'runs', 'localAddress', 'wireTrace', 'heapSnapshot'] as const).filter((k) => opts[k] !== undefined);
        if (unsupported.length > 0) throw new Error(`--soak: not with ${unsupported.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} (it drives the registrar it starts, over SCTP, once)`);
        const { runSoak } = await import('../../native-free-bench/e2e-soak.js');
        await runSoak({ ...opts, soak: opts.soak });
        return;
      }
      const { run } = await import('../../native-free-bench/e2e.js');
      await run(opts);
    });

  bench
    .command('sctp-pingpong')
    .description('our SCTP stack over UDP on loopback, two endpoints in one process, 100-byte messages: ping-pong and one-way; rate, p50/p99, CPU and packets per message')
    .option('--seconds <s>', 'seconds per case (default 3)', number)
    .option('--runs <n>', 'runs, each in a child process of its own; medians are reported (default 1: in this process)', number)
    .option('--outstanding <n[,n...]>', 'round trips in flight, one ping-pong case each (default 1,32)')
    .option('--no-one-way', 'without the one-way case')
    .option('--mtu <bytes>', "path MTU of both endpoints (default the stack's, 1280)", number)
    .option('--json', 'print results as JSON')
    .action(async (opts: import('../../native-free-bench/sctp-pingpong.js').PingPongBenchOptions) => {
      const { bench: run } = await import('../../native-free-bench/sctp-pingpong.js');
      await run(opts);
    });

  bench
    .command('alloc')
    .description("V8 heap bytes the registrar allocates per message on its I/O thread and in its shard: re-registration, handle resolution, keep-alive + ACK (a fixed shape: 1 association, 1 in flight)")
    .option('--pes <n>', 'PEs of the request phases (default 2000)', number)
    .option('--pools <n>', 'pools (default 100)', number)
    .option('--ops <n>', 'measured messages per request phase (default 20000)', number)
    .option('--associations <n>', 'associations of the generator (default 1)', number)
    .option('--window <n>', 'requests in flight per association (default 1)', number)
    .option('--keep-alive-pes <n>', 'PEs of the keep-alive phase, keep-alives every second (default 400)', number)
    .option('--keep-alive-seconds <s>', 'seconds the keep-alive phase is measured (default 10)', number)
    .option('--shards <n>', 'shard workers of the registrar (default 1)', number)
    .option('--json', 'print results as JSON')
    .action(async (opts: import('../../native-free-bench/message-allocation.js').AllocBenchOptions) => {
      const { run } = await import('../../native-free-bench/message-allocation.js');
      await run(opts);
    });
}
