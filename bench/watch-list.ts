// `npx tsx bench/watch-list.ts [--workflows N]`: the producer's relist (a paged list, limit 100, as
// producer/kube.ts listPage does) against a streaming list (watch-list, KEP-3157: one watch with
// sendInitialEvents=true, resourceVersionMatch=NotOlderThan, allowWatchBookmarks=true, ended by the
// bookmark annotated k8s.io/initial-events-end) of the same N workflows, through client-node's
// CustomObjectsApi and Watch. Each mode runs in a child process of its own, three times,
// alternating; it reports the time to receive every object and the child's peak RSS and heap.
// An evaluation, run by hand against the embedded stack (npm run stack -- up): not part of
// `npm run bench`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { workflowResource } from '../stack/argo-simulator.js';
import { readStackConnection } from '../lib/stack-connection.js';
import { pool, simulator } from './lib/workflows.js';
import { median } from './lib/stats.js';

const kubeconfig = process.env.KUBECONFIG ?? readStackConnection().KUBECONFIG;
if (!kubeconfig) throw new Error('no KUBECONFIG and no local stack (npm run stack -- up)');
const args = process.argv.slice(2);
const at = args.indexOf('--child');

interface Sample {
  mode: string;
  objects: number;
  ms: number;
  maxRssMb: number;
  maxHeapMb: number;
}

/** Child: receives every workflow of `ns` in one mode and prints one JSON sample. */
async function child(mode: 'paged' | 'watch-list', ns: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig!);
  let maxHeap = 0;
  const sampler = setInterval(() => (maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed)), 5);
  const began = performance.now();
  let objects = 0;
  if (mode === 'paged') {
    const api = kc.makeApiClient(CustomObjectsApi);
    let next: string | undefined;
    do {
      const page = (await api.listNamespacedCustomObject({ ...workflowResource, namespace: ns, limit: 100, _continue: next })) as { items: unknown[]; metadata: { continue?: string } };
      objects += page.items.length;
      next = page.metadata.continue || undefined;
    } while (next);
  } else {
    const path = `/apis/${workflowResource.group}/${workflowResource.version}/namespaces/${ns}/${workflowResource.plural}`;
    await new Promise<void>((resolve, reject) => {
      let controller: AbortController | undefined;
      void new Watch(kc)
        .watch(
          path,
          { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true },
          (type, object: { metadata?: { annotations?: Record<string, string> } }) => {
            if (type === 'ADDED') objects += 1;
            else if (type === 'BOOKMARK' && object.metadata?.annotations?.['k8s.io/initial-events-end'] === 'true') {
              controller?.abort();
              resolve();
            }
          },
          (error) => (error && (error as Error).name !== 'AbortError' ? reject(error as Error) : resolve()),
        )
        .then((c) => (controller = c), reject);
    });
  }
  const ms = performance.now() - began;
  clearInterval(sampler);
  maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
  const sample: Sample = { mode, objects, ms, maxRssMb: process.resourceUsage().maxRSS / 1024, maxHeapMb: maxHeap / 1e6 };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

function runChild(mode: string, ns: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode, ns], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KUBECONFIG: kubeconfig } });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Sample) : reject(new Error(`${mode} child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const count = Number(args[args.indexOf('--workflows') + 1] ?? 0) || 1000;
  const ns = `bench-watch-list-${Date.now().toString(36)}`;
  const sim = simulator(kubeconfig!);
  const root = join(fileURLToPath(new URL('..', import.meta.url)));
  const fixture = JSON.parse(readFileSync(join(root, 'test/fixtures/argo-workflows/workflows/dag-diamond-82q7s-1e994e4481.json'), 'utf8')) as Record<string, unknown>;
  process.stderr.write(`[watch-list] creating ${count} workflows (dag-diamond fixture with its status) in ${ns}…\n`);
  await pool(count, 16, 600_000, async (i) => {
    await sim.create({ namespace: ns, name: `wf-${i}`, steps: [], finalPhase: 'Succeeded', create: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name: `wf-${i}`, namespace: ns }, spec: fixture.spec, status: fixture.status } });
  });
  const samples: Sample[] = [];
  for (let round = 0; round < 3; round++) for (const mode of round % 2 ? ['watch-list', 'paged'] : ['paged', 'watch-list']) samples.push(await runChild(mode, ns));
  for (const mode of ['paged', 'watch-list']) {
    const mine = samples.filter((s) => s.mode === mode);
    const bad = mine.find((s) => s.objects !== count);
    if (bad) throw new Error(`${mode} received ${bad.objects} of ${count} objects`);
    process.stdout.write(
      `${mode.padEnd(10)} ${count} objects: median ${median(mine.map((s) => s.ms)).toFixed(0)} ms, peak RSS ${median(mine.map((s) => s.maxRssMb)).toFixed(0)} MB, peak heap ${median(mine.map((s) => s.maxHeapMb)).toFixed(0)} MB (runs: ${mine.map((s) => s.ms.toFixed(0)).join(', ')} ms)\n`,
    );
  }
  await sim.api.deleteCollectionNamespacedCustomObject({ ...workflowResource, namespace: ns }).catch(() => undefined);
}

if (at >= 0) await child(args[at + 1] as 'paged' | 'watch-list', args[at + 2]!);
else await main();
