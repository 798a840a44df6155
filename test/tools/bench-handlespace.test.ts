// `rserpool bench handlespace`: every policy the engine knows, progress on stderr, a help text
// that says what it runs, and a quick mode.
import { describe, expect, it } from 'vitest';
import { knownPolicies } from '../../src/policy/registry.js';
import { runCli } from '../helpers/cli.js';

const ALL = [...knownPolicies()].map((d) => d.name);

describe('rserpool bench handlespace', () => {
  it('knows 18 policies, and --help names each of them and the pool shapes it runs', () => {
    expect(ALL).toHaveLength(18);
    const help = runCli(['bench', 'handlespace', '--help']);
    expect(help.status).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    for (const name of ALL) expect(text).toMatch(new RegExp(`\\b${name}\\b`));
    expect(text).toMatch(/1 x 1000, 1 x 100000, 100 x 1000, 10000 x 10 and 1 x 1000000/);
    expect(text).toMatch(/--quick/);
  });

  it('runs all 18 policies by default, one progress line per case on stderr, results on stdout', () => {
    const run = runCli(['bench', 'handlespace', '--quick', '--json', '--pes', '10', '--pools', '2'], 120_000);
    expect(run.status, run.stderr).toBe(0);
    const { results } = JSON.parse(run.stdout) as { results: { policy: string; pools: number; pesPerPool: number; register: number }[] };
    expect(results.map((r) => r.policy)).toEqual(ALL);
    for (const r of results) {
      expect([r.pools, r.pesPerPool]).toEqual([2, 10]);
      expect(r.register).toBeGreaterThan(0);
    }
    expect(run.stderr).toMatch(/18 policies x 1 pool shape \(2 x 10\) = 18 cases, quick/);
    for (let i = 1; i <= 18; i++) expect(run.stderr).toContain(`[${i}/18] 2 x 10 ${ALL[i - 1]}`);
    expect(run.stderr).toMatch(/done in \d+\.\d s/);
  });

  it('takes one policy by name, short name or type code, and names the known ones for an unknown one', () => {
    const byCode = runCli(['bench', 'handlespace', '--quick', '--json', '--pes', '10', '--pools', '1', '--policy', '0xb0002001']);
    expect(byCode.status, byCode.stderr).toBe(0);
    expect((JSON.parse(byCode.stdout) as { results: { policy: string }[] }).results.map((r) => r.policy)).toEqual(['WeightedRandomDPF']);
    const byShortName = runCli(['bench', 'handlespace', '--quick', '--json', '--pes', '10', '--pools', '1', '--policy', 'lud']);
    expect((JSON.parse(byShortName.stdout) as { results: { policy: string }[] }).results.map((r) => r.policy)).toEqual(['LeastUsedDegradation']);
    const unknown = runCli(['bench', 'handlespace', '--quick', '--pes', '10', '--policy', 'Fastest']);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown policy Fastest \(known: RoundRobin, /);
  });
});
