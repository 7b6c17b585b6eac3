// The real processors (found by discovery, as `kubetrail process <name>` finds them) run by the
// runner on Kafka give the same outputs, key by key and in order, as the in-memory test driver
// gives for the same raw events: the two share semantics.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testConnection, uniqueName } from '../support/services.js';
import { RawWriter, createTopic, quietLogger, readTopic, kafkaTestbed } from '../support/kit-helpers.js';
import { loadAllWorkflows, rawEventFor } from '../fixtures/workflows.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import { listProcessors, loadProcessor } from '../../lib/kit/discovery.js';
import { ProcessorTestDriver } from '../../lib/kit/test-driver.js';
import { runProcessor } from '../../lib/kit/runner.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

/** JSON with sorted keys: an avsc record and a plain object with the same fields compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

const keyOf = (e: ResourceEvent) => `workflows.argoproj.io/${e.namespace ?? ''}/${e.name}`;

/** Every fixture added, modified twice (once a re-delivery of the same change), half of them deleted. */
function rawEvents(): ResourceEvent[] {
  const events: ResourceEvent[] = [];
  const workflows = loadAllWorkflows();
  for (const [i, { object }] of workflows.entries()) {
    events.push(rawEventFor(object, 'ADDED', { resourceVersion: '1' }));
    const modified = rawEventFor(object, 'MODIFIED', { resourceVersion: '2' });
    events.push(modified, { ...modified });
    if (i % 2 === 0) events.push(rawEventFor(object, 'DELETED', { resourceVersion: '3' }));
  }
  return events;
}

function byKey(records: Array<{ key: string | null; value: unknown }>): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const r of records) {
    const key = r.key ?? '(null)';
    const list = result.get(key) ?? [];
    list.push(r.value === null ? 'tombstone' : canonical(r.value));
    result.set(key, list);
  }
  return result;
}

describe('real processors under the runner', () => {
  it('discovery finds them and skips the template', () => {
    const names = listProcessors();
    assert.ok(names.includes('completed-filter') && names.includes('workflow-summary'), names.join(','));
    assert.ok(!names.some((n) => n.startsWith('_')));
  });

  for (const name of ['completed-filter', 'workflow-summary']) {
    it(`${name}: same outputs as the test driver`, async () => {
      const definition = await loadProcessor(name);
      const events = rawEvents();

      const driver = new ProcessorTestDriver(definition);
      for (const e of events) driver.pipe(e as never, { key: keyOf(e) });
      const outputNames = Object.keys(definition.outputs);
      const expected = new Map(outputNames.map((o) => [o, driver.readAll(o)]));
      const expectedDead = driver.deadLetters().length;

      const base = uniqueName(`kit-${name}`);
      const input = `${base}.raw`;
      await createTopic(admin, input, 3);
      const writer = await RawWriter.open(kafka, registry, input);
      cleanups.push(() => writer.close());
      for (let i = 0; i < events.length; i += 100) {
        const slice = events.slice(i, i + 100);
        await writer.writeRaw(await Promise.all(slice.map(async (e) => ({ key: keyOf(e), value: await registry.encode(writer.schemaId, e) }))));
      }
      const outputTopics = Object.fromEntries(outputNames.map((o) => [o, `${base}.${o}`]));
      const handle = await runProcessor(definition, {
        connection,
        groupId: `${base}-g`,
        topics: { input, outputs: outputTopics },
        logger: quietLogger(base),
        handleSignals: false,
        sessionTimeoutMs: 6_000,
      });
      cleanups.push(() => handle.stop());
      const began = Date.now();
      while (handle.stats().recordsIn < events.length && Date.now() - began < 30_000) await new Promise((r) => setTimeout(r, 50));
      const stats = handle.stats();
      await handle.stop();
      assert.equal(stats.recordsIn, events.length);
      assert.equal(Object.values(stats.deadLetters).reduce((a, b) => a + (b ?? 0), 0), expectedDead);

      for (const output of outputNames) {
        const want = expected.get(output)!;
        const got = await readTopic(kafka, registry, outputTopics[output]!, { expected: want.length, settleMs: 500 });
        assert.equal(got.length, want.length, `${output}: record count`);
        assert.ok(want.length > 0, `${output}: the fixtures produce outputs`);
        assert.deepEqual(byKey(got), byKey(want), `${output}: values per key, in order`);
      }
    });
  }
});
