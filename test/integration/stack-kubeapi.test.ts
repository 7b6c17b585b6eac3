// The local stack's Kubernetes API server is real: Workflows created, patched and deleted arrive
// on a label-selected watch as ADDED, MODIFIED and DELETED (unlabelled ones don't), bookmarks
// arrive when asked for, a watch from a compacted resourceVersion gets 410 Gone, and compaction
// plus defragmentation (npm run stack -- compact) gives etcd's space back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { ArgoSimulator, workflowResource, bareWorkflow } from '../../stack/argo-simulator.js';
import { LocalStack } from '../../stack/stack.js';
import { statSync } from 'node:fs';
import { compactEtcd, defragmentEtcd, etcdDataFile } from '../../stack/kubeapi.js';
import { testConnection, uniqueName } from '../support/services.js';

testConnection();
const kc = new KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG!);
const sim = new ArgoSimulator(kc);
const path = (ns: string) => `/apis/${workflowResource.group}/${workflowResource.version}/namespaces/${ns}/${workflowResource.plural}`;

interface Seen {
  type: string;
  name?: string;
  code?: number;
  resourceVersion?: string;
}

/** Watches until `until` says stop (or 20 s pass), returning every event seen. */
async function watchEvents(p: string, query: Record<string, string | number | boolean | undefined>, until: (seen: Seen[]) => boolean, act?: () => Promise<void>) {
  const seen: Seen[] = [];
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const controller = await new Watch(kc).watch(
    p,
    query,
    (type, obj: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) => {
      seen.push({ type, name: obj.metadata?.name, code: obj.code, resourceVersion: obj.metadata?.resourceVersion });
      if (until(seen)) stop();
    },
    (error?: { statusCode?: number; code?: number }) => {
      if (error?.statusCode ?? error?.code) seen.push({ type: 'DONE', code: error.statusCode ?? error.code });
      stop();
    },
  );
  const timer = setTimeout(stop, 20_000);
  await act?.();
  await stopped;
  clearTimeout(timer);
  controller.abort();
  return seen;
}

test('a label-selected watch sees ADDED, MODIFIED and DELETED of labelled workflows only', async () => {
  const ns = uniqueName('watch');
  const tracked = uniqueName('tracked');
  const untracked = uniqueName('untracked');
  const seen = await watchEvents(
    path(ns),
    { labelSelector: 'track-me=true' },
    (s) => s.some((e) => e.type === 'DELETED'),
    async () => {
      await sim.create(bareWorkflow(ns, untracked, { 'track-me': 'false' }));
      await sim.create(bareWorkflow(ns, tracked, { 'track-me': 'true' }));
      await sim.patch(ns, untracked, { status: { phase: 'Running' } });
      await sim.patch(ns, tracked, { status: { phase: 'Running' } });
      await sim.patch(ns, tracked, { status: { phase: 'Succeeded' } });
      await sim.delete(ns, untracked);
      await sim.delete(ns, tracked);
    },
  );
  assert.deepEqual(
    seen.map((e) => `${e.type} ${e.name}`),
    [`ADDED ${tracked}`, `MODIFIED ${tracked}`, `MODIFIED ${tracked}`, `DELETED ${tracked}`],
  );
  const versions = seen.map((e) => Number(e.resourceVersion));
  assert.deepEqual([...versions].sort((a, b) => a - b), versions, 'resourceVersions increase along the watch');
});

test('a watch asked for bookmarks receives BOOKMARK events', async () => {
  // The API server sends a bookmark when the initial events end (sendInitialEvents) — the
  // quickest way to see one without waiting for the periodic bookmark.
  const ns = uniqueName('bookmark');
  await sim.create(bareWorkflow(ns, uniqueName('wf'), { 'track-me': 'true' }));
  const seen = await watchEvents(
    path(ns),
    { labelSelector: 'track-me=true', allowWatchBookmarks: true, sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' },
    (s) => s.some((e) => e.type === 'BOOKMARK'),
  );
  assert.ok(seen.some((e) => e.type === 'ADDED'), 'the initial state arrives as ADDED');
  assert.ok(seen.some((e) => e.type === 'BOOKMARK'), `a bookmark arrives (saw ${seen.map((e) => e.type).join(',')})`);
});

const local = process.env.KUBETRAIL_STACK_DIR ? new LocalStack({ stackDir: process.env.KUBETRAIL_STACK_DIR }) : undefined;

test('a watch from a resourceVersion older than an etcd compaction gets 410 Gone', { skip: local ? false : 'compaction needs the embedded stack' }, async () => {
  const ns = uniqueName('gone');
  const name = uniqueName('wf');
  const created = (await sim.create(bareWorkflow(ns, name, { 'track-me': 'true' }))) as { metadata: { resourceVersion: string } };
  const oldVersion = created.metadata.resourceVersion;
  await sim.patch(ns, name, { status: { phase: 'Running' } });
  await sim.patch(ns, name, { status: { phase: 'Succeeded' } });
  await compactEtcd(await local!.context());
  const seen = await watchEvents(path(ns), { resourceVersion: oldVersion }, (s) => s.some((e) => e.code === 410));
  assert.ok(
    seen.some((e) => e.code === 410),
    `expected 410 Gone, saw ${JSON.stringify(seen)}`,
  );
});

test('compaction and defragmentation give the space of deleted objects back to the file system', { skip: local ? false : 'defragmentation needs the embedded stack' }, async () => {
  const context = await local!.context();
  // Space that is free inside the file already (from earlier writes) must not count as freed here.
  await compactEtcd(context);
  await defragmentEtcd(context);
  const ns = uniqueName('defrag');
  const objects = 30;
  const padding = 'x'.repeat(400_000);
  const names = Array.from({ length: objects }, (_, i) => `${uniqueName('wf')}-${i}`);
  for (const name of names) {
    const script = bareWorkflow(ns, name, {});
    await sim.create({ ...script, create: { ...script.create, spec: { entrypoint: 'main', padding } } });
    await sim.patch(ns, name, { spec: { padding: `${padding}y` } });
  }
  for (const name of names) await sim.delete(ns, name);
  await compactEtcd(context);
  const before = statSync(etcdDataFile(context)).size;
  await defragmentEtcd(context);
  const after = statSync(etcdDataFile(context)).size;
  // 60 revisions of ~400 kB are gone after the compaction (24 MB); bbolt grows its file in steps
  // of up to 16 MiB, so at least 24 MB - 16 MiB must come back.
  const written = objects * 2 * padding.length;
  assert.ok(before - after >= written - 16 * 1024 * 1024, `defragmentation gave back ${before - after} bytes (file ${before} → ${after}); ${written} bytes of deleted objects were compacted away`);
});
