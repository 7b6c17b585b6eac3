// The three bodies notify can post, from a workflow's summary: the summary as JSON; a Slack
// incoming-webhook message (Block Kit); CloudEvents 1.0 in HTTP binary mode (ce-* headers, the
// summary as the JSON data). Pure functions; docs/sinks.md shows one payload of each.
import { cloudEventHttpHeaders, cloudEventSource } from '../../lib/cloudevents.js';
import type { WorkflowSummary } from '../../schemas/generated/workflow-summary.js';

export const notifyFormats = ['json', 'slack', 'cloudevents'] as const;
export type NotifyFormat = (typeof notifyFormats)[number];

export interface NotifyRequest {
  body: string;
  headers: Record<string, string>;
}

/** What the record carries that a body needs besides the summary. */
export interface RecordContext {
  eventId: string;
  /** The record's CloudEvents headers (ce_source, ce_type, ce_time), when it has them. */
  headers: Record<string, string>;
}

const JSON_TYPE = 'application/json';

export function jsonRequest(summary: WorkflowSummary): NotifyRequest {
  return { body: JSON.stringify(summary), headers: { 'content-type': JSON_TYPE } };
}

/**
 * The Argo UI link: the template with {namespace}, {name} and {uid} replaced (URL-encoded), e.g.
 * https://argo.example.com/workflows/{namespace}/{name}. Compiled once into a function.
 */
export function compileLinkTemplate(template: string | undefined): (summary: WorkflowSummary) => string | undefined {
  if (!template) return () => undefined;
  const parts = template.split(/(\{namespace\}|\{name\}|\{uid\})/);
  return (summary) =>
    parts
      .map((part) => (part === '{namespace}' ? encodeURIComponent(summary.namespace) : part === '{name}' ? encodeURIComponent(summary.name) : part === '{uid}' ? encodeURIComponent(summary.uid) : part))
      .join('');
}

/** 65 s → "1m 5s"; 3725 s → "1h 2m 5s". */
export function formatDuration(ms: number | null): string {
  if (ms === null) return 'unknown';
  const total = Math.round(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  return [h ? `${h}h` : '', h || m ? `${m}m` : '', `${s}s`].filter(Boolean).join(' ');
}

/** Slack mrkdwn: &, < and > are control characters. */
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Slack's limits: a header 150 characters, a section's text 3000. */
const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

const phaseMark: Record<string, string> = { Succeeded: ':white_check_mark:', Failed: ':x:', Error: ':warning:' };

export function slackMessage(summary: WorkflowSummary, link: string | undefined): Record<string, unknown> {
  const workflow = `${summary.namespace}/${summary.name}`;
  const fields = [
    ['Workflow', link ? `<${link}|${escape(summary.name)}>` : escape(summary.name)],
    ['Namespace', escape(summary.namespace)],
    ['Phase', `${phaseMark[summary.phase] ?? ''} ${escape(summary.phase)}`.trim()],
    ['Duration', formatDuration(summary.durationMs)],
  ].map(([title, text]) => ({ type: 'mrkdwn', text: `*${title}*\n${text}` }));
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: cut(`${summary.phase}: ${workflow}`, 150) } },
    { type: 'section', fields },
  ];
  if (summary.message) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*Message*\n${escape(summary.message)}`, 3000) } });
  if (summary.failedSteps.length > 0) {
    const lines = summary.failedSteps.map((step) => {
      const code = step.exitCode === null ? '' : ` (exit code ${step.exitCode})`;
      return `• \`${escape(step.displayName ?? step.name)}\`${code}${step.message ? `: ${escape(step.message)}` : ''}`;
    });
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*Failed steps*\n${lines.join('\n')}`, 3000) } });
  }
  if (link) blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Argo' }, url: link }] });
  // text: the notification's fallback (push notifications, clients without blocks).
  return { text: `Workflow ${workflow} ${summary.phase}`, blocks };
}

export function slackRequest(summary: WorkflowSummary, link: string | undefined): NotifyRequest {
  return { body: JSON.stringify(slackMessage(summary, link)), headers: { 'content-type': JSON_TYPE } };
}

/** CloudEvents 1.0, HTTP binary mode: the attributes in ce-* headers, the summary as JSON data. */
export function cloudEventRequest(summary: WorkflowSummary, record: RecordContext): NotifyRequest {
  const headers = cloudEventHttpHeaders(
    {
      id: record.eventId,
      source: record.headers.ce_source ?? cloudEventSource(summary.source.cluster, 'argoproj.io', 'workflows'),
      type: record.headers.ce_type ?? 'io.kubetrail.workflow.completed',
      time: record.headers.ce_time ?? new Date(summary.source.observedAt).toISOString(),
      subject: `${summary.namespace}/${summary.name}`,
      datacontenttype: JSON_TYPE,
    },
  );
  return { body: JSON.stringify(summary), headers };
}
