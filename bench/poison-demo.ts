// The poison record, before and after: `kubetrail process workflow-summary` of the checkout in
// TREE, as a child process, against the local stack; one 40-byte poison record (a labels map
// declaring 10^12 entries, with the raw schema's real id) on its input; then, for 10 s, its
// /readyz, its CPU (from /proc) and its dead-letter topic. Not part of `npm run bench`:
//   git worktree add /tmp/before 61a1ef9 && ln -s "$PWD/node_modules" /tmp/before/node_modules
//   set -a; . .kubetrail/stack/connection.env; set +a
//   TREE=/tmp/before LABEL=before npx tsx bench/poison-demo.ts
//   TREE=$PWD LABEL=after npx tsx bench/poison-demo.ts
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { resourceEventSchema } from '../lib/raw-event.js';
import { createTopicsPatiently } from '../lib/topics.js';
const tree = process.env.TREE!;
const label = process.env.LABEL!;
const brokers = process.env.KAFKA_BROKERS!.split(',');
const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
const registry = new SchemaRegistry({ host: process.env.SCHEMA_REGISTRY_URL! });
const admin = kafka.admin(); await admin.connect();
const base = `poison-demo-${label}-${Date.now()}`;
await createTopicsPatiently(admin, [{ topic: `${base}.raw`, numPartitions: 1 }]);
const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(resourceEventSchema) }, { subject: `${base}.raw-value` });
const port = 18000 + Math.floor(Math.random() * 1000);
const child = spawn(process.execPath, ['--import', 'tsx', `${tree}/cli/main.ts`, 'process', 'workflow-summary', '--group-id', `${base}-g`, '--input-topic', `${base}.raw`, '--output-topics', `summaries=${base}.sum`, '--http-port', String(port)], { cwd: tree, env: { ...process.env, LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'ignore'] });
const ready = async () => fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(900) }).then((r) => String(r.status), () => 'no answer within 900 ms');
for (let i = 0; i < 300 && (await ready()) !== '200'; i++) await new Promise((r) => setTimeout(r, 100));
const ticks = () => { const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };
const varint = (n: number) => { const b: number[] = []; let v = n * 2; while (v >= 128) { b.push((v % 128) | 0x80); v = Math.floor(v / 128); } b.push(v); return Buffer.from(b); };
const tiny = Buffer.concat([Buffer.from([0, (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]), Buffer.alloc(11), varint(1e12)]);
const poison = Buffer.concat([tiny, Buffer.alloc(40 - tiny.length)]);
const producer = kafka.producer(); await producer.connect();
await producer.send({ topic: `${base}.raw`, messages: [{ key: 'poison', value: poison }] });
const t0 = Date.now(); let cpu0 = ticks();
console.log(`${label}: ready; sent a ${poison.length}-byte poison record: ${poison.toString('hex')}`);
const dlqCount = async () => { const o = await admin.fetchTopicOffsets(`${base}-g.dlq`).catch(() => []); return o.reduce((n, p) => n + Number(p.high), 0); };
for (let i = 0; i < 10; i++) {
  await new Promise((r) => setTimeout(r, 1000));
  const c = ticks(); const cpu = (c - cpu0); cpu0 = c;
  console.log(`${label}: t=${Math.round((Date.now() - t0) / 1000)}s /readyz ${await ready()}, CPU ${cpu}% of a core, dead-letter topic offsets ${await dlqCount()}`);
}
child.kill('SIGKILL'); await producer.disconnect();
await admin.deleteTopics({ topics: [`${base}.raw`, `${base}.sum`, `${base}-g.dlq`, `${base}-g-fingerprints-changelog`] }).catch(() => undefined);
await admin.disconnect();
process.exit(0);
