// Every kafkajs client in kubetrail is made here, services, CLI, tests and benchmarks alike, so
// the kafkajs patches (the read_committed fix and the quick CONCURRENT_TRANSACTIONS retry) are
// installed in exactly one place, before the first client exists. kafkajs is pinned exactly
// (package.json) because the patches reach into its internals.
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { ConnectionConfig } from '../config.js';
import { kafkaLogCreator, type Logger } from '../log.js';
import { installReadCommittedFix } from './read-committed-fix.js';
import { installConcurrentTransactionsRetry } from './concurrent-transactions.js';

/** A kafkajs client with kubetrail's patches installed. */
export function kafkaClient(config: KafkaConfig): Kafka {
  installReadCommittedFix();
  installConcurrentTransactionsRetry();
  return new Kafka(config);
}

/** The client of a kubetrail service or command, from the validated connection settings. */
export function createKafka(config: ConnectionConfig, logger: Logger, clientId = config.kafkaClientId): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId,
    brokers: config.kafkaBrokers,
    ssl: config.kafkaSsl,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    // Retry long enough to ride out a broker restart instead of failing the service.
    retry: { initialRetryTime: 300, retries: 12, maxRetryTime: 10_000 },
    connectionTimeout: 5_000,
  };
  if (config.kafkaSaslMechanism) {
    kafkaConfig.sasl = {
      mechanism: config.kafkaSaslMechanism,
      username: config.kafkaSaslUsername ?? '',
      password: config.kafkaSaslPassword ?? '',
    } as SASLOptions;
  }
  return kafkaClient(kafkaConfig);
}

export function createRegistry(config: ConnectionConfig): SchemaRegistry {
  const auth =
    config.schemaRegistryUsername !== undefined
      ? { username: config.schemaRegistryUsername, password: config.schemaRegistryPassword ?? '' }
      : undefined;
  return new SchemaRegistry({ host: config.schemaRegistryUrl, auth, retry: { retries: 8, initialRetryTimeInSecs: 0.3, maxRetryTimeInSecs: 10 } });
}
