// Sizes of what a transaction sends. kafkajs writes all messages of one sendBatch() for one
// partition as a single record batch, and the broker refuses a batch larger than the topic's
// max.message.bytes (about 1 MB by default), so a transaction's messages are sent in several
// sendBatch() calls of bounded size, one after the other: same transaction, same order per
// partition, nothing else changes. A single record larger than its topic allows can never be
// written: the runner dead-letters the input record that produced it instead of retrying forever.
import type { Message, TopicMessages } from 'kafkajs';

/** Record framing, headers framing and a margin: an estimate, on the safe side. */
export const RECORD_OVERHEAD = 100;

export function messageBytes(message: Message): number {
  let n = RECORD_OVERHEAD;
  const { key, value, headers } = message;
  if (key) n += typeof key === 'string' ? Buffer.byteLength(key) : key.length;
  if (value) n += typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  if (headers) {
    for (const name in headers) {
      const v = headers[name];
      n += Buffer.byteLength(name) + 8;
      if (typeof v === 'string') n += Buffer.byteLength(v);
      else if (Buffer.isBuffer(v)) n += v.length;
      else if (Array.isArray(v)) for (const item of v) n += typeof item === 'string' ? Buffer.byteLength(item) : item.length;
    }
  }
  return n;
}

/**
 * Splits items into consecutive runs of at most maxBytes, keeping their order; an item larger
 * than maxBytes, or one `alone` says must go by itself, makes a run of its own.
 */
export function chunkBySize<T>(items: Iterable<T>, bytesOf: (item: T) => number, maxBytes: number, alone: (item: T) => boolean = () => false): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = bytesOf(item);
    if (current.length > 0 && (alone(item) || size + bytes > maxBytes)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += bytes;
    if (alone(item)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Splits topic messages into consecutive parts of at most maxBytes (by messageBytes), keeping
 * their order; a message larger than maxBytes makes a part by itself.
 */
export function splitTopicMessages(topicMessages: TopicMessages[], maxBytes: number): TopicMessages[][] {
  const flat = topicMessages.flatMap(({ topic, messages }) => messages.map((message) => ({ topic, message })));
  return chunkBySize(flat, (entry) => messageBytes(entry.message), maxBytes).map((part) => {
    const grouped: TopicMessages[] = [];
    for (const { topic, message } of part) {
      const last = grouped[grouped.length - 1];
      if (last?.topic === topic) last.messages.push(message);
      else grouped.push({ topic, messages: [message] });
    }
    return grouped;
  });
}
