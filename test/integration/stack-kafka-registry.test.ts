// The local stack's Kafka and Schema Registry are real: a record produced with kafkajs and
// Avro-encoded through the registry is consumed and decoded; an incompatible schema is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { createLogger } from '../../lib/log.js';
import { testConnection, uniqueName } from '../support/services.js';
import { createTopicsPatiently } from '../../lib/topics.js';

const connection = testConnection();
const logger = createLogger('test', 'error');

const personV1 = {
  type: 'record',
  name: 'Person',
  namespace: 'io.kubetrail.test',
  fields: [{ name: 'name', type: 'string' }],
};

test('a record Avro-encoded through the registry is produced, consumed and decoded', async () => {
  const kafka = createKafka(connection, logger);
  const registry = createRegistry(connection);
  const topic = uniqueName('stack-avro');
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsPatiently(admin, [{ topic, numPartitions: 1 }]);
  await admin.disconnect();

  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(personV1) }, { subject: `${topic}-value` });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'k1', value: await registry.encode(id, { name: 'Ada' }) }] });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: uniqueName('stack-avro') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = await new Promise<{ key: string; value: unknown; magic: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no record within 30s')), 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        clearTimeout(timer);
        resolve({ key: message.key!.toString(), value: await registry.decode(message.value!), magic: message.value![0]! });
      },
    });
  });
  await consumer.disconnect();
  assert.equal(received.magic, 0, 'Confluent wire format starts with magic byte 0');
  assert.equal(received.key, 'k1');
  // avsc decodes into an instance of the record's class: compare its fields.
  assert.deepEqual({ ...(received.value as object) }, { name: 'Ada' });
});

test('the registry accepts a backward-compatible evolution and refuses a breaking one', async () => {
  const registry = createRegistry(connection);
  const subject = `${uniqueName('stack-compat')}-value`;
  const v1 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(personV1) }, { subject });
  const withDefault = { ...personV1, fields: [...personV1.fields, { name: 'team', type: 'string', default: 'none' }] };
  const v2 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(withDefault) }, { subject });
  assert.notEqual(v2.id, v1.id, 'the evolution is a new schema version');
  const breaking = { ...personV1, fields: [{ name: 'name', type: 'long' }] };
  await assert.rejects(
    registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject }),
    (error: Error) => /compatib|409|incompatible/i.test(`${error.message} ${JSON.stringify(error)}`),
  );
});
