// What a fault scenario checks, by id and resourceVersion, once the faults are over:
//
//   raw topic   Every resourceVersion the driver wrote (from the API server's answers) is on the
//               raw topic exactly once, unless it is legitimately superseded: a change made while
//               no watch ran and then compacted away (410 Gone) is only visible through the relist
//               that follows, as the object's state at the list (a READ with a newer or equal
//               resourceVersion). "While no watch ran" is the relist window (C, L]: C the
//               resourceVersion the producer relisted from (its committed checkpoint, logged with
//               "watch expired (410 Gone): relisting"; 0 at a first start), L the list's
//               resourceVersion (logged with "relisted"). A version inside a window counts as
//               superseded only if a READ of that workflow at or after it is on the topic. Anything
//               else not on the topic is lost; the final state of every workflow must always be
//               there. A (uid, resourceVersion) twice is a duplicate; a version never written is a
//               phantom.
//   completed   The completed-filter output holds exactly one record per workflow that ended in
//               Succeeded, Failed or Error, with that phase, and none for the others.
//   summaries   The workflow-summary output summarizes no change twice (by source.eventId), and
//               the last summary of every workflow is its final state (the final change's own
//               summary, or an equal one before it when the final change said nothing new).
//   dead letters  None: every record the producer wrote is a good one.
//
// resourceVersions are compared as integers (etcd revisions): Kubernetes calls them opaque, but
// the window test needs an order, and the embedded API server's are etcd's.
import { appendFileSync } from 'node:fs';
import avro from 'avsc';
import type { Consumer, Kafka } from 'kafkajs';
import { finalPhases } from '../../../lib/argo-workflow.js';
import { resourceEventSchema, type ResourceEvent } from '../../../lib/raw-event.js';
import { workflowSummarySchema, type WorkflowSummary } from '../../../schemas/generated/workflow-summary.js';
import { defaultWorkflowSummaryOptions, fingerprint, summarize } from '../../../processors/workflow-summary/summary.js';
import type { DrivenWorkflow } from './driver.js';
import { sleep, type Pipeline } from './pipeline.js';

export interface CollectedRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Reads a topic from the beginning (read_committed), keeping every record's bytes. */
export class TopicCollector {
  readonly records: CollectedRecord[] = [];
  private constructor(
    private readonly consumer: Consumer,
    readonly topic: string,
  ) {}

  static async start(kafka: Kafka, topic: string): Promise<TopicCollector> {
    const consumer = kafka.consumer({ groupId: `faults-reader-${topic}-${Math.random().toString(36).slice(2, 8)}`, readUncommitted: false, maxWaitTimeInMs: 200 });
    const collector = new TopicCollector(consumer, topic);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) {
          const last = Array.isArray(value) ? value[value.length - 1] : value;
          if (last !== undefined) headers[name] = last.toString();
        }
        collector.records.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value, headers });
      },
    });
    return collector;
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

// Values are decoded with the schemas the services write with, not through the registry: a
// registry restarted in a scenario has forgotten the ids the records carry.
const rawType = avro.Type.forSchema(resourceEventSchema as unknown as avro.Schema);
const summaryType = avro.Type.forSchema(workflowSummarySchema as unknown as avro.Schema);
const decodeWith = <T>(type: avro.Type, value: Buffer | null): T | undefined => {
  if (!value || value.length < 5 || value[0] !== 0) return undefined;
  try {
    return type.fromBuffer(value.subarray(5)) as T;
  } catch {
    return undefined;
  }
};
export const decodeRaw = (value: Buffer | null) => decodeWith<ResourceEvent>(rawType, value);
export const decodeSummary = (value: Buffer | null) => decodeWith<WorkflowSummary>(summaryType, value);

export interface RelistWindow {
  from: bigint;
  to: bigint;
  producer: string;
}

/** The relist windows (C, L] of every producer process, from their logs (see the file comment). */
export function relistWindows(producers: Array<{ instance: string; output: string[] }>): RelistWindow[] {
  const windows: RelistWindow[] = [];
  for (const producer of producers) {
    let from: bigint | undefined;
    for (const line of producer.output) {
      if (!line.startsWith('{')) continue;
      let entry: { msg?: string; resourceVersion?: string | null };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (entry.msg === 'no usable checkpoint: listing') from = 0n;
      else if (entry.msg === 'watch expired (410 Gone): relisting' && entry.resourceVersion) from = BigInt(entry.resourceVersion);
      else if (entry.msg === 'relisted' && entry.resourceVersion) {
        windows.push({ from: from ?? 0n, to: BigInt(entry.resourceVersion), producer: producer.instance });
        from = undefined;
      }
    }
  }
  return windows;
}

export interface Verdict {
  /** Every workflow's final state is on the raw topic and every expected output is there. */
  complete: boolean;
  workflows: number;
  changes: number;
  raw: { records: number; present: number; superseded: number; missing: string[]; duplicates: string[]; phantoms: string[]; finalMissing: string[] };
  completed: { expected: number; found: number; lost: string[]; duplicates: string[]; spurious: string[]; wrongPhase: string[] };
  summaries: { expected: number; found: number; lost: string[]; duplicates: string[]; notLast: string[] };
  deadLetters: number;
  relists: number;
  lost: number;
  duplicated: number;
}

export function verify(
  workflows: DrivenWorkflow[],
  topics: { raw: CollectedRecord[]; completed: CollectedRecord[]; summary: CollectedRecord[]; deadLetters: number },
  windows: RelistWindow[],
): Verdict {
  const raw = topics.raw.map((r) => ({ record: r, event: decodeRaw(r.value) }));
  const rawByUid = new Map<string, ResourceEvent[]>();
  for (const { event } of raw) {
    if (!event) continue;
    const list = rawByUid.get(event.uid) ?? [];
    list.push(event);
    rawByUid.set(event.uid, list);
  }
  const completedByUid = new Map<string, ResourceEvent[]>();
  for (const r of topics.completed) {
    const event = decodeRaw(r.value);
    if (!event) continue;
    const list = completedByUid.get(event.uid) ?? [];
    list.push(event);
    completedByUid.set(event.uid, list);
  }
  const summariesByUid = new Map<string, WorkflowSummary[]>();
  for (const r of topics.summary) {
    const summary = decodeSummary(r.value);
    if (!summary) continue;
    const list = summariesByUid.get(summary.uid) ?? [];
    list.push(summary); // one key (namespace/name) is one partition: this is topic order per workflow
    summariesByUid.set(summary.uid, list);
  }

  const v: Verdict = {
    complete: true,
    workflows: workflows.length,
    changes: 0,
    raw: { records: topics.raw.length, present: 0, superseded: 0, missing: [], duplicates: [], phantoms: [], finalMissing: [] },
    completed: { expected: 0, found: 0, lost: [], duplicates: [], spurious: [], wrongPhase: [] },
    summaries: { expected: 0, found: 0, lost: [], duplicates: [], notLast: [] },
    deadLetters: topics.deadLetters,
    relists: windows.length,
    lost: 0,
    duplicated: 0,
  };
  const inWindow = (rv: bigint) => windows.some((w) => rv > w.from && rv <= w.to);

  for (const w of workflows) {
    v.changes += w.versions.length;
    const events = (w.uid && rawByUid.get(w.uid)) || [];
    const counts = new Map<string, number>();
    for (const e of events) counts.set(e.resourceVersion, (counts.get(e.resourceVersion) ?? 0) + 1);
    const written = new Set(w.versions);
    for (const [rv, n] of counts) {
      if (n > 1) v.raw.duplicates.push(`${w.name}@${rv}×${n}`);
      if (!written.has(rv) && !events.some((e) => e.resourceVersion === rv && e.source.inferred)) v.raw.phantoms.push(`${w.name}@${rv}`);
    }
    const reads = events.filter((e) => e.operation === 'READ').map((e) => BigInt(e.resourceVersion));
    for (const rv of w.versions) {
      if (counts.has(rv)) v.raw.present += 1;
      else if (inWindow(BigInt(rv)) && reads.some((r) => r >= BigInt(rv))) v.raw.superseded += 1;
      else v.raw.missing.push(`${w.name}@${rv}`);
    }
    const finalRv = w.versions[w.versions.length - 1];
    const finalEvent = events.find((e) => e.resourceVersion === finalRv);
    if (!finalEvent) {
      v.raw.finalMissing.push(`${w.name}@${finalRv}`);
      v.complete = false;
    }

    // completed-filter: once per workflow that ended in a final phase, none for the others.
    const passed = (w.uid && completedByUid.get(w.uid)) || [];
    if (finalPhases.has(w.finalPhase)) {
      v.completed.expected += 1;
      if (passed.length === 0) {
        v.completed.lost.push(w.name);
        v.complete = false;
      } else v.completed.found += 1;
      if (passed.length > 1) v.completed.duplicates.push(`${w.name}×${passed.length}`);
      for (const e of passed) {
        const phase = (JSON.parse(e.object) as { status?: { phase?: string } }).status?.phase;
        if (phase !== w.finalPhase) v.completed.wrongPhase.push(`${w.name}: ${phase} (expected ${w.finalPhase})`);
      }
    } else if (passed.length > 0) v.completed.spurious.push(`${w.name} (${w.finalPhase})×${passed.length}`);

    // workflow-summary: the final state's summary once, and last.
    v.summaries.expected += 1;
    const summaries = (w.uid && summariesByUid.get(w.uid)) || [];
    if (!finalEvent) {
      v.summaries.lost.push(`${w.name} (no final raw record)`);
      continue;
    }
    // Each summary is of one change (source.eventId): a change summarized twice is a duplicate.
    // The final change is summarized once, unless it says nothing new (its fingerprint equals
    // the summary before it); either way the last summary of the workflow is the final state.
    const finalPrint = fingerprint(summarize(finalEvent, defaultWorkflowSummaryOptions));
    const perEvent = new Map<string, number>();
    for (const s of summaries) perEvent.set(s.source.eventId, (perEvent.get(s.source.eventId) ?? 0) + 1);
    for (const [id, n] of perEvent) if (n > 1) v.summaries.duplicates.push(`${w.name}@${summaries.find((s) => s.source.eventId === id)?.source.resourceVersion}×${n}`);
    const last = summaries[summaries.length - 1];
    if (!last) {
      v.summaries.lost.push(w.name);
      v.complete = false;
    } else if (fingerprint(last) !== finalPrint) {
      if (perEvent.has(finalEvent.id)) v.summaries.notLast.push(w.name);
      else {
        v.summaries.lost.push(w.name);
        v.complete = false;
      }
    } else v.summaries.found += 1;
  }
  v.lost = v.raw.missing.length + v.completed.lost.length + v.summaries.lost.length;
  v.duplicated = v.raw.duplicates.length + v.completed.duplicates.length + v.summaries.duplicates.length;
  return v;
}

/** Reads the scenario's output topics until every expected record is there (then `settleMs` more), or `timeoutMs`. */
export async function collectAndVerify(pipeline: Pipeline, workflows: DrivenWorkflow[], { timeoutMs = 120_000, settleMs = 3_000 } = {}): Promise<Verdict> {
  const { kafka, topics } = pipeline;
  const collectors = await Promise.all([
    TopicCollector.start(kafka, topics.raw),
    TopicCollector.start(kafka, topics.completed),
    TopicCollector.start(kafka, topics.summary),
    TopicCollector.start(kafka, pipeline.dlqTopic('completed-filter')),
    TopicCollector.start(kafka, pipeline.dlqTopic('workflow-summary')),
  ]);
  const [raw, completed, summary, dlq1, dlq2] = collectors as [TopicCollector, TopicCollector, TopicCollector, TopicCollector, TopicCollector];
  const check = () =>
    verify(workflows, { raw: raw.records, completed: completed.records, summary: summary.records, deadLetters: dlq1.records.length + dlq2.records.length }, relistWindows(pipeline.producers));
  try {
    const began = Date.now();
    let verdict = check();
    while (!verdict.complete && Date.now() - began < timeoutMs) {
      await sleep(250);
      verdict = check();
    }
    if (verdict.complete) await sleep(settleMs); // anything extra (a duplicate) would show up by now
    return check();
  } finally {
    await Promise.all(collectors.map((c) => c.stop().catch(() => undefined)));
  }
}

export interface ScenarioResult {
  scenario: string;
  workflows: number;
  changes: number;
  faults: number;
  faultKinds: Record<string, number>;
  lost: number;
  duplicated: number;
  superseded: number;
  relists: number;
  deadLetters: number;
  completed: number;
  summaries: number;
  seconds: number;
  seed: number;
  /** Set for a scenario that shows a known bug (a `todo` test): its losses are counted apart. */
  knownBug?: string;
}

export function countKinds(faults: string[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const f of faults) kinds[f] = (kinds[f] ?? 0) + 1;
  return kinds;
}

const kindsText = (kinds: Record<string, number>) =>
  Object.entries(kinds)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');

export function summaryLine(r: ScenarioResult): string {
  return (
    `[faults] ${r.scenario}${r.knownBug ? ' (known bug)' : ''}: changes driven ${r.changes} (${r.workflows} workflows), faults injected ${r.faults} (${kindsText(r.faultKinds)}), ` +
    `records lost ${r.lost}, duplicated ${r.duplicated} | superseded by a relist ${r.superseded} (${r.relists} relists), ` +
    `completed ${r.completed}, summaries ${r.summaries}, dead letters ${r.deadLetters}, ${r.seconds.toFixed(0)} s, seed ${r.seed}`
  );
}

export function totalLine(all: ScenarioResult[], label = 'total'): string {
  const results = all.filter((r) => !r.knownBug);
  const bugs = all.filter((r) => r.knownBug);
  const sum = (list: ScenarioResult[], f: (r: ScenarioResult) => number) => list.reduce((n, r) => n + f(r), 0);
  const kinds: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.faultKinds)) kinds[k] = (kinds[k] ?? 0) + n;
  const known = bugs.length
    ? `; known bugs apart (${bugs.length} scenarios: ${bugs.map((b) => b.scenario).join(', ')}): records lost ${sum(bugs, (r) => r.lost)}, duplicated ${sum(bugs, (r) => r.duplicated)}`
    : '';
  return (
    `[faults] ${label} (${results.length} scenarios): changes driven ${sum(results, (r) => r.changes)} (${sum(results, (r) => r.workflows)} workflows), ` +
    `faults injected ${sum(results, (r) => r.faults)} (${kindsText(kinds)}), records lost ${sum(results, (r) => r.lost)}, duplicated ${sum(results, (r) => r.duplicated)}, ` +
    `${sum(all, (r) => r.seconds).toFixed(0)} s${known}`
  );
}

/** Prints the scenario's line and appends it to KUBETRAIL_FAULTS_RESULTS (test/run.ts prints the total of all files). */
export function report(result: ScenarioResult): void {
  process.stdout.write(`${summaryLine(result)}\n`);
  const file = process.env.KUBETRAIL_FAULTS_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify(result)}\n`);
}

/** A readable account of what went wrong, for an assertion message. */
export function explain(v: Verdict): string {
  const list = (items: string[]) => (items.length ? `${items.length}: ${items.slice(0, 12).join(', ')}${items.length > 12 ? ', …' : ''}` : '0');
  return [
    `raw: ${v.raw.records} records, ${v.raw.present} present, ${v.raw.superseded} superseded; missing ${list(v.raw.missing)}; final missing ${list(v.raw.finalMissing)}; duplicates ${list(v.raw.duplicates)}; phantoms ${list(v.raw.phantoms)}`,
    `completed: ${v.completed.found}/${v.completed.expected}; lost ${list(v.completed.lost)}; duplicates ${list(v.completed.duplicates)}; spurious ${list(v.completed.spurious)}; wrong phase ${list(v.completed.wrongPhase)}`,
    `summaries: ${v.summaries.found}/${v.summaries.expected}; lost ${list(v.summaries.lost)}; duplicates ${list(v.summaries.duplicates)}; final not last ${list(v.summaries.notLast)}`,
    `dead letters: ${v.deadLetters}; relists: ${v.relists}`,
  ].join('\n');
}
