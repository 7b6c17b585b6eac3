// KUBETRAIL_STACK=docker: the same three services as containers, for machines with a Docker
// engine (none exists where CI runs; the embedded stack is the default). Kafka 4 (KRaft),
// Confluent Schema Registry, and k3s with the project's Workflow CRD applied.
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, Network, Wait } from 'testcontainers';
import { K3sContainer } from '@testcontainers/k3s';
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../stack/processes.js';

export const dockerImages = {
  kafka: 'apache/kafka:4.1.0',
  schemaRegistry: 'confluentinc/cp-schema-registry:8.0.0',
  k3s: 'rancher/k3s:v1.33.1-k3s1',
} as const;

export async function startDockerStack(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const network = await new Network().start();
  const kafkaPort = await freePort(); // fixed host port: Kafka must advertise the address clients use
  const kafka = await new GenericContainer(dockerImages.kafka)
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withExposedPorts({ container: kafkaPort, host: kafkaPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `HOST://0.0.0.0:${kafkaPort},INTERNAL://0.0.0.0:19092,CONTROLLER://0.0.0.0:9093`,
      KAFKA_ADVERTISED_LISTENERS: `HOST://127.0.0.1:${kafkaPort},INTERNAL://kafka:19092`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'HOST:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const registry = await new GenericContainer(dockerImages.schemaRegistry)
    .withNetwork(network)
    .withExposedPorts(8081)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:19092',
    })
    .withWaitStrategy(Wait.forHttp('/subjects', 8081))
    .start();
  const k3s = await new K3sContainer(dockerImages.k3s).start();

  const dir = mkdtempSync(join(tmpdir(), 'kubetrail-docker-'));
  const kubeconfigFile = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, k3s.getKubeConfig());
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigFile);
  const crd = parseYaml(readFileSync(new URL('../../stack/crds/argoproj.io_workflows.yaml', import.meta.url), 'utf8')) as KubernetesObject;
  await KubernetesObjectApi.makeApiClient(kc).create(crd);

  return {
    env: {
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      SCHEMA_REGISTRY_URL: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
      KUBECONFIG: kubeconfigFile,
    },
    stop: async () => {
      await Promise.allSettled([k3s.stop(), registry.stop(), kafka.stop()]);
      await network.stop();
    },
  };
}
