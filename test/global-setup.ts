// Tests that run the `rserpool` command as a child process need the compiled CLI. tsc emits
// even when it finds type errors; those are kept for test/typecheck.test.ts to report, so
// that one file's type error fails one test instead of hiding every result.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

export default function setup(): void {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { encoding: 'utf8' });
  mkdirSync('dist', { recursive: true });
  writeFileSync('dist/tsc-output.txt', `${tsc.stdout}${tsc.stderr}`);
}
