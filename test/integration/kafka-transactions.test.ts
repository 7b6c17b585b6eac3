// lib/kafka/transaction-partitions.ts on a real broker: a transaction that writes four partitions
// of two topics, one kafkajs send per partition (sendPartitioned), makes exactly one
// AddPartitionsToTxn request, counted by kafkajs' own request instrumentation (less the quick
// CONCURRENT_TRANSACTIONS repeats); what it wrote is
// committed and readable, the next transaction adds its partitions again, an aborted one leaves
// nothing readable, and so does one fenced by a restarted producer of the same transactional id,
// whose own transaction again adds its partitions in one request.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes, Partitioners } from 'kafkajs';
import { testConnection, uniqueName } from '../support/services.js';
import { createTopic, kafkaTestbed, readTopicToEnd } from '../support/kit-helpers.js';
import { concurrentTransactionStats } from '../../lib/kafka/concurrent-transactions.js';
import { adminPartitionCounts, Partitioning, sendPartitioned } from '../../lib/kafka/partitioning.js';

const { kafka, admin, cleanups, created } = kafkaTestbed(testConnection());

describe('one AddPartitionsToTxn per transaction', () => {
  it('adds every partition of a transaction in one request, for each transaction and after a restart, and commits or aborts them all', async () => {
    const base = uniqueName('txn-parts');
    const [a, b] = [`${base}.a`, `${base}.b`];
    await admin.connect();
    await createTopic(admin, a, 3);
    await createTopic(admin, b, 1);
    created.push(a, b);
    const transactionalId = `${base}-producer`;
    // A producer of the transactional id, with the names of the requests it made.
    const open = async () => {
      const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      const requests: string[] = [];
      producer.on(producer.events.REQUEST, (e) => requests.push(e.payload.apiName));
      await producer.connect();
      cleanups.push(() => producer.disconnect());
      return { producer, requests };
    };
    const first = await open();
    const partitioning = new Partitioning(adminPartitionCounts(admin));

    // Keys that reach all three partitions of a, and b's one partition.
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    // kafkajs reports every request, also one answered CONCURRENT_TRANSACTIONS (a transaction begun
    // while the previous one's markers are written), which lib/kafka/concurrent-transactions.ts
    // makes again: those repeats are taken out.
    const transaction = async ({ producer, requests }: Awaited<ReturnType<typeof open>>, tag: string, end: 'commit' | 'abort' | 'leave open') => {
      requests.length = 0;
      const retriesBefore = concurrentTransactionStats().retries;
      const txn = await producer.transaction();
      const calls = [
        { topicMessages: [{ topic: a, messages: keys.map((key) => ({ key, value: `${tag}-${key}` })) }], compression: CompressionTypes.None },
        { topicMessages: [{ topic: b, messages: [{ key: 'only', value: `${tag}-only` }] }], compression: CompressionTypes.None },
      ];
      await sendPartitioned(calls, partitioning, (part, compression) => txn.send({ topic: part.topic, messages: part.messages, compression }), transactionalId);
      if (end === 'leave open') return txn;
      await (end === 'commit' ? txn.commit() : txn.abort());
      let repeats = concurrentTransactionStats().retries - retriesBefore;
      return requests.filter((name) => !(name === 'AddPartitionsToTxn' && repeats-- > 0) && (name === 'AddPartitionsToTxn' || name === 'Produce' || name === 'EndTxn'));
    };

    // Four partitions: one AddPartitionsToTxn, then one produce request per partition.
    const once = ['AddPartitionsToTxn', 'Produce', 'Produce', 'Produce', 'Produce', 'EndTxn'];
    assert.deepEqual(await transaction(first, 'first', 'commit'), once);
    // The next transaction adds them again (Kafka forgets them at the end of a transaction).
    assert.deepEqual(await transaction(first, 'second', 'commit'), once);
    assert.deepEqual(await transaction(first, 'aborted', 'abort'), once);
    // A restart: the old producer is mid-transaction when a new one of the same id starts (fencing
    // it); the new one's transaction adds its partitions in one request, the old one cannot commit.
    const zombie = (await transaction(first, 'zombie', 'leave open')) as Awaited<ReturnType<typeof first.producer.transaction>>;
    const restarted = await open();
    assert.deepEqual(await transaction(restarted, 'restarted', 'commit'), once);
    await assert.rejects(zombie.commit(), /fenced|epoch/i);

    const readA = await readTopicToEnd(kafka, undefined, a);
    const readB = await readTopicToEnd(kafka, undefined, b);
    const values = (records: typeof readA) => records.map((r) => r.raw!.toString()).sort();
    assert.deepEqual(values(readA), ['first', 'second', 'restarted'].flatMap((tag) => keys.map((k) => `${tag}-${k}`)).sort());
    assert.deepEqual(values(readB), ['first-only', 'restarted-only', 'second-only']);
    assert.equal(new Set(readA.map((r) => r.partition)).size, 3, 'the keys reached all three partitions of a');
  });
});
