// Topics a processor needs, checked and created at start-up. The input topic belongs to whoever
// writes it (the producer) and is never created here: a missing input is a configuration error
// named in the message. Outputs, the state changelog and the dead-letter topic are created when
// missing, with the configuration their role needs.
import type { Admin, ITopicConfig } from 'kafkajs';

export class TopicError extends Error {
  override name = 'TopicError';
}

export type TopicRole = 'output' | 'changelog' | 'dead-letter';

export interface TopicSpec {
  topic: string;
  role: TopicRole;
  partitions: number;
  compacted: boolean;
  /**
   * The partition count is part of the contract (a changelog must match the input partition for
   * partition): an existing topic with another count is an error rather than a warning.
   */
  exactPartitions: boolean;
}

/** Partition count of every partition of a topic, or undefined when it does not exist. */
export async function partitionCount(admin: Admin, topic: string): Promise<number | undefined> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) return undefined;
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0]?.partitions.length;
}

/** Partition count of the input topic; throws a TopicError naming it when it does not exist. */
export async function requireInputTopic(admin: Admin, topic: string, processor: string): Promise<number> {
  const count = await partitionCount(admin, topic);
  if (count === undefined) {
    throw new TopicError(
      `input topic '${topic}' of processor '${processor}' does not exist: it is created by its producer (start the producer first), ` +
        `or name another one with the input topic override`,
    );
  }
  return count;
}

/** max.message.bytes of the dead-letter topics the runner creates. */
export const DEAD_LETTER_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** The broker's default message.max.bytes, used when a topic's limit cannot be read. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** max.message.bytes of each topic (its own setting or the broker's default). */
export async function maxMessageBytes(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (topics.length === 0) return result;
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: 2 /* TOPIC */, name, configNames: ['max.message.bytes'] })),
  });
  for (const topic of topics) {
    const value = Number(resources.find((r) => r.resourceName === topic)?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
    result.set(topic, Number.isFinite(value) && value > 0 ? value : DEFAULT_MAX_MESSAGE_BYTES);
  }
  return result;
}

function configEntries(spec: TopicSpec): ITopicConfig['configEntries'] {
  const entries = [{ name: 'cleanup.policy', value: spec.compacted ? 'compact' : 'delete' }];
  if (spec.role === 'changelog') {
    // State is rebuilt from the changelog on every assignment: keep it small by compacting early.
    entries.push({ name: 'min.cleanable.dirty.ratio', value: '0.1' }, { name: 'segment.ms', value: String(6 * 60 * 60 * 1000) });
  }
  if (spec.role === 'dead-letter') {
    // Dead letters wait for a human: keep them longer than the broker's default week. A dead
    // letter is its input record plus headers, so it may be larger than the input topic allows.
    entries.push({ name: 'retention.ms', value: String(30 * 24 * 60 * 60 * 1000) }, { name: 'max.message.bytes', value: String(DEAD_LETTER_MAX_MESSAGE_BYTES) });
  }
  return entries;
}

/**
 * Creates the topics that are missing (replication: up to 3, never more than there are brokers)
 * and checks the partition count of those that must match. Returns the topics it created.
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  const present = specs.filter((s) => existing.has(s.topic) && s.exactPartitions);
  if (present.length > 0) {
    const { topics } = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
    for (const spec of present) {
      const count = topics.find((t) => t.name === spec.topic)?.partitions.length;
      if (count !== spec.partitions) {
        throw new TopicError(
          `${spec.role} topic '${spec.topic}' has ${count} partitions but must have ${spec.partitions} (one per input partition); ` +
            `delete it (its state is rebuilt only from this topic, so only when it may be lost) or give the processor another group id`,
        );
      }
    }
  }
  if (missing.length === 0) return [];
  const { brokers } = await admin.describeCluster();
  const replicationFactor = Math.max(1, Math.min(3, brokers.length));
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((spec) => ({
      topic: spec.topic,
      numPartitions: spec.partitions,
      replicationFactor,
      configEntries: configEntries(spec),
    })),
  });
  return missing.map((s) => s.topic);
}
