// The workflow-summary logic: building a WorkflowSummary from a raw event, and deciding whether it
// differs enough from the last one emitted for that workflow to be worth emitting.
import { createHash } from 'node:crypto';
import {
  failurePhases,
  finalPhases,
  isJsonObject,
  nodesForFailures,
  readWorkflow,
  stringOrNull,
  timeMillis,
  workflowPhase,
  type JsonObject,
} from '../../lib/argo-workflow.js';
import type { KeyValueStore } from '../../lib/kit/processor.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import type { FailedStep, WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import type { WorkflowSummaryState } from '../../schemas/generated/workflow-summary-state.js';

export interface WorkflowSummaryOptions {
  /** Label keys copied into the summary; when empty, every label outside workflows.argoproj.io/. */
  labels: string[];
}

export const defaultWorkflowSummaryOptions: WorkflowSummaryOptions = { labels: [] };

const argoLabelPrefix = 'workflows.argoproj.io/';
const creatorLabel = 'workflows.argoproj.io/creator';
const workflowTemplateLabel = 'workflows.argoproj.io/workflow-template';
const clusterWorkflowTemplateLabel = 'workflows.argoproj.io/cluster-workflow-template';

/**
 * Node types that only group other nodes: their failure is normally a child's, propagated up, so
 * they count as a failed step only when no child and no node inside their boundary failed.
 */
const structuralNodeTypes: ReadonlySet<string> = new Set(['DAG', 'Steps', 'StepGroup', 'TaskGroup', 'Retry']);

/** Argo writes outputs.exitCode as a string ("1"); a number is accepted too. */
export function parseExitCode(value: unknown): number | null {
  const code = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(code) && code >= -2147483648 && code <= 2147483647 ? code : null;
}

const isFailedNode = (node: unknown): node is JsonObject => isJsonObject(node) && typeof node.phase === 'string' && failurePhases.has(node.phase);

/**
 * The failed steps of status.nodes, in one pass over the nodes plus one over the children of failed
 * structural nodes (linear in the size of the map). Pod-like nodes (Pod, Container, HTTP, Plugin,
 * Suspend, unknown or missing type) always count; structural ones only when nothing under them
 * failed, so a DAG → Retry → Pod chain gives the pods, but a DAG failed on its own (a deadline, a
 * bad `depends`) is not lost.
 */
export function failedSteps(nodes: unknown): FailedStep[] {
  if (!isJsonObject(nodes)) return [];
  const failed: Array<[string, JsonObject]> = [];
  // Structural nodes whose failure comes from a node inside them.
  const explained = new Set<string>();
  for (const key in nodes) {
    const node = nodes[key];
    if (!isFailedNode(node)) continue;
    failed.push([key, node]);
    if (typeof node.boundaryID === 'string') explained.add(node.boundaryID);
  }
  const steps: FailedStep[] = [];
  for (const [key, node] of failed) {
    const nodeId = typeof node.id === 'string' && node.id !== '' ? node.id : key;
    const type = stringOrNull(node.type);
    if (type !== null && structuralNodeTypes.has(type)) {
      if (explained.has(nodeId) || explained.has(key)) continue;
      const children = Array.isArray(node.children) ? node.children : [];
      if (children.some((child) => typeof child === 'string' && isFailedNode(nodes[child]))) continue;
    }
    const outputs = isJsonObject(node.outputs) ? node.outputs : {};
    steps.push({
      nodeId,
      name: typeof node.name === 'string' ? node.name : nodeId,
      displayName: stringOrNull(node.displayName),
      templateName: stringOrNull(node.templateName),
      type,
      phase: node.phase as string,
      message: stringOrNull(node.message),
      exitCode: parseExitCode(outputs.exitCode),
      startedAt: timeMillis(node.startedAt),
      finishedAt: timeMillis(node.finishedAt),
    });
  }
  // Node ids are unique, so this order does not depend on the order of the JSON map.
  return steps.sort(
    (a, b) => (a.startedAt ?? Infinity) - (b.startedAt ?? Infinity) || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0),
  );
}

function selectLabels(labels: Record<string, string>, keys: readonly string[]): Record<string, string> {
  const selected: Record<string, string> = {};
  if (keys.length > 0) {
    for (const key of keys) {
      const value = labels[key];
      if (value !== undefined) selected[key] = value;
    }
  } else {
    for (const key of Object.keys(labels).sort()) if (!key.startsWith(argoLabelPrefix)) selected[key] = labels[key] as string;
  }
  return selected;
}

/** The summary of the workflow in a raw event. Throws NotAWorkflowError when it is not a workflow. */
export function summarize(event: ResourceEvent, options: WorkflowSummaryOptions): WorkflowSummary {
  const workflow = readWorkflow(event);
  const { metadata, status, spec } = workflow;
  const labels = event.labels;
  const phase = workflowPhase(workflow, event);
  const startedAt = timeMillis(status.startedAt);
  const finishedAt = timeMillis(status.finishedAt);
  const templateRef = isJsonObject(spec.workflowTemplateRef) ? spec.workflowTemplateRef : {};
  return {
    namespace: event.namespace ?? stringOrNull(metadata.namespace) ?? '',
    name: event.name !== '' ? event.name : (metadata.name as string),
    uid: event.uid,
    phase,
    completed: finalPhases.has(phase),
    deleted: event.operation === 'DELETED',
    message: stringOrNull(status.message),
    progress: stringOrNull(status.progress),
    startedAt,
    finishedAt,
    durationMs: startedAt !== null && finishedAt !== null && finishedAt >= startedAt ? finishedAt - startedAt : null,
    failedSteps: failedSteps(nodesForFailures(workflow)),
    workflowTemplate: stringOrNull(templateRef.name) ?? labels[workflowTemplateLabel] ?? labels[clusterWorkflowTemplateLabel] ?? null,
    creator: labels[creatorLabel] ?? null,
    labels: selectLabels(labels, options.labels),
    source: {
      eventId: event.id,
      operation: event.operation,
      resourceVersion: event.resourceVersion,
      observedAt: event.source.observedAt,
      cluster: event.source.cluster,
      trimmed: [...event.trimmed],
    },
  };
}

/** What makes a summary worth emitting again; timings and labels follow from these or do not matter. */
export function fingerprint(summary: WorkflowSummary): string {
  const meaningful = [
    summary.uid,
    summary.phase,
    summary.progress,
    summary.message,
    summary.completed,
    summary.deleted,
    summary.failedSteps.map((s) => [s.nodeId, s.phase, s.message, s.exitCode]),
  ];
  return createHash('sha256').update(JSON.stringify(meaningful)).digest('hex');
}

export function summaryKey(summary: Pick<WorkflowSummary, 'namespace' | 'name'>): string {
  return `${summary.namespace}/${summary.name}`;
}

/**
 * The summary to emit for this event, or null when it would say nothing new. State (keyed
 * namespace/name) keeps the fingerprint of the last summary emitted. A deletion always emits
 * (deleted = true) and then drops the state: the workflow's story is over, and keeping an entry
 * per deleted workflow would grow the store without end. A second DELETED for it (a deletion
 * inferred after a relist) then emits the same deleted summary again, which a compacted topic
 * absorbs.
 */
export function nextSummary(event: ResourceEvent, state: KeyValueStore<WorkflowSummaryState>, options: WorkflowSummaryOptions): WorkflowSummary | null {
  const summary = summarize(event, options);
  const key = summaryKey(summary);
  if (summary.deleted) {
    if (state.get(key) !== undefined) state.delete(key);
    return summary;
  }
  const print = fingerprint(summary);
  if (state.get(key)?.fingerprint === print) return null;
  state.put(key, { uid: summary.uid, fingerprint: print });
  return summary;
}
