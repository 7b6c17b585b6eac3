// Reading a topic back in tests: every committed record, without a consumer group. Apart from
// kit-helpers.ts so that helpers outside node:test (test/support/producer.ts, used by benchmarks)
// can use it.
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { PartitionReader } from '../../lib/kafka/topic-reader.js';
import { sleep } from '../../lib/async.js';

export interface ReadRecord<V = unknown> {
  partition: number;
  offset: string;
  key: string | null;
  /** Decoded through the registry; null without a registry (then see `raw`) or for a tombstone. */
  value: V | null;
  raw: Buffer | null;
  headers: Record<string, string>;
  /** The record's timestamp, ms since the epoch. */
  timestamp: number;
  /** The producer id of the record's batch (which transactional producer wrote it); null when it had none. */
  producerId: string | null;
}

/**
 * Every committed record of a topic (read_committed), each partition read to the end it had when
 * its read began: without a consumer group, so nothing waits for a join or a timeout. Once every
 * writer of the topic has stopped and its transactions have ended (a killed transactional writer's
 * commit may still be writing its markers: fence its id first, as settledRecords in producer.ts
 * does), this is exactly what the topic holds.
 */
export async function readTopicToEnd<V = unknown>(kafka: Kafka, registry: SchemaRegistry | undefined, topic: string): Promise<ReadRecord<V>[]> {
  const admin = kafka.admin();
  const reader = new PartitionReader(kafka);
  const raw: Array<{ partition: number; message: KafkaMessage }> = [];
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(topic)) return [];
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    for (const { partitionId } of [...(topics[0]?.partitions ?? [])].sort((a, b) => a.partitionId - b.partitionId)) {
      await reader.readToEnd(topic, partitionId, (message) => raw.push({ partition: partitionId, message }));
    }
  } finally {
    await reader.close();
    await admin.disconnect();
  }
  const records: ReadRecord<V>[] = [];
  for (const { partition, message } of raw) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      const last = Array.isArray(value) ? value[value.length - 1] : value;
      if (last !== undefined) headers[name] = last.toString();
    }
    const value = message.value === null ? null : registry ? ((await registry.decode(message.value)) as V) : null;
    // kafkajs leaves the batch's header on each record it decodes (not in its types).
    const batch = (message as KafkaMessage & { batchContext?: { producerId?: string } }).batchContext;
    const producerId = batch?.producerId !== undefined && batch.producerId !== '-1' ? batch.producerId : null;
    records.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value, raw: message.value, headers, timestamp: Number(message.timestamp), producerId });
  }
  return records;
}

/**
 * Reads a topic to its end again and again until it holds at least `expected` records, or
 * `timeoutMs` passed; returns the last read. It proves that records arrived, not that no more
 * will: for that, stop every writer first and assert on readTopicToEnd().
 */
export async function readTopic<V = unknown>(
  kafka: Kafka,
  registry: SchemaRegistry | undefined,
  topic: string,
  { expected, timeoutMs = 30_000 }: { expected: number; timeoutMs?: number },
): Promise<ReadRecord<V>[]> {
  const began = Date.now();
  for (;;) {
    const records = await readTopicToEnd<V>(kafka, registry, topic);
    if (records.length >= expected || Date.now() - began > timeoutMs) return records;
    await sleep(100);
  }
}
