// A readable dump of one shard's handlespace partition for operators (`rserpool dump`,
// the control channel's GET /handlespace, the admin API and the dashboard; not the warm-restart
// snapshot file of src/snapshot/), in the spirit of RSPLIB's hsdump: each pool with
// its policy, each element with owner, transports, policy values and its pending timer.
// Built inside the shard worker (the timer clock is the worker's own performance.now()).
import type { Partition, Pool } from '../handlespace/index.js';
import { TimerKind } from '../handlespace/pool-element.js';
import { addressToString } from '../wire/address.js';
import { ParamType, policyFields, policyTypeName, TransportUse } from '../wire/index.js';
import { readPoolElement, type TransportParameter } from '../wire/parameters.js';
import { Reader } from '../wire/reader.js';

export interface DumpTransport {
  protocol: string;
  addresses: string[];
  port: number;
  use: 'data' | 'data+control';
}

export interface DumpElement {
  peId: number;
  /** Server ID of the registrar that owns the PE (its home). */
  home: number;
  registrationLife: number;
  userTransport: DumpTransport | null;
  asapTransport: DumpTransport | null;
  policy: Record<string, number>;
  /** Association ID at this registrar (0 for PEs learned from peers). */
  association: number;
  unreachableReports: number;
  /** The PE's one pending timer: what it does and in how many ms. */
  timer: { kind: string; inMs: number } | null;
}

export interface DumpPool {
  /** Pool handle as text when printable UTF-8, and always as hex. */
  handle: string;
  handleHex: string;
  policy: { type: number; name: string };
  elements: DumpElement[];
}

const timerKindName: Record<number, string> = {
  [TimerKind.KeepAliveTransmission]: 'keep-alive transmission',
  [TimerKind.KeepAliveTransmissionHome]: 'keep-alive transmission (home)',
  [TimerKind.KeepAliveTimeout]: 'keep-alive timeout',
  [TimerKind.LifetimeExpiry]: 'lifetime expiry',
};

const protocolName: Record<number, string> = {
  [ParamType.SctpTransport]: 'sctp',
  [ParamType.TcpTransport]: 'tcp',
  [ParamType.UdpTransport]: 'udp',
  [ParamType.UdpLiteTransport]: 'udp-lite',
  [ParamType.DccpTransport]: 'dccp',
  [ParamType.OpaqueTransport]: 'opaque',
};

function transport(t: TransportParameter | null): DumpTransport | null {
  if (t === null) return null;
  return {
    protocol: protocolName[t.type] ?? `0x${t.type.toString(16)}`,
    addresses: t.addresses.map(addressToString),
    port: t.port,
    use: t.type === ParamType.SctpTransport && t.transportUse === TransportUse.DataPlusControl ? 'data+control' : 'data',
  };
}

function handleText(h: Uint8Array): string {
  const text = Buffer.from(h).toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? text : Buffer.from(h).toString('hex');
}

export function dumpPartition(partition: Partition, now: number): DumpPool[] {
  const reader = new Reader();
  const pools: DumpPool[] = [];
  for (const pool of partition.allPools()) pools.push(dumpPool(pool, now, reader));
  return pools;
}

/** A pool without its elements, with their count (the admin API's GET /api/pools). */
export interface PoolSummary {
  handle: string;
  handleHex: string;
  policy: { type: number; name: string };
  elementCount: number;
}

export function summarizePool(pool: Pool): PoolSummary {
  return { handle: handleText(pool.handle), handleHex: Buffer.from(pool.handle).toString('hex'), policy: policyOf(pool), elementCount: pool.elements.size };
}

function policyOf(pool: Pool): { type: number; name: string } {
  return { type: pool.policyType, name: policyTypeName.get(pool.policyType >>> 0) ?? `0x${(pool.policyType >>> 0).toString(16)}` };
}

/** One pool with every element (the admin API's GET /api/pools/{handle}). */
export function dumpPool(pool: Pool, now: number, reader = new Reader()): DumpPool {
  const elements: DumpElement[] = [];
  for (const e of pool.elements.values()) {
    reader.reset(e.encoded);
    const decoded = readPoolElement(reader, 0, e.encoded.length);
    const policy: Record<string, number> = {};
    for (const f of policyFields.get(e.policy.type >>> 0) ?? []) policy[f] = e.policy[f];
    elements.push({
      peId: e.peId,
      home: e.homeRegistrarId,
      registrationLife: e.registrationLife,
      userTransport: transport(decoded?.userTransport ?? null),
      asapTransport: transport(decoded?.asapTransport ?? null),
      policy,
      association: e.associationId,
      unreachableReports: e.unreachableReports,
      timer: e.timerKind === TimerKind.None ? null : { kind: timerKindName[e.timerKind] ?? String(e.timerKind), inMs: Math.round(e.timerAt - now) },
    });
  }
  elements.sort((a, b) => a.peId - b.peId);
  return { handle: handleText(pool.handle), handleHex: Buffer.from(pool.handle).toString('hex'), policy: policyOf(pool), elements };
}

/** For `rserpool snapshot show` (src/cli/snapshot.ts): the same texts from a snapshot file's records. */
export { transport as dumpTransport, handleText as poolHandleText };
