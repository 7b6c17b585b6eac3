// The producer watching built-in resources of the real kube-apiserver, not only Workflows: Pods,
// Jobs (batch/v1), ConfigMaps and core Events. Per resource: an object present at the first start
// arrives as READ; created, patched and deleted ones as ADDED, MODIFIED, DELETED; after a restart
// whose checkpoint was compacted away, what changed while down arrives as READ. Unlabelled objects
// never. Exact: the topic is read to its end once the producer stopped.
// Secrets: every value of data and stringData is redacted: the values (and their base64) appear
// in no byte of the raw topic's records, in no line the producer logs (at trace level) and not in
// its metrics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { ensureNamespace } from '../../stack/argo-simulator.js';
import { compactEtcd } from '../../stack/kubeapi.js';
import { freePort } from '../../stack/processes.js';
import { LocalStack } from '../../stack/stack.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import type { ResourceEvent } from '../../lib/raw-event.js';
import type { ProducerConfig } from '../../producer/config.js';
import { startProducer } from '../../producer/service.js';
import { quietLogger, readTopicToEnd } from '../support/kit-helpers.js';
import { childProducerEnv, RawReader, spawnProducer } from '../support/producer.js';
import { testConnection, testProducerConfig, uniqueName } from '../support/services.js';

const connection = testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const objects = KubernetesObjectApi.makeApiClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const logger = quietLogger('producer-builtin-test');
const kafka = createKafka(connection, logger, 'kubetrail-producer-builtin-test');
const registry = createRegistry(connection);
const local = process.env.KUBETRAIL_STACK_DIR ? new LocalStack({ stackDir: process.env.KUBETRAIL_STACK_DIR }) : undefined;

const cleanup: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

type Json = Record<string, unknown>;

/** A built-in resource: where it is served, and a labelled object of it with a change to patch in. */
interface Builtin {
  group: string;
  version: string;
  resource: string;
  kind: string;
  body(ns: string, name: string, labels: Record<string, string>): KubernetesObject & Json;
  /** A merge patch that changes the object; `n` makes each one different. */
  change(n: number): Json;
  /** What a delete shows on the watch (default: DELETED). */
  deletedAs?: string[];
}

const container = { name: 'main', image: 'registry.invalid/kubetrail/none:1' };
const builtins: Builtin[] = [
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    body: (namespace, name, labels) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: { containers: [container] } }),
    change: (n) => ({ metadata: { annotations: { 'kubetrail.test/change': String(n) } } }),
    // A Pod is deleted gracefully: the API server first writes its deletionTimestamp (grace period
    // 0 for a Pod on no node), then removes it; `kubectl get -w` shows the same two events.
    deletedAs: ['MODIFIED', 'DELETED'],
  },
  {
    group: 'batch',
    version: 'v1',
    resource: 'jobs',
    kind: 'Job',
    body: (namespace, name, labels) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace, labels },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [container] } } },
    }),
    change: (n) => ({ metadata: { annotations: { 'kubetrail.test/change': String(n) } } }),
  },
  {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    kind: 'ConfigMap',
    body: (namespace, name, labels) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels }, data: { change: '0' } }),
    change: (n) => ({ data: { change: String(n) } }),
  },
  {
    group: '',
    version: 'v1',
    resource: 'events',
    kind: 'Event',
    body: (namespace, name, labels) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace, labels },
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kubetrail-test', namespace },
      reason: 'Tested',
      message: 'change 0',
      type: 'Normal',
      count: 1,
      source: { component: 'kubetrail-test' },
    }),
    change: (n) => ({ message: `change ${n}`, count: n + 1 }),
  },
];

function configFor(ns: string, builtin: Pick<Builtin, 'group' | 'version' | 'resource'>): ProducerConfig {
  return testProducerConfig(ns, { prefix: 'pb', flags: { group: builtin.group || 'core', version: builtin.version, resource: builtin.resource } });
}

/** A new namespace; with its `default` ServiceAccount when Pods are to be created there (ServiceAccount admission). */
async function namespaceFor(prefix: string, withServiceAccount: boolean): Promise<string> {
  const ns = uniqueName(prefix);
  await ensureNamespace(core, ns);
  for (let i = 0; withServiceAccount; i++) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: ns });
      break;
    } catch (error) {
      if ((error as { code?: number }).code !== 404 || i > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return ns;
}

const tracked = { 'track-me': 'true' };
const untracked = { 'track-me': 'false' };
const patchOf = (builtin: Builtin, ns: string, name: string, n: number) => {
  const change = builtin.change(n);
  const metadata = { ...(change.metadata as Json | undefined), name, namespace: ns };
  const apiVersion = builtin.group ? `${builtin.group}/${builtin.version}` : builtin.version;
  return objects.patch({ ...change, apiVersion, kind: builtin.kind, metadata }, undefined, undefined, 'kubetrail-test', undefined, PatchStrategy.MergePatch);
};
const deleteOf = (body: KubernetesObject) => objects.delete(body, undefined, undefined, undefined, undefined, 'Background');

/** Operations of records read back, in order; `*` marks an inferred one. */
const operationsIn = (events: ResourceEvent[]) => events.map((e) => e.operation + (e.source.inferred ? '*' : ''));

/** The part of `object` that has the shape of `like` (to compare a patch with what was stored). */
function pick(object: unknown, like: unknown): unknown {
  if (typeof like !== 'object' || like === null || typeof object !== 'object' || object === null) return object;
  return Object.fromEntries(Object.keys(like).map((k) => [k, pick((object as Json)[k], (like as Json)[k])]));
}

for (const builtin of builtins) {
  const title = `${builtin.resource}${builtin.group ? `.${builtin.group}` : ''}/${builtin.version}`;
  // Elsewhere (k3s in Docker) a scheduler, kubelet and job controller would add their own changes.
  const quiet = local || !['Pod', 'Job'].includes(builtin.kind);
  const options = { skip: quiet ? false : 'needs an API server without scheduler, kubelet and job controller: the embedded stack' };
  test(`${title}: READ at the first start, ADDED, MODIFIED, DELETED while watching, READ after a restart past a compaction; unlabelled never`, options, async () => {
    const ns = await namespaceFor(builtin.resource, builtin.kind === 'Pod');
    const [pre, obj, late, other] = ['pre', 'obj', 'late', 'other'].map((n) => uniqueName(n)) as [string, string, string, string];
    const preBody = builtin.body(ns, pre, tracked);
    const otherBody = builtin.body(ns, other, untracked);
    await objects.create(preBody);
    await objects.create(otherBody);

    const config = configFor(ns, builtin);
    let producer = await startProducer(config, logger);
    cleanup.push(() => producer.stop());
    await producer.whenWatching();
    const reader = await new RawReader(kafka, registry, config.topic).start();
    cleanup.push(() => reader.stop());
    await reader.waitFor((r) => r.some((x) => x.value.name === pre && x.value.operation === 'READ'), 20_000, `the READ of ${pre}`);

    await objects.create(builtin.body(ns, obj, tracked));
    await patchOf(builtin, ns, obj, 1);
    await patchOf(builtin, ns, other, 1);
    await deleteOf(preBody);
    await deleteOf(otherBody);
    await reader.waitFor((r) => r.some((x) => x.value.name === pre && x.value.operation === 'DELETED'), 20_000, `the DELETED of ${pre}`);
    await reader.waitFor((r) => r.filter((x) => x.value.name === obj).length === 2, 20_000, `the ADDED and MODIFIED of ${obj}`);

    // Down: one change and one new object; with the history compacted (embedded stack), the
    // next start relists and reports both as READ; otherwise its watch resumes and sees them.
    await producer.stop();
    await patchOf(builtin, ns, obj, 2);
    await objects.create(builtin.body(ns, late, tracked));
    const compacted = local ? await compactEtcd(await local.context()) : undefined;
    producer = await startProducer(config, logger);
    cleanup.push(() => producer.stop());
    await producer.whenWatching();
    await reader.waitFor((r) => r.some((x) => x.value.name === late), 20_000, `the record of ${late}`);
    await producer.stop();
    await reader.stop();

    const records = await readTopicToEnd<ResourceEvent>(kafka, registry, config.topic);
    const of = (name: string) => records.filter((r) => r.value?.name === name).map((r) => r.value!);
    const afterRestart = compacted ? 'READ' : undefined;
    const deletedAs = builtin.deletedAs ?? ['DELETED'];
    assert.deepEqual(operationsIn(of(pre)), ['READ', ...deletedAs]);
    for (const event of of(pre).slice(1, -1)) assert.ok((JSON.parse(event.object) as { metadata: Json }).metadata.deletionTimestamp, 'the deletion in progress');
    assert.deepEqual(operationsIn(of(obj)), ['ADDED', 'MODIFIED', afterRestart ?? 'MODIFIED']);
    assert.deepEqual(operationsIn(of(late)), [afterRestart ?? 'ADDED']);
    assert.deepEqual(of(other), [], 'nothing of the unlabelled object');
    assert.equal(records.length, 5 + deletedAs.length, 'exactly these records');
    for (const r of records) {
      const event = r.value!;
      assert.equal(event.resource.group, builtin.group);
      assert.equal(event.resource.version, builtin.version);
      assert.equal(event.resource.resource, builtin.resource);
      assert.equal(event.resource.kind, builtin.kind);
      assert.equal(event.namespace, ns);
      assert.equal(r.key, `${builtin.resource}${builtin.group ? `.${builtin.group}` : ''}/${ns}/${event.name}`);
      const object = JSON.parse(event.object) as { kind?: string; metadata?: { name?: string } };
      assert.equal(object.kind, builtin.kind);
      assert.equal(object.metadata?.name, event.name);
    }
    // The READ after the restart carries the change made while the producer was down.
    const last = JSON.parse(of(obj).at(-1)!.object) as Json;
    assert.deepEqual(builtin.change(2), pick(last, builtin.change(2)));
  });
}

test('Secrets: data and stringData values appear in no byte of the raw topic, no producer log line (trace) and no metric', async () => {
  const ns = await namespaceFor('secrets', false);
  const secret = (label: string) => `kubetrail-${label}-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const values = { preData: secret('pre-data'), preString: secret('pre-string'), preApplied: secret('pre-applied'), created: secret('created'), patched: secret('patched') };
  const [pre, obj] = [uniqueName('pre'), uniqueName('obj')];
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  const preBody = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: pre,
      namespace: ns,
      labels: tracked,
      // What `kubectl apply` leaves: the whole manifest, values included.
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ stringData: { applied: values.preApplied } }) },
    },
    data: { password: b64(values.preData) },
    stringData: { token: values.preString },
  };
  await objects.create(preBody);
  // The values are really there, for anyone allowed to read the Secret.
  const stored = await core.readNamespacedSecret({ name: pre, namespace: ns });
  assert.deepEqual(stored.data, { password: b64(values.preData), token: b64(values.preString) });

  const config = configFor(ns, { group: '', version: 'v1', resource: 'secrets' });
  const port = await freePort();
  const child = spawnProducer(
    childProducerEnv(connection, {
      stream: config.stream,
      namespace: ns,
      instance: config.instanceId,
      extra: { KUBETRAIL_GROUP: 'core', KUBETRAIL_VERSION: 'v1', KUBETRAIL_RESOURCE: 'secrets', KUBETRAIL_HTTP_PORT: String(port), LOG_LEVEL: 'trace' },
    }),
  );
  cleanup.push(() => child.kill('SIGKILL'));
  await child.waitForLog(/"watching"/);
  const reader = await new RawReader(kafka, registry, config.topic).start();
  cleanup.push(() => reader.stop());
  await objects.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: obj, namespace: ns, labels: tracked }, stringData: { password: values.created } } as KubernetesObject);
  await objects.patch({ apiVersion: 'v1', kind: 'Secret', metadata: { name: obj, namespace: ns }, stringData: { password: values.patched } } as KubernetesObject, undefined, undefined, 'kubetrail-test', undefined, PatchStrategy.MergePatch);
  await deleteOf(preBody);
  await reader.waitFor((r) => r.filter((x) => [pre, obj].includes(x.value.name)).length === 4, 20_000, 'four records');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /kubetrail_producer_events_published_total\{[^}]*operation="MODIFIED"[^}]*\} 1/);
  assert.deepEqual(await child.kill('SIGTERM'), { code: 0, signal: null });
  await reader.stop();

  const records = await readTopicToEnd<ResourceEvent>(kafka, registry, config.topic);
  assert.deepEqual(operationsIn(records.filter((r) => r.value?.name === pre).map((r) => r.value!)), ['READ', 'DELETED']);
  assert.deepEqual(operationsIn(records.filter((r) => r.value?.name === obj).map((r) => r.value!)), ['ADDED', 'MODIFIED']);
  assert.equal(records.length, 4);
  // The keys stay, the values are the marker.
  for (const r of records) {
    const object = JSON.parse(r.value!.object) as { data?: Record<string, string>; metadata: { annotations?: Record<string, string> } };
    const expected = r.value!.name === pre ? { password: '<redacted>', token: '<redacted>' } : { password: '<redacted>' };
    assert.deepEqual(object.data, expected);
    if (r.value!.name === pre) assert.equal(object.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], '<redacted>');
  }
  const recordBytes = Buffer.concat(records.flatMap((r) => [r.raw ?? Buffer.alloc(0), Buffer.from(r.key ?? ''), Buffer.from(JSON.stringify(r.headers))]));
  const logs = child.output.join('\n');
  assert.ok(child.output.some((line) => line.includes('"msg":"watching"')), `the producer's output was captured:\n${logs}`);
  for (const [name, value] of Object.entries(values)) {
    for (const form of [value, b64(value)]) {
      assert.equal(recordBytes.includes(form), false, `${name} (${form === value ? 'clear' : 'base64'}) is in the raw topic's bytes`);
      assert.equal(logs.includes(form), false, `${name} (${form === value ? 'clear' : 'base64'}) is in the producer's logs`);
      assert.equal(metrics.includes(form), false, `${name} is in the producer's metrics`);
    }
  }
});
