// Replays a processor over a range of its input: a fresh consumer group whose committed offsets
// are set to where the replay starts, the processor run by the kit's runner (exactly once by
// default) until every input partition reaches the end offset it had when the replay started,
// then the group and its state changelog removed. Outputs go to the processor's own topics or to
// others; into topics that already hold outputs, the dedupe of replay-dedupe.ts keeps what is
// there from being written twice. See docs/replay.md.
import type avro from 'avsc';
import { Partitioners, type Admin, type Kafka, type KafkaMessage } from 'kafkajs';
import type { ConnectionConfig } from './config.js';
import { createKafka, createRegistry } from './kafka/client.js';
import type { Logger } from './log.js';
import type { AvroSchema, OutputRecord, ProcessorDefinition } from './kit/processor.js';
import { runProcessor, type DeliveryMode, type ProcessorHandle } from './kit/runner.js';
import { requireInputTopic, resolveTopics, type ResolvedTopics, type TopicOverrides } from './topics.js';
import { WireDecoder, WireEncoder, parseSchema, registerSchema, wireHeader } from './kafka/codec.js';
import { PartitionReader } from './kafka/topic-reader.js';
import type { RunnerStats } from './kit/metrics.js';
import { OutputIndex, ReplayDedupe, canonicalJson } from './replay-dedupe.js';
import { RegistryApi } from './registry-api.js';

type AnyDefinition = ProcessorDefinition<any, any, any>;

export type ReplayFrom = { kind: 'beginning' } | { kind: 'offset'; offset: number } | { kind: 'time'; ms: number };

/** Epoch milliseconds from here on are times, smaller numbers offsets (10^12 ms is September 2001). */
const EPOCH_MS_FLOOR = 1e12;

/** `beginning`, an offset (every partition), a time (ISO 8601 or epoch ms), or explicit `offset:<n>` / `time:<t>`. */
export function parseFrom(text: string): ReplayFrom {
  const value = text.trim();
  if (value === '' || value === 'beginning' || value === 'earliest') return { kind: 'beginning' };
  const offsetMatch = /^offset:(\d+)$/.exec(value);
  if (offsetMatch) return { kind: 'offset', offset: Number(offsetMatch[1]) };
  const timeText = value.startsWith('time:') ? value.slice(5) : value;
  if (/^\d+$/.test(timeText)) {
    const n = Number(timeText);
    if (value.startsWith('time:') || n >= EPOCH_MS_FLOOR) return { kind: 'time', ms: n };
    return { kind: 'offset', offset: n };
  }
  const ms = Date.parse(timeText);
  if (Number.isNaN(ms)) throw new Error(`--from: '${text}' is not 'beginning', an offset or a time (ISO 8601 or epoch ms)`);
  return { kind: 'time', ms };
}

export function describeFrom(from: ReplayFrom): string {
  return from.kind === 'beginning' ? 'the beginning' : from.kind === 'offset' ? `offset ${from.offset}` : new Date(from.ms).toISOString();
}

export interface PartitionRange {
  partition: number;
  start: number;
  /** The end offset when the replay started: the replay stops here. */
  goal: number;
}

export interface ReplayProgress {
  done: number;
  total: number;
  recordsIn: number;
  /** Since the processor started. */
  elapsedMs: number;
}

export type ReplayEvent =
  | { type: 'plan'; input: string; groupId: string; ranges: PartitionRange[]; total: number; topics: ResolvedTopics }
  | { type: 'index-start'; topics: string[] }
  | { type: 'index'; topic: string; records: number; compacted: boolean; unreadable: number }
  | { type: 'started' }
  | { type: 'progress'; progress: ReplayProgress }
  | { type: 'warning'; message: string };

export interface ReplayOptions {
  connection: ConnectionConfig;
  definition: AnyDefinition;
  /** The replay's consumer group (fresh: it must have no committed offsets). */
  groupId: string;
  topics: TopicOverrides;
  from: ReplayFrom;
  mode?: DeliveryMode;
  /** Read existing targets and skip outputs already there (default true). */
  dedupe?: boolean;
  /** Keep the replay's group and changelog topic afterwards (default: delete them). */
  keepGroup?: boolean;
  /** The live processor's group: a warning when it lags behind the replay's end offsets. */
  liveGroupId?: string;
  logger: Logger;
  maxBatchRecords?: number;
  /** Polling interval of the group's offsets (default 500 ms). */
  pollMs?: number;
  onEvent?: (event: ReplayEvent) => void;
  /** Aborting stops the replay early (Ctrl-C); the report says it was interrupted. */
  signal?: AbortSignal;
}

export interface OutputReport {
  output: string;
  topic: string;
  /** Written by the runner, plus the final writes of compacted keys. */
  written: number;
  /** Not written: already in the topic. */
  duplicates: number;
  /** Not written: an older value of a compacted key whose current value the topic holds. */
  superseded: number;
  finalWrites: number;
}

export interface ReplayReport {
  processor: string;
  groupId: string;
  input: string;
  from: string;
  ranges: PartitionRange[];
  /** Input offsets in the range (transaction markers included, so an upper bound of the records). */
  total: number;
  recordsRead: number;
  /** Records past the goal the runner saw and ignored (the input kept growing). */
  ignoredPastGoal: number;
  outputs: OutputReport[];
  deadLetters: { topic: string; count: number; byReason: RunnerStats['deadLetters'] };
  /** Target topics that existed and were read before the replay, and how many records they held. */
  dedupe: { enabled: boolean; indexedRecords: number; indexedTopics: string[] };
  durationMs: number;
  /** From the start of the processor to the last partition reaching its goal. */
  processingMs: number;
  /** Records read per second of processing. */
  recordsPerSecond: number;
  interrupted: boolean;
  kept: string[];
  deleted: string[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A PartitionReader over [start, end) instead of the whole partition. */
export class RangeReader extends PartitionReader {
  private range: { start: number; end: number } | undefined;

  override async bounds(topic: string, partition: number): Promise<{ start: number; end: number }> {
    const whole = await super.bounds(topic, partition);
    if (!this.range) return whole;
    return { start: Math.max(whole.start, this.range.start), end: Math.min(whole.end, this.range.end) };
  }

  /** Whether [start, end) holds a committed record (transaction markers and aborted records are not). */
  async hasRecords(topic: string, partition: number, start: number, end: number): Promise<boolean> {
    this.range = { start, end };
    let found = false;
    try {
      await this.readToEnd(topic, partition, () => (found = true), { cancelled: () => found });
    } finally {
      this.range = undefined;
    }
    return found;
  }
}

async function topicPolicies(admin: Admin, topics: string[]): Promise<Map<string, string>> {
  const policies = new Map<string, string>();
  if (topics.length === 0) return policies;
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: 2, name, configNames: ['cleanup.policy'] })),
  });
  for (const r of resources) policies.set(r.resourceName, r.configEntries.find((c) => c.configName === 'cleanup.policy')?.configValue ?? 'delete');
  return policies;
}

/** Reads each existing target topic to its end into an index of what it holds. */
async function buildIndex(
  kafka: Kafka,
  admin: Admin,
  connection: ConnectionConfig,
  targets: Array<{ topic: string; schema: AvroSchema; type: avro.Type }>,
  onEvent: (event: ReplayEvent) => void,
  cancelled: () => boolean,
): Promise<{ index: OutputIndex; topics: string[] }> {
  const index = new OutputIndex();
  const existing = new Set(await admin.listTopics());
  const present = targets.filter((t) => existing.has(t.topic));
  if (present.length === 0) return { index, topics: [] };
  onEvent({ type: 'index-start', topics: present.map((t) => t.topic) });
  const policies = await topicPolicies(admin, present.map((t) => t.topic));
  const registry = createRegistry(connection);
  const api = new RegistryApi(connection);
  const reader = new PartitionReader(kafka);
  try {
    for (const target of present) {
      const compacted = (policies.get(target.topic) ?? '').includes('compact');
      if (compacted) index.markCompacted(target.topic);
      // The id of the declared schema decodes without asking the registry; other ids are fetched.
      const subject = `${target.topic}-value`;
      const id = await api.lookup(subject, JSON.stringify(target.schema)).catch(() => undefined);
      const decoder = new WireDecoder(registry, target.type, id);
      await decoder.prepare((await api.versionIds(subject).catch(() => [])).map(wireHeader));
      const { topics } = await admin.fetchTopicMetadata({ topics: [target.topic] });
      let records = 0;
      let unreadable = 0;
      for (const { partitionId } of topics[0]?.partitions ?? []) {
        // Values of schema ids not prepared yet wait until the partition is read (in order, so the
        // latest value per key stays the latest).
        let waiting: KafkaMessage[] = [];
        const add = (message: KafkaMessage) => {
          const key = message.key ? message.key.toString('utf8') : null;
          if (message.value === null) {
            index.add(target.topic, key, null);
            records++;
            return;
          }
          const decoded = decoder.decode(message.value);
          if (!decoded.ok) {
            unreadable++;
            return;
          }
          index.add(target.topic, key, canonicalJson(decoded.value));
          records++;
        };
        const flush = async () => {
          if (waiting.length === 0) return;
          await decoder.prepare(waiting.map((m) => m.value));
          const batch = waiting;
          waiting = [];
          for (const message of batch) add(message);
        };
        await reader.readToEnd(
          target.topic,
          partitionId,
          (message) => {
            if (waiting.length > 0 || !decoder.isPrepared(message.value)) waiting.push(message);
            else add(message);
          },
          { cancelled },
        );
        await flush();
      }
      onEvent({ type: 'index', topic: target.topic, records, compacted, unreadable });
    }
  } finally {
    await reader.close();
  }
  return { index, topics: present.map((t) => t.topic) };
}

/** The replay's starting offset of each partition, within what the topic holds. */
async function startOffsets(admin: Admin, topic: string, from: ReplayFrom): Promise<PartitionRange[]> {
  const marks = await admin.fetchTopicOffsets(topic);
  const byTime = from.kind === 'time' ? await admin.fetchTopicOffsetsByTimestamp(topic, from.ms) : [];
  return marks
    .map(({ partition, low, high }) => {
      const lo = Number(low);
      const hi = Number(high);
      let start = lo;
      if (from.kind === 'offset') start = from.offset;
      if (from.kind === 'time') start = Number(byTime.find((p) => p.partition === partition)?.offset ?? hi);
      return { partition, start: Math.min(Math.max(start, lo), hi), goal: hi };
    })
    .sort((a, b) => a.partition - b.partition);
}

export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  const began = Date.now();
  const { definition, groupId, connection, logger } = options;
  const onEvent = options.onEvent ?? (() => undefined);
  const cancelled = () => options.signal?.aborted === true;
  const topics = resolveTopics(definition, groupId, options.topics);
  const kafka = createKafka(connection, logger, `${connection.kafkaClientId}-replay`);
  const admin = kafka.admin();
  const dedupeEnabled = options.dedupe ?? true;
  const report: ReplayReport = {
    processor: definition.name,
    groupId,
    input: topics.input,
    from: describeFrom(options.from),
    ranges: [],
    total: 0,
    recordsRead: 0,
    ignoredPastGoal: 0,
    outputs: Object.entries(topics.outputs).map(([output, topic]) => ({ output, topic, written: 0, duplicates: 0, superseded: 0, finalWrites: 0 })),
    deadLetters: { topic: topics.deadLetter, count: 0, byReason: {} },
    dedupe: { enabled: dedupeEnabled, indexedRecords: 0, indexedTopics: [] },
    durationMs: 0,
    processingMs: 0,
    recordsPerSecond: 0,
    interrupted: false,
    kept: [],
    deleted: [],
  };
  await admin.connect();
  let handle: ProcessorHandle | undefined;
  let groupUsed = false;
  try {
    await requireInputTopic(admin, topics.input, definition.name);
    const existingOffsets = await admin.fetchOffsets({ groupId, topics: [topics.input] });
    if (existingOffsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0))) {
      throw new Error(`consumer group '${groupId}' already has committed offsets: a replay needs a fresh group`);
    }
    const ranges = await startOffsets(admin, topics.input, options.from);
    const goals = new Map(ranges.map((r) => [r.partition, r.goal]));
    const total = ranges.reduce((n, r) => n + (r.goal - r.start), 0);
    report.ranges = ranges;
    report.total = total;
    onEvent({ type: 'plan', input: topics.input, groupId, ranges, total, topics });
    if (total === 0) return report;

    const outputTypes = new Map<string, { topic: string; schema: AvroSchema; type: avro.Type }>();
    for (const [name, topic] of Object.entries(topics.outputs)) {
      const schema = (definition.outputs as Record<string, { schema: AvroSchema }>)[name]!.schema;
      outputTypes.set(name, { topic, schema, type: parseSchema(schema, `${definition.name} output '${name}'`) });
    }

    // The live processor writes the same topics: outputs it writes for this range after the
    // index is read would not be in it.
    if (options.liveGroupId && dedupeEnabled) {
      const [live] = await admin.fetchOffsets({ groupId: options.liveGroupId, topics: [topics.input] });
      const committed = live?.partitions.filter((p) => Number(p.offset) >= 0) ?? [];
      if (committed.length > 0) {
        const lag = ranges.reduce((n, r) => {
          const at = Number(committed.find((p) => p.partition === r.partition)?.offset ?? 0);
          return n + Math.max(0, r.goal - at);
        }, 0);
        if (lag > 0) {
          onEvent({
            type: 'warning',
            message: `the live group '${options.liveGroupId}' is ${lag} input records behind the replay's end: outputs it writes during the replay are not deduplicated (let it catch up or stop it first)`,
          });
        }
      }
    }

    let index = new OutputIndex();
    if (dedupeEnabled) {
      const distinct = new Map<string, { topic: string; schema: AvroSchema; type: avro.Type }>();
      for (const t of outputTypes.values()) if (!distinct.has(t.topic)) distinct.set(t.topic, t);
      const built = await buildIndex(kafka, admin, connection, [...distinct.values()], onEvent, cancelled);
      index = built.index;
      report.dedupe.indexedRecords = index.records;
      report.dedupe.indexedTopics = built.topics;
    }
    if (cancelled()) {
      report.interrupted = true;
      return report;
    }

    // The replay's process(): only the range, and only what the targets do not hold yet.
    type Output = OutputRecord<Record<string, unknown>>;
    const dedupe = new ReplayDedupe<Output>(index);
    const useIndex = index.records > 0;
    let pastGoal = 0;
    const wrapped: AnyDefinition = {
      ...definition,
      process(record, context) {
        const offset = Number(record.offset);
        if (offset >= (goals.get(record.partition) ?? 0)) {
          pastGoal++;
          return [];
        }
        const results = definition.process(record, context) as Output[];
        if (!useIndex || !Array.isArray(results)) return results;
        return results.filter((out) => {
          const target = outputTypes.get(out.output);
          if (!target) return true; // an undeclared output: the runner dead-letters the record
          let canonical: string | null = null;
          if (out.value !== null && out.value !== undefined) {
            try {
              canonical = canonicalJson(target.type.fromBuffer(target.type.toBuffer(out.value)));
            } catch {
              return true; // does not conform to its schema: the runner dead-letters the record
            }
          }
          return dedupe.decide(target.topic, out.key ?? null, canonical, { partition: record.partition, offset }, out) === 'emit';
        });
      },
    };

    await admin.setOffsets({ groupId, topic: topics.input, partitions: ranges.map((r) => ({ partition: r.partition, offset: String(r.start) })) });
    groupUsed = true;
    handle = await runProcessor(wrapped, {
      connection,
      groupId,
      topics: { input: topics.input, outputs: topics.outputs, changelog: topics.changelog, deadLetter: topics.deadLetter },
      mode: options.mode ?? 'exactly-once',
      fromBeginning: true,
      handleSignals: false,
      logger,
      maxBatchRecords: options.maxBatchRecords,
    });
    onEvent({ type: 'started' });
    const processingBegan = Date.now();

    // Progress: the group's committed offsets against the goals.
    const finished = new Set<number>(ranges.filter((r) => r.start >= r.goal).map((r) => r.partition));
    const rangeReader = new RangeReader(kafka);
    let failure: Error | undefined;
    handle.done.catch((error: Error) => (failure = error));
    let lastActivity = -1;
    let quietSince = Date.now();
    try {
      for (;;) {
        if (failure) throw failure;
        if (cancelled()) {
          report.interrupted = true;
          break;
        }
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topics.input] });
        let done = 0;
        for (const r of ranges) {
          const committed = Number(offsets?.partitions.find((p) => p.partition === r.partition)?.offset ?? -1);
          if (committed >= r.goal) finished.add(r.partition);
          done += finished.has(r.partition) ? r.goal - r.start : Math.max(0, Math.min(committed, r.goal) - r.start);
        }
        const stats = handle.stats();
        onEvent({ type: 'progress', progress: { done, total, recordsIn: stats.recordsIn, elapsedMs: Date.now() - processingBegan } });
        if (finished.size === ranges.length) break;

        // A partition can stop short of its goal when what is left there is only transaction
        // markers or aborted records (the consumer skips them without a batch to commit): when
        // the runner has been quiet for a while, look.
        const activity = stats.recordsIn + stats.skipped + stats.commits + stats.aborts;
        if (activity !== lastActivity) {
          lastActivity = activity;
          quietSince = Date.now();
        } else if (handle.ready() && Date.now() - quietSince > 2_000) {
          for (const r of ranges) {
            if (finished.has(r.partition)) continue;
            const committed = Number(offsets?.partitions.find((p) => p.partition === r.partition)?.offset ?? -1);
            const from = Math.max(committed, r.start);
            if (!(await rangeReader.hasRecords(topics.input, r.partition, from, r.goal))) finished.add(r.partition);
          }
          quietSince = Date.now();
        }
        await sleep(options.pollMs ?? 500);
      }
    } finally {
      await rangeReader.close();
    }

    report.processingMs = Date.now() - processingBegan;
    await handle.stop();
    const stats = handle.stats();
    handle = undefined;
    report.recordsRead = stats.recordsIn - pastGoal;
    report.ignoredPastGoal = pastGoal;
    report.deadLetters.count = Object.values(stats.deadLetters).reduce((n, c) => n + (c ?? 0), 0);
    report.deadLetters.byReason = stats.deadLetters;
    for (const output of report.outputs) {
      output.written = stats.recordsOut[output.output] ?? 0;
      const counts = dedupe.counts.get(output.topic);
      output.duplicates = counts?.duplicate ?? 0;
      output.superseded = counts?.superseded ?? 0;
    }

    // Compacted keys the replay left behind the topic's value: its last output for them.
    if (!report.interrupted) {
      const writes = dedupe.finalWrites();
      if (writes.length > 0) await writeFinal(kafka, connection, writes, outputTypes, report);
    }
  } finally {
    if (handle) await handle.stop().catch(() => undefined);
    try {
      if (groupUsed) await cleanUp(admin, options, topics, report);
    } finally {
      await admin.disconnect();
    }
    report.durationMs = Date.now() - began;
    report.recordsPerSecond = report.processingMs > 0 ? Math.round((report.recordsRead / report.processingMs) * 1000) : 0;
  }
  return report;
}

async function writeFinal(
  kafka: Kafka,
  connection: ConnectionConfig,
  writes: Array<{ topic: string; key: string | null; output: OutputRecord<Record<string, unknown>> }>,
  outputTypes: Map<string, { topic: string; schema: AvroSchema; type: avro.Type }>,
  report: ReplayReport,
): Promise<void> {
  const registry = createRegistry(connection);
  const encoders = new Map<string, WireEncoder>();
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    retry: { retries: Number.MAX_SAFE_INTEGER },
  });
  await producer.connect();
  try {
    const byTopic = new Map<string, Array<{ key: string | null; value: Buffer | null; headers?: Record<string, string> }>>();
    for (const { topic, key, output } of writes) {
      const target = outputTypes.get(output.output)!;
      let encoder = encoders.get(topic);
      if (!encoder) {
        encoder = new WireEncoder(target.type, await registerSchema(registry, `${topic}-value`, target.schema));
        encoders.set(topic, encoder);
      }
      const list = byTopic.get(topic) ?? [];
      list.push({ key, value: output.value === null || output.value === undefined ? null : encoder.encode(output.value), headers: output.headers });
      byTopic.set(topic, list);
      const entry = report.outputs.find((o) => o.output === output.output);
      if (entry) {
        entry.finalWrites++;
        entry.written++;
      }
    }
    for (const [topic, messages] of byTopic) await producer.send({ topic, messages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

async function cleanUp(admin: Admin, options: ReplayOptions, topics: ResolvedTopics, report: ReplayReport): Promise<void> {
  const defaultDeadLetter = `${options.groupId}.dlq`;
  const existing = new Set(await admin.listTopics());
  const removable: string[] = [];
  if (options.keepGroup) {
    report.kept.push(`group ${options.groupId}`);
    if (topics.changelog && existing.has(topics.changelog)) report.kept.push(topics.changelog);
  } else {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.deleteGroups([options.groupId]);
        report.deleted.push(`group ${options.groupId}`);
        break;
      } catch (error) {
        // Right after the consumer left, the coordinator may still count it as a member.
        if (attempt >= 10) {
          options.onEvent?.({ type: 'warning', message: `could not delete the consumer group ${options.groupId}: ${(error as Error).message}` });
          report.kept.push(`group ${options.groupId}`);
          break;
        }
        await sleep(500);
      }
    }
    if (topics.changelog && existing.has(topics.changelog)) removable.push(topics.changelog);
  }
  // The replay's own dead-letter topic, when nothing went there: it would only be clutter.
  if (topics.deadLetter === defaultDeadLetter && existing.has(defaultDeadLetter)) {
    if (report.deadLetters.count === 0 && !options.keepGroup) removable.push(defaultDeadLetter);
    else report.kept.push(defaultDeadLetter);
  }
  if (removable.length > 0) {
    try {
      await admin.deleteTopics({ topics: removable, timeout: 10_000 });
      report.deleted.push(...removable);
    } catch (error) {
      options.onEvent?.({ type: 'warning', message: `could not delete ${removable.join(', ')}: ${(error as Error).message}` });
      report.kept.push(...removable);
    }
  }
}
