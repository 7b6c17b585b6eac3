// The fault suite's verifier (test/faults/support/verify.ts) must fail when something is wrong:
// here it is given a clean run's topics, then the same topics with a relist, a duplicate, a loss,
// a reordering and an output that no input explains forced into them, and each is caught.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { workflowSummarySchema } from '../../schemas/generated/workflow-summary.js';
import { metaOf, recordKey, toResourceEvent, type SourceContext } from '../../producer/mapping.js';
import { summarize, summaryKey, defaultWorkflowSummaryOptions } from '../../processors/workflow-summary/summary.js';
import { expectedOutputs, verify, type CollectedRecord } from '../faults/support/verify.js';
import type { DrivenWorkflow } from '../faults/support/driver.js';
import { assertVerdict } from '../faults/support/scenario.js';

const ctx: SourceContext = { cluster: 'c', group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind: 'Workflow', producer: 'p' };
const rawType = avro.Type.forSchema(resourceEventSchema as unknown as avro.Schema);
const summaryType = avro.Type.forSchema(workflowSummarySchema as unknown as avro.Schema);
const wire = (type: avro.Type, value: unknown) => Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), type.toBuffer(value)]);

/** One workflow's change at a resourceVersion, in a phase. */
function change(name: string, uid: string, rv: number, phase: string, operation: ResourceEvent['operation'] = 'MODIFIED'): ResourceEvent {
  const object = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name, namespace: 'ns', uid, resourceVersion: String(rv), creationTimestamp: '2026-11-30T10:00:00Z', labels: { 'track-me': 'true' } },
    status: { phase, startedAt: '2026-11-30T10:00:01Z', ...(phase === 'Succeeded' || phase === 'Failed' ? { finishedAt: '2026-11-30T10:00:09Z' } : {}) },
  };
  return toResourceEvent(ctx, { operation, meta: metaOf(object), objectJson: JSON.stringify(object), observedAt: 1_796_000_000_000 + rv });
}

let offsets = 0;
const rawRecord = (event: ResourceEvent): CollectedRecord => ({
  partition: 0,
  offset: String(offsets++),
  key: recordKey(ctx, event.namespace, event.name),
  value: wire(rawType, event),
  headers: {},
});

/** What the two processors write for the raw records (their own process() functions), as records on their topics. */
function outputsFor(raw: CollectedRecord[]) {
  const byId = new Map(raw.map((r) => [rawType.fromBuffer(r.value!.subarray(5)).id as string, rawType.fromBuffer(r.value!.subarray(5)) as ResourceEvent]));
  const records = (kind: 'completed-filter' | 'workflow-summary') =>
    [...expectedOutputs(kind, raw)].flatMap(([key, ids]) =>
      ids.map((id, i): CollectedRecord => {
        const event = byId.get(id)!;
        const value = kind === 'completed-filter' ? wire(rawType, event) : wire(summaryType, summarize(event, defaultWorkflowSummaryOptions));
        return { partition: 0, offset: String(i), key, value, headers: {} };
      }),
    );
  return { 'completed-filter': records('completed-filter'), 'workflow-summary': records('workflow-summary') };
}

const workflows = (): DrivenWorkflow[] => [
  { name: 'a', namespace: 'ns', fixture: 'f', finalPhase: 'Succeeded', uid: 'ua', versions: ['10', '12', '15'], deletes: false, deleted: false, done: true },
  { name: 'b', namespace: 'ns', fixture: 'f', finalPhase: 'Failed', uid: 'ub', versions: ['11', '13', '14'], deletes: false, deleted: false, done: true },
];
const cleanRaw = () => [
  rawRecord(change('a', 'ua', 10, 'Pending', 'ADDED')),
  rawRecord(change('b', 'ub', 11, 'Pending', 'ADDED')),
  rawRecord(change('a', 'ua', 12, 'Running')),
  rawRecord(change('b', 'ub', 13, 'Running')),
  rawRecord(change('b', 'ub', 14, 'Failed')),
  rawRecord(change('a', 'ua', 15, 'Succeeded')),
];
const noCompaction = { compactions: [] };

describe('the fault verifier', () => {
  it('passes a clean run: every change once, in order, every output as the processors must write it', () => {
    const raw = cleanRaw();
    const v = verify(workflows(), { raw, outputs: outputsFor(raw), deadLetters: 0 }, noCompaction);
    assert.equal(v.complete, true);
    assert.deepEqual([v.lost, v.duplicated, v.outOfOrder, v.raw.reads, v.raw.superseded], [0, 0, 0, 0, 0]);
    assert.equal(v.changes, 6);
    assert.deepEqual([v.outputs['completed-filter'].expected, v.outputs['workflow-summary'].expected], [2, 6]);
    assert.equal(v.completed.found, 2);
  });

  it('sees a relist: a READ on the raw topic is counted, and a missing change is lost unless etcd compacted it', () => {
    // a@12 and a@15 were never watched; the relist that followed saw a at 15 (a READ).
    const raw = [...cleanRaw().filter((r) => !['12', '15'].includes(rawType.fromBuffer(r.value!.subarray(5)).resourceVersion)), rawRecord(change('a', 'ua', 15, 'Succeeded', 'READ'))];
    const without = verify(workflows(), { raw, outputs: outputsFor(raw), deadLetters: 0 }, noCompaction);
    assert.equal(without.raw.reads, 1);
    assert.deepEqual(without.raw.missing, ['a@12']);
    assert.equal(without.lost, 1);
    const compacted = verify(workflows(), { raw, outputs: outputsFor(raw), deadLetters: 0 }, { compactions: [13n] });
    assert.equal(compacted.raw.superseded, 1, 'compacted at 13: 12 could only come back as the READ at 15');
    assert.equal(compacted.lost, 0);
    // A scenario that made no compaction fails on the relist itself; one that did accepts it.
    assert.throws(() => assertVerdict(compacted, { relists: false }, ''), /READ records \(a relist\) in a scenario without a compaction/);
    assert.doesNotThrow(() => assertVerdict(compacted, { relists: true }, ''));
  });

  it('catches a duplicate on the raw topic and on an output', () => {
    const raw = [...cleanRaw(), rawRecord(change('b', 'ub', 14, 'Failed'))];
    const outputs = outputsFor(cleanRaw());
    const v = verify(workflows(), { raw, outputs: { ...outputs, 'workflow-summary': [...outputs['workflow-summary'], outputs['workflow-summary'][0]!] }, deadLetters: 0 }, noCompaction);
    assert.deepEqual(v.raw.duplicates, ['b@14×2']);
    assert.equal(v.outputs['workflow-summary'].duplicates.length, 1);
    assert.ok(v.duplicated >= 2);
    assert.throws(() => assertVerdict(v, { relists: false }, ''), /records duplicated/);
  });

  it('catches a change out of order on the raw topic and outputs out of order', () => {
    const raw = cleanRaw();
    [raw[2], raw[5]] = [raw[5]!, raw[2]!]; // a@15 before a@12
    const v = verify(workflows(), { raw, outputs: outputsFor(cleanRaw()), deadLetters: 0 }, noCompaction);
    assert.deepEqual(v.raw.outOfOrder, ['a: 15 then 12']);
    assert.equal(v.outputs['workflow-summary'].outOfOrder.length, 1, 'a summary written in the order of the clean topic is out of order here');
  });

  it('catches an output record lost and one that no input explains', () => {
    const raw = cleanRaw();
    const outputs = outputsFor(raw);
    const lost = verify(workflows(), { raw, outputs: { ...outputs, 'completed-filter': outputs['completed-filter'].slice(1) }, deadLetters: 0 }, noCompaction);
    assert.equal(lost.outputs['completed-filter'].lost.length, 1);
    assert.equal(lost.complete, false);
    const stray = change('a', 'ua', 12, 'Running');
    const extra = { partition: 0, offset: '99', key: summaryKey(summarize(stray, defaultWorkflowSummaryOptions)), value: wire(rawType, stray), headers: {} };
    const unexpected = verify(workflows(), { raw, outputs: { ...outputs, 'completed-filter': [...outputs['completed-filter'], extra] }, deadLetters: 0 }, noCompaction);
    assert.equal(unexpected.outputs['completed-filter'].unexpected.length, 1);
  });
});
