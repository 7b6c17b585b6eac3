// `subscribe --group <id>`: reads as a named consumer group, committing its offsets, for a
// reader that should go on where it left off. A new group starts at --from (beginning, end or a
// time); --until end stops once every partition reached the end it had when the command started.
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { StartPosition } from '../lib/kafka/start-position.js';
import type { ScanEnd } from '../lib/kafka/topic-scan.js';

export interface GroupReadOptions {
  groupId: string;
  topic: string;
  from: StartPosition;
  until: ScanEnd;
  partitions?: number[];
  signal: AbortSignal;
}

export async function consumeWithGroup(kafka: Kafka, options: GroupReadOptions, onMessage: (partition: number, message: KafkaMessage) => Promise<void>): Promise<void> {
  const { groupId, topic, from, until, signal } = options;
  const admin = kafka.admin();
  await admin.connect();
  let goals: Map<number, number>;
  let lows: Map<number, number>;
  let committed: Map<number, number>;
  try {
    const marks = await admin.fetchTopicOffsets(topic);
    goals = new Map(marks.map((p) => [p.partition, Number(p.high)]));
    lows = new Map(marks.map((p) => [p.partition, Number(p.low)]));
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    committed = new Map((offsets?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
  const wanted = (p: number) => options.partitions === undefined || options.partitions.includes(p);
  // Where each partition's reading starts: the group's offset, else where a new group starts.
  const position = new Map([...goals.keys()].filter(wanted).map((p) => [p, committed.get(p) ?? (from.kind === 'end' ? (goals.get(p) ?? 0) : (lows.get(p) ?? 0))]));
  const reachedEnd = () => until.kind === 'end' && [...position].every(([p, at]) => at >= (goals.get(p) ?? 0));
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: from.kind !== 'end' });
    if (from.kind === 'time' && committed.size === 0) {
      const startAt = await timeOffsets(kafka, topic, from.ms);
      for (const [partition, offset] of startAt) if (position.has(partition)) position.set(partition, offset < 0 ? (goals.get(partition) ?? 0) : offset);
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const [partition, offset] of startAt) consumer.seek({ topic, partition, offset: String(offset) });
      });
    }
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    signal.addEventListener('abort', () => finish(), { once: true });
    if (reachedEnd()) finish();
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (signal.aborted || !wanted(partition)) return;
        const offset = Number(message.offset);
        if (until.kind === 'end' && offset >= (goals.get(partition) ?? Infinity)) return;
        if (until.kind === 'time' && Number(message.timestamp) > until.ms) return;
        await onMessage(partition, message);
        position.set(partition, offset + 1);
        if (reachedEnd()) finish();
      },
    });
    await finished;
  } finally {
    await consumer.disconnect();
  }
}

async function timeOffsets(kafka: Kafka, topic: string, ms: number): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsetsByTimestamp(topic, ms)).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}
