// Runs a ProcessorDefinition against Kafka. The runner only composes; each part has one job:
//   start-up.ts     schemas compiled, input checked, topics created, schemas registered
//   task.ts         decode → process → encode → stage state and dead letters (pure, no I/O)
//   partition.ts    one input partition: open (fence, committed offset, restore), run the task
//                   in chunks, send each chunk with its offset, commit the staged state
//   delivery.ts     exactly once (a transactional producer per partition) or at least once
//   restore.ts      state from the changelog, without a consumer group
//   consumer-loop.ts  the group, batches to partitions, revocations, stop
// plus /healthz, /readyz, /metrics and signals here. See docs/processors.md.
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Admin, Kafka } from 'kafkajs';
import type { ConnectionConfig } from '../config.js';
import { createKafka, createRegistry } from '../kafka/client.js';
import { PartitionReader } from '../kafka/topic-reader.js';
import type { WireDecoder } from '../kafka/codec.js';
import { createLogger, type Logger } from '../log.js';
import { createMetricsRegistry, startServiceHttp } from '../http.js';
import { resolveTopics, type ResolvedTopics, type TopicOverrides } from '../topics.js';
import type { ProcessorDefinition } from './processor.js';
import { ProcessorTask, type TaskHooks } from './task.js';
import { AtLeastOnceDelivery, ExactlyOnceDelivery, type Delivery, type DeliveryContext, type DeliveryMode } from './delivery.js';
import { PartitionUnit } from './partition.js';
import { ChangelogRestorer } from './restore.js';
import { ConsumerLoop } from './consumer-loop.js';
import { compileSchemas, prepareProcessor } from './start-up.js';
import { RunnerMetrics, type RunnerStats } from './metrics.js';
import { adminPartitionCounts, Partitioning } from '../kafka/partitioning.js';

export type { DeliveryMode, ResolvedTopics, TopicOverrides };

/** Default bytes fetched per partition: 8 MiB (BENCHMARKS.md F2: +62% records/s on an uncompressed raw topic against kafkajs' 1 MiB). */
export const DEFAULT_MAX_BYTES_PER_PARTITION = 8 * 1024 * 1024;
/**
 * Default bytes a fetch request returns over all its partitions: kafkajs' 10 MiB, so the records in
 * hand (on a gzip topic ~5× their stored size) stay bounded whatever the partitions assigned;
 * kafkajs sends one fetch per broker leading some of them, and the broker returns a first batch
 * larger than the limit whole. The broker fills partitions in turn, so with two or more partitions
 * behind, a fetch holds 8 MiB of one and the rest of another (BENCHMARKS.md F2).
 */
export const DEFAULT_MAX_BYTES_PER_FETCH = 10 * 1024 * 1024;
/** Smallest fetch setting taken (per partition or per request): below it a fetch holds a few records of 46 kB at most. */
export const MIN_FETCH_BYTES = 65_536;
/** Largest fetch setting taken: the Fetch request carries both sizes as 32-bit signed integers. */
export const MAX_FETCH_BYTES = 2_147_483_647;

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
  /** Most bytes fetched per input partition per request; a transaction holds at most one fetch (default 8 MiB). */
  maxBytesPerPartition?: number;
  /** Most bytes per fetch request (one per broker) over its input partitions (default 10 MiB, kafkajs'). */
  maxBytesPerFetch?: number;
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
  /** Filters over the task's input and encoded outputs (replay's range and dedupe). */
  hooks?: TaskHooks;
  /** Called after each committed chunk with the partition and its next offset (replay's progress). */
  onCommit?: (partition: number, nextOffset: number) => void;
  /** Where a fresh group starts, per input partition (replay's --from); the others start per fromBeginning. */
  startOffsets?: ReadonlyMap<number, number>;
  /** Called when a fetch held only transaction markers or aborted records, with the offset after them. */
  onEmptyBatch?: (partition: number, nextOffset: number) => void;
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

/** A promise with its settle functions; `done` never crashes a process that does not await it. */
function settleable(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface Workers {
  delivery: Delivery;
  loop: ConsumerLoop;
}

/** The delivery strategy of the mode and the consumer loop that feeds partition units. */
function createWorkers(
  context: { kafka: Kafka; admin: Admin; groupId: string; topics: ResolvedTopics; mode: DeliveryMode; task: ProcessorTask<any, any, any>; restorer: ChangelogRestorer | undefined },
  metrics: RunnerMetrics,
  logger: Logger,
  options: RunProcessorOptions,
  onFatal: (error: Error) => void,
): Workers {
  const { kafka, admin, groupId, topics, mode, task, restorer } = context;
  const deliveryContext: DeliveryContext = {
    kafka,
    admin,
    groupId,
    inputTopic: topics.input,
    maxBatchBytes: Math.max(1024, options.maxBatchBytes ?? 900_000),
    transactionTimeoutMs: options.transactionTimeoutMs ?? 60_000,
    partitioning: new Partitioning(adminPartitionCounts(admin)),
  };
  const maxBatchRecords = Math.max(1, options.maxBatchRecords ?? 500);
  let delivery: Delivery | undefined;
  const loop = new ConsumerLoop({
    kafka,
    groupId,
    inputTopic: topics.input,
    fromBeginning: options.fromBeginning ?? true,
    sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
    concurrency: options.concurrency ?? 4,
    maxBytesPerPartition: options.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION,
    maxBytesPerFetch: options.maxBytesPerFetch ?? DEFAULT_MAX_BYTES_PER_FETCH,
    metrics,
    logger,
    onEmptyBatch: options.onEmptyBatch,
    startOffsets: options.startOffsets,
    newUnit: (partition) => new PartitionUnit(partition, { task, delivery: delivery!, restorer, metrics, logger, maxBatchRecords, onCommit: options.onCommit }),
    onFatal,
  });
  delivery =
    mode === 'exactly-once'
      ? new ExactlyOnceDelivery(deliveryContext)
      : new AtLeastOnceDelivery(deliveryContext, (partition, offset) => loop.consumer.commitOffsets([{ topic: topics.input, partition, offset: String(offset) }]));
  return { delivery, loop };
}

/** Stops gracefully on SIGTERM and SIGINT; returns the function that removes the handlers. */
function handleSignals(logger: Logger, shutdown: () => Promise<void>, done: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received');
    void shutdown().then(done);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

/** Runs once, however often it is called. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

export async function runProcessor<In, Outputs extends Record<string, unknown>, S>(
  definition: ProcessorDefinition<In, Outputs, S>,
  options: RunProcessorOptions,
): Promise<ProcessorHandle> {
  const groupId = options.groupId ?? definition.name;
  const mode: DeliveryMode = options.mode ?? 'exactly-once';
  const topics = resolveTopics(definition, groupId, options.topics);
  const logger = (options.logger ?? createLogger(definition.name)).child({ processor: definition.name, group: groupId });
  const schemas = compileSchemas(definition);
  const metricsRegistry = options.metricsRegistry ?? createMetricsRegistry();
  const metrics = new RunnerMetrics(metricsRegistry, schemas.outputs.map((o) => o.name), { processor: definition.name, group: groupId, input: topics.input });
  const done = settleable();
  let stopping = false;
  let failed: Error | undefined;

  const kafka = createKafka(options.connection, logger, `${options.connection.kafkaClientId}-${groupId}`);
  const admin = kafka.admin();
  const reader = topics.changelog ? new PartitionReader(kafka) : undefined;
  let workers: Workers | undefined;
  let server: Server | undefined;
  const closeResources = async () => {
    await workers?.loop.stop();
    await workers?.delivery.shutdown();
    await reader?.close();
    await admin.disconnect().catch(() => undefined);
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  };
  const shutdown = once(async () => {
    stopping = true;
    logger.info('stopping');
    await closeResources();
    logger.info({ stats: metrics.stats }, 'stopped');
  });

  try {
    const registry = createRegistry(options.connection);
    const prepared = await prepareProcessor({ definition, schemas, topics, admin, registry, logger, timeoutMs: options.startupTimeoutMs ?? 60_000, stopping: () => stopping });
    const { inputDecoder, outputs, state } = prepared;
    const task = new ProcessorTask<In, Outputs, S>({
      definition,
      inputTopic: topics.input,
      inputDecoder: inputDecoder as WireDecoder<In>,
      outputs,
      deadLetterTopic: topics.deadLetter,
      changelogTopic: topics.changelog,
      hooks: options.hooks,
    });
    const restorer = reader && state && topics.changelog ? new ChangelogRestorer(reader, topics.changelog, state, logger) : undefined;
    const onFatal = (error: Error) => {
      failed = error;
      void shutdown().finally(() => done.reject(error));
    };
    workers = createWorkers({ kafka, admin, groupId, topics, mode, task, restorer }, metrics, logger, options, onFatal);
    await workers.delivery.start();
    await workers.loop.start();
    const loop = workers.loop;
    if (options.httpPort !== undefined) {
      const ready = () => {
        if (failed) return { ready: false, reason: `failed: ${failed.message}` };
        if (stopping) return { ready: false, reason: 'stopping' };
        if (!loop.joined) return { ready: false, reason: 'joining the consumer group' };
        return { ready: true, reason: `processing ${topics.input} (${mode})` };
      };
      server = await startServiceHttp(options.httpPort, { live: () => failed === undefined, ready }, metricsRegistry, options.httpHost);
    }
    logger.info({ mode, input: topics.input, inputPartitions: prepared.inputPartitions, outputs: topics.outputs, changelog: topics.changelog, deadLetter: topics.deadLetter, host: hostname() }, 'processor started');
  } catch (error) {
    await closeResources();
    throw error;
  }

  const removeSignals = options.handleSignals ?? true ? handleSignals(logger, shutdown, () => done.resolve()) : () => undefined;
  done.promise.then(removeSignals, removeSignals);
  const address = server?.address();
  return {
    name: definition.name,
    groupId,
    mode,
    topics,
    httpPort: address && typeof address === 'object' ? (address as AddressInfo).port : undefined,
    ready: () => (workers?.loop.joined ?? false) && !stopping && failed === undefined,
    metrics: metricsRegistry,
    stats: () => metrics.snapshot(),
    stop: async () => {
      await shutdown();
      if (!failed) done.resolve();
      removeSignals();
    },
    done: done.promise,
  };
}
