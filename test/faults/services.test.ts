// Fault suite: the services the pipeline talks to fail under it. Kafka killed with SIGKILL and
// started again mid-stream; the Schema Registry down for a while. Every scenario runs on the
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

test('broker killed (-9) twice mid-stream and restarted', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'broker-kill', { workflows: 48, concurrency: 12, stepDelayMs: [150, 600] }, async ({ pipeline, driver, random }) => {
    for (const at of [0.2 + random() * 0.15, 0.55 + random() * 0.15]) {
      await driver.whenProgress(at);
      const stack = env.stack();
      await stack.kill('kafka');
      pipeline.fault('kafka kill -9');
      await randomDelay(random, 2_000, 5_000); // changes keep coming while the broker is dead
      await stack.start('kafka');
    }
  });
  results.push(result);
});
