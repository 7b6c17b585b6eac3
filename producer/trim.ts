// The trimming rule for objects too large for one Kafka record. Each step removes more and is
// tried only when the previous one was not enough; the record says what was removed
// (ResourceEvent.trimmed, and the kubetrail-trimmed header). A record is never dropped: the last
// step leaves only identifying metadata, which always fits (Kubernetes caps names at 253 bytes).
//
//   1. status.nodes                      (Argo: one entry per pod/step; what makes workflows huge)
//   2. metadata.managedFields            (server-side apply bookkeeping; large on much-edited objects)
//   3. a summary: status keeps only phase, message, startedAt, finishedAt, progress,
//      estimatedDuration; spec keeps only its scalar fields (entrypoint, serviceAccountName,
//      activeDeadlineSeconds…: templates, arguments, volumes… go); metadata.annotations go;
//      any other top-level field (data, rules…) goes
//   4. identity only: apiVersion, kind, metadata.{name, namespace, uid, resourceVersion,
//      generation, creationTimestamp, deletionTimestamp, labels} and status.phase
//   5. metadata.labels too (the record's labels field is emptied as well)
//
// `trimmed` lists every JSON path removed, in the order removed (status.nodes, then spec.templates…).

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface TrimResult {
  objectJson: string;
  /** Every path removed so far. */
  trimmed: string[];
  /** True once metadata.labels was removed (the record's labels field must be emptied too). */
  labelsRemoved: boolean;
  step: number;
}

const summaryStatusKeys = new Set(['phase', 'message', 'startedAt', 'finishedAt', 'progress', 'estimatedDuration']);
const identityMetadataKeys = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'labels']);
const topLevelKeys = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

const isScalar = (value: unknown) => value === null || ['string', 'number', 'boolean'].includes(typeof value);

function removeKeys(parent: Json, prefix: string, keep: (key: string, value: unknown) => boolean): string[] {
  const removed: string[] = [];
  for (const [key, value] of Object.entries(parent)) {
    if (!keep(key, value)) {
      delete parent[key];
      removed.push(`${prefix}${key}`);
    }
  }
  return removed;
}

/** The steps, each mutating the object and returning the paths it removed. */
export const trimSteps: Array<(object: Json) => string[]> = [
  (o) => {
    if (!isObject(o.status) || o.status.nodes === undefined) return [];
    delete o.status.nodes;
    return ['status.nodes'];
  },
  (o) => {
    if (!isObject(o.metadata) || o.metadata.managedFields === undefined) return [];
    delete o.metadata.managedFields;
    return ['metadata.managedFields'];
  },
  (o) => {
    const removed = removeKeys(o, '', (key) => topLevelKeys.has(key));
    if (isObject(o.status)) removed.push(...removeKeys(o.status, 'status.', (key) => summaryStatusKeys.has(key)));
    else if (o.status !== undefined) removed.push(...removeKeys(o, '', (key) => key !== 'status'));
    if (isObject(o.spec)) removed.push(...removeKeys(o.spec, 'spec.', (_key, value) => isScalar(value)));
    else if (o.spec !== undefined) removed.push(...removeKeys(o, '', (key) => key !== 'spec'));
    if (isObject(o.metadata) && o.metadata.annotations !== undefined) {
      delete o.metadata.annotations;
      removed.push('metadata.annotations');
    }
    return removed;
  },
  (o) => {
    const removed: string[] = [];
    if (isObject(o.metadata)) removed.push(...removeKeys(o.metadata, 'metadata.', (key) => identityMetadataKeys.has(key)));
    if (o.spec !== undefined) {
      delete o.spec;
      removed.push('spec');
    }
    if (isObject(o.status)) removed.push(...removeKeys(o.status, 'status.', (key, value) => key === 'phase' && typeof value === 'string' && value.length <= 256));
    return removed;
  },
  (o) => {
    if (!isObject(o.metadata) || o.metadata.labels === undefined) return [];
    delete o.metadata.labels;
    return ['metadata.labels'];
  },
];

/**
 * Ever smaller versions of the object, one per step that removed something, cumulative. The
 * caller takes the first that fits. The input text is parsed once.
 */
export function* trimmedVersions(objectJson: string): Generator<TrimResult> {
  const parsed: unknown = JSON.parse(objectJson);
  if (!isObject(parsed)) return;
  const trimmed: string[] = [];
  let labelsRemoved = false;
  for (const [index, step] of trimSteps.entries()) {
    const removed = step(parsed);
    if (removed.length === 0) continue;
    trimmed.push(...removed);
    if (removed.includes('metadata.labels')) labelsRemoved = true;
    yield { objectJson: JSON.stringify(parsed), trimmed: [...trimmed], labelsRemoved, step: index + 1 };
  }
}
