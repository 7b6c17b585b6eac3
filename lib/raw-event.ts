// The raw event (ResourceEvent on the raw topic): its TypeScript type comes from the generated
// code, so it is written once, in schemas/resource-event.avsc. The producer and the tests build
// ids with the same changeId; processors read the object with parseObject.
import { createHash } from 'node:crypto';
import { parseLazily, type LazyPaths } from './lazy-json.js';

export type { ResourceEvent, Operation, ResourceType, Source } from '../schemas/generated/resource-event.js';
export { resourceEventSchema } from '../schemas/generated/resource-event.js';
import type { ResourceEvent } from '../schemas/generated/resource-event.js';

export interface ChangeIdParts {
  cluster: string;
  /** API group; empty for the core group. */
  group: string;
  /** Plural resource name (workflows). */
  resource: string;
  uid: string;
  resourceVersion: string;
}

/**
 * Identity of a change as the contract defines it: lowercase hex SHA-256 of cluster, group,
 * resource, uid and resourceVersion joined by '\n'. A newline cannot occur in any of them, so two
 * different changes cannot join to the same text.
 */
export function changeId(parts: ChangeIdParts): string {
  return createHash('sha256')
    .update([parts.cluster, parts.group, parts.resource, parts.uid, parts.resourceVersion].join('\n'))
    .digest('hex');
}

/** The parts of a Kubernetes object every kind has; the rest is unknown until checked. */
export interface KubernetesObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: unknown;
  [field: string]: unknown;
}

export class InvalidObjectError extends Error {
  override name = 'InvalidObjectError';
}

/**
 * The event's object, parsed; the members at `lazy` are parsed when first read (lib/lazy-json.ts).
 * Throws InvalidObjectError when it is not a JSON object.
 */
export function parseObject(event: Pick<ResourceEvent, 'object' | 'id'>, lazy?: LazyPaths): KubernetesObject {
  let parsed: unknown;
  try {
    parsed = lazy ? parseLazily(event.object, lazy) : JSON.parse(event.object);
  } catch (error) {
    throw new InvalidObjectError(`event ${event.id}: object is not JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidObjectError(`event ${event.id}: object is not a JSON object`);
  }
  return parsed as KubernetesObject;
}
