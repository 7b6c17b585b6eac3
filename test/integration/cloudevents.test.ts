// CloudEvents on Kafka, read back: a workflow played through the API server, the producer and both
// real processors on the stack; every record of the raw, completed and summary topics carries the
// binary-mode headers the CloudEvents Kafka binding requires (ce_specversion, ce_id, ce_source,
// ce_type) and those kubetrail adds (ce_time, ce_subject, content-type naming Avro and the
// registry subject the value's schema id belongs to); the event id follows the change through.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ArgoSimulator, scriptFromWorkflow } from '../../stack/argo-simulator.js';
import { startProducer } from '../../producer/service.js';
import { runProcessor } from '../../lib/kit/runner.js';
import { wireSchemaId } from '../../lib/kafka/codec.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import type { WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import { createCompletedFilter } from '../../processors/completed-filter/index.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import { quietLogger, readTopic, testKafka, testRegistry, type ReadRecord } from '../support/kit-helpers.js';
import { testConnection, testProducerConfig, uniqueName } from '../support/services.js';

const connection = testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const sim = new ArgoSimulator(kc);
const kafka = testKafka(connection);
const registry = testRegistry(connection);
const cleanup: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Every attribute the binding requires, and kubetrail's, checked against the record itself. */
async function assertCloudEvent(topic: string, r: ReadRecord, expected: { id: string; type: string; subject: string }): Promise<void> {
  const h = r.headers;
  const where = `${topic}@${r.partition}/${r.offset}`;
  assert.equal(h.ce_specversion, '1.0', where);
  assert.equal(h.ce_id, expected.id, where);
  assert.equal(h.ce_source, '/kubetrail/test/workflows.argoproj.io', where);
  assert.equal(h.ce_type, expected.type, where);
  assert.match(h.ce_time ?? '', RFC3339, where);
  assert.equal(h.ce_subject, expected.subject, where);
  assert.equal(h['content-type'], `application/avro; subject=${topic}-value`, where);
  // The subject named is the one the value's schema id is registered under.
  assert.equal(await registry.getLatestSchemaId(`${topic}-value`), wireSchemaId(r.raw), where);
}

test('raw, completed and summary records carry CloudEvents binary-mode headers, with the change id throughout', async () => {
  const ns = uniqueName('ce');
  const id = uniqueName('ce');
  const topics = { raw: `${id}.raw`, completed: `${id}.completed`, summary: `${id}.summary` };
  const producer = await startProducer(
    testProducerConfig(ns, { flags: { topic: topics.raw, stateTopic: `${id}.state`, stream: id, instanceId: `${id}-a` } }),
    quietLogger(`${id}-producer`),
  );
  cleanup.push(() => producer.stop());
  await producer.whenWatching();
  const fixture = JSON.parse(readFileSync(join('test', 'fixtures', 'argo-workflows', 'workflows', 'exit-handlers-n7s4n-f47e234887.json'), 'utf8')) as Record<string, unknown>;
  const script = scriptFromWorkflow(fixture, { namespace: ns, name: 'exit-handlers', labels: { 'track-me': 'true' } });
  await sim.play(script);
  for (const [definition, outputs] of [
    [createCompletedFilter(), { completed: topics.completed }],
    [createWorkflowSummary(), { summaries: topics.summary }],
  ] as const) {
    const handle = await runProcessor(definition as unknown as Parameters<typeof runProcessor>[0], {
      connection,
      groupId: `${id}-${definition.name}`,
      topics: { input: topics.raw, outputs },
      logger: quietLogger(`${id}-${definition.name}`),
      handleSignals: false,
      sessionTimeoutMs: 6_000,
    });
    cleanup.push(() => handle.stop());
  }
  const steps = 1 + script.steps.length;
  const raw = await readTopic<ResourceEvent>(kafka, registry, topics.raw, { expected: steps });
  const completed = await readTopic<ResourceEvent>(kafka, registry, topics.completed, { expected: 1 });
  await producer.stop();
  const summaries = await readTopic<WorkflowSummary>(kafka, registry, topics.summary, { expected: 2 });
  const subject = `${ns}/exit-handlers`;

  assert.equal(raw.length, steps);
  for (const r of raw) await assertCloudEvent(topics.raw, r, { id: r.value!.id, type: `io.kubetrail.resource.${r.value!.operation.toLowerCase()}`, subject });
  assert.equal(raw[0]!.headers.ce_type, 'io.kubetrail.resource.added');
  assert.equal(raw[0]!.headers.ce_time, new Date(raw[0]!.value!.source.observedAt).toISOString());
  // The completed record is the final raw event: same id, its own type.
  assert.equal(completed.length, 1);
  assert.equal(completed[0]!.value!.id, raw.at(-1)!.value!.id);
  await assertCloudEvent(topics.completed, completed[0]!, { id: raw.at(-1)!.value!.id, type: 'io.kubetrail.workflow.completed', subject });
  // Each summary carries the id of the change it summarises.
  assert.ok(summaries.length >= 2, `${summaries.length} summaries`);
  for (const r of summaries) await assertCloudEvent(topics.summary, r, { id: r.value!.source.eventId, type: 'io.kubetrail.workflow.summary', subject });
});
