// 7. Sink delivery: the notify sink (lib/sink/runner.ts, JSON format) against a local receiver
// that answers at once (test/support/receiver.ts).
//   latency     completed records written one at a time at a steady rate; from each record's
//               timestamp (set by the writer at send) to the receiver reading its request, p50/p99.
//               Reference, same records, same run: a bare kafkajs consumer (eachMessage) of the
//               topic, from the record's timestamp to eachMessage — what consuming alone costs.
//   throughput  a topic filled beforehand, the sink started on it with a fresh group: deliveries/s
//               from the first request received to the last. Reference, same run: the same bodies
//               POSTed straight from a loop with the same concurrency (8) — the HTTP ceiling.
// Repeats alternate; medians are reported.
import type { Producer } from 'kafkajs';
import type { BenchContext } from './lib/context.js';
import { until } from './lib/context.js';
import { median, round, summarize } from './lib/stats.js';
import { createLogger } from '../lib/log.js';
import { runSink } from '../lib/sink/runner.js';
import { postDelivery } from '../lib/sink/http.js';
import { recordHeaders } from '../producer/mapping.js';
import { summarize as summarizeWorkflow } from '../processors/workflow-summary/summary.js';
import { createNotify } from '../sinks/notify/notify.js';
import { startReceiver, type Receiver } from '../test/support/receiver.js';
import { completedEvent } from '../test/support/sink-fixtures.js';
import type { ResourceEvent } from '../lib/raw-event.js';

const CONCURRENCY = 8;
const PARTITIONS = 3;

async function write(ctx: BenchContext, producer: Producer, topic: string, schemaId: number, events: ResourceEvent[]): Promise<void> {
  const messages = await Promise.all(
    events.map(async (e) => ({ key: `workflows.argoproj.io/${e.namespace}/${e.name}`, value: await ctx.registry.encode(schemaId, e), headers: recordHeaders(e, topic) })),
  );
  await producer.send({ topic, messages, acks: -1 });
}

async function startNotify(ctx: BenchContext, receiver: Receiver, topic: string, group: string) {
  const definition = createNotify({ format: 'json', webhookUrl: receiver.url, namespaces: [], labels: [], phases: [], timeoutMs: 10_000 });
  const handle = await runSink(definition, { connection: ctx.connection, groupId: group, inputTopic: topic, deadLetterTopic: ctx.topic(`${group}.dlq`), concurrency: CONCURRENCY, logger: createLogger(group, 'warn'), sessionTimeoutMs: 6_000 });
  await until('the sink joined', 30_000, () => handle.ready());
  return handle;
}

async function latencyRun(ctx: BenchContext, producer: Producer, repeat: number, rate: number, seconds: number) {
  const topic = await ctx.createTopic(`sink-latency-${repeat}`, PARTITIONS);
  const schemaId = await ctx.registerRaw(topic);
  const receiver = await startReceiver();
  const sinkLatency: number[] = [];
  const consumerLatency: number[] = [];
  const timestamps = new Map<string, number>();
  receiver.onReceipt = (r) => sinkLatency.push(r.at - timestamps.get(r.key)!);
  const consumer = ctx.kafka.consumer({ groupId: `bench.${ctx.runId}.sink-ref-${repeat}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void consumerLatency.push(performance.timeOrigin + performance.now() - Number(message.timestamp)) });
  const handle = await startNotify(ctx, receiver, topic, `bench.${ctx.runId}.sink-latency-${repeat}`);
  try {
    const total = rate * seconds;
    const began = performance.now();
    for (let i = 0; i < total; i++) {
      const event = completedEvent(`wf-${repeat}-${i}`, 1, i % 4 === 0);
      timestamps.set(event.id, Date.now());
      await write(ctx, producer, topic, schemaId, [event]);
      const wait = began + ((i + 1) * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await until('every record delivered and consumed', 60_000, () => sinkLatency.length >= total && consumerLatency.length >= total);
  } finally {
    await handle.stop();
    await consumer.disconnect();
    await receiver.close();
  }
  return { sink: summarize(sinkLatency), reference: summarize(consumerLatency) };
}

async function throughputRun(ctx: BenchContext, producer: Producer, repeat: number, records: number) {
  const topic = await ctx.createTopic(`sink-throughput-${repeat}`, PARTITIONS);
  const schemaId = await ctx.registerRaw(topic);
  const events = Array.from({ length: records }, (_, i) => completedEvent(`wf-${repeat}-${i % (records / 2)}`, i < records / 2 ? 1 : 2, i % 4 === 0));
  for (let i = 0; i < events.length; i += 500) await write(ctx, producer, topic, schemaId, events.slice(i, i + 500));
  const receiver = await startReceiver();
  const handle = await startNotify(ctx, receiver, topic, `bench.${ctx.runId}.sink-throughput-${repeat}`);
  try {
    await until('every record delivered', 120_000, () => handle.stats().delivered >= records);
  } finally {
    await handle.stop();
    await receiver.close();
  }
  const span = (receiver.receipts.at(-1)!.at - receiver.receipts[0]!.at) / 1000;
  // Reference: the same bodies, POSTed from a loop with the same concurrency.
  const reference = await startReceiver();
  const bodies = events.map((e) => JSON.stringify(summarizeWorkflow(e, { labels: [] })));
  let next = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < bodies.length; i = next++) await postDelivery({ url: reference.url, body: bodies[i]!, headers: { 'content-type': 'application/json' }, eventId: events[i]!.id, timeoutMs: 10_000 });
    }),
  );
  const referenceSeconds = (performance.now() - began) / 1000;
  await reference.close();
  return { sinkPerSec: records / span, referencePerSec: records / referenceSeconds };
}

export async function sinkBench(ctx: BenchContext) {
  const repeats = ctx.options.quick ? 1 : 3;
  const rate = 50;
  const seconds = ctx.options.quick ? 4 : 10;
  const records = ctx.options.quick ? 1_000 : 4_000;
  const producer = ctx.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const latency: Array<Awaited<ReturnType<typeof latencyRun>>> = [];
  const throughput: Array<Awaited<ReturnType<typeof throughputRun>>> = [];
  try {
    for (let repeat = 0; repeat < repeats; repeat++) {
      ctx.log(`sink latency ${repeat + 1}/${repeats}: ${rate} records/s for ${seconds} s`);
      latency.push(await latencyRun(ctx, producer, repeat, rate, seconds));
      ctx.log(`sink throughput ${repeat + 1}/${repeats}: ${records} records`);
      throughput.push(await throughputRun(ctx, producer, repeat, records));
    }
  } finally {
    await producer.disconnect();
  }
  const ms = (values: number[]) => round(median(values), 1);
  const result = {
    rate,
    secondsPerRun: seconds,
    records,
    concurrency: CONCURRENCY,
    partitions: PARTITIONS,
    repeats,
    latency: {
      sinkP50Ms: ms(latency.map((l) => l.sink.p50)),
      sinkP99Ms: ms(latency.map((l) => l.sink.p99)),
      referenceP50Ms: ms(latency.map((l) => l.reference.p50)),
      referenceP99Ms: ms(latency.map((l) => l.reference.p99)),
      runs: latency.map((l) => ({ sinkP50Ms: round(l.sink.p50, 1), sinkP99Ms: round(l.sink.p99, 1), referenceP50Ms: round(l.reference.p50, 1), referenceP99Ms: round(l.reference.p99, 1), n: l.sink.n })),
    },
    throughput: {
      sinkPerSec: Math.round(median(throughput.map((t) => t.sinkPerSec))),
      referencePerSec: Math.round(median(throughput.map((t) => t.referencePerSec))),
      runs: throughput.map((t) => ({ sinkPerSec: Math.round(t.sinkPerSec), referencePerSec: Math.round(t.referencePerSec) })),
    },
  };
  ctx.log(`sink: latency p50 ${result.latency.sinkP50Ms} ms / p99 ${result.latency.sinkP99Ms} ms (bare consumer ${result.latency.referenceP50Ms} / ${result.latency.referenceP99Ms}); ${result.throughput.sinkPerSec} deliveries/s (bare HTTP loop ${result.throughput.referencePerSec})`);
  return result;
}
