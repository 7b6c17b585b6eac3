// A fix for kafkajs 2.2.4's read_committed filtering. lib/kafka/client.ts installs it, once, before
// it makes any kafkajs client: every client in kubetrail is made there.
//
// kafkajs drops the records of aborted transactions in consumer/filterAbortedMessages.js, which
// (1) takes the broker's list of aborted transactions in the order given, but the broker lists
// them by where they ended (the abort marker), not where they began, and (2) starts ignoring at
// most one aborted transaction per record. When several transactions are open at once in a
// partition and aborted out of order (exactly what a crashed processor with one transactional
// producer per input partition leaves behind in its output topics) records of aborted
// transactions reach the application: a read_committed consumer sees outputs that were never
// committed. Kafka's Java client does it as below: sort by first offset, and before each record
// start ignoring every aborted transaction that began at or before it.
//
// The fix wraps kafkajs' Broker#fetch (shared by its consumers and by topic-reader.ts): the
// records of aborted transactions are marked as control records, which kafkajs then skips
// while still moving the consumer's position past them, and the aborted-transaction list is
// emptied so the faulty filter has nothing to do.
import { patchKafkajs } from './kafkajs-patch.js';

export interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext?: { producerId: string; inTransaction: boolean };
}

export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/** A control record whose type is ABORT (key: int16 version, int16 type 0). */
export function isAbortMarker(record: FetchedRecord): boolean {
  return record.isControlRecord === true && record.key !== null && record.key.length >= 4 && record.key.readInt16BE(2) === 0;
}

/**
 * Marks (isControlRecord = true) every record of a fetched partition that belongs to an aborted
 * transaction. Records are in offset order, as fetched. Returns how many were marked.
 */
export function markAbortedRecords(records: FetchedRecord[], aborted: AbortedTransaction[] | undefined): number {
  if (!aborted || aborted.length === 0) return 0;
  const pending = aborted
    .map((t) => ({ producerId: String(t.producerId), first: BigInt(t.firstOffset) }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const active = new Set<string>();
  let marked = 0;
  for (const record of records) {
    const offset = BigInt(record.offset);
    while (pending.length > 0 && pending[0]!.first <= offset) active.add(pending.shift()!.producerId);
    const context = record.batchContext;
    if (!context) continue;
    const producerId = String(context.producerId);
    if (record.isControlRecord) {
      if (isAbortMarker(record)) active.delete(producerId);
      continue;
    }
    if (context.inTransaction && active.has(producerId)) {
      record.isControlRecord = true;
      marked++;
    }
  }
  return marked;
}

interface FetchResponse {
  responses?: Array<{ partitions?: Array<{ messages?: FetchedRecord[]; abortedTransactions?: AbortedTransaction[] }> }>;
}

/** Wraps Broker#fetch; a second call does nothing. */
export function installReadCommittedFix(): void {
  patchKafkajs('read-committed-fix', 'Broker', ['fetch'], (original) =>
    async function fetch(this: unknown, ...args: unknown[]): Promise<FetchResponse> {
      const response = (await original.apply(this, args)) as FetchResponse;
      for (const topic of response.responses ?? []) {
        for (const partition of topic.partitions ?? []) {
          if (partition.abortedTransactions && partition.abortedTransactions.length > 0) {
            markAbortedRecords(partition.messages ?? [], partition.abortedTransactions);
            partition.abortedTransactions = [];
          }
        }
      }
      return response;
    },
  );
}
