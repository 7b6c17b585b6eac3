// Flags that name kubetrail's topics, shared by `topics init`, `schemas check` and `replay`: the
// producer's topic settings (same variables and config-file keys as `kubetrail produce`), the
// processors to include and a prefix for every name.
import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError } from '../lib/config.js';
import { buildCatalog, producerTopicSettings, type Catalog } from '../lib/catalog.js';
import { listProcessors } from '../lib/kit/discovery.js';
import { configFile } from './connection.js';

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of 1 or more');
  return n;
}

export function catalogOptions(command: Command, { processors = true, partitions = true } = {}): Command {
  command
    .option('--raw-topic <name>', 'the producer\'s raw topic (env KUBETRAIL_TOPIC, default kubetrail.raw)')
    .option('--state-topic <name>', 'the producer\'s state topic (env KUBETRAIL_STATE_TOPIC, default kubetrail.producer.state)')
    .option('--topic-prefix <prefix>', 'put in front of every topic name and consumer group (a second kubetrail on one cluster)', '');
  if (partitions) command.option('--partitions <n>', 'partitions of the raw topic (env KUBETRAIL_TOPIC_PARTITIONS, default 3)', positiveInteger);
  if (processors) command.option('--processors <names...>', `processors to include (default: every one found: ${listProcessors().join(', ') || 'none'})`);
  return command;
}

export async function loadCatalog(options: Record<string, unknown>): Promise<Catalog> {
  const flags: Record<string, unknown> = {};
  if (options.rawTopic !== undefined) flags.topic = options.rawTopic;
  if (options.stateTopic !== undefined) flags.stateTopic = options.stateTopic;
  if (options.partitions !== undefined) flags.topicPartitions = options.partitions;
  const producer = producerTopicSettings({ flags, file: configFile(options as { config?: string }) });
  const names = options.processors as string[] | undefined;
  if (names) {
    const known = listProcessors();
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length > 0) throw new ConfigError(`--processors: no processor ${unknown.map((n) => `'${n}'`).join(', ')} (available: ${known.join(', ') || 'none'})`);
  }
  return buildCatalog({ producer, processors: names, prefix: String(options.topicPrefix ?? '') });
}
