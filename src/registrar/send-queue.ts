// The registrar's side of the send-queue limit. An association's send() throws
// SendQueueFullError once the bytes queued plus unacknowledged reach the transport's limit
// (`maxSendQueueBytes`): a peer that never acknowledges (never SACKs, RFC 9260 §6.2, while it
// still answers HEARTBEATs) can then hold no more than that limit of our memory. What does not
// fit is dropped and counted here: ASAP answers and ENRP messages are requests' answers or
// periodic, and their senders repeat them (RFC 5352 §7 T1/T2 timers, RFC 5353 presences). A
// peer that stays over the limit for `timeout` ms (no 'drain', no send accepted) is aborted
// (RFC 9260 §9.1), and its PEs go with the association (RFC 5352 §3.5).
import type { Logger } from '../log.js';
import { SendQueueFullError, type Association } from '../transport/sctp-provider.js';

export interface SendQueueGuardOptions {
  /** How long an association may stay over its send-queue limit before it is aborted, ms. */
  timeout: number;
  /** What the guarded associations carry, for the log ('ASAP' or 'ENRP'). */
  protocol: string;
  log: Logger;
  /** Called for each dropped message and each abort (for counters kept elsewhere). */
  onDrop?: () => void;
  onAbort?: () => void;
}

interface Full {
  since: number;
  timer: NodeJS.Timeout;
  clear: () => void;
}

export class SendQueueGuard {
  /** Messages dropped because the association's send queue was full. */
  dropped = 0;
  /** Associations aborted for staying over the limit longer than the timeout. */
  aborted = 0;
  private readonly full = new Map<Association, Full>();

  constructor(private readonly options: SendQueueGuardOptions) {}

  /**
   * `a.send(payload, ppid)`, except that a full send queue drops the message: false then (and
   * for an association that is down). The association keeps `payload` (no copy): pass bytes
   * nobody reuses.
   */
  send(a: Association, payload: Uint8Array, ppid: number): boolean {
    let queued: boolean;
    try {
      a.send(payload, ppid);
      queued = a.state !== 'down';
    } catch (error) {
      if (!(error instanceof SendQueueFullError)) throw error;
      this.dropped++;
      this.options.onDrop?.();
      this.overLimit(a, error.limit);
      return false;
    }
    // Accepted: the peer acknowledges again (or the queue emptied), it is not stuck.
    if (queued) this.full.get(a)?.clear();
    return queued;
  }

  /** Associations over their limit right now (stats). */
  get overLimitNow(): number {
    return this.full.size;
  }

  /** Stops every timer (registrar closing). */
  close(): void {
    for (const f of [...this.full.values()]) f.clear();
  }

  private overLimit(a: Association, limit: number): void {
    if (this.full.has(a)) return;
    const { timeout, protocol, log } = this.options;
    const since = performance.now();
    const clear = (): void => {
      if (this.full.get(a) !== entry) return;
      this.full.delete(a);
      clearTimeout(entry.timer);
      a.off('drain', clear);
      a.off('down', clear);
    };
    const entry: Full = {
      since,
      clear,
      timer: setTimeout(() => {
        if (this.full.get(a) !== entry) return;
        clear();
        if (a.state === 'down') return;
        this.aborted++;
        this.options.onAbort?.();
        log.warn(
          { association: a.id, peer: `${a.remote.address}:${a.remote.port}`, addresses: a.remoteAddresses, limit, overLimitMs: Math.round(performance.now() - since), dropped: this.dropped },
          `${protocol} association aborted: its send queue stayed over the limit (the peer does not acknowledge)`,
        );
        a.abort('send queue full: the peer does not acknowledge');
      }, timeout),
    };
    this.full.set(a, entry);
    a.on('drain', clear);
    a.on('down', clear);
    log.info({ association: a.id, peer: `${a.remote.address}:${a.remote.port}`, limit, abortInMs: timeout }, `${protocol} send queue full: messages dropped until the peer acknowledges`);
  }
}
