// Writes the workload's raw events to a topic as fast as kafkajs takes them (the producer's own
// record layout: Confluent wire format value, key and headers; batches under the broker's 1 MB
// limit as producer/publisher.ts chunks them).
import { CompressionTypes, Partitioners, type Kafka, type Message } from 'kafkajs';
import { chunkRecords } from '../../producer/publisher.js';
import { messageOf, wireHeader, workloadEvents, type TemplateSet, type WorkloadOptions } from './workload.js';

export interface FillResult {
  records: number;
  /** Sum of the record values (uncompressed Avro wire format). */
  valueBytes: number;
  seconds: number;
}

export async function fillTopic(
  kafka: Kafka,
  topic: string,
  schemaId: number,
  templates: TemplateSet,
  workload: WorkloadOptions,
  options: { compression: 'gzip' | 'none'; inFlight?: number; timeoutMs?: number },
): Promise<FillResult> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, idempotent: false });
  await producer.connect();
  const header = wireHeader(schemaId);
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const inFlight = options.inFlight ?? 4;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  const began = process.hrtime.bigint();
  let records = 0;
  let valueBytes = 0;
  const pending = new Set<Promise<unknown>>();
  let buffer: Array<{ message: Message; bytes: number }> = [];
  let buffered = 0;
  const flush = async () => {
    if (buffer.length === 0) return;
    for (const chunk of chunkRecords(buffer, 900_000)) {
      while (pending.size >= inFlight) await Promise.race(pending);
      const p: Promise<unknown> = producer.send({ topic, messages: chunk, acks: -1, compression }).finally(() => pending.delete(p));
      pending.add(p);
    }
    buffer = [];
    buffered = 0;
  };
  try {
    for (const item of workloadEvents(templates, workload)) {
      const message = messageOf(header, item);
      const size = (message.value as Buffer).length;
      records += 1;
      valueBytes += size;
      buffer.push({ message, bytes: size + 200 });
      buffered += size;
      if (buffered >= 4_000_000) await flush();
      if (Date.now() > deadline) throw new Error(`filling ${topic}: not done after ${options.timeoutMs} ms`);
    }
    await flush();
    await Promise.all(pending);
  } finally {
    await producer.disconnect();
  }
  return { records, valueBytes, seconds: Number(process.hrtime.bigint() - began) / 1e9 };
}
