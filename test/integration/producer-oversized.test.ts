// Workflows larger than a Kafka record (the broker's message.max.bytes is about 1 MiB; etcd takes
// objects up to 1.5 MiB): one with thousands of synthetic nodes that compresses well is published
// whole (gzip, as a batch of its own); one whose nodes carry incompressible data is published with
// status.nodes removed and `trimmed: ["status.nodes"]`. Neither is dropped, the producer goes on.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { ArgoSimulator } from '../../stack/argo-simulator.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { createLogger } from '../../lib/log.js';
import { startProducer } from '../../producer/service.js';
import { operationsOf, RawReader } from '../support/producer.js';
import { testConnection, testProducerConfig, uniqueName } from '../support/services.js';

const connection = testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const sim = new ArgoSimulator(kc);
const logger = createLogger('producer-test', process.env.LOG_LEVEL ?? 'warn');
const kafka = createKafka(connection, logger, 'kubetrail-producer-test');
const registry = createRegistry(connection);
const stops: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
});

/** Argo-like pod nodes, as the controller writes them into status.nodes. */
function nodes(workflow: string, count: number, message: () => string): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  for (let i = 0; i < count; i += 1) {
    const id = `${workflow}-${1_000_000_000 + i}`;
    all[id] = {
      id,
      name: `${workflow}[0].step-${i}`,
      displayName: `step-${i}`,
      type: 'Pod',
      templateName: 'echo',
      phase: 'Succeeded',
      boundaryID: workflow,
      message: message(),
      startedAt: '2024-10-01T04:27:23Z',
      finishedAt: '2024-10-01T04:27:33Z',
      hostNodeName: 'node-1',
      outputs: { exitCode: '0' },
      resourcesDuration: { cpu: 1, memory: 3 },
    };
  }
  return all;
}

test('objects over 1 MiB: whole when they compress under the limit, trimmed of status.nodes otherwise, never dropped', { timeout: 90_000 }, async () => {
  const ns = uniqueName('big');
  const config = testProducerConfig(ns, { prefix: 'big-s' });
  const producer = await startProducer(config, logger);
  stops.push(() => producer.stop());
  await producer.whenWatching();
  const reader = await new RawReader(kafka, registry, config.topic).start();
  stops.push(() => reader.stop());

  const create = async (name: string, statusNodes: Record<string, unknown>) => {
    await sim.create({
      namespace: ns,
      name,
      create: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name, namespace: ns, labels: { 'track-me': 'true' } }, spec: { entrypoint: 'main' } },
      steps: [],
      finalPhase: 'Succeeded',
    });
    const written = await sim.patch(ns, name, { metadata: { labels: { 'workflows.argoproj.io/phase': 'Succeeded' } }, status: { phase: 'Succeeded', progress: '1/1', nodes: statusNodes } });
    return JSON.stringify(written).length;
  };
  const compressible = uniqueName('many-nodes');
  const noisy = uniqueName('noisy-nodes');
  const compressibleBytes = await create(compressible, nodes(compressible, 3_000, () => 'main: step finished'));
  const noisyBytes = await create(noisy, nodes(noisy, 180, () => randomBytes(5_800).toString('base64')));
  assert.ok(compressibleBytes > 1_048_576 && noisyBytes > 1_048_576, `both over 1 MiB (${compressibleBytes}, ${noisyBytes})`);
  const small = uniqueName('small');
  await create(small, {});
  await reader.waitFor((r) => r.filter((x) => x.value.operation === 'MODIFIED').length >= 3, 30_000, 'the three MODIFIED');

  const whole = reader.of(compressible).at(-1)!;
  assert.deepEqual(operationsOf(reader.of(compressible)), ['ADDED', 'MODIFIED']);
  assert.deepEqual(whole.value.trimmed, []);
  assert.equal(whole.headers['kubetrail-trimmed'], undefined);
  assert.ok(whole.value.object.length > 1_048_576, 'the whole object');
  assert.equal(Object.keys((JSON.parse(whole.value.object) as { status: { nodes: object } }).status.nodes).length, 3_000);

  const trimmed = reader.of(noisy).at(-1)!;
  assert.deepEqual(operationsOf(reader.of(noisy)), ['ADDED', 'MODIFIED']);
  assert.deepEqual(trimmed.value.trimmed, ['status.nodes']);
  assert.equal(trimmed.headers['kubetrail-trimmed'], 'status.nodes');
  const object = JSON.parse(trimmed.value.object) as { status: Record<string, unknown>; metadata: { name: string } };
  assert.equal(object.status.nodes, undefined);
  assert.equal(object.status.phase, 'Succeeded');
  assert.equal(object.status.progress, '1/1');
  assert.equal(object.metadata.name, noisy);
  assert.equal(trimmed.value.labels['workflows.argoproj.io/phase'], 'Succeeded');

  assert.deepEqual(operationsOf(reader.of(small)), ['ADDED', 'MODIFIED'], 'the producer went on');
  const metric = await producer.metrics.registry.getSingleMetricAsString('kubetrail_producer_records_trimmed_total');
  assert.match(metric, /step="1"[^}]*\} 1/);
  logger.warn({ compressibleBytes, noisyBytes, compressedRecord: 'alone', trimmedRecordObjectBytes: trimmed.value.object.length }, 'oversized');
});
