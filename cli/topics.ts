// `kubetrail topics init`: creates every topic kubetrail uses (lib/catalog.ts) and registers every
// value schema, then exits. Idempotent: what exists is checked, never altered. An existing topic
// whose partition count or cleanup policy breaks its contract is reported and nothing is changed
// (exit 1): fixing it (deleting a changelog, moving a topic) is a decision for a human.
import { Option, type Command } from 'commander';
import type { Admin, Kafka } from 'kafkajs';
import type { ConnectionConfig } from '../lib/config.js';
import { createKafka, createRegistry } from '../lib/kafka/client.js';
import { registerSchema } from '../lib/kafka/codec.js';
import { defaultTopicSettings, durabilityFindings, ensureTopics, producerTopicSpecs, resolveTopicSettings, describeTopicConfigs, retryRetriable, topicSettingsEnv, type TopicSpec } from '../lib/topics.js';
import { RegistryApi } from '../lib/registry-api.js';
import { commandLogger } from './command-log.js';
import { settingFlags } from './options.js';
import type { Catalog, CatalogTopic } from '../lib/catalog.js';
import { configFile, connectionOptions, loadConnection } from './connection.js';
import { catalogOptions, loadCatalog } from './catalog-options.js';

/** What a topic looks like on the cluster. */
export interface TopicState {
  partitions: number;
  /** The fewest replicas any partition has. */
  replicas: number;
  minInsyncReplicas: number;
  cleanupPolicy: string;
  retentionMs: string | undefined;
}

export interface TopicVerdict {
  entry: CatalogTopic;
  state: TopicState | undefined;
  /** Break the contract: reported, exit 1, nothing changed. */
  problems: string[];
  /** Worth knowing, not wrong enough to stop. */
  warnings: string[];
  /** Weaker than the cluster allows (replicas, min.insync.replicas): warnings, and a failure of `--check`. */
  weak: string[];
}

/** retention.ms of the raw topic when it is created (lib/topics.ts: -1, forever). */
export const defaultRawRetentionMs = defaultTopicSettings.rawRetentionMs;

/**
 * Settings `topics init` reads besides the connection and the producer's topic, partitions and
 * state topic settings: the raw topic's retention, a topic setting the producer reads too.
 */
export const topicsInitEnv = { rawRetentionMs: topicSettingsEnv.rawRetentionMs } as const;

/** Judges an existing topic (or a missing one: no findings) against its catalog entry. */
export function judgeTopic(entry: CatalogTopic, state: TopicState | undefined, rawRetentionMs: number, brokers = 1): TopicVerdict {
  const verdict: TopicVerdict = { entry, state, problems: [], warnings: [], weak: [] };
  if (!state) return verdict;
  verdict.weak.push(...durabilityFindings({ topic: entry.topic, replicas: state.replicas, minInsyncReplicas: state.minInsyncReplicas }, brokers));
  if (state.partitions !== entry.partitions) {
    const why =
      entry.role === 'changelog'
        ? ` (one per input partition; delete it only if its state may be rebuilt from scratch, or use another --topic-prefix)`
        : entry.role === 'raw'
          ? ` (set --partitions / KUBETRAIL_TOPIC_PARTITIONS to ${state.partitions} if that count is intended)`
          : entry.role === 'producer-state'
            ? ' (it orders the producer\'s checkpoints)'
            : '';
    const text = `has ${state.partitions} partitions, expected ${entry.partitions}${why}`;
    if (entry.exactPartitions) verdict.problems.push(text);
    else verdict.warnings.push(`${text}; the processor works with it, keys are spread differently`);
  }
  const policies = state.cleanupPolicy.split(',').map((p) => p.trim());
  if (entry.compacted) {
    if (!policies.includes('compact')) verdict.problems.push(`cleanup.policy is '${state.cleanupPolicy}', expected 'compact' (it must keep the latest value of every key)`);
    else if (policies.includes('delete')) verdict.warnings.push(`cleanup.policy is '${state.cleanupPolicy}': keys older than retention.ms disappear`);
  } else if (policies.includes('compact')) {
    verdict.problems.push(`cleanup.policy is '${state.cleanupPolicy}', expected 'delete' (every record counts, not only the latest per key)`);
  }
  if (entry.role === 'raw' && state.retentionMs !== undefined && Number(state.retentionMs) !== rawRetentionMs) {
    const retained = Number(state.retentionMs) < 0 ? 'forever' : `${Math.round(Number(state.retentionMs) / 3_600_000)} h`;
    verdict.warnings.push(`retention.ms is ${state.retentionMs} (${retained}), expected ${rawRetentionMs}: replay can only reprocess what is retained ` +
        `(kafka-configs --alter --entity-type topics --entity-name ${entry.topic} --add-config retention.ms=${rawRetentionMs})`);
  }
  return verdict;
}

export function describeEntry(entry: CatalogTopic): string {
  return `${entry.role} of ${entry.owner}: ${entry.partitions} partition${entry.partitions === 1 ? '' : 's'}, ${entry.compacted ? 'compact' : 'delete'}`;
}

/** Partition counts and the configs that matter of the topics that exist (retried while the cluster settles). */
export function inspectTopics(admin: Admin, topics: string[]): Promise<Map<string, TopicState>> {
  return retryRetriable(() => inspectTopicsOnce(admin, topics));
}

async function inspectTopicsOnce(admin: Admin, topics: string[]): Promise<Map<string, TopicState>> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((t) => existing.has(t));
  const states = new Map<string, TopicState>();
  if (present.length === 0) return states;
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: present });
  const configs = await describeTopicConfigs(admin, present, ['cleanup.policy', 'retention.ms', 'min.insync.replicas']);
  for (const topic of present) {
    const config = configs.get(topic);
    const partitions = metadata.find((m) => m.name === topic)?.partitions ?? [];
    states.set(topic, {
      partitions: partitions.length,
      replicas: Math.min(...partitions.map((p) => p.replicas.length)),
      minInsyncReplicas: Number(config?.get('min.insync.replicas') ?? 1),
      cleanupPolicy: config?.get('cleanup.policy') ?? 'delete',
      retentionMs: config?.get('retention.ms'),
    });
  }
  return states;
}

export interface InitOptions {
  dryRun: boolean;
  /** Change nothing; fail (problems > 0) when a topic or schema is missing, breaks its contract or is weaker than the cluster allows. */
  check?: boolean;
  rawRetentionMs: number;
  out: (line: string) => void;
}

export interface InitResult {
  created: string[];
  registered: string[];
  problems: number;
  warnings: number;
}

/** How a missing catalog topic is created: the producer's two as the producer creates them (lib/topics.ts), the others by their entry. */
export function topicSpecs(catalog: Catalog, entries: CatalogTopic[], rawRetentionMs: number): TopicSpec[] {
  const producer = producerTopicSpecs({ topic: catalog.raw.topic, topicPartitions: catalog.raw.partitions, stateTopic: catalog.stateTopic, rawRetentionMs });
  return entries.map(
    (e) =>
      producer.find((spec) => spec.topic === e.topic && spec.role === e.role) ?? {
        topic: e.topic,
        role: e.role,
        partitions: e.partitions,
        compacted: e.compacted,
        exactPartitions: e.exactPartitions,
      },
  );
}

export async function initTopics(kafka: Kafka, connection: ConnectionConfig, catalog: Catalog, options: InitOptions): Promise<InitResult> {
  const { out } = options;
  const result: InitResult = { created: [], registered: [], problems: 0, warnings: 0 };
  const admin = kafka.admin();
  await admin.connect();
  try {
    const states = await inspectTopics(admin, catalog.topics.map((t) => t.topic));
    const { brokers } = await admin.describeCluster();
    const verdicts = catalog.topics.map((entry) => judgeTopic(entry, states.get(entry.topic), options.rawRetentionMs, brokers.length));
    const width = Math.max(...catalog.topics.map((t) => t.topic.length));
    const missing = verdicts.filter((v) => !v.state);
    result.problems = verdicts.reduce((n, v) => n + v.problems.length, 0);
    result.warnings = verdicts.reduce((n, v) => n + v.warnings.length + v.weak.length, 0);
    const weak = verdicts.reduce((n, v) => n + v.weak.length, 0);

    const printTopics = (created: ReadonlySet<string>) => {
      out(`topics${catalog.prefix ? ` (prefix '${catalog.prefix}')` : ''}:`);
      for (const v of verdicts) {
        const status = !v.state
          ? created.has(v.entry.topic)
            ? 'created'
            : 'missing'
          : v.problems.length > 0
            ? 'PROBLEM'
            : v.weak.length > 0
              ? 'WEAK'
              : v.warnings.length > 0
                ? 'warning'
                : 'ok';
        out(`  ${status.padEnd(8)} ${v.entry.topic.padEnd(width)}  ${describeEntry(v.entry)}${v.entry.role === 'raw' ? `, retention.ms=${v.state?.retentionMs ?? options.rawRetentionMs}` : ''}`);
        for (const p of v.problems) out(`           ${' '.repeat(width)}  ✗ ${p}`);
        for (const w of [...v.weak, ...v.warnings]) out(`           ${' '.repeat(width)}  ! ${w}`);
      }
    };
    if (result.problems > 0) {
      printTopics(new Set());
      out(`${result.problems} problem${result.problems === 1 ? '' : 's'} with existing topics: nothing was created or registered. Fix them (kafka-topics, kafka-configs) and run again.`);
      return result;
    }

    // Schemas: ask before registering, so a second run can say it changed nothing.
    const api = new RegistryApi(connection);
    const toRegister: Array<{ subject: string; schema: Record<string, unknown> }> = [];
    const subjectLines: string[] = [];
    const subjectWidth = Math.max(...catalog.subjects.map((s) => s.subject.length), 0);
    for (const { subject, schema } of catalog.subjects) {
      const id = await api.lookup(subject, JSON.stringify(schema));
      if (id !== undefined) subjectLines.push(`  ${'ok'.padEnd(8)} ${subject.padEnd(subjectWidth)}  id ${id}`);
      else toRegister.push({ subject, schema });
    }

    if (options.check) {
      printTopics(new Set());
      out('schemas:');
      for (const line of subjectLines) out(line);
      for (const { subject } of toRegister) out(`  ${'missing'.padEnd(8)} ${subject}`);
      const failures = missing.length + toRegister.length + weak;
      result.problems += failures;
      out(
        failures === 0
          ? `check: every topic and schema is in place, as durable as ${brokers.length} broker${brokers.length === 1 ? '' : 's'} allow`
          : `check failed: ${missing.length} topic${missing.length === 1 ? '' : 's'} missing, ${weak} durability finding${weak === 1 ? '' : 's'}, ${toRegister.length} schema${toRegister.length === 1 ? '' : 's'} missing`,
      );
      return result;
    }

    if (options.dryRun) {
      printTopics(new Set());
      out('schemas:');
      for (const line of subjectLines) out(line);
      for (const { subject } of toRegister) out(`  ${'missing'.padEnd(8)} ${subject}`);
      out(
        missing.length + toRegister.length === 0
          ? 'dry run: nothing to do, every topic and schema is in place'
          : `dry run: would create ${missing.length} topic${missing.length === 1 ? '' : 's'} and register ${toRegister.length} schema${toRegister.length === 1 ? '' : 's'}`,
      );
      return result;
    }

    // Topics: every missing one with the topic contract's settings (lib/topics.ts), the raw topic
    // with the retention asked for, exactly as the producer and the processors would create them.
    const specs = topicSpecs(catalog, missing.map((v) => v.entry), options.rawRetentionMs);
    if (specs.length > 0) result.created.push(...(await ensureTopics(admin, specs)));
    printTopics(new Set(result.created));

    out('schemas:');
    for (const line of subjectLines) out(line);
    if (toRegister.length > 0) {
      const registry = createRegistry(connection);
      for (const { subject, schema } of toRegister) {
        try {
          const id = await registerSchema(registry, subject, schema);
          result.registered.push(subject);
          out(`  ${'created'.padEnd(8)} ${subject.padEnd(subjectWidth)}  id ${id}`);
        } catch (error) {
          result.problems++;
          out(`  ${'PROBLEM'.padEnd(8)} ${subject.padEnd(subjectWidth)}  ✗ ${(error as Error).message}`);
        }
      }
    }

    const changed = result.created.length + result.registered.length;
    if (changed === 0 && result.problems === 0) out(`nothing to do: all ${catalog.topics.length} topics and ${catalog.subjects.length} schemas were already in place`);
    else out(`created ${result.created.length} topic${result.created.length === 1 ? '' : 's'}, registered ${result.registered.length} schema${result.registered.length === 1 ? '' : 's'}`);
    return result;
  } finally {
    await admin.disconnect();
  }
}

export function registerTopicsCommand(program: Command): void {
  const topics = program.command('topics').description('kubetrail\'s Kafka topics');
  const init = topics
    .command('init')
    .description(
      'create every topic (raw, producer state, and each processor\'s outputs, changelog and dead-letter topic) and register every value schema; ' +
        'idempotent: existing topics are checked, never altered (a wrong partition count or cleanup policy fails with exit 1)',
    )
    .addOption(
      new Option('--raw-retention-ms <ms>', 'retention.ms of the raw topic when it is created (-1: forever, so replay can reprocess everything)')
        .env(topicSettingsEnv.rawRetentionMs)
        .default(defaultRawRetentionMs, String(defaultRawRetentionMs)),
    )
    .option('--dry-run', 'only say what would be created or registered')
    .option('--check', 'change nothing; exit 1 when a topic or schema is missing, breaks its contract, or is weaker than the cluster allows (replicas, min.insync.replicas)');
  catalogOptions(connectionOptions(init)).action(async (options: Record<string, unknown>, command: Command) => {
    const connection = await loadConnection(command);
    const catalog = await loadCatalog(command);
    // The same setting the producer reads (flag, KUBETRAIL_RAW_RETENTION_MS, config file).
    const { rawRetentionMs } = resolveTopicSettings({
      flags: settingFlags(command, topicsInitEnv),
      file: configFile(options as { config?: string }),
    });
    const logger = commandLogger('topics-init');
    const kafka = createKafka(connection, logger, `${connection.kafkaClientId}-topics-init`);
    const result = await initTopics(kafka, connection, catalog, { dryRun: options.dryRun === true, check: options.check === true, rawRetentionMs, out: (line) => process.stdout.write(`${line}\n`) });
    if (result.problems > 0) process.exitCode = 1;
  });
}
