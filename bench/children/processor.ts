// One processor instance (lib/kit/runner.ts runProcessor) in its own process, for the benchmarks.
// BENCH_SPEC = {processor, mode, groupId, topics, expect?, ...}. Prints JSON lines on stdout:
//   {"event":"ready"}                once joined the group
//   {"event":"progress", ...}        every second: records in, out
//   {"event":"done", ...}            when `expect` input records are processed (if given):
//                                    first-ready time, done time, stats, CPU and memory
//   {"event":"stopped", ...}         after SIGTERM, with the final stats
// Each progress, done and stopped line has concurrentTransactions: {requests, retries}, the
// process's kafkajs requests that met CONCURRENT_TRANSACTIONS (lib/kafka/concurrent-transactions.ts);
// progress lines also txnSeconds: {sum, count} of kubetrail_processor_batch_duration_seconds, and
// gcPauses: the garbage collector's pauses of 2 ms or more since the last progress line (bench/lib/gc-pauses.ts).
import { pino } from 'pino';
import { connectionSchema } from '../../lib/config.js';
import { runProcessor, type DeliveryMode, type TopicOverrides } from '../../lib/kit/runner.js';
import { loadProcessor } from '../../lib/kit/discovery.js';
import { concurrentTransactionStats } from '../../lib/kafka/concurrent-transactions.js';
import { watchGcPauses } from '../lib/gc-pauses.js';

interface Spec {
  processor: string;
  mode: DeliveryMode;
  groupId: string;
  topics: TopicOverrides;
  /** Report "done" after this many input records. */
  expect?: number;
  maxBatchRecords?: number;
  concurrency?: number;
  /** Stop by itself after "done" (otherwise waits for SIGTERM). */
  exitWhenDone?: boolean;
  /** Give up after this long (bounded run). */
  timeoutMs?: number;
  /** Consumer fetch size per partition (runProcessor's maxBytesPerPartition; default DEFAULT_MAX_BYTES_PER_PARTITION, 8 MiB). */
  maxBytesPerPartition?: number;
  /** Consumer fetch size over all partitions (runProcessor's maxBytesPerFetch; default DEFAULT_MAX_BYTES_PER_FETCH, 10 MiB). */
  maxBytesPerFetch?: number;
}

const spec = JSON.parse(process.env.BENCH_SPEC ?? '{}') as Spec;
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`);

const definition = await loadProcessor(spec.processor);
const connection = connectionSchema.parse({
  kafkaBrokers: process.env.KAFKA_BROKERS,
  schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL,
  kafkaClientId: `bench-${spec.processor}-${process.pid}`,
});
const logger = pino({ name: spec.processor, level: process.env.LOG_LEVEL ?? 'warn', base: { pid: process.pid } }, pino.destination(2));

const started = Date.now();
const handle = await runProcessor(definition, {
  connection,
  logger,
  groupId: spec.groupId,
  mode: spec.mode,
  topics: spec.topics,
  maxBatchRecords: spec.maxBatchRecords,
  maxBytesPerPartition: spec.maxBytesPerPartition,
  maxBytesPerFetch: spec.maxBytesPerFetch,
  concurrency: spec.concurrency,
  handleSignals: true,
  sessionTimeoutMs: 10_000,
});

let readyAt: number | undefined;
/** Monotonic µs, the clock of V8's CPU profiles (to cut a profile to the processing span). */
let readyHrUs: number | undefined;
let doneSent = false;
/** The main thread's busy share from ready to done (the rest: waiting on Kafka, or on gunzip in libuv's pool). */
let eluAtReady: ReturnType<typeof performance.eventLoopUtilization> | undefined;
let maxRss = 0;
const cpuStart = process.cpuUsage();
const timeout = setTimeout(() => {
  say({ event: 'timeout', stats: handle.stats() });
  void handle.stop().then(() => process.exit(2));
}, spec.timeoutMs ?? 900_000);

/** Seconds spent in committed transactions (processing a chunk and committing it), and how many. */
const batchSeconds = async () => {
  const metric = handle.metrics.getSingleMetric('kubetrail_processor_batch_duration_seconds');
  const values = metric ? (await metric.get()).values : [];
  const of = (suffix: string) => values.filter((v) => (v as { metricName?: string }).metricName?.endsWith(suffix)).reduce((n, v) => n + v.value, 0);
  return { sum: of('_sum'), count: of('_count') };
};
const gcPauses = watchGcPauses();
let lastProgress = 0;
const poll = setInterval(() => {
  const now = Date.now();
  maxRss = Math.max(maxRss, process.memoryUsage.rss());
  if (readyAt === undefined && handle.ready()) {
    readyAt = now;
    readyHrUs = Number(process.hrtime.bigint() / 1000n);
    eluAtReady = performance.eventLoopUtilization();
    say({ event: 'ready', pid: process.pid, startupMs: now - started, readyHrUs });
  }
  const stats = handle.stats();
  if (now - lastProgress >= 1000) {
    lastProgress = now;
    const ct = concurrentTransactionStats();
    const pauses = gcPauses.take();
    void batchSeconds().then((txnSeconds) => say({ event: 'progress', recordsIn: stats.recordsIn, recordsOut: stats.recordsOut, commits: stats.commits, concurrentTransactions: ct, txnSeconds, gcPauses: pauses }));
  }
  if (!doneSent && spec.expect !== undefined && stats.recordsIn >= spec.expect) {
    doneSent = true;
    const cpu = process.cpuUsage(cpuStart);
    say({ event: 'done', readyAt, doneAt: now, readyHrUs, doneHrUs: Number(process.hrtime.bigint() / 1000n), stats, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, maxRss, concurrentTransactions: concurrentTransactionStats(), mainThreadBusy: eluAtReady ? performance.eventLoopUtilization(eluAtReady).utilization : undefined });
    if (spec.exitWhenDone) void handle.stop();
  }
}, 10);

try {
  await handle.done;
  clearInterval(poll);
  clearTimeout(timeout);
  say({ event: 'stopped', stats: handle.stats(), maxRss, concurrentTransactions: concurrentTransactionStats() });
  process.exit(0);
} catch (error) {
  say({ event: 'failed', error: (error as Error).message });
  process.exit(1);
}
