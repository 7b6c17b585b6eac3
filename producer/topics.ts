// The producer's topics, created when missing (brokers are expected to run with
// auto.create.topics.enable=false): the raw topic, and the compacted single-partition state topic.
import type { Kafka } from 'kafkajs';
import { ConfigError } from '../lib/config.js';
import type { Logger } from '../lib/log.js';

export interface TopicSettings {
  topic: string;
  topicPartitions: number;
  stateTopic: string;
}

export async function ensureTopics(kafka: Kafka, settings: TopicSettings, logger: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      {
        topic: settings.topic,
        numPartitions: settings.topicPartitions,
        // Kept forever, as `topics init` creates it: the raw topic is what a replay rebuilds from.
        configEntries: [{ name: 'retention.ms', value: '-1' }] as Array<{ name: string; value: string }>,
      },
      {
        topic: settings.stateTopic,
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          // Compact within minutes rather than after a 7-day segment roll, so a restart reads little.
          { name: 'segment.ms', value: String(60 * 60 * 1000) },
          { name: 'min.cleanable.dirty.ratio', value: '0.1' },
        ],
      },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length > 0) {
      await admin.createTopics({ topics: wanted, waitForLeaders: true }).catch((error: Error & { type?: string }) => {
        // Another replica may have created it at the same moment.
        if (error.type !== 'TOPIC_ALREADY_EXISTS' && !/already exists/i.test(error.message)) throw error;
      });
      logger.info({ topics: wanted.map((t) => t.topic) }, 'created topics');
    }
    const metadata = await admin.fetchTopicMetadata({ topics: [settings.stateTopic] });
    const partitions = metadata.topics[0]?.partitions.length ?? 0;
    if (partitions !== 1) {
      throw new ConfigError(
        `invalid configuration:\n  stateTopic: ${settings.stateTopic} has ${partitions} partitions; the producer's state topic must have exactly 1 (it orders checkpoints, index and leader markers)`,
      );
    }
  } finally {
    await admin.disconnect();
  }
}
