// One leadership term: connect the transactional producers and fence any previous writer,
// read the state topic up to a fresh marker (checkpoints; one partition reader per session, no
// consumer group), then run the watch loops and the publisher until leadership is lost, the
// producer stops, or Kafka fails. A Kafka failure ends the session: the queue is dropped and the
// next session resumes from the checkpoints actually committed (the API server re-sends what was
// not acknowledged), so no buffer grows while Kafka is away and an ambiguous commit is settled by
// reading the state back.
import type { Kafka } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Logger } from '../lib/log.js';
import { PartitionReader } from '../lib/kafka/topic-reader.js';
import { selectionOf, streamIds, type ProducerConfig } from './config.js';
import type { KubeSource } from './kube.js';
import type { SourceContext } from './mapping.js';
import type { ProducerMetrics } from './metrics.js';
import { Publisher, streamWriters } from './publisher.js';
import { BoundedQueue } from './queue.js';
import { ScopeWatcher, type RelistReason } from './source.js';
import { allNamespaces, newMarker, readState, type IndexEntry, type StateSnapshot } from './state.js';
import { adminPartitionCounts, Partitioning } from '../lib/kafka/partitioning.js';
import { initTransactions } from '../lib/kafka/fencing.js';

export interface SessionDeps {
  config: ProducerConfig;
  kafka: Kafka;
  registry: SchemaRegistry;
  schemaId: number;
  kube: KubeSource;
  ctx: SourceContext;
  metrics: ProducerMetrics;
  logger: Logger;
}

export { isFencedError } from '../lib/kafka/producer-errors.js';

/**
 * Benchmarking switch, not for production: KUBETRAIL_PRODUCER_ONE_TRANSACTIONAL_ID=1 writes
 * through the stream's first transactional id only, as the producer did before it had two, so
 * bench/latency.ts's reference pipeline runs as the engine issue found it. Both ids are still
 * fenced: a leader that writes through one must not leave a zombie writing through the other.
 */
const oneTransactionalId = process.env.KUBETRAIL_PRODUCER_ONE_TRANSACTIONAL_ID === '1';

export class Session {
  private watchers: ScopeWatcher[] = [];
  private committedSeq = 0;
  private commitWaiters: Array<{ seq: number; resolve: () => void }> = [];
  readonly committed = new Map<string, string>();
  private readonly abort = new AbortController();
  private queue: BoundedQueue | undefined;
  private publisher: Publisher | undefined;
  /** Reads the state topic (no consumer group); one per session, closed when it ends. */
  private stateReader: PartitionReader | undefined;
  /** True once every scope has an established watch (readiness). */
  get watching(): boolean {
    return this.watchers.length > 0 && this.watchers.every((w) => w.watching);
  }

  constructor(private readonly deps: SessionDeps) {}

  /** Ends the session: watches stop, the transaction in flight finishes (or fails), the producer disconnects. */
  stop() {
    this.abort.abort();
  }

  private async readStateWithMarker(want?: (entry: IndexEntry) => boolean): Promise<StateSnapshot> {
    const { config, logger } = this.deps;
    const marker = newMarker(config.instanceId);
    await this.publisher!.commitMarker(marker);
    const began = Date.now();
    const snapshot = await readState(this.stateReader!, { topic: config.stateTopic, stream: config.stream, nonce: marker.nonce, timeoutMs: 60_000 }, want);
    logger.debug({ records: snapshot.records, index: snapshot.index?.size, ms: Date.now() - began }, 'state read');
    return snapshot;
  }

  private waitCommitted(seq: number): Promise<void> {
    if (seq <= this.committedSeq || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.commitWaiters.push({ seq, resolve }));
  }

  private async publishLoop(queue: BoundedQueue, publisher: Publisher): Promise<void> {
    const { config, metrics } = this.deps;
    for (;;) {
      const items = await queue.take(config.batchMaxEvents, this.abort.signal, config.batchMaxBytes);
      if (!items) return;
      metrics.queueEvents.set(queue.length);
      const result = await publisher.publish(items);
      for (const [scope, rv] of result.checkpoints) this.committed.set(scope, rv);
      const last = items[items.length - 1]?.seq ?? 0;
      this.committedSeq = Math.max(this.committedSeq, last);
      const ready = this.commitWaiters.filter((w) => w.seq <= this.committedSeq);
      this.commitWaiters = this.commitWaiters.filter((w) => w.seq > this.committedSeq);
      for (const w of ready) w.resolve();
    }
  }

  /** Runs until stopped (resolves) or failed (rejects). */
  async run(): Promise<void> {
    const { config, kafka, logger, metrics } = this.deps;
    const signal = this.abort.signal;
    const writers = streamWriters(kafka, streamIds(config).transactionalIds, config.transactionTimeoutMs);
    try {
      // Fences the stream's previous writers, before the state is read.
      for (const writer of writers) {
        await initTransactions(writer.producer);
        if (signal.aborted) return;
      }
      const publisher = new Publisher(oneTransactionalId ? writers.slice(0, 1) : writers, {
        ctx: this.deps.ctx,
        topic: config.topic,
        stateTopic: config.stateTopic,
        stream: config.stream,
        selection: selectionOf(config),
        maxRecordBytes: config.maxRecordBytes,
        compression: config.compression,
        registry: this.deps.registry,
        schemaId: this.deps.schemaId,
        metrics,
        logger,
        partitioning: new Partitioning(async (topics) => {
          const admin = kafka.admin();
          await admin.connect();
          try {
            return await adminPartitionCounts(admin)(topics);
          } finally {
            await admin.disconnect();
          }
        }),
      });
      this.publisher = publisher;
      this.stateReader = new PartitionReader(kafka);
      const state = await this.readStateWithMarker();
      if (signal.aborted) return;
      const selection = selectionOf(config);
      const scopes = config.namespaces.length > 0 ? config.namespaces : [allNamespaces];
      const orphans = [...state.checkpoints.keys()].filter((scope) => !scopes.includes(scope));
      if (orphans.length > 0) {
        logger.warn(
          { orphans, scopes },
          'the state has checkpoints of namespaces no longer watched: their objects keep their last published state (no deletion is inferred for them)',
        );
      }
      const queue = new BoundedQueue(config.queueMaxEvents, config.queueMaxBytes);
      this.queue = queue;
      const scopeDeps = {
        config,
        kube: this.deps.kube,
        queue,
        ctx: this.deps.ctx,
        metrics,
        logger,
        signal,
        loadIndex: async (want: (entry: IndexEntry) => boolean) => (await this.readStateWithMarker(want)).index ?? new Map(),
        committed: (seq: number) => this.waitCommitted(seq),
      };
      this.watchers = scopes.map((scope) => {
        const checkpoint = state.checkpoints.get(scope);
        const usable = checkpoint && checkpoint.selection === selection ? checkpoint.resourceVersion : undefined;
        const reason: RelistReason = !checkpoint ? 'first_start' : usable ? 'expired' : 'selection_changed';
        if (usable) this.committed.set(scope, usable);
        logger.info({ scope, resourceVersion: usable ?? null, relist: usable ? undefined : reason }, usable ? 'resuming the watch from the checkpoint' : 'no usable checkpoint: listing');
        return new ScopeWatcher(scope, usable, reason, scopeDeps);
      });
      const tasks = [this.publishLoop(queue, publisher), ...this.watchers.map((w) => w.run())];
      // The first failure ends the session; stop the others and let them settle.
      await Promise.race([
        Promise.all(tasks),
        new Promise<never>((_, reject) => tasks.forEach((t) => t.catch(reject))),
        new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
      ]).finally(async () => {
        this.abort.abort();
        queue.close();
        for (const w of this.commitWaiters.splice(0)) w.resolve();
        await Promise.allSettled(tasks);
      });
    } finally {
      this.abort.abort();
      this.queue?.close();
      await this.stateReader?.close().catch((error: Error) => logger.warn({ err: error }, 'state reader close failed'));
      for (const writer of writers) {
        await writer.producer.disconnect().catch((error: Error) => logger.warn({ err: error, transactionalId: writer.transactionalId }, 'producer disconnect failed'));
      }
    }
  }
}
