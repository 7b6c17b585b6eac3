// Prometheus metrics of a sink runner, and the same numbers as plain counters for tests and logs.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { DeadLetterReason } from '../kit/dead-letter.js';

export interface SinkStats {
  /** Records delivered (a 2xx, or deliver() resolved). */
  delivered: number;
  /** Attempts that failed and were tried again. */
  retried: number;
  /** Records sent to the dead-letter topic, by reason. */
  failed: Partial<Record<DeadLetterReason, number>>;
  /** Records select() passed over. */
  filtered: number;
  /** Offset commits. */
  commits: number;
}

/** The reasons a sink runner dead-letters a record with. */
const sinkDeadLetterReasons: DeadLetterReason[] = ['delivery-rejected', 'delivery-exhausted', 'process-error'];

export class SinkMetrics {
  readonly stats: SinkStats = { delivered: 0, retried: 0, failed: {}, filtered: 0, commits: 0 };
  private readonly deliveredCounter: Counter.Internal;
  private readonly retriedCounter: Counter.Internal;
  private readonly failedCounter: Counter<string>;
  private readonly filteredCounter: Counter.Internal;
  /** From the record's timestamp (when it was written) to its delivery. */
  readonly latencySeconds: Histogram.Internal<string>;
  /** One attempt: the request and its response. */
  readonly attemptSeconds: Histogram.Internal<string>;

  /** `sink`: the sink's name, on every series (as processors' carry `processor`), so several sinks scraped by one job stay apart. */
  constructor(registry: Registry, private readonly sink: string) {
    const registers = [registry];
    const labelNames = ['sink'];
    this.deliveredCounter = new Counter({ name: 'kubetrail_sink_delivered_total', help: 'Records delivered', labelNames, registers }).labels(sink);
    this.retriedCounter = new Counter({ name: 'kubetrail_sink_retries_total', help: 'Failed attempts that were tried again', labelNames, registers }).labels(sink);
    this.failedCounter = new Counter({ name: 'kubetrail_sink_failed_total', help: 'Records sent to the dead-letter topic, by reason', labelNames: ['sink', 'reason'], registers });
    // At 0 from the start for every reason a sink dead-letters with, so `increase(...) > 0` sees the first one.
    for (const reason of sinkDeadLetterReasons) this.failedCounter.labels(sink, reason).inc(0);
    this.filteredCounter = new Counter({ name: 'kubetrail_sink_filtered_total', help: 'Records the sink passed over (its filters)', labelNames, registers }).labels(sink);
    this.latencySeconds = new Histogram({
      name: 'kubetrail_sink_delivery_latency_seconds',
      help: 'From the record timestamp to its delivery (the receiver answered 2xx)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      labelNames,
      registers,
    }).labels(sink);
    this.attemptSeconds = new Histogram({
      name: 'kubetrail_sink_attempt_duration_seconds',
      help: 'One delivery attempt, success or not',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      labelNames,
      registers,
    }).labels(sink);
    // Every series exists from the start (at 0), as a labelled series appears only at its first event.
    for (const counter of [this.deliveredCounter, this.retriedCounter, this.filteredCounter]) counter.inc(0);
  }

  delivered(latencyMs: number): void {
    this.stats.delivered++;
    this.deliveredCounter.inc();
    this.latencySeconds.observe(Math.max(0, latencyMs) / 1000);
  }

  retried(): void {
    this.stats.retried++;
    this.retriedCounter.inc();
  }

  failed(reason: DeadLetterReason): void {
    this.stats.failed[reason] = (this.stats.failed[reason] ?? 0) + 1;
    this.failedCounter.labels(this.sink, reason).inc();
  }

  filtered(): void {
    this.stats.filtered++;
    this.filteredCounter.inc();
  }

  snapshot(): SinkStats {
    return structuredClone(this.stats);
  }
}
