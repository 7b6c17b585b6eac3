// The completed-filter logic: pure apart from the keyed state it is handed.
import { failurePhases, finalPhases, readWorkflow, workflowPhase } from '../../lib/argo-workflow.js';
import type { KeyValueStore } from '../../lib/kit/processor.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import type { CompletedFilterState } from '../../schemas/generated/completed-filter-state.js';

export interface CompletedFilterOptions {
  /** Only Failed and Error pass; Succeeded is dropped (and not remembered). */
  failedOnly: boolean;
}

export const defaultCompletedFilterOptions: CompletedFilterOptions = { failedOnly: false };

/**
 * Decides whether one raw event passes, updating the state (keyed by uid). Returns true when the
 * event is to be emitted unchanged.
 *
 * - A final phase (Succeeded, Failed, Error, per workflowPhase: status.phase wins over labels)
 *   passes once per workflow: not again while the state holds that phase, whatever the operation
 *   (MODIFIED for labels, TTL or archiving; READ after a relist; a replay after a restart).
 * - A phase that is not final, seen after a final state was emitted, means the workflow runs again
 *   (`argo retry` keeps the uid): the state is cleared so its next outcome passes, even if it is the
 *   same phase as before.
 * - DELETED never passes (a deletion is not a completion) and clears the state: the uid ends there,
 *   and a workflow created again under the same name has a new uid, so no repeat can follow.
 */
export function filterCompleted(event: ResourceEvent, state: KeyValueStore<CompletedFilterState>, options: CompletedFilterOptions): boolean {
  // Checked first even for DELETED, so a record that is not a workflow always dead-letters.
  const workflow = readWorkflow(event);
  const uid = event.uid;
  if (event.operation === 'DELETED') {
    if (state.get(uid) !== undefined) state.delete(uid);
    return false;
  }
  const phase = workflowPhase(workflow, event);
  if (!finalPhases.has(phase)) {
    if (state.get(uid) !== undefined) state.delete(uid);
    return false;
  }
  if (options.failedOnly && !failurePhases.has(phase)) return false;
  if (state.get(uid)?.phase === phase) return false;
  state.put(uid, { phase, resourceVersion: event.resourceVersion, eventId: event.id });
  return true;
}
