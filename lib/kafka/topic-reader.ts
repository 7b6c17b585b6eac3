// Reads one partition from its start to its last stable offset, without a consumer group: what a
// state restore needs (Kafka Streams does it with a "restore consumer" and assign()). kafkajs has
// no manual assignment, and a consumer group per restore would cost a join and a rebalance for
// every assignment, so this uses kafkajs' own cluster and broker objects, which its public
// consumer and admin are built on, and its Batch class, which drops aborted and control records.
// They are not part of kafkajs' typed API: the package is pinned (2.2.4, the last release) and
// the shapes used are checked at start so a change fails loudly instead of restoring nothing.
import { createRequire } from 'node:module';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { SerialQueue, sleep } from '../async.js';

const require = createRequire(import.meta.url);

interface PartitionData {
  partition: number;
  errorCode: number;
  highWatermark: string;
  lastStableOffset?: string;
  abortedTransactions?: unknown[];
  messages: Array<KafkaMessage & { isControlRecord?: boolean; batchContext?: { firstOffset: string; lastOffsetDelta: number } }>;
}

interface InternalBroker {
  fetch(request: {
    replicaId?: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: PartitionData[] }> }>;
}

interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<InternalBroker>;
  fetchTopicsOffset(
    topics: Array<{ topic: string; partitions: Array<{ partition: number }>; fromBeginning: boolean }>,
  ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

interface InternalBatch {
  messages: KafkaMessage[];
  messagesWithinOffset: PartitionData['messages'];
}

type BatchConstructor = new (topic: string, fetchedOffset: string, partitionData: PartitionData) => InternalBatch;

const READ_COMMITTED = 1;
const PROBLEM = 'kafkajs internals changed (lib/kafka/topic-reader.ts needs kafkajs 2.2.x)';

function internals(kafka: Kafka): { createCluster: (options: Record<string, unknown>) => InternalCluster; Batch: BatchConstructor } {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const createCluster = symbol ? (kafka as unknown as Record<symbol, unknown>)[symbol] : undefined;
  if (typeof createCluster !== 'function') throw new Error(`${PROBLEM}: no cluster factory`);
  const Batch = require('kafkajs/src/consumer/batch.js') as unknown;
  if (typeof Batch !== 'function') throw new Error(`${PROBLEM}: no Batch class`);
  return { createCluster: createCluster as (options: Record<string, unknown>) => InternalCluster, Batch: Batch as BatchConstructor };
}

export interface ReadOptions {
  /** Called about once a second while reading (keeps a consumer group membership alive). */
  heartbeat?: () => Promise<void>;
  /** Stop early (shutdown): readToEnd then resolves with complete = false. */
  cancelled?: () => boolean;
  /** Start here instead of the partition's first offset (where an earlier read ended). */
  from?: number;
}

export interface ReadResult {
  records: number;
  /** The offset the read stopped at (the last stable offset when it started). */
  endOffset: number;
  complete: boolean;
}

export class PartitionReader {
  private readonly cluster: InternalCluster;
  private readonly Batch: BatchConstructor;
  private readonly topics = new Set<string>();
  private connected: Promise<void> | undefined;
  private closed = false;
  private readonly reading = new Set<Promise<unknown>>();
  /** Cluster calls one at a time (see the fetch below). */
  private readonly queue = new SerialQueue();

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  constructor(kafka: Kafka) {
    const { createCluster, Batch } = internals(kafka);
    this.Batch = Batch;
    this.cluster = createCluster({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED, metadataMaxAge: 60_000 });
  }

  private async ready(topic: string): Promise<void> {
    this.connected ??= this.serial(() => this.cluster.connect());
    await this.connected;
    if (!this.topics.has(topic)) {
      await this.serial(() => this.cluster.addTargetTopic(topic));
      this.topics.add(topic);
    }
  }

  /** [first offset, last stable offset] of a partition (read_committed: open transactions excluded). */
  async bounds(topic: string, partition: number): Promise<{ start: number; end: number }> {
    await this.ready(topic);
    const earliest = await this.listOffset(topic, partition, true);
    const latest = await this.listOffset(topic, partition, false);
    const offset = (answer: typeof earliest) => Number(answer?.[0]?.partitions.find((p) => p.partition === partition)?.offset ?? NaN);
    const start = offset(earliest);
    const end = offset(latest);
    if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error(`cannot read the offsets of ${topic}[${partition}]`);
    return { start, end };
  }

  /**
   * ListOffsets, with the metadata refreshed after a failure: kafkajs' own fetchTopicsOffset keeps
   * asking the broker its (up to a minute old) metadata names, so after a partition leader moved
   * (a broker killed or restarted) it answered NOT_LEADER_FOR_PARTITION until the metadata aged
   * out, and every restore that started in that minute failed.
   */
  private async listOffset(topic: string, partition: number, fromBeginning: boolean) {
    for (let failures = 0; ; failures++) {
      try {
        return await this.serial(() => this.cluster.fetchTopicsOffset([{ topic, partitions: [{ partition }], fromBeginning }]));
      } catch (error) {
        if (failures >= 20 || this.closed) throw error;
        await sleep(Math.min(200 * (failures + 1), 2_000));
        await this.serial(() => this.cluster.refreshMetadata()).catch(() => undefined);
      }
    }
  }

  /**
   * Calls onMessage for every committed record of the partition, in order, from its first offset
   * to the last stable offset as of the start of the call.
   */
  readToEnd(topic: string, partition: number, onMessage: (message: KafkaMessage) => void, options: ReadOptions = {}): Promise<ReadResult> {
    if (this.closed) return Promise.resolve({ records: 0, endOffset: 0, complete: false });
    const read = this.read(topic, partition, onMessage, { ...options, cancelled: () => this.closed || options.cancelled?.() === true });
    this.reading.add(read);
    const forget = () => void this.reading.delete(read);
    read.then(forget, forget);
    return read;
  }

  private async read(topic: string, partition: number, onMessage: (message: KafkaMessage) => void, options: ReadOptions): Promise<ReadResult> {
    let { start: next, end } = await this.bounds(topic, partition);
    if (options.from !== undefined) next = Math.max(next, options.from);
    let records = 0;
    let failures = 0;
    let empty = 0;
    let lastBeat = Date.now();
    while (next < end) {
      if (options.cancelled?.()) return { records, endOffset: end, complete: false };
      if (options.heartbeat && Date.now() - lastBeat > 1_000) {
        await options.heartbeat();
        lastBeat = Date.now();
      }
      let data: PartitionData | undefined;
      try {
        const leaders = this.cluster.findLeaderForPartitions(topic, [partition]);
        const nodeId = Object.keys(leaders)[0];
        if (nodeId === undefined) throw Object.assign(new Error(`no leader for ${topic}[${partition}]`), { retriable: true });
        const broker = await this.cluster.findBroker({ nodeId });
        // One fetch at a time per reader: concurrent first requests on a kafkajs connection can
        // each open a socket, and the one overwritten is never closed (it keeps the process alive).
        const response = await this.serial(() => broker.fetch({
          isolationLevel: READ_COMMITTED,
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: 16 * 1024 * 1024,
          topics: [{ topic, partitions: [{ partition, fetchOffset: String(next), maxBytes: 4 * 1024 * 1024 }] }],
        }));
        data = response.responses.find((r) => r.topicName === topic)?.partitions.find((p) => p.partition === partition);
        failures = 0;
      } catch (error) {
        const type = (error as { type?: string }).type;
        if (type === 'OFFSET_OUT_OF_RANGE') {
          // Retention or deleteRecords moved the start while reading: go on from the new start.
          ({ start: next, end } = await this.bounds(topic, partition));
          continue;
        }
        if (++failures > 20) throw error;
        await sleep(Math.min(200 * failures, 2_000));
        await this.cluster.refreshMetadata().catch(() => undefined);
        continue;
      }
      if (!data) throw new Error(`${PROBLEM}: fetch answered without ${topic}[${partition}]`);
      const batch = new this.Batch(topic, String(next), data);
      for (const message of batch.messages) {
        if (Number(message.offset) >= end) break;
        onMessage(message);
        records++;
      }
      // Move past everything fetched, control records and aborted ones included; a compacted
      // batch may end with a gap, which its header still covers.
      let moved = next;
      for (const raw of data.messages) {
        const last = raw.batchContext ? Number(raw.batchContext.firstOffset) + raw.batchContext.lastOffsetDelta : Number(raw.offset);
        if (last + 1 > moved) moved = last + 1;
      }
      if (moved > next) {
        next = moved;
        empty = 0;
      } else if (++empty > 50) {
        // Nothing readable between next and the end (empty batches kept by compaction).
        break;
      } else {
        await sleep(20);
      }
    }
    return { records, endOffset: end, complete: true };
  }

  /** Ends the reads in progress (they resolve with complete = false) and disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.reading.size > 0) await Promise.allSettled([...this.reading]);
    if (this.connected) await this.cluster.disconnect().catch(() => undefined);
    this.connected = undefined;
    this.topics.clear();
  }
}
