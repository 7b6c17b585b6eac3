// Fault suite: the services the pipeline talks to fail under it. Kafka killed with SIGKILL and
// started again mid-stream (every broker of the cluster at once); the Schema Registry down for a while. Every scenario runs on the
// suite's own stack (test/faults/support/stack.ts) and checks, by id and resourceVersion, that no
// change is lost or doubled on the raw topic and that the completed and summary topics hold each
// final state exactly once (test/faults/support/verify.ts). See docs/faults.md.
import { after, before, test } from 'node:test';
import { randomDelay, runScenario } from './support/scenario.js';
import { useFaultsStack, type FaultsStack } from './support/stack.js';
import { totalLine, type ScenarioResult } from './support/verify.js';

let env: FaultsStack;
const results: ScenarioResult[] = [];
before(async () => {
  env = await useFaultsStack();
});
after(async () => {
  if (results.length > 0 && !process.env.KUBETRAIL_FAULTS_RESULTS) process.stdout.write(`${totalLine(results, 'services.test.ts')}\n`);
  await env?.release();
});

test('the whole Kafka cluster killed (-9 of every broker) mid-stream and restarted', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'cluster-kill', { workflows: 36, concurrency: 12, stepDelayMs: [150, 600] }, async ({ pipeline, driver, random }) => {
    await driver.whenProgress(0.3 + random() * 0.2);
    const stack = env.stack();
    const brokers = (await stack.serviceNames()).filter((name) => name.startsWith('kafka'));
    await Promise.all(brokers.map((name) => stack.kill(name)));
    pipeline.fault('every broker kill -9');
    await randomDelay(random, 2_000, 5_000); // changes keep coming while Kafka is dead
    await stack.up();
  });
  results.push(result);
});

test('Schema Registry down for a while mid-stream: cached ids keep every service going; a new replica waits for it, then leads with a re-registered schema', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'registry-down', { workflows: 48, concurrency: 12, stepDelayMs: [150, 600] }, async ({ pipeline, driver, random }) => {
    const [first] = pipeline.producers;
    await driver.whenProgress(0.15 + random() * 0.1);
    const stack = env.stack();
    await stack.kill('registry');
    pipeline.fault('registry kill -9');
    // The producer and both processors keep going on the schema ids they cached. A standby
    // replica started now cannot register its schema: its start-up waits and retries.
    const standby = await pipeline.startProducer({ waitReady: false });
    await randomDelay(random, 8_000, 12_000);
    // The registry comes back with its schemas: the standby's registration goes through.
    await stack.start('registry');
    await pipeline.waitProducerReady(standby);
    await driver.whenProgress(0.6 + random() * 0.1);
    // The old leader goes: the standby leads, writing with the id of the schema it registered
    // in the new registry, which the running processors have to fetch.
    await first!.kill('SIGKILL');
    pipeline.fault('leader producer SIGKILL');
    await pipeline.waitProducerReady(standby);
  });
  results.push(result);
});

// A processor (re)started while the registry is down must resolve, once it is back, the schema
// ids of everything already on the raw topic: the registry keeps its schemas across a kill -9.
test('Schema Registry killed while a processor restarts: it resolves every earlier schema id once the registry is back', { timeout: 300_000 }, async () => {
  const options = { workflows: 24, concurrency: 12, stepDelayMs: [150, 600] as [number, number], verifyTimeoutMs: 20_000 };
  const { result } = await runScenario(env, 'registry-kill-processor-restart', options, async ({ pipeline, driver, random }) => {
    await driver.whenProgress(0.2 + random() * 0.1);
    const stack = env.stack();
    await stack.kill('registry');
    pipeline.fault('registry kill -9');
    await randomDelay(random, 2_000, 4_000);
    await pipeline.killProcessor('workflow-summary');
    pipeline.fault('processor SIGKILL');
    const restarted = await pipeline.startProcessor('workflow-summary', { waitReady: false });
    await randomDelay(random, 4_000, 6_000);
    await stack.start('registry');
    await restarted.ready;
  });
  results.push(result);
});
