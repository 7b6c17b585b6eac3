// The consumer side of the runner, kept thin: join the group, hand each fetched batch to its
// partition's unit (one batch at a time per partition, partitions in parallel), give up the units
// of revoked partitions, report a consumer that fails for good, and stop: leave the group, wait
// for the batches in flight, close the units.
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../log.js';
import type { RunnerMetrics } from './metrics.js';
import { BetweenTransactions, type PartitionUnit } from './partition.js';
import { StopRequested } from './schemas-ready.js';
import { kafkaErrorTypes, needsNewProducer } from '../kafka/producer-errors.js';

export interface ConsumerLoopOptions {
  kafka: Kafka;
  groupId: string;
  inputTopic: string;
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  /** Partitions processed at the same time. */
  concurrency: number;
  /** Most bytes fetched per partition per request. */
  maxBytesPerPartition: number;
  /** Most bytes a fetch request (kafkajs makes one per broker) returns over all its partitions. */
  maxBytesPerFetch: number;
  metrics: RunnerMetrics;
  logger: Logger;
  newUnit: (partition: number) => PartitionUnit;
  /**
   * Where a fresh group starts in these partitions (partition → offset): each is sought once, when
   * first assigned, instead of committing offsets beforehand (kafkajs' admin.setOffsets waits out
   * a whole fetch of a paused consumer, 5 s).
   */
  startOffsets?: ReadonlyMap<number, number>;
  /** A fetch held only transaction markers or aborted records: kafkajs moves past them without a batch. */
  onEmptyBatch?: (partition: number, nextOffset: number) => void;
  /** The consumer failed and kafkajs will not restart it. */
  onFatal: (error: Error) => void;
}

/** A batch failed on a producer error that the partition's reset cured: retriable, so kafkajs restarts the consumer instead of dying. */
export class PartitionReinitialised extends Error {
  override name = 'PartitionReinitialised';
  readonly retriable = true;
  constructor(partition: number, error: unknown) {
    // No `cause`: kafkajs judges retriability by the innermost cause.
    super(`partition ${partition} re-initialised after: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export class ConsumerLoop {
  readonly consumer: Consumer;
  private readonly units = new Map<number, PartitionUnit>();
  /** eachBatch calls in progress: kafkajs may return from disconnect() during a rebalance before they end. */
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private readonly sought = new Set<number>();
  joined = false;

  constructor(private readonly options: ConsumerLoopOptions) {
    const { kafka, groupId, sessionTimeoutMs } = options;
    this.consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.max(300, Math.floor(sessionTimeoutMs / 10)),
      maxWaitTimeInMs: 500,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: options.maxBytesPerFetch,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => this.onJoin(payload.memberAssignment[options.inputTopic] ?? [], payload.memberId));
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.joined = false;
      if (payload.restart) {
        options.logger.warn({ err: payload.error.message }, 'consumer crashed; kafkajs restarts it');
        return;
      }
      options.logger.error({ err: payload.error.message }, 'consumer failed for good; stopping');
      options.onFatal(payload.error);
    });
    if (options.onEmptyBatch) {
      const onEmpty = options.onEmptyBatch;
      this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize === 0 && payload.topic === options.inputTopic) onEmpty(payload.partition, Number(payload.lastOffset) + 1);
      });
    }
    this.consumer.on(this.consumer.events.STOP, () => {
      this.joined = false;
    });
  }

  async start(concurrency = this.options.concurrency): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.inputTopic, fromBeginning: this.options.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, concurrency),
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  private onJoin(assignedList: number[], memberId: string): void {
    this.joined = true;
    const assigned = new Set(assignedList);
    const revoked: number[] = [];
    for (const [p, unit] of this.units) {
      if (assigned.has(p)) continue;
      if (unit.isReady) revoked.push(p);
      this.options.metrics.dropLag(p);
      void unit.queue.run(() => unit.reset());
    }
    for (const p of assigned) {
      const offset = this.options.startOffsets?.get(p);
      if (offset === undefined || this.sought.has(p)) continue;
      this.sought.add(p);
      this.consumer.seek({ topic: this.options.inputTopic, partition: p, offset: String(offset) });
    }
    this.options.metrics.assigned.set(assigned.size);
    this.options.logger.info({ assigned: [...assigned].sort((a, b) => a - b), revoked, generation: memberId }, 'joined the group');
  }

  private unit(partition: number): PartitionUnit {
    let unit = this.units.get(partition);
    if (!unit) {
      unit = this.options.newUnit(partition);
      this.units.set(partition, unit);
    }
    return unit;
  }

  private eachBatch(payload: EachBatchPayload): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const work = this.runBatch(payload);
    this.inFlight.add(work);
    const forget = () => void this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }

  private async runBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const unit = this.unit(batch.partition);
    const stopping = () => this.stopping;
    await unit.queue.run(async () => {
      if (this.stopping) return;
      try {
        await unit.process(batch, { resolveOffset, heartbeat, stopping, current: () => isRunning() && !isStale() });
      } catch (error) {
        if (error instanceof StopRequested) return;
        if (error instanceof BetweenTransactions) throw error.error;
        // The transaction failed or the restore was interrupted: start this partition afresh
        // (new producer, fencing, committed offset, restore) when its records come again.
        this.options.logger.warn(
          { partition: batch.partition, err: error instanceof Error ? error.message : String(error), type: kafkaErrorTypes(error)[0] },
          'batch failed; the partition will be re-initialised',
        );
        await unit.reset();
        // kafkajs gives a consumer up for good on an error it does not call retriable; a broken
        // or fenced transactional producer is cured by the reset (a new producer): let kafkajs
        // restart the consumer, which then resumes from the committed offsets.
        if (needsNewProducer(error)) throw new PartitionReinitialised(batch.partition, error);
        throw error;
      }
    });
  }

  /** Leaves the group, waits for the batches in flight and gives every partition up. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch((error: Error) => this.options.logger.warn({ err: error.message }, 'consumer disconnect failed'));
    this.joined = false;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await Promise.all([...this.units.values()].map((unit) => unit.queue.run(() => unit.reset())));
  }
}
