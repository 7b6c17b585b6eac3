// deploy/base (kustomize) against the code and the security rules: files listed exist, RBAC is
// least-privilege, probes and metrics annotations use the ports the code listens on, containers
// are locked down. Static: no cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  clusterRoleVerbs,
  isServiceCommand,
  parseYamlDocuments,
  parseYamlFile,
  processorEnvNames,
  processorHttp,
  processorNames,
  producerEnvNames,
  producerHttp,
  repoPath,
  topicsInitEnvNames,
  envNamesOf,
  topicNamingEnv,
  watchedResource,
} from '../support/deploy.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [key: string]: any };

const base = 'deploy/base';
const kustomization = parseYamlFile(base, 'kustomization.yaml') as { resources?: string[]; namespace?: string; images?: Array<{ name: string }> };
const resources = kustomization.resources ?? [];
const manifests: Manifest[] = resources.filter((r) => existsSync(repoPath(base, r))).flatMap((r) => parseYamlDocuments(base, r) as Manifest[]).filter(Boolean);
const ofKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const named = (kind: string, name: string) => ofKind(kind).find((m) => m.metadata.name === name);

/** Deployments and Jobs running the kubetrail image, with their container and CLI arguments. */
const workloads = [...ofKind('Deployment'), ...ofKind('Job')].map((m) => {
  const pod = m.spec.template.spec;
  const containers: any[] = pod.containers;
  return { manifest: m, pod, template: m.spec.template, containers, container: containers[0], args: (containers[0]?.args ?? []).map(String) as string[] };
});
const byArgs = (args: string[]) => workloads.filter((w) => w.args.join(' ') === args.join(' '));
const producer = byArgs(['produce'])[0];
const processors = processorNames.map((name) => ({ name, workload: byArgs(['process', name])[0] }));
const topicsInit = byArgs(['topics', 'init'])[0];

test('kustomization lists files that exist, every one of them, and sets no namespace', () => {
  assert.ok(resources.length > 0);
  for (const resource of resources) assert.ok(existsSync(repoPath(base, resource)), `${resource} exists`);
  assert.equal(kustomization.namespace, undefined, 'the base is namespace-agnostic');
  for (const m of manifests) assert.equal(m.metadata.namespace, undefined, `${m.kind}/${m.metadata.name} has no namespace`);
});

test('the base deploys the producer (2 replicas), one Deployment per processor folder and the topics-init Job', () => {
  assert.ok(producer, 'a workload running `produce`');
  assert.equal(producer.manifest.kind, 'Deployment');
  assert.equal(producer.manifest.spec.replicas, 2, 'two producer replicas (leader + standby)');
  for (const { name, workload } of processors) {
    assert.ok(workload, `a workload running \`process ${name}\``);
    assert.equal(workload.manifest.kind, 'Deployment');
  }
  assert.ok(topicsInit, 'a workload running `topics init`');
  assert.equal(topicsInit.manifest.kind, 'Job');
  assert.ok(['OnFailure', 'Never'].includes(topicsInit.pod.restartPolicy));
  for (const w of workloads) assert.ok(isServiceCommand(w.args), `${w.manifest.metadata.name}: \`${w.args.join(' ')}\` is a kubetrail service command`);
});

test('every kubetrail container keeps the image entrypoint and uses the one image', () => {
  const images = new Set(workloads.flatMap((w) => w.containers.map((c) => c.image as string)));
  assert.equal(images.size, 1, `one image, got ${[...images].join(', ')}`);
  const [image] = [...images];
  assert.ok((kustomization.images ?? []).some((i) => i.name === image), `kustomization.images sets the tag of ${image}`);
  for (const w of workloads) {
    assert.equal(w.containers.length, 1, `${w.manifest.metadata.name}: one container`);
    assert.equal(w.container.command, undefined, `${w.manifest.metadata.name}: command would replace the ENTRYPOINT (the kubetrail bin)`);
  }
});

test('RBAC: the producer may only get, list and watch workflows.argoproj.io', () => {
  const roles = [...ofKind('ClusterRole'), ...ofKind('Role')];
  assert.equal(roles.length, 1, 'one role');
  const [role] = roles as [Manifest];
  assert.equal(role.aggregationRule, undefined, 'no aggregation');
  assert.equal(role.rules.length, 1, 'one rule');
  const [rule] = role.rules;
  assert.deepEqual(rule.apiGroups, [watchedResource.group]);
  assert.deepEqual(rule.resources, [watchedResource.resource]);
  assert.deepEqual([...rule.verbs].sort(), [...clusterRoleVerbs].sort());
  assert.equal(rule.resourceNames, undefined);
  assert.equal(rule.nonResourceURLs, undefined);
  const text = JSON.stringify(roles);
  assert.ok(!text.includes('*'), 'no wildcards');
  assert.ok(!/secrets|leases|coordination\.k8s\.io|pods\/exec|escalate|bind|impersonate/.test(text), 'nothing beyond workflows');

  const bindings = [...ofKind('ClusterRoleBinding'), ...ofKind('RoleBinding')];
  assert.equal(bindings.length, 1, 'one binding');
  const [binding] = bindings as [Manifest];
  assert.equal(binding.roleRef.kind, role.kind);
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.equal(binding.subjects.length, 1);
  assert.equal(binding.subjects[0].kind, 'ServiceAccount');
  assert.equal(binding.subjects[0].name, producer?.pod.serviceAccountName, 'bound to the producer\'s ServiceAccount');
  assert.ok(named('ServiceAccount', binding.subjects[0].name), 'the ServiceAccount is in the base');
});

test('only the producer gets an API token; processors and the Job have none', () => {
  assert.ok(producer);
  assert.notEqual(producer.pod.automountServiceAccountToken, false, 'the producer needs its token');
  assert.ok(producer.pod.serviceAccountName && producer.pod.serviceAccountName !== 'default', 'the producer has its own ServiceAccount');
  for (const w of workloads.filter((x) => x !== producer)) {
    assert.equal(w.pod.automountServiceAccountToken, false, `${w.manifest.metadata.name}: automountServiceAccountToken false`);
    assert.ok(w.pod.serviceAccountName === undefined || w.pod.serviceAccountName === 'default', `${w.manifest.metadata.name}: not the producer's ServiceAccount`);
  }
});

function namedPort(container: any, port: number | string): number {
  if (typeof port === 'number') return port;
  const found = (container.ports ?? []).find((p: any) => p.name === port);
  assert.ok(found, `port ${port} is declared`);
  return found.containerPort;
}

function envValue(container: any, name: string): string | undefined {
  const entry = (container.env ?? []).find((e: any) => e.name === name);
  if (entry) return entry.value;
  const config = named('ConfigMap', 'kubetrail-config');
  return config?.data?.[name];
}

const services = () => [
  { label: 'producer', workload: producer, http: producerHttp },
  ...processors.map(({ name, workload }) => ({ label: name, workload, http: processorHttp })),
];

test('probes: liveness on /healthz, readiness on /readyz, on the port the code listens on; metrics annotations match', () => {
  for (const { label, workload, http } of services()) {
    assert.ok(workload, label);
    const { container, template } = workload;
    const configured = envValue(container, http.env);
    const port = configured === undefined || configured === '' ? http.port : Number(configured);
    assert.equal(container.livenessProbe?.httpGet?.path, '/healthz', `${label}: liveness /healthz`);
    assert.equal(container.readinessProbe?.httpGet?.path, '/readyz', `${label}: readiness /readyz`);
    assert.equal(namedPort(container, container.livenessProbe.httpGet.port), port, `${label}: liveness port`);
    assert.equal(namedPort(container, container.readinessProbe.httpGet.port), port, `${label}: readiness port`);
    const annotations = template.metadata?.annotations ?? {};
    assert.equal(annotations['prometheus.io/scrape'], 'true', `${label}: scrape annotation`);
    assert.equal(annotations['prometheus.io/port'], String(port), `${label}: metrics port annotation`);
    assert.equal(annotations['prometheus.io/path'], '/metrics', `${label}: metrics path annotation`);
  }
});

test('every container: non-root, read-only root filesystem, no capabilities, no privilege escalation, resources', () => {
  for (const w of workloads) {
    const name = w.manifest.metadata.name;
    const pod = w.pod.securityContext ?? {};
    const c = w.container.securityContext ?? {};
    assert.equal(c.runAsNonRoot ?? pod.runAsNonRoot, true, `${name}: runAsNonRoot`);
    const uid = c.runAsUser ?? pod.runAsUser;
    assert.ok(uid === undefined || (Number.isInteger(uid) && uid > 0), `${name}: a non-zero uid`);
    assert.equal(c.readOnlyRootFilesystem, true, `${name}: readOnlyRootFilesystem`);
    assert.equal(c.allowPrivilegeEscalation, false, `${name}: allowPrivilegeEscalation false`);
    assert.deepEqual(c.capabilities?.drop, ['ALL'], `${name}: drop ALL`);
    assert.equal(c.capabilities?.add, undefined, `${name}: adds no capability`);
    assert.notEqual(c.privileged, true, `${name}: not privileged`);
    assert.equal(w.pod.hostNetwork ?? false, false, `${name}: no host network`);
    for (const key of ['cpu', 'memory']) assert.ok(w.container.resources?.requests?.[key], `${name}: requests.${key}`);
    assert.ok(w.container.resources?.limits?.memory, `${name}: limits.memory`);
  }
});

test('settings: the ConfigMap for non-secret settings, the optional Secret for credentials, only names the code reads', async () => {
  const config = named('ConfigMap', 'kubetrail-config');
  assert.ok(config, 'ConfigMap kubetrail-config');
  assert.ok(!Object.keys(config.data ?? {}).some((k) => /PASSWORD|SECRET|TOKEN/.test(k)), 'no secrets in the ConfigMap');
  for (const w of workloads) {
    const name = w.manifest.metadata.name;
    const from: any[] = w.container.envFrom ?? [];
    assert.ok(from.some((f) => f.configMapRef?.name === 'kubetrail-config'), `${name}: envFrom the ConfigMap`);
    const secret = from.find((f) => f.secretRef);
    assert.ok(secret, `${name}: envFrom a Secret`);
    assert.equal(secret.secretRef.optional, true, `${name}: the Secret is optional`);
    assert.ok(!ofKind('Secret').length, 'no Secret (with values) in the base');
    const known = await envNamesOf(w.args);
    for (const e of w.container.env ?? []) assert.ok(known.has(e.name), `${name}: ${e.name} is read by \`kubetrail ${w.args.join(' ')}\``);
  }
  // The ConfigMap is shared: each key must be read by at least one of the services it feeds.
  const union = new Set([...producerEnvNames, ...(await topicsInitEnvNames())]);
  for (const name of processorNames) for (const v of await processorEnvNames(name)) union.add(v);
  for (const key of Object.keys(config.data ?? {})) assert.ok(union.has(key), `ConfigMap key ${key} is read by some kubetrail service`);
});

test('topic-naming settings live in the shared ConfigMap, so the topics-init Job sees what the services see', async () => {
  const naming = await topicNamingEnv();
  for (const w of workloads) {
    for (const e of w.container.env ?? []) assert.ok(!naming.has(e.name), `${w.manifest.metadata.name}: ${e.name} names topics: set it in kubetrail-config, not in one container`);
  }
  assert.ok(topicsInit?.container.envFrom?.some((f: any) => f.configMapRef?.name === 'kubetrail-config'));
});
