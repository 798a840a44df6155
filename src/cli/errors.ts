// How the `rserpool` subcommands report a failure to start.

/**
 * A start-up failure (a port in use, raw sockets without privilege, a bad address) ends the
 * command with exit status 1 and one line that says what and what to do: a server that cannot
 * serve must not keep running.
 */
export function startupErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // Messages from our own layers carry their hint; a bare system error gets one here.
  if (code === 'EADDRINUSE' && !/choose|in use by/.test(message)) return `${message} (a port is in use: another registrar or rserpool process? choose other ports)`;
  if ((code === 'EPERM' || code === 'EACCES') && !/root|CAP_NET|choose/.test(message)) return `${message} (run as root or with CAP_NET_RAW, or use --transport udp)`;
  return message;
}
