// What a fault scenario checks, by id and resourceVersion, once the faults are over. Nothing is
// excused by what the system under test says about itself (its logs); the only fact taken from
// outside the topics is the etcd compaction revisions the scenario itself made.
//
//   raw topic   Every resourceVersion the driver wrote (from the API server's answers) is on the
//               raw topic exactly once, unless it is superseded: in a scenario that compacted
//               etcd, a change no watch could see (its history gone: 410 Gone) arrives only
//               through the relist that follows, as a READ of the object at a newer version. It
//               counts as superseded only when, in topic order, the workflow's first record at or
//               past its version is such a READ and the record before that one is older: a change
//               skipped while a watch ran is followed by the watch's own records and stays lost.
//               The final state of every workflow must always be there. A (uid, resourceVersion)
//               twice is a duplicate, a version never written a phantom. Per workflow,
//               resourceVersions increase strictly in topic order, except at a READ or an inferred
//               DELETED (a relist): otherwise out of order. A scenario without a compaction must
//               see no READ at all (no relist) and nothing superseded.
//   outputs     What each processor must have written is computed from the raw topic with the
//               processor's own definition (its pure process() over an in-memory store, record
//               by record in partition order, as the runner does). Per key, the output topic must
//               hold exactly that sequence of event ids: an expected id missing is lost, an id
//               twice is duplicated, an id no input explains is unexpected, the same ids in
//               another order are out of order.
//   dead letters  None: every record the producer wrote is a good one.
//
// resourceVersions are compared as integers (etcd revisions): Kubernetes calls them opaque, but
// the compaction test needs an order, and the embedded API server's are etcd's.
import { appendFileSync } from 'node:fs';
import avro from 'avsc';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { finalPhases } from '../../../lib/argo-workflow.js';
import { resourceEventSchema, type ResourceEvent } from '../../../lib/raw-event.js';
import type { KeyValueStore, ProcessorDefinition } from '../../../lib/kit/processor.js';
import { PartitionReader } from '../../../lib/kafka/topic-reader.js';
import { workflowSummarySchema, type WorkflowSummary } from '../../../schemas/generated/workflow-summary.js';
import { createCompletedFilter } from '../../../processors/completed-filter/index.js';
import { createWorkflowSummary } from '../../../processors/workflow-summary/index.js';
import type { DrivenWorkflow } from './driver.js';
import { sleep, type Pipeline, type ProcessorKind } from './pipeline.js';

export interface CollectedRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

const collected = (partition: number, message: KafkaMessage): CollectedRecord => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return { partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value, headers };
};

/** Reads a topic from the beginning (read_committed) as it grows, keeping every record's bytes: for waiting, not for the verdict. */
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
    await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => void collector.records.push(collected(partition, message)) });
    return collector;
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

/** Every committed record of a topic up to each partition's end at the time of the call (read_committed, assign and seek: no group). */
export async function readToEnd(kafka: Kafka, topic: string): Promise<CollectedRecord[]> {
  const admin = kafka.admin();
  const reader = new PartitionReader(kafka);
  const records: CollectedRecord[] = [];
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(topic)) return [];
    const offsets = await admin.fetchTopicOffsets(topic);
    for (const { partition } of offsets.sort((a, b) => a.partition - b.partition)) {
      await reader.readToEnd(topic, partition, (message) => records.push(collected(partition, message)));
    }
  } finally {
    await reader.close();
    await admin.disconnect();
  }
  return records;
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

/** The processors as the pipeline runs them (default options), and how to read the event id an output record stands for. */
const definitions: Record<ProcessorKind, { definition: ProcessorDefinition<ResourceEvent, Record<string, unknown>, unknown>; idOf: (value: Buffer | null) => string | undefined }> = {
  'completed-filter': { definition: createCompletedFilter() as never, idOf: (value) => decodeRaw(value)?.id },
  'workflow-summary': { definition: createWorkflowSummary() as never, idOf: (value) => decodeSummary(value)?.source.eventId },
};

class MemoryStore<S> implements KeyValueStore<S> {
  private readonly map = new Map<string, S>();
  get(key: string) {
    return this.map.get(key);
  }
  put(key: string, value: S) {
    this.map.set(key, value);
  }
  delete(key: string) {
    this.map.delete(key);
  }
}

/** Per output key, the event ids a processor must write, in order: its own process() over the raw records in partition order. */
export function expectedOutputs(kind: ProcessorKind, raw: CollectedRecord[]): Map<string, string[]> {
  const { definition } = definitions[kind];
  const store = new MemoryStore<unknown>();
  const byKey = new Map<string, string[]>();
  for (const record of raw) {
    const event = decodeRaw(record.value);
    if (!event) continue;
    const outputs = definition.process(
      { topic: 'raw', partition: record.partition, offset: record.offset, key: record.key, value: event, timestamp: 0, headers: record.headers },
      { state: store },
    );
    for (const output of outputs) {
      const list = byKey.get(output.key ?? '') ?? [];
      list.push(event.id);
      byKey.set(output.key ?? '', list);
    }
  }
  return byKey;
}

export interface OutputCheck {
  expected: number;
  found: number;
  lost: string[];
  duplicates: string[];
  unexpected: string[];
  outOfOrder: string[];
}

/** Compares an output topic with what its processor must have written, key by key. */
export function checkOutput(kind: ProcessorKind, raw: CollectedRecord[], output: CollectedRecord[]): OutputCheck {
  const expected = expectedOutputs(kind, raw);
  const actual = new Map<string, string[]>();
  for (const record of output) {
    const id = definitions[kind].idOf(record.value) ?? `undecodable@${record.partition}:${record.offset}`;
    const list = actual.get(record.key ?? '') ?? [];
    list.push(id);
    actual.set(record.key ?? '', list);
  }
  const check: OutputCheck = { expected: 0, found: 0, lost: [], duplicates: [], unexpected: [], outOfOrder: [] };
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(key) ?? [];
    const got = actual.get(key) ?? [];
    check.expected += want.length;
    const wanted = new Set(want);
    const seen = new Map<string, number>();
    for (const id of got) seen.set(id, (seen.get(id) ?? 0) + 1);
    for (const id of want) if (seen.has(id)) check.found += 1;
    for (const id of want) if (!seen.has(id)) check.lost.push(`${key}@${id.slice(0, 8)}`);
    for (const [id, n] of seen) {
      if (n > 1) check.duplicates.push(`${key}@${id.slice(0, 8)}×${n}`);
      if (!wanted.has(id)) check.unexpected.push(`${key}@${id.slice(0, 8)}`);
    }
    const firstSeen = [...seen.keys()].filter((id) => wanted.has(id));
    const inOrder = want.filter((id) => seen.has(id));
    if (firstSeen.join() !== inOrder.join()) check.outOfOrder.push(key);
  }
  return check;
}

export interface Verdict {
  /** Every workflow's final state is on the raw topic and every expected output is there. */
  complete: boolean;
  workflows: number;
  changes: number;
  raw: { records: number; present: number; superseded: number; reads: number; missing: string[]; duplicates: string[]; phantoms: string[]; finalMissing: string[]; outOfOrder: string[] };
  outputs: Record<ProcessorKind, OutputCheck>;
  /** completed-filter: one record per workflow that ended in a final phase, with that phase. */
  completed: { expected: number; found: number; spurious: string[]; wrongPhase: string[] };
  deadLetters: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** When every expected record was first there (ms since the epoch); set by collectAndVerify. */
  completeAt: number;
}

/**
 * A change the raw topic lacks sits in the gap a relist covers: in topic order, the first record of
 * the workflow at or past its resourceVersion is a READ (the list's view of the object), and the
 * record before that one is older than the change. A change skipped while a watch ran is followed
 * by the watch's own records, not by a READ, and stays lost.
 */
function beforeRelist(events: ResourceEvent[], rv: bigint): boolean {
  const next = events.findIndex((e) => BigInt(e.resourceVersion) >= rv);
  if (next < 0 || events[next]!.operation !== 'READ') return false;
  return next === 0 || BigInt(events[next - 1]!.resourceVersion) < rv;
}

export interface VerifyInput {
  raw: CollectedRecord[];
  outputs: Record<ProcessorKind, CollectedRecord[]>;
  deadLetters: number;
}

export function verify(workflows: DrivenWorkflow[], topics: VerifyInput, facts: { compactions: bigint[] }): Verdict {
  const events = topics.raw.map((r) => decodeRaw(r.value)).filter((e): e is ResourceEvent => e !== undefined);
  const rawByUid = new Map<string, ResourceEvent[]>();
  for (const event of events) {
    const list = rawByUid.get(event.uid) ?? [];
    list.push(event);
    rawByUid.set(event.uid, list);
  }
  const completedByUid = new Map<string, ResourceEvent[]>();
  for (const r of topics.outputs['completed-filter']) {
    const event = decodeRaw(r.value);
    if (!event) continue;
    const list = completedByUid.get(event.uid) ?? [];
    list.push(event);
    completedByUid.set(event.uid, list);
  }
  const outputs = {
    'completed-filter': checkOutput('completed-filter', topics.raw, topics.outputs['completed-filter']),
    'workflow-summary': checkOutput('workflow-summary', topics.raw, topics.outputs['workflow-summary']),
  };
  const v: Verdict = {
    complete: true,
    workflows: workflows.length,
    changes: 0,
    raw: { records: topics.raw.length, present: 0, superseded: 0, reads: events.filter((e) => e.operation === 'READ').length, missing: [], duplicates: [], phantoms: [], finalMissing: [], outOfOrder: [] },
    outputs,
    completed: { expected: 0, found: 0, spurious: [], wrongPhase: [] },
    deadLetters: topics.deadLetters,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    completeAt: 0,
  };
  const compacted = facts.compactions.length > 0;
  const relisted = (e: ResourceEvent) => e.operation === 'READ' || e.source.inferred;

  for (const w of workflows) {
    v.changes += w.versions.length + (w.deleted ? 1 : 0);
    const mine = (w.uid && rawByUid.get(w.uid)) || [];
    const counts = new Map<string, number>();
    for (const e of mine) counts.set(e.resourceVersion, (counts.get(e.resourceVersion) ?? 0) + 1);
    const written = new Set(w.versions);
    // The driver cannot know the revision of a delete: a DELETED record's version is its own.
    const deletes = mine.filter((e) => e.operation === 'DELETED');
    for (const [rv, n] of counts) {
      if (n > 1) v.raw.duplicates.push(`${w.name}@${rv}×${n}`);
      const explained = mine.some((e) => e.resourceVersion === rv && (e.source.inferred || e.operation === 'DELETED'));
      if (!written.has(rv) && !explained) v.raw.phantoms.push(`${w.name}@${rv}`);
    }
    if (w.deleted && deletes.length === 0) {
      v.raw.missing.push(`${w.name}@DELETED`);
      v.complete = false;
    }
    if (deletes.length > 1) v.raw.duplicates.push(`${w.name}@DELETED×${deletes.length}`);
    if (!w.deleted && deletes.length > 0) v.raw.phantoms.push(`${w.name}@DELETED (never deleted)`);
    for (let i = 1; i < mine.length; i++) {
      const [before, now] = [BigInt(mine[i - 1]!.resourceVersion), BigInt(mine[i]!.resourceVersion)];
      if (relisted(mine[i]!) ? now < before : now <= before) v.raw.outOfOrder.push(`${w.name}: ${before} then ${now}`);
    }
    for (const rv of w.versions) {
      if (counts.has(rv)) v.raw.present += 1;
      else if (compacted && beforeRelist(mine, BigInt(rv))) v.raw.superseded += 1;
      else v.raw.missing.push(`${w.name}@${rv}`);
    }
    const finalRv = w.versions[w.versions.length - 1];
    if (!mine.some((e) => e.resourceVersion === finalRv)) {
      v.raw.finalMissing.push(`${w.name}@${finalRv}`);
      v.complete = false;
    }
    const passed = (w.uid && completedByUid.get(w.uid)) || [];
    if (finalPhases.has(w.finalPhase)) {
      v.completed.expected += 1;
      if (passed.length > 0) v.completed.found += 1;
      for (const e of passed) {
        const phase = (JSON.parse(e.object) as { status?: { phase?: string } }).status?.phase;
        if (phase !== w.finalPhase) v.completed.wrongPhase.push(`${w.name}: ${phase} (expected ${w.finalPhase})`);
      }
    } else if (passed.length > 0) v.completed.spurious.push(`${w.name} (${w.finalPhase})×${passed.length}`);
  }
  if (v.completed.found < v.completed.expected) v.complete = false;
  for (const check of Object.values(outputs)) if (check.lost.length > 0) v.complete = false;
  v.lost = v.raw.missing.length + outputs['completed-filter'].lost.length + outputs['workflow-summary'].lost.length;
  v.duplicated = v.raw.duplicates.length + outputs['completed-filter'].duplicates.length + outputs['workflow-summary'].duplicates.length;
  v.outOfOrder = v.raw.outOfOrder.length + outputs['completed-filter'].outOfOrder.length + outputs['workflow-summary'].outOfOrder.length;
  return v;
}

/** True once every processor group has committed past the last record of every raw partition: all their output is then committed too. */
async function groupsCaughtUp(pipeline: Pipeline, raw: CollectedRecord[]): Promise<boolean> {
  const last = new Map<number, bigint>();
  for (const r of raw) if (!last.has(r.partition) || BigInt(r.offset) > last.get(r.partition)!) last.set(r.partition, BigInt(r.offset));
  const admin = pipeline.kafka.admin();
  await admin.connect();
  try {
    for (const groupId of Object.values(pipeline.groups)) {
      const [topic] = await admin.fetchOffsets({ groupId, topics: [pipeline.topics.raw] });
      for (const [partition, offset] of last) {
        const committed = topic?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
        if (BigInt(committed) <= offset) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until every expected record is there (or `timeoutMs`), then until both processor groups
 * have committed past the end of the raw topic, and reads every topic to its end: what the
 * processors wrote for that input is then all committed, so a duplicate would be in the read.
 */
export async function collectAndVerify(pipeline: Pipeline, workflows: DrivenWorkflow[], { timeoutMs = 120_000 } = {}): Promise<Verdict> {
  const { kafka, topics } = pipeline;
  const facts = { compactions: pipeline.compactions };
  const collectors = await Promise.all([TopicCollector.start(kafka, topics.raw), TopicCollector.start(kafka, topics.completed), TopicCollector.start(kafka, topics.summary)]);
  const [raw, completed, summary] = collectors as [TopicCollector, TopicCollector, TopicCollector];
  const began = Date.now();
  let completeAt = 0;
  try {
    const check = () => verify(workflows, { raw: raw.records, outputs: { 'completed-filter': completed.records, 'workflow-summary': summary.records }, deadLetters: 0 }, facts);
    while (!check().complete && Date.now() - began < timeoutMs) await sleep(250);
    completeAt = Date.now();
  } finally {
    await Promise.all(collectors.map((c) => c.stop().catch(() => undefined)));
  }
  const rawFinal = await readToEnd(kafka, topics.raw);
  while (!(await groupsCaughtUp(pipeline, rawFinal)) && Date.now() - began < timeoutMs) await sleep(250);
  const [completedFinal, summaryFinal, dlq1, dlq2] = await Promise.all([
    readToEnd(kafka, topics.completed),
    readToEnd(kafka, topics.summary),
    readToEnd(kafka, pipeline.dlqTopic('completed-filter')),
    readToEnd(kafka, pipeline.dlqTopic('workflow-summary')),
  ]);
  const verdict = verify(workflows, { raw: rawFinal, outputs: { 'completed-filter': completedFinal, 'workflow-summary': summaryFinal }, deadLetters: dlq1.length + dlq2.length }, facts);
  if (!(await groupsCaughtUp(pipeline, rawFinal))) verdict.complete = false;
  verdict.completeAt = completeAt;
  return verdict;
}

export interface ScenarioResult {
  scenario: string;
  workflows: number;
  changes: number;
  faults: number;
  faultKinds: Record<string, number>;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  superseded: number;
  /** READ records on the raw topic: each is a relist's view of an object. */
  reads: number;
  deadLetters: number;
  completed: number;
  summaries: number;
  /** Seconds from the last fault until every expected record was there. */
  recoverySeconds: number;
  seconds: number;
  seed: number;
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
    `[faults] ${r.scenario}: changes driven ${r.changes} (${r.workflows} workflows), faults injected ${r.faults} (${kindsText(r.faultKinds)}), ` +
    `records lost ${r.lost}, duplicated ${r.duplicated}, out of order ${r.outOfOrder} | superseded by a relist ${r.superseded} (${r.reads} READ records), ` +
    `completed ${r.completed}, summaries ${r.summaries}, dead letters ${r.deadLetters}, recovered ${r.recoverySeconds.toFixed(1)} s after the last fault, ${r.seconds.toFixed(0)} s, seed ${r.seed}`
  );
}

export function totalLine(results: ScenarioResult[], label = 'total'): string {
  const sum = (f: (r: ScenarioResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const kinds: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(r.faultKinds)) kinds[k] = (kinds[k] ?? 0) + n;
  return (
    `[faults] ${label} (${results.length} scenarios): changes driven ${sum((r) => r.changes)} (${sum((r) => r.workflows)} workflows), ` +
    `faults injected ${sum((r) => r.faults)} (${kindsText(kinds)}), records lost ${sum((r) => r.lost)}, duplicated ${sum((r) => r.duplicated)}, ` +
    `out of order ${sum((r) => r.outOfOrder)}, ${sum((r) => r.seconds).toFixed(0)} s`
  );
}

/** The docs/faults.md table: one row per scenario. */
export function resultTable(results: ScenarioResult[]): string {
  const rows = results.map(
    (r) => `| ${r.scenario} | ${r.changes} (${r.workflows} workflows) | ${kindsText(r.faultKinds)} | ${r.lost} | ${r.duplicated} | ${r.outOfOrder} | ${r.reads} | ${r.superseded} | ${r.recoverySeconds.toFixed(1)} s | ${r.seconds.toFixed(0)} s |`,
  );
  return [
    '| scenario | events driven | faults injected | lost | duplicated | out of order | READs (relists) | superseded | recovered after last fault | scenario time |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
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
  const output = (name: string, c: OutputCheck) =>
    `${name}: ${c.found}/${c.expected}; lost ${list(c.lost)}; duplicates ${list(c.duplicates)}; unexpected ${list(c.unexpected)}; out of order ${list(c.outOfOrder)}`;
  return [
    `raw: ${v.raw.records} records, ${v.raw.present} present, ${v.raw.superseded} superseded, ${v.raw.reads} READ; missing ${list(v.raw.missing)}; final missing ${list(v.raw.finalMissing)}; duplicates ${list(v.raw.duplicates)}; phantoms ${list(v.raw.phantoms)}; out of order ${list(v.raw.outOfOrder)}`,
    output('completed-filter', v.outputs['completed-filter']),
    `completed: ${v.completed.found}/${v.completed.expected} final workflows; spurious ${list(v.completed.spurious)}; wrong phase ${list(v.completed.wrongPhase)}`,
    output('workflow-summary', v.outputs['workflow-summary']),
    `dead letters: ${v.deadLetters}`,
  ].join('\n');
}
