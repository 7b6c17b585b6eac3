// Two replicas of one producer stream, each in its own process: one leads (the member of the
// stream's consumer group assigned the state topic's partition), the other stands by; nothing is
// published twice. Killing the leader with SIGKILL hands over to the standby within seconds (the
// group session timeout) and every change made meanwhile still arrives, exactly once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { ArgoSimulator, bareWorkflow } from '../../stack/argo-simulator.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { createLogger } from '../../lib/log.js';
import { childProducerEnv, describe, operationsOf, publishBarrier, RawReader, recordsOf, settledRecords, spawnProducer, withoutBarrier, type ChildProducer } from '../support/producer.js';
import { testConnection, uniqueName } from '../support/services.js';

const connection = testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const sim = new ArgoSimulator(kc);
const logger = createLogger('producer-test', process.env.LOG_LEVEL ?? 'warn');
const kafka = createKafka(connection, logger, 'kubetrail-producer-test');
const registry = createRegistry(connection);

const children: ChildProducer[] = [];
let reader: RawReader | undefined;
after(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  await reader?.stop();
});

test('two replicas: one writer, no doubled records; the leader killed, the standby takes over with nothing missing', { timeout: 120_000 }, async () => {
  const ns = uniqueName('replicas');
  const stream = uniqueName('replicas-s');
  const spawn = (instance: string) => {
    const child = spawnProducer(childProducerEnv(connection, { stream, namespace: ns, instance }));
    children.push(child);
    return child;
  };
  const one = spawn('one');
  await one.waitForLog(/"msg":"watching"/, 40_000);
  const two = spawn('two');
  await two.waitForLog(/"msg":"standing by"/, 40_000);
  reader = await new RawReader(kafka, registry, `${stream}.raw`).start();
  const names = Array.from({ length: 4 }, (_, i) => uniqueName(`wf${i}`));
  for (const name of names) await sim.create(bareWorkflow(ns, name));
  for (const name of names) await sim.patch(ns, name, { status: { phase: 'Running' } });
  await reader.waitFor((r) => r.length >= 8, 15_000, 'the first 8 records');
  assert.ok(reader.records.every((r) => r.value.source.producer === 'one'), 'one writer: the first replica');
  assert.ok(!two.output.some((l) => l.includes('"msg":"became the leader"')), 'the standby never led');

  const killedAt = Date.now();
  await one.kill('SIGKILL');
  for (const name of names) await sim.patch(ns, name, { status: { phase: 'Succeeded' } });
  await sim.delete(ns, names[0]!);
  await reader.waitFor((r) => r.length >= 13, 40_000, 'the changes made after the leader died');
  const takeoverMs = Date.now() - killedAt;
  const barrier = await publishBarrier(sim, reader, ns, uniqueName('barrier'));
  await two.kill('SIGKILL');
  const records = withoutBarrier(await settledRecords(kafka, registry, stream, `${stream}.raw`), barrier);
  for (const name of names.slice(1)) assert.deepEqual(operationsOf(recordsOf(records, name)), ['ADDED', 'MODIFIED', 'MODIFIED'], name);
  assert.deepEqual(operationsOf(recordsOf(records, names[0]!)), ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED']);
  assert.equal(records.length, 13, `no doubled records:\n${describe(records)}`);
  assert.equal(new Set(records.map((r) => r.value.id)).size, 13);
  assert.deepEqual(records.map((r) => r.value.source.producer).sort(), [...Array<string>(8).fill('one'), ...Array<string>(5).fill('two')], 'the standby took over');
  assert.ok(two.output.some((l) => l.includes('"msg":"became the leader"')));
  logger.warn({ takeoverMs }, 'leader killed: standby published the next changes');
  assert.ok(takeoverMs < 30_000, `takeover in ${takeoverMs} ms`);
});

test('a paused leader (SIGSTOP) is replaced, and when it wakes up it is fenced: still no doubled records', { timeout: 120_000 }, async () => {
  const ns = uniqueName('zombie');
  const stream = uniqueName('zombie-s');
  const spawn = (instance: string) => {
    const child = spawnProducer(childProducerEnv(connection, { stream, namespace: ns, instance }));
    children.push(child);
    return child;
  };
  const one = spawn('one');
  await one.waitForLog(/"msg":"watching"/, 40_000);
  const two = spawn('two');
  await two.waitForLog(/"msg":"standing by"/, 40_000);
  const zombieReader = await new RawReader(kafka, registry, `${stream}.raw`).start();
  const [a, b] = [uniqueName('a'), uniqueName('b')];
  await sim.create(bareWorkflow(ns, a));
  await zombieReader.waitFor((r) => r.length >= 1, 15_000);
  one.process.kill('SIGSTOP'); // frozen, sockets open: a zombie once the group moves on
  try {
    await sim.patch(ns, a, { status: { phase: 'Running' } });
    await two.waitForLog(/"msg":"watching"/, 40_000);
    await zombieReader.waitFor((r) => r.length >= 2, 20_000, 'the standby publishing');
  } finally {
    one.process.kill('SIGCONT');
  }
  // The ex-leader wakes up with events it had not published: its writes must be refused.
  await sim.create(bareWorkflow(ns, b));
  await sim.patch(ns, a, { status: { phase: 'Succeeded' } });
  await zombieReader.waitFor((r) => r.length >= 4, 20_000, 'changes after the wake-up');
  await one.waitForLog(/fenced|"msg":"not the leader"/, 20_000);
  const barrier = await publishBarrier(sim, zombieReader, ns, uniqueName('barrier'));
  await Promise.all([one.kill('SIGKILL'), two.kill('SIGKILL')]);
  const records = withoutBarrier(await settledRecords(kafka, registry, stream, `${stream}.raw`), barrier);
  assert.deepEqual(operationsOf(recordsOf(records, a)), ['ADDED', 'MODIFIED', 'MODIFIED']);
  assert.deepEqual(operationsOf(recordsOf(records, b)), ['ADDED']);
  assert.equal(records.length, 4, `no doubled records:\n${describe(records)}`);
  assert.deepEqual(records.map((r) => r.value.source.producer).sort(), ['one', 'two', 'two', 'two']);
  assert.equal(recordsOf(records, a)[0]!.value.source.producer, 'one');
  const stepDown = one.output.filter((l) => /fenced|"msg":"not the leader"/.test(l));
  logger.warn({ stepDown: stepDown.map((l) => (JSON.parse(l) as { msg: string; why?: string }).why ?? (JSON.parse(l) as { msg: string }).msg) }, 'zombie');
  await zombieReader.stop();
});
