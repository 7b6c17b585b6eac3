// charts/kubetrail's values against the code, without rendering (test/integration/chart.test.ts
// renders it with helm, decodes every object strictly and dry-runs it on the API server): one
// Deployment entry per processor and sink folder, the topics' defaults as lib/topics.ts has them,
// the processors' options and outputs as their definitions declare them, notify's input as both
// it and completed-filter declare it, the chart's appVersion the package's, the alerts one file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { loadProcessor } from '../../lib/kit/discovery.js';
import { optionEnvName } from '../../lib/kit/options.js';
import { listSinks } from '../../lib/sink/discovery.js';
import { notifyFromEnv } from '../../sinks/notify/notify.js';
import { defaultTopicSettings } from '../../lib/topics.js';
import { packageJson, parseYamlFile, processorNames, processorOptionEnv, repoPath, sinkOptionEnv } from '../support/deploy.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const chart = parseYamlFile('charts', 'kubetrail', 'Chart.yaml') as { apiVersion: string; name: string; version: string; appVersion: string };
const values = parseYamlFile('charts', 'kubetrail', 'values.yaml') as Record<string, any>;
const schema = JSON.parse(readFileSync(repoPath('charts', 'kubetrail', 'values.schema.json'), 'utf8')) as Record<string, any>;

test('Chart.yaml: kubetrail, Helm 3 (apiVersion v2), appVersion = package.json version (the image tag by default)', () => {
  assert.deepEqual([chart.apiVersion, chart.name, chart.appVersion], ['v2', 'kubetrail', packageJson.version]);
  assert.equal(values.image.tag, '', 'the tag defaults to appVersion');
});

test('values: one entry per processor folder, enabled; its options and outputs are the ones its definition declares', async () => {
  assert.deepEqual(Object.keys(values.processors).sort(), [...processorNames].sort());
  for (const name of processorNames) {
    const entry = values.processors[name];
    assert.equal(entry.enabled, true, name);
    const known = new Set(await processorOptionEnv(name));
    for (const option of Object.keys(entry.options ?? {})) assert.ok(known.has(optionEnvName(name, option)), `${name}: ${option} is an option (${optionEnvName(name, option)})`);
    const definition = await loadProcessor(name);
    const declared = Object.fromEntries(Object.entries(definition.outputs as Record<string, { topic: string }>).map(([output, d]) => [output, d.topic]));
    assert.deepEqual(entry.outputs, declared, `${name}: outputs as declared (used under topics.prefix)`);
  }
});

test("values: the topics' defaults are the topic contract's (lib/topics.ts); notify reads what completed-filter writes", async () => {
  const { prefix, ...topics } = values.topics;
  assert.equal(prefix, '');
  assert.deepEqual(topics, { raw: defaultTopicSettings.topic, state: defaultTopicSettings.stateTopic, partitions: defaultTopicSettings.topicPartitions, rawRetentionMs: defaultTopicSettings.rawRetentionMs });
  // The chart's notify input, the sink's own default and completed-filter's declared output: one topic.
  const completed = ((await loadProcessor('completed-filter')).outputs as Record<string, { topic: string }>).completed!.topic;
  const notify = notifyFromEnv({ KUBETRAIL_NOTIFY_WEBHOOK_URL: 'http://127.0.0.1:1/hook' });
  assert.deepEqual([values.sinks.notify.inputTopic, notify.input.topic], [completed, completed]);
});

test('values: one entry per sink folder, off by default (a sink needs its webhook or target first)', () => {
  assert.deepEqual(Object.keys(values.sinks).sort(), listSinks().sort());
  for (const name of listSinks()) assert.equal(values.sinks[name].enabled, false, name);
});

test('values: every option given to a sink is one it has', async () => {
  for (const name of listSinks()) {
    const known = new Set(await sinkOptionEnv(name));
    for (const option of Object.keys(values.sinks[name].options ?? {})) assert.ok(known.has(optionEnvName(name, option)), `${name}: ${option} is an option (${optionEnvName(name, option)})`);
  }
});

test('values.schema.json: closed at every level of the chart\'s own settings, so a misspelt key fails', () => {
  assert.equal(schema.additionalProperties, false);
  const open: string[] = [];
  const walk = (node: any, path: string, value: any) => {
    if (!node || typeof value !== 'object' || value === null || Array.isArray(value)) return;
    const resolved = node.$ref ? schema.$defs[node.$ref.replace('#/$defs/', '')] : node;
    if (resolved.type !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const declared = resolved.properties?.[key] ?? (typeof resolved.additionalProperties === 'object' ? resolved.additionalProperties : undefined);
      if (!declared && resolved.additionalProperties !== true && resolved.properties) assert.fail(`${path}.${key} is in values.yaml but not in the schema`);
      if (resolved.properties && resolved.additionalProperties !== false) open.push(path);
      walk(declared, `${path}.${key}`, child);
    }
  };
  walk(schema, 'values', values);
  assert.deepEqual([...new Set(open)], [], 'objects with declared properties allow no others');
});

test('the PrometheusRule has one copy: the chart reads deploy/monitoring/prometheus-rule.yaml through a symlink', () => {
  const link = repoPath('charts', 'kubetrail', 'files', 'prometheus-rule.yaml');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(realpathSync(link), realpathSync(repoPath('deploy', 'monitoring', 'prometheus-rule.yaml')));
});
