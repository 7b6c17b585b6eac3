// initTransactions, as Java's producer has it. kafkajs 2.2.4 does not run it at connect:
// Producer#connect initialises only an idempotent producer id (an InitProducerId without the
// transactional id, which fences nothing), and the transactional id is initialised by the first
// transaction() — until then another writer of the same id (a paused ex-leader, a partition's
// previous owner, a redrive still running) can go on committing, and its open transaction stays
// open. Seen against Kafka 4.3: a second producer connected, then the first began, wrote and
// committed a transaction without an error (producer-transactions.test.ts).
import type { Producer } from 'kafkajs';

/**
 * Connects `producer` and initialises its transactional id: its epoch is bumped, so any other
 * producer of the id is fenced and its open transaction aborted. The empty transaction it takes
 * for that ends without a request (kafkajs sends no EndTxn for a transaction that wrote nothing).
 */
export async function initTransactions(producer: Producer): Promise<void> {
  await producer.connect();
  const fence = await producer.transaction();
  await fence.abort();
}
