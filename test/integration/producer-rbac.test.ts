// The producer as the ServiceAccount the chart binds, on the real API server's RBAC: the test
// renders charts/kubetrail with helm (test/support/chart.ts), applies its RBAC objects
// (ServiceAccount, ClusterRole, ClusterRoleBinding; server-side apply) and authenticates with a
// token of that account (TokenRequest). It lists and watches
// workflows (READ, ADDED, MODIFIED, DELETED, exact); it is refused Secrets, Pods and a
// half-granted resource at start-up with an error naming the identity, the missing verbs and
// where; the API server itself refuses it too.
// In-cluster configuration: the producer in a mount namespace of its own, whose
// /var/run/secrets/kubernetes.io/serviceaccount holds the token and CA, with
// KUBERNETES_SERVICE_HOST/PORT set, publishes workflows; in-cluster wins over a ~/.kube/config (an
// admin one, which would be allowed what the account is refused), a named KUBECONFIG wins over
// in-cluster (docs/producer.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { ArgoSimulator, bareWorkflow, ensureNamespace } from '../../stack/argo-simulator.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { ConfigError } from '../../lib/config.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import type { ProducerConfig } from '../../producer/config.js';
import { startProducer } from '../../producer/service.js';
import { ensureChartTools, helmTemplate, parseManifests } from '../support/chart.js';
import { quietLogger, readTopicToEnd } from '../support/kit-helpers.js';
import { childProducerEnv, RawReader, spawnProducer, type ChildProducer } from '../support/producer.js';
import { testConnection, testProducerConfig, uniqueName } from '../support/services.js';

const connection = testConnection();
const admin = new KubeConfig();
admin.loadFromFile(process.env.KUBECONFIG!);
const adminObjects = KubernetesObjectApi.makeApiClient(admin);
const adminCore = admin.makeApiClient(CoreV1Api);
const sim = new ArgoSimulator(admin);
const logger = quietLogger('producer-rbac-test');
const kafka = createKafka(connection, logger, 'kubetrail-producer-rbac-test');
const registry = createRegistry(connection);

type Manifest = KubernetesObject & { subjects?: Array<{ kind: string; name: string; namespace?: string }> };
/** The namespace the chart is rendered for: where its ServiceAccount lives. */
const releaseNamespace = uniqueName('rbac-release');
const rbacKinds = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'];
let rbac: Manifest[] = [];
let account!: Manifest;
let accountNamespace = '';
let identity = '';

const work = mkdtempSync(join(tmpdir(), 'kubetrail-rbac-'));
let accountKubeconfig = '';
let token = '';
const cleanup: Array<() => Promise<unknown>> = [];
const children: ChildProducer[] = [];

before(async () => {
  const { helm } = await ensureChartTools();
  const rendered = await helmTemplate(helm, {}, { namespace: releaseNamespace });
  assert.equal(rendered.code, 0, rendered.stderr);
  rbac = parseManifests(rendered.stdout).filter((m) => rbacKinds.includes(m.kind)) as Manifest[];
  assert.deepEqual(rbac.map((m) => m.kind).sort(), [...rbacKinds].sort(), 'the chart renders the producer\'s RBAC');
  account = rbac.find((m) => m.kind === 'ServiceAccount')!;
  const binding = rbac.find((m) => m.kind === 'ClusterRoleBinding')!;
  const subject = binding.subjects!.find((s) => s.kind === 'ServiceAccount' && s.name === account.metadata!.name)!;
  // Where the chart's binding expects the account: the release's namespace.
  accountNamespace = subject.namespace!;
  assert.equal(accountNamespace, releaseNamespace);
  identity = `system:serviceaccount:${accountNamespace}:${account.metadata!.name}`;
  await ensureNamespace(adminCore, accountNamespace);
  for (const manifest of rbac) {
    const body = manifest.kind === 'ServiceAccount' ? { ...manifest, metadata: { ...manifest.metadata, namespace: accountNamespace } } : manifest;
    await adminObjects.patch(body, undefined, undefined, 'kubetrail-test', true, PatchStrategy.ServerSideApply);
  }
  const request = await adminCore.createNamespacedServiceAccountToken({
    name: account.metadata!.name!,
    namespace: accountNamespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  token = request.status?.token ?? '';
  assert.ok(token, 'a token for the account');
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stack', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: account.metadata!.name!, token }],
    contexts: [{ name: 'account', cluster: 'stack', user: account.metadata!.name! }],
    currentContext: 'account',
  });
  accountKubeconfig = join(work, 'account.kubeconfig');
  writeFileSync(accountKubeconfig, kc.exportConfig());
});

after(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

function configFor(ns: string, kubeconfig: string, resource: { group?: string; version?: string; resource?: string } = {}): ProducerConfig {
  return testProducerConfig(ns, { prefix: 'pr', kubeconfig, flags: resource });
}

/** The error a start of the producer fails with; a producer that starts is stopped, and the test fails. */
async function refusal(config: ProducerConfig): Promise<ConfigError> {
  let started;
  try {
    started = await startProducer(config, logger);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `a ConfigError (exit code 2), not ${String(error)}`);
    return error;
  }
  await started.stop();
  assert.fail(`the producer started watching ${config.resource}`);
}

const operationsIn = (records: Array<{ value: ResourceEvent | null }>, name: string) =>
  records.filter((r) => r.value?.name === name).map((r) => r.value!.operation + (r.value!.source.inferred ? '*' : ''));

test(`the chart's producer account lists and watches workflows: READ, ADDED, MODIFIED, DELETED`, async () => {
  const ns = uniqueName('rbac-wf');
  const [pre, obj] = [uniqueName('pre'), uniqueName('obj')];
  await sim.create(bareWorkflow(ns, pre));
  const config = configFor(ns, accountKubeconfig);
  const producer = await startProducer(config, logger);
  cleanup.push(() => producer.stop());
  await producer.whenWatching();
  const reader = await new RawReader(kafka, registry, config.topic).start();
  cleanup.push(() => reader.stop());
  await sim.create(bareWorkflow(ns, obj));
  await sim.patch(ns, obj, { status: { phase: 'Running' } });
  await sim.delete(ns, obj);
  await reader.waitFor((r) => r.some((x) => x.value.name === obj && x.value.operation === 'DELETED'), 20_000, `the DELETED of ${obj}`);
  await producer.stop();
  await reader.stop();
  const records = await readTopicToEnd<ResourceEvent>(kafka, registry, config.topic);
  assert.deepEqual(operationsIn(records, pre), ['READ']);
  assert.deepEqual(operationsIn(records, obj), ['ADDED', 'MODIFIED', 'DELETED']);
  assert.equal(records.length, 4);
});

test('refused Secrets: the producer does not start, naming the identity, the verbs and the namespace; the API server refuses the list itself', async () => {
  const ns = uniqueName('rbac-secrets');
  await ensureNamespace(adminCore, ns);
  const refused = await refusal(configFor(ns, accountKubeconfig, { group: 'core', version: 'v1', resource: 'secrets' }));
  assert.match(refused.message, new RegExp(`permissions: the API server refuses ${identity} to list and watch secrets in namespace ${ns}\\. Grant it.*resources: \\["secrets"\\]`));
  const accountKc = new KubeConfig();
  accountKc.loadFromFile(accountKubeconfig);
  await assert.rejects(accountKc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns }), (e: unknown) => {
    assert.equal((e as { code?: number }).code, 403);
    assert.match(String((e as { body?: unknown }).body), new RegExp(`User \\\\?"${identity}\\\\?" cannot list resource \\\\?"secrets\\\\?"`));
    return true;
  });
});

test('another resource: pods in all namespaces refused for list and watch; configmaps granted list only: refused naming watch alone', async () => {
  const pods = await refusal(configFor('', accountKubeconfig, { group: 'core', version: 'v1', resource: 'pods' }));
  assert.match(pods.message, new RegExp(`refuses ${identity} to list and watch pods in all namespaces\\.`));
  const ns = uniqueName('rbac-cm');
  await ensureNamespace(adminCore, ns);
  const role = uniqueName('list-configmaps');
  await adminObjects.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: role, namespace: ns }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] } as KubernetesObject);
  await adminObjects.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: role, namespace: ns },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
    subjects: [{ kind: 'ServiceAccount', name: account.metadata!.name!, namespace: accountNamespace }],
  } as KubernetesObject);
  const configmaps = await refusal(configFor(ns, accountKubeconfig, { group: 'core', version: 'v1', resource: 'configmaps' }));
  assert.match(configmaps.message, new RegExp(`refuses ${identity} to watch configmaps in namespace ${ns}\\.`));
});

/**
 * The producer as in a pod: its own mount namespace, where a tmpfs on /run (/var/run) holds
 * secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}, and the kubelet's variables set.
 * HOME holds an admin ~/.kube/config, which must lose to the in-cluster configuration.
 */
function inPod(ns: string, resource: Record<string, string>, extra: Record<string, string> = {}): ChildProducer & { topic: string } {
  const files = mkdtempSync(join(work, 'sa-'));
  writeFileSync(join(files, 'token'), token);
  writeFileSync(join(files, 'ca.crt'), Buffer.from(admin.getCurrentCluster()!.caData!, 'base64'));
  writeFileSync(join(files, 'namespace'), accountNamespace);
  const home = mkdtempSync(join(work, 'home-'));
  mkdirSync(join(home, '.kube'));
  writeFileSync(join(home, '.kube', 'config'), admin.exportConfig());
  const server = new URL(admin.getCurrentCluster()!.server);
  const stream = uniqueName('pod');
  const mountServiceAccount =
    'mount -t tmpfs kubetrail-pod /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && ' +
    'cp "$0"/token "$0"/ca.crt "$0"/namespace /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"';
  const child = spawnProducer(
    childProducerEnv(connection, {
      stream,
      namespace: ns,
      instance: `${stream}-a`,
      extra: { KUBECONFIG: '', HOME: home, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port, ...resource, ...extra },
    }),
    { wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', mountServiceAccount, files] },
  );
  children.push(child);
  return { ...child, topic: `${stream}.raw` };
}

test('in-cluster configuration (token file, CA file, KUBERNETES_SERVICE_HOST/PORT): workflows published, exact', async () => {
  const ns = uniqueName('pod-wf');
  const child = inPod(ns, {});
  await child.waitForLog(/"watching"/);
  const topic = child.topic;
  const reader = await new RawReader(kafka, registry, topic).start();
  cleanup.push(() => reader.stop());
  const obj = uniqueName('obj');
  await sim.create(bareWorkflow(ns, obj));
  await sim.delete(ns, obj);
  await reader.waitFor((r) => r.some((x) => x.value.name === obj && x.value.operation === 'DELETED'), 20_000, `the DELETED of ${obj}`);
  assert.deepEqual(await child.kill('SIGTERM'), { code: 0, signal: null });
  await reader.stop();
  const records = await readTopicToEnd<ResourceEvent>(kafka, registry, topic);
  assert.deepEqual(operationsIn(records, obj), ['ADDED', 'DELETED']);
  assert.equal(records.length, 2);
});

test('the order of docs/producer.md: in a pod, in-cluster wins over ~/.kube/config; a named KUBECONFIG wins over in-cluster', { timeout: 180_000 }, async () => {
  const ns = uniqueName('pod-order');
  await ensureNamespace(adminCore, ns);
  const configmaps = { KUBETRAIL_GROUP: 'core', KUBETRAIL_VERSION: 'v1', KUBETRAIL_RESOURCE: 'configmaps' };
  // The admin ~/.kube/config may watch configmaps; the pod's account may not: refused means in-cluster was used.
  const inCluster = inPod(ns, configmaps);
  const timer = setTimeout(() => inCluster.process.kill('SIGKILL'), 60_000);
  const exit = await inCluster.exited;
  clearTimeout(timer);
  assert.deepEqual(exit, { code: 2, signal: null }, `refused at start-up (exit code 2):\n${inCluster.output.slice(-5).join('\n')}`);
  assert.match(inCluster.output.join('\n'), new RegExp(`refuses ${identity} to list and watch configmaps in namespace ${ns}\\.`));
  // Named, the admin kubeconfig is used although the pod's configuration is there too.
  const named = inPod(ns, configmaps, { KUBECONFIG: process.env.KUBECONFIG! });
  await named.waitForLog(/"watching"/);
  assert.deepEqual(await named.kill('SIGTERM'), { code: 0, signal: null });
});
