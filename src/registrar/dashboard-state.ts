// What one dashboard update shows of the handlespace and the peers (src/registrar/dashboard.ts):
// a bounded view, whatever the handlespace holds. The largest pools first, at most
// MAX_POOLS_SHOWN of them, each with at most MAX_ELEMENTS_SHOWN PEs, at most MAX_PEERS_SHOWN
// peers; the totals are always exact. So an update is about 200 KiB at most, with ten PEs
// registered or a million. Pool handles and transports come from the network: the page renders them as
// text (never as markup).
import { hexId } from '../wire/identifier-text.js';
import type { PoolSummary, DumpPool, DumpTransport } from '../shard/handlespace-dump.js';
import type { ControlPeer } from './control.js';

export const MAX_POOLS_SHOWN = 50;
export const MAX_ELEMENTS_SHOWN = 20;
export const MAX_PEERS_SHOWN = 100;

export interface DashboardElement {
  /** PE ID in hex, as the registrar's logs and the tools print it. */
  id: string;
  /** Home registrar's ID in hex. */
  home: string;
  /** True when this registrar is the PE's home. */
  ownedHere: boolean;
  /** User transport: "sctp 10.0.0.1:5000" (first address, and how many more). */
  transport: string;
  /** Policy values, e.g. { weight: 3 } or { load: 20 } (RFC 5356). */
  policy: Record<string, number>;
  unreachableReports: number;
  /** The pending timer, e.g. "keep-alive transmission in 3.2 s", or "". */
  timer: string;
}

export interface DashboardPool {
  handle: string;
  handleHex: string;
  policy: string;
  elementCount: number;
  elements: DashboardElement[];
}

export interface DashboardPeer {
  id: string;
  state: string;
  address: string;
  associated: boolean;
  lastHeardMsAgo: number;
  /** "in sync", "differs" or "unknown": its announced checksum against ours. */
  checksum: string;
}

export interface DashboardHandlespace {
  totals: { pools: number; elements: number; peers: number };
  pools: DashboardPool[];
  peers: DashboardPeer[];
}

function transportText(t: DumpTransport | null): string {
  if (t === null) return '';
  const first = t.addresses[0] ?? '?';
  const address = first.includes(':') ? `[${first}]` : first;
  const more = t.addresses.length > 1 ? ` (+${t.addresses.length - 1})` : '';
  return `${t.protocol} ${address}:${t.port}${more}`;
}

/** The pools an update shows in full: the largest first, at most MAX_POOLS_SHOWN. */
export function poolsToShow(pools: readonly PoolSummary[]): PoolSummary[] {
  return [...pools]
    .sort((a, b) => b.elementCount - a.elementCount || (a.handleHex < b.handleHex ? -1 : a.handleHex > b.handleHex ? 1 : 0))
    .slice(0, MAX_POOLS_SHOWN);
}

/**
 * The view of one update. `pools` is every pool (counts only); `detailed` holds the elements
 * of the pools to show (poolsToShow), by handleHex: a pool without its entry there (gone since
 * the count, its shard restarting) is shown with its count and no rows.
 */
export function dashboardHandlespace(registrarId: number, pools: readonly PoolSummary[], detailed: ReadonlyMap<string, DumpPool>, peers: readonly ControlPeer[]): DashboardHandlespace {
  let elements = 0;
  for (const pool of pools) elements += pool.elementCount;
  const shown = poolsToShow(pools).map((summary): DashboardPool => {
    const pool = detailed.get(summary.handleHex);
    return {
      handle: summary.handle,
      handleHex: summary.handleHex,
      policy: summary.policy.name.replace(/([a-z])([A-Z])/g, '$1 $2'), // WeightedRoundRobin: Weighted Round Robin
      elementCount: pool?.elements.length ?? summary.elementCount,
      elements: (pool?.elements ?? [])
        .slice()
        .sort((a, b) => a.peId - b.peId)
        .slice(0, MAX_ELEMENTS_SHOWN)
        .map((e) => ({
          id: hexId(e.peId),
          home: hexId(e.home),
          ownedHere: e.home === registrarId,
          transport: transportText(e.userTransport),
          policy: e.policy,
          unreachableReports: e.unreachableReports,
          timer: e.timer === null ? '' : `${e.timer.kind} in ${(e.timer.inMs / 1000).toFixed(1)} s`,
        })),
    };
  });
  return {
    totals: { pools: pools.length, elements, peers: peers.length },
    pools: shown,
    peers: dashboardPeers(peers),
  };
}

export function dashboardPeers(peers: readonly ControlPeer[]): DashboardPeer[] {
  return peers.slice(0, MAX_PEERS_SHOWN).map((p) => ({
    id: p.id,
    state: p.state,
    address: p.address ?? '',
    associated: p.associated,
    lastHeardMsAgo: p.lastHeardMsAgo,
    checksum: p.announcedChecksum === null || p.localChecksum === null ? 'unknown' : p.announcedChecksum === p.localChecksum ? 'in sync' : 'differs',
  }));
}

/** The counts of whole pools (a registrar without the pools() summary request). */
export function summarize(pools: readonly DumpPool[]): PoolSummary[] {
  return pools.map((p) => ({ handle: p.handle, handleHex: p.handleHex, policy: p.policy, elementCount: p.elements.length }));
}
