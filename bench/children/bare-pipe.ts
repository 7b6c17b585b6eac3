// The reference for the processors: a bare kafkajs consume-and-produce of the same bytes, with no
// decoding, no processing and no encoding. Same consumer settings as lib/kit/runner.ts
// (read_committed, eachBatch, 4 partitions at a time, 500-record chunks) and the same delivery:
//   exactly-once:  one transactional producer per input partition; each chunk is a transaction
//                  holding its records and the input offset (sendOffsets)
//   at-least-once: one idempotent producer; sendBatch, then commitOffsets
// Every input value is written to the output topic unchanged (an upper bound of a processor's
// output: the summary writes ~1 small record per input, the filter far fewer), uncompressed as
// the runner writes, in sends of at most ~900 kB (the broker takes batches up to 1 MB), as the
// producer chunks them (producer/publisher.ts chunkRecords).
// The consumer's fetch size per partition is the spec's maxBytesPerPartition (the bench passes
// the runner's, DEFAULT_MAX_BYTES_PER_PARTITION = 8 MiB), kafkajs' 1 MiB when not given.
// kafkajs is used as it is (no kubetrail patch), unless gzipCodec: then kubetrail's gzip codec
// (lib/kafka/gzip-codec.ts) replaces kafkajs' own, to show what the codec alone gains a reader.
// As the latency benchmark's floor (spec.floor): kubetrail's Kafka layer (lib/kafka/client.ts, the
// quick CONCURRENT_TRANSACTIONS retry) instead of kafkajs as it is, each output value cut to its
// first floor.valueBytes bytes (a summary's size; key, timestamp and headers kept), and a progress
// line every 250 ms as processor.ts prints (commits, txnSeconds, concurrentTransactions, gcPauses).
// BENCH_SPEC = {input, output, groupId, mode, expect, maxBatchRecords?, maxBytesPerPartition?, gzipCodec?, floor?}; JSON lines as processor.ts.
import { Kafka, logLevel, Partitioners, type Producer, type Message } from 'kafkajs';
import { chunkRecords } from '../../producer/publisher.js';
import { installGzipCodec } from '../../lib/kafka/gzip-codec.js';
import { kafkaClient } from '../../lib/kafka/client.js';
import { concurrentTransactionStats } from '../../lib/kafka/concurrent-transactions.js';
import { watchGcPauses } from '../lib/gc-pauses.js';

interface Spec {
  input: string;
  output: string;
  groupId: string;
  /** consume-only: no output, offsets committed per chunk (kafkajs' read ceiling). */
  mode: 'exactly-once' | 'at-least-once' | 'consume-only';
  expect: number;
  maxBatchRecords?: number;
  timeoutMs?: number;
  maxBytesPerPartition?: number;
  gzipCodec?: boolean;
  floor?: { valueBytes: number };
}

const spec = JSON.parse(process.env.BENCH_SPEC ?? '{}') as Spec;
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`);
const maxBatch = spec.maxBatchRecords ?? 500;
const clientConfig = {
  clientId: `bench-bare-${process.pid}`,
  brokers: (process.env.KAFKA_BROKERS ?? '').split(','),
  logLevel: logLevel.WARN,
  retry: { initialRetryTime: 300, retries: 12, maxRetryTime: 10_000 },
};
const kafka = spec.floor ? kafkaClient(clientConfig) : new Kafka(clientConfig);
let txnMs = 0;
if (spec.floor) {
  const gcPauses = watchGcPauses();
  setInterval(() => say({ event: 'progress', commits, txnSeconds: { sum: txnMs / 1000 }, concurrentTransactions: concurrentTransactionStats(), gcPauses: gcPauses.take() }), 250).unref();
}
if (spec.gzipCodec) installGzipCodec();
const eos = spec.mode === 'exactly-once';
const producers = new Map<number, Producer>();
let shared: Producer | undefined;
if (spec.mode === 'at-least-once') {
  shared = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await shared.connect();
}
const consumer = kafka.consumer({ groupId: spec.groupId, readUncommitted: false, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500, ...(spec.maxBytesPerPartition ? { maxBytesPerPartition: spec.maxBytesPerPartition } : {}) });
let readyAt: number | undefined;
let recordsIn = 0;
let bytesIn = 0;
let commits = 0;
let maxRss = 0;
const cpuStart = process.cpuUsage();
consumer.on(consumer.events.GROUP_JOIN, () => {
  if (readyAt === undefined) {
    readyAt = Date.now();
    say({ event: 'ready', pid: process.pid });
  }
});

async function producerOf(partition: number): Promise<Producer> {
  let producer = producers.get(partition);
  if (!producer) {
    producer = kafka.producer({
      transactionalId: `${spec.groupId}-${spec.input}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    producers.set(partition, producer);
  }
  return producer;
}

consumer.on(consumer.events.CRASH, ({ payload }) => {
  if (payload.restart) return;
  say({ event: 'failed', error: payload.error.message });
  process.exit(1);
});
await consumer.connect();
await consumer.subscribe({ topic: spec.input, fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  partitionsConsumedConcurrently: 4,
  eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
    const messages = batch.messages;
    for (let i = 0; i < messages.length; i += maxBatch) {
      if (!isRunning() || isStale()) return;
      const chunk = messages.slice(i, i + maxBatch);
      const cut = spec.floor?.valueBytes;
      const out: Message[] = chunk.map((m) => ({ key: m.key, value: cut === undefined ? m.value : (m.value?.subarray(0, cut) ?? null), headers: m.headers, timestamp: m.timestamp }));
      const sends = chunkRecords(
        out.map((message) => ({ message, bytes: ((message.value as Buffer | null)?.length ?? 0) + 200 })),
        900_000,
      );
      const last = chunk[chunk.length - 1]!;
      const next = i + maxBatch >= messages.length ? Math.max(Number(batch.lastOffset()), Number(last.offset)) + 1 : Number(last.offset) + 1;
      if (eos) {
        const producer = await producerOf(batch.partition);
        const began = performance.now();
        const txn = await producer.transaction();
        try {
          for (const messages of sends) await txn.send({ topic: spec.output, messages, acks: -1 });
          await txn.sendOffsets({ consumerGroupId: spec.groupId, topics: [{ topic: spec.input, partitions: [{ partition: batch.partition, offset: String(next) }] }] });
          await txn.commit();
          txnMs += performance.now() - began;
        } catch (error) {
          await txn.abort().catch(() => undefined);
          throw error;
        }
      } else if (shared) {
        for (const messages of sends) await shared.send({ topic: spec.output, messages, acks: -1 });
        await consumer.commitOffsets([{ topic: spec.input, partition: batch.partition, offset: String(next) }]);
      } else {
        await consumer.commitOffsets([{ topic: spec.input, partition: batch.partition, offset: String(next) }]);
      }
      commits += 1;
      recordsIn += chunk.length;
      for (const m of chunk) bytesIn += m.value?.length ?? 0;
      resolveOffset(last.offset);
      await heartbeat();
    }
  },
});

let doneSent = false;
const timeout = setTimeout(() => {
  say({ event: 'timeout', recordsIn });
  process.exit(2);
}, spec.timeoutMs ?? 900_000);
const poll = setInterval(() => {
  maxRss = Math.max(maxRss, process.memoryUsage.rss());
  if (!doneSent && recordsIn >= spec.expect) {
    doneSent = true;
    const cpu = process.cpuUsage(cpuStart);
    say({ event: 'done', readyAt, doneAt: Date.now(), stats: { recordsIn, bytesIn, commits }, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, maxRss });
    void shutdown(0);
  }
}, 10);

async function shutdown(code: number) {
  clearInterval(poll);
  clearTimeout(timeout);
  await consumer.disconnect().catch(() => undefined);
  await Promise.all([...producers.values(), ...(shared ? [shared] : [])].map((p) => p.disconnect().catch(() => undefined)));
  say({ event: 'stopped' });
  process.exit(code);
}
process.once('SIGTERM', () => void shutdown(0));
