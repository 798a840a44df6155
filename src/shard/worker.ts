// A shard worker: one thread that owns one partition of the handlespace and the ASAP service
// over it. piscina starts the thread; the one task it runs, `attach`, hands over a
// MessagePort, and from then on batches flow over that port in both directions (no task per
// message). Timers of the partition run on this thread's event loop.
import type { MessagePort } from 'node:worker_threads';
import { Partition } from '../handlespace/index.js';
import type { PartitionLimits } from '../handlespace/index.js';
import { AsapService, type AsapCounters } from '../registrar/asap-service.js';
import { EnrpHandlespace, type DumpRow, type EnrpHandlespaceCounters } from '../registrar/enrp-handlespace.js';
import { AsapTransportTable } from '../registrar/pe-asap-transport.js';
import { snapshotPartition, type SnapshotPool } from '../registrar/handlespace-snapshot.js';
import { BatchWriter, FromShard, ToShard, decodePageRequest, decodeRemote, encodeWords, readBatch, readWord } from './batch.js';
import { shardOf } from './shard-set.js';

export interface ShardConfig {
  registrarId: number;
  keepAliveInterval: number;
  keepAliveTimeout: number;
  limits: Partial<PartitionLimits>;
  /** Shards in the set: which pools of a handle table page are this shard's. */
  shardCount?: number;
  /** Send ENRP_HANDLE_UPDATEs for own-PE changes (false: no ENRP peers can exist). */
  enrp?: boolean;
}

export interface AttachTask {
  shard: number;
  config: ShardConfig;
  port: MessagePort;
}

/** Control messages (structured-cloned objects); batches travel as bare ArrayBuffers. */
export type ShardRequest =
  | { op: 'stats'; id: number }
  | { op: 'associationElements'; id: number; associationId: number }
  /** Ones'-complement sums behind the PE checksums of these owners (RFC 5353 §3.6.2). */
  | { op: 'checksums'; id: number; owners: number[] }
  | { op: 'owners'; id: number }
  | { op: 'dump'; id: number }
  | { op: 'handlespace'; id: number };
export type ShardReply =
  | { op: 'stats'; id: number; pools: number; poolElements: number; timers: number; counters: AsapCounters & EnrpHandlespaceCounters }
  | { op: 'checksums'; id: number; sums: number[] }
  | { op: 'owners'; id: number; owners: number[] }
  | { op: 'dump'; id: number; rows: DumpRow[] }
  | { op: 'handlespace'; id: number; pools: SnapshotPool[] }
  | { op: 'associationElements'; id: number; count: number }
  | { op: 'log'; level: 'info' | 'warn'; fields: object; message: string };

export default function attach(task: AttachTask): number {
  const { port, config } = task;
  const out = new BatchWriter();
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    if (out.empty) return;
    const batch = out.take();
    port.postMessage(batch, [batch]);
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
        out.add(0, FromShard.EnrpHandleUpdate, message);
        scheduleFlush();
      },
    },
    (handle) => shardCount === 1 || shardOf(handle, shardCount) === task.shard,
  );
  const service = new AsapService(
    partition,
    config.registrarId,
    {
      send(associationId, message) {
        out.add(associationId, FromShard.SendAsap, message);
        scheduleFlush();
      },
      abort(associationId) {
        out.add(associationId, FromShard.AbortAssociation, null);
        scheduleFlush();
      },
      ...(config.enrp === false ? {} : { ownChange: (element, added) => enrp.ownChange(element, added) }),
      sendToTransport(asapTransport, message) {
        const payload = new Uint8Array(4 + asapTransport.length + message.length);
        payload.set(encodeWords(asapTransport.length));
        payload.set(asapTransport, 4);
        payload.set(message, 4 + asapTransport.length);
        out.add(0, FromShard.SendAsapToTransport, payload);
        scheduleFlush();
      },
    },
    { info: log('info'), warn: log('warn') },
    asapTransports,
  );

  const visit = (associationId: number, kind: number, payload: Uint8Array): void => {
    switch (kind) {
      case ToShard.AsapMessage:
        service.handle(associationId, payload);
        return;
      case ToShard.AssociationUp:
        service.associationUp(associationId, decodeRemote(payload));
        return;
      case ToShard.AssociationDown:
        service.associationDown(associationId);
        return;
      case ToShard.EnrpHandleUpdate:
        enrp.applyHandleUpdate(payload);
        return;
      case ToShard.EnrpHandleTable:
        enrp.applyHandleTable(payload);
        return;
      case ToShard.EnrpAuditBegin:
        enrp.auditBegin(readWord(payload, 0));
        return;
      case ToShard.EnrpAuditEnd:
        enrp.auditEnd(readWord(payload, 0));
        return;
      case ToShard.EnrpTakeOver:
        enrp.takeOver(readWord(payload, 0), readWord(payload, 1));
        return;
      case ToShard.HandleTablePage: {
        const r = decodePageRequest(payload);
        const { message, more } = enrp.nextPage(associationId, r.owner, r.maxElements, r.maxBytes, r.senderId, r.receiverId);
        const reply = new Uint8Array(4 + message.length);
        reply.set(encodeWords(more ? 1 : 0));
        reply.set(message, 4);
        out.add(associationId, FromShard.HandleTablePage, reply);
        scheduleFlush();
        return;
      }
      case ToShard.HandleTableEnd:
        enrp.endSession(associationId);
        return;
    }
  };

  port.on('message', (data: ArrayBuffer | ShardRequest) => {
    if (data instanceof ArrayBuffer) {
      readBatch(data, visit);
      flush();
      return;
    }
    if (data.op === 'stats') {
      const reply: ShardReply = {
        op: 'stats',
        id: data.id,
        pools: partition.poolCount,
        poolElements: partition.elementCount,
        timers: partition.timerCount,
        counters: { ...service.counters, ...enrp.counters },
      };
      port.postMessage(reply);
    } else if (data.op === 'checksums') {
      const reply: ShardReply = { op: 'checksums', id: data.id, sums: data.owners.map((o) => enrp.checksumSum(o)) };
      port.postMessage(reply);
    } else if (data.op === 'owners') {
      const reply: ShardReply = { op: 'owners', id: data.id, owners: enrp.owners() };
      port.postMessage(reply);
    } else if (data.op === 'dump') {
      const reply: ShardReply = { op: 'dump', id: data.id, rows: enrp.dump() };
      port.postMessage(reply);
    } else if (data.op === 'handlespace') {
      const reply: ShardReply = { op: 'handlespace', id: data.id, pools: snapshotPartition(partition, performance.now()) };
      port.postMessage(reply);
    } else if (data.op === 'associationElements') {
      const reply: ShardReply = { op: 'associationElements', id: data.id, count: partition.elementsOfAssociation(data.associationId).length };
      port.postMessage(reply);
    }
  });
  return task.shard;
}
