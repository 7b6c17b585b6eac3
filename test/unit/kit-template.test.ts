// The template processor under the test driver: how a processor's unit test looks (copy it to
// test/unit/<your-name>.test.ts along with the folder).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessorTestDriver } from '../../lib/kit/test-driver.js';
import { createTemplate } from '../../processors/_template/index.js';
import { listProcessors } from '../../lib/kit/discovery.js';
import type { ResourceEvent } from '../../lib/raw-event.js';

function event(operation: ResourceEvent['operation'], name: string, kind = 'Workflow', observedAt = 1_700_000_000_000): ResourceEvent {
  return {
    id: `${name}-${operation}-${observedAt}`,
    operation,
    resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind },
    namespace: 'argo',
    name,
    uid: `uid-${name}`,
    resourceVersion: String(observedAt),
    generation: 1,
    labels: {},
    creationTimestamp: null,
    deletionTimestamp: null,
    object: '{}',
    trimmed: [],
    source: { cluster: 'test', producer: 'test', observedAt, inferred: false },
  };
}

describe('template processor', () => {
  it('counts changes per object, keeps them across a restart, and deletes on DELETED', () => {
    const driver = new ProcessorTestDriver(createTemplate(), { strict: true });
    const key = 'workflows.argoproj.io/argo/a';
    driver.pipe(event('ADDED', 'a'), { key });
    driver.pipe(event('MODIFIED', 'a', 'Workflow', 1_700_000_000_500), { key });
    driver.pipe(event('READ', 'a'), { key });
    assert.deepEqual(driver.readAll('changes').map((r) => r.value?.changes), [1, 2]);
    driver.restart();
    driver.pipe(event('MODIFIED', 'a', 'Workflow', 1_700_000_001_000), { key });
    const [latest] = driver.readAll('changes');
    assert.equal(latest?.value?.changes, 3);
    assert.equal(latest?.value?.lastObservedAt, 1_700_000_001_000);
    driver.pipe(event('DELETED', 'a'), { key });
    assert.deepEqual(driver.readAll('changes').map(({ cloudEvent: _, ...record }) => record), [{ topic: 'kubetrail.template.changes', key, value: null, headers: {} }]);
    assert.equal(driver.stateGet(key), undefined);
  });

  it('counts only the configured kinds', () => {
    const driver = new ProcessorTestDriver(createTemplate({ kinds: ['Pod'] }), { strict: true });
    driver.pipe(event('ADDED', 'a'), { key: 'a' });
    driver.pipe(event('ADDED', 'p', 'Pod'), { key: 'p' });
    assert.deepEqual(driver.readAll('changes').map((r) => r.key), ['p']);
  });

  it('is not discovered as a processor', () => {
    assert.ok(!listProcessors().includes('_template'));
  });
});
