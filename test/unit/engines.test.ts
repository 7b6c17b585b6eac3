// Every package the lock file installs declares Node engines that cover the project's own (a
// range that is a subset of theirs), so no supported Node version gets a dependency that does not
// support it (npm ci would print EBADENGINE on it), and the CI's Node 24 is inside the project's range.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import semver from 'semver';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }>;
};

/** Packages whose declared node engines do not cover `range`. */
export function uncovered(range: string, packages: typeof lock.packages): string[] {
  const problems: string[] = [];
  for (const [path, entry] of Object.entries(packages)) {
    if (path === '' || !entry.engines || Array.isArray(entry.engines) || !entry.engines.node) continue;
    if (!semver.subset(range, entry.engines.node)) problems.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version} needs node ${entry.engines.node}`);
  }
  return problems;
}

describe('Node engines', () => {
  it('every installed package supports every Node version the project declares', () => {
    assert.deepEqual(uncovered(pkg.engines.node, lock.packages), []);
  });

  it('the project declares Node 20 and Node 24 LTS', () => {
    assert.ok(semver.satisfies('20.19.0', pkg.engines.node), pkg.engines.node);
    assert.ok(semver.satisfies('24.11.0', pkg.engines.node), pkg.engines.node);
  });

  it('finds a dependency that needs a newer Node than the project declares', () => {
    assert.deepEqual(uncovered('>=20', { 'node_modules/x': { version: '1.0.0', engines: { node: '>=22' } } }), ['x@1.0.0 needs node >=22']);
  });
});
