// charts/kubetrail, rendered by helm (built from its Go module, test/chart-tools) for several
// value sets: every object decodes strictly into its Go type (chart-check: client-go's scheme and
// the Prometheus Operator's monitoring/v1 types), a typo in the values fails the schema, and the
// real kube-apiserver of the stack accepts every object in a server-side dry run with strict field
// validation (the Prometheus Operator's CRDs, from its Go module, applied first). Then what the
// objects must do: the services and their settings against the code, least-privilege RBAC,
// locked-down containers, labels on every object and pod template, PDBs that select their pods,
// the NetworkPolicy letting the metrics port in, the PrometheusRule being deploy/monitoring's.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { ensureNamespace } from '../../stack/argo-simulator.js';
import { ensureChartTools, helmTemplate, parseManifests, prometheusOperatorCrds, strictDecode, type Manifest } from '../support/chart.js';
import { exactObjectClient } from '../support/dry-run.js';
import { sinkServiceEnv } from '../../cli/sink.js';
import { listSinks } from '../../lib/sink/discovery.js';
import { retry } from '../../lib/async.js';
import {
  clusterRoleVerbs,
  commonEnv,
  envNamesOf,
  isServiceCommand,
  packageJson,
  parseYamlFile,
  processorEnvNames,
  processorHttp,
  processorNames,
  producerEnvNames,
  producerHttp,
  sinkOptionEnv,
  topicNamingEnv,
  topicsInitEnvNames,
  watchedResource,
} from '../support/deploy.js';
import { testConnection, uniqueName } from '../support/services.js';

testConnection();
const admin = new KubeConfig();
admin.loadFromFile(process.env.KUBECONFIG!);
const adminObjects = KubernetesObjectApi.makeApiClient(admin);
const adminCore = admin.makeApiClient(CoreV1Api);

const namespace = uniqueName('chart');
const [teamA, teamB] = [uniqueName('team-a'), uniqueName('team-b')];

/** Every switch on: TLS with mTLS and SASL to Kafka, an https registry with a CA, a client certificate and basic auth, a prefix, the sink, monitoring, watched namespaces. */
const everything = {
  kafka: {
    brokers: ['kafka-0.kafka:9093', 'kafka-1.kafka:9093'],
    clientId: 'kubetrail-prod',
    tls: { enabled: true, servername: 'kafka.example.com', ca: { secretName: 'kafka-ca', key: 'ca.crt' }, clientCert: { secretName: 'kubetrail-kafka-tls', certKey: 'tls.crt', keyKey: 'tls.key' } },
    sasl: { mechanism: 'scram-sha-512', username: 'kubetrail', password: { secretName: 'kubetrail-kafka-sasl', key: 'password' } },
  },
  schemaRegistry: {
    url: 'https://schema-registry.kafka:8443/apis/ccompat/v7',
    ca: { secretName: 'registry-ca', key: 'ca.crt' },
    clientCert: { secretName: 'kubetrail-registry-tls', certKey: 'tls.crt', keyKey: 'tls.key' },
    username: 'kubetrail',
    password: { secretName: 'kubetrail-registry', key: 'password' },
  },
  topics: { prefix: 'prod.', partitions: 6 },
  producer: { cluster: 'prod-eu-1', watchNamespaces: [teamA, teamB], extraEnv: [{ name: 'KUBETRAIL_QUEUE_MAX_EVENTS', value: '2000' }] },
  processors: {
    'completed-filter': { replicas: 3, options: { failedOnly: true }, outputs: { completed: 'kubetrail.workflows.failed' } },
    'workflow-summary': { replicas: 2, options: { labels: 'team,app' } },
  },
  sinks: {
    notify: {
      enabled: true,
      inputTopic: 'kubetrail.workflows.failed',
      options: { format: 'slack', argoUiUrl: 'https://argo.example.com/workflows/{namespace}/{name}' },
      secretFiles: { KUBETRAIL_NOTIFY_WEBHOOK_URL_FILE: { secretName: 'slack-webhook', key: 'url' } },
    },
  },
  networkPolicy: { enabled: true, metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
  monitoring: { podMonitor: { enabled: true }, prometheusRule: { enabled: true } },
};

/** Value set → the kinds of the objects it renders, counted. */
const valueSets: Array<{ name: string; values: object; kinds: Record<string, number> }> = [
  { name: 'defaults', values: {}, kinds: { ConfigMap: 1, ServiceAccount: 1, ClusterRole: 1, ClusterRoleBinding: 1, Deployment: 3, Job: 1, PodDisruptionBudget: 1, NetworkPolicy: 1 } },
  {
    name: 'everything',
    values: everything,
    kinds: { ConfigMap: 1, ServiceAccount: 1, Role: 2, RoleBinding: 2, Deployment: 4, Job: 1, PodDisruptionBudget: 3, NetworkPolicy: 1, PodMonitor: 1, PrometheusRule: 1 },
  },
  {
    name: 'one processor only',
    values: { producer: { enabled: false }, topicsInit: { enabled: false }, networkPolicy: { enabled: false }, processors: { 'workflow-summary': { enabled: false } } },
    kinds: { ConfigMap: 1, Deployment: 1 },
  },
];

const tools = { helm: '', chartCheck: '' };
const rendered = new Map<string, { text: string; objects: Manifest[] }>();

before(async () => {
  Object.assign(tools, await ensureChartTools());
  for (const set of valueSets) {
    const { code, stdout, stderr } = await helmTemplate(tools.helm, set.values, { namespace });
    assert.equal(code, 0, `${set.name}: helm template: ${stderr}`);
    rendered.set(set.name, { text: stdout, objects: parseManifests(stdout) });
  }
});

const objectsOf = (set: string) => rendered.get(set)!.objects;
const countKinds = (objects: Manifest[]) => objects.reduce<Record<string, number>>((n, o) => ({ ...n, [o.kind]: (n[o.kind] ?? 0) + 1 }), {});
const total = (kinds: Record<string, number>) => Object.values(kinds).reduce((a, b) => a + b, 0);
const isHook = (o: Manifest) => o.metadata.annotations?.['helm.sh/hook'] !== undefined;
/** The ConfigMap of settings every Deployment reads (the topics-init hook carries them in its env). */
const settingsOf = (objects: Manifest[]) => objects.find((o) => o.kind === 'ConfigMap')!;
/** A container's env entries as name → value. */
const envOf = (container: any): Record<string, string | undefined> => Object.fromEntries(((container.env ?? []) as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));

test('helm renders each value set into exactly the objects expected', () => {
  for (const set of valueSets) assert.deepEqual(countKinds(objectsOf(set.name)), set.kinds, set.name);
});

test('every rendered object decodes strictly into its Go type (chart-check)', () => {
  for (const set of valueSets) {
    const result = strictDecode(tools.chartCheck, rendered.get(set.name)!.text);
    assert.deepEqual(result.objects.filter((o) => o.error), [], set.name);
    assert.deepEqual(result.totals, { objects: total(set.kinds), failed: 0 }, set.name);
    assert.deepEqual(result.objects.map((o) => `${o.kind}/${o.name}`), objectsOf(set.name).map((o) => `${o.kind}/${o.metadata.name}`));
  }
});

test('chart-check fails an object with a field its type does not have, or a value of the wrong type', () => {
  const deployment = objectsOf('defaults').find((o) => o.kind === 'Deployment')!;
  const unknownField = structuredClone(deployment);
  unknownField.spec.template.spec.containers[0].imagePullPolice = 'Always';
  const wrongType = structuredClone(deployment);
  wrongType.spec.replicas = 'two';
  const result = strictDecode(tools.chartCheck, [unknownField, wrongType].map((o) => JSON.stringify(o)).join('\n---\n'));
  assert.equal(result.code, 1);
  assert.deepEqual(result.totals, { objects: 2, failed: 2 });
  assert.match(result.objects[0]!.error!, /unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolice"/);
  assert.match(result.objects[1]!.error!, /cannot unmarshal string into Go struct field .*replicas of type int32/);
});

test('values.schema.json: a misspelt or mistyped value fails helm template, naming it', async () => {
  const typo = await helmTemplate(tools.helm, { producer: { replica: 3 } });
  assert.notEqual(typo.code, 0);
  assert.match(typo.stderr, /at '\/producer': additional properties 'replica' not allowed/);
  const mistyped = await helmTemplate(tools.helm, { producer: { replicas: 'two' } });
  assert.notEqual(mistyped.code, 0);
  assert.match(mistyped.stderr, /at '\/producer\/replicas': got string, want integer/);
  const badMechanism = await helmTemplate(tools.helm, { kafka: { sasl: { mechanism: 'scram' } } });
  assert.notEqual(badMechanism.code, 0);
  assert.match(badMechanism.stderr, /\/kafka\/sasl\/mechanism/);
});

test('the API server accepts every object of every value set in a server-side dry run (dryRun=All, fieldValidation=Strict)', { timeout: 120_000 }, async () => {
  for (const ns of [namespace, teamA, teamB]) await ensureNamespace(adminCore, ns);
  const client = exactObjectClient(admin);
  // Created for real (once per stack: they may exist from an earlier run).
  for (const crd of prometheusOperatorCrds(['podmonitors', 'prometheusrules'])) {
    await client.create(crd as KubernetesObject, { dryRun: false }).catch((error: unknown) => {
      if ((error as { code?: number }).code !== 409) throw error;
    });
  }
  await waitForResources(['PodMonitor', 'PrometheusRule']);
  const accepted: Record<string, string[]> = {};
  for (const set of valueSets) {
    accepted[set.name] = [];
    for (const object of objectsOf(set.name)) {
      const body = clusterScoped.has(object.kind) || object.metadata.namespace ? object : { ...object, metadata: { ...object.metadata, namespace } };
      const stored = await client.create(body as KubernetesObject, { dryRun: true }).catch((error: unknown) => assert.fail(`${set.name}: ${object.kind}/${object.metadata.name}: ${(error as { body?: string }).body ?? error}`));
      assert.equal(stored.metadata?.name, object.metadata.name);
      accepted[set.name]!.push(`${object.kind}/${object.metadata.name}`);
    }
    assert.equal(accepted[set.name]!.length, total(set.kinds), set.name);
  }
  // Dry runs persist nothing.
  assert.equal((await adminObjects.list('apps/v1', 'Deployment', namespace)).items.length, 0);
});

test('the dry run refuses an unknown field (fieldValidation=Strict reaches the API server)', async () => {
  const job = structuredClone(objectsOf('defaults').find((o) => o.kind === 'Job')!);
  job.metadata.namespace = namespace;
  job.spec.template.spec.containers[0].imagePullPolice = 'Always';
  await assert.rejects(exactObjectClient(admin).create(job as KubernetesObject, { dryRun: true }), (error: unknown) => {
    assert.equal((error as { code?: number }).code, 400);
    assert.match(String((error as { body?: unknown }).body), /strict decoding error: unknown field \\?"spec\.template\.spec\.containers\[0\]\.imagePullPolice\\?"/);
    return true;
  });
});

const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'CustomResourceDefinition']);

/** Until the CRDs' resources are served (Established comes a moment before the handler answers). */
async function waitForResources(kinds: string[]): Promise<void> {
  for (const kind of kinds) await retry(() => adminObjects.list('monitoring.coreos.com/v1', kind, namespace), { timeoutMs: 30_000, initialMs: 200, maxMs: 200 });
}

// ---- what the objects must do -------------------------------------------------------------------

/** Deployments and Jobs, with their pod spec, container and CLI arguments. */
function workloadsOf(objects: Manifest[]) {
  return objects
    .filter((m) => m.kind === 'Deployment' || m.kind === 'Job')
    .map((m) => {
      const pod = m.spec.template.spec;
      return { manifest: m, pod, template: m.spec.template, containers: pod.containers as any[], container: pod.containers[0], args: (pod.containers[0]?.args ?? []).map(String) as string[] };
    });
}
/* eslint-disable @typescript-eslint/no-explicit-any */
/** The command without its flags (`topics init --topic-prefix p --processors a b` → topics init). */
const serviceArgs = (args: string[]) => (args[0] === 'topics' ? args.slice(0, 2) : args);
const byArgs = (objects: Manifest[], first: string) => workloadsOf(objects).filter((w) => w.args[0] === first);

test('defaults: the producer (2 replicas), one Deployment per processor folder, the topics-init Job as a pre-install/upgrade hook', () => {
  const objects = objectsOf('defaults');
  const [producer] = byArgs(objects, 'produce');
  assert.equal(producer?.manifest.kind, 'Deployment');
  assert.equal(producer.manifest.spec.replicas, 2);
  assert.deepEqual(byArgs(objects, 'process').map((w) => w.args[1]).sort(), [...processorNames].sort());
  const [init] = byArgs(objects, 'topics');
  assert.equal(init?.manifest.kind, 'Job');
  assert.deepEqual(init.args, ['topics', 'init', '--processors', ...[...processorNames].sort()]);
  assert.equal(init.pod.restartPolicy, 'OnFailure');
  for (const set of valueSets) for (const w of workloadsOf(objectsOf(set.name))) assert.ok(isServiceCommand(serviceArgs(w.args)) || (w.args[0] === 'sink' && listSinks().includes(w.args[1]!)), `${set.name}: ${w.args.join(' ')}`);
});

test('topics-init runs before the release\'s objects (pre-install, pre-upgrade), with the ConfigMap\'s settings in its own env', () => {
  for (const set of ['defaults', 'everything']) {
    const objects = objectsOf(set);
    const [init] = byArgs(objects, 'topics');
    const annotations = init!.manifest.metadata.annotations ?? {};
    assert.deepEqual([annotations['helm.sh/hook'], annotations['helm.sh/hook-delete-policy']], ['pre-install,pre-upgrade', 'before-hook-creation'], set);
    // It is the only hook, and it needs no object of the release: no ConfigMap (helm deletes a
    // hook-succeeded one when the install times out, stranding the retrying Job), no ServiceAccount.
    assert.deepEqual(objects.filter(isHook).map((o) => `${o.kind}/${o.metadata.name}`), [`Job/${init!.manifest.metadata.name}`], set);
    assert.equal(init!.pod.serviceAccountName, undefined, set);
    assert.deepEqual((init!.container.envFrom ?? []).filter((f: any) => f.configMapRef), [], set);
    // Every setting of the Deployments' ConfigMap, with the same value.
    const env = envOf(init!.container);
    const settings = settingsOf(objects).data as Record<string, string>;
    assert.ok(Object.keys(settings).length > 10, set);
    assert.deepEqual(Object.fromEntries(Object.keys(settings).map((k) => [k, env[k]])), settings, `${set}: the same settings as the Deployments'`);
  }
});

test('one image, its entrypoint kept (no command), the chart\'s appVersion = package.json\'s version', () => {
  for (const set of valueSets) {
    const images = new Set(workloadsOf(objectsOf(set.name)).flatMap((w) => w.containers.map((c) => c.image as string)));
    assert.deepEqual([...images], [`kubetrail:${packageJson.version}`], set.name);
    for (const w of workloadsOf(objectsOf(set.name))) {
      assert.equal(w.containers.length, 1);
      assert.equal(w.container.command, undefined, `${w.manifest.metadata.name}: command would replace the ENTRYPOINT`);
    }
  }
});

test('labels: part-of, name, instance, component, version, managed-by and helm.sh/chart on every object and every pod template', () => {
  const chart = parseYamlFile('charts', 'kubetrail', 'Chart.yaml') as { name: string; version: string; appVersion: string };
  for (const set of valueSets) {
    const objects = objectsOf(set.name);
    const labelled = [...objects.map((o) => ({ what: `${o.kind}/${o.metadata.name}`, labels: o.metadata.labels ?? {} })), ...workloadsOf(objects).map((w) => ({ what: `pods of ${w.manifest.metadata.name}`, labels: w.template.metadata.labels ?? {} }))];
    for (const { what, labels } of labelled) {
      assert.equal(labels['app.kubernetes.io/part-of'], 'kubetrail', `${set.name}: ${what}`);
      assert.equal(labels['app.kubernetes.io/instance'], 'kubetrail', `${set.name}: ${what}`);
      assert.equal(labels['app.kubernetes.io/version'], chart.appVersion, `${set.name}: ${what}`);
      assert.equal(labels['app.kubernetes.io/managed-by'], 'Helm', `${set.name}: ${what}`);
      assert.equal(labels['helm.sh/chart'], `${chart.name}-${chart.version}`, `${set.name}: ${what}`);
      assert.ok(labels['app.kubernetes.io/name'] && labels['app.kubernetes.io/component'], `${set.name}: ${what}: name and component`);
    }
  }
});

test('RBAC: the producer may only get, list and watch the watched resource; cluster-wide by default, one Role per watched namespace otherwise', () => {
  const check = (objects: Manifest[], roleKind: string, bindingKind: string, count: number) => {
    const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    assert.deepEqual([roles.length, bindings.length], [count, count]);
    const [producer] = byArgs(objects, 'produce');
    for (const role of roles) {
      assert.equal(role.kind, roleKind);
      assert.deepEqual(role.rules, [{ apiGroups: [watchedResource.group], resources: [watchedResource.resource], verbs: [...clusterRoleVerbs] }]);
    }
    for (const binding of bindings) {
      assert.equal(binding.kind, bindingKind);
      const role = roles.find((r) => r.metadata.name === binding.roleRef.name && r.metadata.namespace === binding.metadata.namespace);
      assert.ok(role, `${binding.metadata.name} binds a role of the chart`);
      assert.equal(binding.roleRef.kind, roleKind);
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: producer!.pod.serviceAccountName, namespace }]);
    }
    assert.ok(objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === producer!.pod.serviceAccountName));
    return roles;
  };
  check(objectsOf('defaults'), 'ClusterRole', 'ClusterRoleBinding', 1);
  const roles = check(objectsOf('everything'), 'Role', 'RoleBinding', 2);
  assert.deepEqual(roles.map((r) => r.metadata.namespace), [teamA, teamB]);
  const config = settingsOf(objectsOf('everything'));
  assert.equal(config.data.KUBETRAIL_NAMESPACES, `${teamA},${teamB}`);
});

test('only the producer gets an API token; every container is locked down and has requests and limits', () => {
  for (const set of valueSets) {
    for (const w of workloadsOf(objectsOf(set.name))) {
      const name = `${set.name}: ${w.manifest.metadata.name}`;
      if (w.args[0] === 'produce') assert.equal(w.pod.automountServiceAccountToken, true, name);
      else {
        assert.equal(w.pod.automountServiceAccountToken, false, name);
        assert.equal(w.pod.serviceAccountName, undefined, name);
      }
      assert.equal(w.pod.securityContext.runAsNonRoot, true, name);
      assert.ok(w.pod.securityContext.runAsUser > 0, name);
      const c = w.container.securityContext;
      assert.deepEqual([c.readOnlyRootFilesystem, c.allowPrivilegeEscalation, c.capabilities], [true, false, { drop: ['ALL'] }], name);
      for (const key of ['cpu', 'memory']) assert.ok(w.container.resources.requests[key], `${name}: requests.${key}`);
      assert.ok(w.container.resources.limits.memory, `${name}: limits.memory`);
    }
  }
});

test('probes on /healthz and /readyz and the metrics annotations use the port the code listens on', () => {
  for (const w of workloadsOf(objectsOf('everything')).filter((x) => x.args[0] !== 'topics')) {
    const port = w.container.env.find((e: any) => e.name === (w.args[0] === 'produce' ? producerHttp.env : processorHttp.env))?.value;
    assert.equal(Number(port ?? producerHttp.port), 8080);
    assert.deepEqual(w.container.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    assert.deepEqual([w.container.livenessProbe.httpGet, w.container.readinessProbe.httpGet], [{ path: '/healthz', port: 'http' }, { path: '/readyz', port: 'http' }]);
    const annotations = w.template.metadata.annotations;
    assert.deepEqual([annotations['prometheus.io/scrape'], annotations['prometheus.io/port'], annotations['prometheus.io/path']], ['true', '8080', '/metrics']);
  }
});

/** The variables `kubetrail <args>` reads; a sink's: the runner's, and its own options (KUBETRAIL_<SINK>_<OPTION>). */
async function knownEnv(args: string[]): Promise<(name: string) => boolean> {
  if (args[0] !== 'sink') {
    const names = await envNamesOf(serviceArgs(args));
    return (name) => names.has(name);
  }
  const names = new Set([...Object.values(sinkServiceEnv), ...commonEnv, ...(await sinkOptionEnv(args[1]!))]);
  return (name) => names.has(name);
}

test('settings: every variable in the ConfigMap and the containers is one the code reads; secrets only as files of Secrets', async () => {
  const union = new Set([...producerEnvNames, ...(await topicsInitEnvNames())]);
  for (const name of processorNames) for (const v of await processorEnvNames(name)) union.add(v);
  for (const set of valueSets) {
    const objects = objectsOf(set.name);
    const config = settingsOf(objects);
    const settings = config.data as Record<string, string>;
    for (const w of workloadsOf(objects)) {
      const known = await knownEnv(w.args);
      // Deployments read the ConfigMap; the topics-init hook, which runs before it exists, carries the same settings in its env (checked in its own test).
      const reads = (w.container.envFrom ?? []).filter((f: any) => f.configMapRef).map((f: any) => f.configMapRef.name);
      assert.deepEqual(reads, isHook(w.manifest) ? [] : [config.metadata.name], `${w.manifest.metadata.name}: envFrom the ConfigMap`);
      for (const e of w.container.env ?? []) {
        if (isHook(w.manifest) && settings[e.name] === e.value) continue;
        assert.ok(known(e.name), `${set.name}: ${w.manifest.metadata.name}: ${e.name} is read by \`kubetrail ${w.args.join(' ')}\``);
      }
    }
    for (const [key, value] of Object.entries(settings)) {
      if (/PASSWORD|TOKEN/.test(key)) assert.match(key, /_FILE$/, `${set.name}: ${key}: only the path of a mounted Secret`);
      if (key.endsWith('_FILE')) assert.match(value, /^\/etc\/kubetrail\/secrets\//);
      assert.ok(union.has(key), `${set.name}: ConfigMap key ${key} is read by some kubetrail service`);
    }
    assert.ok(!objects.some((o) => o.kind === 'Secret'), 'the chart makes no Secret');
  }
});

test('TLS, mTLS and SASL: the ConfigMap names the files, every pod mounts them from the Secrets named', () => {
  const objects = objectsOf('everything');
  const config = settingsOf(objects).data as Record<string, string>;
  const files = {
    KAFKA_SSL_CA_FILE: ['kafka-ca', 'ca.crt'],
    KAFKA_SSL_CERT_FILE: ['kubetrail-kafka-tls', 'tls.crt'],
    KAFKA_SSL_KEY_FILE: ['kubetrail-kafka-tls', 'tls.key'],
    KAFKA_SASL_PASSWORD_FILE: ['kubetrail-kafka-sasl', 'password'],
    SCHEMA_REGISTRY_CA_FILE: ['registry-ca', 'ca.crt'],
    SCHEMA_REGISTRY_CERT_FILE: ['kubetrail-registry-tls', 'tls.crt'],
    SCHEMA_REGISTRY_KEY_FILE: ['kubetrail-registry-tls', 'tls.key'],
    SCHEMA_REGISTRY_PASSWORD_FILE: ['kubetrail-registry', 'password'],
  };
  assert.deepEqual(
    [config.KAFKA_BROKERS, config.KAFKA_SSL, config.KAFKA_SSL_SERVERNAME, config.KAFKA_SASL_MECHANISM, config.KAFKA_SASL_USERNAME, config.SCHEMA_REGISTRY_USERNAME],
    ['kafka-0.kafka:9093,kafka-1.kafka:9093', 'true', 'kafka.example.com', 'scram-sha-512', 'kubetrail', 'kubetrail'],
  );
  for (const w of workloadsOf(objects)) {
    const mount = w.container.volumeMounts.find((m: any) => m.name === 'secrets');
    assert.deepEqual(mount, { name: 'secrets', mountPath: '/etc/kubetrail/secrets', readOnly: true });
    const sources = w.pod.volumes.find((v: any) => v.name === 'secrets').projected.sources as Array<{ secret: { name: string; items: Array<{ key: string; path: string }> } }>;
    for (const [env, [secret, key]] of Object.entries(files)) {
      const path = config[env]!.replace('/etc/kubetrail/secrets/', '');
      assert.ok(sources.some((s) => s.secret.name === secret && s.secret.items.some((i) => i.key === key && i.path === path)), `${w.manifest.metadata.name}: ${env} from ${secret}/${key}`);
    }
  }
  const [notify] = byArgs(objects, 'sink');
  const webhook = notify!.container.env.find((e: any) => e.name === 'KUBETRAIL_NOTIFY_WEBHOOK_URL_FILE');
  assert.equal(webhook.value, '/etc/kubetrail/secrets/env/KUBETRAIL_NOTIFY_WEBHOOK_URL_FILE');
});

test('topic prefix: the producer, each processor, the sink and topics-init use the same prefixed names (lib/catalog.ts)', async () => {
  const objects = objectsOf('everything');
  const env = (w: { container: any }) => envOf(w.container);
  const [producer] = byArgs(objects, 'produce');
  assert.deepEqual([env(producer!).KUBETRAIL_TOPIC, env(producer!).KUBETRAIL_STATE_TOPIC], ['prod.kubetrail.raw', 'prod.kubetrail.producer.state']);
  const byName = Object.fromEntries(byArgs(objects, 'process').map((w) => [w.args[1], env(w)]));
  assert.deepEqual(byName['completed-filter'], { KUBETRAIL_HTTP_PORT: '8080', KUBETRAIL_GROUP_ID: 'prod.completed-filter', KUBETRAIL_INPUT_TOPIC: 'prod.kubetrail.raw', KUBETRAIL_OUTPUT_TOPICS: 'completed=prod.kubetrail.workflows.failed' });
  assert.deepEqual(byName['workflow-summary'], { KUBETRAIL_HTTP_PORT: '8080', KUBETRAIL_GROUP_ID: 'prod.workflow-summary', KUBETRAIL_INPUT_TOPIC: 'prod.kubetrail.raw', KUBETRAIL_OUTPUT_TOPICS: 'summaries=prod.kubetrail.workflows.summary' });
  const [sink] = byArgs(objects, 'sink');
  assert.equal(env(sink!).KUBETRAIL_INPUT_TOPIC, 'prod.kubetrail.workflows.failed');
  assert.equal(env(sink!).KUBETRAIL_GROUP_ID, 'prod.sink-notify');
  const [init] = byArgs(objects, 'topics');
  assert.deepEqual(init!.args, ['topics', 'init', '--topic-prefix', 'prod.', '--processors', 'completed-filter', 'workflow-summary']);
  // Names of topics only from the shared settings (unprefixed: the ConfigMap, and topics-init's copy
  // of it, which adds --topic-prefix itself) or as the prefixed names above.
  const naming = await topicNamingEnv();
  const config = settingsOf(objects).data;
  assert.equal(config.KUBETRAIL_COMPLETED_FILTER_FAILED_ONLY, 'true');
  for (const w of workloadsOf(objects)) {
    for (const name of Object.keys(env(w))) {
      if (!naming.has(name)) continue;
      assert.equal(env(w)[name], w.args[0] === 'topics' ? config[name] : `prod.${config[name]}`, `${w.manifest.metadata.name}: ${name}`);
    }
  }
});

test('a renamed raw topic without a prefix: the producer writes it and every processor reads it', async () => {
  const { code, stdout, stderr } = await helmTemplate(tools.helm, { topics: { raw: 'custom.raw' } }, { namespace });
  assert.equal(code, 0, stderr);
  const objects = parseManifests(stdout);
  const config = settingsOf(objects).data;
  assert.equal(config.KUBETRAIL_TOPIC, 'custom.raw');
  const inputs = byArgs(objects, 'process').map((w) => [w.args[1], (w.container.env as Array<{ name: string; value?: string }>).find((e) => e.name === 'KUBETRAIL_INPUT_TOPIC')?.value]);
  assert.deepEqual(inputs.sort(), [
    ['completed-filter', 'custom.raw'],
    ['workflow-summary', 'custom.raw'],
  ]);
});

test('PodDisruptionBudgets: one per Deployment of more than one replica, selecting exactly its pods', () => {
  for (const set of valueSets) {
    const objects = objectsOf(set.name);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    assert.equal(pdbs.length, deployments.filter((d) => d.spec.replicas > 1).length, set.name);
    for (const pdb of pdbs) {
      const selects = (labels: Record<string, string>) => Object.entries(pdb.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v);
      const selected = deployments.filter((d) => selects(d.spec.template.metadata.labels));
      assert.deepEqual(selected.map((d) => d.metadata.name), [pdb.metadata.name], `${set.name}: ${pdb.metadata.name} selects its Deployment's pods only`);
      assert.ok(selected[0]!.spec.replicas > 1);
      assert.equal(pdb.spec.maxUnavailable, 1);
    }
  }
  assert.ok(objectsOf('defaults').some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'kubetrail-producer'));
});

test('NetworkPolicy: every kubetrail pod selected; in, only the http port (metrics) from the peers given', () => {
  for (const set of ['defaults', 'everything']) {
    const objects = objectsOf(set);
    const [policy] = objects.filter((o) => o.kind === 'NetworkPolicy');
    const selects = (labels: Record<string, string>) => Object.entries(policy!.spec.podSelector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v);
    for (const w of workloadsOf(objects)) assert.ok(selects(w.template.metadata.labels), `${set}: ${w.manifest.metadata.name}`);
    assert.deepEqual(policy!.spec.policyTypes, ['Ingress']);
    assert.equal(policy!.spec.ingress.length, 1);
    assert.deepEqual(policy!.spec.ingress[0].ports, [{ port: 'http', protocol: 'TCP' }]);
    for (const w of workloadsOf(objects).filter((x) => x.args[0] !== 'topics')) assert.ok(w.container.ports.some((p: any) => p.name === 'http' && p.containerPort === 8080));
  }
  assert.deepEqual(objectsOf('everything').find((o) => o.kind === 'NetworkPolicy')!.spec.ingress[0].from, everything.networkPolicy.metricsFrom);
});

test('PodMonitor scrapes /metrics on the http port of the producer, processors and sink; the PrometheusRule is deploy/monitoring\'s', () => {
  const objects = objectsOf('everything');
  const monitor = objects.find((o) => o.kind === 'PodMonitor')!;
  assert.deepEqual(monitor.spec.podMetricsEndpoints, [{ port: 'http', path: '/metrics', interval: '30s' }]);
  const selects = (labels: Record<string, string>) =>
    Object.entries(monitor.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v) &&
    (monitor.spec.selector.matchExpressions as Array<{ key: string; values: string[] }>).every((e) => e.values.includes(labels[e.key]!));
  const scraped = workloadsOf(objects).filter((w) => selects(w.template.metadata.labels)).map((w) => w.args[0]);
  assert.deepEqual(scraped.sort(), ['process', 'process', 'produce', 'sink']);
  const rule = objects.find((o) => o.kind === 'PrometheusRule')!;
  const source = parseYamlFile('deploy', 'monitoring', 'prometheus-rule.yaml') as Manifest;
  // One copy of the rules (the symlink): test/unit/chart.test.ts.
  assert.deepEqual(rule.spec, source.spec);
});
