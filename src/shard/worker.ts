// A shard worker: one thread that owns one partition of the handlespace and the ASAP service
// over it. piscina starts the thread; the one task it runs, `attach`, hands over a
// MessagePort, and from then on batches flow over that port in both directions (no task per
// message). Timers of the partition run on this thread's event loop.
import type { MessagePort } from 'node:worker_threads';
import { Partition, SharedElementCensus, systemScheduler } from '../handlespace/index.js';
import type { PartitionLimits } from '../handlespace/index.js';
import { AsapService } from './asap-service.js';
import { timerWakeGrid } from './timer-wake-grid.js';
import { EnrpHandlespace } from './enrp-handlespace.js';
import { AsapTransportTable, asapTransportTlv } from './pe-asap-transport.js';
import { dumpPartition, dumpPool, summarizePool } from './handlespace-dump.js';
import { encodePartAsync } from '../snapshot/part-writer.js';
import { SnapshotRestore } from '../snapshot/restore.js';
import { BatchSizes, EventLoopDelayMonitor, policyCensus } from './metrics-counts.js';
import { Subscriptions, type SubscriptionSettings } from './subscriptions.js';
import { FromShardWriter, readToShard, shardOf, type ShardReply, type ShardRequest, type ToShardHandler } from './thread-protocol.js';

export interface ShardConfig {
  registrarId: number;
  keepAliveInterval: number;
  keepAliveTimeout: number;
  limits: Partial<PartitionLimits>;
  /** Shards in the set: which pools of a handle table page are this shard's. */
  shardCount?: number;
  /** Send ENRP_HANDLE_UPDATEs for own-PE changes (false: no ENRP peers can exist). */
  enrp?: boolean;
  /** PEs one peer registrar may be home of in this shard (--max-pes-per-peer; default: no limit). */
  maxElementsPerPeer?: number;
  /** Accept PE user transports naming addresses other than the association's (default false). */
  allowForeignAddresses?: boolean;
  /**
   * The shards' shared PE counts (src/handlespace/element-census.ts), one cell per shard: with
   * it, limits.maxPoolElements holds for the handlespace as a whole. Set by the ShardSet.
   */
  census?: SharedArrayBuffer;
  /** Pool users' subscriptions (RFC 5352 §2.2.5): coalescing interval and limits (src/shard/subscriptions.ts). */
  subscriptions?: Partial<SubscriptionSettings>;
  /** Act on RSPLIB's takeover suggestion (T flag on ADD_PE). */
  takeoverSuggestion?: boolean;
}

export interface AttachTask {
  shard: number;
  config: ShardConfig;
  port: MessagePort;
}

export default function attach(task: AttachTask): number {
  const { port, config } = task;
  const out = new FromShardWriter();
  let flushScheduled = false;
  // postMessage reads the transfer list at once: one list for every batch.
  const transfer: ArrayBuffer[] = [];
  const flush = (): void => {
    flushScheduled = false;
    if (out.empty) return;
    const batch = out.take();
    transfer[0] = batch;
    port.postMessage(batch, transfer);
  };
  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  };
  const partition = new Partition({
    ownRegistrarId: config.registrarId,
    keepAliveInterval: config.keepAliveInterval,
    keepAliveTimeout: config.keepAliveTimeout,
    limits: config.limits,
    ...(config.census !== undefined ? { census: new SharedElementCensus(config.census, task.shard) } : {}),
    // Keep-alives due within one grid step leave in one turn, one batch (timer-wake-grid.ts).
    scheduler: timerWakeGrid(),
  });
  const log = (level: 'info' | 'warn') => (fields: object, message: string) => {
    const reply: ShardReply = { op: 'log', level, fields, message };
    port.postMessage(reply);
  };
  const asapTransports = new AsapTransportTable();
  const shardCount = config.shardCount ?? 1;
  const enrp = new EnrpHandlespace(
    partition,
    config.registrarId,
    asapTransports,
    {
      handleUpdate(message) {
        out.enrpHandleUpdate(message);
        scheduleFlush();
      },
    },
    (handle) => shardCount === 1 || shardOf(handle, shardCount) === task.shard,
    config.maxElementsPerPeer,
  );
  const service = new AsapService(
    partition,
    config.registrarId,
    {
      send(associationId, message) {
        out.sendAsap(associationId, message);
        scheduleFlush();
      },
      abort(associationId) {
        out.abortAssociation(associationId);
        scheduleFlush();
      },
      ...(config.enrp === false ? {} : { ownChange: (element, added) => enrp.ownChange(element, added) }),
      sendToTransport(asapTransport, message) {
        out.sendAsapToTransport(asapTransport, message);
        scheduleFlush();
      },
    },
    { info: log('info'), warn: log('warn') },
    asapTransports,
    { allowForeignAddresses: config.allowForeignAddresses === true },
  );

  const subscriptions = new Subscriptions(
    partition,
    systemScheduler,
    (associationId, message) => {
      out.sendAsap(associationId, message);
      scheduleFlush();
    },
    config.subscriptions,
  );
  service.subscriptions = subscriptions;
  enrp.poolWatch = subscriptions;
  enrp.takeoverSuggestion = config.takeoverSuggestion === true;

  // Warm restart (src/snapshot/restore.ts): this shard's pools come back from the snapshot in
  // the background, a slice per event-loop turn, while the shard serves. A message for a pool
  // still in the file puts that pool back first (restorePool). What needs the whole
  // handlespace either finishes the restore at once (ENRP work on every PE of an owner: an
  // audit, a takeover, a handle table for a peer; a snapshot save) or is answered once the
  // background restore is complete (owners, counts, dumps). PE checksums are answered at
  // once as the snapshot's: the restored PEs' sums plus those of the PE records still in the
  // file, so neither our presences nor our audits of peers see a partial one (RFC 5353 §3.6).
  let restore: SnapshotRestore | null = null;
  let restoring = false;
  let restoreSliceMs = 0;
  const whenRestored: Array<() => void> = [];
  const restorePool = (handle: Uint8Array): void => {
    if (restore!.restorePool(handle)) scheduleFlush(); // its own PEs' keep-alives with the H bit
  };
  const restored = (): void => {
    restoring = false;
    service.restorePool = undefined;
    enrp.restorePool = undefined;
    flush(); // records written so far go ahead of the answers, as for any request
    for (const answer of whenRestored.splice(0)) answer();
  };
  const restoreStep = (): void => {
    if (!restoring) return;
    if (restore!.step(restoreSliceMs)) restored();
    else {
      scheduleFlush();
      setImmediate(restoreStep);
    }
  };
  /** The rest of the restore, now. */
  const finishRestore = (): void => {
    if (!restoring) return;
    restore!.finish();
    restored();
  };

  // For /metrics: ASAP messages taken from batches, batch sizes, this thread's event-loop delay.
  let asapProcessed = 0;
  const batchSizes = new BatchSizes();
  const loopDelay = new EventLoopDelayMonitor();
  const records: ToShardHandler = {
    asapMessage: (associationId, message) => {
      asapProcessed++;
      service.handle(associationId, message);
    },
    associationUp: (associationId, remote, addresses) => service.associationUp(associationId, remote, addresses),
    associationDown: (associationId) => service.associationDown(associationId),
    associationDetached: (associationId) => service.associationDetached(associationId),
    enrpHandleUpdate: (message) => enrp.applyHandleUpdate(message),
    enrpHandleTable: (message) => enrp.applyHandleTable(message),
    // RFC 5353 §3.6.3: every PE of the peer is marked; §3.5.2: every PE of the dead peer
    // moves; a handle table holds every PE: the restore is finished first.
    enrpAuditBegin: (owner) => {
      finishRestore();
      enrp.auditBegin(owner);
    },
    enrpAuditEnd: (owner) => void enrp.auditEnd(owner),
    enrpTakeOver: (from, to) => {
      finishRestore();
      enrp.takeOver(from, to);
    },
    handleTablePage(session, r) {
      finishRestore();
      const { message, more } = enrp.nextPage(session, r.owner, r.maxElements, r.maxBytes, r.senderId, r.receiverId);
      out.handleTablePage(session, more, message);
      scheduleFlush();
    },
    handleTableEnd: (session) => enrp.endSession(session),
  };

  port.on('message', (data: ArrayBuffer | ShardRequest) => {
    if (data instanceof ArrayBuffer) {
      const before = asapProcessed;
      readToShard(data, records);
      batchSizes.add(asapProcessed - before);
      flush();
      return;
    }
    // Records written before this request (timer events) go first: the I/O thread reads
    // them before the reply, as the shard does with its batches and requests.
    flush();
    if (restoring) {
      if (data.op === 'pool' || data.op === 'removeElement') restorePool(data.poolHandle);
      else if (data.op === 'snapshotPart') finishRestore();
      else if (data.op !== 'associationElements' && data.op !== 'restoreSnapshot' && data.op !== 'checksums' && !(data.op === 'restoreProgress' && !data.wait)) {
        // Counts, dumps: of the whole handlespace, once it is whole. (Checksums are answered
        // now: the restored PEs' plus those still in the file, the snapshot's checksum.)
        whenRestored.push(() => request(data));
        return;
      }
    }
    request(data);
  });

  const request = (data: ShardRequest): void => {
    if (data.op === 'metrics') {
      const reply: ShardReply = {
        op: 'metrics',
        id: data.id,
        metrics: {
          causesSent: [...service.causesSent.byCause],
          resolutionsByPolicy: [...service.resolutionsByPolicy.byPolicy],
          asapProcessed,
          batches: batchSizes.batches,
          batchRecords: batchSizes.records,
          batchMax: batchSizes.max,
          eventLoopDelay: loopDelay.report(data.resetWindows),
          ...policyCensus(partition.allPools()),
        },
      };
      if (data.resetWindows) batchSizes.max = 0;
      port.postMessage(reply);
      return;
    }
    if (data.op === 'poolSummaries') {
      const reply: ShardReply = { op: 'poolSummaries', id: data.id, pools: [...partition.allPools()].map(summarizePool) };
      port.postMessage(reply);
      return;
    }
    if (data.op === 'pool') {
      const pool = partition.findPool(data.poolHandle);
      const reply: ShardReply = { op: 'pool', id: data.id, pool: pool === undefined ? null : dumpPool(pool, performance.now()) };
      port.postMessage(reply);
      return;
    }
    if (data.op === 'removeElement') {
      const outcome = service.removeByOperator(data.poolHandle, data.peId);
      flush(); // the DEL_PE for the peers goes ahead of the answer
      const reply: ShardReply = { op: 'removeElement', id: data.id, outcome };
      port.postMessage(reply);
      return;
    }
    if (data.op === 'stats') {
      const reply: ShardReply = {
        op: 'stats',
        id: data.id,
        pools: partition.poolCount,
        poolElements: partition.elementCount,
        timers: partition.timerCount,
        counters: { ...service.counters, ...enrp.counters, ...subscriptions.counters },
      };
      port.postMessage(reply);
    } else if (data.op === 'checksums') {
      const sums = data.owners.map((o) => {
        if (!restoring) return enrp.checksumSum(o);
        const sum = enrp.checksumSum(o) + restore!.pendingChecksumSum(o);
        return sum > 0xffff ? (sum & 0xffff) + (sum >>> 16) : sum;
      });
      const reply: ShardReply = { op: 'checksums', id: data.id, sums };
      port.postMessage(reply);
    } else if (data.op === 'owners') {
      const reply: ShardReply = { op: 'owners', id: data.id, owners: enrp.owners() };
      port.postMessage(reply);
    } else if (data.op === 'dump') {
      const reply: ShardReply = { op: 'dump', id: data.id, rows: enrp.dump() };
      port.postMessage(reply);
    } else if (data.op === 'handlespace') {
      const reply: ShardReply = { op: 'handlespace', id: data.id, pools: dumpPartition(partition, performance.now()) };
      port.postMessage(reply);
    } else if (data.op === 'snapshotPart') {
      // Step by step: the shard serves its batches between the steps of a large partition.
      const id = data.id;
      encodePartAsync(partition, asapTransports, config.registrarId).then(
        (part) => {
          const bytes = part.bytes.buffer as ArrayBuffer;
          const reply: ShardReply = { op: 'snapshotPart', id, bytes, pools: part.pools, elements: part.elements, error: null };
          port.postMessage(reply, [bytes]);
        },
        (error: Error) => {
          const reply: ShardReply = { op: 'snapshotPart', id, bytes: new ArrayBuffer(0), pools: 0, elements: 0, error: error.message };
          port.postMessage(reply);
        },
      );
    } else if (data.op === 'restoreSnapshot') {
      if (restore !== null) return; // one restore, at start
      const mine = (handle: Uint8Array): boolean => shardCount === 1 || shardOf(handle, shardCount) === task.shard;
      restore = new SnapshotRestore(new Uint8Array(data.snapshot), partition, asapTransports, asapTransportTlv, config.registrarId, mine);
      restoring = true;
      restoreSliceMs = data.sliceMs;
      if (data.sliceMs > 0 && !restore.complete) {
        service.restorePool = restorePool;
        enrp.restorePool = restorePool;
        setImmediate(restoreStep);
      } else {
        finishRestore();
      }
      const reply: ShardReply = { op: 'restoreSnapshot', id: data.id, progress: restore.progress() };
      port.postMessage(reply);
      flush(); // the own PEs' keep-alives with the H bit
    } else if (data.op === 'restoreProgress') {
      const reply: ShardReply = { op: 'restoreProgress', id: data.id, progress: restore?.progress() ?? null };
      port.postMessage(reply);
    } else if (data.op === 'associationElements') {
      const reply: ShardReply = { op: 'associationElements', id: data.id, count: partition.elementsOfAssociation(data.associationId).length };
      port.postMessage(reply);
    }
  };
  return task.shard;
}
