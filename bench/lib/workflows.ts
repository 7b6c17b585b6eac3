// Writing workflows to the API server for the benchmarks (stack/argo-simulator.ts: real creates
// and merge patches, as Argo's controller writes them). Summaries are read back by
// bench/children/subscriber.ts.
import { KubeConfig } from '@kubernetes/client-node';
import { ArgoSimulator, workflowResource } from '../../stack/argo-simulator.js';
import type { ObjectTemplate } from './workload.js';
import { sleep } from './context.js';

export function simulator(kubeconfig: string): ArgoSimulator {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  for (const cluster of kc.getClusters()) {
    const host = new URL(cluster.server).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`benchmarks write to a local API server only, not ${cluster.server}`);
  }
  return new ArgoSimulator(kc);
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once; stops at the deadline. */
export async function pool(count: number, concurrency: number, deadlineMs: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let done = 0;
  const deadline = Date.now() + deadlineMs;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && Date.now() < deadline) {
        const i = next++;
        await task(i);
        done += 1;
      }
    }),
  );
  return done;
}

export interface Created {
  names: string[];
  seconds: number;
  bytes: number;
}

/** Creates `count` workflows (templates round robin), `concurrency` requests at once. */
export async function createWorkflows(
  sim: ArgoSimulator,
  namespace: string,
  prefix: string,
  templates: ObjectTemplate[],
  count: number,
  options: { concurrency?: number; deadlineMs?: number; onProgress?: (n: number) => void } = {},
): Promise<Created> {
  const names: string[] = new Array(count);
  let bytes = 0;
  const began = Date.now();
  const done = await pool(count, options.concurrency ?? 8, options.deadlineMs ?? 600_000, async (i) => {
    const name = `${prefix}-${i}`;
    const template = templates[i % templates.length]!;
    const body = template.createBody(name, namespace);
    bytes += template.bytes;
    await withRetry(() => sim.create({ namespace, name, create: body, steps: [], finalPhase: '' }));
    names[i] = name;
    if ((i + 1) % 500 === 0) options.onProgress?.(i + 1);
  });
  if (done < count) throw new Error(`created ${done} of ${count} workflows before the deadline`);
  return { names, seconds: (Date.now() - began) / 1000, bytes };
}

/** Retries transient API errors (429, 5xx, connection resets) a few times. */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: number }).code;
      const transient = code === undefined || code === 429 || code >= 500;
      if (!transient || n >= attempts) throw error;
      await sleep(200 * n);
    }
  }
}

/** Deletes every workflow of the namespace (one deletecollection request). */
export async function deleteAll(sim: ArgoSimulator, namespace: string): Promise<void> {
  await sim.api.deleteCollectionNamespacedCustomObject({ ...workflowResource, namespace });
}
