// Protocol parameters (RFC 9260 §15) and the limits that bound what a hostile peer can make us
// hold, per endpoint (each SctpStackEndpoint has its own; nothing is process-wide).

export interface SctpStackOptions {
  /** RTO.Initial, ms (§15: 1 s in RFC 9260; 3 s in RFC 4960, which RSPLIB's peers expect). Default 3000. */
  rtoInitial?: number;
  /** RTO.Min, ms. Default 1000. */
  rtoMin?: number;
  /** RTO.Max, ms. Default 60000. */
  rtoMax?: number;
  /** Max.Burst (§6.1, §7.2.4): packets of new data per flush. Default 4. */
  maxBurst?: number;
  /** Association.Max.Retrans (§8.1). Default 10. */
  associationMaxRetrans?: number;
  /** Path.Max.Retrans (§8.2). Default 5. */
  pathMaxRetrans?: number;
  /** Max.Init.Retransmits (§5.1, T1-init and T1-cookie). Default 8. */
  maxInitRetransmits?: number;
  /** Valid.Cookie.Life, ms (§5.1.3). Default 60000. */
  validCookieLife?: number;
  /** HB.interval, ms (§8.3): added to the path's RTO, with jitter. Default 30000. */
  hbInterval?: number;
  /** Delayed SACK timer, ms (§6.2: at most 500). Default 200. */
  sackDelay?: number;
  /** A SACK at least every this many packets carrying DATA (§6.2). Default 2. */
  sackFrequency?: number;
  /** Path MTU in bytes (IP packet size) for every path. Default 1280 (the IPv6 minimum). */
  mtu?: number;
  /** Inbound streams we accept (MIS). Default 16. */
  inboundStreams?: number;
  /** Outbound streams we ask for (OS). Default 16. */
  outboundStreams?: number;
  /** Our receive window a_rwnd, bytes (§6: at least 1500). Default 1 MiB. */
  receiveWindow?: number;
  /** send() returns false above this many bytes queued plus in flight; 'drain' follows. Default 64 KiB. */
  highWaterMark?: number;
  // Limits (hostile input)
  /** Associations per endpoint; an INIT beyond it gets an ABORT "Out of Resource". Default 10000. */
  maxAssociations?: number;
  /** Bytes queued plus unacknowledged per association; send() beyond it throws SendQueueFullError. Default 4 MiB. */
  maxSendQueueBytes?: number;
  /** Cap on the peer's outbound streams we accept as our inbound streams. Default 2048. */
  maxInboundStreams?: number;
  /** Bytes held for reassembly and ordering per association. Default 4 MiB. */
  maxReassemblyBytes?: number;
  /** INITs answered per second per endpoint (0: no limit). Default 0. */
  maxInitsPerSecond?: number;
  /** Where exceptions caught inside the stack are reported (the association is aborted). */
  log?: (message: string) => void;
}

export type ResolvedSctpOptions = Required<Omit<SctpStackOptions, 'log'>> & { log: ((message: string) => void) | undefined };

export const DEFAULT_SCTP_OPTIONS: Readonly<Required<Omit<SctpStackOptions, 'log'>>> = {
  rtoInitial: 3000,
  rtoMin: 1000,
  rtoMax: 60000,
  maxBurst: 4,
  associationMaxRetrans: 10,
  pathMaxRetrans: 5,
  maxInitRetransmits: 8,
  validCookieLife: 60000,
  hbInterval: 30000,
  sackDelay: 200,
  sackFrequency: 2,
  mtu: 1280,
  inboundStreams: 16,
  outboundStreams: 16,
  receiveWindow: 1024 * 1024,
  highWaterMark: 64 * 1024,
  maxAssociations: 10000,
  maxSendQueueBytes: 4 * 1024 * 1024,
  maxInboundStreams: 2048,
  maxReassemblyBytes: 4 * 1024 * 1024,
  maxInitsPerSecond: 0,
};

/** Fills in the defaults and clamps values the RFC bounds. */
export function resolveSctpOptions(options: SctpStackOptions = {}): ResolvedSctpOptions {
  const o: ResolvedSctpOptions = { ...DEFAULT_SCTP_OPTIONS, log: undefined };
  for (const key of Object.keys(DEFAULT_SCTP_OPTIONS) as Array<keyof typeof DEFAULT_SCTP_OPTIONS>) {
    const v = options[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) o[key] = v;
  }
  o.log = options.log;
  o.sackDelay = Math.min(o.sackDelay, 500); // §6.2: MUST NOT exceed 500 ms
  o.receiveWindow = Math.max(o.receiveWindow, 1500); // §6
  o.inboundStreams = Math.max(1, Math.min(o.inboundStreams, 65535, o.maxInboundStreams));
  o.outboundStreams = Math.max(1, Math.min(o.outboundStreams, 65535));
  o.mtu = Math.max(576, Math.min(o.mtu, 65535));
  o.rtoMin = Math.max(1, o.rtoMin);
  o.rtoMax = Math.max(o.rtoMin, o.rtoMax);
  o.rtoInitial = Math.min(Math.max(o.rtoInitial, o.rtoMin), o.rtoMax);
  o.sackFrequency = Math.max(1, Math.floor(o.sackFrequency));
  o.maxBurst = Math.max(1, Math.floor(o.maxBurst));
  return o;
}
