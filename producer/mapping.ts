// From a Kubernetes object seen by the list or the watch to the raw topic's record: the
// ResourceEvent value (schemas/resource-event.avsc), the key and the headers. Pure functions.
import { changeId, type Operation, type ResourceEvent } from '../lib/raw-event.js';
import { cloudEventKafkaHeaders, resourceEventAttributes } from '../lib/cloudevents.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** What the producer keeps of an object's metadata (the object itself travels as JSON text). */
export interface ObjectMeta {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number | null;
  labels: Record<string, string>;
  creationTimestamp: number | null;
  deletionTimestamp: number | null;
}

export class BadObjectError extends Error {
  override name = 'BadObjectError';
}

function timestamp(value: unknown): number | null {
  if (typeof value !== 'string' || value === '') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** The metadata of an object as the API server sent it; throws BadObjectError when it has no name, uid or resourceVersion. */
export function metaOf(object: unknown, fallbackKind = ''): ObjectMeta {
  if (!isObject(object) || !isObject(object.metadata)) throw new BadObjectError('object without metadata');
  const m = object.metadata;
  const { name, uid, resourceVersion } = m;
  if (typeof name !== 'string' || typeof uid !== 'string' || typeof resourceVersion !== 'string' || !name || !uid || !resourceVersion) {
    throw new BadObjectError(`object without name, uid or resourceVersion (${JSON.stringify({ name, uid, resourceVersion })})`);
  }
  const labels: Record<string, string> = {};
  if (isObject(m.labels)) for (const [k, v] of Object.entries(m.labels)) if (typeof v === 'string') labels[k] = v;
  return {
    apiVersion: typeof object.apiVersion === 'string' ? object.apiVersion : '',
    kind: typeof object.kind === 'string' && object.kind ? object.kind : fallbackKind,
    namespace: typeof m.namespace === 'string' && m.namespace ? m.namespace : null,
    name,
    uid,
    resourceVersion,
    generation: typeof m.generation === 'number' && Number.isInteger(m.generation) ? m.generation : null,
    labels,
    creationTimestamp: timestamp(m.creationTimestamp),
    deletionTimestamp: timestamp(m.deletionTimestamp),
  };
}

/** What is watched, and by whom: the same for every record of a producer. */
export interface SourceContext {
  cluster: string;
  group: string;
  version: string;
  resource: string;
  /** Kind from discovery, used when an object does not say (inferred deletions). */
  kind: string;
  producer: string;
}

/**
 * The record key: `<resource>.<group>/<namespace>/<name>` (`workflows.argoproj.io/argo/my-wf`);
 * cluster-scoped objects have no namespace part, core-group resources no `.group`. Every change
 * of one object has the same key, so they stay in order on one partition, and a re-created object
 * of the same name follows its predecessor.
 */
export function recordKey(ctx: Pick<SourceContext, 'group' | 'resource'>, namespace: string | null, name: string): string {
  const type = ctx.group ? `${ctx.resource}.${ctx.group}` : ctx.resource;
  return namespace ? `${type}/${namespace}/${name}` : `${type}/${name}`;
}

export interface RecordInput {
  operation: Operation;
  meta: ObjectMeta;
  /** The object as JSON text (already redacted). */
  objectJson: string;
  trimmed?: string[];
  observedAt: number;
  inferred?: boolean;
}

export function toResourceEvent(ctx: SourceContext, input: RecordInput): ResourceEvent {
  const { meta } = input;
  return {
    id: changeId({ cluster: ctx.cluster, group: ctx.group, resource: ctx.resource, uid: meta.uid, resourceVersion: meta.resourceVersion }),
    operation: input.operation,
    resource: { group: ctx.group, version: ctx.version, resource: ctx.resource, kind: meta.kind || ctx.kind },
    namespace: meta.namespace,
    name: meta.name,
    uid: meta.uid,
    resourceVersion: meta.resourceVersion,
    generation: meta.generation,
    labels: meta.labels,
    creationTimestamp: meta.creationTimestamp,
    deletionTimestamp: meta.deletionTimestamp,
    object: input.objectJson,
    trimmed: input.trimmed ?? [],
    source: { cluster: ctx.cluster, producer: ctx.producer, observedAt: input.observedAt, inferred: input.inferred ?? false },
  };
}

/** Headers a consumer can filter on without decoding the value, CloudEvents' binary-mode ones included. */
export function recordHeaders(event: ResourceEvent, topic: string): Record<string, string> {
  const headers: Record<string, string> = { 'kubetrail-operation': event.operation, 'kubetrail-id': event.id, ...cloudEventKafkaHeaders(resourceEventAttributes(event, topic)) };
  if (event.source.inferred) headers['kubetrail-inferred'] = 'true';
  if (event.trimmed.length > 0) headers['kubetrail-trimmed'] = event.trimmed.join(',');
  return headers;
}

/**
 * The object of a DELETED the producer inferred (the object is gone; only the index's
 * namespace, name and last resourceVersion are known). Its resourceVersion is the list's, the
 * version at which the object was seen to be missing: a change id of its own, distinct from the
 * last change published for the object.
 */
export function inferredDeletion(
  ctx: Pick<SourceContext, 'group' | 'version' | 'kind'>,
  entry: { uid: string; namespace: string | null; name: string; resourceVersion: string },
  listResourceVersion: string,
): { meta: ObjectMeta; objectJson: string } {
  const apiVersion = ctx.group ? `${ctx.group}/${ctx.version}` : ctx.version;
  const metadata: Json = { name: entry.name, uid: entry.uid, resourceVersion: listResourceVersion };
  if (entry.namespace) metadata.namespace = entry.namespace;
  const meta: ObjectMeta = {
    apiVersion,
    kind: ctx.kind,
    namespace: entry.namespace,
    name: entry.name,
    uid: entry.uid,
    resourceVersion: listResourceVersion,
    generation: null,
    labels: {},
    creationTimestamp: null,
    deletionTimestamp: null,
  };
  return { meta, objectJson: JSON.stringify({ apiVersion, kind: ctx.kind, metadata }) };
}
