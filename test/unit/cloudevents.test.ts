import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessorTestDriver } from '../../lib/kit/test-driver.js';
import { cloudEventHttpHeaders, readCloudEventKafkaHeaders, resourceEventAttributes } from '../../lib/cloudevents.js';
import { recordHeaders } from '../../producer/mapping.js';
import { createCompletedFilter } from '../../processors/completed-filter/index.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import { loadWorkflow, rawEventFor } from '../fixtures/workflows.js';

const succeeded = () => {
  const wf = loadWorkflow('dag-diamond-82q7s-1e994e4481');
  wf.status = { ...(wf.status ?? {}), phase: 'Succeeded' };
  return wf;
};

test('a processor output carries the change it came from: same ce_id, source, time and subject, its own type and content type', () => {
  const raw = rawEventFor(succeeded(), 'MODIFIED');
  const rawHeaders = recordHeaders(raw, 'kubetrail.raw');
  for (const [definition, output, type, topic] of [
    [createCompletedFilter(), 'completed', 'io.kubetrail.workflow.completed', 'kubetrail.workflows.completed'],
    [createWorkflowSummary(), 'summaries', 'io.kubetrail.workflow.summary', 'kubetrail.workflows.summary'],
  ] as const) {
    const driver = new ProcessorTestDriver(definition as unknown as ConstructorParameters<typeof ProcessorTestDriver>[0]);
    driver.pipe(raw, { key: 'workflows.argoproj.io/argo/dag-diamond-82q7s', headers: rawHeaders });
    const out = driver.readAll(output);
    assert.equal(out.length, 1, definition.name);
    assert.deepEqual(out[0]!.cloudEvent, {
      ce_specversion: '1.0',
      ce_id: raw.id,
      ce_source: rawHeaders.ce_source,
      ce_type: type,
      ce_time: rawHeaders.ce_time,
      ce_subject: 'argo/dag-diamond-82q7s',
      'content-type': `application/avro; subject=${topic}-value`,
    });
    // A processor cannot forge them: its own headers come first and the runner's win.
    assert.equal(out[0]!.headers.ce_id, undefined);
  }
});

test('the Kafka headers read back into the attributes, and the HTTP binding names the same ones', () => {
  const raw = rawEventFor(succeeded(), 'ADDED');
  const attributes = resourceEventAttributes(raw, 'kubetrail.raw');
  assert.deepEqual(readCloudEventKafkaHeaders(recordHeaders(raw, 'kubetrail.raw')), { specversion: '1.0', ...attributes });
  assert.equal(attributes.type, 'io.kubetrail.resource.added');
  assert.deepEqual(Object.keys(cloudEventHttpHeaders(attributes)).sort(), ['ce-id', 'ce-source', 'ce-specversion', 'ce-subject', 'ce-time', 'ce-type', 'content-type']);
  assert.equal(readCloudEventKafkaHeaders({ 'kubetrail-id': 'x' }), undefined);
});
