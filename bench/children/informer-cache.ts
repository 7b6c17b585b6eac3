// The reference for the producer's memory: what an informer's cache of the same objects holds.
// Lists every workflow of a namespace from the API server (pages of 500, as an informer's
// initial list) and keeps each parsed object in a Map by uid, as a client-go/client-node informer
// store does, then reports the heap after a full GC (run with --expose-gc) and the RSS.
// BENCH_SPEC = {namespace}. Prints {"event":"done", baseline…, after…} on stdout.
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';

const spec = JSON.parse(process.env.BENCH_SPEC ?? '{}') as { namespace: string };
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...event, at: Date.now() })}\n`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const api = kc.makeApiClient(CustomObjectsApi);
gc();
const baseline = process.memoryUsage();

const store = new Map<string, unknown>();
let continueToken: string | undefined;
let pages = 0;
const began = Date.now();
do {
  const page = (await api.listNamespacedCustomObject({
    group: 'argoproj.io',
    version: 'v1alpha1',
    plural: 'workflows',
    namespace: spec.namespace,
    limit: 500,
    _continue: continueToken,
  })) as { items: Array<{ metadata: { uid: string } }>; metadata?: { continue?: string; _continue?: string } };
  for (const item of page.items) store.set(item.metadata.uid, item);
  continueToken = page.metadata?.continue || page.metadata?._continue || undefined;
  pages += 1;
} while (continueToken && pages < 10_000);
const listMs = Date.now() - began;
gc();
gc();
const after = process.memoryUsage();
let jsonBytes = 0;
for (const object of store.values()) jsonBytes += Buffer.byteLength(JSON.stringify(object));
say({
  event: 'done',
  objects: store.size,
  jsonBytes,
  listMs,
  baselineHeap: baseline.heapUsed,
  baselineRss: baseline.rss,
  heapUsed: after.heapUsed,
  rss: after.rss,
  heldHeap: after.heapUsed - baseline.heapUsed,
});
process.exit(0);
