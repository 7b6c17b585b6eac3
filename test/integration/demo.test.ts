// The README's first command, as a user runs it: the demo drives real Argo workflows through the
// API server, the producer and both processors, and every workflow's final state reaches the
// summary topic. (--external points it at the services the tests use; --exit-when-done ends it.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { demoWorkflows } from '../../cli/demo.js';
import { testConnection, uniqueName } from '../support/services.js';

testConnection();

test('the demo plays every workflow to its final state in the live summary view', async () => {
  const namespace = uniqueName('demo');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', 'demo', '--external', '--exit-when-done', '--pace', '60', '--namespace', namespace],
    { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `demo failed:\n${stderr.slice(-3000)}`);
  assert.match(stderr, new RegExp(`all ${demoWorkflows.length} workflows reached their final state`));
  // The notify sink posted each finished workflow once, in Slack format, to the demo's receiver.
  assert.match(stderr, new RegExp(`${demoWorkflows.length} Slack notifications received for ${demoWorkflows.length} workflows`));
  assert.match(stderr, new RegExp(`Slack message received \\(Idempotency-Key [0-9a-f]{12}…\\): Failed: ${namespace}/exit-handlers-\\S+ — .*main.*\\(exit code 1\\)`));
  // The final table: one row per workflow, each in the phase its real Argo object ended in.
  const table = stdout.slice(stdout.lastIndexOf('WORKFLOW'));
  const rows = table.split('\n').filter((line) => line.startsWith(`${namespace}/`));
  assert.equal(rows.length, demoWorkflows.length, table);
  assert.ok(rows.some((r) => /dag-diamond-\S+\s+Succeeded\s+4\/4/.test(r)), table);
  assert.ok(rows.some((r) => /exit-handlers-\S+\s+Failed\s+.*exit code 1/.test(r)), table);
  assert.ok(rows.every((r) => /\s(Succeeded|Failed)\s/.test(r)), table);
});
