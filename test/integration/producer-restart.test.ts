// The producer restarted: killed with SIGKILL mid-stream, or stopped with SIGTERM, in its own
// process. Changes made while it was down (a patch, a delete, a create) still arrive, from the
// watch resumed at the checkpoint (no READ flood of unchanged objects, no copies). With the
// checkpoint's resourceVersion compacted away while it was down (410 Gone), it relists: changed
// and new objects arrive as READ, the deleted one as an inferred DELETED, unchanged ones not at all.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { ArgoSimulator, bareWorkflow } from '../../stack/argo-simulator.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { createLogger } from '../../lib/log.js';
import { compactEtcd } from '../../stack/kubeapi.js';
import { LocalStack } from '../../stack/stack.js';
import { childProducerEnv, operationsOf, RawReader, spawnProducer, type ChildProducer } from '../support/producer.js';
import { testConnection, uniqueName } from '../support/services.js';

const connection = testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const sim = new ArgoSimulator(kc);
const logger = createLogger('producer-test', process.env.LOG_LEVEL ?? 'warn');
const kafka = createKafka(connection, logger, 'kubetrail-producer-test');
const registry = createRegistry(connection);
const local = process.env.KUBETRAIL_STACK_DIR ? new LocalStack({ stackDir: process.env.KUBETRAIL_STACK_DIR }) : undefined;

const children: ChildProducer[] = [];
const readers: RawReader[] = [];
/** Each test ends its producers and readers (a reader left running would see the next test's broker kill). */
async function cleanup() {
  await Promise.all(children.splice(0).map((c) => c.kill('SIGKILL')));
  await Promise.all(readers.splice(0).map((r) => r.stop().catch(() => undefined)));
}
afterEach(cleanup);
after(cleanup);

function setup(prefix: string) {
  const ns = uniqueName(prefix);
  const stream = uniqueName(`${prefix}-s`);
  const launch = async (instance: string) => {
    const child = spawnProducer(childProducerEnv(connection, { stream, namespace: ns, instance }));
    children.push(child);
    await child.waitForLog(/"msg":"watching"/, 40_000);
    return child;
  };
  return { ns, stream, launch, reader: () => new RawReader(kafka, registry, `${stream}.raw`).start().then((r) => (readers.push(r), r)) };
}

test('killed with SIGKILL and restarted: changes made while down arrive, nothing else is re-published', async () => {
  const { ns, launch, reader: makeReader } = setup('kill');
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => uniqueName(n)) as [string, string, string, string];
  const first = await launch('one');
  const reader = await makeReader();
  for (const name of [a, b, c]) await sim.create(bareWorkflow(ns, name));
  await sim.patch(ns, a, { status: { phase: 'Running' } });
  await reader.waitFor((r) => r.length >= 4, 15_000, 'the first 4 records');
  const killed = await first.kill('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  // While no producer runs:
  await sim.patch(ns, a, { status: { phase: 'Succeeded' } });
  await sim.delete(ns, b);
  await sim.create(bareWorkflow(ns, d));
  await launch('two');
  await reader.waitFor((r) => r.length >= 7, 20_000, 'the 3 changes made while down');
  await sim.patch(ns, c, { status: { phase: 'Running' } });
  await reader.waitFor((r) => r.length >= 8, 15_000, 'a change after the restart');
  await new Promise((r) => setTimeout(r, 1_000)); // anything extra would show up by now
  assert.deepEqual(operationsOf(reader.of(a)), ['ADDED', 'MODIFIED', 'MODIFIED']);
  assert.deepEqual(operationsOf(reader.of(b)), ['ADDED', 'DELETED'], 'the delete made while down is a real DELETED');
  assert.deepEqual(operationsOf(reader.of(c)), ['ADDED', 'MODIFIED']);
  assert.deepEqual(operationsOf(reader.of(d)), ['ADDED']);
  assert.equal(reader.records.length, 8, 'no READ flood, no copies');
  assert.deepEqual(reader.records.slice(4).map((r) => r.value.source.producer), ['two', 'two', 'two', 'two']);
});

test('SIGTERM: clean shutdown with exit code 0, and the next start resumes where it stopped', async () => {
  const { ns, launch, reader: makeReader } = setup('term');
  const first = await launch('one');
  const reader = await makeReader();
  const a = uniqueName('a');
  await sim.create(bareWorkflow(ns, a));
  await reader.waitFor((r) => r.length >= 1, 15_000);
  const exit = await first.kill('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(first.output.some((l) => l.includes('"msg":"stopped"')));
  await sim.patch(ns, a, { status: { phase: 'Running' } });
  await launch('two');
  await reader.waitFor((r) => r.length >= 2, 20_000);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.deepEqual(operationsOf(reader.records), ['ADDED', 'MODIFIED']);
});

test('checkpoint compacted while down (410 Gone): relist with READ for changed and new, inferred DELETED, nothing for unchanged', { skip: local ? false : 'compaction needs the embedded stack' }, async () => {
  const { ns, launch, reader: makeReader } = setup('gone');
  const [changed, deleted, unchanged, added] = ['changed', 'deleted', 'unchanged', 'added'].map((n) => uniqueName(n)) as [string, string, string, string];
  const first = await launch('one');
  const reader = await makeReader();
  for (const name of [changed, deleted, unchanged]) await sim.create(bareWorkflow(ns, name));
  await reader.waitFor((r) => r.length >= 3, 15_000);
  await first.kill('SIGTERM');
  await sim.patch(ns, changed, { status: { phase: 'Running' } });
  await sim.delete(ns, deleted);
  await sim.create(bareWorkflow(ns, added));
  await compactEtcd(await local!.context());
  const second = await launch('two');
  await reader.waitFor((r) => r.length >= 6, 20_000, 'the relist');
  assert.ok(second.output.some((l) => /410 Gone/.test(l) && /relisting/.test(l)), 'the producer says why it relists');
  await sim.patch(ns, unchanged, { status: { phase: 'Running' } });
  await reader.waitFor((r) => r.length >= 7, 15_000, 'a change after the relist');
  await new Promise((r) => setTimeout(r, 1_000));
  assert.deepEqual(operationsOf(reader.of(changed)), ['ADDED', 'READ']);
  assert.deepEqual(operationsOf(reader.of(deleted)), ['ADDED', 'DELETED*'], 'the deletion is inferred (source.inferred)');
  assert.deepEqual(operationsOf(reader.of(added)), ['READ']);
  assert.deepEqual(operationsOf(reader.of(unchanged)), ['ADDED', 'MODIFIED'], 'unchanged: not re-published by the relist');
  const inferred = reader.of(deleted)[1]!.value;
  assert.equal(inferred.source.inferred, true);
  assert.deepEqual(Object.keys(JSON.parse(inferred.object)), ['apiVersion', 'kind', 'metadata']);
  assert.equal(reader.records.length, 7);
});
