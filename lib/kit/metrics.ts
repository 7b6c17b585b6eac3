// Prometheus metrics of a processor runner, and the same numbers as plain counters for tests and
// logs. Labelled children are resolved once (per output, per reason, per partition on first use),
// and the runner adds per transaction, not per record. By Prometheus' conventions: every series
// carries `processor` (several processors scraped into one Prometheus stay apart; no `service`,
// which Prometheus Operator sets itself), every counter of a known label value exists from the
// start at 0 (so `increase(...) > 0` sees the first event), outcomes are spelled as the producer's
// (committed, aborted), and lag has kafka-exporter's labels (consumergroup, topic, partition).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { deadLetterReasons, type DeadLetterReason } from './dead-letter.js';

export interface RunnerStats {
  recordsIn: number;
  recordsOut: Record<string, number>;
  deadLetters: Partial<Record<DeadLetterReason, number>>;
  commits: number;
  aborts: number;
  restores: number;
  restoredRecords: number;
  /** Input records skipped because a previous owner had already committed them. */
  skipped: number;
}

export class RunnerMetrics {
  readonly stats: RunnerStats;
  private readonly recordsIn: Counter.Internal;
  private readonly recordsOut = new Map<string, Counter.Internal>();
  private readonly deadLetters = new Map<DeadLetterReason, Counter.Internal>();
  private readonly commits: Counter.Internal;
  private readonly aborts: Counter.Internal;
  readonly batchRecords: Histogram.Internal<string>;
  readonly batchSeconds: Histogram.Internal<string>;
  readonly latencySeconds: Histogram.Internal<string>;
  readonly restoreSeconds: Histogram.Internal<string>;
  private readonly restoredRecords: Counter.Internal;
  private readonly lagGauge: Gauge<string>;
  private readonly lag = new Map<number, Gauge.Internal<string>>();
  private readonly processor: string;
  readonly assigned: Gauge.Internal<string>;

  private readonly lagLabels: { consumergroup: string; topic: string };

  constructor(registry: Registry, outputs: string[], identity: { processor: string; group: string; input: string }) {
    const registers = [registry];
    const processor = identity.processor;
    this.lagLabels = { consumergroup: identity.group, topic: identity.input };
    const zero = <T extends { inc(n: number): void }>(child: T): T => {
      child.inc(0);
      return child;
    };
    this.recordsIn = zero(new Counter({ name: 'kubetrail_processor_records_in_total', help: 'Input records processed (dead letters included)', labelNames: ['processor'], registers }).labels(processor));
    const out = new Counter({ name: 'kubetrail_processor_records_out_total', help: 'Records written per declared output', labelNames: ['processor', 'output'], registers });
    for (const output of outputs) this.recordsOut.set(output, zero(out.labels(processor, output)));
    const dead = new Counter({ name: 'kubetrail_processor_dead_letters_total', help: 'Input records sent to the dead-letter topic, by reason', labelNames: ['processor', 'reason'], registers });
    for (const reason of deadLetterReasons) this.deadLetters.set(reason, zero(dead.labels(processor, reason)));
    const transactions = new Counter({ name: 'kubetrail_processor_transactions_total', help: 'Transactions (or at-least-once batches) by outcome (committed, aborted)', labelNames: ['processor', 'outcome'], registers });
    this.commits = zero(transactions.labels(processor, 'committed'));
    this.aborts = zero(transactions.labels(processor, 'aborted'));
    this.batchRecords = new Histogram({
      name: 'kubetrail_processor_batch_records',
      help: 'Input records per transaction',
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 5000],
      labelNames: ['processor'],
      registers,
    }).labels(processor);
    this.batchSeconds = new Histogram({
      name: 'kubetrail_processor_batch_duration_seconds',
      help: 'Time to process one batch and commit its transaction',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      labelNames: ['processor'],
      registers,
    }).labels(processor);
    this.latencySeconds = new Histogram({
      name: 'kubetrail_processor_latency_seconds',
      help: 'From the input record timestamp to the commit of its outputs',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      labelNames: ['processor'],
      registers,
    }).labels(processor);
    this.restoreSeconds = new Histogram({
      name: 'kubetrail_processor_restore_duration_seconds',
      help: 'Time to restore the state of one partition from its changelog',
      buckets: [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      labelNames: ['processor'],
      registers,
    }).labels(processor);
    this.restoredRecords = zero(new Counter({ name: 'kubetrail_processor_restored_records_total', help: 'Changelog records read while restoring state', labelNames: ['processor'], registers }).labels(processor));
    this.lagGauge = new Gauge({
      name: 'kubetrail_processor_consumer_lag',
      help: 'Records behind the end of each assigned input partition (labels as kafka-exporter\'s kafka_consumergroup_lag)',
      labelNames: ['processor', 'consumergroup', 'topic', 'partition'],
      registers,
    });
    this.assigned = new Gauge({ name: 'kubetrail_processor_assigned_partitions', help: 'Input partitions assigned to this instance', labelNames: ['processor'], registers }).labels(processor);
    this.assigned.set(0);
    this.processor = processor;
    this.stats = { recordsIn: 0, recordsOut: Object.fromEntries(outputs.map((o) => [o, 0])), deadLetters: {}, commits: 0, aborts: 0, restores: 0, restoredRecords: 0, skipped: 0 };
  }

  committed(recordsIn: number, outCounts: Map<string, number>, deadCounts: Map<DeadLetterReason, number>): void {
    this.commits.inc();
    this.stats.commits++;
    if (recordsIn > 0) {
      this.recordsIn.inc(recordsIn);
      this.stats.recordsIn += recordsIn;
      this.batchRecords.observe(recordsIn);
    }
    for (const [output, n] of outCounts) {
      if (n === 0) continue;
      this.recordsOut.get(output)?.inc(n);
      this.stats.recordsOut[output] = (this.stats.recordsOut[output] ?? 0) + n;
    }
    for (const [reason, n] of deadCounts) {
      if (n === 0) continue;
      this.deadLetters.get(reason)?.inc(n);
      this.stats.deadLetters[reason] = (this.stats.deadLetters[reason] ?? 0) + n;
    }
  }

  aborted(): void {
    this.aborts.inc();
    this.stats.aborts++;
  }

  restored(records: number, seconds: number): void {
    this.stats.restores++;
    this.stats.restoredRecords += records;
    this.restoredRecords.inc(records);
    this.restoreSeconds.observe(seconds);
  }

  setLag(partition: number, lag: number): void {
    let child = this.lag.get(partition);
    if (!child) {
      child = this.lagGauge.labels({ processor: this.processor, ...this.lagLabels, partition: String(partition) });
      this.lag.set(partition, child);
    }
    child.set(Math.max(0, lag));
  }

  dropLag(partition: number): void {
    if (this.lag.delete(partition)) this.lagGauge.remove({ processor: this.processor, ...this.lagLabels, partition: String(partition) });
  }

  snapshot(): RunnerStats {
    return structuredClone(this.stats);
  }
}
