// Connection flags shared by every command, resolved with lib/config.ts. When nothing names
// the services, the embedded local stack's settings (.kubetrail/stack/connection.env) are used,
// so `npm run stack -- up` followed by any command just works.
import { Option, type Command } from 'commander';
import { connectionEnv, connectionSchema, readConfigFile, resolveConfig, type ConnectionConfig } from '../lib/config.js';
import { connectionProblems, preflight } from '../lib/secure-connection.js';
import { readStackConnection } from '../lib/stack-connection.js';
import type { z } from 'zod';
import { addSettingFlags, cliValues, settingFlags } from './options.js';
import { createKafka } from '../lib/kafka/client.js';
import { createLogger } from '../lib/log.js';
import { RegistryApi } from '../lib/registry-api.js';

/** --config and a flag for every connection setting (TLS, SASL and registry credentials included). */
export function connectionOptions(command: Command): Command {
  command
    .addOption(configOption())
    .addOption(new Option('--kafka-brokers <list>', 'Kafka bootstrap servers, host:port[,host:port] (default: the local stack\'s)').env('KAFKA_BROKERS'))
    .addOption(new Option('--schema-registry-url <url>', 'Confluent-compatible Schema Registry URL (default: the local stack\'s)').env('SCHEMA_REGISTRY_URL'));
  return addSettingFlags(command, connectionEnv, connectionSchema, new Set(['kafkaBrokers', 'schemaRegistryUrl']));
}

/** --config: a YAML or JSON file of settings. */
export function configOption(): Option {
  return new Option('--config <file>', 'YAML or JSON file of settings').env('KUBETRAIL_CONFIG');
}

/** The local stack's settings, if one was started from this checkout (read from its file: stack/ is not loaded). */
export function localStackSettings(): Record<string, string> {
  return readStackConnection();
}

/**
 * The embedded local stack's module, loaded only by the commands that run it (`stack`, `demo`):
 * stack/ is a development tool, absent from the image, and no other command needs it.
 */
export async function loadLocalStack(): Promise<typeof import('../stack/stack.js')> {
  try {
    return await import('../stack/stack.js');
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /[\\/]stack[\\/]stack\.[jt]s/.test((error as Error).message)) {
      throw new Error('the embedded local stack is not part of this installation (it is a development tool: run it from a kubetrail checkout)');
    }
    throw error;
  }
}

export function configFile(options: { config?: string }): Record<string, unknown> {
  return readConfigFile(options.config ?? process.env.KUBETRAIL_CONFIG);
}

/**
 * The connection settings, checked: a bad value, missing credentials or TLS material, or a broker
 * or registry whose certificate this client does not trust (one TLS handshake each, see
 * lib/secure-connection.ts preflight) is a ConfigError naming the setting (exit 2).
 */
export async function loadConnection(command: Command): Promise<ConnectionConfig> {
  const connection = resolveConfig(connectionSchema, connectionEnv, { flags: cliValues(command), file: fileWithStackFallback(command) }, connectionProblems);
  await preflight(connection);
  return connection;
}

/** The config file's settings over the local stack's Kafka and registry (the lowest source). */
function fileWithStackFallback(command: Command): Record<string, unknown> {
  const stack = localStackSettings();
  const fallback: Record<string, unknown> = {};
  if (stack.KAFKA_BROKERS) fallback.kafkaBrokers = stack.KAFKA_BROKERS;
  if (stack.SCHEMA_REGISTRY_URL) fallback.schemaRegistryUrl = stack.SCHEMA_REGISTRY_URL;
  return { ...fallback, ...configFile(command.opts() as { config?: string }) };
}

/** A service's settings (its connection included): flags, environment, the config file, then the local stack; connection checks as loadConnection's. */
export function loadServiceSettings<S extends z.ZodObject>(command: Command, schema: S, env: Record<keyof z.input<S> & string, string>): z.output<S> {
  return resolveConfig(schema, env, { flags: settingFlags(command, env), file: fileWithStackFallback(command) }, connectionProblems as (config: z.output<S>) => Array<{ key: string; message: string }>);
}

/** KUBECONFIG for commands that talk to Kubernetes: flag/env, else the local stack's. */
export function kubeconfigPath(options: { kubeconfig?: string }): string | undefined {
  return options.kubeconfig ?? process.env.KUBECONFIG ?? localStackSettings().KUBECONFIG;
}

/**
 * One quick round trip to Kafka (and to the registry when `registry`), so a command run with the
 * services down says so within seconds instead of retrying for minutes: a runtime error (exit 1)
 * naming what could not be reached.
 */
export async function reachServices(connection: ConnectionConfig, { registry = true } = {}): Promise<void> {
  const logger = createLogger('probe', 'silent');
  const admin = createKafka(connection, logger, `${connection.kafkaClientId}-probe`, { retry: { retries: 1, initialRetryTime: 300 }, connectionTimeout: 3_000 }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw new ServiceUnreachable(`cannot reach Kafka at ${connection.kafkaBrokers.join(',')}: ${(error as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (registry) {
    try {
      await new RegistryApi(connection, 5_000).latest('kubetrail-reachability-probe');
    } catch (error) {
      throw new ServiceUnreachable((error as Error).message);
    }
  }
}

export class ServiceUnreachable extends Error {
  override name = 'ServiceUnreachable';
}
