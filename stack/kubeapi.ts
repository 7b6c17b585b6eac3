// Embedded Kubernetes API server: the Go program in stack/kube-apiserver (embedded etcd plus the
// real kube-apiserver of k8s.io/kubernetes, pinned by its go.mod), built once per source hash into
// the shared cache. It serves the core and built-in APIs and the CRDs of stack/crds (Argo's
// Workflow) over HTTPS with certificates it generates on first start, authorizes with RBAC and
// Node, signs ServiceAccount tokens with a key it generates, and writes an admin kubeconfig
// (client certificate in group system:masters) into its data dir.
//
// Only node built-ins here: the stack must be able to start before anything else is built.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { buildGoProgram, goProgramDir, type GoProgram } from './go-build.js';
import type { LaunchSpec, ServiceDefinition, StackContext } from './service.js';

/** The CRD files applied on every start, relative to the repository root. */
export const kubeapiCrdFiles = ['stack/crds/argoproj.io_workflows.yaml'] as const;

/** How often a quiet watch with allowWatchBookmarks=true receives a BOOKMARK (etcd progress notify). */
export const kubeapiBookmarkIntervalSeconds = 5;

function sourceDir(ctx: StackContext): string {
  return path.join(ctx.root, 'stack', 'kube-apiserver');
}

/** The kube-apiserver as a Go program of stack/go-build.ts. */
function program(ctx: StackContext): GoProgram {
  return {
    label: 'the Kubernetes API server',
    sourceDir: sourceDir(ctx),
    binaries: { 'kube-apiserver': '.' },
    cacheName: 'kube-apiserver',
    // `go list -deps .` of the pinned go.mod, standard library included.
    packages: 2160,
    announce:
      'building the Kubernetes API server (stack/kube-apiserver: etcd + kube-apiserver of k8s.io/kubernetes; first time: about 15 minutes on 2 cores with an empty Go build cache; progress every 30 s)…',
  };
}

/** <cacheDir>/kube-apiserver/<source hash>/kube-apiserver */
export async function kubeapiBinary(ctx: StackContext): Promise<string> {
  return path.join(await goProgramDir(ctx.cacheDir, program(ctx)), 'kube-apiserver');
}

/** The admin kubeconfig the server writes at each start: <dataDir('kubeapi')>/kubeconfig. */
export function kubeconfigPath(ctx: StackContext): string {
  return path.join(ctx.dataDir('kubeapi'), 'kubeconfig');
}

/** https://127.0.0.1:<ports.kubeapi> */
export function kubeapiUrl(ctx: StackContext): string {
  return `https://${ctx.host}:${ctx.ports.kubeapi}`;
}

/** http://127.0.0.1:<ports.etcdClient>: etcd's client URL, which also serves its JSON gateway. */
export function etcdUrl(ctx: StackContext): string {
  return `http://${ctx.host}:${ctx.ports.etcdClient}`;
}

async function prepare(ctx: StackContext): Promise<void> {
  await buildGoProgram(ctx.cacheDir, program(ctx), (line) => ctx.progress(line));
}

async function launch(ctx: StackContext): Promise<LaunchSpec> {
  const binary = await kubeapiBinary(ctx);
  if (!existsSync(binary)) throw new Error(`kube-apiserver: ${binary} is missing: prepare() must run first`);
  const dataDir = ctx.dataDir('kubeapi');
  await mkdir(dataDir, { recursive: true });
  const args = [
    `--data-dir=${dataDir}`,
    `--port=${ctx.ports.kubeapi}`,
    `--etcd-client-port=${ctx.ports.etcdClient}`,
    `--etcd-peer-port=${ctx.ports.etcdPeer}`,
    ...kubeapiCrdFiles.map((f) => `--crd=${path.join(ctx.root, f)}`),
    `--kubeconfig-out=${kubeconfigPath(ctx)}`,
    `--bookmark-interval=${kubeapiBookmarkIntervalSeconds}s`,
    '--watch-cache=false',
  ];
  return { command: binary, args, cwd: ctx.root };
}

export interface KubeapiTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** CA, client certificate and key of the generated kubeconfig's admin user. */
export async function kubeapiTls(ctx: StackContext): Promise<KubeapiTls> {
  const text = await readFile(kubeconfigPath(ctx), 'utf8');
  const field = (name: string): Buffer => {
    const m = new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, 'm').exec(text);
    if (!m?.[1]) throw new Error(`kube-apiserver: ${kubeconfigPath(ctx)} has no ${name}`);
    return Buffer.from(m[1], 'base64');
  };
  return {
    ca: field('certificate-authority-data'),
    cert: field('client-certificate-data'),
    key: field('client-key-data'),
  };
}

/** One authenticated GET against the API server; resolves with the status code and body. */
export function kubeapiGet(
  ctx: StackContext,
  tls: KubeapiTls,
  urlPath: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: ctx.host,
        port: ctx.ports.kubeapi,
        path: urlPath,
        method: 'GET',
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        servername: 'localhost',
        agent: false,
        timeout: timeoutMs,
        headers: { accept: 'application/json' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: timed out after ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function ready(ctx: StackContext): Promise<boolean> {
  try {
    const tls = await kubeapiTls(ctx);
    // /readyz: etcd, the post-start hooks (RBAC bootstrap roles, system namespaces, the
    // ServiceAccounts controller) and the informers are all done.
    const health = await kubeapiGet(ctx, tls, '/readyz');
    if (health.status !== 200) return false;
    // Discovery can list the group a moment before the resource's handler serves it (writes then
    // get a bare 404): ready means a list of workflows answers.
    const list = await kubeapiGet(ctx, tls, '/apis/argoproj.io/v1alpha1/workflows?limit=1');
    return list.status === 200;
  } catch {
    return false;
  }
}

async function etcdGateway<T>(ctx: StackContext, route: string, body: unknown): Promise<T> {
  const res = await fetch(`${etcdUrl(ctx)}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${route}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

interface EtcdHeader {
  header?: { revision?: string };
}

function headerRevision(route: string, r: EtcdHeader): number {
  const rev = Number(r.header?.revision);
  if (!Number.isSafeInteger(rev) || rev <= 0) throw new Error(`etcd ${route}: no revision in ${JSON.stringify(r)}`);
  return rev;
}

/** etcd's current revision (what the API server reports as the latest resourceVersion). */
export async function etcdRevision(ctx: StackContext): Promise<number> {
  // A range over the single key "\0" (base64 "AA=="): cheap, and its header carries the revision.
  return headerRevision('/v3/kv/range', await etcdGateway<EtcdHeader>(ctx, '/v3/kv/range', { key: 'AA==' }));
}

/**
 * Compacts etcd's history up to the current revision, as the API server's own compactor would
 * (which is switched off here): records it under `compact_rev_key`, then compacts physically.
 * Afterwards a watch or an exact list from any older resourceVersion gets 410 Gone.
 * Returns the compacted revision.
 */
export async function compactEtcd(ctx: StackContext): Promise<number> {
  const key = Buffer.from('compact_rev_key').toString('base64');
  // The put creates revision R; its value must be R, so read the revision first and write R+1.
  // (Nothing else writes between the two calls in a test; if something does, the value is
  // merely a lower bound, which the API server tolerates.)
  const current = await etcdRevision(ctx);
  const put = await etcdGateway<EtcdHeader>(ctx, '/v3/kv/put', {
    key,
    value: Buffer.from(String(current + 1)).toString('base64'),
  });
  const rev = headerRevision('/v3/kv/put', put);
  await etcdGateway(ctx, '/v3/kv/compaction', { revision: String(rev), physical: true });
  return rev;
}

/** etcd's data file (bbolt): what the 2 GiB quota counts, and what defragmentEtcd shrinks. */
export function etcdDataFile(ctx: Pick<StackContext, 'dataDir'>): string {
  return path.join(ctx.dataDir('kubeapi'), 'etcd', 'member', 'snap', 'db');
}

/**
 * Gives the space compaction freed back to the file system. etcd's data file never shrinks by
 * itself (compaction only frees pages inside it), and the benchmarks judge etcd's headroom by
 * that file's size. It blocks etcd while it copies the live data, so only when no test runs.
 */
export async function defragmentEtcd(ctx: StackContext): Promise<void> {
  await etcdGateway(ctx, '/v3/maintenance/defragment', {});
}

export const kubeapi: ServiceDefinition = {
  name: 'kubeapi',
  prepare,
  launch,
  ready,
  startTimeoutMs: 90_000,
};
