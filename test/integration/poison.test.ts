// Poison records against running processors: raw events with the real schema id whose bytes
// declare counts and lengths they do not hold (a labels map of 10^12 entries in 40 bytes, an
// array of 2×10^8 items, strings of 2^31−1 bytes, inside labels, trimmed and resource). Before the
// decoder checked them, one such record stalled a processor's event loop (or ended it out of
// memory) and every processor after it. Now: each is dead-lettered as malformed-avro within a
// second of being written, both processors answer /readyz 200 throughout, and the good records
// written around them are processed exactly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';
import { runProcessor, type ProcessorHandle } from '../../lib/kit/runner.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import { createCompletedFilter } from '../../processors/completed-filter/index.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import type { WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import { loadAllWorkflows } from '../fixtures/workflows.js';
import { eventOf, phaseOf, poisonRecords } from '../support/bad-input-corpus.js';
import { RawWriter, createTopic, kafkaTestbed, quietLogger, readTopicToEnd } from '../support/kit-helpers.js';
import { testConnection, uniqueName } from '../support/services.js';
import { sleep } from '../../lib/async.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

/** Polls /readyz of every handle until stopped; counts answers that were not 200. */
function pollReadiness(handles: ProcessorHandle[]): { stop: () => Promise<{ polls: number; notReady: string[] }> } {
  let running = true;
  let polls = 0;
  const notReady: string[] = [];
  const loop = (async () => {
    while (running) {
      for (const handle of handles) {
        const response = await fetch(`http://127.0.0.1:${handle.httpPort}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch((error: Error) => error);
        polls++;
        if (response instanceof Error || response.status !== 200) notReady.push(`${handle.name}: ${response instanceof Error ? response.message : response.status}`);
      }
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { polls, notReady };
    },
  };
}

describe('poison records', () => {
  it('are dead-lettered within a second while both processors stay ready, and the records around them are processed exactly', { timeout: 120_000 }, async (t) => {
    const base = uniqueName('poison');
    const input = `${base}.raw`;
    await createTopic(admin, input, 1);
    const writer = await RawWriter.open(kafka, registry, input);
    cleanups.push(() => writer.close());

    const handles: ProcessorHandle[] = [];
    const outputs: Record<string, string> = {};
    for (const [definition, output] of [
      [createCompletedFilter(), 'completed'],
      [createWorkflowSummary(), 'summaries'],
    ] as const) {
      outputs[definition.name] = `${base}.${output}`;
      const handle = await runProcessor(definition as unknown as Parameters<typeof runProcessor>[0], {
        connection,
        groupId: `${base}-${definition.name}`,
        topics: { input, outputs: { [output]: outputs[definition.name]! } },
        logger: quietLogger(base),
        handleSignals: false,
        sessionTimeoutMs: 6_000,
        httpPort: 0,
        httpHost: '127.0.0.1',
      });
      cleanups.push(() => handle.stop());
      handles.push(handle);
    }
    const readyBy = Date.now() + 30_000;
    while (!handles.every((h) => h.ready()) && Date.now() < readyBy) await sleep(50);
    assert.ok(handles.every((h) => h.ready()), 'both processors joined');
    const readiness = pollReadiness(handles);

    // A good, finished workflow before every poison record, one after the last.
    const succeeded = loadAllWorkflows().find(({ object }) => phaseOf(object) === 'Succeeded')!.object;
    const poisons = await poisonRecords(registry, writer.schemaId, base);
    const goods: ResourceEvent[] = [];
    for (const poison of poisons) {
      const good = eventOf(succeeded, `${base}-good-${goods.length}`);
      goods.push(good);
      await writer.write([good]);
      await writer.writeRaw([{ key: poison.key, value: poison.value }]);
      // Paced, so that readiness is polled while each poison record is being handled.
      await sleep(150);
    }
    const last = eventOf(succeeded, `${base}-good-${goods.length}`);
    goods.push(last);
    await writer.write([last]);

    const total = goods.length + poisons.length;
    const doneBy = Date.now() + 60_000;
    while (handles.some((h) => h.stats().recordsIn < total) && Date.now() < doneBy) await sleep(50);
    const { polls, notReady } = await readiness.stop();
    for (const handle of handles) await handle.stop();

    assert.ok(polls >= 10, `readiness polled (${polls})`);
    assert.deepEqual(notReady, [], 'both processors answered /readyz 200 throughout');
    const stored = await readTopicToEnd(kafka, undefined, input);
    const writtenAt = new Map(stored.map((r) => [r.key, r.timestamp]));
    for (const handle of handles) {
      assert.equal(handle.stats().recordsIn, total, `${handle.name} read every record`);
      const letters = await readTopicToEnd(kafka, undefined, `${handle.groupId}.dlq`);
      assert.deepEqual(letters.map((l) => [l.key, l.headers[DLQ_HEADERS.reason]]), poisons.map((p) => [p.key, 'malformed-avro']), `${handle.name}: every poison record, and only those, dead-lettered`);
      const times = letters.map((l) => Date.parse(l.headers[DLQ_HEADERS.timestamp]!) - writtenAt.get(l.key)!);
      t.diagnostic(`${handle.name}: written → dead-lettered, ms: ${times.join(', ')}; reasons: ${letters.map((l) => l.headers[DLQ_HEADERS.error]!.replace(/^.*: /, '')).join(' | ')}`);
      for (const [i, ms] of times.entries()) assert.ok(ms < 1_000, `${poisons[i]!.label}: dead-lettered ${ms} ms after it was written`);
    }
    const completed = await readTopicToEnd<ResourceEvent>(kafka, registry, outputs['completed-filter']!);
    assert.deepEqual(completed.map((r) => r.value!.uid), goods.map((g) => g.uid), 'completed-filter: each good workflow once, in order');
    const summaries = await readTopicToEnd<WorkflowSummary>(kafka, registry, outputs['workflow-summary']!);
    assert.deepEqual(summaries.map((r) => r.value!.source.eventId), goods.map((g) => g.id), 'workflow-summary: one summary per good record');
  });
});
