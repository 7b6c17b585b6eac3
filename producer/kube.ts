// The Kubernetes side: resource discovery, paged lists and watches, through
// @kubernetes/client-node v2 (KubeConfig, CustomObjectsApi, ApisApi, Watch). Objects stay plain
// JSON as the API server sent them: no typed models (which would rewrite timestamps) and no
// informer cache.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { ApisApi, AuthenticationV1Api, AuthorizationV1Api, CustomObjectsApi, KubeConfig, Watch, type V1APIResourceList } from '@kubernetes/client-node';
import { ConfigError } from '../lib/config.js';

export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural, as in the URL. */
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

/**
 * The kubeconfig named by the setting (KUBECONFIG) if any; else, inside a pod (the kubelet sets
 * KUBERNETES_SERVICE_HOST and _PORT), the in-cluster configuration: the ServiceAccount token and
 * CA under /var/run/secrets/kubernetes.io/serviceaccount; else ~/.kube/config. (client-node's
 * loadFromDefault alone would prefer a ~/.kube/config left in the image over the pod's identity.)
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST && process.env.KUBERNETES_SERVICE_PORT) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** HTTP status of an error from client-node (ApiException.code, Watch's statusCode). */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; statusCode?: unknown; name?: unknown };
  // kafkajs errors carry a numeric Kafka error code, not an HTTP status.
  if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) return undefined;
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.code === 'number' ? e.code : undefined;
  return status !== undefined && status >= 100 && status <= 599 ? status : undefined;
}

/** GET of a path on the API server as raw JSON, with the kubeconfig's TLS and credentials. */
export async function rawGet(kc: KubeConfig, path: string, signal?: AbortSignal): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError('the kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  const options: import('node:https').RequestOptions = { method: 'GET', headers: { accept: 'application/json' }, signal };
  await kc.applyToHTTPSOptions(options);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 300) {
          const error = new Error(`GET ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`) as Error & { statusCode?: number };
          error.statusCode = res.statusCode;
          reject(error);
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A request that got no answer at all ("fetch failed"): say which server, and why. */
function unreachable(kc: KubeConfig, error: unknown): Error {
  const server = kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)';
  const cause = (error as { cause?: { message?: unknown } } | null)?.cause?.message;
  const why = [(error as Error)?.message, typeof cause === 'string' ? cause : undefined].filter(Boolean).join(': ');
  return new Error(`cannot reach the Kubernetes API server at ${server}: ${why}`, { cause: error });
}

/**
 * Finds the resource on the server (GET /apis/<group>/<version>, or /api/v1 for the core group).
 * An unknown group/version or resource is a configuration error that names what the server has.
 */
export async function discoverResource(kc: KubeConfig, group: string, version: string, resource: string): Promise<ResourceInfo> {
  let list: V1APIResourceList;
  const where = group ? `${group}/${version}` : version;
  try {
    if (group) list = await kc.makeApiClient(CustomObjectsApi).getAPIResources({ group, version });
    else list = (await rawGet(kc, `/api/${version}`)) as V1APIResourceList;
  } catch (error) {
    if (statusOf(error) === undefined) throw unreachable(kc, error);
    if (statusOf(error) !== 404) throw error;
    let served = '';
    try {
      const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
      served = groups.groups
        .flatMap((g) => g.versions.map((v) => v.groupVersion))
        .sort()
        .join(', ');
    } catch {
      // the server's group list is only a hint
    }
    throw new ConfigError(`invalid configuration:\n  group/version: the API server does not serve ${where}${served ? ` (it serves: ${served})` : ''}`);
  }
  const resources = (list.resources ?? []).filter((r) => !r.name.includes('/'));
  const found = resources.find((r) => r.name === resource);
  if (!found) {
    const names = resources.map((r) => r.name).sort();
    throw new ConfigError(
      `invalid configuration:\n  resource: ${where} has no resource '${resource}' (it has: ${names.join(', ') || 'none'}); set with --resource, KUBETRAIL_RESOURCE`,
    );
  }
  for (const verb of ['list', 'watch']) {
    if (!found.verbs.includes(verb)) throw new ConfigError(`invalid configuration:\n  resource: ${resource}.${where} cannot be ${verb}ed (verbs: ${found.verbs.join(', ')})`);
  }
  return { group, version, resource, kind: found.kind, namespaced: found.namespaced, verbs: found.verbs };
}

/** `resource.group` as RBAC rules and error messages write it (`pods` for the core group). */
function qualified(info: Pick<ResourceInfo, 'group' | 'resource'>): string {
  return info.group ? `${info.resource}.${info.group}` : info.resource;
}

/** The identity the API server sees for these credentials (SelfSubjectReview); undefined if it won't say. */
async function whoAmI(kc: KubeConfig): Promise<string | undefined> {
  try {
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    return review.status?.userInfo?.username;
  } catch {
    return undefined;
  }
}

/**
 * Asks the API server (SelfSubjectAccessReview) whether these credentials may list and watch the
 * resource in each watched namespace (all namespaces when none is named). A refusal is a
 * ConfigError naming the identity, the verbs it lacks, where, and the RBAC rule that grants them.
 * A server that answers no review (an old or locked-down one) is not checked here: the list then
 * says it.
 */
export async function checkAccess(kc: KubeConfig, info: ResourceInfo, namespaces: readonly string[]): Promise<void> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  const scopes = info.namespaced && namespaces.length > 0 ? namespaces : [undefined];
  const refused: string[] = [];
  for (const namespace of scopes) {
    const missing: string[] = [];
    for (const verb of ['list', 'watch']) {
      let review;
      try {
        review = await api.createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { group: info.group, version: info.version, resource: info.resource, verb, namespace } } },
        });
      } catch (error) {
        if (statusOf(error) === undefined) throw unreachable(kc, error);
        return;
      }
      if (!review.status?.allowed) missing.push(verb);
    }
    if (missing.length > 0) refused.push(`${missing.join(' and ')} ${qualified(info)} ${namespace ? `in namespace ${namespace}` : 'in all namespaces'}`);
  }
  if (refused.length === 0) return;
  const who = (await whoAmI(kc)) ?? 'the identity of the kubeconfig';
  throw new ConfigError(
    `invalid configuration:\n  permissions: the API server refuses ${who} to ${refused.join('; ')}. ` +
      `Grant it, in a (Cluster)Role bound to it: apiGroups: ["${info.group}"], resources: ["${info.resource}"], verbs: ["get", "list", "watch"] (the Helm chart's producer RBAC, charts/kubetrail, grants it for the resource of producer.resource)`,
  );
}

/** A sentence for a list or watch the API server refused (401/403), naming what is missing; undefined for other errors. */
export function refusal(info: Pick<ResourceInfo, 'group' | 'resource'>, verb: 'list' | 'watch', namespace: string | undefined, error: unknown): string | undefined {
  const status = statusOf(error);
  if (status !== 401 && status !== 403) return undefined;
  const where = namespace ? `in namespace ${namespace}` : 'in all namespaces';
  return status === 401
    ? `${verb} of ${qualified(info)} ${where} refused (401 Unauthorized): the API server does not accept these credentials (an expired or revoked token?)`
    : `${verb} of ${qualified(info)} ${where} refused (403 Forbidden): this identity lacks the RBAC permission to ${verb} ${qualified(info)}`;
}

/** The collection path of the resource in one namespace, or in all (namespace undefined). */
export function collectionPath(info: Pick<ResourceInfo, 'group' | 'version' | 'resource'>, namespace: string | undefined): string {
  const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  return namespace ? `${base}/namespaces/${namespace}/${info.resource}` : `${base}/${info.resource}`;
}

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  continueToken: string | undefined;
}

export interface Selectors {
  labelSelector: string;
  fieldSelector: string;
}

/** Lists and watches one resource. */
export class KubeSource {
  private readonly custom: CustomObjectsApi;
  private readonly watcher: Watch;

  constructor(
    readonly kc: KubeConfig,
    readonly info: ResourceInfo,
    readonly selectors: Selectors,
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(kc);
  }

  /** One page of a list (a consistent snapshot across pages, at the first page's resourceVersion). */
  async listPage(namespace: string | undefined, limit: number, continueToken: string | undefined, signal?: AbortSignal): Promise<ListPage> {
    const { group, version, resource } = this.info;
    const labelSelector = this.selectors.labelSelector || undefined;
    const fieldSelector = this.selectors.fieldSelector || undefined;
    let body: unknown;
    if (!group) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (continueToken) query.set('continue', continueToken);
      if (labelSelector) query.set('labelSelector', labelSelector);
      if (fieldSelector) query.set('fieldSelector', fieldSelector);
      body = await rawGet(this.kc, `${collectionPath(this.info, namespace)}?${query}`, signal);
    } else if (namespace) {
      body = await this.custom.listNamespacedCustomObject({ group, version, namespace, plural: resource, labelSelector, fieldSelector, limit, _continue: continueToken });
    } else if (this.info.namespaced) {
      body = await this.custom.listCustomObjectForAllNamespaces({ group, version, plural: resource, labelSelector, fieldSelector, limit, _continue: continueToken });
    } else {
      body = await this.custom.listClusterCustomObject({ group, version, plural: resource, labelSelector, fieldSelector, limit, _continue: continueToken });
    }
    const list = body as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
    const resourceVersion = list.metadata?.resourceVersion;
    if (!resourceVersion) throw new Error(`list of ${collectionPath(this.info, namespace)} returned no resourceVersion`);
    return { items: list.items ?? [], resourceVersion, continueToken: list.metadata?.continue || undefined };
  }

  /**
   * Starts a watch from `resourceVersion` (events strictly after it), with bookmarks. `onEvent`
   * gets each event in order; `onDone` once, when the watch ends for any reason (an error, the
   * server closing it, or abort). Returns the controller that stops it.
   */
  watch(
    namespace: string | undefined,
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (type: string, object: unknown) => void,
    onDone: (error: unknown) => void,
  ): Promise<AbortController> {
    const query: Record<string, string | number | boolean | undefined> = {
      resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds,
      labelSelector: this.selectors.labelSelector || undefined,
      fieldSelector: this.selectors.fieldSelector || undefined,
    };
    return this.watcher.watch(collectionPath(this.info, namespace), query, onEvent, onDone);
  }
}
