// The consuming side of a sink: each fetched batch becomes one chain of records per key (in offset
// order, a key's next record only after the previous one finished), the chains of different keys
// run at once under a shared bound, and the partition's offset is resolved and committed only as
// far as every record before it finished — delivered, filtered or dead-lettered. A stop (or a
// revoked partition) lets the attempts in flight finish and starts nothing new; what is left is
// fetched again by whoever owns the partition next, so nothing is lost and a key's order holds.
import type { Consumer, EachBatchPayload, KafkaMessage, Producer } from 'kafkajs';
import type { Logger } from '../log.js';
import type { Semaphore } from '../async.js';
import type { WireDecoder } from '../kafka/codec.js';
import { deadLetterMessage, type DeadLetterReason } from '../kit/dead-letter.js';
import { awaitSchemas, StopRequested } from '../kit/schemas-ready.js';
import { headersOf } from '../kit/task.js';
import { deliverRecord, type AttemptContext } from './attempts.js';
import { OffsetTracker } from './offsets.js';
import type { SinkRecord } from './sink.js';

/** How often progress within a long batch is committed. */
const COMMIT_INTERVAL_MS = 1_000;

export interface SinkConsumerContext extends AttemptContext {
  consumer: Consumer;
  deadLetters: Producer;
  deadLetterTopic: string;
  decoder: WireDecoder<unknown>;
  /** Deliveries in flight across all keys and partitions. */
  slots: Semaphore;
}

/** The idempotency key: the event id the record carries, else its position (stable across redeliveries). */
export function eventIdOf(headers: Record<string, string>, topic: string, partition: number, offset: string): string {
  return headers.ce_id ?? headers['kubetrail-id'] ?? `${topic}/${partition}/${offset}`;
}

export class SinkBatch {
  private readonly tracker = new OffsetTracker();
  private committed: string | undefined;
  private failure: unknown;

  constructor(
    private readonly context: SinkConsumerContext,
    private readonly payload: EachBatchPayload,
  ) {}

  private get partition(): number {
    return this.payload.batch.partition;
  }

  private current(): boolean {
    return !this.context.stopping.aborted && this.payload.isRunning() && !this.payload.isStale() && this.failure === undefined;
  }

  async run(): Promise<void> {
    const { batch, heartbeat } = this.payload;
    const { context } = this;
    try {
      await awaitSchemas(context.decoder, batch.messages.map((m) => m.value), { heartbeat, stopping: () => context.stopping.aborted }, context.logger);
    } catch (error) {
      if (error instanceof StopRequested) return;
      throw error;
    }
    this.tracker.take(batch.messages.map((m) => m.offset));
    const chains = new Map<string, Promise<boolean>>();
    for (const message of batch.messages) {
      const key = message.key ? message.key.toString('utf8') : `${batch.partition}/${message.offset}`;
      const previous = chains.get(key) ?? Promise.resolve(true);
      chains.set(key, previous.then((go) => (go ? this.handle(message) : false)));
    }
    const ticker = setInterval(() => {
      void heartbeat().catch(() => undefined);
      void this.commit().catch((error: Error) => context.logger.warn({ partition: this.partition, err: error.message }, 'offset commit failed; retried at the next one'));
    }, COMMIT_INTERVAL_MS);
    try {
      await Promise.all(chains.values());
    } finally {
      clearInterval(ticker);
    }
    await this.commit();
    if (this.failure !== undefined) throw this.failure;
  }

  /** One record; false when it is left unfinished (stop, revocation, failure), which ends its key's chain. */
  private async handle(message: KafkaMessage): Promise<boolean> {
    if (!this.current()) return false;
    try {
      const decoded = this.context.decoder.decode(message.value);
      if (!decoded.ok) return await this.deadLetter(message, decoded.reason, decoded.error, 'DecodeError');
      const headers = headersOf(message.headers);
      const { topic, partition } = this.payload.batch;
      const record: SinkRecord<unknown> = {
        topic,
        partition,
        offset: message.offset,
        key: message.key ? message.key.toString('utf8') : null,
        value: decoded.value,
        timestamp: Number(message.timestamp),
        headers,
        eventId: eventIdOf(headers, topic, partition, message.offset),
      };
      const selected = this.select(record);
      if (selected !== true) {
        if (selected === false) {
          this.context.metrics.filtered();
          return this.finish(message.offset);
        }
        return await this.deadLetter(message, 'process-error', selected.message, selected.name);
      }
      await this.context.slots.acquire();
      let outcome;
      try {
        if (!this.current()) return false;
        outcome = await deliverRecord(record, this.context);
      } finally {
        this.context.slots.release();
      }
      if (outcome.kind === 'stopped') return false;
      if (outcome.kind === 'dead') return await this.deadLetter(message, outcome.reason, outcome.error, outcome.errorName, outcome.response);
      return this.finish(message.offset);
    } catch (error) {
      // A dead letter that cannot be written: nothing more of this batch starts; it is fetched again.
      this.failure ??= error;
      return false;
    }
  }

  /** The sink's filter: true, false, or the error it threw (a dead letter, not a stuck partition). */
  private select(record: SinkRecord<unknown>): boolean | Error {
    if (!this.context.definition.select) return true;
    try {
      return this.context.definition.select(record);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  private async deadLetter(message: KafkaMessage, reason: DeadLetterReason, error: string, errorName: string, response?: string): Promise<boolean> {
    const { batch } = this.payload;
    const letter = deadLetterMessage(this.context.definition.name, { topic: batch.topic, partition: batch.partition, message }, reason, error, errorName, Date.now(), response);
    await this.context.deadLetters.send({ topic: this.context.deadLetterTopic, messages: [letter], acks: -1 });
    this.context.metrics.failed(reason);
    this.context.logger.warn({ partition: batch.partition, offset: message.offset, reason, response }, 'record dead-lettered');
    return this.finish(message.offset);
  }

  private finish(offset: string): true {
    if (this.tracker.finish(offset)) this.payload.resolveOffset(String(BigInt(this.tracker.committable!) - 1n));
    return true;
  }

  private async commit(): Promise<void> {
    const offset = this.tracker.committable;
    if (offset === undefined || offset === this.committed) return;
    // A revoked partition's commit would be refused: its next owner delivers from the last commit.
    if (this.payload.isStale()) return;
    await this.context.consumer.commitOffsets([{ topic: this.payload.batch.topic, partition: this.partition, offset }]);
    this.committed = offset;
    this.context.metrics.stats.commits++;
  }
}
