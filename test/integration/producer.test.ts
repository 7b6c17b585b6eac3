// The producer on the real stack (Kafka, Apicurio, the Kubernetes API server), in-process:
// workflows created, patched as Argo's controller writes them and deleted, with and without the
// label, arrive on the raw topic, decoded through the registry, every change, in order per object,
// with the right operation; nothing of unlabelled workflows; objects that existed before the first
// start arrive as READ; an unknown resource is refused with the names the server has.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ArgoSimulator, scriptFromWorkflow } from '../../stack/argo-simulator.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { ConfigError } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { changeId } from '../../lib/raw-event.js';
import type { ProducerConfig } from '../../producer/config.js';
import { startProducer, type ProducerHandle } from '../../producer/service.js';
import { operationsOf, publishBarrier, RawReader, recordsOf, settledRecords, withoutBarrier } from '../support/producer.js';
import { testConnection, testProducerConfig, uniqueName } from '../support/services.js';

const connection = testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const sim = new ArgoSimulator(kc);
const logger = createLogger('producer-test', process.env.LOG_LEVEL ?? 'warn');
const kafka = createKafka(connection, logger, 'kubetrail-producer-test');
const registry = createRegistry(connection);
const fixtures = join('test', 'fixtures', 'argo-workflows', 'workflows');
const fixture = (file: string) => JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as Record<string, unknown>;

const cleanup: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

const configFor = (ns: string, flags: Record<string, unknown> = {}): ProducerConfig => testProducerConfig(ns, { flags });

async function start(config: ProducerConfig): Promise<{ producer: ProducerHandle; reader: RawReader; stop: () => Promise<void> }> {
  const producer = await startProducer(config, logger);
  cleanup.push(() => producer.stop());
  await producer.whenWatching();
  const reader = await new RawReader(kafka, registry, config.topic).start();
  cleanup.push(() => reader.stop());
  return { producer, reader, stop: async () => void (await Promise.all([producer.stop(), reader.stop()])) };
}

test('every change of labelled workflows arrives in order with its operation; unlabelled ones never', async () => {
  const ns = uniqueName('prod');
  const config = configFor(ns);
  const { producer, reader, stop } = await start(config);
  const tracked = scriptFromWorkflow(fixture('dag-diamond-82q7s-1e994e4481.json'), { namespace: ns, name: uniqueName('diamond'), labels: { 'track-me': 'true' } });
  const untracked = scriptFromWorkflow(fixture('steps-4k5vn-63f8e96bb4.json'), { namespace: ns, name: uniqueName('steps'), labels: { 'track-me': 'false' } });
  const versions: string[] = [];
  await sim.play(untracked);
  let last = await sim.create(tracked);
  versions.push(String((last.metadata as { resourceVersion: string }).resourceVersion));
  for (const step of tracked.steps) {
    last = await sim.patch(ns, tracked.name, step.patch);
    versions.push(String((last.metadata as { resourceVersion: string }).resourceVersion));
  }
  await sim.delete(ns, tracked.name);
  await sim.delete(ns, untracked.name);
  const records = await reader.waitFor((r) => r.some((x) => x.value.name === tracked.name && x.value.operation === 'DELETED'), 20_000, 'the DELETED');
  const mine = reader.of(tracked.name);
  assert.deepEqual(operationsOf(mine), ['ADDED', ...tracked.steps.map(() => 'MODIFIED'), 'DELETED']);
  assert.deepEqual(mine.slice(0, -1).map((r) => r.value.resourceVersion), versions, 'every version, in order');
  assert.equal(new Set(mine.map((r) => r.partition)).size, 1, 'one partition per object');
  assert.ok(mine.every((r) => r.key === `workflows.argoproj.io/${ns}/${tracked.name}`));
  for (const r of mine) {
    assert.equal(r.value.id, changeId({ cluster: 'test', group: 'argoproj.io', resource: 'workflows', uid: r.value.uid, resourceVersion: r.value.resourceVersion }));
    assert.equal(r.headers['kubetrail-operation'], r.value.operation);
    assert.equal(r.headers['kubetrail-id'], r.value.id);
    assert.equal(r.value.source.producer, config.instanceId);
    assert.equal(r.value.resource.kind, 'Workflow');
  }
  // The Running patches and the final status are there as the controller wrote them.
  const phases = mine.map((r) => (JSON.parse(r.value.object) as { status?: { phase?: string } }).status?.phase ?? null);
  assert.equal(phases[0], null);
  assert.equal(phases[1], 'Running');
  assert.equal(phases[phases.length - 2], tracked.finalPhase);
  assert.equal(mine.at(-2)!.value.labels['workflows.argoproj.io/phase'], tracked.finalPhase);
  assert.equal(records.filter((r) => r.value.name === untracked.name).length, 0, 'nothing of the unlabelled workflow');
  assert.equal(new Set(records.map((r) => r.value.id)).size, records.length, 'no copies');
  const seen = await producer.metrics.registry.getSingleMetricAsString('kubetrail_producer_events_published_total');
  assert.match(seen, /operation="MODIFIED"[^}]*\} \d+/);
  await stop();
});

test('objects present at the first start arrive as READ; then the name prefix and operations filters apply', async () => {
  const ns = uniqueName('first');
  const before = [uniqueName('ci-a'), uniqueName('ci-b'), uniqueName('other')];
  for (const name of before) await sim.create(scriptFromWorkflow(fixture('hello-world-nrgbf-6c618f8364.json'), { namespace: ns, name, labels: { 'track-me': 'true' } }));
  const config = configFor(ns, { namePrefix: 'ci-', operations: 'READ,ADDED,DELETED' });
  const { reader, stop } = await start(config);
  await reader.waitFor((r) => r.filter((x) => x.value.operation === 'READ').length >= 2, 15_000, 'the READs');
  const later = uniqueName('ci-c');
  await sim.create(scriptFromWorkflow(fixture('hello-world-nrgbf-6c618f8364.json'), { namespace: ns, name: later, labels: { 'track-me': 'true' } }));
  await sim.patch(ns, later, { status: { phase: 'Running' } });
  await sim.patch(ns, before[2]!, { status: { phase: 'Running' } });
  await sim.delete(ns, later);
  await reader.waitFor((r) => r.some((x) => x.value.name === later && x.value.operation === 'DELETED'), 15_000, 'the DELETED');
  const names = reader.records.map((r) => `${r.value.operation} ${r.value.name}`);
  assert.deepEqual(names.filter((n) => n.startsWith('READ')).sort(), [`READ ${before[0]}`, `READ ${before[1]}`].sort());
  assert.deepEqual(operationsOf(reader.of(later)), ['ADDED', 'DELETED'], 'MODIFIED filtered out by operations');
  assert.equal(reader.of(before[2]!).length, 0, 'names without the prefix are not published');
  await stop();
});

test('an unknown resource is a configuration error naming what the server has', async () => {
  const config = configFor('x', { resource: 'workflowz' });
  await assert.rejects(startProducer(config, logger), (e: unknown) => e instanceof ConfigError && /no resource 'workflowz'.*workflows/s.test(e.message));
  await assert.rejects(startProducer(configFor('x', { group: 'nope.example.com' }), logger), (e: unknown) => e instanceof ConfigError && /does not serve nope.example.com\/v1alpha1/.test(e.message));
});

test('/healthz, /readyz and /metrics: the leader is ready watching, a second replica ready as standby', async () => {
  const ns = uniqueName('http');
  const leaderConfig = configFor(ns, { httpPort: 0 });
  const { producer, stop } = await start(leaderConfig);
  const standby = await startProducer({ ...leaderConfig, instanceId: `${leaderConfig.instanceId}-standby` }, logger);
  cleanup.push(() => standby.stop());
  const get = async (port: number | undefined, path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: await response.text() };
  };
  assert.deepEqual(await get(producer.httpPort, '/healthz'), { status: 200, body: 'ok\n' });
  assert.deepEqual(await get(producer.httpPort, '/readyz'), { status: 200, body: 'leader: watching\n' });
  const deadline = Date.now() + 15_000;
  while ((await get(standby.httpPort, '/readyz')).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await get(standby.httpPort, '/readyz'), { status: 200, body: 'standby\n' });
  const metrics = (await get(producer.httpPort, '/metrics')).body;
  assert.match(metrics, /kubetrail_producer_leader(\{[^}]*\})? 1/);
  assert.match(metrics, /kubetrail_producer_relists_total\{reason="first_start"[^}]*\} 1/);
  assert.match(metrics, /kubetrail_producer_publish_duration_seconds_bucket/);
  assert.match((await get(standby.httpPort, '/metrics')).body, /kubetrail_producer_leader(\{[^}]*\})? 0/);
  assert.equal(standby.status().leader, false);
  await standby.stop();
  await stop();
});

test('restarted with another selection: relist; objects that left it are DELETED (inferred), the others not re-published', async () => {
  const ns = uniqueName('reselect');
  const config = configFor(ns);
  const [keep, leave] = [uniqueName('keep'), uniqueName('leave')];
  const first = await start(config);
  for (const name of [keep, leave]) await sim.create(scriptFromWorkflow(fixture('hello-world-nrgbf-6c618f8364.json'), { namespace: ns, name, labels: { 'track-me': 'true' } }));
  await first.reader.waitFor((r) => r.length >= 2, 15_000);
  await first.stop();
  const second = await start({ ...config, namePrefix: 'keep-', instanceId: `${config.instanceId}-2` });
  await second.reader.waitFor((r) => r.length >= 3, 15_000, 'the inferred deletion');
  const barrier = await publishBarrier(sim, second.reader, ns, uniqueName('keep-barrier'));
  await second.stop();
  const records = withoutBarrier(await settledRecords(kafka, registry, config.stream, config.topic), barrier);
  assert.deepEqual(operationsOf(recordsOf(records, keep)), ['ADDED'], 'unchanged: not re-published');
  assert.deepEqual(operationsOf(recordsOf(records, leave)), ['ADDED', 'DELETED*']);
  assert.equal(records.length, 3);
  const relists = await second.producer.metrics.registry.getSingleMetricAsString('kubetrail_producer_relists_total');
  assert.match(relists, /reason="selection_changed"[^}]*\} 1/);
});
