// Dead letters: an input record the processor (or a sink) cannot handle is written, unchanged (original key
// and value bytes, original headers), to the dead-letter topic with headers saying why and where
// it came from, in the same transaction as the input offset that skips it. Nothing is lost and the
// processor goes on; a human or a replay tool deals with the dead letters later.
import type { IHeaders, KafkaMessage, Message } from 'kafkajs';

/** Why a record was dead-lettered (the kubetrail-dlq-reason header). */
export const deadLetterReasons = [
  /** Not the Confluent wire format: no value, shorter than 5 bytes, or a first byte that is not 0. */
  'invalid-wire-format',
  /** The schema id in the header is not in the Schema Registry. */
  'unknown-schema',
  /** The writer schema cannot be resolved to the declared input schema. */
  'incompatible-schema',
  /** The bytes after the header are not Avro of their schema (truncated, trailing or garbled data). */
  'malformed-avro',
  /** process() threw. */
  'process-error',
  /** process() returned a record for an undeclared output, or a value its schema rejects. */
  'invalid-output',
  /** process() used undeclared state or put a value the state schema rejects. */
  'invalid-state',
  /** A sink's receiver refused the delivery for good (an HTTP 4xx other than 408 and 429). */
  'delivery-rejected',
  /** A sink's delivery kept failing (5xx, 408, 429, timeouts, connection errors) past its retry time. */
  'delivery-exhausted',
] as const;
export type DeadLetterReason = (typeof deadLetterReasons)[number];

export const DLQ_HEADERS = {
  reason: 'kubetrail-dlq-reason',
  error: 'kubetrail-dlq-error',
  errorName: 'kubetrail-dlq-error-name',
  topic: 'kubetrail-dlq-topic',
  partition: 'kubetrail-dlq-partition',
  offset: 'kubetrail-dlq-offset',
  processor: 'kubetrail-dlq-processor',
  timestamp: 'kubetrail-dlq-timestamp',
  /** A sink's dead letter: the receiver's last response (status line and the start of the body), or the connection error. */
  response: 'kubetrail-dlq-response',
} as const;

/** Longest error text kept in a header (a stack trace or a huge value would bloat the record). */
const MAX_ERROR_LENGTH = 4_000;

export interface DeadLetterSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** The dead-letter record for an input record: same key, value and timestamp, headers added. */
export function deadLetterMessage(
  processor: string,
  source: DeadLetterSource,
  reason: DeadLetterReason,
  error: string,
  errorName: string,
  /** When it was dead-lettered (ms since the epoch); the caller's clock keeps this pure. */
  now: number,
  /** A sink's dead letter: the last response of the receiver. */
  response?: string,
): Message {
  const { message } = source;
  const headers: IHeaders = {};
  if (message.headers) for (const [name, value] of Object.entries(message.headers)) if (value !== undefined) headers[name] = value;
  headers[DLQ_HEADERS.reason] = reason;
  headers[DLQ_HEADERS.error] = error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH)}…` : error;
  headers[DLQ_HEADERS.errorName] = errorName;
  headers[DLQ_HEADERS.topic] = source.topic;
  headers[DLQ_HEADERS.partition] = String(source.partition);
  headers[DLQ_HEADERS.offset] = message.offset;
  headers[DLQ_HEADERS.processor] = processor;
  headers[DLQ_HEADERS.timestamp] = new Date(now).toISOString();
  if (response !== undefined) headers[DLQ_HEADERS.response] = response.length > MAX_ERROR_LENGTH ? `${response.slice(0, MAX_ERROR_LENGTH)}…` : response;
  return { key: message.key ?? null, value: message.value ?? null, headers, timestamp: message.timestamp };
}

/** The dead-letter headers of a record read back from the dead-letter topic, as text. */
export function readDeadLetterHeaders(headers: IHeaders | undefined): Partial<Record<keyof typeof DLQ_HEADERS, string>> {
  const result: Partial<Record<keyof typeof DLQ_HEADERS, string>> = {};
  if (!headers) return result;
  for (const [field, name] of Object.entries(DLQ_HEADERS) as Array<[keyof typeof DLQ_HEADERS, string]>) {
    const value = headers[name];
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) result[field] = last.toString();
  }
  return result;
}
