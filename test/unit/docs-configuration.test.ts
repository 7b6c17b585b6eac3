// docs/configuration.md stays true to the code: every setting the services read is documented
// under its environment variable, and the doc names no variable the code doesn't read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { producerEnv } from '../../producer/config.js';
import { processorServiceEnv } from '../../cli/process.js';
import { topicsInitEnv } from '../../cli/topics.js';
import { optionEnvName } from '../../lib/kit/options.js';
import { completedFilterName, completedFilterOptionsSchema } from '../../processors/completed-filter/index.js';
import { workflowSummaryName, workflowSummaryOptionsSchema } from '../../processors/workflow-summary/index.js';
import { sinkServiceEnv } from '../../cli/sink.js';
import { notifyName, notifyOptionsSchema } from '../../sinks/notify/notify.js';

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const documented = new Set([...doc.matchAll(/`((?:KAFKA|SCHEMA_REGISTRY|KUBETRAIL|KUBECONFIG)[A-Z_]*)`/g)].map((m) => m[1]!));
const processorOptions = [
  ...Object.keys(completedFilterOptionsSchema.shape).map((o) => optionEnvName(completedFilterName, o)),
  ...Object.keys(workflowSummaryOptionsSchema.shape).map((o) => optionEnvName(workflowSummaryName, o)),
  ...Object.keys(notifyOptionsSchema.shape).map((o) => optionEnvName(notifyName, o)),
];
const read = new Set([...Object.values(producerEnv), ...Object.values(processorServiceEnv), ...Object.values(sinkServiceEnv), ...processorOptions, ...Object.values(topicsInitEnv), 'KUBETRAIL_CONFIG']);

test('every environment variable the services read is documented', () => {
  const missing = [...read].filter((name) => !documented.has(name));
  assert.deepEqual(missing, []);
});

test('the configuration doc names no variable the code does not read', () => {
  const unknown = [...documented].filter((name) => !read.has(name));
  assert.deepEqual(unknown, []);
});
