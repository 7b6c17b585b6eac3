// Records as large as the raw topic allows. The producer publishes an object whole when its
// gzipped batch fits the raw topic's limit (1 MiB by default), so a raw event can be well over
// 1 MiB uncompressed. completed-filter passes such an event on whole, and a processor that cannot
// handle one dead-letters it whole: both must be delivered, not refused by their topics. The
// topic contract gives outputs and dead letters an 8 MiB max.message.bytes, and the runner gzips
// large sends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes } from 'kafkajs';
import { runProcessor } from '../../lib/kit/runner.js';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import { createCompletedFilter } from '../../processors/completed-filter/index.js';
import type { WorkflowObject } from '../fixtures/workflows.js';
import { loadAllWorkflows } from '../fixtures/workflows.js';
import { eventOf, phaseOf, withObject } from '../support/bad-input-corpus.js';
import { RawWriter, createTopic, kafkaTestbed, quietLogger, readTopicToEnd } from '../support/kit-helpers.js';
import { testConnection, uniqueName } from '../support/services.js';
import { sleep } from '../../lib/async.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

describe('big records', () => {
  it('a finished workflow of 1.4 MB passes completed-filter whole, and a 1.4 MB record it refuses is dead-lettered whole', { timeout: 90_000 }, async () => {
    const base = uniqueName('big');
    const input = `${base}.raw`;
    // The broker's default limit, as the raw topic has it: the records fit only gzipped.
    await createTopic(admin, input, 1);
    const writer = await RawWriter.open(kafka, registry, input);
    cleanups.push(() => writer.close());

    const succeeded = JSON.parse(JSON.stringify(loadAllWorkflows().find(({ object }) => phaseOf(object) === 'Succeeded')!.object)) as WorkflowObject;
    succeeded.metadata = { ...(succeeded.metadata ?? {}), annotations: { 'example.com/bulk': 'x'.repeat(1_400_000) } };
    const big = eventOf(succeeded, `${base}-big`);
    const notWorkflow = withObject(`${base}-cm`, JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'big' }, data: { blob: 'y'.repeat(1_400_000) } }));
    const values = [await registry.encode(writer.schemaId, big), await registry.encode(writer.schemaId, notWorkflow)];
    assert.ok(values.every((v) => v.length > 1_048_576), 'over 1 MiB uncompressed');
    await writer.writeRaw([{ key: big.name, value: values[0]! }], CompressionTypes.GZIP);
    await writer.writeRaw([{ key: notWorkflow.name, value: values[1]! }], CompressionTypes.GZIP);

    const output = `${base}.completed`;
    const handle = await runProcessor(createCompletedFilter() as unknown as Parameters<typeof runProcessor>[0], {
      connection,
      groupId: `${base}-g`,
      topics: { input, outputs: { completed: output } },
      logger: quietLogger(base),
      handleSignals: false,
      sessionTimeoutMs: 6_000,
    });
    cleanups.push(() => handle.stop());
    const doneBy = Date.now() + 60_000;
    while (handle.stats().recordsIn < 2 && Date.now() < doneBy) await sleep(50);
    await handle.stop();
    assert.deepEqual(handle.stats().deadLetters, { 'process-error': 1 });

    const completed = await readTopicToEnd<ResourceEvent>(kafka, registry, output);
    assert.equal(completed.length, 1);
    assert.equal(completed[0]!.value!.object, big.object, 'the object passes whole');
    const letters = await readTopicToEnd(kafka, undefined, `${base}-g.dlq`);
    assert.equal(letters.length, 1);
    assert.ok(letters[0]!.raw!.equals(values[1]!), 'the refused record is dead-lettered whole');
    assert.equal(letters[0]!.headers[DLQ_HEADERS.reason], 'process-error');
  });
});
