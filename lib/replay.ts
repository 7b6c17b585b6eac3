// Replays a processor over a range of its input: a fresh consumer group whose committed offsets
// are set to where the replay starts, the processor run by the kit's runner (exactly once by
// default) until every input partition reaches the end offset it had when the replay started,
// then the group and its state changelog removed. Outputs go to the processor's own topics or to
// others; into topics that already hold outputs, the dedupe of replay-dedupe.ts keeps what is
// there from being written twice. See docs/replay.md.
import type avro from 'avsc';
import { Partitioners, type Admin, type Kafka, type KafkaMessage, type Message } from 'kafkajs';
import type { ConnectionConfig } from './config.js';
import { createKafka, createRegistry } from './kafka/client.js';
import type { Logger } from './log.js';
import type { AvroSchema, ProcessorDefinition } from './kit/processor.js';
import type { EncodedOutput, TaskHooks } from './kit/task.js';
import { runProcessor, type DeliveryMode } from './kit/runner.js';
import { requireInputTopic, resolveTopics, topicConfigs, type ResolvedTopics, type TopicOverrides } from './topics.js';
import { HEADER_SIZE, TransientError, WireDecoder, parseSchema, wireHeader } from './kafka/codec.js';
import { PartitionReader } from './kafka/topic-reader.js';
import type { RunnerStats } from './kit/metrics.js';
import { OutputIndex, ReplayDedupe, canonicalJson } from './replay-dedupe.js';
import { RegistryApi } from './registry-api.js';
import { retry, sleep } from './async.js';
import { describeStart, parseStartPosition, startOffset, type StartPosition } from './kafka/start-position.js';

type AnyDefinition = ProcessorDefinition<any, any, any>;

/** Where the replay starts: the syntax of lib/kafka/start-position.ts, shared with subscribe and dlq. */
export type ReplayFrom = StartPosition;
export const parseFrom = parseStartPosition;
export const describeFrom = describeStart;

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
  /** As for the processor service (RunProcessorOptions): records per transaction and fetch sizes. */
  maxBatchRecords?: number;
  maxBytesPerPartition?: number;
  maxBytesPerFetch?: number;
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
  /** Chunks of input committed (transactions in exactly-once): at most one fetch and maxBatchRecords each. */
  commits: number;
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

/** decoder.prepare(), riding out a registry that does not answer yet (or still answers 404 while it loads). */
function prepareSchemas(decoder: WireDecoder<unknown>, values: Array<Buffer | null>): Promise<void> {
  return retry(() => decoder.prepare(values), { initialMs: 100, maxMs: 2_000, timeoutMs: 120_000, retriable: (error) => error instanceof TransientError });
}

async function topicPolicies(admin: Admin, topics: string[]): Promise<Map<string, string>> {
  const configs = await topicConfigs(admin, topics, ['cleanup.policy']);
  return new Map(topics.map((topic) => [topic, configs.get(topic)?.get('cleanup.policy') ?? 'delete']));
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
      await prepareSchemas(decoder, (await api.versionIds(subject).catch(() => [])).map(wireHeader));
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
          await prepareSchemas(decoder, waiting.map((m) => m.value));
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
      const atTime = byTime.find((p) => p.partition === partition)?.offset;
      return { partition, start: startOffset(from, lo, hi, atTime === undefined ? undefined : Number(atTime)), goal: hi };
    })
    .sort((a, b) => a.partition - b.partition);
}

type OutputTarget = { topic: string; schema: AvroSchema; type: avro.Type };

function emptyReport(options: ReplayOptions, topics: ResolvedTopics): ReplayReport {
  return {
    processor: options.definition.name,
    groupId: options.groupId,
    input: topics.input,
    from: describeFrom(options.from),
    ranges: [],
    total: 0,
    recordsRead: 0,
    commits: 0,
    ignoredPastGoal: 0,
    outputs: Object.entries(topics.outputs).map(([output, topic]) => ({ output, topic, written: 0, duplicates: 0, superseded: 0, finalWrites: 0 })),
    deadLetters: { topic: topics.deadLetter, count: 0, byReason: {} },
    dedupe: { enabled: options.dedupe ?? true, indexedRecords: 0, indexedTopics: [] },
    durationMs: 0,
    processingMs: 0,
    recordsPerSecond: 0,
    interrupted: false,
    kept: [],
    deleted: [],
  };
}

/** The declared schema of every output, under its target topic. */
function outputTargets(definition: AnyDefinition, topics: ResolvedTopics): Map<string, OutputTarget> {
  const targets = new Map<string, OutputTarget>();
  for (const [name, topic] of Object.entries(topics.outputs)) {
    const schema = (definition.outputs as Record<string, { schema: AvroSchema }>)[name]!.schema;
    targets.set(name, { topic, schema, type: parseSchema(schema, `${definition.name} output '${name}'`) });
  }
  return targets;
}

/** The live processor writes the same topics: outputs it writes for this range after the index is read would not be in it. */
async function warnAboutLiveGroup(admin: Admin, options: ReplayOptions, input: string, ranges: PartitionRange[], onEvent: (event: ReplayEvent) => void): Promise<void> {
  if (!options.liveGroupId || options.dedupe === false) return;
  const [live] = await admin.fetchOffsets({ groupId: options.liveGroupId, topics: [input] });
  const committed = live?.partitions.filter((p) => Number(p.offset) >= 0) ?? [];
  if (committed.length === 0) return;
  const lag = ranges.reduce((n, r) => n + Math.max(0, r.goal - Number(committed.find((p) => p.partition === r.partition)?.offset ?? 0)), 0);
  if (lag > 0) {
    onEvent({
      type: 'warning',
      message: `the live group '${options.liveGroupId}' is ${lag} input records behind the replay's end: outputs it writes during the replay are not deduplicated (let it catch up or stop it first)`,
    });
  }
}

/**
 * The replay's filters on the task: records past their partition's goal are ignored, and outputs
 * the targets already hold are not sent. The dedupe reads the encoded output (decoded once for its
 * canonical form), so each output is encoded once, by the task.
 */
function replayHooks(ranges: PartitionRange[], targets: Map<string, OutputTarget>, dedupe: ReplayDedupe<EncodedOutput>, useIndex: boolean, counters: { pastGoal: number; beforeStart: number }): TaskHooks {
  const goals = new Map(ranges.map((r) => [r.partition, r.goal]));
  const starts = new Map(ranges.map((r) => [r.partition, r.start]));
  return {
    acceptInput(partition, offset) {
      const at = Number(offset);
      // Before the start: only after a consumer restart without a commit yet (kafkajs then starts
      // the fresh group at the log start); passed over, not counted as read.
      if (at < (starts.get(partition) ?? 0)) {
        counters.beforeStart++;
        return false;
      }
      if (at < (goals.get(partition) ?? 0)) return true;
      counters.pastGoal++;
      return false;
    },
    acceptOutput: useIndex
      ? (encoded, input) => {
          const target = targets.get(encoded.output.name)!;
          const body = encoded.message.value;
          const canonical = body === null ? null : canonicalJson(target.type.fromBuffer(body.subarray(HEADER_SIZE)));
          return dedupe.decide(target.topic, encoded.message.key === null || encoded.message.key === undefined ? null : String(encoded.message.key), canonical, { partition: input.partition, offset: Number(input.offset) }, encoded) === 'emit';
        }
      : undefined,
  };
}

/** Partitions reach their goals: told by the runner at each commit, or by an empty (filtered) fetch. */
class GoalTracker {
  private readonly positions = new Map<number, number>();
  private readonly unfinished: Set<number>;
  private wake: (() => void) | undefined;

  constructor(private readonly ranges: PartitionRange[]) {
    for (const r of ranges) this.positions.set(r.partition, r.start);
    this.unfinished = new Set(ranges.filter((r) => r.start < r.goal).map((r) => r.partition));
  }

  advance = (partition: number, nextOffset: number): void => {
    const range = this.ranges.find((r) => r.partition === partition);
    if (!range) return;
    this.positions.set(partition, Math.max(this.positions.get(partition) ?? 0, nextOffset));
    if (nextOffset >= range.goal) this.unfinished.delete(partition);
    this.wake?.();
  };

  get finished(): boolean {
    return this.unfinished.size === 0;
  }

  /** Input offsets of the range behind the current positions. */
  done(): number {
    return this.ranges.reduce((n, r) => n + Math.max(0, Math.min(this.positions.get(r.partition) ?? r.start, r.goal) - r.start), 0);
  }

  /** Resolves at the next advance, or after ms. */
  next(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      const self = this;
      function finish() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = finish;
    });
  }
}

interface RangeRun {
  stats: RunnerStats;
  processingMs: number;
  interrupted: boolean;
}

/** Runs the processor over the ranges until every partition reaches its goal (or the replay is cancelled). */
async function runRanges(options: ReplayOptions, topics: ResolvedTopics, ranges: PartitionRange[], hooks: TaskHooks, onEvent: (event: ReplayEvent) => void): Promise<RangeRun> {
  const tracker = new GoalTracker(ranges);
  const total = ranges.reduce((n, r) => n + (r.goal - r.start), 0);
  const handle = await runProcessor(options.definition, {
    connection: options.connection,
    groupId: options.groupId,
    topics: { input: topics.input, outputs: topics.outputs, changelog: topics.changelog, deadLetter: topics.deadLetter },
    mode: options.mode ?? 'exactly-once',
    fromBeginning: true,
    startOffsets: new Map(ranges.filter((r) => r.start > 0).map((r) => [r.partition, r.start])),
    handleSignals: false,
    logger: options.logger,
    maxBatchRecords: options.maxBatchRecords,
    maxBytesPerPartition: options.maxBytesPerPartition,
    maxBytesPerFetch: options.maxBytesPerFetch,
    hooks,
    onCommit: tracker.advance,
    onEmptyBatch: tracker.advance,
  });
  onEvent({ type: 'started' });
  const began = Date.now();
  let failure: Error | undefined;
  handle.done.catch((error: Error) => (failure = error));
  let interrupted = false;
  try {
    for (;;) {
      if (failure) throw failure;
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const stats = handle.stats();
      onEvent({ type: 'progress', progress: { done: tracker.done(), total, recordsIn: stats.recordsIn, elapsedMs: Date.now() - began } });
      if (tracker.finished) break;
      await tracker.next(options.pollMs ?? 250);
    }
  } finally {
    await handle.stop();
  }
  return { stats: handle.stats(), processingMs: Date.now() - began, interrupted };
}

export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  const began = Date.now();
  const { definition, groupId, connection, logger } = options;
  const onEvent = options.onEvent ?? (() => undefined);
  const cancelled = () => options.signal?.aborted === true;
  const topics = resolveTopics(definition, groupId, options.topics);
  const kafka = createKafka(connection, logger, `${connection.kafkaClientId}-replay`);
  const admin = kafka.admin();
  const report = emptyReport(options, topics);
  await admin.connect();
  let groupUsed = false;
  try {
    await requireInputTopic(admin, topics.input, definition.name);
    const existingOffsets = await admin.fetchOffsets({ groupId, topics: [topics.input] });
    if (existingOffsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0))) {
      throw new Error(`consumer group '${groupId}' already has committed offsets: a replay needs a fresh group`);
    }
    const ranges = await startOffsets(admin, topics.input, options.from);
    report.ranges = ranges;
    report.total = ranges.reduce((n, r) => n + (r.goal - r.start), 0);
    onEvent({ type: 'plan', input: topics.input, groupId, ranges, total: report.total, topics });
    if (report.total === 0) return report;

    const targets = outputTargets(definition, topics);
    await warnAboutLiveGroup(admin, options, topics.input, ranges, onEvent);
    let index = new OutputIndex();
    if (report.dedupe.enabled) {
      const distinct = new Map<string, OutputTarget>();
      for (const t of targets.values()) if (!distinct.has(t.topic)) distinct.set(t.topic, t);
      const built = await buildIndex(kafka, admin, connection, [...distinct.values()], onEvent, cancelled);
      index = built.index;
      report.dedupe.indexedRecords = index.records;
      report.dedupe.indexedTopics = built.topics;
    }
    if (cancelled()) {
      report.interrupted = true;
      return report;
    }

    const dedupe = new ReplayDedupe<EncodedOutput>(index);
    const counters = { pastGoal: 0, beforeStart: 0 };
    const hooks = replayHooks(ranges, targets, dedupe, index.records > 0, counters);
    // The fresh group starts at each range's start: the runner seeks there when a partition is
    // first assigned (no offsets are committed beforehand: kafkajs' admin.setOffsets waits out a
    // whole fetch of a paused consumer, 5 s), and the task ignores anything outside the range.
    groupUsed = true;
    const run = await runRanges(options, topics, ranges, hooks, onEvent);
    summarize(report, run, counters, dedupe);
    // Compacted keys the replay left behind the topic's value: its last output for them.
    if (!report.interrupted) {
      const writes = dedupe.finalWrites();
      if (writes.length > 0) await writeFinal(kafka, writes, report);
    }
  } finally {
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

function summarize(report: ReplayReport, run: RangeRun, counters: { pastGoal: number; beforeStart: number }, dedupe: ReplayDedupe<EncodedOutput>): void {
  const { pastGoal, beforeStart } = counters;
  const { stats } = run;
  report.processingMs = run.processingMs;
  report.interrupted = run.interrupted;
  // Records past the goal are read by the consumer but not processed: the task ignores them.
  report.recordsRead = stats.recordsIn - pastGoal - beforeStart;
  report.commits = stats.commits;
  report.ignoredPastGoal = pastGoal;
  report.deadLetters.count = Object.values(stats.deadLetters).reduce((n, c) => n + (c ?? 0), 0);
  report.deadLetters.byReason = stats.deadLetters;
  for (const output of report.outputs) {
    output.written = stats.recordsOut[output.output] ?? 0;
    const counts = dedupe.counts.get(output.topic);
    output.duplicates = counts?.duplicate ?? 0;
    output.superseded = counts?.superseded ?? 0;
  }
}

/** Sends the final values of compacted keys, as the task encoded them (same schema id and bytes). */
async function writeFinal(kafka: Kafka, writes: Array<{ topic: string; key: string | null; output: EncodedOutput }>, report: ReplayReport): Promise<void> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    retry: { retries: Number.MAX_SAFE_INTEGER },
  });
  await producer.connect();
  try {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, output } of writes) {
      const list = byTopic.get(topic) ?? [];
      list.push({ key: output.message.key, value: output.message.value, headers: output.message.headers });
      byTopic.set(topic, list);
      const entry = report.outputs.find((o) => o.output === output.output.name);
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
