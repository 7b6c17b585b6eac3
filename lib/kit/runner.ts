// Runs a ProcessorDefinition against Kafka: consume, decode, process, encode, produce, commit.
//
// Exactly once (the default) is the classic Kafka Streams "EOS v1" design, because kafkajs has
// no KIP-447 (a transaction cannot carry the consumer group's generation): one transactional
// producer per assigned input partition, with transactional.id `<group>-<input topic>-<partition>`.
// When an instance takes partition p it first initialises that producer, which fences the
// previous owner of p (its open transaction is aborted, a committing one completes first), then
// reads the group's committed offset of p and the state changelog of p to their end: both are
// final, so nothing the previous owner did can be half-seen or undone later. Each batch of
// records of p is one transaction holding its outputs, state changelog writes, dead letters and
// the input offset after it (sendOffsets); a crash at any moment leaves either all of a batch or
// none of it. Records below the committed offset are skipped, so a batch fetched before the
// previous owner's last commit landed is not processed twice.
//
// At least once: one idempotent producer; a batch's records are sent and acknowledged, then the
// input offset is committed. A crash between the two repeats the batch.
//
// A record that cannot be decoded, or whose process() throws, or that produces an invalid output
// goes to the dead-letter topic in the same transaction (see dead-letter.ts); the processor goes
// on. A Schema Registry that does not answer stops the partition, not the records: the batch is
// retried (with heartbeats) until it answers, and nothing is dead-lettered because of it.
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Partitioners,
  type Admin,
  type Batch,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Registry } from 'prom-client';
import type { ConnectionConfig } from '../config.js';
import { createKafka, createRegistry } from '../kafka/client.js';
import { createLogger, type Logger } from '../log.js';
import { createMetricsRegistry, startServiceHttp } from '../http.js';
import type { InputRecord, OutputRecord, ProcessorContext, ProcessorDefinition } from './processor.js';
import { TransientError, WireDecoder, WireEncoder, explainInvalid, parseSchema, registerSchema } from '../kafka/codec.js';
import { deadLetterMessage, type DeadLetterReason } from './dead-letter.js';
import { PartitionStore, StateError, UndeclaredStore, foldChangelog } from './state-store.js';
import { PartitionReader } from '../kafka/topic-reader.js';
import { ensureTopics, maxMessageBytes, requireInputTopic, resolveTopics, type ResolvedTopics, type TopicOverrides, type TopicSpec } from '../topics.js';
import { messageBytes, splitTopicMessages } from '../kafka/batching.js';
import { RunnerMetrics, type RunnerStats } from './metrics.js';

export type DeliveryMode = 'exactly-once' | 'at-least-once';

export type { ResolvedTopics, TopicOverrides };

export interface RunProcessorOptions {
  connection: ConnectionConfig;
  topics?: TopicOverrides;
  /** Consumer group, transactional id prefix and default topic prefix; defaults to the definition's name. */
  groupId?: string;
  /** Default exactly-once. */
  mode?: DeliveryMode;
  /** Where a group without committed offsets starts: the beginning (default, as Kafka Streams) or the end. */
  fromBeginning?: boolean;
  /** Serve /healthz, /readyz and /metrics on this port (0 picks a free one); none when undefined. */
  httpPort?: number;
  httpHost?: string;
  logger?: Logger;
  /** Most input records in one transaction (default 500). */
  maxBatchRecords?: number;
  /** Most bytes per produce call within a transaction (default 900 kB, under the broker's 1 MB batch limit). */
  maxBatchBytes?: number;
  /** Partitions processed at the same time (default 4). */
  concurrency?: number;
  /** Consumer group session timeout (default 10 s; the broker's minimum is usually 6 s). */
  sessionTimeoutMs?: number;
  /** Broker-side timeout of a transaction left open by a crashed instance (default 60 s). */
  transactionTimeoutMs?: number;
  /** Stop gracefully on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
  /** Registry the metrics go to; a new one (with process metrics) by default. */
  metricsRegistry?: Registry;
  /** How long start-up may wait for Kafka and the Schema Registry (default 60 s). */
  startupTimeoutMs?: number;
}

export interface ProcessorHandle {
  readonly name: string;
  readonly groupId: string;
  readonly mode: DeliveryMode;
  readonly topics: ResolvedTopics;
  /** The port /metrics is served on, when httpPort was given. */
  readonly httpPort: number | undefined;
  /** Joined the group and processing (or idle, caught up). */
  ready(): boolean;
  readonly metrics: Registry;
  /** The counters behind the metrics, as plain numbers. */
  stats(): RunnerStats;
  /** Finishes the batch in progress, commits it, leaves the group and closes everything. */
  stop(): Promise<void>;
  /** Resolves after stop(); rejects when the runner fails and cannot go on. */
  readonly done: Promise<void>;
}

interface OutputSpec {
  name: string;
  topic: string;
  encoder: WireEncoder;
  /** Index into the per-batch message arrays. */
  slot: number;
  /** Largest record the topic accepts (its max.message.bytes less batch framing). */
  maxRecordBytes: number;
}

/** Record batch framing, taken off a topic's max.message.bytes to get the largest single record. */
const BATCH_FRAMING = 512;

type RecordScope = {
  beginRecord(): void;
  acceptRecord(): void;
  rejectRecord(): void;
  recordError: StateError | undefined;
};

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** The work of one input partition: its producer (exactly once), its state, its position. */
class PartitionTask {
  readonly mutex = new Mutex();
  ready = false;
  producer: Producer | undefined;
  store: PartitionStore<unknown> | undefined;
  /** Next input offset to process; records below it are already committed. -1: unknown. */
  position = -1;
  constructor(readonly partition: number) {}
}

/** Thrown out of eachBatch when stop() interrupts a restore or a retry; not an error. */
class StopRequested extends Error {
  override name = 'StopRequested';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (headers) {
    for (const name in headers) {
      const value = headers[name];
      const last = Array.isArray(value) ? value[value.length - 1] : value;
      if (last !== undefined) result[name] = last.toString();
    }
  }
  return result;
}

function errorText(error: unknown): { message: string; name: string } {
  if (error instanceof Error) return { message: error.message, name: error.name };
  return { message: String(error), name: typeof error };
}

async function untilDeadline<T>(what: string, timeoutMs: number, logger: Logger, attempt: () => Promise<T>, stopping: () => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 250;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() + delay > deadline || stopping()) throw error;
      if (n === 1 || n % 5 === 0) logger.warn({ err: errorText(error).message, attempt: n }, `${what} failed, retrying`);
      await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}

export async function runProcessor<In, Outputs extends Record<string, unknown>, S>(
  definition: ProcessorDefinition<In, Outputs, S>,
  options: RunProcessorOptions,
): Promise<ProcessorHandle> {
  const groupId = options.groupId ?? definition.name;
  const mode: DeliveryMode = options.mode ?? 'exactly-once';
  const exactlyOnce = mode === 'exactly-once';
  const topics = resolveTopics(definition, groupId, options.topics);
  const logger = (options.logger ?? createLogger(definition.name)).child({ processor: definition.name, group: groupId });
  const maxBatchRecords = Math.max(1, options.maxBatchRecords ?? 500);
  const maxBatchBytes = Math.max(1024, options.maxBatchBytes ?? 900_000);
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
  const startupTimeoutMs = options.startupTimeoutMs ?? 60_000;
  const processorName = definition.name;
  const inputTopic = topics.input;
  const deadLetterTopic = topics.deadLetter;
  const changelogTopic = topics.changelog;

  // Everything schema-related is compiled before anything connects: a bad definition fails fast.
  const inputType = parseSchema(definition.input.schema, `${processorName} input`);
  const outputTypes = Object.entries(definition.outputs).map(([name, declaration]) => ({
    name,
    declaration: declaration as { topic: string; schema: Record<string, unknown>; compacted?: boolean },
    type: parseSchema((declaration as { schema: Record<string, unknown> }).schema, `${processorName} output '${name}'`),
  }));
  const stateType = definition.state ? parseSchema(definition.state.schema, `${processorName} state '${definition.state.store}'`) : undefined;

  const metricsRegistry = options.metricsRegistry ?? createMetricsRegistry(processorName);
  const metrics = new RunnerMetrics(metricsRegistry, outputTypes.map((o) => o.name));

  let stopping = false;
  let failed: Error | undefined;
  let joined = false;
  let resolveDone!: () => void;
  let rejectDone!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined); // a caller that never awaits done must not crash the process

  const kafka: Kafka = createKafka(options.connection, logger, `${options.connection.kafkaClientId}-${groupId}`);
  const registry: SchemaRegistry = createRegistry(options.connection);
  const admin: Admin = kafka.admin();
  const reader = stateType ? new PartitionReader(kafka) : undefined;
  let consumer: Consumer | undefined;
  let sharedProducer: Producer | undefined;
  let server: Server | undefined;
  const tasks = new Map<number, PartitionTask>();

  /** eachBatch calls in progress: kafkajs may return from disconnect() during a rebalance before they end. */
  const inFlight = new Set<Promise<void>>();
  const closeResources = async () => {
    await consumer?.disconnect().catch((error: Error) => logger.warn({ err: error.message }, 'consumer disconnect failed'));
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    await Promise.all([...tasks.values()].map((task) => task.mutex.run(() => resetTask(task))));
    await sharedProducer?.disconnect().catch(() => undefined);
    await reader?.close();
    await admin.disconnect().catch(() => undefined);
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  };

  const resetTask = async (task: PartitionTask) => {
    task.ready = false;
    task.store = undefined;
    task.position = -1;
    const producer = task.producer;
    task.producer = undefined;
    if (producer) await producer.disconnect().catch(() => undefined);
  };

  // ---- start-up: topics, schemas -------------------------------------------------------------
  let outputSpecs: Map<string, OutputSpec>;
  let inputDecoder: WireDecoder<In>;
  let stateEncoder: WireEncoder | undefined;
  let stateDecoder: WireDecoder<unknown> | undefined;
  let stateMaxBytes = Number.MAX_SAFE_INTEGER;
  let inputPartitions: number;
  try {
    await untilDeadline('connecting to Kafka', startupTimeoutMs, logger, () => admin.connect(), () => stopping);
    inputPartitions = await requireInputTopic(admin, inputTopic, processorName);
    const specs: TopicSpec[] = [];
    const seen = new Set<string>();
    for (const output of outputTypes) {
      const topic = topics.outputs[output.name]!;
      if (seen.has(topic)) continue;
      seen.add(topic);
      specs.push({ topic, role: 'output', partitions: inputPartitions, compacted: output.declaration.compacted === true, exactPartitions: false });
    }
    if (changelogTopic) specs.push({ topic: changelogTopic, role: 'changelog', partitions: inputPartitions, compacted: true, exactPartitions: true });
    specs.push({ topic: deadLetterTopic, role: 'dead-letter', partitions: 1, compacted: false, exactPartitions: false });
    for (const spec of specs) {
      if (spec.topic === inputTopic) throw new Error(`${spec.role} topic '${spec.topic}' is the input topic of processor '${processorName}'`);
    }
    const created = await ensureTopics(admin, specs);
    if (created.length > 0) logger.info({ topics: created }, 'created topics');

    const limits = await maxMessageBytes(admin, [...new Set([...Object.values(topics.outputs), ...(changelogTopic ? [changelogTopic] : [])])]);
    outputSpecs = new Map();
    let slot = 0;
    for (const output of outputTypes) {
      const topic = topics.outputs[output.name]!;
      const id = await untilDeadline(`registering the schema of ${topic}`, startupTimeoutMs, logger, () => registerSchema(registry, `${topic}-value`, output.declaration.schema), () => stopping);
      outputSpecs.set(output.name, { name: output.name, topic, encoder: new WireEncoder(output.type, id), slot: slot++, maxRecordBytes: limits.get(topic)! - BATCH_FRAMING });
    }
    inputDecoder = new WireDecoder<In>(registry, inputType);
    if (stateType && changelogTopic && definition.state) {
      const id = await untilDeadline(`registering the schema of ${changelogTopic}`, startupTimeoutMs, logger, () => registerSchema(registry, `${changelogTopic}-value`, definition.state!.schema), () => stopping);
      stateEncoder = new WireEncoder(stateType, id);
      stateMaxBytes = limits.get(changelogTopic)! - BATCH_FRAMING;
      stateDecoder = new WireDecoder<unknown>(registry, stateType, id);
    }
  } catch (error) {
    await closeResources();
    throw error;
  }
  const specsBySlot = [...outputSpecs.values()];
  const declaredOutputs = specsBySlot.map((s) => s.name).join(', ');
  const undeclaredStore = new UndeclaredStore(processorName);

  // ---- the per-batch work ----------------------------------------------------------------------

  /** Waits for the registry to know every schema id of these values (transient errors retried). */
  const prepare = async (decoder: WireDecoder<unknown>, values: Iterable<Buffer | null>, heartbeat: () => Promise<void>) => {
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      try {
        await decoder.prepare(values);
        if (attempt > 1) logger.info({ attempts: attempt }, 'Schema Registry answers again');
        return;
      } catch (error) {
        if (!(error instanceof TransientError)) throw error;
        if (attempt === 1 || attempt % 10 === 0) logger.warn({ err: error.message, attempt }, 'Schema Registry unreachable; retrying the batch (nothing is dead-lettered for this)');
        if (stopping) throw new StopRequested('stopping');
        await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
        await heartbeat();
      }
    }
  };

  const initTask = async (task: PartitionTask, heartbeat: () => Promise<void>) => {
    const began = Date.now();
    const p = task.partition;
    if (exactlyOnce) {
      const producer = kafka.producer({
        transactionalId: `${groupId}-${inputTopic}-${p}`,
        maxInFlightRequests: 1,
        transactionTimeout: options.transactionTimeoutMs ?? 60_000,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      task.producer = producer;
      await producer.connect();
      // initTransactions: fences the previous owner of this partition and ends its open transaction.
      const fence = await producer.transaction();
      await fence.abort();
      // Only now is the committed offset final (the previous owner can no longer move it).
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [inputTopic] });
      const committed = Number(offsets?.partitions.find((x) => x.partition === p)?.offset ?? -1);
      task.position = committed >= 0 ? committed : -1;
    }
    if (stateType && stateEncoder && stateDecoder && reader && changelogTopic) {
      const latest = new Map<string, Buffer | null>();
      const result = await reader.readToEnd(changelogTopic, p, (message) => foldChangelog(latest, message), { heartbeat, cancelled: () => stopping });
      if (!result.complete) throw new StopRequested('stopping');
      await prepare(stateDecoder, latest.values(), heartbeat);
      const store = new PartitionStore<unknown>(stateType, stateEncoder, stateMaxBytes);
      const unreadable = store.restore(latest, stateDecoder);
      for (const { key, error } of unreadable) logger.error({ partition: p, key, err: error }, 'state value in the changelog cannot be read; the key starts empty');
      task.store = store;
      metrics.restored(result.records, (Date.now() - began) / 1000);
      logger.info({ partition: p, records: result.records, keys: store.size, ms: Date.now() - began, position: task.position }, 'partition assigned, state restored');
    } else {
      logger.info({ partition: p, ms: Date.now() - began, position: task.position }, 'partition assigned');
    }
    task.ready = true;
  };

  /**
   * Processes records of one partition and commits them with the input offset `nextOffset`.
   * Throws when the commit fails; the caller then resets the task.
   */
  const processChunk = async (task: PartitionTask, batch: Batch, messages: KafkaMessage[], nextOffset: number) => {
    const began = Date.now();
    const partition = task.partition;
    const store = task.store;
    const scope: RecordScope = store ?? undeclaredStore;
    const context = { state: store ?? undeclaredStore } as unknown as ProcessorContext<S>;
    const perSlot: Message[][] = specsBySlot.map(() => []);
    const dead: Message[] = [];
    const deadCounts = new Map<DeadLetterReason, number>();
    const scratch: Array<{ spec: OutputSpec; message: Message }> = [];

    const deadLetter = (message: KafkaMessage, reason: DeadLetterReason, error: string, errorName: string) => {
      dead.push(deadLetterMessage(processorName, { topic: inputTopic, partition, message }, reason, error, errorName));
      deadCounts.set(reason, (deadCounts.get(reason) ?? 0) + 1);
      logger.warn({ partition, offset: message.offset, reason, err: error }, 'record dead-lettered');
    };

    for (const message of messages) {
      const decoded = inputDecoder.decode(message.value);
      if (!decoded.ok) {
        deadLetter(message, decoded.reason, decoded.error, 'DecodeError');
        continue;
      }
      const record: InputRecord<In> = {
        topic: inputTopic,
        partition,
        offset: message.offset,
        key: message.key ? message.key.toString('utf8') : null,
        value: decoded.value,
        timestamp: Number(message.timestamp),
        headers: headersOf(message.headers),
      };
      scope.beginRecord();
      let results: OutputRecord<Outputs>[];
      try {
        results = definition.process(record, context);
      } catch (error) {
        const stateError = scope.recordError;
        scope.rejectRecord();
        const { message: text, name } = errorText(stateError ?? error);
        deadLetter(message, stateError ? 'invalid-state' : 'process-error', text, name);
        continue;
      }
      if (scope.recordError) {
        const { message: text, name } = errorText(scope.recordError);
        scope.rejectRecord();
        deadLetter(message, 'invalid-state', text, name);
        continue;
      }
      let invalid: string | undefined;
      scratch.length = 0;
      if (!Array.isArray(results)) {
        invalid = `process() returned ${typeof results}, not an array of output records`;
      } else {
        for (const out of results) {
          const spec = outputSpecs.get(out.output);
          if (spec === undefined) {
            invalid = `'${String(out.output)}' is not a declared output (declared: ${declaredOutputs})`;
            break;
          }
          let value: Buffer | null = null;
          if (out.value !== null && out.value !== undefined) {
            try {
              value = spec.encoder.encode(out.value);
            } catch {
              invalid = `value for output '${spec.name}' does not conform to its schema: ${explainInvalid(spec.encoder.type, out.value)}`;
              break;
            }
          }
          const outMessage: Message = { key: out.key ?? null, value, headers: out.headers, timestamp: message.timestamp };
          const bytes = messageBytes(outMessage);
          if (bytes > spec.maxRecordBytes) {
            invalid = `record for output '${spec.name}' is ${bytes} bytes; topic '${spec.topic}' accepts at most ${spec.maxRecordBytes + BATCH_FRAMING} (max.message.bytes)`;
            break;
          }
          scratch.push({ spec, message: outMessage });
        }
      }
      if (invalid !== undefined) {
        scope.rejectRecord();
        deadLetter(message, 'invalid-output', invalid, 'InvalidOutputError');
        continue;
      }
      scope.acceptRecord();
      for (const { spec, message: out } of scratch) perSlot[spec.slot]!.push(out);
    }

    const topicMessages: TopicMessages[] = [];
    const outCounts = new Map<string, number>();
    const byTopic = new Map<string, Message[]>();
    for (const spec of specsBySlot) {
      const messagesOut = perSlot[spec.slot]!;
      outCounts.set(spec.name, messagesOut.length);
      if (messagesOut.length === 0) continue;
      const existing = byTopic.get(spec.topic);
      if (existing) existing.push(...messagesOut);
      else byTopic.set(spec.topic, messagesOut);
    }
    for (const [topic, list] of byTopic) topicMessages.push({ topic, messages: list });
    if (store?.hasPendingWrites && changelogTopic) {
      topicMessages.push({ topic: changelogTopic, messages: store.changelogMessages(partition, String(Date.now())) });
    }
    if (dead.length > 0) topicMessages.push({ topic: deadLetterTopic, messages: dead });
    const offsets = [{ topic: inputTopic, partitions: [{ partition, offset: String(nextOffset) }] }];

    if (exactlyOnce) {
      const producer = task.producer!;
      const transaction = await producer.transaction();
      try {
        for (const part of splitTopicMessages(topicMessages, maxBatchBytes)) await transaction.sendBatch({ topicMessages: part, acks: -1 });
        await transaction.sendOffsets({ consumerGroupId: groupId, topics: offsets });
        await transaction.commit();
      } catch (error) {
        if (transaction.isActive()) await transaction.abort().catch(() => undefined);
        store?.abort();
        metrics.aborted();
        throw error;
      }
    } else {
      try {
        for (const part of splitTopicMessages(topicMessages, maxBatchBytes)) await sharedProducer!.sendBatch({ topicMessages: part, acks: -1 });
      } catch (error) {
        store?.abort();
        metrics.aborted();
        throw error;
      }
      store?.commit();
      await consumer!.commitOffsets([{ topic: inputTopic, partition, offset: String(nextOffset) }]);
    }
    if (exactlyOnce) store?.commit();
    task.position = nextOffset;
    metrics.committed(messages.length, outCounts, deadCounts);
    const now = Date.now();
    metrics.batchSeconds.observe((now - began) / 1000);
    const oldest = messages[0];
    if (oldest) metrics.latencySeconds.observe(Math.max(0, now - Number(oldest.timestamp)) / 1000);
    metrics.setLag(partition, Number(batch.highWatermark) - nextOffset);
  };

  const eachBatch = (payload: EachBatchPayload): Promise<void> => {
    if (stopping) return Promise.resolve();
    const work = processBatch(payload);
    inFlight.add(work);
    const forget = () => void inFlight.delete(work);
    work.then(forget, forget);
    return work;
  };

  const processBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
    const p = batch.partition;
    let task = tasks.get(p);
    if (!task) {
      task = new PartitionTask(p);
      tasks.set(p, task);
    }
    const t = task;
    await t.mutex.run(async () => {
      // A rebalance noticed by a heartbeat between transactions is not a failure of this partition.
      let between = false;
      try {
        if (stopping) return;
        if (!t.ready) await initTask(t, heartbeat);
        const messages = batch.messages;
        let i = 0;
        // Already committed (by a previous owner, or by an earlier batch of this one).
        while (i < messages.length && Number(messages[i]!.offset) < t.position) i++;
        if (i > 0) {
          metrics.stats.skipped += i;
          logger.info({ partition: p, skipped: i, position: t.position }, 'skipped records already committed');
          resolveOffset(messages[i - 1]!.offset);
        }
        while (i < messages.length) {
          if (!isRunning() || isStale() || stopping) return;
          const limit = Math.min(i + maxBatchRecords, messages.length);
          // Records whose schema is known go first; the registry is asked only at the first one
          // it must answer for (so an outage holds back only records with schemas not seen yet).
          let end = i;
          while (end < limit && inputDecoder.isPrepared(messages[end]!.value)) end++;
          if (end === i) {
            await prepare(inputDecoder as WireDecoder<unknown>, messages.slice(i, limit).map((m) => m.value), heartbeat);
            continue;
          }
          const chunk = messages.slice(i, end);
          // After the last record of the fetched batch comes its transaction marker, if any: skip it too.
          const nextOffset = end === messages.length ? Math.max(Number(batch.lastOffset()), Number(chunk[chunk.length - 1]!.offset)) + 1 : Number(chunk[chunk.length - 1]!.offset) + 1;
          await processChunk(t, batch, chunk, nextOffset);
          resolveOffset(chunk[chunk.length - 1]!.offset);
          i = end;
          between = true;
          await heartbeat();
          between = false;
        }
      } catch (error) {
        if (error instanceof StopRequested) return;
        if (between) throw error;
        // The transaction failed or the restore was interrupted: start this partition afresh
        // (new producer, fencing, committed offset, restore) when its records come again.
        logger.warn({ partition: p, err: errorText(error).message }, 'batch failed; the partition will be re-initialised');
        await resetTask(t);
        throw error;
      }
    });
  };

  // ---- consumer ---------------------------------------------------------------------------------
  try {
    if (!exactlyOnce) {
      // Unlimited retries, as kafkajs requires for an idempotent producer to keep its guarantee.
      sharedProducer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: Number.MAX_SAFE_INTEGER },
      });
      await sharedProducer.connect();
    }
    consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout,
      heartbeatInterval: Math.max(300, Math.floor(sessionTimeout / 10)),
      maxWaitTimeInMs: 500,
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      joined = true;
      const assigned = new Set(payload.memberAssignment[inputTopic] ?? []);
      const revoked: number[] = [];
      for (const [p, task] of tasks) {
        if (assigned.has(p)) continue;
        if (task.ready) revoked.push(p);
        metrics.dropLag(p);
        void task.mutex.run(() => resetTask(task));
      }
      metrics.assigned.set(assigned.size);
      logger.info({ assigned: [...assigned].sort((a, b) => a - b), revoked, generation: payload.memberId }, 'joined the group');
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      joined = false;
      if (payload.restart) {
        logger.warn({ err: payload.error.message }, 'consumer crashed; kafkajs restarts it');
        return;
      }
      failed = payload.error;
      logger.error({ err: payload.error.message }, 'consumer failed for good; stopping');
      void shutdown().finally(() => rejectDone(payload.error));
    });
    consumer.on(consumer.events.STOP, () => {
      joined = false;
    });
    await consumer.connect();
    await consumer.subscribe({ topic: inputTopic, fromBeginning: options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, options.concurrency ?? 4),
      eachBatch,
    });
    if (options.httpPort !== undefined) {
      server = await startServiceHttp(
        options.httpPort,
        {
          live: () => failed === undefined,
          ready: () => {
            if (failed) return { ready: false, reason: `failed: ${failed.message}` };
            if (stopping) return { ready: false, reason: 'stopping' };
            if (!joined) return { ready: false, reason: 'joining the consumer group' };
            return { ready: true, reason: `processing ${inputTopic} (${mode})` };
          },
        },
        metricsRegistry,
        options.httpHost,
      );
    }
  } catch (error) {
    await closeResources();
    throw error;
  }

  logger.info(
    { mode, input: inputTopic, inputPartitions, outputs: topics.outputs, changelog: changelogTopic, deadLetter: deadLetterTopic, host: hostname() },
    'processor started',
  );

  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopped ??= (async () => {
      stopping = true;
      logger.info('stopping');
      await closeResources();
      joined = false;
      logger.info({ stats: metrics.stats }, 'stopped');
    })();
    return stopped;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    void shutdown().then(() => resolveDone());
  };
  if (options.handleSignals ?? true) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  const removeSignals = () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
  done.then(removeSignals, removeSignals);

  const address = server?.address();
  return {
    name: processorName,
    groupId,
    mode,
    topics,
    httpPort: address && typeof address === 'object' ? (address as AddressInfo).port : undefined,
    ready: () => joined && !stopping && failed === undefined,
    metrics: metricsRegistry,
    stats: () => metrics.snapshot(),
    stop: async () => {
      await shutdown();
      if (!failed) resolveDone();
      removeSignals();
    },
    done,
  };
}
