// Publishing: each batch of queued items becomes ONE Kafka transaction holding the raw records,
// the index updates and the checkpoints they move, so a checkpoint is never ahead of what was
// published and nothing published is missing from the state. The producers are idempotent and
// transactional (acks=all, one request in flight, fixed transactional ids per stream), so a
// retried send is not doubled and a fenced ex-leader cannot commit.
//
// Two transactional producers take the transactions in turn. A transaction begun on the producer
// whose last commit was just acknowledged meets CONCURRENT_TRANSACTIONS until the coordinator has
// written that commit's markers, and waits them out in retries (lib/kafka/concurrent-transactions.ts);
// under a steady stream of changes that is most transactions that follow another at once. The
// other producer has nothing pending and begins at once. Transactions stay one at a time, so the
// records keep their order in each partition; a read_committed reader sees the second
// transaction's records once the first's markers are written, as it would have.
import { gzipSync } from 'node:zlib';
import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Logger } from '../lib/log.js';
import { SerialQueue } from '../lib/async.js';
import { chunkBySize } from '../lib/kafka/batching.js';
import type { ResourceEvent } from '../lib/raw-event.js';
import { recordHeaders, recordKey, toResourceEvent, type SourceContext } from './mapping.js';
import type { ProducerMetrics } from './metrics.js';
import type { ChangeItem, QueueItem } from './queue.js';
import { stateKeys, type Checkpoint, type IndexEntry, type LeaderMarker } from './state.js';
import { trimmedVersions } from './trim.js';
import { faultPoint } from '../lib/fault-point.js';
import { sendPartitioned, type Partitioning, type ProduceCall } from '../lib/kafka/partitioning.js';

/** Record framing (offset delta, lengths, attributes) and a share of the batch header. */
const recordOverhead = 128;

export interface EncodedRecord {
  message: Message;
  /** Bytes counted against the limit: key, headers, value (uncompressed) and framing. */
  bytes: number;
  /** Too big uncompressed but fits compressed: sent as a batch of its own. */
  alone: boolean;
  trimmed: string[];
  trimStep: number;
}

export interface PublisherOptions {
  ctx: SourceContext;
  topic: string;
  stateTopic: string;
  stream: string;
  selection: string;
  maxRecordBytes: number;
  compression: 'gzip' | 'none';
  registry: SchemaRegistry;
  schemaId: number;
  metrics: ProducerMetrics;
  logger: Logger;
  /** Fixes every record's partition before a send and checks its acknowledgement after (lib/kafka/partitioning.ts). */
  partitioning: Partitioning;
}

/** A transactional producer and its id (a transaction's partitions are announced under it: lib/kafka/transaction-partitions.ts). */
export interface TransactionalWriter {
  producer: Producer;
  transactionalId: string;
}

/**
 * The stream's transactional producers, one per id (streamIds), not yet connected. A new leader
 * runs initTransactions (lib/kafka/fencing.ts) on each before it reads the state: that bumps the
 * id's epoch, fencing any other writer of it and aborting what it had open.
 */
export function streamWriters(kafka: Kafka, transactionalIds: readonly string[], transactionTimeoutMs: number): TransactionalWriter[] {
  return transactionalIds.map((transactionalId) => ({
    transactionalId,
    producer: kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // murmur2 of the key, as Java clients partition: every change of an object on one partition.
      createPartitioner: Partitioners.DefaultPartitioner,
    }),
  }));
}

function headerBytes(headers: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(headers)) n += k.length + v.length + 4;
  return n;
}

/** Would one record of this size fit, alone or in a batch? */
export function fitOf(valueBytes: number, otherBytes: number, maxRecordBytes: number, compressedValueBytes?: () => number): 'batch' | 'alone' | 'no' {
  if (valueBytes + otherBytes + recordOverhead <= maxRecordBytes) return 'batch';
  if (compressedValueBytes && compressedValueBytes() + otherBytes + recordOverhead <= maxRecordBytes) return 'alone';
  return 'no';
}

/**
 * Encodes an event with the registry (Confluent wire format), trimming the object step by step
 * (producer/trim.ts) until it fits. Never fails for size: the last step always fits.
 */
export async function encodeRecord(
  event: ResourceEvent,
  key: string,
  options: Pick<PublisherOptions, 'topic' | 'registry' | 'schemaId' | 'maxRecordBytes' | 'compression'>,
): Promise<EncodedRecord> {
  const build = async (candidate: ResourceEvent, step: number): Promise<EncodedRecord | undefined> => {
    const headers = recordHeaders(candidate, options.topic);
    const value = await options.registry.encode(options.schemaId, candidate);
    const other = Buffer.byteLength(key) + headerBytes(headers);
    const fit = fitOf(value.length, other, options.maxRecordBytes, options.compression === 'gzip' ? () => gzipSync(value).length : undefined);
    if (fit === 'no') return undefined;
    return { message: { key, value, headers }, bytes: value.length + other + recordOverhead, alone: fit === 'alone', trimmed: candidate.trimmed, trimStep: step };
  };
  const whole = await build(event, 0);
  if (whole) return whole;
  let last: ResourceEvent = event;
  let lastStep = 0;
  for (const version of trimmedVersions(event.object)) {
    last = { ...event, object: version.objectJson, trimmed: version.trimmed, labels: version.labelsRemoved ? {} : event.labels };
    lastStep = version.step;
    const encoded = await build(last, version.step);
    if (encoded) return encoded;
  }
  // Only reachable with a limit smaller than an object's identity (the configuration forbids
  // limits under 64 KiB): publish the smallest version anyway rather than drop the change.
  const headers = recordHeaders(last, options.topic);
  const value = await options.registry.encode(options.schemaId, last);
  return { message: { key, value, headers }, bytes: value.length + recordOverhead, alone: true, trimmed: last.trimmed, trimStep: lastStep };
}

/** Splits records into send() calls whose batches stay under the limit (kafkajs puts one send's records for a partition in one batch). */
export function chunkRecords(records: Array<{ message: Message; bytes: number; alone?: boolean }>, maxBytes: number): Message[][] {
  return chunkBySize(records, (r) => r.bytes, maxBytes, (r) => r.alone === true).map((chunk) => chunk.map((r) => r.message));
}

export interface PublishResult {
  /** Scope → resourceVersion committed as its checkpoint. */
  checkpoints: Map<string, string>;
  published: number;
}

export class Publisher {
  /** Transactions run one after the other, whichever producer takes them: records keep their order. */
  private readonly queue = new SerialQueue();
  /** Transactions begun so far: the next one goes to writers[turns % writers.length]. */
  private turns = 0;
  /**
   * The first failed transaction. kafkajs leaves its producer mid-commit or mid-abort for good,
   * and the other producer's next transaction would not see that, so nothing is begun after it:
   * the session ends and the next one starts with new producers.
   */
  private failure: unknown;

  constructor(
    private readonly writers: readonly TransactionalWriter[],
    private readonly options: PublisherOptions,
  ) {
    if (writers.length === 0) throw new Error('Publisher: no transactional producer');
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(work);
  }

  /** One produce call of `messages` to `topic`, gzipped when `compress` and the producer compresses. */
  private call(topic: string, messages: Message[], compress: boolean): ProduceCall {
    return { topicMessages: [{ topic, messages }], compression: compress && this.options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None };
  }

  private async transaction(calls: ProduceCall[]): Promise<void> {
    if (this.failure !== undefined) throw new Error('an earlier transaction of this publisher failed', { cause: this.failure });
    const began = process.hrtime.bigint();
    const writer = this.writers[this.turns++ % this.writers.length]!;
    const txn = await writer.producer.transaction().catch((error: unknown) => {
      this.failure = error;
      throw error;
    });
    try {
      // One kafkajs send per partition, checked; the partitions added in one request (lib/kafka/partitioning.ts).
      await sendPartitioned(calls, this.options.partitioning, (part, compression) => txn.send({ topic: part.topic, messages: part.messages, compression }), writer.transactionalId);
      faultPoint('before-commit');
      await txn.commit();
      this.options.metrics.transactions.inc({ outcome: 'committed' });
      this.options.metrics.transactionSeconds.observe(Number(process.hrtime.bigint() - began) / 1e9);
    } catch (error) {
      this.failure = error;
      this.options.metrics.transactions.inc({ outcome: 'aborted' });
      if (txn.isActive()) await txn.abort().catch(() => undefined);
      throw error;
    }
  }

  /** Commits the leader marker that a state read stops at. */
  commitMarker(marker: LeaderMarker): Promise<void> {
    return this.serialized(() => this.transaction([this.call(this.options.stateTopic, [{ key: stateKeys.leader(this.options.stream), value: JSON.stringify(marker) }], false)]));
  }

  /** Publishes a batch in one transaction; resolves once Kafka acknowledged the commit. */
  publish(items: QueueItem[]): Promise<PublishResult> {
    return this.serialized(() => this.publishNow(items));
  }

  private async publishNow(items: QueueItem[]): Promise<PublishResult> {
    const { ctx, stream, metrics } = this.options;
    const raw: EncodedRecord[] = [];
    const index = new Map<string, IndexEntry | null>();
    const checkpoints = new Map<string, string>();
    const publishedOps: ChangeItem[] = [];
    for (const item of items) {
      if (item.type === 'change') {
        const { meta } = item;
        index.set(meta.uid, item.operation === 'DELETED' ? null : { namespace: meta.namespace, name: meta.name, resourceVersion: meta.resourceVersion });
        if (item.publish) {
          const event = toResourceEvent(ctx, {
            operation: item.operation,
            meta,
            objectJson: item.objectJson,
            observedAt: item.observedAt,
            inferred: item.inferred,
          });
          const encoded = await encodeRecord(event, recordKey(ctx, meta.namespace, meta.name), this.options);
          if (encoded.trimmed.length > 0) {
            metrics.trimmed.inc({ step: String(encoded.trimStep) });
            this.options.logger.warn(
              { key: encoded.message.key?.toString(), resourceVersion: meta.resourceVersion, trimmed: encoded.trimmed, bytes: encoded.bytes },
              'object too large for one record: trimmed',
            );
          }
          raw.push(encoded);
          publishedOps.push(item);
        }
      }
      if (item.checkpoint !== undefined) checkpoints.set(item.scope, item.checkpoint);
    }
    const state: Message[] = [];
    for (const [uid, entry] of index) state.push({ key: stateKeys.object(stream, uid), value: entry ? JSON.stringify(entry) : null });
    const now = Date.now();
    for (const [scope, resourceVersion] of checkpoints) {
      const checkpoint: Checkpoint = { resourceVersion, selection: this.options.selection, producer: ctx.producer, at: now };
      state.push({ key: stateKeys.checkpoint(stream, scope), value: JSON.stringify(checkpoint) });
    }
    if (raw.length === 0 && state.length === 0) return { checkpoints, published: 0 };
    const stateRecords = state.map((message) => ({ message, bytes: (message.key?.length ?? 0) + (message.value?.length ?? 0) + recordOverhead }));
    await this.transaction([
      ...chunkRecords(raw, this.options.maxRecordBytes).map((messages) => this.call(this.options.topic, messages, true)),
      ...chunkRecords(stateRecords, this.options.maxRecordBytes).map((messages) => this.call(this.options.stateTopic, messages, false)),
    ]);
    const acked = Date.now();
    let bytes = 0;
    for (const record of raw) bytes += (record.message.value as Buffer).length;
    metrics.bytesPublished.inc(bytes);
    for (const item of publishedOps) {
      metrics.eventsPublished.inc({ operation: item.operation });
      metrics.eventLatency.observe((acked - item.observedAt) / 1000);
    }
    return { checkpoints, published: raw.length };
  }
}
