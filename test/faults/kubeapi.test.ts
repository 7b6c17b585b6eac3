// Fault suite: the Kubernetes API server under the producer. Restarted mid-stream (gracefully and
// with SIGKILL): every watch drops and resumes from its last resourceVersion, so every change
// must still arrive. The watch expired by etcd compaction (410 Gone): the producer relists, and
// what changed while no watch ran arrives as the latest state (READ), which verify.ts accepts only
// inside the relist's window. See docs/faults.md.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { compactEtcd } from '../../stack/kubeapi.js';
import { randomDelay, runScenario } from './support/scenario.js';
import { useFaultsStack, type FaultsStack } from './support/stack.js';
import { totalLine, type ScenarioResult } from './support/verify.js';

let env: FaultsStack;
const results: ScenarioResult[] = [];
before(async () => {
  env = await useFaultsStack();
});
after(async () => {
  if (results.length > 0 && !process.env.KUBETRAIL_FAULTS_RESULTS) process.stdout.write(`${totalLine(results, 'kubeapi.test.ts')}\n`);
  await env?.release();
});

test('API server restarted mid-stream (SIGTERM, then SIGKILL): every change arrives', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'kubeapi-restart', { workflows: 48, concurrency: 12, stepDelayMs: [150, 600] }, async ({ pipeline, driver, random }) => {
    const stack = env.stack();
    await driver.whenProgress(0.2 + random() * 0.15);
    await stack.restart('kubeapi');
    pipeline.fault('kubeapi restart');
    await driver.whenProgress(0.55 + random() * 0.15);
    await stack.kill('kubeapi');
    pipeline.fault('kubeapi kill -9');
    await randomDelay(random, 1_000, 3_000);
    await stack.start('kubeapi');
  });
  results.push(result);
});

test('watch expired by etcd compaction (410 Gone), with the producer down and with it paused: relists, nothing lost', { timeout: 300_000 }, async () => {
  // One producer: the scenario is about its own checkpoint going stale, which a standby would hide.
  const options = { workflows: 60, concurrency: 12, stepDelayMs: [200, 700] as [number, number], relists: true, producers: 1 };
  const { result, pipeline } = await runScenario(env, 'watch-expired', options, async ({ pipeline, driver, random }) => {
    const stack = env.stack();
    // The API server's watch cache serves recent history even after etcd compacted it; a
    // restarted API server has an empty cache, so a watch from a compacted version gets 410.
    // Compacting after the restart makes sure no event newer than the compaction reached the
    // producer's old watch.
    const restartAndCompact = async () => {
      await stack.restart('kubeapi');
      pipeline.fault('kubeapi restart');
      pipeline.compactions.push(BigInt(await compactEtcd(await stack.context())));
      pipeline.fault('etcd compaction');
    };
    // 1. The producer is down while changes go on; its checkpoint is compacted away before the
    //    next one starts: that one's first watch gets 410 and it relists.
    await driver.whenProgress(0.15 + random() * 0.1);
    await pipeline.producers[0]!.kill('SIGKILL');
    pipeline.fault('producer SIGKILL');
    await randomDelay(random, 2_000, 3_000);
    await restartAndCompact();
    const second = await pipeline.startProducer();
    // 2. The running producer is paused (SIGSTOP: a long GC pause, a frozen VM) while the API
    //    server restarts and the history is compacted; resumed, it watches again from a version
    //    that is gone, gets 410 and relists.
    await Promise.all([driver.whenProgress(0.55 + random() * 0.1), randomDelay(random, 2_000, 3_000)]);
    second.process.kill('SIGSTOP');
    pipeline.fault('producer SIGSTOP');
    try {
      await randomDelay(random, 500, 1_500);
      await restartAndCompact();
    } finally {
      second.process.kill('SIGCONT');
    }
  });
  results.push(result);
  const expired = pipeline.producers.flatMap((p) => p.output.filter((line) => line.includes('watch expired (410 Gone): relisting')));
  const relevant = pipeline.producers.flatMap((p) =>
    p.output.filter((line) => /relist|watch|leader|fenced|session|stopping/.test(line) && !line.includes('"component":"kafkajs"')).map((line) => `${p.instance} ${line.slice(0, 400)}`),
  );
  // The first 410 is certain; the one after the pause is what normally happens (on a heavily
  // loaded machine the paused producer has once been seen to resume without a 410, losing nothing).
  assert.ok(expired.length >= 1, `the producer relisted after 410 Gone:\n${relevant.join('\n')}`);
  process.stdout.write(`[faults] watch-expired: ${expired.length} relists after 410 Gone (2 expected: at the restart, after the pause)\n`);
});
