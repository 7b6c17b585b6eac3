// A sink is declared, like a processor (lib/kit/processor.ts): a name, the topic and Avro schema
// it reads, and an async deliver(record) that does the I/O a processor may not (an HTTP request, a
// Slack message). The sink runner (lib/sink/runner.ts) owns consuming, decoding, ordering per key,
// concurrency, rate, retries, dead letters, offsets, metrics and shutdown. See docs/sinks.md.
import type { AvroSchema } from '../kit/processor.js';

export interface SinkRecord<T> {
  topic: string;
  partition: number;
  offset: string;
  /** Record key as UTF-8 text; null when the record has none. */
  key: string | null;
  value: T;
  /** Broker timestamp in milliseconds since the epoch. */
  timestamp: number;
  headers: Record<string, string>;
  /**
   * The idempotency key: the event id the record carries (ce_id, else kubetrail-id). Every
   * delivery of this record, first or repeated, carries it (the Idempotency-Key header, the
   * CloudEvents id), so a receiver drops the copies that at-least-once allows.
   */
  eventId: string;
}

export interface SinkDefinition<T = unknown> {
  /** Unique name: the consumer group (sink-<name>), dead-letter topic and metrics derive from it. */
  name: string;
  description: string;
  input: { topic: string; schema: AvroSchema };
  /** False: the record is passed over (counted as filtered, its offset committed). Pure and quick; throwing dead-letters the record (process-error). */
  select?(record: SinkRecord<T>): boolean;
  /**
   * Delivers one record. Resolving means delivered. Throwing a DeliveryError says whether to try
   * again (and after how long, from Retry-After); any other error is retried. The runner calls
   * deliver for one key at a time, in offset order, and may call it again for the same record.
   * The signal aborts when a stop has waited drainTimeoutMs for the attempts in flight.
   */
  deliver(record: SinkRecord<T>, signal: AbortSignal): Promise<void>;
}

/** Helper that keeps the value type inferred at the definition site. */
export function defineSink<T>(definition: SinkDefinition<T>): SinkDefinition<T> {
  return definition;
}

/** A delivery failed; `permanent` ones go to the dead-letter topic at once, the others are retried. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly permanent: boolean,
    /** The receiver's last response, as kept with a dead letter (status line and the start of the body). */
    readonly response: string,
    /** How long the receiver asked to wait (Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
