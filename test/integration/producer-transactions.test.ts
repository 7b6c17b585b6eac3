// producer/publisher.ts on a real broker: the leader's transactions take the stream's two
// transactional producers in turn (one transaction at a time, so each partition keeps the order
// of the changes), and a new leader that runs initTransactions on its own producers of the same
// ids fences both: the old leader's next transaction fails whichever producer it is on, its
// publisher begins nothing after that failure, and nothing of it is read.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { testConnection, uniqueName } from '../support/services.js';
import { createTopic, kafkaTestbed, quietLogger, readTopicToEnd } from '../support/kit-helpers.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { adminPartitionCounts, Partitioning } from '../../lib/kafka/partitioning.js';
import { initTransactions } from '../../lib/kafka/fencing.js';
import { isFencedError } from '../../lib/kafka/producer-errors.js';
import { streamIds } from '../../producer/config.js';
import { createProducerMetrics } from '../../producer/metrics.js';
import type { SourceContext } from '../../producer/mapping.js';
import { Publisher, streamWriters } from '../../producer/publisher.js';
import type { ChangeItem } from '../../producer/queue.js';

const { kafka, admin, registry, cleanups, created } = kafkaTestbed(testConnection());
const logger = quietLogger('producer-transactions');

const ctx: SourceContext = { cluster: 'txn', group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind: 'Workflow', producer: 'txn-test' };

/** The change of one workflow, published and checkpointed at resourceVersion `rv`. */
function change(name: string, rv: number): ChangeItem {
  const meta = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', namespace: 'txn', name, uid: `uid-${name}`, resourceVersion: String(rv), generation: 1, labels: {}, creationTimestamp: null, deletionTimestamp: null };
  return { type: 'change', scope: 'txn', operation: 'ADDED', inferred: false, meta, objectJson: JSON.stringify({ kind: 'Workflow', metadata: { name, namespace: 'txn' } }), observedAt: Date.now(), publish: true, checkpoint: String(rv) };
}

describe("the producer's transactional ids", () => {
  it('takes the two producers in turn, in order, and a new leader fences both', async () => {
    const stream = uniqueName('txn-s');
    const [topic, stateTopic] = [`${stream}.raw`, `${stream}.state`];
    await createTopic(admin, topic, 3);
    await createTopic(admin, stateTopic, 1);
    created.push(topic, stateTopic);
    const { id: schemaId } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(resourceEventSchema) }, { subject: `${topic}-value` });
    const { transactionalIds } = streamIds({ stream });
    assert.equal(transactionalIds.length, 2);

    /** A leader: the stream's producers, initialised (fencing the previous leader's), and its publisher. */
    const lead = async () => {
      const writers = streamWriters(kafka, transactionalIds, 60_000);
      for (const writer of writers) {
        cleanups.push(() => writer.producer.disconnect());
        await initTransactions(writer.producer);
      }
      const publisher = new Publisher(writers, {
        ctx,
        topic,
        stateTopic,
        stream,
        selection: 'txn',
        maxRecordBytes: 1_048_576,
        compression: 'gzip',
        registry,
        schemaId,
        metrics: createProducerMetrics(),
        logger,
        partitioning: new Partitioning(adminPartitionCounts(admin)),
      });
      return { writers, publisher };
    };

    const first = await lead();
    // Six transactions of one change each, back to back.
    const names = Array.from({ length: 6 }, (_, i) => `wf-${i}`);
    for (const [i, name] of names.entries()) assert.equal((await first.publisher.publish([change(name, i + 1)])).published, 1);

    // A new leader: the old one's next transaction is refused, and its publisher begins no other.
    const second = await lead();
    const refusal = (attempt: Promise<unknown>) =>
      attempt.then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    const fenced = await refusal(first.publisher.publish([change('zombie-a', 99)]));
    assert.ok(fenced !== undefined && isFencedError(fenced), `zombie-a: fenced, not ${String(fenced)}`);
    const after = await refusal(first.publisher.publish([change('zombie-b', 100)]));
    assert.equal(after?.message, 'an earlier transaction of this publisher failed');
    // zombie-a, the seventh transaction, went to the first producer; the second one is fenced too.
    const other = first.writers[1]!;
    const refusedB = await refusal(
      (async () => {
        const txn = await other.producer.transaction();
        await txn.send({ topic, messages: [{ key: 'zombie-b', value: 'x', partition: 0 }] });
        await txn.commit();
      })(),
    );
    assert.ok(refusedB !== undefined && isFencedError(refusedB), `${other.transactionalId}: fenced, not ${String(refusedB)}`);
    assert.equal((await second.publisher.publish([change('wf-6', 7)])).published, 1);

    const records = await readTopicToEnd<ResourceEvent>(kafka, registry, topic);
    const byName = new Map(records.map((r) => [r.value!.name, r]));
    assert.deepEqual([...byName.keys()].sort(), [...names, 'wf-6'].sort(), 'every committed change once, nothing of the fenced leader');
    assert.equal(records.length, 7);
    const producerOf = (name: string) => byName.get(name)!.producerId;
    assert.ok(names.every((name) => producerOf(name) !== null), 'written in transactions');
    // The first leader's transactions alternate between two producer ids.
    for (let i = 0; i + 1 < names.length; i++) assert.notEqual(producerOf(names[i]!), producerOf(names[i + 1]!), `${names[i]} and ${names[i + 1]}: one producer each`);
    for (let i = 0; i + 2 < names.length; i++) assert.equal(producerOf(names[i]!), producerOf(names[i + 2]!), `${names[i]} and ${names[i + 2]}: the same producer`);
    // The state topic holds each change's index entry and the last checkpoint, all committed.
    const state = await readTopicToEnd(kafka, undefined, stateTopic);
    assert.equal(state.filter((r) => r.key?.includes('uid-wf-')).length, 7);
    assert.ok(state.every((r) => !r.key?.includes('zombie')), 'no state of the fenced leader');
  });
});
