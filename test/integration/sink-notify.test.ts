// The notify sink and the sink runner against a real local HTTP receiver (node:http): 500s, 429
// with Retry-After, answers slower than the timeout, connection resets and a 400 for one chosen
// record; then kill -9 of a `kubetrail sink notify` process mid-run. Counted exactly: deliveries,
// retries, copies seen and dropped by idempotency key, dead letters; order per workflow.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Admin } from 'kafkajs';
import { testConnection, uniqueName } from '../support/services.js';
import { RawWriter, createTopic, kafkaTestbed, quietLogger, readTopicToEnd } from '../support/kit-helpers.js';
import { copiesByKey, startReceiver, type Answer, type Receipt } from '../support/receiver.js';
import { completedEvent, writeCompleted } from '../support/sink-fixtures.js';
import { cliArgs, cliRoot } from '../support/cli.js';
import { runSink } from '../../lib/sink/runner.js';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';
import { createNotify } from '../../sinks/notify/notify.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import type { WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import { waitFor } from '../support/wait.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

/** True once the group's committed offset of every partition is the partition's end. */
async function committedToEnd(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const ends = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return ends.every((end) => committed?.partitions.find((p) => p.partition === end.partition)?.offset === end.high);
}

/** Per workflow, the resourceVersions in the order the receiver first saw each, and whether a later one came before an earlier one was delivered. */
function orderProblems(receipts: Receipt[]): string[] {
  const delivered = new Map<string, number>(); // workflow → highest rv answered 2xx so far
  const problems: string[] = [];
  for (const r of receipts) {
    const summary = JSON.parse(r.body) as WorkflowSummary;
    const rv = Number(summary.source.resourceVersion);
    const highest = delivered.get(summary.name) ?? 0;
    // A record may only arrive once every earlier record of its workflow was answered 200 (or 400: rv 2 of wf-reject, dead-lettered).
    if (rv > highest + 1) problems.push(`${summary.name} rv ${rv} before rv ${highest + 1}`);
    if ((r.answer === 200 || (r.answer === 400 && rv === 2)) && rv > highest) delivered.set(summary.name, rv);
  }
  return problems;
}

async function setUp(prefix: string) {
  const base = uniqueName(prefix);
  const topic = `${base}.completed`;
  await createTopic(admin, topic, 3);
  const writer = await RawWriter.open(kafka, registry, topic);
  cleanups.push(() => writer.close());
  return { base, topic, writer, group: `${base}-g` };
}

const RECORDS_PER_WORKFLOW = 3;

function workflowEvents(names: string[]): ResourceEvent[] {
  const events: ResourceEvent[] = [];
  for (let rv = 1; rv <= RECORDS_PER_WORKFLOW; rv++) for (const [i, name] of names.entries()) events.push(completedEvent(name, rv, i % 2 === 1));
  return events;
}

describe('notify sink', () => {
  it('retries 500s, 429 (after its Retry-After), timeouts and resets, dead-letters the 400 with its response, keeps order per workflow', async () => {
    const { topic, writer, group } = await setUp('sink-faults');
    const names = ['wf-ok-0', 'wf-ok-1', 'wf-ok-2', 'wf-ok-3', 'wf-ok-4', 'wf-ok-5', 'wf-flaky-0', 'wf-flaky-1', 'wf-throttle', 'wf-slow', 'wf-reset', 'wf-reject'];
    const events = workflowEvents(names);
    const rejected = events.find((e) => e.name === 'wf-reject' && e.resourceVersion === '2')!;
    const receiver = await startReceiver(({ key, attempt, body }): Answer => {
      const { name } = JSON.parse(body) as WorkflowSummary;
      if (key === rejected.id) return { status: 400, body: 'bad summary: rejected on purpose' };
      if (name.startsWith('wf-flaky') && attempt <= 2) return { status: 500, body: 'try later' };
      if (name === 'wf-throttle' && attempt === 1) return { status: 429, headers: { 'retry-after': '1' } };
      if (name === 'wf-slow' && attempt === 1) return { status: 200, delayMs: 1_500 };
      if (name === 'wf-reset' && attempt === 1) return 'reset';
      return { status: 200 };
    });
    cleanups.push(() => receiver.close());
    await writeCompleted(writer, registry, events);
    const handle = await runSink(createNotify({ format: 'cloudevents', webhookUrl: receiver.url, namespaces: [], labels: [], phases: ['Succeeded', 'Failed', 'Error'], timeoutMs: 500 }), {
      connection,
      groupId: group,
      inputTopic: topic,
      logger: quietLogger(group),
      sessionTimeoutMs: 6_000,
      concurrency: 4,
      retry: { initialDelayMs: 50, maxDelayMs: 400, retryTimeoutMs: 20_000 },
    });
    cleanups.push(() => handle.stop());
    await waitFor('every record delivered or dead-lettered', () => committedToEnd(admin, group, topic));
    await handle.stop();

    const stats = handle.stats();
    // 36 records: 35 delivered, 1 refused. Retries: 2 flaky workflows × 3 records × 2 500s, then one 429, one timeout and one reset for each record of their workflow.
    assert.equal(events.length, 36);
    assert.equal(stats.delivered, 35);
    assert.equal(stats.retried, 12 + 3 + 3 + 3);
    assert.deepEqual(stats.failed, { 'delivery-rejected': 1 });
    // The receiver saw every attempt: 35 + 21 + 1 requests; after dropping copies by key, each of the 36 records once.
    const copies = copiesByKey(receiver.receipts);
    assert.equal(receiver.receipts.length, 57);
    assert.equal(copies.size, 36);
    assert.deepEqual(new Set(copies.keys()), new Set(events.map((e) => e.id)));
    assert.equal(receiver.receipts.length - copies.size, 21, 'copies dropped by key');
    assert.equal(new Set(receiver.receipts.filter((r) => r.answer === 200).map((r) => r.key)).size, 35);
    // The slow answers reached the receiver, which answered 200 too late: those 3 records were received twice with 200.
    assert.equal(receiver.receipts.filter((r) => r.answer === 200).length, 35 + 3);
    // CloudEvents binary mode: the idempotency key is the CloudEvents id and the record's event id.
    for (const r of receiver.receipts) {
      assert.equal(r.headers['ce-id'], r.key);
      assert.equal(r.headers['ce-specversion'], '1.0');
      assert.equal(r.headers['ce-type'], 'io.kubetrail.resource.modified');
      assert.equal(r.headers['ce-source'], '/kubetrail/test/workflows.argoproj.io');
      assert.match(String(r.headers['ce-subject']), /^sink-test\/wf-/);
      assert.equal(r.headers['content-type'], 'application/json');
    }
    // Retry-After: 1 was honoured.
    const throttled = receiver.receipts.filter((r) => JSON.parse(r.body).name === 'wf-throttle');
    for (const first of throttled.filter((r) => r.answer === 429)) {
      const next = throttled.find((r) => r.key === first.key && r.attempt === 2)!;
      assert.ok(next.at - first.at >= 1_000, `retried ${Math.round(next.at - first.at)} ms after a 429 with Retry-After: 1`);
    }
    assert.deepEqual(orderProblems(receiver.receipts), []);
    // The refused record is in the sink's dead-letter topic, with the receiver's response.
    const dead = await readTopicToEnd(kafka, undefined, `${group}.dlq`);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.headers['kubetrail-id'], rejected.id);
    assert.equal(dead[0]!.headers[DLQ_HEADERS.reason], 'delivery-rejected');
    assert.equal(dead[0]!.headers[DLQ_HEADERS.response], 'HTTP 400 Bad Request: bad summary: rejected on purpose');
    assert.equal(dead[0]!.headers[DLQ_HEADERS.processor], 'notify');
    // The metrics say the same.
    const text = await handle.metrics.metrics();
    assert.match(text, /^kubetrail_sink_delivered_total\{sink="notify"\} 35$/m);
    assert.match(text, /^kubetrail_sink_retries_total\{sink="notify"\} 21$/m);
    assert.match(text, /^kubetrail_sink_delivery_latency_seconds_count\{sink="notify"\} 35$/m);
  });

  it('after kill -9 of `kubetrail sink notify` mid-run: every record delivered at least once, exactly once by key, the 400 dead-lettered, order per workflow kept', async () => {
    const { topic, writer, group } = await setUp('sink-kill');
    const names = Array.from({ length: 40 }, (_, i) => (i === 7 ? 'wf-reject' : `wf-${i}`));
    const events = workflowEvents(names);
    const rejected = events.find((e) => e.name === 'wf-reject' && e.resourceVersion === '2')!;
    const secret = `secret-token-${Math.random().toString(36).slice(2)}`;
    const receiver = await startReceiver(({ key, attempt }): Answer => {
      if (key === rejected.id) return { status: 400, body: 'bad summary' };
      // Every 10th record fails its first attempt; every answer takes 20 ms, so the kill lands mid-run.
      if (attempt === 1 && parseInt(key.slice(0, 4), 16) % 10 === 0) return { status: 500, delayMs: 20 };
      return { status: 200, delayMs: 20 };
    }, `/hook/${secret}`);
    cleanups.push(() => receiver.close());
    await writeCompleted(writer, registry, events);
    const run = () => {
      const child = spawn(process.execPath, [...cliArgs, 'sink', 'notify', '--group-id', group, '--input-topic', topic, '--http-port', '-1', '--concurrency', '4'], {
        cwd: cliRoot,
        env: {
          ...process.env,
          KAFKA_BROKERS: connection.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: connection.schemaRegistryUrl,
          KUBETRAIL_NOTIFY_WEBHOOK_URL: receiver.url,
          KUBETRAIL_NOTIFY_FORMAT: 'json',
          KUBETRAIL_SINK_RETRY_TIMEOUT_MS: '30000',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? '')));
      cleanups.push(async () => void child.kill('SIGKILL'));
      return { child, exited, output: () => output };
    };
    const first = run();
    const unique = () => new Set(receiver.receipts.map((r) => r.key)).size;
    await waitFor('a third of the records received', () => unique() >= events.length / 3);
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    const receivedBeforeKill = receiver.receipts.length;
    assert.ok(unique() < events.length, 'killed mid-run');
    const second = run();
    await waitFor('the restarted sink committed every record', () => committedToEnd(admin, group, topic), { timeoutMs: 90_000 });
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.output().slice(-2000));

    const copies = copiesByKey(receiver.receipts);
    const ok = new Set(receiver.receipts.filter((r) => r.answer === 200).map((r) => r.key));
    // Nothing lost: 120 records, each seen; 119 answered 200 at least once; after dropping copies by key, each once.
    assert.equal(events.length, 120);
    assert.deepEqual(new Set(copies.keys()), new Set(events.map((e) => e.id)));
    assert.equal(ok.size, 119);
    assert.equal(ok.has(rejected.id), false);
    assert.deepEqual(orderProblems(receiver.receipts), []);
    // The refused record is in the dead-letter topic with the response (twice at most: the kill may fall between its dead letter and its commit).
    const dead = await readTopicToEnd(kafka, undefined, `${group}.dlq`);
    assert.deepEqual(new Set(dead.map((d) => d.headers['kubetrail-id'])), new Set([rejected.id]));
    assert.ok(dead.length <= 2);
    for (const d of dead) assert.equal(d.headers[DLQ_HEADERS.response], 'HTTP 400 Bad Request: bad summary');
    // The webhook URL is a secret: neither run printed it.
    for (const output of [first.output(), second.output()]) assert.equal(output.includes(secret), false, 'the webhook URL was printed');
    assert.match(second.output(), /sink started/);
    const repeated = [...copies.values()].reduce((n, c) => n + c - 1, 0);
    const failedFirst = receiver.receipts.filter((r) => r.answer === 500).length;
    console.log(
      `[sink kill -9] records 120, requests ${receiver.receipts.length} (${receivedBeforeKill} before the kill), 500s retried ${failedFirst}, ` +
        `copies dropped by key ${repeated} (of which redelivered after the kill ${repeated - failedFirst - (copies.get(rejected.id)! - 1)}), dead letters ${dead.length}`,
    );
  });
});
