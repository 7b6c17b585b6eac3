// The README's new-user session ("A first session"), as a script, on Node 24 LTS: a fresh clone,
// `npm ci` (no EBADENGINE), the demo, `kubetrail subscribe kubetrail.workflows.summary -o table
// --until end` and `kubetrail dlq list workflow-summary`, each through npx as the README says.
// The demo uses the stack the integration suite runs on (KUBETRAIL_STACK_DIR), or with services
// named in the environment, --external. Each step's time is written to the test log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { demoWorkflows } from '../../cli/demo.js';
import { cliRoot, runCommand } from '../support/cli.js';
import { ensureNodeLts, NODE_LTS_VERSION } from '../support/node-lts.js';
import { testConnection, uniqueName } from '../support/services.js';

testConnection();

interface Step {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

async function step(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Step> {
  const began = Date.now();
  const result = await runCommand(command, args, { cwd, env, timeoutMs });
  const seconds = (Date.now() - began) / 1000;
  process.stderr.write(`[new-user session] ${command} ${args.join(' ')}: ${seconds.toFixed(1)} s\n`);
  return { ...result, seconds };
}

test(`the README's new-user session passes on Node ${NODE_LTS_VERSION}`, { timeout: 900_000 }, async () => {
  const node = await ensureNodeLts();
  const readme = readFileSync(join(cliRoot, 'README.md'), 'utf8');
  const session = ['npm ci', 'npx kubetrail demo --exit-when-done', 'npx kubetrail subscribe kubetrail.workflows.summary -o table --until end', 'npx kubetrail dlq list workflow-summary'];
  for (const line of session) assert.ok(readme.includes(line), `README shows \`${line}\``);

  const home = mkdtempSync(join(tmpdir(), 'kubetrail-new-user-'));
  try {
    // The README's PATH is whatever `node` the user has: here Node 24 first.
    const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}`, LOG_LEVEL: '' };
    const checkout = join(home, 'kubetrail');
    const clone = await step('git', ['clone', '--quiet', cliRoot, checkout], home, env, 120_000);
    assert.equal(clone.code, 0, clone.stderr);
    const install = await step('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], checkout, env, 300_000);
    assert.equal(install.code, 0, install.stderr);
    assert.doesNotMatch(install.stdout + install.stderr, /EBADENGINE/);
    const version = await step('npx', ['kubetrail', '--version'], checkout, env, 60_000);
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { version: string }).version);
    const versionOfNode = await step('node', ['--version'], checkout, env, 60_000);
    assert.equal(versionOfNode.stdout.trim(), `v${NODE_LTS_VERSION}`);

    const namespace = uniqueName('first-session');
    const external = process.env.KUBETRAIL_STACK_DIR ? [] : ['--external'];
    const demo = await step('npx', ['kubetrail', 'demo', '--exit-when-done', '--pace', '60', '--namespace', namespace, ...external], checkout, env, 300_000);
    assert.equal(demo.code, 0, demo.stderr.slice(-3000));
    assert.match(demo.stderr, new RegExp(`all ${demoWorkflows.length} workflows reached their final state`));

    const subscribe = await step('npx', ['kubetrail', 'subscribe', 'kubetrail.workflows.summary', '-o', 'table', '--until', 'end'], checkout, env, 120_000);
    assert.equal(subscribe.code, 0, subscribe.stderr);
    const [header, ...rows] = subscribe.stdout.trim().split('\n');
    assert.match(header ?? '', /^WORKFLOW +PHASE +PROGRESS +DURATION +MESSAGE$/);
    const last = new Map<string, string>();
    for (const row of rows.filter((r) => r.startsWith(`${namespace}/`))) last.set(row.split(/ +/)[0] as string, row.split(/ +/)[1] as string);
    assert.equal(last.size, demoWorkflows.length, subscribe.stdout.slice(-3000));
    assert.ok([...last.values()].every((phase) => phase === 'Succeeded' || phase === 'Failed'), [...last].join('\n'));

    const dlq = await step('npx', ['kubetrail', 'dlq', 'list', 'workflow-summary'], checkout, env, 120_000);
    assert.equal(dlq.code, 0, dlq.stderr);
    assert.match(dlq.stdout, /^workflow-summary: \d+ dead letters? in workflow-summary\.dlq\n/);
    assert.equal(dlq.stderr, '');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
