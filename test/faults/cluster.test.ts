// Fault suite: the Kafka cluster under the pipeline (three brokers, replication 3, min ISR 2),
// with two producer replicas and two live instances of each processor. A broker leading the raw
// topic killed, the transaction and group coordinators killed, a rolling restart as an operator
// does it, a stalled broker, zombie processors and a zombie producer that wake up after being
// replaced, and a processor scaled out and back in. See docs/faults.md.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../../lib/kafka/client.js';
import { busiestLeader, coordinatorOf, nodeName, waitInSync } from './support/cluster.js';
import { processorKinds, type Pipeline, type ProcessorKind, type ProducerChild } from './support/pipeline.js';
import { randomDelay, runScenario } from './support/scenario.js';
import { faultsStackDir, useFaultsStack, type FaultsStack } from './support/stack.js';
import { totalLine, type ScenarioResult } from './support/verify.js';
import { runCli } from '../support/cli.js';
import { uniqueName } from '../support/services.js';
import { ProcessorChild } from '../support/kit-helpers.js';
import { createTopicsPatiently } from '../../lib/topics.js';
import { waitFor, type WaitOptions } from '../support/wait.js';

let env: FaultsStack;
const results: ScenarioResult[] = [];
before(async () => {
  env = await useFaultsStack();
});
after(async () => {
  if (results.length > 0 && !process.env.KUBETRAIL_FAULTS_RESULTS) process.stdout.write(`${totalLine(results, 'cluster.test.ts')}\n`);
  await env?.release();
});

const stream = { workflows: 36, concurrency: 12, stepDelayMs: [150, 600] as [number, number] };

/** What a fenced transactional producer logs when its late commit is refused. */
const fencedError = /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|ProducerFenced|fenced|old epoch/i;

/** waitFor, asking every 200 ms: a question here may cost a CLI process or a request to the cluster under fault. */
const waitInCluster = (what: string, condition: () => boolean | Promise<boolean>, options: WaitOptions = {}) => waitFor(what, condition, { pollMs: 200, ...options });

/** Members of a processor's consumer group, as the group coordinator sees them. */
async function groupMembers(pipeline: Pipeline, groupId: string): Promise<number> {
  const admin = pipeline.kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups[0]?.state === 'Stable' ? groups[0].members.length : -1;
  } finally {
    await admin.disconnect();
  }
}

test('the broker leading most raw-topic partitions killed (-9) mid-stream, restarted later', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'raw-leader-kill', stream, async ({ pipeline, driver, random }) => {
    await driver.whenProgress(0.3 + random() * 0.15);
    const leader = nodeName(await busiestLeader(pipeline.kafka, pipeline.topics.raw));
    await env.stack().kill(leader);
    pipeline.fault('raw leader kill -9');
    await randomDelay(random, 4_000, 8_000); // the other two carry on: min ISR 2 still holds
    await env.stack().start(leader);
  });
  results.push(result);
});

test('the transaction coordinator of a processor, then its group coordinator, killed (-9) mid-stream', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'coordinator-kill', stream, async ({ pipeline, driver, random }) => {
    const group = pipeline.groups['workflow-summary'];
    await driver.whenProgress(0.25 + random() * 0.1);
    // The runner's transactional id of input partition 0 (lib/kit/delivery.ts).
    const transactional = nodeName(await coordinatorOf(pipeline.kafka, 'transaction', `${group}-${pipeline.topics.raw}-0`));
    await env.stack().kill(transactional);
    pipeline.fault('transaction coordinator kill -9');
    await randomDelay(random, 3_000, 6_000);
    await env.stack().start(transactional);
    await driver.whenProgress(0.6 + random() * 0.1);
    const coordinator = nodeName(await coordinatorOf(pipeline.kafka, 'group', group));
    await env.stack().kill(coordinator);
    pipeline.fault('group coordinator kill -9');
    await randomDelay(random, 3_000, 6_000);
    await env.stack().start(coordinator);
  });
  results.push(result);
});

test('a rolling restart of all three brokers, one at a time, each after the replicas are back in sync', { timeout: 400_000 }, async () => {
  const waits: number[] = [];
  const { result } = await runScenario(env, 'rolling-restart', { ...stream, workflows: 48 }, async ({ pipeline, driver }) => {
    await driver.whenProgress(0.15);
    for (const id of [1, 2, 3]) {
      waits.push(await waitInSync(pipeline.kafka));
      await env.stack().restart(nodeName(id)); // SIGTERM: a controlled shutdown moves leadership away first
      pipeline.fault('broker rolling restart');
    }
    waits.push(await waitInSync(pipeline.kafka));
  });
  results.push(result);
  process.stdout.write(`[faults] rolling-restart: replicas back in sync after ${waits.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}\n`);
});

test('a broker stalled (SIGSTOP) for longer than the session timeouts, then resumed', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'stalled-broker', stream, async ({ pipeline, driver, random }) => {
    await driver.whenProgress(0.3 + random() * 0.15);
    const leader = nodeName(await busiestLeader(pipeline.kafka, pipeline.topics.raw));
    // Through the CLI, as an operator stalls a node: `kubetrail stack pause|resume|status`.
    const stackCli = (...args: string[]) => runCli(['stack', ...args], 60_000, { KUBETRAIL_STACK_DIR: faultsStackDir() });
    const paused = await stackCli('pause', leader);
    assert.equal(paused.code, 0, paused.stderr);
    pipeline.fault('broker SIGSTOP');
    try {
      const status = await stackCli('status');
      assert.equal(status.code, 1, 'a paused node is not ready');
      assert.match(status.stdout, new RegExp(`^${leader} +paused `, 'm'), status.stdout);
      await randomDelay(random, 12_000, 15_000); // > broker (3 s) and processor (6 s) session timeouts
    } finally {
      const resumed = await stackCli('resume', leader);
      assert.equal(resumed.code, 0, resumed.stderr);
    }
    // The node re-registers with the controllers before it counts as ready again.
    await waitInCluster('`kubetrail stack status` says every node is ready again', async () => (await stackCli('status')).code === 0);
  });
  results.push(result);
});

/** The JSON log lines of a child's stderr that parse. */
function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Whether one of `children` opened `partition` (fenced its transactional id, found the committed offset) at or after `since`. */
function openedSince(children: ProcessorChild[], partition: number, since: number): boolean {
  return children.some((c) => logLines(c.stderr).some((l) => String(l.msg).startsWith('partition assigned') && l.partition === partition && Number(l.time) >= since));
}

test('zombie processors: an instance of each frozen just before a commit, replaced, then resumed: its late commit is refused', { timeout: 300_000 }, async () => {
  const zombies: Array<{ kind: ProcessorKind; child: ProcessorChild }> = [];
  // The live instances log at info, so the test sees when one of them opens the zombie's partition.
  const start = async (pipeline: Pipeline) => {
    await pipeline.startProducer();
    await pipeline.startProducer();
    await Promise.all(processorKinds.flatMap((kind) => [1, 2].map(() => pipeline.startProcessor(kind, { env: { LOG_LEVEL: 'info' } }))));
  };
  const { result } = await runScenario(env, 'zombie-processor', { ...stream, start }, async ({ pipeline, driver }) => {
    await driver.whenProgress(0.2);
    for (const kind of processorKinds) {
      // A third instance that freezes itself (SIGSTOP) at its 3rd commit: records and offsets sent, not committed.
      const child = await pipeline.startProcessor(kind, { env: { KUBETRAIL_FAULT_STOP: 'before-commit:3' } });
      zombies.push({ kind, child });
    }
    for (const { kind, child } of zombies) {
      await waitInCluster(`${kind} zombie froze`, () => child.stderr.includes('fault point: stopping this process'));
      pipeline.fault('processor frozen mid-transaction');
      const frozen = logLines(child.stderr).find((l) => String(l.msg).startsWith('fault point'))!;
      // The group goes on without it, and a live instance opens the zombie's partition: its
      // transactional id is fenced. Resumed before that, the zombie's commit would still be
      // valid (nothing had fenced it yet) and would succeed, which is no zombie.
      const live = pipeline.instances(kind).filter((c) => c !== child);
      await waitInCluster(`${kind} group rebalanced without the zombie`, async () => (await groupMembers(pipeline, pipeline.groups[kind])) === 2);
      await waitInCluster(`${kind}: partition ${String(frozen.partition)} opened by a live instance`, () => openedSince(live, Number(frozen.partition), Number(frozen.time)));
      child.process.kill('SIGCONT');
      await waitInCluster(`${kind} zombie's commit refused`, () => fencedError.test(child.stderr), { timeoutMs: 60_000, detail: () => `its log since it froze:\n${child.stderr.slice(child.stderr.indexOf('fault point')).slice(-6000)}` });
    }
  });
  results.push(result);
  for (const { kind, child } of zombies) {
    const line = child.stderr.split('\n').find((l) => fencedError.test(l)) ?? '';
    process.stdout.write(`[faults] zombie-processor: ${kind}'s late commit refused: ${line.slice(0, 240)}\n`);
  }
});

test('a zombie producer: the leader frozen between send and commit, replaced by its standby, then resumed: its commit is refused', { timeout: 300_000 }, async () => {
  let zombie: ProducerChild | undefined;
  // The leader freezes at its 8th transaction (records sent, not committed); the standby takes over.
  const start = async (pipeline: Pipeline) => {
    zombie = await pipeline.startProducer({ env: { KUBETRAIL_FAULT_STOP: 'before-commit:8' } });
    await pipeline.startProducer();
    await Promise.all(processorKinds.flatMap((kind) => [pipeline.startProcessor(kind), pipeline.startProcessor(kind)]));
  };
  const { result } = await runScenario(env, 'zombie-producer', { ...stream, start }, async ({ pipeline }) => {
    const frozen = zombie!;
    await waitInCluster('the leader froze', () => frozen.output.some((l) => l.includes('fault point: stopping this process')), { timeoutMs: 120_000 });
    pipeline.fault('producer frozen mid-transaction');
    // Leading, and watching: its session has run initTransactions on the stream's transactional
    // producers, which fenced the frozen leader. Resumed before that, the old leader's commit
    // would still be valid and succeed.
    await waitInCluster('the standby leads and watches', async () => (await pipeline.leaders({ watching: true })).some((p) => p !== frozen));
    frozen.process.kill('SIGCONT');
    await waitInCluster("the zombie's commit refused", () => frozen.output.some((l) => fencedError.test(l)), { timeoutMs: 60_000 });
  });
  results.push(result);
  process.stdout.write(`[faults] zombie-producer: late commit refused: ${(zombie!.output.find((l) => fencedError.test(l)) ?? '').slice(0, 240)}\n`);
});

test('each processor scaled from 1 to 3 instances and back to 1 while records flow', { timeout: 300_000 }, async () => {
  const { result } = await runScenario(env, 'scale-out-in', { ...stream, instances: 1 }, async ({ pipeline, driver, random }) => {
    for (const at of [0.15, 0.3]) {
      await driver.whenProgress(at + random() * 0.05);
      await Promise.all(processorKinds.map((kind) => pipeline.startProcessor(kind)));
      pipeline.fault('processor scaled out');
    }
    await driver.whenProgress(0.6 + random() * 0.1);
    for (const kind of processorKinds) {
      for (const child of pipeline.instances(kind).slice(0, 2)) await pipeline.killProcessor(kind, 'SIGTERM', child);
      pipeline.fault('processor scaled in');
    }
    assert.deepEqual(processorKinds.map((kind) => pipeline.instances(kind).length), [1, 1]);
  });
  results.push(result);
});

test('topics weaker than the cluster allows: `topics init --check` fails on them and a processor warns of them at start-up; topics it created pass', { timeout: 120_000 }, async () => {
  const kafka = kafkaClient({ brokers: env.connection.kafkaBrokers, clientId: 'faults-durability', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const weak = `${uniqueName('weak')}.`;
  const strong = `${uniqueName('strong')}.`;
  const connection = { KAFKA_BROKERS: env.connection.kafkaBrokers.join(','), SCHEMA_REGISTRY_URL: env.connection.schemaRegistryUrl };
  await admin.connect();
  try {
    await createTopicsPatiently(admin, [{ topic: `${weak}kubetrail.raw`, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'min.insync.replicas', value: '1' }] }]);
    assert.equal((await runCli(['topics', 'init', '--topic-prefix', weak], 60_000, connection)).code, 0);
    const failing = await runCli(['topics', 'init', '--topic-prefix', weak, '--check'], 60_000, connection);
    assert.equal(failing.code, 1, failing.stdout + failing.stderr);
    assert.match(failing.stdout, new RegExp(`WEAK +${weak.replace(/\./g, '\\.')}kubetrail\\.raw`));
    assert.match(failing.stdout, /replication factor 1 on a cluster of 3 brokers \(expected 3/);
    assert.match(failing.stdout, /min.insync.replicas 1 on a cluster of 3 brokers \(expected 2/);
    assert.match(failing.stdout, /check failed: 0 topics missing, 2 durability findings, 0 schemas missing/);

    // A processor started on the weak input says so at start-up, once per finding, and runs.
    const processor = new ProcessorChild(env.connection, {
      processor: 'workflow-summary',
      options: { groupId: `${weak}ws`, topics: { input: `${weak}kubetrail.raw`, outputs: { summaries: `${weak}kubetrail.workflows.summary` } } },
    });
    try {
      await processor.ready;
      const warnings = logLines(processor.stderr).filter((l) => l.msg === 'topic weaker than the cluster allows').map((l) => String(l.finding));
      assert.equal(warnings.length, 2, processor.stderr);
      assert.ok(warnings.every((w) => w.startsWith(`${weak}kubetrail.raw: `)), warnings.join('\n'));
      assert.ok(warnings.some((w) => /replication factor 1 /.test(w)) && warnings.some((w) => /min.insync.replicas 1 /.test(w)), warnings.join('\n'));
    } finally {
      await processor.kill('SIGTERM');
    }

    assert.equal((await runCli(['topics', 'init', '--topic-prefix', strong], 60_000, connection)).code, 0);
    const passing = await runCli(['topics', 'init', '--topic-prefix', strong, '--check'], 60_000, connection);
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /check: every topic and schema is in place, as durable as 3 brokers allow/);
    const { topics } = await admin.fetchTopicMetadata({ topics: [`${strong}kubetrail.raw`] });
    assert.deepEqual(topics[0]!.partitions.map((p) => p.replicas.length), [3, 3, 3]);
  } finally {
    await admin.disconnect();
  }
});
