// Connection settings of the real services the integration tests talk to (set by test/run.ts).
import type { ConnectionConfig } from '../../lib/config.js';
import { connectionSchema } from '../../lib/config.js';
import { loadProducerConfig, type ProducerConfig } from '../../producer/config.js';

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

/**
 * A producer's configuration for a test: the stack's connection, a stream and raw and state topics
 * of its own (named `<prefix>-…`), no HTTP port, cluster `test`; `flags` add to or override these.
 */
export function testProducerConfig(namespaces: string, { prefix = 'p', kubeconfig = process.env.KUBECONFIG, flags = {} }: { prefix?: string; kubeconfig?: string; flags?: Record<string, unknown> } = {}): ProducerConfig {
  const connection = testConnection();
  const id = uniqueName(prefix);
  return loadProducerConfig({
    env: { KAFKA_BROKERS: connection.kafkaBrokers.join(','), SCHEMA_REGISTRY_URL: connection.schemaRegistryUrl, KUBECONFIG: kubeconfig },
    flags: { namespaces, topic: `${id}.raw`, stateTopic: `${id}.state`, stream: id, instanceId: `${id}-a`, httpPort: -1, cluster: 'test', ...flags },
  });
}
