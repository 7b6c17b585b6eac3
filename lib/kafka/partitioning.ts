// Every record kubetrail sends carries a partition chosen here, and every send checks that Kafka
// acknowledged each partition it went to.
//
// Why: kafkajs 2.2.4 (src/producer/sendMessages.js) retries a failed send only towards "brokers
// without a response". When a partition's leader dies during a send and the partition moves to a
// broker that has already answered for other partitions of the same send, the moved partition's
// records are never sent again, and the send resolves as if they had been. On a three-broker
// cluster this lost committed records: a producer transaction committed its checkpoint without
// one partition's changes (test/faults/cluster.test.ts, raw-leader-kill), and processors
// committed input offsets without some outputs (coordinator-kill). kafkajs also partitions again
// on each retry, so a record without a key could be sent twice to two partitions. With the
// partition fixed before the send, and the acknowledgements checked after it, the silent loss
// becomes an error: the caller aborts the transaction and does the work again.
//
// The same shared bookkeeping also doubled records: kafkajs sends to every leader at once and
// retries as soon as one request fails, computing "brokers without a response" before the other
// requests have answered; a request still in flight is then sent again with new sequence numbers,
// and the broker appends it twice in one transaction (seen with a broker stalled by SIGSTOP:
// stalled-broker). So one kafkajs send carries one partition: it has one leader per attempt, and
// neither race can happen. The sends of a transaction run one after the other.
import { Partitioners, type Admin, type CompressionTypes, type Message, type RecordMetadata, type TopicMessages } from 'kafkajs';
import { announceTransactionPartitions } from './transaction-partitions.js';

/** A send resolved without an acknowledgement for a partition it had records for: nothing of it may count. */
export class PartitionsNotAcknowledged extends Error {
  override name = 'PartitionsNotAcknowledged';
  /** kafkajs restarts a consumer that failed on a retriable error; the work is redone from the committed offsets. */
  readonly retriable = true;
  constructor(readonly missing: string[]) {
    super(`Kafka acknowledged no write to ${missing.join(', ')} although the send resolved (a partition leader moved during the send): aborting, to do it again`);
  }
}

/** Partition counts of topics, read from the cluster once per topic. */
export type PartitionCountLoader = (topics: string[]) => Promise<Map<string, number>>;

/** Reads partition counts through an admin client (connected by the caller). */
export function adminPartitionCounts(admin: Admin): PartitionCountLoader {
  return async (topics) => {
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
    return new Map(metadata.map((t) => [t.name, t.partitions.length]));
  };
}

const fakeMetadata = (count: number) => Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

export class Partitioning {
  // kafkajs's own default partitioner (murmur2 of the key, as Java clients): a record goes where it always went.
  private readonly partitioner = Partitioners.DefaultPartitioner();
  /** Per topic, the partition list the partitioner is given: built once, when its count is learnt. */
  private readonly metadata = new Map<string, ReturnType<typeof fakeMetadata>>();

  constructor(private readonly load: PartitionCountLoader) {}

  /** The same messages, each with its partition (kept when the caller chose one). */
  async assign(topicMessages: TopicMessages[]): Promise<TopicMessages[]> {
    const unknown = [...new Set(topicMessages.map((t) => t.topic))].filter((topic) => !this.metadata.has(topic));
    if (unknown.length > 0) {
      for (const [topic, count] of await this.load(unknown)) if (count > 0) this.metadata.set(topic, fakeMetadata(count));
      for (const topic of unknown) if (!this.metadata.has(topic)) throw new Error(`no partitions known for topic '${topic}'`);
    }
    return topicMessages.map(({ topic, messages }) => {
      const partitionMetadata = this.metadata.get(topic)!;
      return {
        topic,
        messages: messages.map((message): Message => (message.partition !== undefined ? message : { ...message, partition: this.partitioner({ topic, partitionMetadata, message }) })),
      };
    });
  }
}

/** The messages split into one send per (topic, partition), in order. */
export function perPartition(topicMessages: TopicMessages[]): TopicMessages[] {
  const sends: TopicMessages[] = [];
  for (const { topic, messages } of topicMessages) {
    const byPartition = new Map<number, Message[]>();
    for (const message of messages) {
      const list = byPartition.get(message.partition!) ?? [];
      list.push(message);
      byPartition.set(message.partition!, list);
    }
    for (const list of byPartition.values()) sends.push({ topic, messages: list });
  }
  return sends;
}

/** Throws PartitionsNotAcknowledged unless every (topic, partition) of the sent messages has an acknowledgement without error. */
export function checkAcknowledged(sent: TopicMessages[], results: RecordMetadata[]): void {
  const acknowledged = new Set(results.filter((r) => r.errorCode === 0).map((r) => `${r.topicName}-${r.partition}`));
  const missing = new Set<string>();
  for (const { topic, messages } of sent) for (const m of messages) if (!acknowledged.has(`${topic}-${m.partition}`)) missing.add(`${topic}-${m.partition}`);
  if (missing.size > 0) throw new PartitionsNotAcknowledged([...missing].sort());
}

/** One produce call: messages under the broker's batch limit, and how they are compressed. */
export interface ProduceCall {
  topicMessages: TopicMessages[];
  compression: CompressionTypes;
}

/**
 * Sends produce calls as one kafkajs send per (topic, partition), in order, each checked. Every
 * partition is fixed before the first send; in a transaction (`transactionalId`) they are then
 * announced, so the transaction adds them all in one AddPartitionsToTxn (transaction-partitions.ts).
 */
export async function sendPartitioned(
  calls: ProduceCall[],
  partitioning: Partitioning,
  send: (part: TopicMessages, compression: CompressionTypes) => Promise<RecordMetadata[]>,
  transactionalId?: string,
): Promise<void> {
  const assigned: Array<{ parts: TopicMessages[]; compression: CompressionTypes }> = [];
  for (const call of calls) assigned.push({ parts: perPartition(await partitioning.assign(call.topicMessages)), compression: call.compression });
  if (transactionalId !== undefined) announceTransactionPartitions(transactionalId, assigned.flatMap((a) => a.parts));
  for (const { parts, compression } of assigned) for (const part of parts) checkAcknowledged([part], await send(part, compression));
}
