// Secrets never reach the topic in clear. For a core v1 Secret, every value of `data` and
// `stringData` is replaced by a marker (the keys stay: which keys a Secret has is not secret), and
// the `kubectl.kubernetes.io/last-applied-configuration` annotation, which holds the whole manifest
// as kubectl applied it (values included), is replaced too. The marker carries no hash of the value:
// a hash of a short password is as good as the password to anyone with a dictionary.

export const redactedValue = '<redacted>';
export const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** True for objects whose content must be redacted: core-group Secrets. */
export function isSecret(group: string, resource: string, object: Json): boolean {
  if (group === '' && resource === 'secrets') return true;
  return object.kind === 'Secret' && (object.apiVersion === 'v1' || object.apiVersion === undefined);
}

/**
 * Redacts a Secret in place (the object is the producer's own parse of the event) and returns the
 * paths it redacted. Objects that are not Secrets are left alone.
 */
export function redactSecret(group: string, resource: string, object: Json): string[] {
  if (!isSecret(group, resource, object)) return [];
  const redacted: string[] = [];
  for (const field of ['data', 'stringData'] as const) {
    const values = object[field];
    if (!isObject(values)) continue;
    for (const key of Object.keys(values)) {
      values[key] = redactedValue;
      redacted.push(`${field}.${key}`);
    }
  }
  const annotations = isObject(object.metadata) ? object.metadata.annotations : undefined;
  if (isObject(annotations) && annotations[lastAppliedAnnotation] !== undefined) {
    annotations[lastAppliedAnnotation] = redactedValue;
    redacted.push(`metadata.annotations.${lastAppliedAnnotation}`);
  }
  return redacted;
}
