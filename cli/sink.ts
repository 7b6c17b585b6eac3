// `kubetrail sink <name>`: one sink service (a folder under sinks/), run by lib/sink/runner.ts
// until SIGTERM or SIGINT. Runner settings come from flags, environment or a file; the sink's own
// options (a webhook URL, say) from KUBETRAIL_<SINK>_<OPTION> only (see its README).
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError, connectionEnv, connectionSchema } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { ProcessorNotFoundError } from '../lib/kit/discovery.js';
import { listSinks, loadSink } from '../lib/sink/discovery.js';
import { defaultRetryPolicy, runSink } from '../lib/sink/runner.js';
import { preflight } from '../lib/secure-connection.js';
import { configOption, loadServiceSettings } from './connection.js';
import { addSettingFlags } from './options.js';
import { untilSignal } from './signals.js';

export const sinkServiceSchema = connectionSchema.extend({
  groupId: z.string().min(1).optional(),
  inputTopic: z.string().min(1).optional(),
  deadLetterTopic: z.string().min(1).optional(),
  startFrom: z.enum(['beginning', 'end']).default('beginning'),
  /** /healthz, /readyz and /metrics; -1 disables. */
  httpPort: z.coerce.number().int().min(-1).max(65_535).default(8080),
  /** Deliveries in flight across keys (one key is always one at a time). */
  concurrency: z.coerce.number().int().min(1).max(1000).default(8),
  /** Attempts per second; 0: no limit. */
  ratePerSecond: z.coerce.number().min(0).default(0),
  /** A record still failing this long after its first attempt is dead-lettered. */
  retryTimeoutMs: z.coerce.number().int().min(0).default(defaultRetryPolicy.retryTimeoutMs),
  /** How long a stop waits for the deliveries in flight. */
  drainTimeoutMs: z.coerce.number().int().min(0).default(10_000),
});

export const sinkServiceEnv: Record<keyof z.input<typeof sinkServiceSchema>, string> = {
  ...connectionEnv,
  groupId: 'KUBETRAIL_GROUP_ID',
  inputTopic: 'KUBETRAIL_INPUT_TOPIC',
  deadLetterTopic: 'KUBETRAIL_DEAD_LETTER_TOPIC',
  startFrom: 'KUBETRAIL_START_FROM',
  httpPort: 'KUBETRAIL_HTTP_PORT',
  concurrency: 'KUBETRAIL_SINK_CONCURRENCY',
  ratePerSecond: 'KUBETRAIL_SINK_RATE_PER_SECOND',
  retryTimeoutMs: 'KUBETRAIL_SINK_RETRY_TIMEOUT_MS',
  drainTimeoutMs: 'KUBETRAIL_SINK_DRAIN_TIMEOUT_MS',
};

export function registerSinkCommand(program: Command): void {
  const command = program
    .command('sink <name>')
    .description(`run one sink service: ${listSinks().join(', ') || '(none found)'}`)
    .addOption(configOption());
  addSettingFlags(command, sinkServiceEnv, sinkServiceSchema).action(async (name: string, _options: Record<string, unknown>, self: Command) => {
    const config = loadServiceSettings(self, sinkServiceSchema, sinkServiceEnv);
    await preflight(config);
    const definition = await loadSink(name).catch((error: unknown) => {
      throw error instanceof ProcessorNotFoundError ? new ConfigError(error.message) : error;
    });
    const logger = createLogger(`sink-${definition.name}`);
    const handle = await runSink(definition, {
      connection: config,
      logger,
      groupId: config.groupId,
      inputTopic: config.inputTopic,
      deadLetterTopic: config.deadLetterTopic,
      fromBeginning: config.startFrom === 'beginning',
      httpPort: config.httpPort < 0 ? undefined : config.httpPort,
      concurrency: config.concurrency,
      ratePerSecond: config.ratePerSecond,
      retry: { retryTimeoutMs: config.retryTimeoutMs },
      drainTimeoutMs: config.drainTimeoutMs,
    });
    const stopped = untilSignal(logger, () => handle.stop());
    await Promise.race([stopped, handle.done]);
  });
}
