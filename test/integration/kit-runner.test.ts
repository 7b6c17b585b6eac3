// The processor runner on the real stack: outputs by declared name, keyed state across restarts,
// dead letters for every kind of bad record, at-least-once mode, a missing input topic.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { testConnection, uniqueName } from '../support/services.js';
import { RawWriter, createTopic, event, quietLogger, readTopicToEnd, kafkaTestbed } from '../support/kit-helpers.js';
import { counterProcessor, fanOutProcessor, passThroughProcessor, type Counted } from '../support/kit-processors.js';
import { runProcessor, type ProcessorHandle, type RunProcessorOptions } from '../../lib/kit/runner.js';
import type { ProcessorDefinition } from '../../lib/kit/processor.js';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';
import { TopicError } from '../../lib/topics.js';
import { waitFor } from '../support/wait.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

interface Names {
  group: string;
  input: string;
  counted: string;
  names: string;
}

async function setUp(prefix: string, partitions = 3): Promise<Names & { writer: RawWriter }> {
  const base = uniqueName(prefix);
  const names = { group: `${base}-g`, input: `${base}.raw`, counted: `${base}.counted`, names: `${base}.names` };
  await createTopic(admin, names.input, partitions);
  const writer = await RawWriter.open(kafka, registry, names.input);
  cleanups.push(() => writer.close());
  return { ...names, writer };
}

/** Starts a runner that is stopped after the tests even when a test fails. */
async function start<In, Out extends Record<string, unknown>, S>(definition: ProcessorDefinition<In, Out, S>, options: RunProcessorOptions): Promise<ProcessorHandle> {
  const handle = await runProcessor(definition, options);
  cleanups.push(() => handle.stop());
  return handle;
}

function counterOptions(n: Names, extra: Partial<RunProcessorOptions> = {}): RunProcessorOptions {
  return {
    connection,
    groupId: n.group,
    topics: { input: n.input, outputs: { counted: n.counted, names: n.names } },
    logger: quietLogger(n.group),
    handleSignals: false,
    sessionTimeoutMs: 6_000,
    ...extra,
  };
}

/** Counts per entity must be exactly 1..n, in order: no record lost, none repeated, state kept. */
function assertCounts(records: Array<{ value: Counted | null }>, expectedPerEntity: Map<string, number>) {
  const seen = new Map<string, number[]>();
  for (const r of records) {
    const v = r.value!;
    const list = seen.get(v.entity) ?? [];
    list.push(v.count);
    seen.set(v.entity, list);
  }
  for (const [entity, n] of expectedPerEntity) {
    const counts = (seen.get(entity) ?? []).sort((a, b) => a - b);
    assert.deepEqual(counts, Array.from({ length: n }, (_, i) => i + 1), `counts of ${entity}`);
  }
}

describe('processor runner (exactly once)', () => {
  it('writes outputs by declared name, keeps state per key, and restores it after a restart', async () => {
    const n = await setUp('kit-basic');
    const entities = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const first = Array.from({ length: 50 }, (_, i) => event(i, entities[i % entities.length]!, i));
    await n.writer.write(first);

    let handle: ProcessorHandle = await start(counterProcessor(), counterOptions(n, { httpPort: 0 }));
    await waitFor('first 50 records', () => handle.stats().recordsIn >= 50);
    assert.equal(handle.ready(), true);
    const metrics = await fetch(`http://127.0.0.1:${handle.httpPort}/metrics`).then((r) => r.text());
    assert.match(metrics, /kubetrail_processor_records_out_total\{[^}]*output="counted"[^}]*\} 50/);
    assert.equal((await fetch(`http://127.0.0.1:${handle.httpPort}/readyz`)).status, 200);
    await handle.stop();

    // The changelog and the compacted output were created as declared.
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: 2, name: `${n.group}-tally-changelog`, configNames: ['cleanup.policy'] },
        { type: 2, name: n.names, configNames: ['cleanup.policy'] },
        { type: 2, name: n.counted, configNames: ['cleanup.policy'] },
      ],
    });
    const policy = (name: string) => configs.resources.find((r) => r.resourceName === name)?.configEntries[0]?.configValue;
    assert.equal(policy(`${n.group}-tally-changelog`), 'compact');
    assert.equal(policy(n.names), 'compact');
    assert.equal(policy(n.counted), 'delete');
    const changelogMeta = await admin.fetchTopicMetadata({ topics: [`${n.group}-tally-changelog`] });
    assert.equal(changelogMeta.topics[0]?.partitions.length, 3);

    // Restart: the state comes back from the changelog, counts go on from where they were.
    const second = Array.from({ length: 50 }, (_, i) => event(50 + i, entities[i % entities.length]!, 1));
    await n.writer.write(second);
    handle = await start(counterProcessor(), counterOptions(n));
    await waitFor('next 50 records', () => handle.stats().recordsIn >= 50);
    const stats = handle.stats();
    assert.ok(stats.restores >= 1 && stats.restores <= 3, 'partitions with records restored');
    assert.ok(stats.restoredRecords >= 5, 'the changelog held the state');
    await handle.stop();

    const counted = await readTopicToEnd<Counted>(kafka, registry, n.counted);
    assert.equal(counted.length, 100);
    assert.deepEqual(new Set(counted.map((r) => r.key)).size, 100, 'one output per input id');
    assertCounts(counted, new Map(entities.map((e) => [e, 20])));
    const alpha = counted.filter((r) => r.value!.entity === 'alpha').sort((a, b) => a.value!.count - b.value!.count).at(-1)!;
    assert.equal(alpha.value!.total, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45].reduce((a, b) => a + b, 0) + 10);
    assert.equal(alpha.headers['kit-entity'], 'alpha');
    const names = await readTopicToEnd<Counted>(kafka, registry, n.names);
    assert.equal(names.length, 100);
  });

  it('dead-letters every kind of bad record with its original bytes and goes on', async () => {
    const n = await setUp('kit-dlq', 1);
    // Another schema, registered for real: valid Avro, but not a ResourceEvent.
    const otherSchema = { type: 'record', name: 'Other', namespace: 'io.kubetrail.test', fields: [{ name: 'n', type: 'int' }] };
    const { id: otherId } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(otherSchema) }, { subject: `${n.input}-other-value` });
    const otherAvro = await registry.encode(otherId, { n: 42 });
    const good = async (i: number, name: string) => registry.encode(n.writer.schemaId, event(i, name));
    const valid = await good(1000, 'truncated');
    const wrongMagic = Buffer.from(valid);
    wrongMagic[0] = 1;
    const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0x00]), valid.subarray(5)]);
    const randomJunk = Buffer.concat([Buffer.from([0x7b]), randomBytes(40)]);
    const truncated = valid.subarray(0, valid.length - 10);

    const bad: Array<{ key: string | null; value: Buffer | null; reason: string }> = [
      { key: 'junk', value: randomJunk, reason: 'invalid-wire-format' },
      { key: 'magic', value: wrongMagic, reason: 'invalid-wire-format' },
      { key: 'short', value: Buffer.from([0, 1]), reason: 'invalid-wire-format' },
      { key: null, value: null, reason: 'invalid-wire-format' },
      { key: 'unknown', value: unknownId, reason: 'unknown-schema' },
      { key: 'other', value: otherAvro, reason: 'incompatible-schema' },
      { key: 'truncated', value: truncated, reason: 'malformed-avro' },
      { key: 'boom', value: await good(1001, 'boom-1'), reason: 'process-error' },
      { key: 'bad-output', value: await good(1002, 'bad-output-1'), reason: 'invalid-output' },
      { key: 'bad-state', value: await good(1003, 'bad-state-1'), reason: 'invalid-state' },
    ];
    const messages = [];
    let goodIndex = 0;
    for (const b of bad) {
      messages.push({ key: 'ok', value: await good(goodIndex++, 'ok') });
      messages.push({ key: b.key, value: b.value, headers: { origin: `test-${b.reason}` } });
    }
    messages.push({ key: 'ok', value: await good(goodIndex++, 'ok') });
    await n.writer.writeRaw(messages);

    const handle = await start(counterProcessor(), counterOptions(n));
    await waitFor('all records', () => handle.stats().recordsIn >= messages.length);
    assert.equal(handle.ready(), true, 'still running');
    const stats = handle.stats();
    assert.equal(Object.values(stats.deadLetters).reduce((a, b) => a + (b ?? 0), 0), bad.length);

    // Good records after the bad ones still go through, after more come.
    await n.writer.write([event(5000, 'ok')]);
    await waitFor('one more', () => handle.stats().recordsIn >= messages.length + 1);
    await handle.stop();

    const dlq = await readTopicToEnd(kafka, undefined, `${n.group}.dlq`);
    assert.equal(dlq.length, bad.length);
    const inputOffsets = new Set<string>();
    for (const [i, b] of bad.entries()) {
      const letter = dlq[i]!;
      assert.equal(letter.headers[DLQ_HEADERS.reason], b.reason, `reason of ${b.key}`);
      assert.ok(letter.headers[DLQ_HEADERS.error]!.length > 0);
      assert.equal(letter.headers[DLQ_HEADERS.topic], n.input);
      assert.equal(letter.headers[DLQ_HEADERS.partition], '0');
      assert.equal(letter.headers[DLQ_HEADERS.offset], String(2 * i + 1));
      assert.equal(letter.headers[DLQ_HEADERS.processor], 'kit-counter');
      assert.ok(!Number.isNaN(Date.parse(letter.headers[DLQ_HEADERS.timestamp]!)));
      assert.equal(letter.headers.origin, `test-${b.reason}`, 'original headers kept');
      assert.equal(letter.key, b.key);
      assert.deepEqual(letter.raw, b.value, `original bytes of ${b.key}`);
      inputOffsets.add(letter.headers[DLQ_HEADERS.offset]!);
    }
    assert.equal(inputOffsets.size, bad.length);
    assert.match(dlq[7]!.headers[DLQ_HEADERS.error]!, /boom at ev-001001/);
    assert.equal(dlq[7]!.headers[DLQ_HEADERS.errorName], 'RangeError');

    // The good records were all processed, and the failed ones left no state behind.
    const counted = await readTopicToEnd<Counted>(kafka, registry, n.counted);
    assert.equal(counted.length, bad.length + 2);
    assertCounts(counted, new Map([['ok', bad.length + 2]]));
  });

  it('splits large transactions under the batch limit and dead-letters an output too large for its topic', async () => {
    const base = uniqueName('kit-large');
    const input = `${base}.raw`;
    await createTopic(admin, input, 1, { 'max.message.bytes': String(4 * 1024 * 1024) });
    const writer = await RawWriter.open(kafka, registry, input);
    cleanups.push(() => writer.close());
    const big = (i: number, bytes: number) => ({ ...event(i, `big-${i}`), object: JSON.stringify({ kind: 'Workflow', pad: 'x'.repeat(bytes) }) });
    // Each 250 kB input gives four copies: 1 MB of outputs per input record, 3 MB per transaction.
    await writer.write([big(0, 250_000), big(1, 250_000), big(2, 250_000)]);
    // An input record of 1.5 MB: its copies are larger than the output topic accepts (created
    // beforehand with the broker's 1 MiB limit: the runner honours a topic's own limit).
    await writer.write([big(3, 1_500_000), event(4, 'small')]);
    await createTopic(admin, `${base}.copy`, 1, { 'max.message.bytes': String(1_048_588) });
    const handle = await start(fanOutProcessor(4), {
      connection,
      groupId: `${base}-g`,
      topics: { input, outputs: { copy: `${base}.copy` } },
      logger: quietLogger(base),
      handleSignals: false,
      sessionTimeoutMs: 6_000,
    });
    await waitFor('5 records', () => handle.stats().recordsIn >= 5);
    assert.deepEqual(handle.stats().deadLetters, { 'invalid-output': 1 });
    assert.equal(handle.stats().aborts, 0);
    await handle.stop();
    const copies = await readTopicToEnd(kafka, undefined, `${base}.copy`);
    assert.equal(copies.length, 16);
    const dead = await readTopicToEnd(kafka, undefined, `${base}-g.dlq`);
    assert.equal(dead.length, 1);
    assert.match(dead[0]!.headers[DLQ_HEADERS.error]!, /accepts at most/);
    assert.ok(dead[0]!.raw!.length > 1_500_000, 'the whole original record is in the dead-letter topic');
  });

  it('fetches at most maxBytesPerFetch, so a transaction holds what one fetch returned', async () => {
    const base = uniqueName('kit-fetch');
    const input = `${base}.raw`;
    // Stored as sent (uncompressed), whatever the broker's default compression.type.
    await createTopic(admin, input, 1, { 'compression.type': 'producer' });
    const writer = await RawWriter.open(kafka, registry, input);
    cleanups.push(() => writer.close());
    // 12 record batches of ~100 kB, one per send, all stored before any runner starts.
    for (let i = 0; i < 12; i++) await writer.write([{ ...event(i, `wf-${i}`), object: JSON.stringify({ kind: 'Workflow', pad: randomBytes(50_000).toString('hex') }) }]);
    const commitsWith = async (group: string, maxBytesPerFetch?: number) => {
      const handle = await start(passThroughProcessor(), {
        connection,
        groupId: group,
        topics: { input, outputs: { copy: `${group}.copy` } },
        logger: quietLogger(group),
        handleSignals: false,
        sessionTimeoutMs: 6_000,
        maxBytesPerFetch,
      });
      await waitFor('12 records', () => handle.stats().recordsIn >= 12);
      await handle.stop();
      assert.equal(handle.stats().recordsIn, 12);
      return handle.stats().commits;
    };
    // The broker fills a fetch with whole batches up to the limit: two of ~100 kB fit in 256 KiB, a third does not.
    assert.equal(await commitsWith(`${base}-small`, 256 * 1024), 6);
    // The default (10 MiB over all partitions, 8 MiB per partition) takes all 1.2 MB in one fetch.
    assert.equal(await commitsWith(`${base}-default`), 1);
  });

  it('fails with a clear error when the input topic does not exist', async () => {
    const base = uniqueName('kit-missing');
    await assert.rejects(
      runProcessor(counterProcessor(), { ...counterOptions({ group: base, input: `${base}.raw`, counted: `${base}.c`, names: `${base}.n` }) }),
      (error: Error) => error instanceof TopicError && error.message.includes(`'${base}.raw'`) && error.message.includes('does not exist'),
    );
    const topics = await admin.listTopics();
    assert.ok(!topics.includes(`${base}.raw`), 'the input topic is not created');
  });
});

describe('processor runner (at least once)', () => {
  it('processes every record and commits offsets after the outputs', async () => {
    const n = await setUp('kit-alo', 2);
    const events = Array.from({ length: 40 }, (_, i) => event(i, `e${i % 4}`));
    await n.writer.write(events);
    const options: RunProcessorOptions = {
      connection,
      groupId: n.group,
      mode: 'at-least-once',
      topics: { input: n.input, outputs: { copy: n.counted } },
      logger: quietLogger(n.group),
      handleSignals: false,
      sessionTimeoutMs: 6_000,
    };
    let handle = await start(passThroughProcessor(), options);
    await waitFor('40 records', () => handle.stats().recordsIn >= 40);
    await handle.stop();
    await n.writer.write([event(40, 'e0'), event(41, 'e1')]);
    handle = await start(passThroughProcessor(), options);
    await waitFor('2 more records', () => handle.stats().recordsIn >= 2);
    assert.equal(handle.stats().recordsIn, 2, 'committed offsets are where it stopped');
    await handle.stop();
    const copies = await readTopicToEnd(kafka, registry, n.counted);
    assert.equal(copies.length, 42);
    assert.deepEqual(new Set(copies.map((c) => c.key)), new Set([...events, event(40, 'e0'), event(41, 'e1')].map((e) => e.id)));
  });

  it('keeps state in at-least-once mode too', async () => {
    const n = await setUp('kit-alo-state', 2);
    await n.writer.write(Array.from({ length: 20 }, (_, i) => event(i, `e${i % 2}`)));
    let handle = await start(counterProcessor(), counterOptions(n, { mode: 'at-least-once' }));
    await waitFor('20 records', () => handle.stats().recordsIn >= 20);
    await handle.stop();
    await n.writer.write(Array.from({ length: 10 }, (_, i) => event(20 + i, `e${i % 2}`)));
    handle = await start(counterProcessor(), counterOptions(n, { mode: 'at-least-once' }));
    await waitFor('10 records', () => handle.stats().recordsIn >= 10);
    await handle.stop();
    const counted = await readTopicToEnd<Counted>(kafka, registry, n.counted);
    assertCounts(counted, new Map([['e0', 15], ['e1', 15]]));
  });
});
