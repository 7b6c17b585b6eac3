// A stand-in, for the benchmarks only, of a fix proposed for lib/kit/runner.ts (see
// BENCHMARKS.md): kafkajs writes all the messages of one sendBatch() for one partition as ONE
// record batch, and the broker refuses a batch over message.max.bytes (about 1 MB by default).
// The runner sends all the outputs of a chunk (up to 500 input records) in one sendBatch, so a
// processor whose outputs are large — completed-filter forwards whole raw events of up to ~1 MB —
// fails with "The request included a message larger than the max message size" and its consumer
// crashes for good. This wraps every kafkajs producer (and transaction) so that a sendBatch is
// split into consecutive sendBatch calls of at most `maxBytes` per call, in order (same
// transaction, same producer, one request in flight: order and atomicity are unchanged).
import { Kafka, type Message, type ProducerBatch, type RecordMetadata, type TopicMessages } from 'kafkajs';

const overhead = 100;

function messageBytes(message: Message): number {
  let n = overhead;
  const { key, value, headers } = message;
  if (key) n += typeof key === 'string' ? Buffer.byteLength(key) : key.length;
  if (value) n += typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  if (headers) for (const [k, v] of Object.entries(headers)) n += k.length + (typeof v === 'string' ? v.length : Buffer.isBuffer(v) ? v.length : 32);
  return n;
}

/** Splits topic messages into parts of at most maxBytes each (a message larger than that alone). */
export function splitTopicMessages(topicMessages: TopicMessages[], maxBytes: number): TopicMessages[][] {
  const parts: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let size = 0;
  for (const { topic, messages } of topicMessages) {
    let run: Message[] = [];
    for (const message of messages) {
      const bytes = messageBytes(message);
      if (size + bytes > maxBytes && size > 0) {
        if (run.length) current.push({ topic, messages: run });
        parts.push(current);
        current = [];
        run = [];
        size = 0;
      }
      run.push(message);
      size += bytes;
    }
    if (run.length) current.push({ topic, messages: run });
  }
  if (current.length) parts.push(current);
  return parts;
}

type SendBatch = (batch: ProducerBatch) => Promise<RecordMetadata[]>;

function splitting(sendBatch: SendBatch, maxBytes: number): SendBatch {
  return async (batch) => {
    const parts = splitTopicMessages(batch.topicMessages ?? [], maxBytes);
    if (parts.length <= 1) return sendBatch(batch);
    const results: RecordMetadata[] = [];
    for (const topicMessages of parts) results.push(...(await sendBatch({ ...batch, topicMessages })));
    return results;
  };
}

let installed = false;

/** Installs the split in every kafkajs producer created from now on, in this process. */
export function installSplitSends(maxBytes = 900_000): void {
  if (installed) return;
  installed = true;
  const original = Kafka.prototype.producer;
  Kafka.prototype.producer = function (this: Kafka, ...args: Parameters<Kafka['producer']>) {
    const producer = original.apply(this, args);
    producer.sendBatch = splitting(producer.sendBatch.bind(producer), maxBytes);
    const transaction = producer.transaction.bind(producer);
    producer.transaction = async () => {
      const txn = await transaction();
      txn.sendBatch = splitting(txn.sendBatch.bind(txn), maxBytes);
      return txn;
    };
    return producer;
  };
}
