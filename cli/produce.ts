// `kubetrail produce`: the producer service (watch → raw topic), until SIGTERM or SIGINT.
import type { Command } from 'commander';
import { loadProducerConfig, producerEnv, producerSchema } from '../producer/config.js';
import { startProducer } from '../producer/service.js';
import { createLogger } from '../lib/log.js';
import { preflight } from '../lib/secure-connection.js';
import { configFile, configOption, localStackSettings } from './connection.js';
import { addSettingFlags, settingFlags } from './options.js';
import { untilSignal } from './signals.js';

export function registerProduceCommand(program: Command): void {
  const command = program
    .command('produce')
    .description('watch Kubernetes resources and publish every change to the raw topic (flags, env or --config file; see docs/configuration.md)')
    .addOption(configOption());
  addSettingFlags(command, producerEnv, producerSchema).action(async (options: Record<string, unknown>, self: Command) => {
    const stack = localStackSettings();
    const fallback: Record<string, unknown> = {};
    if (stack.KAFKA_BROKERS) fallback.kafkaBrokers = stack.KAFKA_BROKERS;
    if (stack.SCHEMA_REGISTRY_URL) fallback.schemaRegistryUrl = stack.SCHEMA_REGISTRY_URL;
    if (stack.KUBECONFIG) fallback.kubeconfig = stack.KUBECONFIG;
    const config = loadProducerConfig({
      flags: settingFlags(self, producerEnv),
      file: { ...fallback, ...configFile(options as { config?: string }) },
    });
    await preflight(config);
    const logger = createLogger('producer');
    const handle = await startProducer(config, logger);
    await untilSignal(logger, () => handle.stop());
  });
}
