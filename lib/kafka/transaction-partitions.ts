// One AddPartitionsToTxn per transaction. kafkajs adds a send's partitions to the transaction
// right before that send, so with one send per partition (partitioning.ts) a transaction that
// writes N partitions paid N round trips on the transaction coordinator, each one between two
// produce requests: the producer's raw + state transaction made two, a processor's output +
// changelog transaction two. Every round trip is one more wait for the broker and the client to
// be scheduled, on a busy machine the stuff of the latency tail.
//
// The caller announces the partitions of the transaction it is about to send
// (announceTransactionPartitions, after fixing every record's partition). The transaction's first
// AddPartitionsToTxn then carries all of them, and later ones for partitions already added in the
// same transaction are answered here without a request. Kafka would answer them with success
// anyway: adding a partition twice is a no-op. What ends a transaction (EndTxn) or starts a new
// producer epoch forgets the additions, so nothing carries over to the next transaction.
import type { TopicMessages } from 'kafkajs';
import { patchKafkajs } from './kafkajs-patch.js';

/** What kafkajs' Broker#addPartitionsToTxn is called with (src/broker/index.js). */
export interface AddPartitionsRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  topics: Array<{ topic: string; partitions: number[] }>;
}

interface Announced {
  /** Partitions announced and not yet added. */
  pending: Map<string, Set<number>>;
  /** `topic\0partition` added in the transaction of producerId/producerEpoch. */
  added: Set<string>;
  producerId?: number;
  producerEpoch?: number;
}

const announced = new Map<string, Announced>();

const keyOf = (topic: string, partition: number) => `${topic}\0${partition}`;

/** The partitions the transaction now open on `transactionalId` will write: every message must carry its partition. */
export function announceTransactionPartitions(transactionalId: string, sends: TopicMessages[]): void {
  const pending = new Map<string, Set<number>>();
  for (const { topic, messages } of sends) {
    for (const message of messages) {
      if (message.partition === undefined) throw new Error(`announceTransactionPartitions: a message for '${topic}' has no partition (assign partitions first)`);
      const set = pending.get(topic) ?? new Set<number>();
      set.add(message.partition);
      pending.set(topic, set);
    }
  }
  announced.set(transactionalId, { pending, added: new Set() });
}

/** Forgets what was announced or added for `transactionalId` (its transaction ended). */
export function forgetTransactionPartitions(transactionalId: string): void {
  announced.delete(transactionalId);
}

/** Broker#addPartitionsToTxn with the announced partitions merged in; `send` makes the request. */
export async function coalescedAddPartitions<T>(request: AddPartitionsRequest, send: (request: AddPartitionsRequest) => Promise<T>): Promise<T | { throttleTime: number; errors: [] }> {
  const entry = announced.get(request.transactionalId);
  if (!entry) return send(request);
  // The first request after the announcement claims it for its producer id and epoch; another
  // producer of the same transactional id (a fenced or a fencing one) passes through untouched.
  const claimed = entry.producerId !== undefined;
  if (claimed && (entry.producerId !== request.producerId || entry.producerEpoch !== request.producerEpoch)) return send(request);
  if (claimed && request.topics.every(({ topic, partitions }) => partitions.every((p) => entry.added.has(keyOf(topic, p))))) return { throttleTime: 0, errors: [] };
  const merged = new Map<string, Set<number>>();
  for (const [topic, partitions] of entry.pending) merged.set(topic, new Set(partitions));
  for (const { topic, partitions } of request.topics) {
    const set = merged.get(topic) ?? new Set<number>();
    for (const p of partitions) set.add(p);
    merged.set(topic, set);
  }
  for (const [topic, set] of merged) for (const p of set) if (entry.added.has(keyOf(topic, p))) set.delete(p);
  const topics = [...merged].filter(([, set]) => set.size > 0).map(([topic, set]) => ({ topic, partitions: [...set].sort((a, b) => a - b) }));
  const response = await send({ ...request, topics });
  // Only a request that succeeded counts: a failed one is made again in full.
  for (const { topic, partitions } of topics) for (const p of partitions) entry.added.add(keyOf(topic, p));
  entry.pending.clear();
  entry.producerId = request.producerId;
  entry.producerEpoch = request.producerEpoch;
  return response;
}

export function installTransactionPartitionCoalescing(): void {
  patchKafkajs('transaction-partitions', 'Broker', ['addPartitionsToTxn', 'endTxn', 'initProducerId'], (original, method) => {
    if (method === 'addPartitionsToTxn') {
      return function coalesced(this: unknown, request: AddPartitionsRequest): Promise<unknown> {
        return coalescedAddPartitions(request, (r) => original.call(this, r) as Promise<unknown>);
      };
    }
    // EndTxn ends the transaction; InitProducerId starts a new epoch: either way, forget.
    return function forgetting(this: unknown, request: { transactionalId?: string }): Promise<unknown> {
      if (request?.transactionalId) forgetTransactionPartitions(request.transactionalId);
      return original.call(this, request) as Promise<unknown>;
    };
  });
}
