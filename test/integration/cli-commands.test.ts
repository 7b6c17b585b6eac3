// `kubetrail topics init`, `schemas check` and `subscribe` as a user runs them (a child process)
// against the real stack, every name under a prefix unique to the run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { testConnection, uniqueName } from '../support/services.js';
import { runCli } from '../support/cli.js';
import { createTopic, kafkaTestbed } from '../support/kit-helpers.js';
import { loadWorkflow, rawEventFor } from '../fixtures/workflows.js';
import { RegistryApi } from '../../lib/registry-api.js';
import { defaultWorkflowSummaryOptions, summarize, summaryKey } from '../../processors/workflow-summary/summary.js';
import { workflowSummarySchema } from '../../schemas/generated/workflow-summary.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups, created } = kafkaTestbed(connection);

async function topicConfigs(topics: string[]) {
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: 2, name, configNames: ['cleanup.policy', 'retention.ms'] })),
  });
  const result: Record<string, { partitions: number; policy: string | undefined; retention: string | undefined }> = {};
  for (const topic of topics) {
    const entries = resources.find((r) => r.resourceName === topic)?.configEntries ?? [];
    result[topic] = {
      partitions: metadata.find((m) => m.name === topic)?.partitions.length ?? -1,
      policy: entries.find((e) => e.configName === 'cleanup.policy')?.configValue,
      retention: entries.find((e) => e.configName === 'retention.ms')?.configValue,
    };
  }
  return result;
}

describe('kubetrail topics init', () => {
  it('creates every topic and schema once; a second run changes nothing and says so', async () => {
    const p = `${uniqueName('cli-init')}.`;
    const names = {
      raw: `${p}kubetrail.raw`,
      state: `${p}kubetrail.producer.state`,
      summary: `${p}kubetrail.workflows.summary`,
      changelog: `${p}workflow-summary-fingerprints-changelog`,
      dlq: `${p}workflow-summary.dlq`,
    };
    created.push(...Object.values(names));
    const args = ['topics', 'init', '--topic-prefix', p, '--partitions', '2', '--processors', 'workflow-summary'];

    const dry = await runCli([...args, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: would create 5 topics and register 3 schemas/);
    assert.ok(!(await admin.listTopics()).includes(names.raw), 'a dry run creates nothing');

    const first = await runCli(args);
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assert.match(first.stdout, /created 5 topics, registered 3 schemas/);
    for (const topic of Object.values(names)) assert.match(first.stdout, new RegExp(`created +${topic.replace(/\./g, '\\.')} `));

    const second = await runCli(args);
    assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
    assert.match(second.stdout, /nothing to do: all 5 topics and 3 schemas were already in place/);
    assert.doesNotMatch(second.stdout, /created/);

    const configs = await topicConfigs(Object.values(names));
    assert.deepEqual(configs[names.raw], { partitions: 2, policy: 'delete', retention: '-1' });
    assert.deepEqual({ ...configs[names.state], retention: undefined }, { partitions: 1, policy: 'compact', retention: undefined });
    assert.deepEqual({ ...configs[names.summary], retention: undefined }, { partitions: 2, policy: 'compact', retention: undefined });
    assert.deepEqual({ ...configs[names.changelog], retention: undefined }, { partitions: 2, policy: 'compact', retention: undefined });
    assert.deepEqual({ ...configs[names.dlq], retention: undefined }, { partitions: 1, policy: 'delete', retention: undefined });
    const api = new RegistryApi(connection);
    for (const topic of [names.raw, names.summary, names.changelog]) assert.ok(await api.latest(`${topic}-value`), `${topic}-value is registered`);
  });

  it('reports an existing topic with the wrong partitions or cleanup policy, changes nothing and exits 1', async () => {
    const p = `${uniqueName('cli-init-bad')}.`;
    const state = `${p}kubetrail.producer.state`;
    created.push(state, `${p}kubetrail.raw`);
    await createTopic(admin, state, 3);
    const { code, stdout } = await runCli(['topics', 'init', '--topic-prefix', p, '--processors', 'workflow-summary']);
    assert.equal(code, 1, stdout);
    assert.match(stdout, new RegExp(`PROBLEM +${state.replace(/\./g, '\\.')}`));
    assert.match(stdout, /has 3 partitions, expected 1/);
    assert.match(stdout, /cleanup.policy is 'delete', expected 'compact'/);
    assert.match(stdout, /nothing was created or registered/);
    assert.ok(!(await admin.listTopics()).includes(`${p}kubetrail.raw`));
  });
});

describe('kubetrail schemas check', () => {
  it('passes on the committed schemas and fails on an incompatible change of the summary schema', async () => {
    const p = `${uniqueName('cli-schemas')}.`;
    const subject = `${p}kubetrail.workflows.summary-value`;
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(workflowSummarySchema) }, { subject });

    const ok = await runCli(['schemas', 'check', '--topic-prefix', p, '--processors', 'workflow-summary']);
    assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
    assert.match(ok.stdout, new RegExp(`${subject.replace(/\./g, '\\.')} +compatible with version 1`));
    assert.match(ok.stdout, new RegExp(`${p.replace(/\./g, '\\.')}kubetrail\\.raw-value +new`));
    assert.match(ok.stdout, /every schema is compatible/);

    const dir = mkdtempSync(join(tmpdir(), 'cli-schemas-'));
    const required = join(dir, 'required-field.avsc');
    const schema = structuredClone(workflowSummarySchema) as unknown as { fields: Array<Record<string, unknown>> };
    schema.fields.push({ name: 'team', type: 'string' }); // no default: old records cannot be read
    writeFileSync(required, JSON.stringify(schema));
    const bad = await runCli(['schemas', 'check', '--schema', `${subject}=${required}`]);
    assert.equal(bad.code, 1, `${bad.stdout}\n${bad.stderr}`);
    assert.match(bad.stdout, new RegExp(`${subject.replace(/\./g, '\\.')} +INCOMPATIBLE with version 1: .*team`));

    const optional = join(dir, 'optional-field.avsc');
    schema.fields[schema.fields.length - 1] = { name: 'team', type: ['null', 'string'], default: null };
    writeFileSync(optional, JSON.stringify(schema));
    const fine = await runCli(['schemas', 'check', '--schema', `${subject}=${optional}`]);
    assert.equal(fine.code, 0, `${fine.stdout}\n${fine.stderr}`);
  });
});

describe('kubetrail subscribe', () => {
  it('prints the summaries of a topic as decoded JSON lines', async () => {
    const topic = `${uniqueName('cli-subscribe')}.summary`;
    created.push(topic);
    await createTopic(admin, topic, 1);
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(workflowSummarySchema) }, { subject: `${topic}-value` });
    const summaries = ['dag-diamond-82q7s-1e994e4481', 'dag-disable-fail-fast-r6xdc-094b58f2e9'].map((name) => summarize(rawEventFor(loadWorkflow(name), 'MODIFIED'), defaultWorkflowSummaryOptions));
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, messages: await Promise.all(summaries.map(async (s) => ({ key: summaryKey(s), value: await registry.encode(id, s) }))) });
    await producer.disconnect();

    const { code, stdout, stderr } = await runCli(['subscribe', topic, '--until', 'end']);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; value: unknown; schemaId: number });
    assert.deepEqual(
      lines.map(({ key, value, schemaId }) => ({ key, value, schemaId })),
      summaries.map((s) => ({ key: summaryKey(s), value: JSON.parse(JSON.stringify(s)) as unknown, schemaId: id })),
    );

    const table = await runCli(['subscribe', topic, '--until', 'end', '-o', 'table']);
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(table.stdout.trim().split('\n').map((row) => row.split(/ +/).slice(0, 2)), [
      ['WORKFLOW', 'PHASE'],
      ...summaries.map((s) => [`${String(s.namespace)}/${s.name}`, s.phase]),
    ]);

    const failed = await runCli(['subscribe', topic, '--phase', 'Failed', '--max', '1']);
    assert.equal(failed.code, 0, failed.stderr);
    assert.deepEqual(failed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { value: { phase: string } }).value.phase), ['Failed']);
  });
});
