// Bad input, end to end with the real workflow processors (completed-filter, workflow-summary):
// random and crafted records on the raw topic between good ones. Every bad record ends in the
// processor's dead-letter topic with its reason and its original bytes; every good record around
// them is processed; odd but valid records (no status, an unknown phase, huge objects, odd Unicode)
// are processed, not dead-lettered; no processor stops. Then bad configuration and unreachable
// services at start-up: `kubetrail produce` and `kubetrail process` as child processes must say
// what is wrong and exit with 2 (configuration) or 1 (unreachable) within a bounded time.
// (lib/kit's own dead-letter reasons are tested with a test processor in kit-runner.test.ts.)
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { finalPhases } from '../../lib/argo-workflow.js';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';
import { runProcessor, type ProcessorHandle } from '../../lib/kit/runner.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import { createCompletedFilter } from '../../processors/completed-filter/index.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import type { WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import { loadAllWorkflows } from '../fixtures/workflows.js';
import { badInputCorpus, eventOf, phaseOf, type Case } from '../support/bad-input-corpus.js';
import { RawWriter, createTopic, quietLogger, readTopicToEnd, kafkaTestbed, type ReadRecord } from '../support/kit-helpers.js';
import { testConnection, uniqueName } from '../support/services.js';
import { waitFor } from '../support/wait.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

describe('bad records on the raw topic', () => {
  it('dead-letters every bad record with its reason, processes every good one around them, and keeps running', { timeout: 240_000 }, async () => {
    const base = uniqueName('bad-input');
    const input = `${base}.raw`;
    await createTopic(admin, input, 1);
    const writer = await RawWriter.open(kafka, registry, input);
    cleanups.push(() => writer.close());
    const { cases, odd, oddName, oddLabels, huge1, misspelt } = await badInputCorpus(registry, writer.schemaId, base);
    const succeeded = loadAllWorkflows().find(({ object }) => phaseOf(object) === 'Succeeded')!.object;
    const messages = cases.map((c, i) => ({ key: c.key, value: c.value, headers: { 'bad-input-case': String(i) } }));
    // Near-max records go alone (a batch has the same size limit as a record); the rest in batches.
    let batch: typeof messages = [];
    for (const [i, message] of messages.entries()) {
      if (cases[i]!.alone) {
        if (batch.length) await writer.writeRaw(batch);
        batch = [];
        await writer.writeRaw([message]);
      } else batch.push(message);
    }
    if (batch.length) await writer.writeRaw(batch);

    // Both processors, as deployed, in this process.
    const handles: Array<{ name: string; handle: ProcessorHandle; dlq: string; output: string }> = [];
    for (const [definition, output] of [
      [createCompletedFilter(), { completed: `${base}.completed` }],
      [createWorkflowSummary(), { summaries: `${base}.summary` }],
    ] as const) {
      const groupId = `${base}-${definition.name}`;
      const handle = await runProcessor(definition as unknown as Parameters<typeof runProcessor>[0], {
        connection,
        groupId,
        topics: { input, outputs: output as Record<string, string> },
        logger: quietLogger(groupId),
        handleSignals: false,
        sessionTimeoutMs: 6_000,
      });
      cleanups.push(() => handle.stop());
      handles.push({ name: definition.name, handle, dlq: `${groupId}.dlq`, output: Object.values(output)[0]! });
    }
    for (const { name, handle } of handles) await waitFor(`${name} to read every record`, () => handle.stats().recordsIn >= cases.length, { timeoutMs: 120_000 });

    // Good records after the bad ones still go through: the processors did not stop.
    const after1 = eventOf(succeeded, 'after-the-bad-ones');
    await writer.write([after1]);
    for (const { name, handle } of handles) {
      await waitFor(`${name} to read the record after`, () => handle.stats().recordsIn >= cases.length + 1);
      assert.equal(handle.ready(), true, `${name} still running`);
    }

    // Every writer stops: what the topics hold now is all they will ever hold.
    for (const { handle } of handles) await handle.stop();
    const expectedDead = cases.map((c, i) => ({ c, i })).filter(({ c }) => 'dead' in c.expect);
    const goodCases = [...cases.filter((c) => 'good' in c.expect), { label: 'after', key: after1.name, value: null, event: after1, expect: { good: true, finalPhase: 'Succeeded' } } as Case];
    for (const { name, handle, dlq } of handles) {
      const letters = await readTopicToEnd(kafka, undefined, dlq);
      const byCase = new Map(letters.map((l) => [l.headers['bad-input-case'], l]));
      const problems: string[] = [];
      for (const { c, i } of expectedDead) {
        const letter = byCase.get(String(i));
        const reasons = (c.expect as { dead: string | string[] }).dead;
        const allowed = Array.isArray(reasons) ? reasons : [reasons];
        if (!letter) {
          problems.push(`${c.label}: not dead-lettered`);
          continue;
        }
        const reason = letter.headers[DLQ_HEADERS.reason]!;
        if (!allowed.includes(reason)) problems.push(`${c.label}: reason ${reason} (expected ${allowed.join(' or ')})`);
        if (!letter.headers[DLQ_HEADERS.error]) problems.push(`${c.label}: no error text`);
        if (letter.headers[DLQ_HEADERS.processor] !== name) problems.push(`${c.label}: processor header ${letter.headers[DLQ_HEADERS.processor]}`);
        if (letter.headers[DLQ_HEADERS.topic] !== input) problems.push(`${c.label}: topic header ${letter.headers[DLQ_HEADERS.topic]}`);
        if (!(letter.raw === null ? c.value === null : c.value !== null && letter.raw.equals(c.value))) problems.push(`${c.label}: original bytes not kept`);
        if (letter.key !== c.key) problems.push(`${c.label}: key ${letter.key}`);
      }
      let eitherDead = 0;
      for (const l of letters.filter((l) => !expectedDead.some(({ i }) => String(i) === l.headers['bad-input-case']))) {
        const c = cases[Number(l.headers['bad-input-case'])];
        if (c && 'either' in c.expect) {
          eitherDead += 1;
          if (!c.expect.either.includes(l.headers[DLQ_HEADERS.reason]!)) problems.push(`${c.label}: reason ${l.headers[DLQ_HEADERS.reason]}`);
          continue;
        }
        problems.push(`${c?.label ?? l.key}: dead-lettered (${l.headers[DLQ_HEADERS.reason]}: ${l.headers[DLQ_HEADERS.error]?.slice(0, 200)}) but it is a good record`);
      }
      assert.deepEqual(problems, [], `${name} dead letters`);
      const dead = Object.values(handle.stats().deadLetters).reduce((a, b) => a + (b ?? 0), 0);
      assert.equal(dead, expectedDead.length + eitherDead, `${name} counted ${dead} dead letters`);
    }

    // completed-filter: exactly the good records in a final phase, unchanged.
    const completedExpected = goodCases.filter((c) => finalPhases.has((c.expect as { finalPhase: string }).finalPhase));
    // (A fuzzed object that is a well-formed finished workflow passes too: those are left out.)
    const isFuzz = (uid: string) => uid.startsWith('uid-fuzz-');
    const completedUids = new Set(completedExpected.map((c) => c.event!.uid));
    const completed = (await readTopicToEnd<ResourceEvent>(kafka, registry, handles[0]!.output)).filter((r) => !isFuzz(r.value!.uid));
    assert.deepEqual(completed.map((r) => r.value!.uid).sort(), [...completedUids].sort(), 'one completed record per finished workflow');
    const oddOut = completed.find((r) => r.value!.uid === odd.uid)!;
    assert.equal(oddOut.value!.name, oddName, 'odd Unicode name kept');
    assert.deepEqual(oddOut.value!.labels, oddLabels, 'odd Unicode labels kept');
    assert.equal(oddOut.key, oddName, 'odd Unicode key kept');
    assert.equal(completed.find((r) => r.value!.uid === huge1.uid)!.value!.object.length, huge1.object.length, 'the huge object passes whole');

    // workflow-summary: one summary per good record (each is a workflow of its own).
    const summaries = (await readTopicToEnd<WorkflowSummary>(kafka, registry, handles[1]!.output)).filter((r) => !isFuzz(r.value!.uid));
    const byEvent = new Map<string, ReadRecord<WorkflowSummary>[]>();
    for (const s of summaries) byEvent.set(s.value!.source.eventId, [...(byEvent.get(s.value!.source.eventId) ?? []), s]);
    for (const c of goodCases) {
      const got = byEvent.get(c.event!.id) ?? [];
      assert.equal(got.length, 1, `one summary for ${c.label}`);
      assert.equal(got[0]!.value!.phase, (c.expect as { finalPhase: string }).finalPhase, `phase of ${c.label}`);
    }
    assert.equal(summaries.length, goodCases.length);
    const oddSummary = byEvent.get(odd.id)![0]!;
    assert.equal(oddSummary.key, `bad-input/${oddName}`);
    assert.deepEqual(oddSummary.value!.labels, Object.fromEntries(Object.entries(oddLabels).sort(([a], [b]) => (a < b ? -1 : 1))));
    assert.equal(byEvent.get(eventOf(misspelt.object, 'runningg').id)![0]!.value!.completed, false, 'an unknown phase is not a completion');
  });
});

// ---- start-up: bad configuration and unreachable services ---------------------------------------

const repoRoot = join(import.meta.dirname, '..', '..');

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/** Runs `tsx cli/main.ts <args>` with only the given connection settings (no local-stack fallback). */
function cli(args: string[], env: Record<string, string>, timeoutMs: number): Promise<CliRun> {
  const began = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'cli', 'main.ts'), ...args], {
    cwd: repoRoot,
    // An empty stack dir: the CLI must not fall back to the shared stack's settings.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KUBETRAIL_STACK_DIR: emptyStackDir, LOG_LEVEL: 'warn', KUBETRAIL_HTTP_PORT: '-1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - began });
    });
  });
}

const emptyStackDir = mkdtempSync(join(tmpdir(), 'kubetrail-no-stack-'));

/** A port nothing listens on (fetch refuses port 1 itself, as a "bad port", before trying). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A kubeconfig naming an API server that is not there. */
function unreachableKubeconfig(port: number): string {
  const source = readFileSync(process.env.KUBECONFIG!, 'utf8');
  const file = join(emptyStackDir, 'unreachable-kubeconfig');
  writeFileSync(file, source.replace(/server: *https:\/\/[^\s]+/, `server: https://127.0.0.1:${port}`));
  return file;
}

describe('start-up with bad configuration or unreachable services', () => {
  const good = () => ({ KAFKA_BROKERS: connection.kafkaBrokers.join(','), SCHEMA_REGISTRY_URL: connection.schemaRegistryUrl, KUBECONFIG: process.env.KUBECONFIG! });
  const stream = uniqueName('bad-config');
  const produce = (extra: string[] = []) => ['produce', '--namespaces', stream, '--topic', `${stream}.raw`, '--state-topic', `${stream}.state`, ...extra];
  const processArgs = (extra: string[] = []) => ['process', 'completed-filter', '--input-topic', `${stream}.raw`, '--group-id', stream, ...extra];
  /**
   * Bounds: a configuration error is reported before anything connects (the time is tsx starting
   * on a busy machine); an unreachable service is given up on after the clients' retries.
   */
  const configBound = 90_000;
  const bound = 150_000;

  const cases: Array<{ what: string; args: string[]; env: () => Record<string, string>; code: 1 | 2; message: RegExp; withinMs: number }> = [
    { what: 'produce: bad broker address', args: produce(), env: () => ({ ...good(), KAFKA_BROKERS: 'localhost' }), code: 2, message: /kafkaBrokers: each broker must be host:port/, withinMs: configBound },
    { what: 'produce: malformed registry URL', args: produce(), env: () => ({ ...good(), SCHEMA_REGISTRY_URL: 'registry:8081' }), code: 2, message: /schemaRegistryUrl: must be (a|an http:\/\/ or https:\/\/) URL/, withinMs: configBound },
    { what: 'produce: unknown resource', args: produce(['--resource', 'workflowz']), env: good, code: 2, message: /has no resource 'workflowz' \(it has: [^)]*workflows/, withinMs: configBound },
    { what: 'produce: unknown API group', args: produce(['--group', 'nothing.example.com']), env: good, code: 2, message: /does not serve nothing\.example\.com\/v1alpha1/, withinMs: configBound },
    { what: 'produce: bad setting value', args: produce(['--operations', 'CREATED']), env: good, code: 2, message: /operations/, withinMs: configBound },
    { what: 'process: bad broker address', args: processArgs(), env: () => ({ ...good(), KAFKA_BROKERS: 'kafka:port' }), code: 2, message: /kafkaBrokers: each broker must be host:port/, withinMs: configBound },
    { what: 'process: malformed registry URL', args: processArgs(), env: () => ({ ...good(), SCHEMA_REGISTRY_URL: '::not a url' }), code: 2, message: /schemaRegistryUrl: must be (a|an http:\/\/ or https:\/\/) URL/, withinMs: configBound },
    { what: 'process: unknown processor', args: ['process', 'no-such-processor'], env: good, code: 2, message: /no processor 'no-such-processor'.*available: .*completed-filter/, withinMs: configBound },
    { what: 'produce: Kafka unreachable', args: produce(), env: () => ({ ...good(), KAFKA_BROKERS: '127.0.0.1:1' }), code: 1, message: /ECONNREFUSED 127\.0\.0\.1:1/, withinMs: bound },
    { what: 'produce: registry unreachable', args: produce(), env: () => ({ ...good(), SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1/apis/ccompat/v7' }), code: 1, message: /ECONNREFUSED 127\.0\.0\.1:1/, withinMs: bound },
    { what: 'produce: API server unreachable', args: produce(), env: () => ({ ...good(), KUBECONFIG: unreachableKubeconfig(noApiServerPort) }), code: 1, message: /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+: request to https:\/\/127\.0\.0\.1:\d+\/apis\/argoproj\.io\/v1alpha1 failed, reason: connect ECONNREFUSED/, withinMs: bound },
    { what: 'process: Kafka unreachable', args: processArgs(), env: () => ({ ...good(), KAFKA_BROKERS: '127.0.0.1:1' }), code: 1, message: /ECONNREFUSED 127\.0\.0\.1:1/, withinMs: bound },
  ];

  let noApiServerPort = 0;
  before(async () => {
    noApiServerPort = await closedPort();
  });

  it('says what is wrong and exits with 2 for bad configuration, 1 for an unreachable service, in bounded time', { timeout: 300_000 }, async () => {
    // The unreachable ones all at once (they spend their time waiting); the others two at a time
    // beside them (starting tsx is what takes their time, and CPU is short on a busy machine).
    const runs: CliRun[] = new Array(cases.length);
    const slow = cases.map((c, i) => ({ c, i })).filter(({ c }) => c.code === 1);
    const quick = cases.map((c, i) => ({ c, i })).filter(({ c }) => c.code === 2);
    const lane = async () => {
      for (let next = quick.shift(); next; next = quick.shift()) runs[next.i] = await cli(next.c.args, next.c.env(), next.c.withinMs + 20_000);
    };
    await Promise.all([...slow.map(async ({ c, i }) => void (runs[i] = await cli(c.args, c.env(), c.withinMs + 20_000))), lane(), lane()]);
    const problems: string[] = [];
    const timings: string[] = [];
    for (const [i, c] of cases.entries()) {
      const run = runs[i]!;
      const output = run.stderr + run.stdout;
      const said = (run.stderr.trim().split('\n').filter((l) => !l.startsWith('{')).pop() ?? run.stderr.trim().split('\n').pop() ?? '').slice(0, 160);
      timings.push(`${c.what}: exit ${run.code ?? run.signal} in ${(run.ms / 1000).toFixed(1)} s: ${said}`);
      if (run.code !== c.code) problems.push(`${c.what}: exit ${run.code ?? run.signal}, expected ${c.code}; output:\n${output.slice(-1500)}`);
      else if (!c.message.test(output)) problems.push(`${c.what}: output does not match ${c.message}:\n${output.slice(-1500)}`);
      if (run.ms > c.withinMs) problems.push(`${c.what}: took ${(run.ms / 1000).toFixed(1)} s (bound ${c.withinMs / 1000} s)`);
    }
    process.stdout.write(`[bad-input] start-up failures:\n  ${timings.join('\n  ')}\n`);
    assert.deepEqual(problems, []);
  });
});
