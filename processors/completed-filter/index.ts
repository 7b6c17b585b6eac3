// completed-filter: passes the raw event of each workflow that reached a final state, once per
// final state (see filter.ts), unchanged, so downstream tools read it with the raw schema.
import { z } from 'zod';
import { defineProcessor, type ProcessorDefinition } from '../../lib/kit/processor.js';
import { optionsFromEnv } from '../../lib/kit/options.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { completedFilterStateSchema, type CompletedFilterState } from '../../schemas/generated/completed-filter-state.js';
import { defaultCompletedFilterOptions, filterCompleted, type CompletedFilterOptions } from './filter.js';

export const completedFilterName = 'completed-filter';

export const completedFilterOptionsSchema = z.object({
  failedOnly: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
    .transform((v) => v === true || v === 'true' || v === '1')
    .default(defaultCompletedFilterOptions.failedOnly),
});

export type CompletedFilterDefinition = ProcessorDefinition<ResourceEvent, { completed: ResourceEvent }, CompletedFilterState>;

export function createCompletedFilter(options: Partial<CompletedFilterOptions> = {}): CompletedFilterDefinition {
  const resolved: CompletedFilterOptions = { ...defaultCompletedFilterOptions, ...options };
  return defineProcessor<ResourceEvent, { completed: ResourceEvent }, CompletedFilterState>({
    name: completedFilterName,
    description: resolved.failedOnly
      ? 'Raw events of workflows that failed (Failed or Error), once per workflow'
      : 'Raw events of workflows that reached a final state (Succeeded, Failed, Error), once per final state',
    input: { topic: 'kubetrail.raw', schema: resourceEventSchema },
    outputs: { completed: { topic: resolved.failedOnly ? 'kubetrail.workflows.failed' : 'kubetrail.workflows.completed', schema: resourceEventSchema, cloudEventType: resolved.failedOnly ? 'io.kubetrail.workflow.failed' : 'io.kubetrail.workflow.completed' } },
    state: { store: 'emitted', schema: completedFilterStateSchema },
    process(record, context) {
      if (!filterCompleted(record.value, context.state, resolved)) return [];
      return [{ output: 'completed', key: record.key ?? record.value.uid, value: record.value, headers: record.headers }];
    },
  });
}

export default createCompletedFilter(optionsFromEnv(completedFilterName, completedFilterOptionsSchema));
