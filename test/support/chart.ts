// The chart tests' tools: helm (helm.sh/helm/v3's cmd/helm) and chart-check (strict decoding into
// the Kubernetes and Prometheus Operator Go types), both built from test/chart-tools (its go.mod
// pins them) by stack/go-build.ts into the shared cache, once per source hash; and the Prometheus
// Operator CRDs of the same release, from its Go module (example/prometheus-operator-crd/).
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildGoProgram, type GoProgram } from '../../stack/go-build.js';
import { cacheDirectory } from '../../stack/service.js';
import { repoPath } from './deploy.js';

export const chartDir = repoPath('charts', 'kubetrail');
const toolsDir = repoPath('test', 'chart-tools');

/** The version test/chart-tools/go.mod requires of a module. */
export function pinnedVersion(module: string): string {
  const line = readFileSync(join(toolsDir, 'go.mod'), 'utf8').split('\n').find((l) => l.trim().startsWith(`${module} v`));
  if (!line) throw new Error(`test/chart-tools/go.mod pins no ${module}`);
  return line.trim().split(/\s+/)[1] as string;
}

/**
 * What helm's Makefile sets: its version, and the Kubernetes version `helm template` assumes
 * (Capabilities.KubeVersion; unset, helm says v1.20) from the client-go it is built with.
 */
function helmLdflags(): string {
  // k8s.io/client-go v0.37.2 is Kubernetes 1.37.2.
  const minor = pinnedVersion('k8s.io/client-go').split('.')[1];
  return [
    `-X helm.sh/helm/v3/internal/version.version=${pinnedVersion('helm.sh/helm/v3')}`,
    ...['pkg/chartutil', 'pkg/lint/rules'].flatMap((pkg) => [`-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`, `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${minor}`]),
  ].join(' ');
}

const chartTools: GoProgram = {
  label: 'the chart tools (helm, chart-check)',
  sourceDir: toolsDir,
  binaries: { helm: 'helm.sh/helm/v3/cmd/helm', 'chart-check': '.' },
  ldflags: helmLdflags(),
  cacheName: 'chart-tools',
  // `go list -deps helm.sh/helm/v3/cmd/helm .` of the pinned go.mod, standard library included.
  packages: 968,
  announce: 'building helm and chart-check (test/chart-tools; first time: about 100 s on 2 cores with an empty Go build cache; progress every 30 s)…',
};

/** The cached helm and chart-check binaries, built on first use (progress on stderr). */
export async function ensureChartTools(): Promise<{ helm: string; chartCheck: string }> {
  const cache = cacheDirectory();
  const dir = await buildGoProgram(cache, chartTools, (line) => process.stderr.write(`[chart] ${line}\n`));
  return { helm: join(dir, 'helm'), chartCheck: join(dir, 'chart-check') };
}

export interface Rendered {
  /** helm's exit code; its stdout (the manifests) and stderr. */
  code: number;
  stdout: string;
  stderr: string;
}

/** `helm template <release> charts/kubetrail --namespace <ns>` with the values given as a file. */
export function helmTemplate(helm: string, values: object, options: { release?: string; namespace?: string } = {}): Promise<Rendered> {
  // One private directory for the values file and helm's cache and config, removed afterwards.
  const dir = mkdtempSync(join(tmpdir(), 'kubetrail-chart-'));
  const file = join(dir, 'values.json');
  writeFileSync(file, JSON.stringify(values));
  const args = ['template', options.release ?? 'kubetrail', chartDir, '--namespace', options.namespace ?? 'kubetrail', '--values', file];
  return new Promise((resolve) => {
    execFile(helm, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HELM_CACHE_HOME: dir, HELM_CONFIG_HOME: dir } }, (error, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

/** The objects of helm's multi-document output (empty documents dropped). */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('; '));
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

export interface CheckedObject {
  apiVersion: string;
  kind: string;
  name: string;
  error?: string;
}

/** chart-check's verdict on every object of a rendering: one entry per object, and its exit code. */
export function strictDecode(chartCheck: string, manifests: string): { code: number; objects: CheckedObject[]; totals: { objects: number; failed: number } } {
  let stdout: string;
  let code = 0;
  try {
    stdout = execFileSync(chartCheck, { input: manifests, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    if (failed.status !== 1) throw new Error(`chart-check failed (${failed.status}): ${failed.stderr}`);
    code = 1;
    stdout = failed.stdout ?? '';
  }
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const last = lines.pop() as { totals: { objects: number; failed: number } };
  return { code, objects: lines as unknown as CheckedObject[], totals: last.totals };
}

/** The version of the Prometheus Operator's API types test/chart-tools/go.mod pins. */
export const prometheusOperatorVersion = () => pinnedVersion('github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring');

/** The CRDs of the Prometheus Operator release whose types chart-check uses (its Go module, from the module proxy or cache). */
export function prometheusOperatorCrds(names: string[]): Manifest[] {
  const module = `github.com/prometheus-operator/prometheus-operator@${prometheusOperatorVersion()}`;
  const info = JSON.parse(execFileSync('go', ['mod', 'download', '-json', module], { cwd: tmpdir(), encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' } })) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}: ${info.Error}`);
  const dir = join(info.Dir, 'example', 'prometheus-operator-crd');
  const files = readdirSync(dir).filter((f) => names.some((n) => f === `monitoring.coreos.com_${n}.yaml`));
  if (files.length !== names.length) throw new Error(`${dir} has ${files.join(', ')}; expected the CRDs of ${names.join(', ')}`);
  return files.flatMap((f) => parseManifests(readFileSync(join(dir, f), 'utf8')));
}
