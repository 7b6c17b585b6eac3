// Every topic and Schema Registry subject kubetrail uses, derived from the producer's topic
// settings (their defaults, or what flags, environment and config file say) and the discovered
// processors: what `topics init` creates, `schemas check` checks and `replay` starts from.
//
// Names follow what the services themselves do: the producer writes the raw topic and its state
// topic (lib/topics.ts producerTopicSpecs); a processor reads the raw topic (or whichever input
// it declares), writes its declared outputs, keeps its state in `<group>-<store>-changelog` and its
// dead letters in `<group>.dlq` (lib/topics.ts resolveTopics, called here). An optional prefix goes in
// front of every name, including the consumer group, which is how a second kubetrail shares a
// cluster (run its services with the same prefixed names and group ids) and how tests stay apart.
import { resourceEventSchema } from './raw-event.js';
import type { AvroSchema, ProcessorDefinition } from './kit/processor.js';
import {
  defaultRawTopic,
  resolveTopics,
  resolveTopicSettings,
  topicSettingsEnv,
  topicSettingsSchema,
  type ResolvedTopics,
  type TopicRole,
  type TopicSettings,
} from './topics.js';
import { listProcessors, loadProcessor } from './kit/discovery.js';

export { defaultRawTopic, type TopicRole };

export type AnyDefinition = ProcessorDefinition<any, any, any>;

/** The producer's topic settings: the topic contract's (lib/topics.ts), under the catalog's names. */
export const producerTopicSchema = topicSettingsSchema;
export type ProducerTopicSettings = TopicSettings;
export const producerTopicEnv = topicSettingsEnv;

/** Resolves the producer's topic settings like the producer does (flags, then environment, then file). */
export const producerTopicSettings = resolveTopicSettings;

export interface CatalogTopic {
  topic: string;
  role: TopicRole;
  /** 'producer' or the processor's name. */
  owner: string;
  partitions: number;
  compacted: boolean;
  /** The partition count is part of the contract (an existing topic with another count is an error). */
  exactPartitions: boolean;
  /** Avro schema of the values, registered as `<topic>-value`; none for the producer's state topic and dead letters. */
  schema?: AvroSchema;
}

export interface CatalogSubject {
  subject: string;
  topic: string;
  schema: AvroSchema;
}

export interface CatalogProcessor {
  name: string;
  definition: AnyDefinition;
  /** Consumer group (and transactional id prefix) of the live service. */
  groupId: string;
  topics: ResolvedTopics;
  /** Partitions of its input (from the producer's setting for the raw topic). */
  inputPartitions: number;
}

export interface Catalog {
  prefix: string;
  raw: { topic: string; partitions: number };
  stateTopic: string;
  processors: CatalogProcessor[];
  topics: CatalogTopic[];
  subjects: CatalogSubject[];
}

export interface CatalogOptions {
  producer: ProducerTopicSettings;
  /** Processor names; every discovered processor when undefined. */
  processors?: string[];
  /** Put in front of every topic name and consumer group. */
  prefix?: string;
  /** Definitions to use instead of loading processors/<name> (tests). */
  definitions?: AnyDefinition[];
}

export class CatalogError extends Error {
  override name = 'CatalogError';
}

/** The topics of a processor under a prefix: its declared names and group, prefixed; a raw input is the producer's topic. */
export function processorTopics(definition: AnyDefinition, producer: Pick<ProducerTopicSettings, 'topic'>, prefix = ''): { groupId: string; topics: ResolvedTopics } {
  const groupId = `${prefix}${definition.name}`;
  const declaredInput = definition.input.topic;
  const outputs: Record<string, string> = {};
  for (const [name, declaration] of Object.entries(definition.outputs as Record<string, { topic: string }>)) outputs[name] = `${prefix}${declaration.topic}`;
  return {
    groupId,
    topics: resolveTopics(definition, groupId, {
      input: `${prefix}${declaredInput === defaultRawTopic ? producer.topic : declaredInput}`,
      outputs,
    }),
  };
}

/** Builds the catalog; throws CatalogError when two declarations disagree about a topic or subject. */
export async function buildCatalog(options: CatalogOptions): Promise<Catalog> {
  const prefix = options.prefix ?? '';
  const raw = { topic: `${prefix}${options.producer.topic}`, partitions: options.producer.topicPartitions };
  const stateTopic = `${prefix}${options.producer.stateTopic}`;
  let definitions: AnyDefinition[];
  if (options.definitions) {
    definitions = options.definitions.filter((d) => options.processors === undefined || options.processors.includes(d.name));
  } else {
    const names = options.processors ?? listProcessors();
    definitions = [];
    for (const name of names) definitions.push(await loadProcessor(name));
  }

  const topics = new Map<string, CatalogTopic>();
  const add = (entry: CatalogTopic) => {
    const existing = topics.get(entry.topic);
    if (!existing) {
      topics.set(entry.topic, entry);
      return;
    }
    const same =
      existing.partitions === entry.partitions &&
      existing.compacted === entry.compacted &&
      JSON.stringify(existing.schema ?? null) === JSON.stringify(entry.schema ?? null);
    if (!same) {
      throw new CatalogError(`topic '${entry.topic}' is the ${existing.role} of ${existing.owner} and the ${entry.role} of ${entry.owner}, declared differently`);
    }
  };
  add({ topic: raw.topic, role: 'raw', owner: 'producer', partitions: raw.partitions, compacted: false, exactPartitions: true, schema: resourceEventSchema as AvroSchema });
  add({ topic: stateTopic, role: 'producer-state', owner: 'producer', partitions: 1, compacted: true, exactPartitions: true });

  // A processor may read another's output: its input partitions are that output's, resolved in order.
  const partitionsOf = new Map<string, number>([[raw.topic, raw.partitions]]);
  const pendingDefinitions = [...definitions];
  const processors: CatalogProcessor[] = [];
  while (pendingDefinitions.length > 0) {
    const index = pendingDefinitions.findIndex((d) => partitionsOf.has(processorTopics(d, options.producer, prefix).topics.input));
    if (index < 0) {
      const names = pendingDefinitions.map((d) => `${d.name} (input ${processorTopics(d, options.producer, prefix).topics.input})`);
      throw new CatalogError(`no producer or processor writes the input of: ${names.join(', ')}`);
    }
    const definition = pendingDefinitions.splice(index, 1)[0]!;
    const { groupId, topics: resolved } = processorTopics(definition, options.producer, prefix);
    const inputPartitions = partitionsOf.get(resolved.input)!;
    processors.push({ name: definition.name, definition, groupId, topics: resolved, inputPartitions });
    for (const [name, topic] of Object.entries(resolved.outputs)) {
      const declaration = (definition.outputs as Record<string, { schema: AvroSchema; compacted?: boolean }>)[name]!;
      add({ topic, role: 'output', owner: definition.name, partitions: inputPartitions, compacted: declaration.compacted === true, exactPartitions: false, schema: declaration.schema });
      if (!partitionsOf.has(topic)) partitionsOf.set(topic, inputPartitions);
    }
    if (resolved.changelog && definition.state) {
      add({ topic: resolved.changelog, role: 'changelog', owner: definition.name, partitions: inputPartitions, compacted: true, exactPartitions: true, schema: definition.state.schema });
    }
    add({ topic: resolved.deadLetter, role: 'dead-letter', owner: definition.name, partitions: 1, compacted: false, exactPartitions: false });
  }
  processors.sort((a, b) => a.name.localeCompare(b.name));

  const subjects: CatalogSubject[] = [];
  for (const entry of topics.values()) {
    if (entry.schema) subjects.push({ subject: `${entry.topic}-value`, topic: entry.topic, schema: entry.schema });
  }
  return { prefix, raw, stateTopic, processors, topics: [...topics.values()], subjects };
}
