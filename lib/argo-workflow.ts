// Reading Argo Workflow objects out of raw events, shared by the workflow processors. The object
// is untyped JSON from the API server: every field is checked before use, and anything missing
// reads as null rather than failing, except what makes it a workflow at all.
import { parseObject, type ResourceEvent } from './raw-event.js';
import { membersContaining, unparsedMember, type LazyPaths } from './lazy-json.js';

export const phaseLabel = 'workflows.argoproj.io/phase';
export const completedLabel = 'workflows.argoproj.io/completed';

/** Phases after which Argo does not run the workflow any more (wfv1.WorkflowPhase.Completed()). */
export const finalPhases: ReadonlySet<string> = new Set(['Succeeded', 'Failed', 'Error']);
/** Final phases that are a failure. */
export const failurePhases: ReadonlySet<string> = new Set(['Failed', 'Error']);

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** An RFC 3339 time (Kubernetes' metav1.Time) in milliseconds since the epoch; null when absent or unreadable. */
export function timeMillis(value: unknown): number | null {
  if (typeof value !== 'string' || value === '') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

export class NotAWorkflowError extends Error {
  override name = 'NotAWorkflowError';
}

export interface WorkflowView {
  /** The whole parsed object. */
  object: JsonObject;
  metadata: JsonObject;
  /** status, or an empty object when the workflow has none yet. */
  status: JsonObject;
  spec: JsonObject;
}

/**
 * The bulk of a workflow (status.nodes alone is most of it), parsed only when read: the workflow
 * processors here read none of it whole, and nodes only to find failed ones (nodesForFailures).
 */
export const bulkyMembers: LazyPaths = {
  metadata: { managedFields: true },
  spec: { templates: true },
  status: { nodes: true, storedTemplates: true, storedWorkflowTemplateSpec: true },
};

/**
 * The event's object as a workflow, its bulky members parsed when first read. Throws
 * NotAWorkflowError (the runner dead-letters the record) when it is not one: kind other than
 * Workflow, or no metadata with a name. Objects from a list may lack kind; the event's
 * resource.kind stands in for it then.
 */
export function readWorkflow(event: ResourceEvent): WorkflowView {
  const object = parseObject(event, bulkyMembers);
  const kind = typeof object.kind === 'string' && object.kind !== '' ? object.kind : event.resource.kind;
  if (kind !== 'Workflow') {
    throw new NotAWorkflowError(`event ${event.id}: expected an Argo Workflow, got kind ${JSON.stringify(kind)} (${event.resource.group}/${event.resource.resource})`);
  }
  const metadata = object.metadata;
  if (!isJsonObject(metadata) || typeof metadata.name !== 'string' || metadata.name === '') {
    throw new NotAWorkflowError(`event ${event.id}: Workflow object without metadata.name`);
  }
  return {
    object,
    metadata,
    status: isJsonObject(object.status) ? object.status : {},
    spec: isJsonObject(object.spec) ? object.spec : {},
  };
}

/**
 * The workflow's phase: status.phase. Argo's controller decides the phase there and writes the
 * workflows.argoproj.io/phase and /completed labels from it afterwards, so a label that disagrees
 * is stale (a workflow retried with `argo retry` goes back to Running while keeping
 * completed=true) or was set by hand, and never overrides it. The phase label stands in only when
 * the producer trimmed status (or status.phase) away to fit the topic; the completed label is
 * never used. Unknown phases (a newer Argo's, or the misspelt "Runningg" of the fixtures) pass
 * through unchanged. Empty when the controller has not set a phase yet.
 */
export function workflowPhase(view: WorkflowView, event: Pick<ResourceEvent, 'labels' | 'trimmed'>): string {
  const phase = view.status.phase;
  if (typeof phase === 'string' && phase !== '') return phase;
  const statusTrimmed = event.trimmed.some((path) => path === 'status' || path === 'status.phase');
  return statusTrimmed ? (event.labels[phaseLabel] ?? '') : '';
}

/**
 * Each failure phase as the end of a JSON string: `Failed"` rather than `"Failed"`, because a
 * search for text that starts with a quote stops at every quote of the nodes' text.
 */
const failurePhaseEnds = [...failurePhases].map((phase) => `${phase}"`);

/**
 * The nodes of status.nodes that may have failed, to look for failed steps in: those whose text
 * holds a failure phase, parsed; the others, most of the workflow's bytes, stay unparsed. Every
 * failed node is among them, so a search of failed nodes finds the same in them as in all nodes.
 * All of status.nodes, parsed, when a \u escape could spell a phase, when more than a few nodes
 * may have failed, when one of them has a key that repeats or the text has any backslash
 * (membersContaining), or when it was read already.
 */
export function nodesForFailures(view: WorkflowView): unknown {
  const text = unparsedMember(view.status, 'nodes');
  if (text === undefined || text.includes('\\u')) return view.status.nodes;
  return membersContaining(view.status, 'nodes', failurePhaseEnds) ?? view.status.nodes;
}
