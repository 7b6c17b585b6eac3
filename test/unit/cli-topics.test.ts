// The pure parts of `topics init` and `schemas check`: the catalog of topics and subjects, how an
// existing topic is judged, `--schema` arguments and the local explanation of an incompatibility.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalog, defaultRawTopic, producerTopicSettings, type CatalogTopic } from '../../lib/catalog.js';
import { judgeTopic, topicSpecs } from '../../cli/topics.js';
import { explainIncompatibility, schemaArgument } from '../../cli/schemas.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import { createCompletedFilter } from '../../processors/completed-filter/index.js';
import { workflowSummarySchema } from '../../schemas/generated/workflow-summary.js';

const producer = producerTopicSettings({ env: {} });

describe('catalog', () => {
  it('takes the producer\'s defaults and environment', () => {
    assert.deepEqual(producer, { topic: 'kubetrail.raw', topicPartitions: 3, stateTopic: 'kubetrail.producer.state', rawRetentionMs: -1 });
    assert.equal(defaultRawTopic, 'kubetrail.raw');
    assert.equal(producerTopicSettings({ env: { KUBETRAIL_TOPIC_PARTITIONS: '6' } }).topicPartitions, 6);
  });

  it('lists every topic and subject of the producer and the processors, prefixed', async () => {
    const catalog = await buildCatalog({ producer, prefix: 'p.', definitions: [createWorkflowSummary(), createCompletedFilter()] });
    const topics = Object.fromEntries(catalog.topics.map((t) => [t.topic, [t.role, t.partitions, t.compacted]]));
    assert.deepEqual(topics, {
      'p.kubetrail.raw': ['raw', 3, false],
      'p.kubetrail.producer.state': ['producer-state', 1, true],
      'p.kubetrail.workflows.summary': ['output', 3, true],
      'p.workflow-summary-fingerprints-changelog': ['changelog', 3, true],
      'p.workflow-summary.dlq': ['dead-letter', 1, false],
      'p.kubetrail.workflows.completed': ['output', 3, false],
      'p.completed-filter-emitted-changelog': ['changelog', 3, true],
      'p.completed-filter.dlq': ['dead-letter', 1, false],
    });
    assert.deepEqual(catalog.subjects.map((s) => s.subject).sort(), [
      'p.completed-filter-emitted-changelog-value',
      'p.kubetrail.raw-value',
      'p.kubetrail.workflows.completed-value',
      'p.kubetrail.workflows.summary-value',
      'p.workflow-summary-fingerprints-changelog-value',
    ]);
    assert.deepEqual(catalog.processors.map((p) => [p.name, p.groupId, p.topics.input]), [
      ['completed-filter', 'p.completed-filter', 'p.kubetrail.raw'],
      ['workflow-summary', 'p.workflow-summary', 'p.kubetrail.raw'],
    ]);
  });

  it('follows the producer\'s raw topic and partitions, and only the processors asked for', async () => {
    const catalog = await buildCatalog({ producer: { ...producer, topic: 'raw2', topicPartitions: 6 }, processors: ['workflow-summary'], definitions: [createWorkflowSummary(), createCompletedFilter()] });
    assert.equal(catalog.raw.topic, 'raw2');
    assert.equal(catalog.processors.length, 1);
    assert.equal(catalog.topics.find((t) => t.role === 'changelog')?.partitions, 6);
  });

  it('creates the producer\'s topics as the producer does (lib/topics.ts), the raw topic with the retention asked for', async () => {
    const catalog = await buildCatalog({ producer, prefix: 'p.', definitions: [createCompletedFilter()] });
    const specs = topicSpecs(catalog, catalog.topics, 86_400_000);
    assert.deepEqual(specs.find((s) => s.role === 'raw'), { topic: 'p.kubetrail.raw', role: 'raw', partitions: 3, compacted: false, exactPartitions: false, retentionMs: 86_400_000 });
    assert.deepEqual(specs.find((s) => s.role === 'producer-state'), { topic: 'p.kubetrail.producer.state', role: 'producer-state', partitions: 1, compacted: true, exactPartitions: true });
    assert.deepEqual(specs.find((s) => s.role === 'changelog'), { topic: 'p.completed-filter-emitted-changelog', role: 'changelog', partitions: 3, compacted: true, exactPartitions: true });
  });

  it('discovers the processors under processors/ when none are given', async () => {
    const catalog = await buildCatalog({ producer });
    assert.ok(catalog.processors.some((p) => p.name === 'workflow-summary'));
    assert.ok(catalog.processors.some((p) => p.name === 'completed-filter'));
  });
});

describe('judging an existing topic', () => {
  const changelog: CatalogTopic = { topic: 'c', role: 'changelog', owner: 'x', partitions: 3, compacted: true, exactPartitions: true };
  const output: CatalogTopic = { topic: 'o', role: 'output', owner: 'x', partitions: 3, compacted: false, exactPartitions: false };
  const raw: CatalogTopic = { topic: 'r', role: 'raw', owner: 'producer', partitions: 3, compacted: false, exactPartitions: true };

  it('finds nothing wrong with a topic as declared, nor with a missing one', () => {
    assert.deepEqual(judgeTopic(changelog, { partitions: 3, replicas: 1, minInsyncReplicas: 1, cleanupPolicy: 'compact', retentionMs: '604800000' }, -1).problems, []);
    assert.deepEqual(judgeTopic(changelog, undefined, -1), { entry: changelog, state: undefined, problems: [], warnings: [], weak: [] });
  });

  it('fails on a partition count that is part of the contract, warns on one that is not', () => {
    assert.match(judgeTopic(changelog, { partitions: 2, replicas: 1, minInsyncReplicas: 1, cleanupPolicy: 'compact', retentionMs: undefined }, -1).problems[0] ?? '', /has 2 partitions, expected 3/);
    const verdict = judgeTopic(output, { partitions: 2, replicas: 1, minInsyncReplicas: 1, cleanupPolicy: 'delete', retentionMs: undefined }, -1);
    assert.deepEqual(verdict.problems, []);
    assert.match(verdict.warnings[0] ?? '', /has 2 partitions/);
  });

  it('fails on the wrong cleanup policy either way', () => {
    assert.match(judgeTopic(changelog, { partitions: 3, replicas: 1, minInsyncReplicas: 1, cleanupPolicy: 'delete', retentionMs: undefined }, -1).problems[0] ?? '', /expected 'compact'/);
    assert.match(judgeTopic(output, { partitions: 3, replicas: 1, minInsyncReplicas: 1, cleanupPolicy: 'compact', retentionMs: undefined }, -1).problems[0] ?? '', /expected 'delete'/);
    assert.match(judgeTopic(changelog, { partitions: 3, replicas: 1, minInsyncReplicas: 1, cleanupPolicy: 'compact,delete', retentionMs: undefined }, -1).warnings[0] ?? '', /disappear/);
  });

  it('warns when the raw topic keeps less than replay needs', () => {
    const verdict = judgeTopic(raw, { partitions: 3, replicas: 1, minInsyncReplicas: 1, cleanupPolicy: 'delete', retentionMs: '604800000' }, -1);
    assert.deepEqual(verdict.problems, []);
    assert.match(verdict.warnings[0] ?? '', /retention.ms is 604800000 \(168 h\), expected -1/);
  });

  it('calls a topic weak when it has fewer replicas or a lower min.insync.replicas than its cluster allows', () => {
    const state = (replicas: number, minInsyncReplicas: number) => ({ partitions: 3, replicas, minInsyncReplicas, cleanupPolicy: 'delete', retentionMs: undefined });
    assert.deepEqual(judgeTopic(output, state(3, 2), -1, 3).weak, []);
    assert.deepEqual(judgeTopic(output, state(1, 1), -1, 1).weak, [], 'one broker allows no more');
    assert.deepEqual(judgeTopic(output, state(2, 1), -1, 2).weak, [], 'two brokers: two replicas, min ISR 1');
    const weak = judgeTopic(output, state(1, 1), -1, 3).weak;
    assert.equal(weak.length, 2);
    assert.match(weak[0]!, /replication factor 1 on a cluster of 3 brokers \(expected 3/);
    assert.match(weak[1]!, /min.insync.replicas 1 on a cluster of 3 brokers \(expected 2.*--add-config min.insync.replicas=2/);
    assert.equal(judgeTopic(output, state(3, 1), -1, 5).weak.length, 1);
    assert.equal(judgeTopic(output, state(3, 2), -1, 3).problems.length, 0, 'weakness is not a broken contract');
  });
});

describe('schemas check helpers', () => {
  it('reads --schema subject=file and rejects what is not a schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-schemas-'));
    const file = join(dir, 's.avsc');
    writeFileSync(file, JSON.stringify(workflowSummarySchema));
    const check = schemaArgument(`s-value=${file}`);
    assert.equal(check.subject, 's-value');
    assert.deepEqual(JSON.parse(check.schema), workflowSummarySchema);
    writeFileSync(file, '{"type": "nonsense"}');
    assert.throws(() => schemaArgument(`s-value=${file}`), /not a valid Avro schema/);
    assert.throws(() => schemaArgument('no-equals'), /<subject>=<file.avsc>/);
  });

  it('explains why a new schema cannot read the latest one', () => {
    const latest = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] });
    const added = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }] });
    const withDefault = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int', default: 0 }] });
    assert.match(explainIncompatibility(added, latest) ?? '', /cannot read data of the latest/);
    assert.equal(explainIncompatibility(withDefault, latest), undefined);
  });
});
