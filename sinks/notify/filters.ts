// Which workflows notify posts about: namespaces, a label selector (key=value, all must match)
// and phases, each compiled once at start-up. An empty list lets everything through.
import type { WorkflowSummary } from '../../schemas/generated/workflow-summary.js';

export interface NotifyFilters {
  namespaces: string[];
  /** key=value pairs; every one must match the workflow's labels. */
  labels: string[];
  phases: string[];
}

export type Filter = (summary: WorkflowSummary, labels: Record<string, string>) => boolean;

export function compileFilters(filters: NotifyFilters): Filter {
  const namespaces = new Set(filters.namespaces);
  const phases = new Set(filters.phases);
  const selector = filters.labels.map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new TypeError(`label filter '${pair}' is not key=value`);
    return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()] as const;
  });
  return (summary, labels) =>
    (namespaces.size === 0 || namespaces.has(summary.namespace)) &&
    (phases.size === 0 || phases.has(summary.phase)) &&
    selector.every(([key, value]) => labels[key] === value);
}
