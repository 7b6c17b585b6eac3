// Reads a topic's committed records without a consumer group (kcat's assign-and-seek): each
// partition from a start position to an end (the end offsets when the scan started, a time, or
// never: follow). No group is joined or left behind, nobody's offsets move, and a read needs only
// READ and DESCRIBE on the topic. Built on PartitionReader (read_committed, aborted records dropped).
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { sleep } from '../async.js';
import { PartitionReader } from './topic-reader.js';
import { startOffset, type StartPosition } from './start-position.js';
import { TopicError } from '../topics.js';

/** Records held at most between two reads of a partition (they are handed on, then the read goes on). */
const BATCH = 2_000;

export type ScanEnd = { kind: 'end' } | { kind: 'time'; ms: number } | { kind: 'follow' };

export interface ScannedRecord {
  topic: string;
  partition: number;
  offset: number;
  message: KafkaMessage;
}

export interface ScanOptions {
  topic: string;
  from: StartPosition;
  until: ScanEnd;
  /** Only these partitions (default: all). */
  partitions?: number[];
  /** Stop early (Ctrl-C, enough records). */
  signal?: AbortSignal;
  /** How long to wait before looking for new records again when following (default 250 ms). */
  pollMs?: number;
}

export interface PartitionPlan {
  partition: number;
  start: number;
  /** Where reading stops (exclusive); undefined: follow. */
  goal: number | undefined;
}

/** The start and end offset of each partition read (the offsets of the moment it is called). */
export async function planScan(admin: Admin, options: Pick<ScanOptions, 'topic' | 'from' | 'until' | 'partitions'>): Promise<PartitionPlan[]> {
  const { topic, from, until } = options;
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) throw new TopicError(`topic '${topic}' does not exist (or this client may not DESCRIBE it)`);
  const marks = await admin.fetchTopicOffsets(topic);
  const known = marks.map((m) => m.partition);
  const unknown = (options.partitions ?? []).filter((p) => !known.includes(p));
  if (unknown.length > 0) throw new TopicError(`topic '${topic}' has no partition ${unknown.join(', ')} (it has ${known.length})`);
  const byTime = async (ms: number) => new Map((await admin.fetchTopicOffsetsByTimestamp(topic, ms)).map((p) => [p.partition, Number(p.offset)]));
  const startTimes = from.kind === 'time' ? await byTime(from.ms) : undefined;
  // The first offset after the --until time; a time still to come is watched for while reading.
  const endTimes = until.kind === 'time' && until.ms < Date.now() ? await byTime(until.ms + 1) : undefined;
  return marks
    .filter((m) => options.partitions === undefined || options.partitions.includes(m.partition))
    .map(({ partition, low, high }) => {
      const lo = Number(low);
      const hi = Number(high);
      const start = startOffset(from, lo, hi, startTimes?.get(partition));
      let goal: number | undefined;
      if (until.kind === 'end') goal = hi;
      if (endTimes) goal = Math.min(hi, Math.max(lo, (endTimes.get(partition) ?? -1) < 0 ? hi : (endTimes.get(partition) as number)));
      return { partition, start, goal: goal === undefined ? undefined : Math.max(goal, start) };
    })
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Calls onRecord for each committed record of the planned partitions, in offset order within a
 * partition (partitions are read in turn). Resolves when every partition reached its goal, or
 * when the signal aborts.
 */
export async function scanTopic(kafka: Kafka, plans: PartitionPlan[], options: ScanOptions, onRecord: (record: ScannedRecord) => void | Promise<void>): Promise<void> {
  const { topic, until, signal } = options;
  const reader = new PartitionReader(kafka);
  const next = new Map(plans.map((p) => [p.partition, p.start]));
  const done = new Set(plans.filter((p) => p.goal !== undefined && p.start >= p.goal).map((p) => p.partition));
  const futureEnd = until.kind === 'time' && plans.every((p) => p.goal === undefined) ? until.ms : undefined;
  const onAbort = () => void reader.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (done.size < plans.length && !signal?.aborted) {
      let progressed = false;
      for (const plan of plans) {
        if (done.has(plan.partition) || signal?.aborted) continue;
        const pending: ScannedRecord[] = [];
        const result = await reader.readToEnd(topic, plan.partition, (message) => {
          const offset = Number(message.offset);
          if (plan.goal !== undefined && offset >= plan.goal) return;
          pending.push({ topic, partition: plan.partition, offset, message });
        }, { from: next.get(plan.partition), cancelled: () => signal?.aborted === true || pending.length >= BATCH });
        for (const record of pending) {
          if (futureEnd !== undefined && Number(record.message.timestamp) > futureEnd) {
            done.add(plan.partition);
            break;
          }
          await onRecord(record);
        }
        // A read cut short (a full batch) goes on after its last record; a complete one from its end.
        const last = pending.at(-1)?.offset;
        const reached = Math.max(next.get(plan.partition) ?? 0, result.complete ? result.endOffset : last === undefined ? 0 : last + 1);
        if (reached > (next.get(plan.partition) ?? 0)) progressed = true;
        next.set(plan.partition, reached);
        if (plan.goal !== undefined && reached >= plan.goal) done.add(plan.partition);
        // A --until time that has passed, with the partition read to its end: nothing older can come.
        if (futureEnd !== undefined && Date.now() > futureEnd && result.complete) done.add(plan.partition);
      }
      if (!progressed && done.size < plans.length) await sleep(options.pollMs ?? 250);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await reader.close();
  }
}
