// Drives a stream of workflow changes with known final states through the API server: real Argo
// workflows of test/fixtures played by stack/argo-simulator.ts's scripts, many at once. Every
// resourceVersion the API server answers with is recorded: that is what the raw topic must hold.
// Writes are retried while the API server is away (a restart): a merge patch applied twice is a
// no-op the second time (same resourceVersion), a create that did land answers 409 and is read back.
import { scriptFromWorkflow, type ArgoSimulator, type WorkflowScript } from '../../../stack/argo-simulator.js';
import { finalPhases } from '../../../lib/argo-workflow.js';
import { loadWorkflow, workflowFixtureNames } from '../../fixtures/workflows.js';
import { sleep } from './pipeline.js';

type Json = Record<string, unknown>;

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function scenarioSeed(): number {
  const fixed = process.env.KUBETRAIL_FAULTS_SEED;
  return fixed ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
}

export interface DrivenWorkflow {
  name: string;
  namespace: string;
  fixture: string;
  finalPhase: string;
  uid: string | undefined;
  /** Distinct resourceVersions the API server answered with, in order. */
  versions: string[];
  /** Deleted after its last step (one workflow in four): the raw topic must end it with one DELETED. */
  deletes: boolean;
  deleted: boolean;
  done: boolean;
}

const stringValues = (value: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (value && typeof value === 'object') for (const [k, v] of Object.entries(value as Json)) out[k] = String(v);
  return out;
};

/** The fixtures, split by whether their status ends in a final phase. */
export function fixturesByOutcome(): { final: string[]; other: string[] } {
  const final: string[] = [];
  const other: string[] = [];
  for (const name of workflowFixtureNames()) {
    const phase = (loadWorkflow(name).status as Json | undefined)?.phase;
    (typeof phase === 'string' && finalPhases.has(phase) ? final : other).push(name);
  }
  return { final, other };
}

/** `count` scripts in `namespace`: two of three end in a final phase (Succeeded, Failed, Error), the others Running (or the fixtures' "Runningg"). */
export function buildScripts(namespace: string, count: number, random: () => number, maxNodeSteps = 4): Array<{ fixture: string; script: WorkflowScript }> {
  const { final, other } = fixturesByOutcome();
  const pick = (list: string[]) => list[Math.floor(random() * list.length)]!;
  const scripts: Array<{ fixture: string; script: WorkflowScript }> = [];
  for (let i = 0; i < count; i++) {
    const fixture = i % 3 === 2 ? pick(other) : pick(final);
    const stem = fixture.replace(/-[0-9a-f]{10}\.json$/, '').replace(/\.json$/, '').slice(0, 40).replace(/-+$/, '');
    const name = `w${String(i).padStart(3, '0')}-${stem}`;
    const script = scriptFromWorkflow(loadWorkflow(fixture), { namespace, name, labels: { 'track-me': 'true', 'kubetrail-faults': 'yes' }, maxNodeSteps });
    // Some fixtures came through YAML, which made label values booleans: the API server wants strings.
    const metadata = script.create.metadata as Json;
    metadata.labels = stringValues(metadata.labels);
    metadata.annotations = stringValues(metadata.annotations);
    scripts.push({ fixture, script });
  }
  return scripts;
}

const statusOf = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** Retries a write while the API server is away (connection errors, 5xx, 429, a route not served yet), up to `timeoutMs`. */
async function retrying<T>(what: string, write: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 200;
  for (;;) {
    try {
      return await write();
    } catch (error) {
      const status = statusOf(error);
      // A plain-text "404 page not found" (not a Status object) comes from an API server that has
      // just started and serves the group's discovery before the resource's handler.
      const body = (error as { body?: unknown } | null)?.body;
      const starting = status === 404 && typeof body === 'string' && body.includes('page not found');
      const retriable = status === undefined || status >= 500 || status === 429 || starting;
      if (!retriable || Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`, { cause: error });
      await sleep(delay);
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

export interface DriveOptions {
  /** Workflows played at the same time. */
  concurrency: number;
  /** Pause before each write, drawn uniformly from [min, max] ms. */
  stepDelayMs: [number, number];
  random: () => number;
}

export class Driver {
  readonly workflows: DrivenWorkflow[];
  readonly plannedWrites: number;
  writes = 0;
  private progressWaiters: Array<{ fraction: number; resolve: () => void }> = [];
  startedAt = 0;
  finishedAt = 0;

  constructor(
    private readonly sim: ArgoSimulator,
    private readonly scripts: Array<{ fixture: string; script: WorkflowScript }>,
    /** Delete one workflow in four after its last step (off where no watch may run for a while: see docs/faults.md). */
    deletes = true,
  ) {
    this.workflows = scripts.map(({ fixture, script }) => ({
      name: script.name,
      namespace: script.namespace,
      fixture,
      finalPhase: script.finalPhase,
      uid: undefined,
      versions: [],
      deletes: false,
      deleted: false,
      done: false,
    }));
    this.workflows.forEach((w, i) => (w.deletes = deletes && i % 4 === 1));
    this.plannedWrites = scripts.reduce((n, { script }, i) => n + 1 + script.steps.length + (this.workflows[i]!.deletes ? 1 : 0), 0);
  }

  /** Changes driven: distinct resourceVersions written. */
  get changes(): number {
    return this.workflows.reduce((n, w) => n + w.versions.length, 0);
  }

  get progress(): number {
    return this.writes / this.plannedWrites;
  }

  /** Resolves once this fraction of the planned writes is done. */
  whenProgress(fraction: number): Promise<void> {
    if (this.progress >= fraction) return Promise.resolve();
    return new Promise((resolve) => this.progressWaiters.push({ fraction, resolve }));
  }

  private record(workflow: DrivenWorkflow, object: Json) {
    const metadata = (object.metadata ?? {}) as Json;
    const rv = metadata.resourceVersion;
    if (typeof metadata.uid === 'string') workflow.uid ??= metadata.uid;
    if (typeof rv === 'string' && workflow.versions[workflow.versions.length - 1] !== rv) workflow.versions.push(rv);
    this.writes += 1;
    this.wake();
  }

  private wake() {
    const ready = this.progressWaiters.filter((w) => this.progress >= w.fraction);
    this.progressWaiters = this.progressWaiters.filter((w) => this.progress < w.fraction);
    for (const w of ready) w.resolve();
  }

  private async playOne(index: number, options: DriveOptions): Promise<void> {
    const { script } = this.scripts[index]!;
    const workflow = this.workflows[index]!;
    const pause = () => sleep(options.stepDelayMs[0] + options.random() * (options.stepDelayMs[1] - options.stepDelayMs[0]));
    await pause();
    const created = await retrying(`create ${script.name}`, async () => {
      try {
        return await this.sim.create(script);
      } catch (error) {
        // A create retried after the API server went away may have landed the first time.
        if (statusOf(error) !== 409) throw error;
        return (await this.sim.api.getNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', plural: 'workflows', namespace: script.namespace, name: script.name })) as Json;
      }
    });
    this.record(workflow, created);
    for (const step of script.steps) {
      await pause();
      this.record(workflow, await retrying(`patch ${script.name} (${step.describe})`, () => this.sim.patch(script.namespace, script.name, step.patch)));
    }
    if (workflow.deletes) {
      await pause();
      await retrying(`delete ${script.name}`, async () => {
        try {
          await this.sim.delete(script.namespace, script.name);
        } catch (error) {
          // A delete retried after the API server went away may have landed the first time.
          if (statusOf(error) !== 404) throw error;
        }
      });
      workflow.deleted = true;
      this.writes += 1;
      this.wake();
    }
    workflow.done = true;
  }

  /** Plays every script, `concurrency` at a time; resolves when all are done. */
  async run(options: DriveOptions): Promise<void> {
    this.startedAt = Date.now();
    let next = 0;
    const lane = async () => {
      while (next < this.scripts.length) {
        const index = next++;
        await this.playOne(index, options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, this.scripts.length) }, lane));
    this.finishedAt = Date.now();
    for (const w of this.progressWaiters.splice(0)) w.resolve();
  }
}
