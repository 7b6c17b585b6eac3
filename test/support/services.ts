// Connection settings of the real services the integration tests talk to (set by test/run.ts).
import type { ConnectionConfig } from '../../lib/config.js';
import { connectionSchema } from '../../lib/config.js';

export function testConnection(): ConnectionConfig {
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL } = process.env;
  if (!KAFKA_BROKERS || !SCHEMA_REGISTRY_URL || !process.env.KUBECONFIG) {
    throw new Error('integration tests need KAFKA_BROKERS, SCHEMA_REGISTRY_URL and KUBECONFIG: run them with `npm test`, which starts the local stack');
  }
  return connectionSchema.parse({ kafkaBrokers: KAFKA_BROKERS, schemaRegistryUrl: SCHEMA_REGISTRY_URL, kafkaClientId: 'kubetrail-test' });
}

/** A name unique to this test run, for topics, groups and objects that must not collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
