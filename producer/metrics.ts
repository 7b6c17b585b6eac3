// Prometheus metrics of the producer (prom-client), served on /metrics by lib/http.ts.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '../lib/http.js';
import { operations } from './config.js';
import type { RelistReason } from './source.js';
import { trimSteps } from './trim.js';

/** Every label value each counter can take, known in advance: each series exists from the start at 0. */
export const knownLabelValues = {
  eventsSeen: ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'READ', 'DELETED_INFERRED'],
  eventsPublished: [...operations],
  eventsSkipped: ['name_prefix', 'operation_filter', 'unchanged'],
  watchRestarts: ['closed', 'timeout', 'error', 'expired', 'full'],
  relists: ['first_start', 'expired', 'selection_changed'] satisfies RelistReason[],
  trimmed: trimSteps.map((_step, index) => String(index + 1)),
  transactions: ['committed', 'aborted'],
  sessions: ['ended', 'failed'],
} as const;

export function createProducerMetrics(registry: Registry = createMetricsRegistry()) {
  const metrics = producerMetrics(registry);
  for (const [name, values] of Object.entries(knownLabelValues) as Array<[keyof typeof knownLabelValues, readonly string[]]>) {
    const counter = metrics[name] as unknown as Counter<string> & { labelNames: string[] };
    const label = counter.labelNames[0] as string;
    for (const value of values) counter.inc({ [label]: value }, 0);
  }
  return metrics;
}

function producerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    registry,
    eventsSeen: new Counter({
      name: 'kubetrail_producer_events_seen_total',
      help: 'Events received from the API server, by operation (ADDED, MODIFIED, DELETED, BOOKMARK from the watch; READ from lists; DELETED_INFERRED from relists)',
      labelNames: ['operation'],
      registers,
    }),
    eventsPublished: new Counter({
      name: 'kubetrail_producer_events_published_total',
      help: 'Records committed to the raw topic, by operation',
      labelNames: ['operation'],
      registers,
    }),
    eventsSkipped: new Counter({
      name: 'kubetrail_producer_events_skipped_total',
      help: 'Events not published, by reason (name_prefix, operation_filter, unchanged on relist)',
      labelNames: ['reason'],
      registers,
    }),
    watchRestarts: new Counter({
      name: 'kubetrail_producer_watch_restarts_total',
      help: 'Watches started again, by reason (closed, timeout, error, expired, full: the queue was full)',
      labelNames: ['reason'],
      registers,
    }),
    relists: new Counter({
      name: 'kubetrail_producer_relists_total',
      help: 'Lists of the whole selection, by reason (first_start, expired, selection_changed)',
      labelNames: ['reason'],
      registers,
    }),
    transactionSeconds: new Histogram({
      name: 'kubetrail_producer_publish_duration_seconds',
      help: 'Duration of one Kafka transaction (records + state, until the commit is acknowledged)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    eventLatency: new Histogram({
      name: 'kubetrail_producer_event_latency_seconds',
      help: 'From receiving an event to Kafka acknowledging its commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers,
    }),
    bytesPublished: new Counter({
      name: 'kubetrail_producer_bytes_published_total',
      help: 'Bytes of record values (Avro, before compression) committed to the raw topic',
      registers,
    }),
    trimmed: new Counter({
      name: 'kubetrail_producer_records_trimmed_total',
      help: 'Records whose object was trimmed to fit the size limit, by the last step applied',
      labelNames: ['step'],
      registers,
    }),
    transactions: new Counter({
      name: 'kubetrail_producer_transactions_total',
      help: 'Kafka transactions, by outcome (committed, aborted)',
      labelNames: ['outcome'],
      registers,
    }),
    leader: new Gauge({ name: 'kubetrail_producer_leader', help: '1 while this replica is the stream\'s leader (the one writer)', registers }),
    queueEvents: new Gauge({ name: 'kubetrail_producer_queue_events', help: 'Events waiting to be published', registers }),
    sessions: new Counter({
      name: 'kubetrail_producer_sessions_total',
      help: 'Leader sessions started (a session ends on leadership loss or a Kafka failure, and resumes from the state topic)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}

export type ProducerMetrics = ReturnType<typeof producerMetrics>;
