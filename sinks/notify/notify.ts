// notify: posts each completed (or failed) workflow to a webhook, in one of three formats per
// instance — the summary as JSON, a Slack incoming-webhook message, or CloudEvents 1.0 over HTTP
// (binary mode) — filtered by namespace, label and phase. The webhook URL is a secret (a Slack
// webhook's path is its credential): it comes from the environment or a file only, is never
// logged, and appears in no dead letter. Run as `kubetrail sink notify`; see README.md here.
// index.ts builds the definition from the environment; tests build it here with createNotify.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../lib/config.js';
import { optionEnvName, optionsFromEnv } from '../../lib/kit/options.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { rememberSecret } from '../../lib/redact.js';
import { postDelivery } from '../../lib/sink/http.js';
import { DeliveryError, defineSink, type SinkDefinition } from '../../lib/sink/sink.js';
import type { WorkflowSummary } from '../../schemas/generated/workflow-summary.js';
import { summarize } from '../../processors/workflow-summary/summary.js';
import { compileFilters } from './filters.js';
import { cloudEventRequest, compileLinkTemplate, jsonRequest, notifyFormats, slackRequest, type NotifyFormat, type NotifyRequest } from './formats.js';

export const notifyName = 'notify';

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean));

export const notifyOptionsSchema = z.object({
  format: z.enum(notifyFormats).default('json'),
  /** The webhook URL itself (KUBETRAIL_NOTIFY_WEBHOOK_URL), or a file holding it (KUBETRAIL_NOTIFY_WEBHOOK_URL_FILE, a mounted Secret). */
  webhookUrl: z.string().optional(),
  webhookUrlFile: z.string().min(1).optional(),
  /** Namespaces to notify about; empty: all. */
  namespaces: list.default([]),
  /** key=value pairs the workflow's labels must all have; empty: any. */
  labels: list.default([]),
  /** Phases to notify about. */
  phases: list.default(['Succeeded', 'Failed', 'Error']),
  /** The Argo UI link template: {namespace}, {name} and {uid} are replaced (e.g. https://argo.example.com/workflows/{namespace}/{name}). */
  argoUiUrl: z.string().optional(),
  /** No response within this long is a failed attempt (retried). */
  timeoutMs: z.coerce.number().int().min(1).default(10_000),
});

export type NotifyOptions = Omit<z.output<typeof notifyOptionsSchema>, 'webhookUrl' | 'webhookUrlFile'> & { webhookUrl: string };

/** The URL from the setting or its file, remembered as a secret so no log line can print it. */
export function resolveWebhookUrl(options: { webhookUrl?: string; webhookUrlFile?: string }): string {
  let url = options.webhookUrl;
  if (url === undefined && options.webhookUrlFile !== undefined) {
    try {
      url = readFileSync(options.webhookUrlFile, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`${optionEnvName(notifyName, 'webhookUrlFile')}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (!url) throw new ConfigError(`notify needs a webhook URL: set ${optionEnvName(notifyName, 'webhookUrl')} or ${optionEnvName(notifyName, 'webhookUrlFile')}`);
  rememberSecret(url);
  // Only the scheme is named: the rest of the URL is the secret.
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw new ConfigError(`the webhook URL must be an http:// or https:// URL (${optionEnvName(notifyName, 'webhookUrl')})`);
  return url;
}

export type NotifyDefinition = SinkDefinition<ResourceEvent>;

export function createNotify(options: NotifyOptions): NotifyDefinition {
  const accept = compileFilters(options);
  const link = compileLinkTemplate(options.argoUiUrl);
  const request: (summary: WorkflowSummary, record: { eventId: string; headers: Record<string, string> }) => NotifyRequest = {
    json: (summary: WorkflowSummary) => jsonRequest(summary),
    slack: (summary: WorkflowSummary) => slackRequest(summary, link(summary)),
    cloudevents: cloudEventRequest,
  }[options.format satisfies NotifyFormat];
  // select() and deliver() see the same decoded value: summarise it once.
  const summaries = new WeakMap<ResourceEvent, WorkflowSummary | Error>();
  const summaryOf = (event: ResourceEvent) => {
    let summary = summaries.get(event);
    if (summary === undefined) {
      try {
        summary = summarize(event, { labels: [] });
      } catch (error) {
        summary = error as Error;
      }
      summaries.set(event, summary);
    }
    return summary;
  };
  return defineSink<ResourceEvent>({
    name: notifyName,
    description: `Posts completed workflows to a webhook (${options.format})`,
    input: { topic: 'kubetrail.workflows.completed', schema: resourceEventSchema },
    select(record) {
      const summary = summaryOf(record.value);
      // Not a workflow: let it through, so deliver() dead-letters it with the reason.
      return summary instanceof Error || accept(summary, record.value.labels);
    },
    async deliver(record, signal) {
      const summary = summaryOf(record.value);
      if (summary instanceof Error) throw new DeliveryError(summary.message, true, `not delivered: ${summary.message}`);
      const { body, headers } = request(summary, record);
      await postDelivery({ url: options.webhookUrl, body, headers, eventId: record.eventId, timeoutMs: options.timeoutMs, signal });
    },
  });
}

/** The definition from the environment (KUBETRAIL_NOTIFY_*), as `kubetrail sink notify` loads it. */
export function notifyFromEnv(env: NodeJS.ProcessEnv = process.env): NotifyDefinition {
  const { webhookUrl, webhookUrlFile, ...rest } = optionsFromEnv(notifyName, notifyOptionsSchema, env);
  return createNotify({ ...rest, webhookUrl: resolveWebhookUrl({ webhookUrl, webhookUrlFile }) });
}
