// The producer service (producer/service.ts startProducer) in its own process, for the
// benchmarks. BENCH_SPEC = producer settings as a config file would hold them (Kafka, the
// registry and the kubeconfig come from the environment). Prints JSON lines on stdout:
//   {"event":"ready"}          leader and watching
//   {"event":"status", ...}    every 250 ms: records published, events seen, RSS and heap
//   {"event":"stopped", ...}   after SIGTERM
// Each status and the stopped line has concurrentTransactions: {requests, retries}, the process's
// kafkajs requests that met CONCURRENT_TRANSACTIONS (lib/kafka/concurrent-transactions.ts); status
// lines also txnSeconds: {sum, count} of kubetrail_producer_publish_duration_seconds, and
// gcPauses: the garbage collector's pauses of 2 ms or more since the last line (bench/lib/gc-pauses.ts).
// Run with --expose-gc to have heapAfterGc in each status (a full GC every status: only for the
// memory measurement, where it is asked for).
import { pino } from 'pino';
import { loadProducerConfig } from '../../producer/config.js';
import { startProducer, type ProducerHandle } from '../../producer/service.js';
import { createProducerMetrics } from '../../producer/metrics.js';
import { concurrentTransactionStats } from '../../lib/kafka/concurrent-transactions.js';
import { watchGcPauses } from '../lib/gc-pauses.js';

const spec = JSON.parse(process.env.BENCH_SPEC ?? '{}') as Record<string, unknown> & { gcEveryStatus?: boolean };
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`);
const { gcEveryStatus, ...settings } = spec;

const config = loadProducerConfig({
  env: {},
  file: {
    kafkaBrokers: process.env.KAFKA_BROKERS,
    schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL,
    kubeconfig: process.env.KUBECONFIG,
    httpPort: -1,
    ...settings,
  },
});
const logger = pino({ name: 'producer', level: process.env.LOG_LEVEL ?? 'warn', base: { pid: process.pid } }, pino.destination(2));
// The metrics exist before the producer starts, so status lines cover its start (a first-start
// list happens before it is "watching").
const metrics = createProducerMetrics();
const sum = async (metric: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await metric.get()).values.reduce((n, v) => n + v.value, 0);
/** A histogram's _sum and _count over its labels. */
const histogramTotals = async (metric: { get(): Promise<{ values: Array<{ value: number; metricName?: string }> }> }) => {
  const values = (await metric.get()).values;
  const of = (suffix: string) => values.filter((v) => v.metricName?.endsWith(suffix)).reduce((n, v) => n + v.value, 0);
  return { sum: of('_sum'), count: of('_count') };
};
const gc = (globalThis as { gc?: () => void }).gc;
const gcPauses = watchGcPauses();
let peakRss = 0;
let peakHeap = 0;
let handle: ProducerHandle | undefined;
const sample = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}, 20);
const timer = setInterval(async () => {
  const m = process.memoryUsage();
  let heapAfterGc: number | undefined;
  if (gcEveryStatus && gc) {
    gc();
    heapAfterGc = process.memoryUsage().heapUsed;
  }
  say({
    event: 'status',
    published: await sum(metrics.eventsPublished),
    seen: await sum(metrics.eventsSeen),
    bytes: await sum(metrics.bytesPublished),
    transactions: await sum(metrics.transactions),
    txnSeconds: await histogramTotals(metrics.transactionSeconds),
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    heapAfterGc,
    peakRss,
    peakHeap,
    watching: handle?.status().watching ?? false,
    concurrentTransactions: concurrentTransactionStats(),
    gcPauses: gcPauses.take(),
    /** Monotonic µs, the clock of V8's CPU profiles. */
    hrUs: Number(process.hrtime.bigint() / 1000n),
  });
  peakRss = 0;
  peakHeap = 0;
}, 250);
say({ event: 'starting', pid: process.pid });
handle = await startProducer(config, logger, { metrics });
await handle.whenWatching(600_000);
say({ event: 'ready', pid: process.pid });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  clearInterval(sample);
  await handle?.stop();
  say({ event: 'stopped', concurrentTransactions: concurrentTransactionStats() });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
