// Flags that name kubetrail's topics, shared by `topics init`, `schemas check` and `replay`: the
// producer's topic settings (same variables and config-file keys as `kubetrail produce`), the
// processors to include and a prefix for every name.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConfigError } from '../lib/config.js';
import { buildCatalog, producerTopicSettings, type Catalog } from '../lib/catalog.js';
import { defaultTopicSettings, topicSettingsEnv } from '../lib/topics.js';
import { cliValues } from './options.js';
import { listProcessors } from '../lib/kit/discovery.js';
import { configFile } from './connection.js';

export function positiveInteger(value: string): number {
  return integerIn(1)(value);
}

/** A commander parser of a whole number from `min` (up to `max`, when given). */
export function integerIn(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `a whole number of ${min} or more` : `a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

export function catalogOptions(command: Command, { processors = true, partitions = true } = {}): Command {
  // Defaults are shown, not applied: the producer's settings resolve them after the config file.
  const shown = (option: Option, value: unknown) => option.default(value, String(value));
  command
    .addOption(shown(new Option('--raw-topic <name>', "the producer's raw topic").env(topicSettingsEnv.topic), defaultTopicSettings.topic))
    .addOption(shown(new Option('--state-topic <name>', "the producer's state topic").env(topicSettingsEnv.stateTopic), defaultTopicSettings.stateTopic))
    .option('--topic-prefix <prefix>', 'put in front of every topic name and consumer group (a second kubetrail on one cluster)', '');
  if (partitions) command.addOption(shown(new Option('--partitions <n>', 'partitions of the raw topic').env(topicSettingsEnv.topicPartitions).argParser(positiveInteger), defaultTopicSettings.topicPartitions));
  if (processors) command.option('--processors <names...>', `processors to include (default: every one found: ${listProcessors().join(', ') || 'none'})`);
  return command;
}

/** --raw-topic and --state-topic as given on the command line: the `flags` of producerTopicSettings. */
export function topicFlags(command: Command): Record<string, unknown> {
  const given = cliValues(command);
  const flags: Record<string, unknown> = {};
  if (given.rawTopic !== undefined) flags.topic = given.rawTopic;
  if (given.stateTopic !== undefined) flags.stateTopic = given.stateTopic;
  return flags;
}

export async function loadCatalog(command: Command): Promise<Catalog> {
  // Only what was given on the command line: environment and defaults resolve below, after the file.
  const options = command.opts();
  const flags = topicFlags(command);
  const partitions = cliValues(command).partitions;
  if (partitions !== undefined) flags.topicPartitions = partitions;
  const producer = producerTopicSettings({ flags, file: configFile(options as { config?: string }) });
  const names = options.processors as string[] | undefined;
  if (names) {
    const known = listProcessors();
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length > 0) throw new ConfigError(`--processors: no processor ${unknown.map((n) => `'${n}'`).join(', ')} (available: ${known.join(', ') || 'none'})`);
  }
  return buildCatalog({ producer, processors: names, prefix: String(options.topicPrefix ?? '') });
}
