// Which Kubernetes credentials the producer uses (docs/producer.md, `kubeconfig`): the kubeconfig
// the setting names; else, in a pod, the in-cluster configuration, even when a ~/.kube/config
// exists; else ~/.kube/config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig } from '../../producer/kube.js';

function kubeconfigFile(dir: string, server: string): string {
  const file = join(dir, 'config');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return file;
}

/** Runs `body` with these environment variables set (undefined: unset), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return body();
  } finally {
    apply(saved);
  }
}

const home = mkdtempSync(join(tmpdir(), 'kubetrail-home-'));
mkdirSync(join(home, '.kube'));
kubeconfigFile(join(home, '.kube'), 'https://home-config.example:6443');
const named = kubeconfigFile(mkdtempSync(join(tmpdir(), 'kubetrail-kc-')), 'https://named.example:6443');
const inPod = { HOME: home, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

test('a kubeconfig named by the setting wins over the in-cluster configuration', () => {
  const kc = withEnv(inPod, () => loadKubeConfig(named));
  assert.equal(kc.getCurrentCluster()?.server, 'https://named.example:6443');
});

test('in a pod, with no kubeconfig named, the in-cluster configuration wins over ~/.kube/config', () => {
  const kc = withEnv(inPod, () => loadKubeConfig(undefined));
  assert.equal(kc.getCurrentCluster()?.server, 'https://10.96.0.1:443');
  assert.equal(kc.getCurrentCluster()?.caFile, '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
  assert.deepEqual(kc.getCurrentUser()?.authProvider, { name: 'tokenFile', config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } });
});

test('outside a pod, with no kubeconfig named, ~/.kube/config', () => {
  const kc = withEnv({ ...inPod, KUBERNETES_SERVICE_HOST: undefined, KUBERNETES_SERVICE_PORT: undefined }, () => loadKubeConfig(undefined));
  assert.equal(kc.getCurrentCluster()?.server, 'https://home-config.example:6443');
});
