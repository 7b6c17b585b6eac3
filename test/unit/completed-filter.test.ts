import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessorTestDriver } from '../../lib/kit/test-driver.js';
import { createCompletedFilter, completedFilterOptionsSchema } from '../../processors/completed-filter/index.js';
import { optionEnvName, optionsFromEnv } from '../../lib/kit/options.js';
import { loadAllWorkflows, loadWorkflow, rawEventFor, type WorkflowObject } from '../fixtures/workflows.js';

/** A fixture with the given phase, resourceVersion and extra labels. */
function version(object: WorkflowObject, phase: string, resourceVersion: string, labels: Record<string, string> = {}): WorkflowObject {
  const copy = structuredClone(object);
  copy.status = { ...(copy.status ?? {}), phase };
  copy.metadata = { ...(copy.metadata ?? {}), resourceVersion, labels: { ...(copy.metadata?.labels as object), ...labels } };
  return copy;
}

const succeeded = () => loadWorkflow('dag-diamond-82q7s-1e994e4481'); // argo/dag-diamond-82q7s, Succeeded
const failed = () => loadWorkflow('exit-handlers-n7s4n-f47e234887'); // argo/exit-handlers-n7s4n, Failed

describe('completed-filter', () => {
  test('a Succeeded workflow passes once, however often Argo updates it after', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const wf = succeeded();
    driver.pipe(rawEventFor(version(wf, 'Running', '10'), 'ADDED'));
    driver.pipe(rawEventFor(version(wf, 'Running', '11'), 'MODIFIED'));
    const done = rawEventFor(version(wf, 'Succeeded', '12'), 'MODIFIED');
    driver.pipe(done, { key: 'argo/dag-diamond-82q7s', headers: { trace: 't1' } });
    driver.pipe(rawEventFor(version(wf, 'Succeeded', '13', { 'workflows.argoproj.io/workflow-archiving-status': 'Archived' }), 'MODIFIED'));
    driver.pipe(rawEventFor(version(wf, 'Succeeded', '14', { 'workflows.argoproj.io/completed': 'true' }), 'MODIFIED'));
    const out = driver.readAll('completed');
    assert.equal(out.length, 1);
    // The raw event, unchanged, with its key and headers.
    assert.deepEqual(out[0]!.value, done);
    assert.equal(out[0]!.key, 'argo/dag-diamond-82q7s');
    assert.deepEqual(out[0]!.headers, { trace: 't1' });
    assert.equal(out[0]!.topic, 'kubetrail.workflows.completed');
    assert.deepEqual(driver.stateGet(done.uid), { phase: 'Succeeded', resourceVersion: '12', eventId: done.id });
  });

  test('Running, Pending, unknown and misspelt phases emit nothing', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const wf = succeeded();
    for (const [phase, rv] of [['Pending', '1'], ['Running', '2'], ['Runningg', '3'], ['', '4'], ['Finished', '5']] as const) {
      driver.pipe(rawEventFor(version(wf, phase, rv), 'MODIFIED'));
    }
    driver.pipe(rawEventFor(loadWorkflow('exceeded-quota-8369842e07'), 'ADDED'));
    assert.deepEqual(driver.readAll('completed'), []);
    assert.deepEqual(driver.stateEntries(), []);
  });

  test('Failed passes once; Error after Failed is a new final state', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const wf = failed();
    driver.pipe(rawEventFor(version(wf, 'Failed', '1'), 'MODIFIED'));
    driver.pipe(rawEventFor(version(wf, 'Failed', '2'), 'MODIFIED'));
    driver.pipe(rawEventFor(version(wf, 'Error', '3'), 'MODIFIED'));
    assert.deepEqual(
      driver.readAll('completed').map((r) => [r.value!.resourceVersion, JSON.parse(r.value!.object).status.phase]),
      [
        ['1', 'Failed'],
        ['3', 'Error'],
      ],
    );
  });

  test('failedOnly passes Failed and Error, drops Succeeded without remembering it', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter({ failedOnly: true }), { strict: true });
    driver.pipe(rawEventFor(succeeded(), 'MODIFIED'));
    driver.pipe(rawEventFor(failed(), 'MODIFIED'));
    driver.pipe(rawEventFor(failed(), 'MODIFIED', { resourceVersion: '99' }));
    const errored = rawEventFor(version(loadWorkflow('steps-4k5vn-63f8e96bb4'), 'Error', '5'), 'MODIFIED');
    driver.pipe(errored);
    assert.deepEqual(
      driver.readAll('completed').map((r) => r.value!.name),
      ['exit-handlers-n7s4n', 'steps-4k5vn'],
    );
    assert.equal(driver.stateGet('7b2f1451-9a9a-4f66-a0d9-0364f814d948')?.phase, 'Failed');
    assert.equal(driver.stateGet(errored.uid)?.phase, 'Error');
    assert.equal(driver.stateEntries().length, 2);
  });

  test('after a restart (state restored), a repeat or a replay still does not pass', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const done = rawEventFor(succeeded(), 'MODIFIED');
    driver.pipe(done);
    assert.equal(driver.readAll('completed').length, 1);
    driver.restart();
    driver.pipe(done); // replay of the same record
    driver.pipe(rawEventFor(version(succeeded(), 'Succeeded', '999', { ttl: 'x' }), 'MODIFIED'));
    assert.deepEqual(driver.readAll('completed'), []);
  });

  test('READ of an already-emitted final state does not pass; READ of a new one does', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    driver.pipe(rawEventFor(succeeded(), 'MODIFIED'));
    driver.readAll('completed');
    driver.pipe(rawEventFor(succeeded(), 'READ'));
    assert.deepEqual(driver.readAll('completed'), []);
    driver.pipe(rawEventFor(failed(), 'READ'));
    assert.deepEqual(driver.readAll('completed').map((r) => r.value!.operation), ['READ']);
  });

  test('DELETED emits nothing and clears the state; a re-created workflow (new uid) passes', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const done = rawEventFor(succeeded(), 'MODIFIED');
    driver.pipe(done);
    driver.pipe(rawEventFor(succeeded(), 'DELETED', { resourceVersion: '1000' }));
    assert.equal(driver.stateGet(done.uid), undefined);
    assert.equal(driver.readAll('completed').length, 1);
    driver.pipe(rawEventFor(succeeded(), 'MODIFIED', { uid: 'new-uid', resourceVersion: '1' }));
    assert.deepEqual(driver.readAll('completed').map((r) => r.value!.uid), ['new-uid']);
  });

  test('a workflow retried (back to Running, same uid) passes its next final state, even the same one', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const wf = failed();
    driver.pipe(rawEventFor(version(wf, 'Failed', '1'), 'MODIFIED'));
    driver.pipe(rawEventFor(version(wf, 'Running', '2', { 'workflows.argoproj.io/completed': 'true' }), 'MODIFIED'));
    driver.pipe(rawEventFor(version(wf, 'Failed', '3'), 'MODIFIED'));
    assert.deepEqual(driver.readAll('completed').map((r) => r.value!.resourceVersion), ['1', '3']);
  });

  test('status.phase wins over labels: completed label on Running does not pass, Failed with a Succeeded label passes as Failed', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    driver.pipe(rawEventFor(loadWorkflow('wf-retry-stopped-pn6mm-709b2524e6'), 'MODIFIED')); // Running, completed=true
    driver.pipe(rawEventFor(loadWorkflow('retry-backoff-s69z6-ba48ce68a8'), 'MODIFIED')); // Running, labels say Failed
    assert.deepEqual(driver.readAll('completed'), []);
    const mislabelled = rawEventFor(loadWorkflow('hello-world-nrgbf-5f70a6c4c1'), 'MODIFIED'); // Failed, label Succeeded
    driver.pipe(mislabelled);
    assert.equal(driver.readAll('completed').length, 1);
    assert.equal(driver.stateGet(mislabelled.uid)?.phase, 'Failed');
  });

  test('on all fixtures: exactly those whose status.phase is final pass', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const expected: string[] = [];
    for (const { name, object } of loadAllWorkflows()) {
      // Fixtures share names (hello-world-nrgbf x3): a uid per file keeps them apart.
      driver.pipe(rawEventFor(object, 'ADDED', { uid: name }));
      if (['Succeeded', 'Failed', 'Error'].includes(object.status?.phase as string)) expected.push(name);
    }
    assert.equal(expected.length, 24); // 13 Succeeded, 11 Failed
    assert.deepEqual(driver.readAll('completed').map((r) => r.value!.uid), expected);
    assert.deepEqual(driver.deadLetters(), []);
  });

  test('an object that is not a workflow goes to the dead letters, and processing goes on', () => {
    const driver = new ProcessorTestDriver(createCompletedFilter(), { strict: true });
    const pod = rawEventFor({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'pod-uid' } }, 'DELETED');
    driver.pipe(pod);
    driver.pipe({ ...rawEventFor(succeeded(), 'MODIFIED'), object: 'not json' });
    driver.pipe(rawEventFor(failed(), 'MODIFIED'));
    const dead = driver.deadLetters();
    assert.equal(dead.length, 2);
    assert.equal(dead[0]!.value?.id, pod.id);
    assert.match(dead[0]!.error, /expected an Argo Workflow, got kind "Pod"/);
    assert.match(dead[1]!.error, /object is not JSON/);
    assert.equal(driver.readAll('completed').length, 1);
  });

  test('options from the environment', () => {
    assert.equal(optionEnvName('completed-filter', 'failedOnly'), 'KUBETRAIL_COMPLETED_FILTER_FAILED_ONLY');
    assert.deepEqual(optionsFromEnv('completed-filter', completedFilterOptionsSchema, {}), { failedOnly: false });
    assert.deepEqual(optionsFromEnv('completed-filter', completedFilterOptionsSchema, { KUBETRAIL_COMPLETED_FILTER_FAILED_ONLY: 'true' }), { failedOnly: true });
    assert.throws(
      () => optionsFromEnv('completed-filter', completedFilterOptionsSchema, { KUBETRAIL_COMPLETED_FILTER_FAILED_ONLY: 'yes please' }),
      /failedOnly.*KUBETRAIL_COMPLETED_FILTER_FAILED_ONLY/s,
    );
  });
});
