// Logging: pino, one JSON object per line on stderr (stdout stays free for command output).
// LOG_LEVEL overrides the level (trace, debug, info, warn, error, silent).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
