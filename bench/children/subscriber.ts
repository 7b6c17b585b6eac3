// A read_committed subscriber of summary topics in its own process, for the latency benchmark:
// "summary readable" timed by a process that does nothing else (the bench process also writes
// the changes to the API server). BENCH_SPEC = {topics, groupId}. Prints JSON lines on stdout:
//   {"event":"ready"}     subscribed and joined, reading from the beginning
//   {"event":"record", topic, key, progress, observedAt, timestamp, at}   each summary: its
//        key, status progress and source.observedAt, the record's Kafka timestamp (a
//        processor's output carries its input's) and when its fetch was handed over (at). A
//        topic of BENCH_SPEC.floorTopics (the floor's, bench/children/bare-producer.ts) is not
//        decoded: progress and observedAt come from its records' headers.
//   {"event":"raw", topic, key, timestamp, at}   each record of the raw topics (BENCH_SPEC.rawTopics),
//        not decoded: when the producer's commit made it readable
//   {"event":"gc", gcPauses}   every 250 ms: the garbage collector's pauses of 2 ms or more
//        since the last such line (bench/lib/gc-pauses.ts), often none
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { logLevel } from 'kafkajs';
import { kafkaClient } from '../../lib/kafka/client.js';
import { sleep } from '../../lib/async.js';
import { watchGcPauses } from '../lib/gc-pauses.js';

const spec = JSON.parse(process.env.BENCH_SPEC ?? '{}') as { topics: string[]; rawTopics?: string[]; floorTopics?: string[]; groupId: string };
const rawTopics = new Set(spec.rawTopics ?? []);
const floorTopics = new Set(spec.floorTopics ?? []);
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ at: Date.now(), ...event })}\n`);
const gcPauses = watchGcPauses();
setInterval(() => say({ event: 'gc', gcPauses: gcPauses.take() }), 250).unref();
const kafka = kafkaClient({ clientId: `bench-subscriber-${process.pid}`, brokers: (process.env.KAFKA_BROKERS ?? '').split(','), logLevel: logLevel.WARN });
const registry = new SchemaRegistry({ host: process.env.SCHEMA_REGISTRY_URL! });
const consumer = kafka.consumer({ groupId: spec.groupId, readUncommitted: false, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 1_000 });

// The processors create their output topics at start; wait for them.
const admin = kafka.admin();
await admin.connect();
const deadline = Date.now() + 60_000;
for (;;) {
  const existing = new Set(await admin.listTopics());
  if ([...spec.topics, ...rawTopics].every((t) => existing.has(t))) break;
  if (Date.now() > deadline) throw new Error(`topics ${spec.topics.join(', ')} did not appear`);
  await sleep(200);
}
await admin.disconnect();
let ready = false;
consumer.on(consumer.events.GROUP_JOIN, () => {
  if (!ready) {
    ready = true;
    say({ event: 'ready', pid: process.pid });
  }
});
await consumer.connect();
await consumer.subscribe({ topics: [...spec.topics, ...rawTopics], fromBeginning: true });
await consumer.run({
  eachBatch: async ({ batch }) => {
    const at = Date.now();
    if (rawTopics.has(batch.topic)) {
      // Not decoded: the key and the producer's timestamp (which the summary carries) identify it.
      for (const message of batch.messages) if (message.key) say({ event: 'raw', topic: batch.topic, key: message.key.toString(), timestamp: Number(message.timestamp), at });
      return;
    }
    for (const message of batch.messages) {
      if (!message.value || !message.key) continue;
      if (floorTopics.has(batch.topic)) {
        const header = (name: string) => message.headers?.[name]?.toString();
        // The raw key (`<resource>.<group>/<namespace>/<name>`), as a summary's: `<namespace>/<name>`.
        const rawKey = message.key.toString();
        say({ event: 'record', topic: batch.topic, key: rawKey.slice(rawKey.indexOf('/') + 1), progress: header('progress') || null, observedAt: Number(header('observedAt')), timestamp: Number(message.timestamp), at });
        continue;
      }
      const value = (await registry.decode(message.value)) as { progress?: unknown; source?: { observedAt?: unknown } };
      say({ event: 'record', topic: batch.topic, key: message.key.toString(), progress: value.progress ?? null, observedAt: Number(value.source?.observedAt), timestamp: Number(message.timestamp), at });
    }
  },
});

const stop = async () => {
  await consumer.disconnect().catch(() => undefined);
  say({ event: 'stopped' });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
