// `rserpool bench <suite>`: the benchmarks of native-free-bench/, run from the installed command.
// Suites are imported only when asked for, so the rest of the command starts fast.
import type { Command } from 'commander';

const number = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got "${v}"`);
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
    .option('--policy <name>', 'one policy by name or code (default: every policy)')
    .option('--runs <n>', 'repetitions per case; the median is reported', number)
    .option('--json', 'print results as JSON')
    .action(async (opts: { pes?: number; pools?: number; policy?: string; runs?: number; json?: boolean }) => {
      const { run } = await import('../../native-free-bench/handlespace.js');
      await run(opts);
    });
}
