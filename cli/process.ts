// `kubetrail process <name>`: one processor service (a folder under processors/), run by the
// kit's runner until SIGTERM or SIGINT. Runner settings come from flags, environment or a file;
// the processor's own options from KUBETRAIL_<PROCESSOR>_<OPTION> (see its README).
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError, connectionEnv, connectionSchema } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { listProcessors, loadProcessor, ProcessorNotFoundError } from '../lib/kit/discovery.js';
import { DEFAULT_MAX_BYTES_PER_FETCH, DEFAULT_MAX_BYTES_PER_PARTITION, MAX_FETCH_BYTES, MIN_FETCH_BYTES, runProcessor } from '../lib/kit/runner.js';
import { preflight } from '../lib/secure-connection.js';
import { configOption, loadServiceSettings } from './connection.js';
import { addSettingFlags } from './options.js';
import { untilSignal } from './signals.js';

const outputTopics = z
  .union([z.string(), z.record(z.string(), z.string())])
  .transform((value, ctx) => {
    if (typeof value !== 'string') return value;
    const map: Record<string, string> = {};
    for (const pair of value.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [name, topic] = pair.split('=');
      if (!name || !topic) ctx.addIssue({ code: 'custom', message: `'${pair}' is not output=topic` });
      else map[name] = topic;
    }
    return map;
  });

export const processorServiceSchema = connectionSchema.extend({
  delivery: z.enum(['exactly-once', 'at-least-once']).default('exactly-once'),
  groupId: z.string().min(1).optional(),
  inputTopic: z.string().min(1).optional(),
  /** output=topic pairs, comma-separated (or a mapping in a config file). */
  outputTopics: outputTopics.default({}),
  deadLetterTopic: z.string().min(1).optional(),
  changelogTopic: z.string().min(1).optional(),
  /** Where a new consumer group starts: the beginning of the raw topic, or only new records. */
  startFrom: z.enum(['beginning', 'end']).default('beginning'),
  /** /healthz, /readyz and /metrics; -1 disables. */
  httpPort: z.coerce.number().int().min(-1).max(65_535).default(8080),
  maxBatchRecords: z.coerce.number().int().min(1).default(500),
  /** Bytes fetched per input partition per request; a transaction holds at most one fetch (BENCHMARKS.md F2). */
  maxBytesPerPartition: z.coerce.number().int().min(MIN_FETCH_BYTES).max(MAX_FETCH_BYTES).default(DEFAULT_MAX_BYTES_PER_PARTITION),
  /** Bytes a fetch request (one per broker) returns over its input partitions: bounds the records in hand (BENCHMARKS.md F2). */
  maxBytesPerFetch: z.coerce.number().int().min(MIN_FETCH_BYTES).max(MAX_FETCH_BYTES).default(DEFAULT_MAX_BYTES_PER_FETCH),
});

export const processorServiceEnv: Record<keyof z.input<typeof processorServiceSchema>, string> = {
  ...connectionEnv,
  delivery: 'KUBETRAIL_DELIVERY',
  groupId: 'KUBETRAIL_GROUP_ID',
  inputTopic: 'KUBETRAIL_INPUT_TOPIC',
  outputTopics: 'KUBETRAIL_OUTPUT_TOPICS',
  deadLetterTopic: 'KUBETRAIL_DEAD_LETTER_TOPIC',
  changelogTopic: 'KUBETRAIL_CHANGELOG_TOPIC',
  startFrom: 'KUBETRAIL_START_FROM',
  httpPort: 'KUBETRAIL_HTTP_PORT',
  maxBatchRecords: 'KUBETRAIL_MAX_BATCH_RECORDS',
  maxBytesPerPartition: 'KUBETRAIL_MAX_BYTES_PER_PARTITION',
  maxBytesPerFetch: 'KUBETRAIL_MAX_BYTES_PER_FETCH',
};

export function loadProcessorServiceConfig(command: Command) {
  return loadServiceSettings(command, processorServiceSchema, processorServiceEnv);
}

export function registerProcessCommand(program: Command): void {
  const command = program
    .command('process <name>')
    .description(`run one processor service: ${listProcessors().join(', ') || '(none found)'}`)
    .addOption(configOption());
  addSettingFlags(command, processorServiceEnv, processorServiceSchema).action(async (name: string, _options: Record<string, unknown>, self: Command) => {
    const config = loadProcessorServiceConfig(self);
    await preflight(config);
    // An unknown processor name is a usage error (exit 2), like any other bad setting.
    const definition = await loadProcessor(name).catch((error: unknown) => {
      throw error instanceof ProcessorNotFoundError ? new ConfigError(error.message) : error;
    });
    const logger = createLogger(definition.name);
    const handle = await runProcessor(definition, {
      connection: config,
      logger,
      mode: config.delivery,
      groupId: config.groupId,
      fromBeginning: config.startFrom === 'beginning',
      httpPort: config.httpPort < 0 ? undefined : config.httpPort,
      maxBatchRecords: config.maxBatchRecords,
      maxBytesPerPartition: config.maxBytesPerPartition,
      maxBytesPerFetch: config.maxBytesPerFetch,
      handleSignals: false,
      topics: {
        input: config.inputTopic,
        outputs: config.outputTopics,
        deadLetter: config.deadLetterTopic,
        changelog: config.changelogTopic,
      },
    });
    const stopped = untilSignal(logger, () => handle.stop());
    // A runner that fails for good (not a bad record: those go to the dead-letter topic) ends the process.
    await Promise.race([stopped, handle.done]);
  });
}
