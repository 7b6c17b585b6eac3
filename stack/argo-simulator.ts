// Plays a Workflow's life through the Kubernetes API the way Argo's controller writes it: created
// without status, then Running with nodes appearing and finishing one by one, then the final
// status of a real Argo object (phase, message, nodes with exit codes, the completed/phase
// labels). Used by the demo, the fault suite and the benchmarks: real writes to a real API server.
import { CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

export const workflowResource = { group: 'argoproj.io', version: 'v1alpha1', plural: 'workflows' } as const;

type Json = Record<string, unknown>;

export interface WorkflowStep {
  /** Merge patch applied to the workflow (null for the create step, which writes `create`). */
  patch: Json;
  /** What this step is, for logs: "created", "node x Running", "Succeeded". */
  describe: string;
}

export interface WorkflowScript {
  namespace: string;
  name: string;
  create: Json;
  steps: WorkflowStep[];
  /** Final status.phase the script ends in. */
  finalPhase: string;
}

const nodeOrder = (a: Json, b: Json) =>
  String(a.startedAt ?? '').localeCompare(String(b.startedAt ?? '')) || String(a.id ?? '').localeCompare(String(b.id ?? ''));

/**
 * A script from a real Argo object: its spec and final status, replayed as the controller would
 * have written it. Only leaf nodes (pods) are shown progressing; container nodes (DAG, Steps,
 * StepGroup, Retry) appear with the final status.
 */
export function scriptFromWorkflow(
  fixture: Json,
  options: { namespace: string; name: string; labels?: Record<string, string>; maxNodeSteps?: number },
): WorkflowScript {
  const metadata = (fixture.metadata ?? {}) as Json;
  const status = (fixture.status ?? {}) as Json;
  const finalPhase = typeof status.phase === 'string' ? status.phase : 'Pending';
  const labels = { ...((metadata.labels as Record<string, string>) ?? {}), ...options.labels };
  delete labels['workflows.argoproj.io/completed'];
  delete labels['workflows.argoproj.io/phase'];
  const create: Json = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: options.name, namespace: options.namespace, labels, annotations: metadata.annotations ?? {} },
    spec: fixture.spec ?? {},
  };
  const nodes = Object.values((status.nodes ?? {}) as Record<string, Json>);
  const leaves = nodes.filter((n) => n.type === 'Pod' || n.type === 'Container').sort(nodeOrder);
  const shown = leaves.slice(0, options.maxNodeSteps ?? 6);
  const total = leaves.length;
  const steps: WorkflowStep[] = [];
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  steps.push({
    describe: 'Running',
    patch: {
      metadata: { labels: { 'workflows.argoproj.io/phase': 'Running' } },
      status: { phase: 'Running', startedAt: now(), progress: `0/${total}`, nodes: {} },
    },
  });
  let done = 0;
  for (const node of shown) {
    const id = String(node.id);
    steps.push({
      describe: `node ${String(node.displayName ?? id)} Running`,
      patch: { status: { nodes: { [id]: { ...node, phase: 'Running', finishedAt: null, outputs: null, message: null } } } },
    });
    done += 1;
    steps.push({
      describe: `node ${String(node.displayName ?? id)} ${String(node.phase)}`,
      patch: { status: { progress: `${done}/${total}`, nodes: { [id]: node } } },
    });
  }
  const finalLabels: Json = { 'workflows.argoproj.io/phase': finalPhase };
  if (['Succeeded', 'Failed', 'Error'].includes(finalPhase)) finalLabels['workflows.argoproj.io/completed'] = 'true';
  steps.push({ describe: finalPhase, patch: { metadata: { labels: finalLabels }, status } });
  return { namespace: options.namespace, name: options.name, create, steps, finalPhase };
}

/** A workflow with no life yet: created with a spec and labels, and no steps to play. */
export function bareWorkflow(namespace: string, name: string, labels: Record<string, string> = { 'track-me': 'true' }): WorkflowScript {
  return {
    namespace,
    name,
    create: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name, namespace, labels }, spec: { entrypoint: 'main' } },
    steps: [],
    finalPhase: 'Pending',
  };
}

/** Creates a namespace; one that already exists (409 Conflict) is as good. */
export async function ensureNamespace(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
}

export class ArgoSimulator {
  readonly api: CustomObjectsApi;
  private readonly core: CoreV1Api;
  /** Namespaces this simulator has made sure exist (each created at most once). */
  private readonly namespaces = new Map<string, Promise<void>>();

  constructor(kubeconfig: KubeConfig) {
    this.api = kubeconfig.makeApiClient(CustomObjectsApi);
    this.core = kubeconfig.makeApiClient(CoreV1Api);
  }

  /**
   * Creates the namespace unless it exists: the API server's NamespaceLifecycle admission refuses
   * objects in a namespace that does not exist, as on any cluster.
   */
  ensureNamespace(name: string): Promise<void> {
    let ensured = this.namespaces.get(name);
    if (!ensured) {
      ensured = ensureNamespace(this.core, name);
      ensured.catch(() => this.namespaces.delete(name));
      this.namespaces.set(name, ensured);
    }
    return ensured;
  }

  async create(script: WorkflowScript): Promise<Json> {
    await this.ensureNamespace(script.namespace);
    return (await this.api.createNamespacedCustomObject({
      ...workflowResource,
      namespace: script.namespace,
      body: script.create,
    })) as Json;
  }

  async patch(namespace: string, name: string, patch: Json): Promise<Json> {
    return (await this.api.patchNamespacedCustomObject(
      { ...workflowResource, namespace, name, body: patch },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Json;
  }

  async delete(namespace: string, name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({ ...workflowResource, namespace, name });
  }

  /** Creates the workflow and applies every step, waiting `stepDelayMs` between writes. */
  async play(script: WorkflowScript, options: { stepDelayMs?: number; onStep?: (step: WorkflowStep) => void } = {}): Promise<Json> {
    let last = await this.create(script);
    options.onStep?.({ describe: 'created', patch: {} });
    for (const step of script.steps) {
      if (options.stepDelayMs) await new Promise((r) => setTimeout(r, options.stepDelayMs));
      last = await this.patch(script.namespace, script.name, step.patch);
      options.onStep?.(step);
    }
    return last;
  }
}
