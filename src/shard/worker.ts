// A shard worker: one thread that owns one partition of the handlespace and the ASAP service
// over it. piscina starts the thread; the one task it runs, `attach`, hands over a
// MessagePort, and from then on batches flow over that port in both directions (no task per
// message). Timers of the partition run on this thread's event loop.
import type { MessagePort } from 'node:worker_threads';
import { Partition } from '../handlespace/index.js';
import type { PartitionLimits } from '../handlespace/index.js';
import { AsapService, type AsapCounters } from '../registrar/asap-service.js';
import { BatchWriter, FromShard, ToShard, decodeRemote, readBatch } from './batch.js';

export interface ShardConfig {
  registrarId: number;
  keepAliveInterval: number;
  keepAliveTimeout: number;
  limits: Partial<PartitionLimits>;
}

export interface AttachTask {
  shard: number;
  config: ShardConfig;
  port: MessagePort;
}

/** Control messages (structured-cloned objects); batches travel as bare ArrayBuffers. */
export type ShardRequest = { op: 'stats'; id: number } | { op: 'associationElements'; id: number; associationId: number };
export type ShardReply =
  | { op: 'stats'; id: number; pools: number; poolElements: number; timers: number; counters: AsapCounters }
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
    },
    { info: log('info'), warn: log('warn') },
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
        counters: { ...service.counters },
      };
      port.postMessage(reply);
    } else if (data.op === 'associationElements') {
      const reply: ShardReply = { op: 'associationElements', id: data.id, count: partition.elementsOfAssociation(data.associationId).length };
      port.postMessage(reply);
    }
  });
  return task.shard;
}
