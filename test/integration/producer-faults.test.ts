// The producer across outages of what it talks to: the Kubernetes API server restarted (the watch
// connection drops; the producer watches again from its last resourceVersion, no relist), and the
// Kafka broker killed with SIGKILL mid-stream and started again (the producer stops watching,
// retries, and resumes from the last committed checkpoint: no change missing, none doubled).
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { ArgoSimulator, bareWorkflow } from '../../stack/argo-simulator.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { createLogger } from '../../lib/log.js';
import { LocalStack } from '../../stack/stack.js';
import { childProducerEnv, describe, operationsOf, publishBarrier, RawReader, recordsOf, settledRecords, spawnProducer, withoutBarrier, type ChildProducer } from '../support/producer.js';
import { testConnection, uniqueName } from '../support/services.js';

const connection = testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const sim = new ArgoSimulator(kc);
const logger = createLogger('producer-test', process.env.LOG_LEVEL ?? 'warn');
const kafka = createKafka(connection, logger, 'kubetrail-producer-test');
const registry = createRegistry(connection);
const local = process.env.KUBETRAIL_STACK_DIR ? new LocalStack({ stackDir: process.env.KUBETRAIL_STACK_DIR }) : undefined;
const skip = local ? false : 'restarting services needs the embedded stack';

const children: ChildProducer[] = [];
const readers: RawReader[] = [];
/** Each test ends its producers and readers (a reader left running would see the next test's broker kill). */
async function cleanup() {
  await Promise.all(children.splice(0).map((c) => c.kill('SIGKILL')));
  await Promise.all(readers.splice(0).map((r) => r.stop().catch(() => undefined)));
}
afterEach(cleanup);
after(cleanup);

/** Retries a Kubernetes write while the API server comes back. */
async function retrying<T>(write: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function setup(prefix: string) {
  const ns = uniqueName(prefix);
  const stream = uniqueName(`${prefix}-s`);
  const child = spawnProducer(childProducerEnv(connection, { stream, namespace: ns, instance: `${prefix}-one` }));
  children.push(child);
  return { ns, stream, child, reader: () => new RawReader(kafka, registry, `${stream}.raw`).start().then((r) => (readers.push(r), r)) };
}

test('API server restarted: the watch resumes from its resourceVersion, every change arrives, no relist', { skip }, async () => {
  const { ns, stream, child, reader: makeReader } = setup('apiserver');
  await child.waitForLog(/"msg":"watching"/, 40_000);
  const reader = await makeReader();
  const [a, b] = [uniqueName('a'), uniqueName('b')];
  await sim.create(bareWorkflow(ns, a));
  await sim.create(bareWorkflow(ns, b));
  await sim.patch(ns, a, { status: { phase: 'Running' } }); // just before the restart
  const began = Date.now();
  await local!.restart('kubeapi');
  const restartMs = Date.now() - began;
  await retrying(() => sim.patch(ns, a, { status: { phase: 'Succeeded' } }));
  await retrying(() => sim.delete(ns, b));
  await reader.waitFor((r) => r.length >= 5, 30_000, 'every change');
  const barrier = await publishBarrier(sim, reader, ns, uniqueName('barrier'));
  await child.kill('SIGKILL');
  const records = withoutBarrier(await settledRecords(kafka, registry, stream, `${stream}.raw`), barrier);
  assert.deepEqual(operationsOf(recordsOf(records, a)), ['ADDED', 'MODIFIED', 'MODIFIED']);
  assert.deepEqual(operationsOf(recordsOf(records, b)), ['ADDED', 'DELETED']);
  assert.equal(records.length, 5, `no copies, no READ:\n${describe(records)}`);
  assert.ok(!child.output.some((l) => l.includes('"msg":"relisted"') && !l.includes('first_start')), 'no relist');
  logger.info({ restartMs }, 'kubeapi restart');
});

test('Kafka broker killed (-9) and restarted mid-stream: no change missing, none doubled', { skip, timeout: 180_000 }, async () => {
  const { ns, stream, child, reader: makeReader } = setup('broker');
  await child.waitForLog(/"msg":"watching"/, 40_000);
  const [a, b, c] = [uniqueName('a'), uniqueName('b'), uniqueName('c')];
  await sim.create(bareWorkflow(ns, a));
  await sim.create(bareWorkflow(ns, b));
  const before = await makeReader();
  await before.waitFor((r) => r.length >= 2, 15_000);
  await before.stop();
  await local!.kill('kafka');
  // While the broker is dead:
  await sim.patch(ns, a, { status: { phase: 'Running' } });
  await sim.delete(ns, b);
  await sim.create(bareWorkflow(ns, c));
  await new Promise((r) => setTimeout(r, 3_000));
  await local!.start('kafka');
  await sim.patch(ns, c, { status: { phase: 'Running' } });
  const reader = await makeReader();
  await reader.waitFor((r) => r.length >= 6, 120_000, 'every change');
  const barrier = await publishBarrier(sim, reader, ns, uniqueName('barrier'));
  await child.kill('SIGKILL');
  const records = withoutBarrier(await settledRecords(kafka, registry, stream, `${stream}.raw`), barrier);
  assert.deepEqual(operationsOf(recordsOf(records, a)), ['ADDED', 'MODIFIED']);
  assert.deepEqual(operationsOf(recordsOf(records, b)), ['ADDED', 'DELETED']);
  assert.deepEqual(operationsOf(recordsOf(records, c)), ['ADDED', 'MODIFIED']);
  assert.equal(records.length, 6, `no copies:\n${describe(records)}`);
});
