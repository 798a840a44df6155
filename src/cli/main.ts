#!/usr/bin/env -S node --max-semi-space-size=1
// The `rserpool` command: one program, one subcommand per file in this folder.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerBench } from './bench.js';
import { registerDecode } from './decode.js';
import { registerRegistrar } from './registrar.js';
import { registerPe } from './pe.js';
import { registerTerminal } from './terminal.js';
import { registerResolve } from './resolve.js';
import { registerDump } from './dump.js';
import { registerSnapshot } from './snapshot.js';
import { startupErrorMessage } from './errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('rserpool')
    .description('Reliable Server Pooling (RFC 5351-5356): registrar, pool elements, pool users and operator tools')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRegistrar(program);
  registerDecode(program);
  registerBench(program);
  registerPe(program);
  registerTerminal(program);
  registerResolve(program);
  registerDump(program);
  registerSnapshot(program);
  return program;
}

/**
 * A reader that stops early (`rserpool decode big.pcap | head`) closes the pipe: the next write
 * fails with EPIPE, which ends the command quietly with the status it has so far (0 unless a
 * failure was already set), as a command killed by SIGPIPE would stop, without a stack trace.
 */
export function endQuietlyWhenOutputCloses(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit();
    throw err;
  });
}

async function main(argv: string[]): Promise<void> {
  endQuietlyWhenOutputCloses(process.stdout);
  endQuietlyWhenOutputCloses(process.stderr);
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`rserpool: ${startupErrorMessage(err)}\n`);
    // Exit now: what a failed start left behind (a socket, a worker thread) must not keep the
    // process alive, serving nothing.
    await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
    process.exit(1);
  }
}

await main(process.argv);
