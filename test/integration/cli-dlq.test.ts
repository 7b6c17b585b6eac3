// `kubetrail dlq list|show|redrive` end to end on the real stack, with the real workflow-summary
// processor running: dead letters it wrote itself (bad bytes) and letters of a bug since fixed
// (valid raw events dead-lettered as process-error, written as the runner writes them) are counted
// by reason and shown whole; a redrive by time, then by reason, then a rerun send each letter back
// exactly once, and the processor turns each into exactly one summary. A redrive that died inside
// its transaction leaves nothing behind: the next one fences it and sends its letter once. Of two
// live redrives, the one that started last fences the other, which stops with a clear error.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { testConnection, uniqueName } from '../support/services.js';
import { runCli } from '../support/cli.js';
import { RawWriter, createTopic, kafkaTestbed, quietLogger, readTopicToEnd } from '../support/kit-helpers.js';
import { loadWorkflow, rawEventFor } from '../fixtures/workflows.js';
import { loadProcessor } from '../../lib/kit/discovery.js';
import { runProcessor, type ProcessorHandle } from '../../lib/kit/runner.js';
import { processorTopics, producerTopicSettings } from '../../lib/catalog.js';
import { DLQ_HEADERS, deadLetterMessage } from '../../lib/kit/dead-letter.js';
import { letterId, readDeadLetters, redrive, RedriveFencedError, REDRIVEN_FROM_HEADER } from '../../lib/dead-letters.js';
import { redriveLogTopicName } from '../../lib/topics.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);
const prefix = `${uniqueName('dlq')}.`;
const definition = await loadProcessor('workflow-summary');
const { groupId, topics } = processorTopics(definition, producerTopicSettings({}), prefix);
const summaryTopic = topics.outputs.summaries as string;
const fixed = ['dag-diamond-82q7s-1e994e4481', 'steps-4k5vn-63f8e96bb4', 'exit-handlers-n7s4n-f47e234887'];
const hour = 3_600_000;
let writer: RawWriter;
let handle: ProcessorHandle;
let inputRecords = 0;

const dlq = (action: string, ...args: string[]) => runCli(['dlq', action, 'workflow-summary', ...args, '--topic-prefix', prefix]);
/** Offsets of the letters of one reason (transaction markers take offsets too: not 0, 1, 2…). */
const offsetsOf = async (reason: string) => (await readDeadLetters(kafka, topics.deadLetter, { reasons: [reason] })).map((l) => l.offset);
async function processedAll(): Promise<void> {
  while (handle.stats().recordsIn < inputRecords) await new Promise((resolve) => setTimeout(resolve, 50));
}

before(async () => {
  // The testbed's own hook connects the admin, but it was registered before this file's top-level
  // await, and on a just-started stack this hook was seen running first ("Broker not connected").
  await admin.connect();
  await createTopic(admin, topics.input, 2);
  writer = await RawWriter.open(kafka, registry, topics.input);
  cleanups.push(() => writer.close());
  handle = await runProcessor(definition, { connection, groupId, topics: { input: topics.input, outputs: topics.outputs }, logger: quietLogger(`dlq-${prefix}`), handleSignals: false });
  cleanups.push(() => handle.stop());
  // Two records the processor dead-letters itself (not the wire format), one good one.
  await writer.writeRaw([{ key: 'bad-1', value: Buffer.from('nope') }, { key: 'bad-2', value: Buffer.from([1, 2, 3]) }]);
  await writer.write([rawEventFor(loadWorkflow('many-items-z26lj-73c42a8e83'), 'MODIFIED')]);
  inputRecords = 3;
  await processedAll();
  // Three valid events a buggy version dead-lettered: the first two 2 h ago, the last now.
  const producer = kafka.producer();
  await producer.connect();
  const now = Date.now();
  const letters = await Promise.all(
    fixed.map(async (name, i) => {
      const event = rawEventFor(loadWorkflow(name), 'MODIFIED');
      const message = { key: Buffer.from(`workflows.argoproj.io/${event.namespace ?? ''}/${event.name}`), value: await registry.encode(writer.schemaId, event), offset: String(100 + i), timestamp: String(now), attributes: 0, headers: { origin: 'test' } };
      return deadLetterMessage(definition.name, { topic: topics.input, partition: 0, message }, 'process-error', 'TypeError: a bug, since fixed', 'TypeError', i < 2 ? now - 2 * hour : now);
    }),
  );
  await producer.send({ topic: topics.deadLetter, acks: -1, messages: letters });
  await producer.disconnect();
});

// Run before the testbed's own clean-up (which disconnects the admin): the processor stopped, then its topics deleted.
cleanups.push(async () => {
  const ours = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours });
});

describe('kubetrail dlq', () => {
  it('list: counts by reason, the processor\'s own dead letters and the fixed bug\'s', async () => {
    const table = await dlq('list');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.equal(lines[0], `workflow-summary: 5 dead letters in ${topics.deadLetter}`);
    assert.match(lines[1] ?? '', /^REASON +COUNT +REDRIVEN +FIRST +LAST$/);
    assert.match(lines[2] ?? '', /^invalid-wire-format +2 +0 +\d{4}-/);
    assert.match(lines[3] ?? '', /^process-error +3 +0 +\d{4}-/);
    assert.equal(table.stderr, '');
  });

  it('show: one letter whole, its reason, origin and decoded value', async () => {
    const [first] = await offsetsOf('process-error');
    const shown = await dlq('show', String(first), '-o', 'json');
    assert.equal(shown.code, 0, shown.stderr);
    const record = JSON.parse(shown.stdout) as { offset: number; headers: Record<string, string>; value: { name: string } };
    assert.equal(record.offset, first);
    assert.equal(record.headers[DLQ_HEADERS.reason], 'process-error');
    assert.equal(record.headers[DLQ_HEADERS.error], 'TypeError: a bug, since fixed');
    assert.equal(record.headers[DLQ_HEADERS.offset], '100');
    assert.equal(record.headers.origin, 'test');
    assert.equal(record.value.name, 'dag-diamond-82q7s');
    const missing = await dlq('show', '99');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no record at offset 99/);
  });

  it('redrive: by time, then by reason, then again: each letter sent back exactly once and processed into one summary', async () => {
    const dry = await dlq('redrive', '--reason', 'process-error', '--dry-run');
    assert.equal(dry.stdout, `dry run: would re-drive 3 dead letters of ${topics.deadLetter} into ${topics.input} (0 selected already re-driven)\n`);
    const recent = await dlq('redrive', '--reason', 'process-error', '--since', '1h');
    assert.equal(recent.code, 0, recent.stderr);
    assert.equal(recent.stdout, `re-drove 1 dead letter of ${topics.deadLetter} into ${topics.input}\n`);
    const rest = await dlq('redrive', '--reason', 'process-error');
    assert.equal(rest.stdout, `re-drove 2 dead letters of ${topics.deadLetter} into ${topics.input} (1 selected already re-driven, not sent again)\n`);
    const again = await dlq('redrive', '--reason', 'process-error');
    assert.equal(again.stdout, `re-drove 0 dead letters of ${topics.deadLetter} into ${topics.input} (3 selected already re-driven, not sent again)\n`);

    const input = await readTopicToEnd(kafka, undefined, topics.input);
    const redriven = input.filter((r) => r.headers[REDRIVEN_FROM_HEADER] !== undefined);
    assert.deepEqual(redriven.map((r) => r.headers[REDRIVEN_FROM_HEADER]).sort(), (await offsetsOf('process-error')).map((o) => `${topics.deadLetter}/0/${o}`).sort());
    assert.ok(redriven.every((r) => r.headers.origin === 'test' && r.headers[DLQ_HEADERS.reason] === undefined), 'original headers kept, dead-letter headers dropped');
    inputRecords += 3;
    await processedAll();
    const summaries = await readTopicToEnd<{ name: string }>(kafka, registry, summaryTopic);
    assert.deepEqual(summaries.map((r) => r.value?.name).sort(), ['dag-diamond-82q7s', 'exit-handlers-n7s4n', 'many-items-z26lj', 'steps-4k5vn']);
    const listed = JSON.parse((await dlq('list', '-o', 'json')).stdout) as { total: number; reasons: Record<string, { count: number; redriven: number }> };
    assert.equal(listed.total, 5);
    assert.deepEqual([listed.reasons['process-error']?.count, listed.reasons['process-error']?.redriven], [3, 3]);
    assert.deepEqual([listed.reasons['invalid-wire-format']?.count, listed.reasons['invalid-wire-format']?.redriven], [2, 0]);
    assert.equal(handle.stats().deadLetters['process-error'] ?? 0, 0, 'the fixed processor dead-letters none of them');
  });

  it('a redrive that died inside its transaction is fenced by the next one, which sends its letter once', async () => {
    const letters = await readDeadLetters(kafka, topics.deadLetter, { reasons: ['invalid-wire-format'], offsets: [0] });
    assert.equal(letters.length, 1);
    // The dead redrive: same transactional id, the letter and its marker sent, never committed.
    const dead = kafka.producer({ transactionalId: `kubetrail-redrive-${topics.deadLetter}`, idempotent: true, maxInFlightRequests: 1 });
    await dead.connect();
    const transaction = await dead.transaction();
    await transaction.send({ topic: topics.input, messages: [{ key: 'bad-1', value: Buffer.from('nope'), headers: { [REDRIVEN_FROM_HEADER]: 'dead' } }] });
    await transaction.send({ topic: redriveLogTopicName(topics.deadLetter), messages: [{ key: letterId(0, 0), value: '{}' }] });
    const result = await redrive(kafka, { deadLetterTopic: topics.deadLetter, target: topics.input, letters });
    assert.deepEqual(result, { sent: 1, alreadyRedriven: 0, interrupted: false });
    await dead.disconnect().catch(() => undefined);
    const input = await readTopicToEnd(kafka, undefined, topics.input);
    assert.deepEqual(input.filter((r) => r.key === 'bad-1').map((r) => r.headers[REDRIVEN_FROM_HEADER] ?? 'original'), ['original', `${topics.deadLetter}/0/0`]);
    const rerun = await redrive(kafka, { deadLetterTopic: topics.deadLetter, target: topics.input, letters });
    assert.deepEqual(rerun, { sent: 0, alreadyRedriven: 1, interrupted: false });
  });

  it('two live redrives of one topic: the one that started last fences the first, and each letter is sent once', async () => {
    // bad-2, the processor's own letter not re-driven yet (bad-1's has been, and came back as a new letter).
    const key = 'bad-2';
    const letters = (await readDeadLetters(kafka, topics.deadLetter, { reasons: ['invalid-wire-format'] })).filter((l) => l.message.key?.toString() === key);
    assert.equal(letters.length, 1);
    let second: Awaited<ReturnType<typeof redrive>> | undefined;
    // The first has read the redrive log (nothing of this letter in it) and is about to send; the
    // second starts, reads the same log, sends the letter and commits; then the first goes on.
    const first = redrive(kafka, {
      deadLetterTopic: topics.deadLetter,
      target: topics.input,
      letters,
      onProgress: async ({ sent, toSend }) => {
        if (sent === 0 && toSend === 1) second = await redrive(kafka, { deadLetterTopic: topics.deadLetter, target: topics.input, letters });
      },
    });
    await assert.rejects(first, (error: unknown) => {
      assert.ok(error instanceof RedriveFencedError, String(error));
      assert.equal(error.sent, 0);
      assert.match(error.message, /was fenced \((PRODUCER_FENCED|INVALID_PRODUCER_EPOCH)\): another redrive of it started.*stopped after re-driving 0 letters/);
      return true;
    });
    assert.deepEqual(second, { sent: 1, alreadyRedriven: 0, interrupted: false });
    const input = await readTopicToEnd(kafka, undefined, topics.input);
    assert.deepEqual(input.filter((r) => r.key === key).map((r) => r.headers[REDRIVEN_FROM_HEADER] ?? 'original'), ['original', `${topics.deadLetter}/0/${letters[0]!.offset}`]);
    const markers = await readTopicToEnd(kafka, undefined, redriveLogTopicName(topics.deadLetter));
    assert.equal(markers.filter((r) => r.key === letterId(0, letters[0]!.offset)).length, 1, 'one marker for the letter in the redrive log');
  });
});
