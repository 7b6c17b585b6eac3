// docker-compose.yml against the code: every variable set on a kubetrail service is one the code
// reads, the commands are real CLI commands, the images and healthchecks fit. Static: no Docker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cliCommandNames,
  isServiceCommand,
  parseYamlFile,
  processorEnvNames,
  processorHttp,
  processorNames,
  producerEnvNames,
  producerHttp,
  envNamesOf,
  topicNamingEnv,
} from '../support/deploy.js';

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: Array<string | { source?: string; target?: string; read_only?: boolean }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  ports?: Array<string | number>;
  restart?: string;
}

const compose = parseYamlFile('docker-compose.yml') as { services: Record<string, ComposeService> };
const services = compose.services;

function environment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((line) => [line.split('=')[0] as string, line.slice(line.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function commandOf(service: ComposeService): string[] {
  const command = service.command ?? [];
  return Array.isArray(command) ? command.map(String) : command.split(/\s+/).filter(Boolean);
}

const isKubetrail = (service: ComposeService) => service.build !== undefined;
const kubetrailServices = Object.entries(services).filter(([, s]) => isKubetrail(s));
const byCommand = (args: string[]) => kubetrailServices.filter(([, s]) => commandOf(s).join(' ') === args.join(' ')).map(([name]) => name);

/** The port a service's HTTP server listens on: its env setting, else the code's default. */
function httpPortOf(service: ComposeService, http: { port: number; env: string }): number {
  const value = environment(service)[http.env];
  return value === undefined || value === '' ? http.port : Number(value);
}

function healthcheckText(service: ComposeService): string {
  const check = service.healthcheck?.test;
  assert.ok(check !== undefined && service.healthcheck?.disable !== true, 'a healthcheck');
  return Array.isArray(check) ? check.join(' ') : check;
}

test('compose runs every service: init, producer, and one service per processor folder', () => {
  assert.equal(byCommand(['topics', 'init']).length, 1, 'one `topics init` service');
  assert.equal(byCommand(['produce']).length, 1, 'one `produce` service');
  for (const name of processorNames) assert.equal(byCommand(['process', name]).length, 1, `one \`process ${name}\` service`);
  assert.deepEqual(
    kubetrailServices.length,
    2 + processorNames.length,
    `no other kubetrail services: ${kubetrailServices.map(([n]) => n).join(', ')}`,
  );
});

test('every kubetrail service is built from the Dockerfile, keeps its entrypoint and runs a real CLI command', () => {
  const images = new Set<string>();
  for (const [name, service] of kubetrailServices) {
    const build = typeof service.build === 'string' ? { context: service.build } : service.build ?? {};
    assert.equal(build.context, '.', `${name}: built from the repository root`);
    assert.ok(build.dockerfile === undefined || build.dockerfile === 'Dockerfile', `${name}: from ./Dockerfile`);
    if (service.image) images.add(service.image);
    assert.equal(service.entrypoint, undefined, `${name}: the image's entrypoint (the kubetrail bin) is kept`);
    const args = commandOf(service);
    assert.ok(isServiceCommand(args), `${name}: \`${args.join(' ')}\` is produce, process <processor folder> or topics init`);
  }
  assert.ok(images.size <= 1, `one image tag for every kubetrail service, got ${[...images].join(', ')}`);
});

test('`produce` and `process <name>` are registered by the CLI (cli/*.ts)', () => {
  const registered = cliCommandNames();
  for (const command of ['produce', 'process']) {
    assert.ok(registered.has(command), `cli/ registers \`${command}\` (found: ${[...registered].sort().join(', ')})`);
  }
});

test('`topics init` is registered by the CLI (cli/*.ts)', () => {
  const registered = cliCommandNames();
  assert.ok(registered.has('topics') && registered.has('init'), `cli/ registers \`topics init\` (found: ${[...registered].sort().join(', ')})`);
});

test('every variable set on a kubetrail service is one the code reads', async () => {
  for (const [name, service] of kubetrailServices) {
    const args = commandOf(service);
    const known = await envNamesOf(args);
    for (const variable of Object.keys(environment(service))) {
      assert.ok(known.has(variable), `${name}: ${variable} is not read by \`kubetrail ${args.join(' ')}\``);
    }
    const env = environment(service);
    assert.match(env.KAFKA_BROKERS ?? '', /^kafka:\d+$/, `${name}: KAFKA_BROKERS on the compose network`);
    assert.match(env.SCHEMA_REGISTRY_URL ?? '', /^http:\/\/schema-registry:8081$/, `${name}: SCHEMA_REGISTRY_URL on the compose network`);
  }
});

test('processor options set in compose are the processors\' own', async () => {
  for (const name of processorNames) {
    const [service] = byCommand(['process', name]);
    const options = Object.keys(environment(services[service as string] as ComposeService)).filter((v) => v.startsWith('KUBETRAIL_') && v !== processorHttp.env);
    const known = await processorEnvNames(name);
    for (const option of options) assert.ok(known.has(option), `${option} is an option of ${name}`);
  }
});

test('`topics init` sees every topic-naming setting the services use (raw topic, partitions, processor options)', async () => {
  const [initName] = byCommand(['topics', 'init']);
  const initEnv = environment(services[initName as string] as ComposeService);
  const naming = await topicNamingEnv();
  for (const [name, service] of kubetrailServices.filter(([n]) => n !== initName)) {
    for (const [variable, value] of Object.entries(environment(service))) {
      if (naming.has(variable)) assert.equal(initEnv[variable], value, `${variable} of ${name} is given to ${initName} too`);
    }
  }
});

test('the producer gets the mounted kubeconfig, read-only, and KUBECONFIG pointing at it', () => {
  const [name] = byCommand(['produce']);
  const producer = services[name as string] as ComposeService;
  assert.equal(environment(producer).KUBECONFIG, '/kube/config');
  const mounts = (producer.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`));
  assert.ok(mounts.includes('${KUBECONFIG:-~/.kube/config}:/kube/config:ro'), `kubeconfig mount, got ${mounts.join(', ')}`);
  for (const [other, service] of kubetrailServices.filter(([n]) => n !== name)) {
    assert.equal(environment(service).KUBECONFIG, undefined, `${other} does not talk to Kubernetes`);
  }
});

test('Kafka is 4.x in KRaft mode (broker + controller, no ZooKeeper) with listeners for the host and the network', () => {
  const kafka = services.kafka as ComposeService;
  assert.match(kafka.image ?? '', /^apache\/kafka:4\.\d+\.\d+$/);
  const env = environment(kafka);
  assert.equal(env.KAFKA_PROCESS_ROLES, 'broker,controller');
  assert.ok(env.KAFKA_CONTROLLER_QUORUM_VOTERS, 'a controller quorum');
  assert.ok(!Object.keys(env).some((k) => /ZOOKEEPER/.test(k)), 'no ZooKeeper settings');
  const advertised = (env.KAFKA_ADVERTISED_LISTENERS ?? '').split(',');
  assert.ok(advertised.some((l) => /\/\/(localhost|127\.0\.0\.1):9092$/.test(l)), 'a listener advertised to the host');
  const internal = advertised.find((l) => l.includes('//kafka:'));
  assert.ok(internal, 'a listener advertised on the compose network');
  assert.ok((kafka.ports ?? []).map(String).some((p) => p.endsWith(':9092')), 'the host listener published');
  // What the services and the registry use is the network listener.
  const networkPort = internal.split(':').at(-1);
  for (const [name, service] of kubetrailServices) assert.equal(environment(service).KAFKA_BROKERS, `kafka:${networkPort}`, name);
  assert.match(environment(services['schema-registry'] as ComposeService).SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS ?? '', new RegExp(`kafka:${networkPort}$`));
  // Transactions (producer and processors) on one broker need these at 1.
  assert.equal(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR, '1');
  assert.equal(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR, '1');
  assert.equal(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, '1');
});

test('the Schema Registry is Confluent\'s', () => {
  assert.match((services['schema-registry'] as ComposeService).image ?? '', /^confluentinc\/cp-schema-registry:\d+\.\d+\.\d+$/);
});

test('every service has a healthcheck; kubetrail services check /healthz on the port they listen on', () => {
  for (const [name, service] of Object.entries(services)) {
    if (commandOf(service).join(' ') === 'topics init') continue; // one-shot
    const text = healthcheckText(service);
    if (!isKubetrail(service)) continue;
    const args = commandOf(service);
    const port = httpPortOf(service, args[0] === 'produce' ? producerHttp : processorHttp);
    assert.match(text, new RegExp(`https?://(127\\.0\\.0\\.1|localhost):${port}/healthz\\b`), `${name}: /healthz on port ${port}`);
    // node:20-slim has neither curl nor wget: the check must use node.
    assert.ok(!/\b(curl|wget)\b/.test(text), `${name}: the runtime image has no curl/wget`);
  }
});

test('start order: init after healthy Kafka and registry; services after init completed', () => {
  const [initName] = byCommand(['topics', 'init']);
  const init = services[initName as string] as ComposeService;
  const conditions = (service: ComposeService) => (Array.isArray(service.depends_on) ? {} : service.depends_on ?? {});
  assert.equal(conditions(init).kafka?.condition, 'service_healthy');
  assert.equal(conditions(init)['schema-registry']?.condition, 'service_healthy');
  assert.notEqual(init.restart, 'always');
  assert.notEqual(init.restart, 'unless-stopped');
  for (const [name, service] of kubetrailServices.filter(([n]) => n !== initName)) {
    assert.equal(conditions(service)[initName as string]?.condition, 'service_completed_successfully', name);
  }
});

test('no secret values in the compose file', () => {
  for (const [name, service] of Object.entries(services)) {
    for (const [variable, value] of Object.entries(environment(service))) {
      if (/PASSWORD|SECRET|TOKEN/.test(variable)) assert.match(value, /^\$\{[A-Z_]+(:?-)?\}$/, `${name}: ${variable} comes from the host environment`);
    }
  }
});
