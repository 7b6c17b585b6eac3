// The shape of every fault scenario: start the pipeline (a producer, both processors), drive a
// stream of workflows while `inject` does harm, make sure everything runs again, then check the
// topics (verify.ts), print the scenario's summary line and assert nothing was lost or doubled.
import assert from 'node:assert/strict';
import { buildScripts, Driver, scenarioSeed, seededRandom, type DrivenWorkflow } from './driver.js';
import { Pipeline, processorKinds, sleep } from './pipeline.js';
import type { FaultsStack } from './stack.js';
import { collectAndVerify, countKinds, explain, report, type ScenarioResult, type Verdict } from './verify.js';

export interface ScenarioOptions {
  workflows: number;
  concurrency: number;
  stepDelayMs: [number, number];
  maxBatchRecords?: number;
  producerExtra?: Record<string, string>;
  /** Start the pipeline before driving: true (default) for two producers and two instances of each processor, or a function that starts it its own way. */
  start?: boolean | ((pipeline: Pipeline) => Promise<void>);
  verifyTimeoutMs?: number;
  /**
   * The scenario compacts etcd under the producer: relists (READ records) and superseded changes
   * are allowed (otherwise both must be 0), and no workflow is deleted: one created and deleted
   * while no watch runs is invisible to any list+watch client.
   */
  relists?: boolean;
  /** Producers and live instances of each processor at the start (default 2 and 2). */
  producers?: number;
  instances?: number;
}

export interface ScenarioContext {
  pipeline: Pipeline;
  driver: Driver;
  random: () => number;
  env: FaultsStack;
  /** Resolves when the driver has written every change. */
  driven: Promise<void>;
}

export interface ScenarioOutcome {
  result: ScenarioResult;
  verdict: Verdict;
  workflows: DrivenWorkflow[];
  pipeline: Pipeline;
}

/** Every check of a verdict; `relists` allows READ records and superseded changes (a scenario that compacts etcd). */
export function assertVerdict(verdict: Verdict, { relists }: { relists: boolean }, details: string): void {
  assert.ok(verdict.complete, `not every final state arrived, or the processors did not commit to the end of the raw topic:\n${details}`);
  assert.equal(verdict.lost, 0, `records lost:\n${details}`);
  assert.equal(verdict.duplicated, 0, `records duplicated:\n${details}`);
  assert.equal(verdict.outOfOrder, 0, `records out of order:\n${details}`);
  assert.deepEqual(verdict.raw.phantoms, [], `versions never written on the raw topic:\n${details}`);
  for (const kind of processorKinds) assert.deepEqual(verdict.outputs[kind].unexpected, [], `${kind} wrote records no input explains:\n${details}`);
  assert.deepEqual(verdict.completed.spurious, [], `completed records of unfinished workflows:\n${details}`);
  assert.deepEqual(verdict.completed.wrongPhase, [], `completed records with the wrong phase:\n${details}`);
  assert.equal(verdict.deadLetters, 0, `dead letters:\n${details}`);
  if (!relists) {
    assert.equal(verdict.raw.reads, 0, `READ records (a relist) in a scenario without a compaction:\n${details}`);
    assert.equal(verdict.raw.superseded, 0, `superseded changes in a scenario without a compaction:\n${details}`);
  }
}

/** A random moment in [min, max] ms. */
export const randomDelay = (random: () => number, min: number, max: number) => sleep(min + random() * (max - min));

export async function runScenario(
  env: FaultsStack,
  scenario: string,
  options: ScenarioOptions,
  inject: (ctx: ScenarioContext) => Promise<void>,
): Promise<ScenarioOutcome> {
  const began = Date.now();
  const seed = scenarioSeed();
  const random = seededRandom(seed);
  const pipeline = new Pipeline(env, scenario, { maxBatchRecords: options.maxBatchRecords, producerExtra: options.producerExtra });
  try {
    await env.stack().up();
    if (typeof options.start === 'function') await options.start(pipeline);
    else if (options.start ?? true) await pipeline.start({ producers: options.producers, instances: options.instances });
    const driver = new Driver(pipeline.sim, buildScripts(pipeline.namespace, options.workflows, random), !options.relists);
    const driven = driver.run({ concurrency: options.concurrency, stepDelayMs: options.stepDelayMs, random });
    driven.catch(() => undefined);
    await Promise.all([driven, inject({ pipeline, driver, random, env, driven })]);

    // Whatever the faults left down runs again before the check.
    await env.stack().up();
    await pipeline.ensureRunning();

    const verdict = await collectAndVerify(pipeline, driver.workflows, { timeoutMs: options.verifyTimeoutMs ?? 120_000 });
    const recovered = Date.now();
    const result: ScenarioResult = {
      scenario,
      workflows: driver.workflows.length,
      changes: verdict.changes,
      faults: pipeline.faults.length,
      faultKinds: countKinds(pipeline.faults),
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      outOfOrder: verdict.outOfOrder,
      superseded: verdict.raw.superseded,
      reads: verdict.raw.reads,
      deadLetters: verdict.deadLetters,
      completed: verdict.completed.found,
      summaries: verdict.outputs['workflow-summary'].found,
      recoverySeconds: pipeline.lastFaultAt ? Math.max(0, (verdict.completeAt - pipeline.lastFaultAt) / 1000) : 0,
      seconds: (recovered - began) / 1000,
      seed,
    };
    report(result);
    const details = `${explain(verdict)}\nseed ${seed} (KUBETRAIL_FAULTS_SEED=${seed} replays the same stream)\nwhole logs: ${pipeline.saveLogs()}\n${pipeline.logs()}`;
    assert.ok(verdict.complete, `not every final state arrived:\n${details}`);
    assertVerdict(verdict, { relists: options.relists ?? false }, details);
    return { result, verdict, workflows: driver.workflows, pipeline };
  } finally {
    await pipeline.shutdown();
  }
}
