// The real processors (found by discovery, as `kubetrail process <name>` finds them) run by the
// runner on Kafka give exactly what the in-memory test driver gives for the same input records:
// every fixture through its lifecycle plus the bad-input corpus (bad bytes, bad objects, odd but
// valid ones, fuzz), compared output by output in order, dead letter by dead letter (key, original
// bytes, reason, error, origin headers), and the state left in the changelog. Both run the same
// task, so they cannot disagree; this test is what shows it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testConnection, uniqueName } from '../support/services.js';
import { RawWriter, createTopic, quietLogger, readTopicToEnd, kafkaTestbed } from '../support/kit-helpers.js';
import { badInputCorpus } from '../support/bad-input-corpus.js';
import { loadAllWorkflows, rawEventFor } from '../fixtures/workflows.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import type { AvroSchema } from '../../lib/kit/processor.js';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';
import { listProcessors, loadProcessor } from '../../lib/kit/discovery.js';
import { MemoryRegistry, ProcessorTestDriver } from '../../lib/kit/test-driver.js';
import { runProcessor } from '../../lib/kit/runner.js';
import { CLOUDEVENT_KAFKA_HEADERS } from '../../lib/cloudevents.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

/** JSON with sorted keys: an avsc record and a plain object with the same fields compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

function textHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v.at(-1) : v)]));
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
    it(`${name}: the runner and the test driver give identical outputs, state and dead letters (fixtures and the bad-input corpus)`, { timeout: 180_000 }, async () => {
      const definition = await loadProcessor(name);
      const base = uniqueName(`kit-${name}`);
      const input = `${base}.raw`;
      // One partition: the runner then sees every record in one order, the driver's order.
      await createTopic(admin, input, 1);
      const writer = await RawWriter.open(kafka, registry, input);
      cleanups.push(() => writer.close());
      const corpus = await badInputCorpus(registry, writer.schemaId, base);
      const events = rawEvents();
      const lifecycle = await Promise.all(events.map(async (e) => ({ key: keyOf(e), value: await registry.encode(writer.schemaId, e), alone: false })));
      const messages = [...lifecycle, ...corpus.cases.map((c, i) => ({ key: c.key, value: c.value, headers: { 'bad-input-case': String(i) }, alone: c.alone === true }))];
      let batch: Array<{ key: string | null; value: Buffer | null; headers?: Record<string, string> }> = [];
      for (const { alone, ...message } of messages) {
        if (alone || batch.length >= 100) {
          if (batch.length) await writer.writeRaw(batch);
          batch = [];
        }
        if (alone) await writer.writeRaw([message]);
        else batch.push(message);
      }
      if (batch.length) await writer.writeRaw(batch);
      // The input as stored (offsets, timestamps, headers): what both will read.
      const stored = await readTopicToEnd(kafka, undefined, input);
      assert.equal(stored.length, messages.length);

      const group = `${base}-g`;
      const outputNames = Object.keys(definition.outputs);
      const outputTopics = Object.fromEntries(outputNames.map((o) => [o, `${base}.${o}`]));
      const handle = await runProcessor(definition, { connection, groupId: group, topics: { input, outputs: outputTopics }, logger: quietLogger(base), handleSignals: false, sessionTimeoutMs: 6_000 });
      cleanups.push(() => handle.stop());
      const began = Date.now();
      while (handle.stats().recordsIn < messages.length && Date.now() - began < 120_000) await new Promise((r) => setTimeout(r, 50));
      await handle.stop();
      const stats = handle.stats();
      assert.equal(stats.recordsIn, messages.length);

      // The driver over the same bytes, its stand-in registry told the real ids the records carry.
      const memory = new MemoryRegistry();
      memory.add(writer.schemaId, resourceEventSchema as AvroSchema);
      memory.add(corpus.otherId, corpus.otherSchema);
      const driver = new ProcessorTestDriver(definition, { registry: memory, inputTopic: input });
      for (const r of stored) driver.pipeBytes(r.raw, { key: r.key, headers: r.headers, offset: r.offset, timestamp: r.timestamp });

      for (const output of outputNames) {
        const got = await readTopicToEnd(kafka, registry, outputTopics[output]!);
        const want = driver.readAll(output);
        assert.ok(want.length > 0, `${output}: the records produce outputs`);
        // The driver hands CloudEvents headers apart (cloudEvent); its content-type names the
        // declared topic's subject, the runner's the topic this test writes to.
        const ceWithoutSubject = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([name]) => CLOUDEVENT_KAFKA_HEADERS.has(name) && name !== 'content-type'));
        const plain = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([name]) => !CLOUDEVENT_KAFKA_HEADERS.has(name)));
        assert.deepEqual(
          got.map((r) => [r.key, r.value === null ? null : canonical(r.value), plain(r.headers), ceWithoutSubject(r.headers)]),
          want.map((r) => [r.key, r.value === null ? null : canonical(r.value), r.headers, ceWithoutSubject(r.cloudEvent)]),
          `${output}: the same records in the same order`,
        );
      }

      const withoutClock = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).filter(([h]) => h !== DLQ_HEADERS.timestamp));
      const letters = await readTopicToEnd(kafka, undefined, `${group}.dlq`);
      const driverLetters = driver.deadLetters();
      assert.ok(driverLetters.length >= 15, `the corpus is dead-lettered (${driverLetters.length})`);
      assert.deepEqual(
        letters.map((l) => [l.key, l.raw?.toString('hex') ?? null, withoutClock(l.headers)]),
        driverLetters.map((d) => [d.key, (d.message.value as Buffer | null)?.toString('hex') ?? null, withoutClock(textHeaders(d.message.headers))]),
        'the same dead letters: key, original bytes, reason, error and origin',
      );
      const byReason: Record<string, number> = {};
      for (const d of driverLetters) byReason[d.reason] = (byReason[d.reason] ?? 0) + 1;
      assert.deepEqual(stats.deadLetters, byReason);
      assert.ok(Object.keys(byReason).length >= 5, `several reasons: ${JSON.stringify(byReason)}`);

      const changelog = await readTopicToEnd(kafka, registry, `${group}-${definition.state!.store}-changelog`);
      const state = new Map<string, string>();
      for (const r of changelog) {
        state.delete(r.key!);
        if (r.value !== null) state.set(r.key!, canonical(r.value));
      }
      assert.deepEqual(
        [...state.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
        driver.stateEntries().map(([k, v]) => [k, canonical(v)]),
        'the same state',
      );
    });
  }
});
