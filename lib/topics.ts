// The topic contract: every topic kubetrail writes, its name, its settings and who creates it, in
// one place. The producer (raw and state topics), the processor runner (outputs, changelogs, dead
// letters), `topics init`, replay and the catalog all take names and settings from here and
// create topics with ensureTopics(), so a topic is the same whoever creates it first.
//
// Roles and their settings:
//   raw             the producer's change events; cleanup.policy=delete, retention.ms from the
//                   rawRetentionMs setting (KUBETRAIL_RAW_RETENTION_MS, default -1 = forever: the
//                   raw topic is what replay rebuilds from). The producer and `topics init` read
//                   the same setting, so the first to create the topic gives it the same retention.
//   producer-state  one partition, compacted, compacted early (a restart reads little).
//   output          a processor's declared output; compacted when declared so; records up to 8 MB.
//   changelog       a processor's state; compacted early; one partition per input partition.
//   dead-letter     kept 30 days and up to 8 MB a record (a dead letter is its input plus headers).
//   redrive-log     `<dead-letter topic>.redriven`: one small record per dead letter re-driven by
//                   `kubetrail dlq redrive`, written in the transaction that re-sends it; compacted,
//                   one partition.
// Every topic is created with replication factor min(3, brokers) and, on three brokers or more,
// min.insync.replicas=2, so an acknowledged write survives the loss of one broker.
import type { Admin, ITopicConfig } from 'kafkajs';
import { z } from 'zod';
import { resolveConfig } from './config.js';
import { retry } from './async.js';
import type { ProcessorDefinition } from './kit/processor.js';

export class TopicError extends Error {
  override name = 'TopicError';
}

const isRetriableKafkaError = (error: unknown) => (error as { retriable?: unknown } | null)?.retriable === true;
/** How long and how often a topic operation is retried on Kafka's retriable errors (a cluster settling). */
const patiently = { timeoutMs: 30_000, maxMs: 1_000, retriable: isRetriableKafkaError };

/**
 * A step on topics, tried again on Kafka's retriable errors for up to 30 s (a cluster settling:
 * a topic just created, a leader moving); any other error is thrown at once.
 */
export function retryRetriable<T>(step: () => Promise<T>): Promise<T> {
  return retry(step, patiently);
}

export type TopicRole = 'raw' | 'producer-state' | 'output' | 'changelog' | 'dead-letter' | 'redrive-log';

/** Kafka topic names: legal characters, at most 249. */
export const topicNameSchema = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'a topic name: letters, digits, . _ - (at most 249)');

/** The producer's topic settings: read by the producer, `topics init`, replay and the catalog. */
export const topicSettingsSchema = z.object({
  topic: topicNameSchema.default('kubetrail.raw'),
  /** Partitions of the raw topic when it is created. */
  topicPartitions: z.coerce.number().int().min(1).max(1000).default(3),
  stateTopic: topicNameSchema.default('kubetrail.producer.state'),
  /** retention.ms of the raw topic when it is created (-1: forever). */
  rawRetentionMs: z.coerce.number().int().min(-1).default(-1),
});
export type TopicSettings = z.output<typeof topicSettingsSchema>;

/** Environment variables of the topic settings. */
export const topicSettingsEnv: Record<keyof TopicSettings, string> = {
  topic: 'KUBETRAIL_TOPIC',
  topicPartitions: 'KUBETRAIL_TOPIC_PARTITIONS',
  stateTopic: 'KUBETRAIL_STATE_TOPIC',
  rawRetentionMs: 'KUBETRAIL_RAW_RETENTION_MS',
};

export const defaultTopicSettings: TopicSettings = topicSettingsSchema.parse({});

/** The topic settings as the producer resolves them: flags, then environment (default process.env), then file. */
export function resolveTopicSettings(sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv; file?: Record<string, unknown> } = {}): TopicSettings {
  return resolveConfig(topicSettingsSchema, topicSettingsEnv, sources);
}

/** The raw topic a processor declares as its input when it reads what the producer writes. */
export const defaultRawTopic = defaultTopicSettings.topic;

/**
 * max.message.bytes of output and dead-letter topics: an output can be as large as its input (a
 * raw event the producer published whole because it compressed under the raw topic's limit, passed
 * on by completed-filter), and a dead letter is its input plus headers. The runner compresses
 * large sends, so the broker sees far smaller batches.
 */
export const LARGE_RECORD_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** max.message.bytes of dead-letter topics. */
export const DEAD_LETTER_MAX_MESSAGE_BYTES = LARGE_RECORD_MAX_MESSAGE_BYTES;

/** The broker's default message.max.bytes, used when a topic's limit cannot be read. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface TopicSpec {
  topic: string;
  role: TopicRole;
  partitions: number;
  compacted: boolean;
  /**
   * The partition count is part of the contract (a changelog must match the input partition for
   * partition; the producer's state needs one): an existing topic with another count is an error.
   */
  exactPartitions: boolean;
  /** retention.ms; only the raw topic sets it (others keep their role's default). */
  retentionMs?: number;
}

/** The topic configuration a role needs (what createTopics is given). */
export function topicConfig(spec: TopicSpec, brokers: number): ITopicConfig['configEntries'] {
  const entries: Array<{ name: string; value: string }> = [{ name: 'cleanup.policy', value: spec.compacted ? 'compact' : 'delete' }];
  const add = (name: string, value: number | string) => entries.push({ name, value: String(value) });
  switch (spec.role) {
    case 'raw':
      add('retention.ms', spec.retentionMs ?? defaultTopicSettings.rawRetentionMs);
      break;
    case 'producer-state':
      // Compact within the hour rather than after a 7-day segment roll, so a restart reads little.
      add('segment.ms', HOUR_MS);
      add('min.cleanable.dirty.ratio', '0.1');
      break;
    case 'changelog':
      // State is rebuilt from the changelog on every assignment: keep it small by compacting early.
      add('segment.ms', 6 * HOUR_MS);
      add('min.cleanable.dirty.ratio', '0.1');
      break;
    case 'dead-letter':
      // Dead letters wait for a human: longer than the broker's default week, and larger records.
      add('retention.ms', 30 * DAY_MS);
      add('max.message.bytes', DEAD_LETTER_MAX_MESSAGE_BYTES);
      break;
    case 'output':
      add('max.message.bytes', LARGE_RECORD_MAX_MESSAGE_BYTES);
      break;
    case 'redrive-log':
      // Compacted (a key per re-driven letter, about 60 bytes): kept as long as the topic is.
      break;
  }
  if (brokers >= 3) add('min.insync.replicas', 2);
  return entries;
}

/** Replication factor of the topics kubetrail creates on a cluster of this many brokers. */
export function replicationFactor(brokers: number): number {
  return Math.max(1, Math.min(3, brokers));
}

/** The durability a topic needs on a cluster of `brokers`: what topicConfig and ensureTopics give it. */
export function requiredDurability(brokers: number): { replicas: number; minInsyncReplicas: number } {
  return { replicas: replicationFactor(brokers), minInsyncReplicas: brokers >= 3 ? 2 : 1 };
}

/** What one topic has: its smallest replica count over partitions and its min.insync.replicas. */
export interface TopicDurability {
  topic: string;
  replicas: number;
  minInsyncReplicas: number;
}

/**
 * Why a topic is weaker than the cluster allows (empty when it is not): on three brokers or more,
 * fewer than 3 replicas or min.insync.replicas below 2 let one broker's loss take acknowledged
 * writes with it, or stop nothing when only the leader has them.
 */
export function durabilityFindings(found: TopicDurability, brokers: number): string[] {
  const need = requiredDurability(brokers);
  const findings: string[] = [];
  if (found.replicas < need.replicas) {
    findings.push(`replication factor ${found.replicas} on a cluster of ${brokers} brokers (expected ${need.replicas}: one broker's loss can lose its records)`);
  }
  if (found.minInsyncReplicas < need.minInsyncReplicas) {
    findings.push(
      `min.insync.replicas ${found.minInsyncReplicas} on a cluster of ${brokers} brokers (expected ${need.minInsyncReplicas}: ` +
        `an acks=all write may be acknowledged by the leader alone) — kafka-configs --alter --entity-type topics --entity-name ${found.topic} --add-config min.insync.replicas=${need.minInsyncReplicas}`,
    );
  }
  return findings;
}

/** Replicas and min.insync.replicas of the topics that exist, with the cluster's broker count. */
export async function inspectDurability(admin: Admin, topics: string[]): Promise<{ brokers: number; topics: TopicDurability[] }> {
  return retryRetriable(() => inspectDurabilityOnce(admin, topics));
}

async function inspectDurabilityOnce(admin: Admin, topics: string[]): Promise<{ brokers: number; topics: TopicDurability[] }> {
  const existing = new Set(await admin.listTopics());
  const present = [...new Set(topics)].filter((t) => existing.has(t));
  const { brokers } = await admin.describeCluster();
  if (present.length === 0) return { brokers: brokers.length, topics: [] };
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: present });
  const configs = await describeTopicConfigs(admin, present, ['min.insync.replicas']);
  return {
    brokers: brokers.length,
    topics: present.map((topic) => {
      const partitions = metadata.find((m) => m.name === topic)?.partitions ?? [];
      return {
        topic,
        replicas: Math.min(...partitions.map((p) => p.replicas.length)),
        minInsyncReplicas: Number(configs.get(topic)?.get('min.insync.replicas') ?? 1),
      };
    }),
  };
}

/**
 * `topic: finding` for every topic a service uses that is weaker than its cluster allows (services
 * log them as warnings at start). A check that cannot be made (a service allowed no DescribeConfigs
 * on its topics, docs/operations.md#acls) is one finding that says so: it never stops a service.
 */
export async function weakTopics(admin: Admin, topics: string[]): Promise<string[]> {
  try {
    const { brokers, topics: found } = await inspectDurability(admin, topics);
    return found.flatMap((t) => durabilityFindings(t, brokers).map((finding) => `${t.topic}: ${finding}`));
  } catch (error) {
    return [`cannot check the replicas and min.insync.replicas of ${topics.join(', ')}: ${(error as Error).message} (allow DescribeConfigs on them, or run kubetrail topics init --check as an administrator)`];
  }
}

/**
 * Partition count of a topic, or undefined when it does not exist. A topic just created may be
 * listed by one broker and unknown to the next (kafkajs' metadata call gives up on
 * UNKNOWN_TOPIC_OR_PARTITION at once), so retriable errors are tried again.
 */
export function partitionCount(admin: Admin, topic: string): Promise<number | undefined> {
  return retryRetriable(async () => {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) return undefined;
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.length;
  });
}

/** Partition count of a processor's input topic; a TopicError naming it when it does not exist. */
export async function requireInputTopic(admin: Admin, topic: string, processor: string): Promise<number> {
  const count = await partitionCount(admin, topic);
  if (count === undefined) {
    throw new TopicError(
      `input topic '${topic}' of processor '${processor}' does not exist: it is created by its producer (start the producer first), ` +
        `or name another one with the input topic override (on a cluster with ACLs, a topic this client may not DESCRIBE looks absent too)`,
    );
  }
  return count;
}

/** max.message.bytes of each topic (its own setting or the broker's default). */
export async function maxMessageBytes(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const configs = await topicConfigs(admin, topics, ['max.message.bytes']);
  const result = new Map<string, number>();
  for (const topic of topics) {
    const value = Number(configs.get(topic)?.get('max.message.bytes'));
    result.set(topic, Number.isFinite(value) && value > 0 ? value : DEFAULT_MAX_MESSAGE_BYTES);
  }
  return result;
}

/**
 * The named configs of each topic (topic → config → value; a config the broker did not return is
 * absent). A topic just created is not in every broker's metadata at once, and kafkajs asks the
 * broker its metadata names as controller (any broker under KRaft), giving up on its
 * UNKNOWN_TOPIC_OR_PARTITION at once: that, like every retriable error, is tried again.
 */
export function topicConfigs(admin: Admin, topics: string[], configNames: string[]): Promise<Map<string, Map<string, string>>> {
  return retryRetriable(() => describeTopicConfigs(admin, topics, configNames));
}

/** topicConfigs in one attempt, for callers that retry a larger step around it. */
export async function describeTopicConfigs(admin: Admin, topics: string[], configNames: string[]): Promise<Map<string, Map<string, string>>> {
  const result = new Map<string, Map<string, string>>();
  if (topics.length === 0) return result;
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: 2 /* TOPIC */, name, configNames })) });
  for (const r of resources) result.set(r.resourceName, new Map(r.configEntries.map((e) => [e.configName, e.configValue])));
  return result;
}

function exactCountProblem(spec: TopicSpec, count: number | undefined): string {
  const why =
    spec.role === 'changelog'
      ? `(one per input partition); delete it (its state is rebuilt only from this topic, so only when it may be lost) or give the processor another group id`
      : spec.role === 'producer-state'
        ? `(the producer's state topic must have exactly 1 partition: it orders the producer's checkpoints, index and leader markers; ` +
          `name another topic with --state-topic / KUBETRAIL_STATE_TOPIC)`
        : `(as configured; set the partition setting to ${count} if that count is intended)`;
  return `${spec.role} topic '${spec.topic}' has ${count} partitions but must have ${spec.partitions} ${why}`;
}

const alreadyExists = (error: Error & { type?: string }) => error.type === 'TOPIC_ALREADY_EXISTS' || /already exists/i.test(error.message);

/**
 * Creates the topics that are missing, with their role's settings, and checks the partition count
 * of those whose count is part of the contract (TopicError otherwise). Another client creating the
 * same topic at the same moment is not an error. Returns the topics this call created.
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<string[]> {
  // On a cluster, a topic just created (by us or another instance starting at the same moment)
  // is not in every broker's metadata at once: its partitions are UNKNOWN_TOPIC_OR_PARTITION for
  // a moment. Retriable Kafka errors are retried for a while; creating is idempotent.
  return retryRetriable(() => ensureTopicsOnce(admin, specs));
}

/** Creates topics and waits for their leaders; one that exists already is no error. */
async function createTopicsOnce(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  await admin.createTopics({ waitForLeaders: true, topics }).catch((error: Error & { type?: string }) => {
    if (!alreadyExists(error)) throw error;
  });
  // kafkajs waits for leaders only when it created every topic: when they existed (a retry after
  // a half-done attempt, another instance first), it returns at once.
  await requireLeaders(admin, topics.map((t) => t.topic));
}

/** Throws a retriable error unless every partition of the topics has a leader. */
async function requireLeaders(admin: Admin, topics: string[]): Promise<void> {
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  const leaderless = metadata.flatMap((t) => t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}-${p.partitionId}`));
  if (leaderless.length > 0) throw Object.assign(new Error(`no leader yet for ${leaderless.join(', ')}`), { retriable: true });
}

/**
 * Topics created as given (settings not checked: benchmarks and tools that choose their own),
 * retrying for a while as ensureTopics does: a topic just created can be UNKNOWN_TOPIC_OR_PARTITION
 * in the metadata that waitForLeaders reads.
 */
export function createTopicsPatiently(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  return retryRetriable(() => createTopicsOnce(admin, topics));
}

async function ensureTopicsOnce(admin: Admin, specs: TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    const { brokers } = await admin.describeCluster();
    await createTopicsOnce(
      admin,
      missing.map((spec) => ({
        topic: spec.topic,
        numPartitions: spec.partitions,
        replicationFactor: replicationFactor(brokers.length),
        configEntries: topicConfig(spec, brokers.length),
      })),
    );
  }
  const exact = specs.filter((s) => s.exactPartitions);
  if (exact.length > 0) {
    const { topics } = await admin.fetchTopicMetadata({ topics: exact.map((s) => s.topic) });
    for (const spec of exact) {
      const count = topics.find((t) => t.name === spec.topic)?.partitions.length;
      if (count !== spec.partitions) throw new TopicError(exactCountProblem(spec, count));
    }
  }
  return missing.map((s) => s.topic);
}

/** The producer's two topics under its settings. */
export function producerTopicSpecs(settings: TopicSettings): TopicSpec[] {
  return [
    { topic: settings.topic, role: 'raw', partitions: settings.topicPartitions, compacted: false, exactPartitions: false, retentionMs: settings.rawRetentionMs },
    { topic: settings.stateTopic, role: 'producer-state', partitions: 1, compacted: true, exactPartitions: true },
  ];
}

// ---- processors ---------------------------------------------------------------------------------

export interface TopicOverrides {
  input?: string;
  /** Topic per declared output name. */
  outputs?: Record<string, string>;
  changelog?: string;
  deadLetter?: string;
}

export interface ResolvedTopics {
  input: string;
  outputs: Record<string, string>;
  changelog: string | undefined;
  deadLetter: string;
}

/** `<group>-<store>-changelog`: a processor's state changelog. */
export const changelogTopicName = (groupId: string, store: string) => `${groupId}-${store}-changelog`;

/** `<group>.dlq`: a processor's dead letters. */
export const deadLetterTopicName = (groupId: string) => `${groupId}.dlq`;

/** `<dead-letter topic>.redriven`: which of its dead letters were re-driven (lib/dead-letters.ts). */
export const redriveLogTopicName = (deadLetterTopic: string) => `${deadLetterTopic}.redriven`;

export function redriveLogSpec(deadLetterTopic: string): TopicSpec {
  return { topic: redriveLogTopicName(deadLetterTopic), role: 'redrive-log', partitions: 1, compacted: true, exactPartitions: true };
}

/** Names every topic of a processor under its group and the overrides. */
export function resolveTopics(definition: ProcessorDefinition<any, any, any>, groupId: string, overrides: TopicOverrides = {}): ResolvedTopics {
  const declared = Object.keys(definition.outputs);
  for (const name of Object.keys(overrides.outputs ?? {})) {
    if (!declared.includes(name)) throw new Error(`topic override for output '${name}': processor '${definition.name}' declares no such output (declared: ${declared.join(', ')})`);
  }
  const outputs: Record<string, string> = {};
  for (const name of declared) outputs[name] = overrides.outputs?.[name] ?? (definition.outputs[name] as { topic: string }).topic;
  return {
    input: overrides.input ?? definition.input.topic,
    outputs,
    changelog: definition.state ? (overrides.changelog ?? changelogTopicName(groupId, definition.state.store)) : undefined,
    deadLetter: overrides.deadLetter ?? deadLetterTopicName(groupId),
  };
}

/** The topics a processor writes, as it creates them (its outputs take the input's partition count). */
export function processorTopicSpecs(definition: ProcessorDefinition<any, any, any>, topics: ResolvedTopics, inputPartitions: number): TopicSpec[] {
  const specs: TopicSpec[] = [];
  const seen = new Set<string>();
  for (const [name, topic] of Object.entries(topics.outputs)) {
    if (seen.has(topic)) continue;
    seen.add(topic);
    const compacted = (definition.outputs[name] as { compacted?: boolean }).compacted === true;
    specs.push({ topic, role: 'output', partitions: inputPartitions, compacted, exactPartitions: false });
  }
  if (topics.changelog) specs.push({ topic: topics.changelog, role: 'changelog', partitions: inputPartitions, compacted: true, exactPartitions: true });
  specs.push({ topic: topics.deadLetter, role: 'dead-letter', partitions: 1, compacted: false, exactPartitions: false });
  for (const spec of specs) {
    if (spec.topic === topics.input) throw new TopicError(`${spec.role} topic '${spec.topic}' is the input topic of processor '${definition.name}'`);
  }
  return specs;
}

// ---- sinks --------------------------------------------------------------------------------------

/** `sink-<name>`: a sink's default consumer group (its dead letters go to `sink-<name>.dlq`). */
export const sinkGroupId = (sink: string) => `sink-${sink}`;

/** The topics a sink writes: its dead letters only. */
export function sinkTopicSpecs(deadLetterTopic: string): TopicSpec[] {
  return [{ topic: deadLetterTopic, role: 'dead-letter', partitions: 1, compacted: false, exactPartitions: false }];
}
