// Connection flags shared by every command, resolved with lib/config.ts. When nothing names
// the services, the embedded local stack's settings (.kubetrail/stack/connection.env) are used,
// so `npm run stack -- up` followed by any command just works.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectionEnv, connectionSchema, readConfigFile, resolveConfig, type ConnectionConfig } from '../lib/config.js';
import { LocalStack } from '../stack/stack.js';

export function connectionOptions(command: Command): Command {
  return command
    .option('--config <file>', 'YAML or JSON file of settings (env KUBETRAIL_CONFIG)')
    .option('--kafka-brokers <list>', 'Kafka bootstrap servers, host:port[,host:port] (env KAFKA_BROKERS)')
    .option('--schema-registry-url <url>', 'Confluent-compatible Schema Registry URL (env SCHEMA_REGISTRY_URL)');
}

/** The local stack's settings, if one was started from this checkout. */
export function localStackSettings(): Record<string, string> {
  const file = join(new LocalStack().stackDir, 'connection.env');
  if (!existsSync(file)) return {};
  const settings: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) settings[line.slice(0, at)] = line.slice(at + 1);
  }
  return settings;
}

export function configFile(options: { config?: string }): Record<string, unknown> {
  return readConfigFile(options.config ?? process.env.KUBETRAIL_CONFIG);
}

export function loadConnection(options: Record<string, unknown>): ConnectionConfig {
  const stack = localStackSettings();
  const file = configFile(options as { config?: string });
  const fallback: Record<string, unknown> = {};
  if (stack.KAFKA_BROKERS) fallback.kafkaBrokers = stack.KAFKA_BROKERS;
  if (stack.SCHEMA_REGISTRY_URL) fallback.schemaRegistryUrl = stack.SCHEMA_REGISTRY_URL;
  return resolveConfig(connectionSchema, connectionEnv, { flags: options, file: { ...fallback, ...file } });
}

/** KUBECONFIG for commands that talk to Kubernetes: flag/env, else the local stack's. */
export function kubeconfigPath(options: { kubeconfig?: string }): string | undefined {
  return options.kubeconfig ?? process.env.KUBECONFIG ?? localStackSettings().KUBECONFIG;
}
