// A Schema Registry that does not answer is not a bad record: the runner keeps processing records
// whose schemas it has cached, waits (retrying, heartbeating) at the first record that needs the
// registry, dead-letters nothing, and goes on when the registry answers again. The outage is a
// real one: the runner talks to the registry through a TCP-level proxy that drops connections.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin, Kafka } from 'kafkajs';
import { testConnection, uniqueName } from '../support/services.js';
import { RawWriter, createTopic, event, quietLogger, readTopicToEnd, testKafka, testRegistry } from '../support/kit-helpers.js';
import { counterProcessor, type Counted } from '../support/kit-processors.js';
import { resourceEventSchema } from '../../lib/raw-event.js';
import { runProcessor, type ProcessorHandle } from '../../lib/kit/runner.js';
import { waitFor } from '../support/wait.js';

const connection = testConnection();
let kafka: Kafka;
let admin: Admin;
let registry: SchemaRegistry;
let proxy: Server;
let down = false;
let refused = 0;
/** Schema ids the proxy answers 404 for (a registry still loading its schemas), until `notFoundUntil`. */
let notFoundIds = new Set<number>();
let notFoundUntil = 0;
let notFoundAnswers = 0;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  kafka = testKafka(connection);
  admin = kafka.admin();
  await admin.connect();
  registry = testRegistry(connection);
  const target = new URL(connection.schemaRegistryUrl);
  proxy = createServer((req, res) => {
    if (down) {
      refused++;
      req.socket.destroy();
      return;
    }
    const id = /\/schemas\/ids\/(\d+)/.exec(req.url ?? '')?.[1];
    if (id !== undefined && notFoundIds.has(Number(id)) && Date.now() < notFoundUntil) {
      notFoundAnswers++;
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error_code: 40403, message: 'Schema not found' }));
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  await admin.disconnect();
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
});

/**
 * An input topic with its writer, a newer writer schema (one more string field, readable as a
 * ResourceEvent) registered for it, and the counter processor talking to the registry through the proxy.
 */
async function setUp(prefix: string, extraField: string) {
  const base = uniqueName(prefix);
  const input = `${base}.raw`;
  await createTopic(admin, input, 1);
  const writer = await RawWriter.open(kafka, registry, input);
  cleanups.push(() => writer.close());
  const newer = { ...resourceEventSchema, fields: [...resourceEventSchema.fields, { name: extraField, type: 'string', default: '' }] };
  const { id: newerId } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(newer) }, { subject: `${input}-${extraField}-value` });
  const port = (proxy.address() as AddressInfo).port;
  const path = new URL(connection.schemaRegistryUrl).pathname;
  const handle: ProcessorHandle = await runProcessor(counterProcessor(), {
    connection: { ...connection, schemaRegistryUrl: `http://127.0.0.1:${port}${path}` },
    groupId: `${base}-g`,
    topics: { input, outputs: { counted: `${base}.counted`, names: `${base}.names` } },
    logger: quietLogger(base),
    handleSignals: false,
    sessionTimeoutMs: 6_000,
  });
  cleanups.push(() => handle.stop());
  return { base, writer, newerId, handle };
}

describe('Schema Registry outage', () => {
  it('retries instead of dead-lettering, keeps using cached schemas, resumes when it answers', async () => {
    // The newer writer schema is not yet known to the runner.
    const { base, writer, newerId: v2Id, handle } = await setUp('kit-registry', 'extra');

    await writer.write(Array.from({ length: 10 }, (_, i) => event(i, 'wf')));
    await waitFor('10 records', () => handle.stats().recordsIn >= 10);

    down = true;
    // Cached schema: goes through. New schema id: waits for the registry.
    // In one send, so they reach the runner in one batch: the first five must not wait for the others.
    const cached = await Promise.all(Array.from({ length: 5 }, (_, i) => registry.encode(writer.schemaId, event(10 + i, 'wf'))));
    const newer = await Promise.all(Array.from({ length: 5 }, (_, i) => registry.encode(v2Id, { ...event(15 + i, 'wf'), extra: 'new' })));
    await writer.writeRaw([...cached, ...newer].map((value) => ({ key: 'wf', value })));
    await waitFor('the records with a cached schema', () => handle.stats().recordsIn >= 15);
    await waitFor('a few refused registry calls', () => refused >= 3);
    assert.equal(handle.stats().recordsIn, 15, 'stops at the record that needs the registry');
    assert.deepEqual(handle.stats().deadLetters, {}, 'nothing dead-lettered during the outage');
    assert.equal(handle.ready(), true, 'still a member of the group');

    down = false;
    await waitFor('the records with the new schema', () => handle.stats().recordsIn >= 20);
    assert.deepEqual(handle.stats().deadLetters, {});
    await handle.stop();

    const counted = await readTopicToEnd<Counted>(kafka, registry, `${base}.counted`);
    assert.deepEqual(counted.map((c) => c.value!.count).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    const dead = await readTopicToEnd(kafka, undefined, `${base}-g.dlq`);
    assert.equal(dead.length, 0);
  });

  it('a registry answering 404 for a known schema id for 2 s (still loading) dead-letters nothing', async () => {
    notFoundAnswers = 0;
    const { base, writer, newerId: v3Id, handle } = await setUp('kit-registry-404', 'note');
    notFoundIds = new Set([writer.schemaId, v3Id]);
    notFoundUntil = Date.now() + 2_000;
    const records = [
      ...(await Promise.all(Array.from({ length: 5 }, (_, i) => registry.encode(writer.schemaId, event(i, 'wf'))))),
      ...(await Promise.all(Array.from({ length: 5 }, (_, i) => registry.encode(v3Id, { ...event(5 + i, 'wf'), note: 'v3' })))),
    ];
    await writer.writeRaw(records.map((value) => ({ key: 'wf', value })));
    await waitFor('10 records', () => handle.stats().recordsIn >= 10, { timeoutMs: 30_000 });
    await handle.stop();
    assert.ok(notFoundAnswers >= 2, `the proxy answered 404 (${notFoundAnswers} times)`);
    assert.deepEqual(handle.stats().deadLetters, {}, 'nothing dead-lettered');
    const counted = await readTopicToEnd<Counted>(kafka, registry, `${base}.counted`);
    assert.deepEqual(counted.map((c) => c.value!.count), Array.from({ length: 10 }, (_, i) => i + 1), 'every record once, in order');
    assert.equal((await readTopicToEnd(kafka, undefined, `${base}-g.dlq`)).length, 0);
  });
});
