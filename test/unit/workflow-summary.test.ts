import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { ProcessorTestDriver } from '../../lib/kit/test-driver.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import { failedSteps, parseExitCode } from '../../processors/workflow-summary/summary.js';
import { workflowSummarySchema, type WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import { loadAllWorkflows, loadWorkflow, rawEventFor, type WorkflowObject } from '../fixtures/workflows.js';

const ms = (iso: string) => Date.parse(iso);

/** Pipes one event through a fresh driver and returns the one summary it emitted. */
function summaryOf(object: WorkflowObject, operation: 'ADDED' | 'MODIFIED' | 'DELETED' | 'READ' = 'MODIFIED'): WorkflowSummary {
  const driver = new ProcessorTestDriver(createWorkflowSummary(), { strict: true });
  driver.pipe(rawEventFor(object, operation));
  assert.deepEqual(driver.deadLetters(), []);
  const out = driver.readAll('summaries');
  assert.equal(out.length, 1);
  assert.ok(out[0]!.value);
  return out[0]!.value;
}

describe('workflow-summary on all fixtures', () => {
  const summaryType = avro.Type.forSchema(workflowSummarySchema as unknown as avro.Schema);
  const final = new Set(['Succeeded', 'Failed', 'Error']);
  const fixtures = loadAllWorkflows();

  test('there are 67 fixtures', () => assert.equal(fixtures.length, 67));

  for (const { name, object } of fixtures) {
    test(name, () => {
      const driver = new ProcessorTestDriver(createWorkflowSummary(), { strict: true });
      const event = rawEventFor(object, 'ADDED');
      driver.pipe(event, { key: event.uid });
      assert.deepEqual(driver.deadLetters(), []);
      const [out, ...more] = driver.readAll('summaries');
      assert.equal(more.length, 0);
      const summary = out!.value!;
      assert.ok(summaryType.isValid(summary, { noUndeclaredFields: true }));
      assert.equal(out!.key, `${event.namespace ?? ''}/${event.name}`);
      assert.equal(summary.phase, object.status?.phase);
      assert.equal(summary.completed, final.has(summary.phase));
      assert.equal(summary.deleted, false);
      for (const step of summary.failedSteps) assert.ok(step.phase === 'Failed' || step.phase === 'Error');
      // Same object again: nothing new to say.
      driver.pipe(rawEventFor(object, 'MODIFIED', { resourceVersion: '999' }));
      assert.equal(driver.readAll('summaries').length, 0);
    });
  }
});

describe('workflow-summary on representative fixtures', () => {
  test('Failed steps workflow: the pod that failed, not the Steps/StepGroup it propagated to', () => {
    const s = summaryOf(loadWorkflow('steps-9fkqc-f3663184dc'));
    assert.equal(s.namespace, '');
    assert.equal(s.name, 'steps-9fkqc');
    assert.equal(s.uid, '241a39ef-4ff1-487f-8461-98df5d2b50fb');
    assert.equal(s.phase, 'Failed');
    assert.equal(s.completed, true);
    assert.equal(s.message, "child 'steps-9fkqc-3224593506' failed");
    assert.equal(s.startedAt, ms('2020-09-16T16:07:54Z'));
    assert.equal(s.finishedAt, ms('2020-09-16T16:09:32Z'));
    assert.equal(s.durationMs, 98_000);
    assert.deepEqual(s.failedSteps, [
      {
        nodeId: 'steps-9fkqc-3224593506',
        name: 'steps-9fkqc[1].fail',
        displayName: 'fail',
        templateName: 'fail',
        type: 'Pod',
        phase: 'Failed',
        message: 'failed with exit code 1',
        exitCode: 1,
        startedAt: ms('2020-09-16T16:09:27Z'),
        finishedAt: ms('2020-09-16T16:09:30Z'),
      },
    ]);
  });

  test('retries: each failed attempt, ordered by start, with its own exit code', () => {
    const s = summaryOf(loadWorkflow('retry-script-9z9pv-bbab95fc67'));
    assert.equal(s.phase, 'Running');
    assert.equal(s.completed, false);
    assert.deepEqual(
      s.failedSteps.map((f) => [f.displayName, f.exitCode, f.message]),
      [
        ['retry(0)', 2, 'Error (exit code 2)'],
        ['retry(1)', 1, 'Error (exit code 1)'],
      ],
    );
  });

  test('misspelt phase "Runningg" passes through, not completed', () => {
    const s = summaryOf(loadWorkflow('exceeded-quota-8369842e07'));
    assert.equal(s.phase, 'Runningg');
    assert.equal(s.completed, false);
    assert.equal(s.progress, '0/1');
    assert.equal(s.finishedAt, null);
    assert.equal(s.durationMs, null);
    assert.equal(s.failedSteps.length, 1);
    assert.equal(s.failedSteps[0]!.message, 'test1.test "test" is forbidden: exceeded quota');
    assert.equal(s.failedSteps[0]!.exitCode, null);
  });

  test('completed=true label on a Running workflow: status.phase wins', () => {
    const s = summaryOf(loadWorkflow('wf-retry-stopped-pn6mm-709b2524e6'));
    assert.equal(s.phase, 'Running');
    assert.equal(s.completed, false);
    assert.equal(s.message, "Stopped with strategy 'Stop'");
    assert.equal(s.progress, '0/3');
    assert.deepEqual(s.labels, {}); // only workflows.argoproj.io/ labels, left out by default
    const backoff = summaryOf(loadWorkflow('retry-backoff-s69z6-ba48ce68a8')); // labels say completed, Failed
    assert.equal(backoff.phase, 'Running');
    assert.equal(backoff.completed, false);
  });

  test('phase label Succeeded on a Failed workflow: status.phase wins', () => {
    const s = summaryOf(loadWorkflow('hello-world-nrgbf-5f70a6c4c1'));
    assert.equal(s.phase, 'Failed');
    assert.equal(s.completed, true);
    assert.equal(s.namespace, 'default');
    assert.deepEqual(s.failedSteps, []);
    assert.equal(s.startedAt, ms('2018-08-27T20:41:38Z'));
  });

  test('DAG with retries: the pods, neither the DAG nor the Retry node', () => {
    const s = summaryOf(loadWorkflow('dag-disable-fail-fast-r6xdc-094b58f2e9'));
    assert.equal(s.phase, 'Failed');
    assert.equal(s.durationMs, 48_000);
    assert.deepEqual(
      s.failedSteps.map((f) => [f.nodeId, f.displayName, f.type, f.message, f.exitCode]),
      [
        ['dag-disable-fail-fast-r6xdc-3256495944', 'C(0)', 'Pod', 'failed with exit code 2', null],
        ['dag-disable-fail-fast-r6xdc-3457680277', 'C(1)', 'Pod', 'failed with exit code 2', null],
      ],
    );
  });

  test('DAG → TaskGroup → Retry → Pod: the pod, exit code from outputs without a message', () => {
    const s = summaryOf(loadWorkflow('workflow-retry-61492f2224'));
    assert.equal(s.namespace, 'argo');
    assert.deepEqual(
      s.failedSteps.map((f) => [f.name, f.type, f.message, f.exitCode]),
      [['workflow-retry.launch(1:fail)(0)', 'Pod', null, 1]],
    );
  });

  test('node without type or timestamps counts, with nulls', () => {
    const s = summaryOf(loadWorkflow('my-wf-c231bdf3dc'));
    assert.deepEqual(s.failedSteps, [
      { nodeId: 'my-wf', name: 'my-wf', displayName: null, templateName: null, type: null, phase: 'Failed', message: null, exitCode: null, startedAt: null, finishedAt: null },
    ]);
  });

  test('Succeeded DAG: progress and duration, no failed steps', () => {
    const s = summaryOf(loadWorkflow('dag-diamond-82q7s-1e994e4481'));
    assert.equal(s.phase, 'Succeeded');
    assert.equal(s.completed, true);
    assert.equal(s.progress, '4/4');
    assert.equal(s.message, null);
    assert.equal(s.durationMs, 19_000);
    assert.deepEqual(s.failedSteps, []);
  });

  test('workflow template from spec.workflowTemplateRef; user labels kept, Argo labels left out', () => {
    assert.equal(summaryOf(loadWorkflow('workflow-template-hello-world-k4d26-109a7c2bbc')).workflowTemplate, 'workflow-template-submittable-2.9');
    const s = summaryOf(loadWorkflow('exit-handlers-n7s4n-f47e234887'));
    assert.deepEqual(s.labels, { 'default-label': 'thisLabelIsFromWorkflowDefaults' });
    assert.equal(s.workflowTemplate, null);
    assert.equal(s.creator, null);
    assert.equal(s.message, 'main: Error (exit code 1)');
    assert.equal(s.progress, '2/3');
  });

  test('workflow template and creator from labels; labels option selects keys', () => {
    const object = loadWorkflow('steps-4k5vn-63f8e96bb4');
    object.metadata!.labels = { 'workflows.argoproj.io/workflow-template': 'nightly', 'workflows.argoproj.io/creator': 'alice', team: 'data', app: 'etl' };
    const driver = new ProcessorTestDriver(createWorkflowSummary({ labels: ['team', 'absent'] }), { strict: true });
    driver.pipe(rawEventFor(object, 'ADDED'));
    const s = driver.read('summaries')!.value!;
    assert.equal(s.workflowTemplate, 'nightly');
    assert.equal(s.creator, 'alice');
    assert.deepEqual(s.labels, { team: 'data' });
  });

  test('workflow without status (not picked up by the controller yet): empty phase, nothing else', () => {
    const object = loadWorkflow('dag-diamond-82q7s-1e994e4481');
    delete object.status; // its labels still say Succeeded: they do not stand in for a status
    const s = summaryOf(object, 'ADDED');
    assert.equal(s.phase, '');
    assert.equal(s.completed, false);
    assert.equal(s.progress, null);
    assert.equal(s.startedAt, null);
    assert.deepEqual(s.failedSteps, []);
  });

  test('status trimmed away: the phase label stands in, trimmed paths are reported', () => {
    const object = loadWorkflow('dag-diamond-82q7s-1e994e4481');
    delete object.status;
    const driver = new ProcessorTestDriver(createWorkflowSummary(), { strict: true });
    driver.pipe(rawEventFor(object, 'MODIFIED', { trimmed: ['status'] }));
    const s = driver.read('summaries')!.value!;
    assert.equal(s.phase, 'Succeeded');
    assert.equal(s.completed, true);
    assert.deepEqual(s.source.trimmed, ['status']);
  });
});

describe('workflow-summary emission', () => {
  test('emits on meaningful changes only, keyed namespace/name', () => {
    const driver = new ProcessorTestDriver(createWorkflowSummary(), { strict: true });
    const object = loadWorkflow('dag-diamond-82q7s-1e994e4481');
    object.status!.phase = 'Running';
    object.status!.progress = '1/4';
    delete object.status!.finishedAt;
    driver.pipe(rawEventFor(object, 'ADDED', { resourceVersion: '1' }));
    // Label change only: nothing.
    object.metadata!.labels = { ...(object.metadata!.labels as object), extra: 'x' };
    driver.pipe(rawEventFor(object, 'MODIFIED', { resourceVersion: '2' }));
    object.status!.progress = '2/4';
    driver.pipe(rawEventFor(object, 'MODIFIED', { resourceVersion: '3' }));
    object.status!.phase = 'Succeeded';
    object.status!.progress = '4/4';
    driver.pipe(rawEventFor(object, 'MODIFIED', { resourceVersion: '4' }));
    // After a restart, a relist's READ of the same state is not new.
    driver.restart();
    driver.pipe(rawEventFor(object, 'READ', { resourceVersion: '4' }));
    assert.deepEqual(driver.readAll('summaries'), []);
    driver.pipe(rawEventFor(object, 'DELETED', { resourceVersion: '5' }));
    const deleted = driver.readAll('summaries');
    assert.equal(deleted.length, 1);
    assert.equal(deleted[0]!.key, 'argo/dag-diamond-82q7s');
    assert.equal(deleted[0]!.value!.deleted, true);
    assert.equal(deleted[0]!.value!.phase, 'Succeeded');
    assert.equal(deleted[0]!.value!.source.operation, 'DELETED');
    assert.equal(driver.stateGet('argo/dag-diamond-82q7s'), undefined);
  });

  test('the sequence before the restart: ADDED, progress, Succeeded', () => {
    const driver = new ProcessorTestDriver(createWorkflowSummary(), { strict: true });
    const object = loadWorkflow('dag-diamond-82q7s-1e994e4481');
    const phases: Array<[string, string]> = [];
    for (const [phase, progress, rv] of [
      ['Running', '1/4', '1'],
      ['Running', '1/4', '2'],
      ['Running', '2/4', '3'],
      ['Succeeded', '4/4', '4'],
      ['Succeeded', '4/4', '5'],
    ] as const) {
      object.status!.phase = phase;
      object.status!.progress = progress;
      driver.pipe(rawEventFor(object, 'MODIFIED', { resourceVersion: rv }));
    }
    for (const r of driver.readAll('summaries')) phases.push([r.value!.phase, r.value!.progress ?? '']);
    assert.deepEqual(phases, [
      ['Running', '1/4'],
      ['Running', '2/4'],
      ['Succeeded', '4/4'],
    ]);
    assert.equal(driver.stateGet('argo/dag-diamond-82q7s')?.uid, 'dd3d2674-43d8-446a-afdf-17ec95afade2');
  });

  test('a new failed step emits; a workflow re-created under the same name emits', () => {
    const driver = new ProcessorTestDriver(createWorkflowSummary(), { strict: true });
    const object = loadWorkflow('retry-script-9z9pv-bbab95fc67');
    const nodes = object.status!.nodes as Record<string, Record<string, unknown>>;
    const second = nodes['retry-script-9z9pv-2327053777']!;
    second.phase = 'Running';
    driver.pipe(rawEventFor(object, 'MODIFIED'));
    second.phase = 'Failed';
    driver.pipe(rawEventFor(object, 'MODIFIED', { resourceVersion: '2' }));
    driver.pipe(rawEventFor(object, 'MODIFIED', { resourceVersion: '3', uid: 'another-uid' }));
    assert.deepEqual(
      driver.readAll('summaries').map((r) => [r.value!.uid, r.value!.failedSteps.length]),
      [
        ['uid--retry-script-9z9pv', 1],
        ['uid--retry-script-9z9pv', 2],
        ['another-uid', 2],
      ],
    );
  });

  test('an object that is not a workflow is dead-lettered with a clear error', () => {
    const driver = new ProcessorTestDriver(createWorkflowSummary(), { strict: true });
    driver.pipe(rawEventFor({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' } }, 'ADDED'));
    driver.pipe(rawEventFor({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow' }, 'ADDED'));
    driver.pipe({ ...rawEventFor(loadWorkflow('steps-4k5vn-63f8e96bb4'), 'ADDED'), object: '[1,2]' });
    const dead = driver.deadLetters();
    assert.deepEqual(
      dead.map((d) => d.errorName),
      ['NotAWorkflowError', 'NotAWorkflowError', 'InvalidObjectError'],
    );
    assert.match(dead[0]!.error, /expected an Argo Workflow, got kind "Pod"/);
    assert.match(dead[1]!.error, /without metadata\.name/);
    assert.equal(driver.readAll('summaries').length, 0);
  });
});

describe('failed step extraction', () => {
  test('a structural node that failed on its own counts', () => {
    const steps = failedSteps({
      dag: { id: 'dag', name: 'wf', type: 'DAG', phase: 'Error', message: 'deadline exceeded', children: ['a'] },
      a: { id: 'a', name: 'wf.a', type: 'Pod', phase: 'Succeeded', boundaryID: 'dag' },
    });
    assert.deepEqual(
      steps.map((s) => [s.nodeId, s.type, s.message]),
      [['dag', 'DAG', 'deadline exceeded']],
    );
  });

  test('a DAG whose failing task is not a direct child is still explained by the boundary', () => {
    const steps = failedSteps({
      dag: { id: 'dag', type: 'DAG', phase: 'Failed', children: ['a'] },
      a: { id: 'a', type: 'Pod', phase: 'Succeeded', boundaryID: 'dag', children: ['b'] },
      b: { id: 'b', type: 'Pod', phase: 'Failed', boundaryID: 'dag' },
    });
    assert.deepEqual(steps.map((s) => s.nodeId), ['b']);
  });

  test('robust to junk: non-object nodes, missing fields, non-map nodes', () => {
    assert.deepEqual(failedSteps(undefined), []);
    assert.deepEqual(failedSteps([1, 2]), []);
    assert.deepEqual(failedSteps({ x: null, y: 'str', z: { phase: 'Failed', children: 'nope', outputs: 'bad' } }).map((s) => s.nodeId), ['z']);
  });

  test('linear on a large node map', () => {
    const nodes: Record<string, unknown> = {};
    const n = 100_000;
    for (let i = 0; i < n; i++) nodes[`n${i}`] = { id: `n${i}`, type: 'Pod', phase: i % 2 ? 'Failed' : 'Succeeded', boundaryID: 'root', startedAt: '2024-01-01T00:00:00Z' };
    nodes.root = { id: 'root', type: 'DAG', phase: 'Failed', children: Object.keys(nodes) };
    const began = performance.now();
    const steps = failedSteps(nodes);
    assert.equal(steps.length, n / 2);
    assert.ok(performance.now() - began < 5_000);
  });

  test('exit codes', () => {
    assert.equal(parseExitCode('1'), 1);
    assert.equal(parseExitCode('-1'), -1);
    assert.equal(parseExitCode(137), 137);
    assert.equal(parseExitCode('137abc'), null);
    assert.equal(parseExitCode(''), null);
    assert.equal(parseExitCode(undefined), null);
    assert.equal(parseExitCode('99999999999'), null);
  });
});
