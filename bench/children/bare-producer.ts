// The latency benchmark's floor, producer side: what a change must go through on its way to Kafka
// with none of kubetrail's producer. A client-node watch of one namespace's workflows; each change
// becomes one record (the object as JSON text, the size of kubetrail's raw value) written in a
// transaction through kubetrail's Kafka layer (lib/kafka/client.ts: the quick
// CONCURRENT_TRANSACTIONS retry), the transactions taking two transactional ids in turn and each
// holding every change queued meanwhile, as kubetrail's producer does. No Avro, no registry, no
// state topic, no checkpoint, no leader election. The record's key is the raw topic's
// (`workflows.argoproj.io/<namespace>/<name>`), its timestamp the produce request's (kafkajs'),
// and headers carry what the subscriber needs: status.progress and when the watch event arrived
// (observedAt).
// BENCH_SPEC = {namespace, topic, transactionalId}. JSON lines on stdout as producer.ts: ready
// (watching), status every 250 ms (transactions, txnSeconds, concurrentTransactions, gcPauses).
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { logLevel, Partitioners, type Message, type Producer } from 'kafkajs';
import { kafkaClient } from '../../lib/kafka/client.js';
import { concurrentTransactionStats } from '../../lib/kafka/concurrent-transactions.js';
import { watchGcPauses } from '../lib/gc-pauses.js';

const spec = JSON.parse(process.env.BENCH_SPEC ?? '{}') as { namespace: string; topic: string; transactionalId: string };
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`);
const gcPauses = watchGcPauses();
const kafka = kafkaClient({ clientId: `bench-bare-producer-${process.pid}`, brokers: (process.env.KAFKA_BROKERS ?? '').split(','), logLevel: logLevel.WARN });
const producers: Producer[] = [];
for (const suffix of ['', '/1']) {
  const producer = kafka.producer({ transactionalId: `${spec.transactionalId}${suffix}`, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  producers.push(producer);
}
let transactions = 0;
let txnMs = 0;
setInterval(() => say({ event: 'status', transactions, txnSeconds: { sum: txnMs / 1000 }, concurrentTransactions: concurrentTransactionStats(), gcPauses: gcPauses.take() }), 250).unref();

let queued: Message[] = [];
let draining = false;
let turn = 0;
/** One transaction at a time, holding every change queued when it begins. */
async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    while (queued.length > 0) {
      const messages = queued;
      queued = [];
      const began = performance.now();
      const transaction = await producers[turn++ % producers.length]!.transaction();
      // No timestamp given: kafkajs stamps the records as it builds the produce request, as it
      // does kubetrail's producer's.
      await transaction.send({ topic: spec.topic, messages, acks: -1 });
      await transaction.commit();
      transactions += 1;
      txnMs += performance.now() - began;
    }
  } catch (error) {
    say({ event: 'failed', error: (error as Error).message });
    process.exit(1);
  } finally {
    draining = false;
  }
}

const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
type Workflow = { metadata?: { name?: string }; status?: { progress?: string } };
await new Watch(kc).watch(
  `/apis/argoproj.io/v1alpha1/namespaces/${spec.namespace}/workflows`,
  {},
  (type: string, object: Workflow) => {
    if (type !== 'ADDED' && type !== 'MODIFIED') return;
    const observedAt = Date.now();
    queued.push({
      key: `workflows.argoproj.io/${spec.namespace}/${object.metadata?.name}`,
      value: JSON.stringify(object),
      headers: { progress: object.status?.progress ?? '', observedAt: String(observedAt) },
    });
    void drain();
  },
  (error: unknown) => {
    say({ event: 'failed', error: `watch ended: ${(error as Error | undefined)?.message ?? 'closed'}` });
    process.exit(1);
  },
);
say({ event: 'ready', pid: process.pid });

const stop = async () => {
  await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
  say({ event: 'stopped' });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
