import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import avro from 'avsc';
import { changeId, InvalidObjectError, parseObject, resourceEventSchema } from '../../lib/raw-event.js';
import { loadAllWorkflows, loadWorkflow, rawEventFor, workflowFixtureNames } from '../fixtures/workflows.js';

describe('raw events', () => {
  test('changeId is the hex SHA-256 of cluster, group, resource, uid and resourceVersion joined by newlines', () => {
    const parts = { cluster: 'prod', group: 'argoproj.io', resource: 'workflows', uid: 'u-1', resourceVersion: '42' };
    assert.equal(changeId(parts), createHash('sha256').update('prod\nargoproj.io\nworkflows\nu-1\n42').digest('hex'));
    assert.match(changeId(parts), /^[0-9a-f]{64}$/);
    assert.notEqual(changeId(parts), changeId({ ...parts, resourceVersion: '43' }));
    // The separator keeps field boundaries: moving text between fields changes the id.
    assert.notEqual(changeId({ ...parts, group: '', resource: 'argoproj.ioworkflows' }), changeId(parts));
  });

  test('rawEventFor builds a schema-valid event with the contract id, for every fixture', () => {
    const type = avro.Type.forSchema(resourceEventSchema as unknown as avro.Schema);
    assert.equal(workflowFixtureNames().length, 67);
    for (const { name, object } of loadAllWorkflows()) {
      const event = rawEventFor(object, 'ADDED');
      assert.ok(type.isValid(event, { noUndeclaredFields: true }), name);
      assert.equal(event.id, changeId({ cluster: 'test', group: 'argoproj.io', resource: 'workflows', uid: event.uid, resourceVersion: event.resourceVersion }));
      assert.deepEqual(parseObject(event), object);
    }
  });

  test('rawEventFor takes fields from the object, and overrides (id recomputed from them)', () => {
    const object = loadWorkflow('dag-diamond-82q7s-1e994e4481');
    const event = rawEventFor(object, 'MODIFIED', { resourceVersion: '7', source: { cluster: 'east' } });
    assert.equal(event.namespace, 'argo');
    assert.equal(event.name, 'dag-diamond-82q7s');
    assert.equal(event.uid, 'dd3d2674-43d8-446a-afdf-17ec95afade2');
    assert.equal(event.generation, 16);
    assert.equal(event.creationTimestamp, Date.parse('2024-10-01T04:27:23Z'));
    assert.deepEqual(event.resource, { group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind: 'Workflow' });
    assert.equal(event.source.cluster, 'east');
    assert.equal(event.source.producer, 'test-producer');
    assert.equal(event.id, changeId({ cluster: 'east', group: 'argoproj.io', resource: 'workflows', uid: event.uid, resourceVersion: '7' }));
    // A label that YAML made a boolean is a string again, as the API server has it.
    assert.deepEqual(rawEventFor(loadWorkflow('my-wf-c231bdf3dc'), 'ADDED').labels, { 'workflows.argoproj.io/completed': 'true' });
    assert.equal(rawEventFor(object, 'ADDED', { id: 'fixed' }).id, 'fixed');
  });

  test('parseObject refuses what is not a JSON object', () => {
    const event = rawEventFor(loadWorkflow('steps-4k5vn-63f8e96bb4'), 'ADDED');
    assert.throws(() => parseObject({ ...event, object: '{' }), InvalidObjectError);
    assert.throws(() => parseObject({ ...event, object: 'null' }), /not a JSON object/);
    assert.throws(() => parseObject({ ...event, object: '"x"' }), /not a JSON object/);
  });
});
