// `kubetrail replay` as a user runs it (a child process) on the real stack: the workflow-summary
// processor is run once over raw events made from the Argo fixtures, then replayed into new topics
// (same content) and into its own topic (nothing written twice).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Partitioners } from 'kafkajs';
import { testConnection, uniqueName } from '../support/services.js';
import { runCli } from '../support/cli.js';
import { RawWriter, createTopic, readTopicToEnd, kafkaTestbed, type ReadRecord } from '../support/kit-helpers.js';
import { loadAllWorkflows, rawEventFor, type WorkflowObject } from '../fixtures/workflows.js';
import { runProcessor } from '../../lib/kit/runner.js';
import { createLogger } from '../../lib/log.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import type { ReplayReport } from '../../lib/replay.js';
import { createTopicsPatiently } from '../../lib/topics.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

/** Each fixture seen Pending, then as it is, then again unchanged; every fifth deleted; one record that is no workflow. */
function rawEvents(): ResourceEvent[] {
  const events: ResourceEvent[] = [];
  loadAllWorkflows().forEach(({ object }, i) => {
    const pending: WorkflowObject = { ...object, status: { phase: 'Pending' } };
    events.push(rawEventFor(pending, 'ADDED', { resourceVersion: '1' }));
    events.push(rawEventFor(object, 'MODIFIED', { resourceVersion: '2' }));
    events.push(rawEventFor(object, 'MODIFIED', { resourceVersion: '3' }));
    if (i % 5 === 0) events.push(rawEventFor(object, 'DELETED', { resourceVersion: '4' }));
  });
  events.push(rawEventFor({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'not-a-workflow', namespace: 'x' } }, 'ADDED'));
  return events;
}

function latestPerKey(records: ReadRecord[]): Map<string, unknown> {
  const latest = new Map<string, unknown>();
  for (const r of records) latest.set(r.key ?? '', r.value);
  return latest;
}

function parseReport(stdout: string): ReplayReport {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ReplayReport;
}

describe('kubetrail replay', () => {
  const prefix = `${uniqueName('cli-replay')}.`;
  const raw = `${prefix}kubetrail.raw`;
  const summaries = `${prefix}kubetrail.workflows.summary`;
  let original: ReadRecord[] = [];
  const events = rawEvents();

  /** A one-partition raw topic of its own, a writer to it, and the name of a summary topic; both deleted afterwards. */
  async function inputAndTarget(name: string): Promise<{ input: string; target: string; writer: RawWriter }> {
    const input = `${prefix}${name}.raw`;
    const target = `${prefix}${name}.summary`;
    await createTopic(admin, input, 1);
    cleanups.push(() => admin.deleteTopics({ topics: [input, target] }));
    return { input, target, writer: await RawWriter.open(kafka, registry, input) };
  }

  before(async () => {
    await createTopic(admin, raw, 3);
    const writer = await RawWriter.open(kafka, registry, raw);
    await writer.write(events);
    await writer.close();
    // The original output: the processor as the service runs it, under the prefix.
    const handle = await runProcessor(createWorkflowSummary(), {
      connection,
      groupId: `${prefix}workflow-summary`,
      topics: { input: raw, outputs: { summaries } },
      logger: createLogger('cli-replay', 'error'),
      handleSignals: false,
      sessionTimeoutMs: 6_000,
    });
    cleanups.push(() => handle.stop());
    const began = Date.now();
    while (handle.stats().recordsIn < events.length) {
      if (Date.now() - began > 30_000) throw new Error(`original run: ${handle.stats().recordsIn} of ${events.length} records`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const written = handle.stats().recordsOut.summaries ?? 0;
    await handle.stop();
    original = await readTopicToEnd(kafka, registry, summaries);
    assert.equal(original.length, written);
    assert.ok(written > 100, `the original run wrote summaries (${written})`);
  });

  it('--into-new reproduces the summary topic in a new one, then deletes its group and changelog', async () => {
    const { code, stdout, stderr } = await runCli(['replay', 'workflow-summary', '--topic-prefix', prefix, '--into-new', 'replayed', '--json']);
    assert.equal(code, 0, stderr);
    const report = parseReport(stdout);
    const target = `${summaries}.replayed`;
    cleanups.push(() => admin.deleteTopics({ topics: [target, `${report.groupId}.dlq`] }));
    assert.equal(report.input, raw);
    assert.equal(report.recordsRead, events.length);
    assert.deepEqual(report.outputs.map((o) => [o.topic, o.written, o.duplicates]), [[target, original.length, 0]]);
    assert.equal(report.dedupe.indexedRecords, 0, 'a new topic is not read');
    assert.equal(report.deadLetters.count, 1, 'the ConfigMap is dead-lettered again');
    assert.match(stderr, /records/, 'progress on stderr');

    const replayed = await readTopicToEnd(kafka, registry, target);
    assert.equal(replayed.length, original.length);
    assert.deepEqual(latestPerKey(replayed), latestPerKey(original));

    const topics = await admin.listTopics();
    assert.ok(!topics.some((t) => t.startsWith(`${report.groupId}-`)), 'the replay changelog is deleted');
    assert.ok(topics.includes(`${report.groupId}.dlq`), 'the replay dead-letter topic is kept: it holds a dead letter');
    const { groups } = await admin.listGroups();
    assert.ok(!groups.some((g) => g.groupId === report.groupId), 'the replay group is deleted');
  });

  it('into its own topic writes nothing that is already there', async () => {
    const before = await readTopicToEnd(kafka, undefined, summaries);
    const { code, stdout, stderr } = await runCli(['replay', 'workflow-summary', '--topic-prefix', prefix, '--json']);
    assert.equal(code, 0, stderr);
    const report = parseReport(stdout);
    cleanups.push(() => admin.deleteTopics({ topics: [`${report.groupId}.dlq`] }));
    assert.equal(report.recordsRead, events.length);
    assert.equal(report.dedupe.indexedRecords, original.length);
    assert.deepEqual(report.outputs.map((o) => [o.topic, o.written, o.duplicates]), [[summaries, 0, original.length]]);
    const afterwards = await readTopicToEnd(kafka, undefined, summaries);
    assert.equal(afterwards.length, before.length, 'no record added');
  });

  it('into a compacted topic holding only the latest summaries, writes none of the older ones', async () => {
    // What compaction leaves of the summary topic: the latest value of each key.
    const compacted = `${prefix}compacted.summary`;
    await createTopicsPatiently(admin, [{ topic: compacted, numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
    cleanups.push(() => admin.deleteTopics({ topics: [compacted] }));
    const latest = new Map<string, ReadRecord>();
    for (const r of original) latest.set(r.key ?? '', r);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: compacted, messages: [...latest.values()].map((r) => ({ key: r.key, value: r.raw })) });
    await producer.disconnect();

    const { code, stdout, stderr } = await runCli(['replay', 'workflow-summary', '--topic-prefix', prefix, '--to-topic', `summaries=${compacted}`, '--json']);
    assert.equal(code, 0, stderr);
    const report = parseReport(stdout);
    cleanups.push(() => admin.deleteTopics({ topics: [`${report.groupId}.dlq`] }));
    const [output] = report.outputs;
    assert.equal(report.dedupe.indexedRecords, latest.size);
    assert.deepEqual([output?.written, output?.finalWrites], [0, 0]);
    assert.ok((output?.duplicates ?? 0) >= latest.size, 'the latest summary of every key is already there');
    assert.equal((output?.duplicates ?? 0) + (output?.superseded ?? 0), original.length, 'every older summary held back');
    const afterwards = await readTopicToEnd(kafka, undefined, compacted);
    assert.equal(afterwards.length, latest.size, 'no record added');
  });

  it('--from a time replays from there, and ends although the input ends with an aborted transaction', async () => {
    const { input, target, writer } = await inputAndTarget('other');
    const fixtures = loadAllWorkflows().slice(0, 20);
    await writer.write(fixtures.slice(0, 10).map(({ object }) => rawEventFor(object, 'ADDED')));
    await new Promise((r) => setTimeout(r, 50));
    const from = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    await writer.write(fixtures.slice(10).map(({ object }) => rawEventFor(object, 'ADDED')));
    await writer.close();
    // The partition ends with records of an aborted transaction and its marker: nothing to commit past.
    const producer = kafka.producer({ transactionalId: `${prefix}aborter`, maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const transaction = await producer.transaction();
    await transaction.send({ topic: input, messages: [{ key: 'x', value: await registry.encode(writer.schemaId, rawEventFor(fixtures[0]!.object, 'MODIFIED')) }] });
    await transaction.abort();
    await producer.disconnect();

    const { code, stdout, stderr } = await runCli(['replay', 'workflow-summary', '--topic-prefix', prefix, '--input-topic', input, '--to-topic', `summaries=${target}`, '--from', from, '--json']);
    assert.equal(code, 0, stderr);
    const report = parseReport(stdout);
    assert.equal(report.recordsRead, 10, 'the records written after --from');
    assert.equal(report.outputs[0]?.written, 10);
    assert.deepEqual(report.ranges.map((r) => r.goal - r.start), [12], '10 records, then an aborted record and its marker');
    // The replay ended although its last two offsets (an aborted record and its marker) are never
    // handed to the processor: kafkajs reports the fetch that held only them, and the replay's
    // tracker takes its end as the partition's position.
    assert.equal(report.interrupted, false);
  });

  it('--max-bytes-per-partition and --max-bytes-per-fetch size its fetches, so its commits, as for kubetrail process', async () => {
    const { input, target, writer } = await inputAndTarget('fetch');
    // Six records of over 32 KiB, each in a batch of its own (one send each), all stored before the replay.
    for (const { object } of loadAllWorkflows().slice(0, 6)) {
      const padded = { ...object, metadata: { ...object.metadata, annotations: { pad: 'x'.repeat(40_000) } } };
      await writer.write([rawEventFor(padded, 'ADDED')]);
    }
    await writer.close();
    const replayWith = async (...flags: string[]) => {
      const { code, stdout, stderr } = await runCli(['replay', 'workflow-summary', '--topic-prefix', prefix, '--input-topic', input, '--to-topic', `summaries=${target}`, '--no-dedupe', '--json', ...flags]);
      assert.equal(code, 0, stderr);
      const report = parseReport(stdout);
      assert.equal(report.recordsRead, 6);
      return report.commits;
    };
    // 64 KiB holds one of these batches: a fetch brings the first batch whole, and no second.
    assert.equal(await replayWith('--max-bytes-per-partition', '65536', '--max-bytes-per-fetch', '65536'), 6);
    assert.equal(await replayWith(), 1, 'the default 8 MiB fetch brings all six');
  });

  after(async () => {
    await admin.deleteTopics({ topics: [raw, summaries, `${prefix}workflow-summary-fingerprints-changelog`, `${prefix}workflow-summary.dlq`] }).catch(() => undefined);
  });
});
