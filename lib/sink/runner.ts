// Runs a SinkDefinition against Kafka, at least once: start-up (input checked, dead-letter topic
// created, input schema compiled), the consumer group feeding SinkBatch (lib/sink/consumer.ts),
// the dead-letter producer, /healthz, /readyz and /metrics, and a graceful stop that drains the
// deliveries in flight (up to drainTimeoutMs) and commits what finished. See docs/sinks.md.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { Partitioners, type Admin, type Consumer, type Producer } from 'kafkajs';
import type { ConnectionConfig } from '../config.js';
import { Semaphore, retry } from '../async.js';
import { createKafka, createRegistry } from '../kafka/client.js';
import { WireDecoder, parseSchema } from '../kafka/codec.js';
import { createLogger, type Logger } from '../log.js';
import { createMetricsRegistry, startServiceHttp } from '../http.js';
import { deadLetterTopicName, ensureTopics, requireInputTopic, sinkGroupId, sinkTopicSpecs } from '../topics.js';
import type { RetryPolicy } from './attempts.js';
import { SinkBatch, type SinkConsumerContext } from './consumer.js';
import { SinkMetrics, type SinkStats } from './metrics.js';
import { RateLimiter } from './rate-limit.js';
import type { SinkDefinition } from './sink.js';

export interface RunSinkOptions {
  connection: ConnectionConfig;
  /** Consumer group (default sink-<name>); the dead-letter topic is `<group>.dlq` unless named. */
  groupId?: string;
  inputTopic?: string;
  deadLetterTopic?: string;
  /** Where a group without committed offsets starts: the beginning (default) or the end. */
  fromBeginning?: boolean;
  /** Deliveries in flight at once, across keys (default 8); one key is always one at a time. */
  concurrency?: number;
  /** Deliveries (attempts) per second on average; 0 or unset: no limit. */
  ratePerSecond?: number;
  rateBurst?: number;
  retry?: Partial<RetryPolicy>;
  /** How long a stop waits for the attempts in flight (default 10 s). */
  drainTimeoutMs?: number;
  /** Serve /healthz, /readyz and /metrics on this port (0 picks a free one); none when undefined. */
  httpPort?: number;
  httpHost?: string;
  logger?: Logger;
  metricsRegistry?: Registry;
  sessionTimeoutMs?: number;
  /** How long start-up may wait for Kafka and the Schema Registry (default 60 s). */
  startupTimeoutMs?: number;
}

export interface SinkHandle {
  readonly name: string;
  readonly groupId: string;
  readonly inputTopic: string;
  readonly deadLetterTopic: string;
  readonly httpPort: number | undefined;
  ready(): boolean;
  readonly metrics: Registry;
  stats(): SinkStats;
  /** Starts nothing new, lets the attempts in flight finish (drainTimeoutMs), commits, closes. */
  stop(): Promise<void>;
  /** Resolves after stop(); rejects when the consumer fails for good. */
  readonly done: Promise<void>;
}

export const defaultRetryPolicy: RetryPolicy = { initialDelayMs: 200, maxDelayMs: 30_000, retryTimeoutMs: 5 * 60_000 };

interface Parts {
  admin: Admin;
  consumer: Consumer;
  deadLetters: Producer;
}

/** Input topic checked, dead-letter topic created, both retried while Kafka starts. */
async function prepare(admin: Admin, inputTopic: string, deadLetterTopic: string, name: string, logger: Logger, timeoutMs: number): Promise<void> {
  await retry(() => admin.connect(), {
    timeoutMs,
    onRetry: (error, n) => {
      if (n === 1 || n % 5 === 0) logger.warn({ err: error instanceof Error ? error.message : String(error), attempt: n }, 'connecting to Kafka failed, retrying');
    },
  });
  await requireInputTopic(admin, inputTopic, `sink-${name}`);
  const created = await ensureTopics(admin, sinkTopicSpecs(deadLetterTopic));
  if (created.length > 0) logger.info({ topics: created }, 'created topics');
}

export async function runSink<T>(definition: SinkDefinition<T>, options: RunSinkOptions): Promise<SinkHandle> {
  const groupId = options.groupId ?? sinkGroupId(definition.name);
  const inputTopic = options.inputTopic ?? definition.input.topic;
  const deadLetterTopic = options.deadLetterTopic ?? deadLetterTopicName(groupId);
  const logger = (options.logger ?? createLogger(`sink-${definition.name}`)).child({ sink: definition.name, group: groupId });
  const inputType = parseSchema(definition.input.schema, `sink ${definition.name} input`);
  const metricsRegistry = options.metricsRegistry ?? createMetricsRegistry();
  const metrics = new SinkMetrics(metricsRegistry, definition.name);
  const stopping = new AbortController();
  const cut = new AbortController();
  const kafka = createKafka(options.connection, logger, `${options.connection.kafkaClientId}-${groupId}`);
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
  const parts: Parts = {
    admin: kafka.admin(),
    consumer: kafka.consumer({ groupId, sessionTimeout, heartbeatInterval: Math.max(300, Math.floor(sessionTimeout / 10)), maxWaitTimeInMs: 500, allowAutoTopicCreation: false }),
    deadLetters: kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: Number.MAX_SAFE_INTEGER } }),
  };
  const inFlight = new Set<Promise<void>>();
  let joined = false;
  let failed: Error | undefined;
  let server: Server | undefined;
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined);

  const close = async () => {
    stopping.abort();
    const drain = setTimeout(() => cut.abort(), options.drainTimeoutMs ?? 10_000);
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    clearTimeout(drain);
    await parts.consumer.disconnect().catch(() => undefined);
    await parts.deadLetters.disconnect().catch(() => undefined);
    await parts.admin.disconnect().catch(() => undefined);
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  };
  let closing: Promise<void> | undefined;
  const shutdown = () => (closing ??= close().then(() => logger.info({ stats: metrics.snapshot() }, 'sink stopped')));

  try {
    await prepare(parts.admin, inputTopic, deadLetterTopic, definition.name, logger, options.startupTimeoutMs ?? 60_000);
    await parts.deadLetters.connect();
    const context: SinkConsumerContext = {
      definition: definition as SinkDefinition<unknown>,
      limiter: new RateLimiter(options.ratePerSecond ?? 0, options.rateBurst),
      metrics,
      logger,
      policy: { ...defaultRetryPolicy, ...options.retry },
      stopping: stopping.signal,
      cut: cut.signal,
      consumer: parts.consumer,
      deadLetters: parts.deadLetters,
      deadLetterTopic,
      decoder: new WireDecoder<unknown>(createRegistry(options.connection), inputType),
      slots: new Semaphore(Math.max(1, options.concurrency ?? 8)),
    };
    const { consumer } = parts;
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    consumer.on(consumer.events.STOP, () => (joined = false));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      joined = false;
      if (payload.restart) return void logger.warn({ err: payload.error.message }, 'consumer crashed; kafkajs restarts it');
      failed = payload.error;
      logger.error({ err: payload.error.message }, 'consumer failed for good; stopping');
      void shutdown().finally(() => settle.reject(payload.error));
    });
    await consumer.connect();
    await consumer.subscribe({ topic: inputTopic, fromBeginning: options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every partition's batch at once: the bound on deliveries is the semaphore, not this.
      partitionsConsumedConcurrently: 64,
      eachBatch: (payload) => {
        if (stopping.signal.aborted) return Promise.resolve();
        const work = new SinkBatch(context, payload).run();
        inFlight.add(work);
        const forget = () => void inFlight.delete(work);
        work.then(forget, forget);
        return work;
      },
    });
    if (options.httpPort !== undefined) {
      const ready = () => {
        if (failed) return { ready: false, reason: `failed: ${failed.message}` };
        if (stopping.signal.aborted) return { ready: false, reason: 'stopping' };
        if (!joined) return { ready: false, reason: 'joining the consumer group' };
        return { ready: true, reason: `delivering ${inputTopic}` };
      };
      server = await startServiceHttp(options.httpPort, { live: () => failed === undefined, ready }, metricsRegistry, options.httpHost);
    }
    logger.info({ input: inputTopic, deadLetter: deadLetterTopic, concurrency: options.concurrency ?? 8, ratePerSecond: options.ratePerSecond ?? 0 }, 'sink started');
  } catch (error) {
    await close();
    throw error;
  }
  const address = server?.address();
  return {
    name: definition.name,
    groupId,
    inputTopic,
    deadLetterTopic,
    httpPort: address && typeof address === 'object' ? (address as AddressInfo).port : undefined,
    ready: () => joined && !stopping.signal.aborted && failed === undefined,
    metrics: metricsRegistry,
    stats: () => metrics.snapshot(),
    stop: async () => {
      await shutdown();
      if (!failed) settle.resolve();
    },
    done,
  };
}
