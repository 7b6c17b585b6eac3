// Facts about the 3-broker cluster under a scenario, read from Kafka's own metadata (never from
// the services under test): which broker leads a partition, which one coordinates a consumer
// group or a transactional id, and whether every replica is back in sync.
import type { Admin, Kafka } from 'kafkajs';
import type { KafkaNodeName } from '../../../stack/service.js';
import { sleep } from './pipeline.js';

/** Java's String.hashCode (UTF-16 code units, 32-bit wrap-around): Kafka places coordinators by it. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** The partition of __consumer_offsets or __transaction_state that holds this id (Kafka's Utils.abs(hash) % partitions). */
export const coordinatorPartition = (id: string, partitions: number) => (javaStringHash(id) & 0x7fffffff) % partitions;

/** The stack's service name of a broker. */
export const nodeName = (nodeId: number): KafkaNodeName => `kafka-${nodeId}`;

async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Leader of each partition of a topic. */
export async function partitionLeaders(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  return withAdmin(kafka, async (admin) => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return new Map((topics[0]?.partitions ?? []).map((p) => [p.partitionId, p.leader]));
  });
}

/** The broker that leads the most partitions of a topic. */
export async function busiestLeader(kafka: Kafka, topic: string): Promise<number> {
  const counts = new Map<number, number>();
  for (const leader of (await partitionLeaders(kafka, topic)).values()) counts.set(leader, (counts.get(leader) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

/** The coordinator broker of a consumer group (`__consumer_offsets`) or a transactional id (`__transaction_state`). */
export async function coordinatorOf(kafka: Kafka, kind: 'group' | 'transaction', id: string): Promise<number> {
  const topic = kind === 'group' ? '__consumer_offsets' : '__transaction_state';
  const leaders = await partitionLeaders(kafka, topic);
  const leader = leaders.get(coordinatorPartition(id, leaders.size));
  if (leader === undefined) throw new Error(`${topic} has no leader for ${id} (is it created yet?)`);
  return leader;
}

/**
 * Waits until every partition of every topic (internal ones included) has its whole replica set
 * in sync and a leader: what an operator waits for between two brokers of a rolling restart.
 */
export async function waitInSync(kafka: Kafka, timeoutMs = 120_000): Promise<number> {
  const began = Date.now();
  for (;;) {
    const lagging = await withAdmin(kafka, async (admin) => {
      const names = await admin.listTopics();
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      return topics.flatMap((t) => t.partitions.filter((p) => p.leader < 0 || p.isr.length < p.replicas.length).map((p) => `${t.name}-${p.partitionId}`));
    }).catch((error: Error) => [`metadata: ${error.message}`]);
    if (lagging.length === 0) return Date.now() - began;
    if (Date.now() - began > timeoutMs) throw new Error(`replicas not back in sync after ${timeoutMs} ms: ${lagging.slice(0, 10).join(', ')}`);
    await sleep(500);
  }
}
