// docs/operations.md lists the ACLs each service needs; test/support/secured-acls.ts is the same
// list as code, granted by the secured integration test on its broker. They must not drift apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { grantRows } from '../support/secured-acls.js';

test('the ACL table of docs/operations.md is the one the secured integration test grants', () => {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## ACLs'), doc.indexOf('\n## ', doc.indexOf('## ACLs') + 1));
  const rows = section.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| principal') && !line.startsWith('|---'));
  assert.deepEqual(rows, grantRows());
});
