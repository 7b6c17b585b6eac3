// Producer configuration: defaults, lists, validation errors that say how to fix them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../lib/config.js';
import { loadProducerConfig, selectionOf, streamIds } from '../../producer/config.js';

const base = { KAFKA_BROKERS: 'localhost:9092', SCHEMA_REGISTRY_URL: 'http://localhost:8081' };

test('defaults: Argo workflows labelled track-me=true in every namespace, to kubetrail.raw', () => {
  const c = loadProducerConfig({ env: base });
  assert.equal(c.group, 'argoproj.io');
  assert.equal(c.version, 'v1alpha1');
  assert.equal(c.resource, 'workflows');
  assert.deepEqual(c.namespaces, []);
  assert.equal(c.labelSelector, 'track-me=true');
  assert.equal(c.fieldSelector, '');
  assert.equal(c.namePrefix, '');
  assert.deepEqual(c.operations, ['ADDED', 'MODIFIED', 'DELETED', 'READ']);
  assert.equal(c.topic, 'kubetrail.raw');
  assert.equal(c.stateTopic, 'kubetrail.producer.state');
  assert.equal(c.maxRecordBytes, 1_000_000);
  assert.equal(c.rawRetentionMs, -1);
  assert.equal(loadProducerConfig({ env: { ...base, KUBETRAIL_RAW_RETENTION_MS: '604800000' } }).rawRetentionMs, 604_800_000);
  assert.equal(c.stream, 'default.workflows.argoproj.io');
  assert.deepEqual(streamIds(c).transactionalIds, ['kubetrail-producer.default.workflows.argoproj.io', 'kubetrail-producer.default.workflows.argoproj.io/1']);
});

test('namespaces, operations and numbers from the environment; flags win', () => {
  const c = loadProducerConfig({
    env: { ...base, KUBETRAIL_NAMESPACES: 'b, a,b', KUBETRAIL_OPERATIONS: 'deleted,ADDED', KUBETRAIL_MAX_RECORD_BYTES: '500000', KUBETRAIL_CLUSTER: 'prod' },
    flags: { cluster: 'flagged' },
  });
  assert.deepEqual(c.namespaces, ['a', 'b']);
  assert.deepEqual(c.operations, ['DELETED', 'ADDED']);
  assert.equal(c.maxRecordBytes, 500_000);
  assert.equal(c.cluster, 'flagged');
  assert.deepEqual(loadProducerConfig({ env: { ...base, KUBETRAIL_NAMESPACES: '*' } }).namespaces, []);
  assert.equal(loadProducerConfig({ env: { ...base, KUBETRAIL_GROUP: 'core', KUBETRAIL_VERSION: 'v1', KUBETRAIL_RESOURCE: 'secrets' } }).group, '');
});

test('bad values fail with the setting and how to set it', () => {
  const bad = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => loadProducerConfig({ env: { ...base, ...env } }), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
  bad({ KUBETRAIL_OPERATIONS: 'CREATED' }, /operations.*KUBETRAIL_OPERATIONS/s);
  bad({ KUBETRAIL_NAMESPACES: 'Bad_NS' }, /namespaces/);
  bad({ KUBETRAIL_MAX_RECORD_BYTES: '100' }, /maxRecordBytes.*--max-record-bytes/s);
  bad({ KUBETRAIL_TOPIC: 'bad topic' }, /topic/);
  bad({ KUBETRAIL_VERSION: 'one' }, /version/);
  bad({ KUBETRAIL_STATE_TOPIC: 'kubetrail.raw' }, /stateTopic: must differ/);
  bad({ KUBETRAIL_RAW_RETENTION_MS: '-2' }, /rawRetentionMs.*KUBETRAIL_RAW_RETENTION_MS/s);
  assert.throws(() => loadProducerConfig({ env: { SCHEMA_REGISTRY_URL: 'http://x' } }), /kafkaBrokers:.*KAFKA_BROKERS/);
});

test('the selection fingerprint changes with what is selected, not with where it goes', () => {
  const a = loadProducerConfig({ env: base });
  assert.equal(selectionOf(a), selectionOf(loadProducerConfig({ env: { ...base, KUBETRAIL_TOPIC: 'other' } })));
  assert.notEqual(selectionOf(a), selectionOf(loadProducerConfig({ env: { ...base, KUBETRAIL_LABEL_SELECTOR: 'x=y' } })));
  assert.notEqual(selectionOf(a), selectionOf(loadProducerConfig({ env: { ...base, KUBETRAIL_NAME_PREFIX: 'ci-' } })));
});
