// The work of one input partition: open it (fence and find the committed offset, through the
// delivery strategy; restore its state), run fetched records through the task in chunks, send each
// chunk's result with the offset after it, and commit the staged state only once that succeeded.
// A failure resets the unit: the next batch of the partition opens it afresh (new producer,
// fencing, committed offset, restore), so nothing half-done is ever built upon.
import type { Batch, KafkaMessage } from 'kafkajs';
import type { Logger } from '../log.js';
import { SerialQueue } from '../async.js';
import type { Delivery } from './delivery.js';
import type { ProcessorTask } from './task.js';
import type { PartitionStore } from './state-store.js';
import type { ChangelogRestorer } from './restore.js';
import type { RunnerMetrics } from './metrics.js';
import { awaitSchemas, type Interruption } from './schemas-ready.js';
import type { WireDecoder } from '../kafka/codec.js';

export interface PartitionDeps {
  task: ProcessorTask<any, any, any>;
  delivery: Delivery;
  restorer: ChangelogRestorer | undefined;
  metrics: RunnerMetrics;
  logger: Logger;
  /** Most input records in one transaction. */
  maxBatchRecords: number;
  /** Told the partition's next offset after each committed chunk. */
  onCommit?: (partition: number, nextOffset: number) => void;
}

/** What kafkajs hands eachBatch, less what the unit does not use. */
export interface BatchControl extends Interruption {
  resolveOffset: (offset: string) => void;
  /** False once the consumer stops or the batch is stale (the partition was revoked). */
  current: () => boolean;
}

export class PartitionUnit {
  /** One batch at a time, in order; a reset waits for the batch in progress. */
  readonly queue = new SerialQueue();
  private ready = false;
  private store: PartitionStore<unknown> | undefined;
  /** Next input offset to process; records below it are already committed. -1: unknown. */
  private position = -1;

  constructor(
    readonly partition: number,
    private readonly deps: PartitionDeps,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  /** Takes the partition: fencing and committed offset, then the state. */
  private async open(interruption: Interruption): Promise<void> {
    const began = Date.now();
    const { delivery, restorer, metrics, logger } = this.deps;
    this.position = await delivery.open(this.partition);
    if (restorer) {
      const { store, records } = await restorer.restore(this.partition, interruption);
      this.store = store;
      metrics.restored(records, (Date.now() - began) / 1000);
      logger.info({ partition: this.partition, records, keys: store.size, ms: Date.now() - began, position: this.position }, 'partition assigned, state restored');
    } else {
      logger.info({ partition: this.partition, ms: Date.now() - began, position: this.position }, 'partition assigned');
    }
    this.ready = true;
  }

  /** Gives the partition up (revoked, failed or stopping). */
  async reset(): Promise<void> {
    this.ready = false;
    this.store = undefined;
    this.position = -1;
    await this.deps.delivery.close(this.partition);
  }

  /**
   * Processes a fetched batch: records already committed are skipped, the rest go through the
   * task in chunks of at most maxBatchRecords, each sent and committed before the next. Records
   * whose schema is known go first; the registry is asked only at the first one it must answer
   * for, so an outage holds back only records with schemas not seen yet.
   */
  async process(batch: Batch, control: BatchControl): Promise<void> {
    const { metrics, logger } = this.deps;
    if (!this.ready) await this.open(control);
    const messages = batch.messages;
    let i = 0;
    while (i < messages.length && Number(messages[i]!.offset) < this.position) i++;
    if (i > 0) {
      metrics.stats.skipped += i;
      logger.info({ partition: this.partition, skipped: i, position: this.position }, 'skipped records already committed');
      control.resolveOffset(messages[i - 1]!.offset);
    }
    while (i < messages.length) {
      if (!control.current() || control.stopping()) return;
      const limit = Math.min(i + this.deps.maxBatchRecords, messages.length);
      let end = i;
      while (end < limit && this.deps.task.isPrepared(messages[end]!.value)) end++;
      if (end === i) {
        const decoder = this.deps.task.config.inputDecoder as WireDecoder<unknown>;
        await awaitSchemas(decoder, messages.slice(i, limit).map((m) => m.value), control, logger);
        continue;
      }
      const chunk = messages.slice(i, end);
      const last = Number(chunk[chunk.length - 1]!.offset);
      // After the last record of the fetched batch comes its transaction marker, if any: skip it too.
      const nextOffset = end === messages.length ? Math.max(Number(batch.lastOffset()), last) + 1 : last + 1;
      await this.commitChunk(chunk, nextOffset, Number(batch.highWatermark));
      control.resolveOffset(chunk[chunk.length - 1]!.offset);
      i = end;
      try {
        await control.heartbeat();
      } catch (error) {
        throw new BetweenTransactions(error);
      }
    }
  }

  /** Runs one chunk through the task and sends it with the input offset `nextOffset`. */
  private async commitChunk(messages: KafkaMessage[], nextOffset: number, highWatermark: number): Promise<void> {
    const { task, delivery, metrics } = this.deps;
    const began = Date.now();
    const result = task.run(this.partition, messages, this.store, began);
    for (const dead of result.deadLetters) this.deps.logger.warn({ partition: this.partition, offset: dead.offset, reason: dead.reason, err: dead.error }, 'record dead-lettered');
    try {
      await delivery.send(this.partition, result.topicMessages, nextOffset);
    } catch (error) {
      this.store?.abort();
      metrics.aborted();
      throw error;
    }
    this.store?.commit();
    this.position = nextOffset;
    this.deps.onCommit?.(this.partition, nextOffset);
    metrics.committed(result.recordsIn, result.outCounts, result.deadCounts);
    const now = Date.now();
    metrics.batchSeconds.observe((now - began) / 1000);
    metrics.latencySeconds.observe(Math.max(0, now - Number(messages[0]!.timestamp)) / 1000);
    metrics.setLag(this.partition, highWatermark - nextOffset);
  }
}

/** A heartbeat failed (a rebalance) between two committed chunks: not a failure of the partition. */
export class BetweenTransactions extends Error {
  override name = 'BetweenTransactions';
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error));
  }
}

