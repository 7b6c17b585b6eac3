// How a partition's results reach Kafka, one strategy per delivery mode. The partition unit
// (partition.ts) does the same thing in both modes: open (take the partition), send (a batch's
// outputs, state writes and dead letters with the input offset after them), close.
//
// Exactly once is the classic Kafka Streams "EOS v1" design, because kafkajs has no KIP-447 (a
// transaction cannot carry the consumer group's generation): one transactional producer per input
// partition, transactional.id `<group>-<input topic>-<partition>`. Opening partition p initialises
// that producer, which fences the previous owner of p (its open transaction is aborted, a
// committing one completes first); only then is the group's committed offset of p final, and it
// is where processing resumes. A batch is one transaction: outputs, changelog writes, dead letters
// and the input offset (sendOffsets), all or nothing.
//
// At least once: one idempotent producer; a batch is sent and acknowledged, then the input offset
// is committed. A crash between the two repeats the batch.
import { CompressionTypes, Partitioners, type Admin, type Kafka, type Producer, type TopicMessages } from 'kafkajs';
import { messageBytes, splitTopicMessages } from '../kafka/batching.js';
import { faultPoint } from '../fault-point.js';
import { sendPartitioned, type Partitioning, type ProduceCall } from '../kafka/partitioning.js';
import { initTransactions } from '../kafka/fencing.js';

/** Sends of more bytes than this are gzipped: large records reach the broker (and readers) small; small sends skip the CPU. */
export const COMPRESS_ABOVE_BYTES = 64 * 1024;

/** The produce calls of a batch: parts under the broker's batch limit, each gzipped when large. */
export function produceCalls(topicMessages: TopicMessages[], maxBatchBytes: number): ProduceCall[] {
  return splitTopicMessages(topicMessages, maxBatchBytes).map((part) => {
    const bytes = part.reduce((n, t) => n + t.messages.reduce((m, message) => m + messageBytes(message), 0), 0);
    return { topicMessages: part, compression: bytes > COMPRESS_ABOVE_BYTES ? CompressionTypes.GZIP : CompressionTypes.None };
  });
}

export type DeliveryMode = 'exactly-once' | 'at-least-once';

export interface Delivery {
  readonly mode: DeliveryMode;
  /** Connects what every partition shares (before the first partition opens). */
  start(): Promise<void>;
  /** Takes a partition; returns the committed offset to resume from (-1: let the consumer decide). */
  open(partition: number): Promise<number>;
  /** Sends a batch's messages with the input offset after it. Throws when nothing of it may count. */
  send(partition: number, topicMessages: TopicMessages[], nextOffset: number): Promise<void>;
  /** Releases what open() took (a crash or a revocation). */
  close(partition: number): Promise<void>;
  shutdown(): Promise<void>;
}

export interface DeliveryContext {
  kafka: Kafka;
  admin: Admin;
  groupId: string;
  inputTopic: string;
  /** Most bytes per produce call (under the broker's batch limit). */
  maxBatchBytes: number;
  transactionTimeoutMs: number;
  /** Fixes every record's partition before a send and checks its acknowledgement after (lib/kafka/partitioning.ts). */
  partitioning: Partitioning;
}

/** Committed offset of a partition in a group, or -1. */
async function committedOffset(admin: Admin, groupId: string, topic: string, partition: number): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = Number(offsets?.partitions.find((x) => x.partition === partition)?.offset ?? -1);
  return committed >= 0 ? committed : -1;
}

export class ExactlyOnceDelivery implements Delivery {
  readonly mode = 'exactly-once' as const;
  private readonly producers = new Map<number, Producer>();

  private transactionalId(partition: number): string {
    return `${this.context.groupId}-${this.context.inputTopic}-${partition}`;
  }

  constructor(private readonly context: DeliveryContext) {}

  async start(): Promise<void> {}

  async open(partition: number): Promise<number> {
    const { kafka, admin, groupId, inputTopic } = this.context;
    await this.close(partition);
    const producer = kafka.producer({
      transactionalId: this.transactionalId(partition),
      maxInFlightRequests: 1,
      transactionTimeout: this.context.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.producers.set(partition, producer);
    // Fences the previous owner of this partition and ends its open transaction.
    await initTransactions(producer);
    // Only now is the committed offset final (the previous owner can no longer move it).
    return committedOffset(admin, groupId, inputTopic, partition);
  }

  async send(partition: number, topicMessages: TopicMessages[], nextOffset: number): Promise<void> {
    const producer = this.producers.get(partition);
    if (!producer) throw new Error(`partition ${partition} is not open`);
    const transaction = await producer.transaction();
    try {
      const calls = produceCalls(topicMessages, this.context.maxBatchBytes);
      await sendPartitioned(calls, this.context.partitioning, (part, compression) => transaction.sendBatch({ topicMessages: [part], compression, acks: -1 }), this.transactionalId(partition));
      const offsets = [{ topic: this.context.inputTopic, partitions: [{ partition, offset: String(nextOffset) }] }];
      await transaction.sendOffsets({ consumerGroupId: this.context.groupId, topics: offsets });
      faultPoint('before-commit', partition);
      await transaction.commit();
    } catch (error) {
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  async close(partition: number): Promise<void> {
    const producer = this.producers.get(partition);
    this.producers.delete(partition);
    if (producer) await producer.disconnect().catch(() => undefined);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.producers.keys()].map((p) => this.close(p)));
  }
}

export class AtLeastOnceDelivery implements Delivery {
  readonly mode = 'at-least-once' as const;
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(
    private readonly context: DeliveryContext,
    /** Commits the consumer group's offset (the consumer's own commitOffsets). */
    private readonly commitOffset: (partition: number, offset: number) => Promise<void>,
  ) {
    // Unlimited retries, as kafkajs requires for an idempotent producer to keep its guarantee.
    this.producer = context.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER },
    });
  }

  async start(): Promise<void> {
    this.connected ??= this.producer.connect();
    await this.connected;
  }

  async open(): Promise<number> {
    await this.start();
    return -1;
  }

  async send(partition: number, topicMessages: TopicMessages[], nextOffset: number): Promise<void> {
    await sendPartitioned(produceCalls(topicMessages, this.context.maxBatchBytes), this.context.partitioning, (part, compression) => this.producer.sendBatch({ topicMessages: [part], compression, acks: -1 }));
    await this.commitOffset(partition, nextOffset);
  }

  async close(): Promise<void> {}

  async shutdown(): Promise<void> {
    if (this.connected) await this.producer.disconnect().catch(() => undefined);
  }
}
