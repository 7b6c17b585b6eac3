// Kafka and Schema Registry clients built from the validated connection settings.
// Every kafkajs client in kubetrail gets the read_committed fix (see lib/kit/kafkajs-fix.ts).
import './kit/kafkajs-fix.js';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { ConnectionConfig } from './config.js';
import { kafkaLogCreator, type Logger } from './log.js';

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
  return new Kafka(kafkaConfig);
}

export function createRegistry(config: ConnectionConfig): SchemaRegistry {
  const auth =
    config.schemaRegistryUsername !== undefined
      ? { username: config.schemaRegistryUsername, password: config.schemaRegistryPassword ?? '' }
      : undefined;
  return new SchemaRegistry({ host: config.schemaRegistryUrl, auth, retry: { retries: 8, initialRetryTimeInSecs: 0.3, maxRetryTimeInSecs: 10 } });
}
