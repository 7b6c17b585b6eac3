// workflow-summary: one WorkflowSummary per meaningful change of each Argo Workflow, to a
// compacted topic keyed namespace/name (see summary.ts for what counts as meaningful).
import { z } from 'zod';
import { defineProcessor, type ProcessorDefinition } from '../../lib/kit/processor.js';
import { optionsFromEnv } from '../../lib/kit/options.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { workflowSummarySchema, type WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import { workflowSummaryStateSchema, type WorkflowSummaryState } from '../../schemas/generated/workflow-summary-state.js';
import { defaultWorkflowSummaryOptions, nextSummary, summaryKey, type WorkflowSummaryOptions } from './summary.js';

export const workflowSummaryName = 'workflow-summary';

export const workflowSummaryOptionsSchema = z.object({
  /** Comma-separated label keys to copy (KUBETRAIL_WORKFLOW_SUMMARY_LABELS=team,app). */
  labels: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
    .default(defaultWorkflowSummaryOptions.labels),
});

export type WorkflowSummaryDefinition = ProcessorDefinition<ResourceEvent, { summaries: WorkflowSummary }, WorkflowSummaryState>;

export function createWorkflowSummary(options: Partial<WorkflowSummaryOptions> = {}): WorkflowSummaryDefinition {
  const resolved: WorkflowSummaryOptions = { ...defaultWorkflowSummaryOptions, ...options };
  return defineProcessor<ResourceEvent, { summaries: WorkflowSummary }, WorkflowSummaryState>({
    name: workflowSummaryName,
    description: 'Latest summary of each Argo Workflow (phase, progress, timings, failed steps), marked deleted when it is deleted',
    input: { topic: 'kubetrail.raw', schema: resourceEventSchema },
    outputs: { summaries: { topic: 'kubetrail.workflows.summary', schema: workflowSummarySchema, compacted: true, cloudEventType: 'io.kubetrail.workflow.summary' } },
    state: { store: 'fingerprints', schema: workflowSummaryStateSchema },
    process(record, context) {
      const summary = nextSummary(record.value, context.state, resolved);
      return summary === null ? [] : [{ output: 'summaries', key: summaryKey(summary), value: summary }];
    },
  });
}

export default createWorkflowSummary(optionsFromEnv(workflowSummaryName, workflowSummaryOptionsSchema));
