// The stack's state file is shared by every process that drives it: a service restarted by one
// (a test, another `stack` command) is seen, and stopped by `down`, from any other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStack } from '../../stack/stack.js';

const stackDir = process.env.KUBETRAIL_STACK_DIR;

test('a service restarted through one LocalStack is seen with its new pid by another', { skip: stackDir ? false : 'needs the embedded stack' }, async () => {
  const observer = new LocalStack({ stackDir });
  const before = (await observer.status()).find((s) => s.name === 'kubeapi')!;
  assert.ok(before.ready, 'kubeapi is up before the restart');
  await new LocalStack({ stackDir }).restart('kubeapi');
  const after = (await observer.status()).find((s) => s.name === 'kubeapi')!;
  assert.notEqual(after.pid, before.pid, 'the restart gave kubeapi a new process');
  assert.ok(after.running && after.ready, 'the observer sees the new process running and answering');
  assert.ok(await observer.isUp());
});
