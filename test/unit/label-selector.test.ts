// kubectl's label selector syntax and meaning (the examples of the Kubernetes "Labels and
// Selectors" page), for `subscribe -l`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesSelector, parseSelector } from '../../cli/label-selector.js';

const matching = (selector: string, objects: Array<Record<string, string>>) => objects.map((labels) => matchesSelector(labels, parseSelector(selector)));

describe('label selectors', () => {
  const objects: Array<Record<string, string>> = [{ environment: 'production', tier: 'frontend' }, { environment: 'qa', tier: 'backend' }, { tier: 'backend', partition: 'customerA' }, {}];

  it('equality-based: =, ==, !=', () => {
    assert.deepEqual(matching('environment=production', objects), [true, false, false, false]);
    assert.deepEqual(matching('environment==qa', objects), [false, true, false, false]);
    assert.deepEqual(matching('environment!=production', objects), [false, true, true, true], 'objects without the key match !=');
    assert.deepEqual(matching('environment=production,tier=frontend', objects), [true, false, false, false]);
  });

  it('set-based: in, notin, exists, !exists', () => {
    assert.deepEqual(matching('environment in (production, qa)', objects), [true, true, false, false]);
    assert.deepEqual(matching('tier notin (frontend,backend)', objects), [false, false, false, true]);
    assert.deepEqual(matching('partition', objects), [false, false, true, false]);
    assert.deepEqual(matching('!partition', objects), [true, true, false, true]);
    assert.deepEqual(matching('partition,environment notin (qa)', objects), [false, false, true, false]);
    assert.deepEqual(matching('team in (a,b),!x', [{ team: 'a' }, { team: 'b', x: '1' }, { team: 'c' }]), [true, false, false]);
  });

  it('keys with a prefix and an empty selector', () => {
    assert.deepEqual(matching('workflows.argoproj.io/phase=Failed', [{ 'workflows.argoproj.io/phase': 'Failed' }]), [true]);
    assert.deepEqual(parseSelector(''), []);
  });

  it('refuses what kubectl refuses', () => {
    assert.throws(() => parseSelector('team in (a,b'), /unbalanced parentheses/);
    assert.throws(() => parseSelector('team=a,'), /an empty requirement/);
    assert.throws(() => parseSelector('bad key=a'), /not a label/);
    assert.throws(() => parseSelector('team=a b'), /not a label/);
  });
});
