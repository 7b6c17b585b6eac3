// Fault suite: the pipeline's own processes die. Processors and the producer are killed with
// SIGKILL at random moments, many times, and started again; the leading producer is killed with a
// standby running, which takes over. Two live instances of each processor share its group. Every change must still be on the raw topic exactly once and
// every final state exactly once on the completed and summary topics. See docs/faults.md.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { processorKinds, sleep, type Pipeline, type ProducerChild } from './support/pipeline.js';
import { randomDelay, runScenario } from './support/scenario.js';
import { useFaultsStack, type FaultsStack } from './support/stack.js';
import { totalLine, type ScenarioResult } from './support/verify.js';

let env: FaultsStack;
const results: ScenarioResult[] = [];
before(async () => {
  env = await useFaultsStack();
});
after(async () => {
  if (results.length > 0 && !process.env.KUBETRAIL_FAULTS_RESULTS) process.stdout.write(`${totalLine(results, 'kills.test.ts')}\n`);
  await env?.release();
});

const alive = (p: ProducerChild) => p.process.exitCode === null && p.process.signalCode === null;

test('processors and the producer killed with SIGKILL at random moments, many times', { timeout: 400_000 }, async () => {
  const options = { workflows: 60, concurrency: 12, stepDelayMs: [200, 700] as [number, number], maxBatchRecords: 10 };
  const { result } = await runScenario(env, 'random-kills', options, async ({ pipeline, random }) => {
    // 4 producer kills and 5 of each processor, in a random order, 1 to 3 s apart: each one is
    // started again at once, so some die again while they start, restore or catch up.
    const targets = [...Array<'producer'>(4).fill('producer'), ...processorKinds.flatMap((kind) => Array<typeof kind>(5).fill(kind))];
    for (let i = targets.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [targets[i], targets[j]] = [targets[j]!, targets[i]!];
    }
    for (const target of targets) {
      await randomDelay(random, 1_000, 3_000);
      if (target === 'producer') {
        for (const p of pipeline.producers.filter(alive)) await p.kill('SIGKILL');
        pipeline.fault('producer SIGKILL');
        await pipeline.startProducer({ waitReady: false });
      } else {
        await pipeline.killProcessor(target, 'SIGKILL');
        pipeline.fault(`${target} SIGKILL`);
        await pipeline.startProcessor(target, { waitReady: false });
      }
    }
  });
  results.push(result);
});

/** Waits until one live producer says it leads (readyz), other than `not`; returns it and how long it took. */
async function waitForLeader(pipeline: Pipeline, not: ProducerChild, timeoutMs = 45_000): Promise<{ leader: ProducerChild; ms: number }> {
  const began = Date.now();
  for (;;) {
    const leaders = (await pipeline.leaders()).filter((p) => p !== not);
    const watching = [];
    for (const p of leaders) if ((await p.readyz())?.status === 200) watching.push(p);
    if (watching[0]) return { leader: watching[0], ms: Date.now() - began };
    if (Date.now() - began > timeoutMs) throw new Error(`no standby took over within ${timeoutMs} ms:\n${pipeline.logs()}`);
    await sleep(100);
  }
}

test('leading producer killed with a standby running, twice: the standby takes over', { timeout: 300_000 }, async () => {
  const takeovers: number[] = [];
  const { result } = await runScenario(env, 'leader-failover', { workflows: 48, concurrency: 12, stepDelayMs: [200, 700] }, async ({ pipeline, driver, random }) => {
    for (const at of [0.25 + random() * 0.1, 0.6 + random() * 0.1]) {
      await driver.whenProgress(at);
      const [leader] = await pipeline.leaders();
      assert.ok(leader, 'one producer leads');
      await leader.kill('SIGKILL');
      pipeline.fault('leader producer SIGKILL');
      const { ms } = await waitForLeader(pipeline, leader);
      takeovers.push(ms);
      await pipeline.startProducer(); // a new standby
    }
  });
  results.push(result);
  process.stdout.write(`[faults] leader-failover: standby took over in ${takeovers.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}\n`);
});
