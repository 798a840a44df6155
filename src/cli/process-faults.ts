// What the registrar process does with a bug that escapes every handler (installed by
// `rserpool registrar`; src/cli/registrar.ts):
//
// - An unhandled promise rejection: the work it belonged to has already failed at an await;
//   what it changed before is what a caught error would have left too. Node 20 would exit,
//   and every PE homed here would lose its registrar; worse, input that reaches such a path
//   would be a remote off switch. So it is reported as a BUG on stderr and the registrar
//   serves on. The first FULL_REPORTS are written in full, then every 1000th with its count
//   (a path that rejects per message must not flood the log). Every one is counted, for
//   /stats (processFaults) and /metrics (rserpool_process_faults_total{kind="unhandled_rejection"}).
// - An uncaught exception (thrown synchronously, from a timer or an event listener): it may
//   have stopped a state change half-way (a table updated, its index not), and serving from
//   such state can give wrong answers for a long time. It is reported and the process exits
//   with EX_SOFTWARE (70) at once, without a graceful close that would run on that state. The
//   service manager restarts it (`Restart=on-failure`); meanwhile its peers take its PEs over
//   (RFC 5353 §3.5) and the PEs hunt for another registrar (RFC 5352 §3.3); with --snapshot
//   it starts warm. Handlers for network input do not throw this far (the transports catch a
//   listener's exception and abort only that association), so this is a bug, not an attack.

import { processFaultCounts, type ProcessFaultCounts } from '../registrar/process-fault-counts.js';

/** sysexits.h EX_SOFTWARE: an internal software error. */
export const EX_SOFTWARE = 70;
/** Unhandled rejections reported in full before only every 1000th is. */
export const FULL_REPORTS = 10;

export interface ProcessFaultIo {
  /** One line to stderr (synchronous for files and pipes on Linux). */
  write(line: string): void;
  exit(code: number): void;
}

export class ProcessFaults {
  /**
   * `counts`: where the faults are counted; installProcessFaultHandlers passes the process's
   * own (src/registrar/process-fault-counts.ts), which /stats and /metrics show.
   */
  constructor(
    private readonly io: ProcessFaultIo,
    readonly counts: ProcessFaultCounts = { unhandledRejections: 0 },
  ) {}

  /** Unhandled rejections so far (each served on). */
  get unhandledRejections(): number {
    return this.counts.unhandledRejections;
  }

  unhandledRejection(reason: unknown): void {
    const n = ++this.counts.unhandledRejections;
    if (n > FULL_REPORTS && n % 1000 !== 0) return;
    const more = n === FULL_REPORTS ? ' (from now on every 1000th is reported)' : '';
    this.io.write(`rserpool registrar: BUG: unhandled promise rejection #${n} (serving on; please report)${more}: ${describe(reason)}\n`);
  }

  uncaughtException(error: unknown): void {
    this.io.write(
      `rserpool registrar: BUG: uncaught exception, exiting with code ${EX_SOFTWARE} (state may be half-changed; the service manager restarts the registrar, its peers take its PEs over meanwhile; please report): ${describe(error)}\n`,
    );
    this.io.exit(EX_SOFTWARE);
  }
}

/** Installs both handlers on the process; they count into the process's processFaultCounts. */
export function installProcessFaultHandlers(): ProcessFaults {
  const faults = new ProcessFaults({ write: (line) => process.stderr.write(line), exit: (code) => process.exit(code) }, processFaultCounts);
  process.on('unhandledRejection', (reason) => faults.unhandledRejection(reason));
  process.on('uncaughtException', (error) => faults.uncaughtException(error));
  return faults;
}

function describe(reason: unknown): string {
  if (reason instanceof Error) return reason.stack ?? reason.message;
  try {
    return String(reason);
  } catch {
    return Object.prototype.toString.call(reason);
  }
}
