// Producer memory with many watched objects: `npx tsx bench/producer-memory.ts [--objects 200,2000]
// [--size 50000] [--informer] [--compiled]` against the local stack (`npm run stack -- up`).
// --compiled runs dist/producer/main.js (`npm run build` first) instead of the TypeScript through
// tsx, which alone adds about 100 MB of RSS.
//
// For each object count: creates that many labelled Workflows of about --size bytes in a fresh
// namespace, starts the producer (its own process, so its RSS is its own), and samples its RSS
// (/proc/<pid>/status) while it (1) lists them all at its first start (READ), (2) publishes one
// MODIFIED per object (every workflow patched), (3) sits idle. With --informer, the same objects
// are also held by a @kubernetes/client-node informer (what an informer-based exporter such as
// Argo Events' resource event source keeps: every object in memory) for comparison.
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, KubeConfig, makeInformer, type KubernetesObject } from '@kubernetes/client-node';
import { ArgoSimulator, workflowResource } from '../stack/argo-simulator.js';
import { createKafka } from '../lib/kafka/client.js';
import { connectionSchema } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { childProducerEnv, spawnProducer } from '../test/support/producer.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] ? args[at + 1]! : fallback;
};

/** Loads .kubetrail/stack/connection.env unless the environment names the services. */
function loadStackEnv() {
  if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL && process.env.KUBECONFIG) return;
  const text = readFileSync(join(root, '.kubetrail', 'stack', 'connection.env'), 'utf8');
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) process.env[line.slice(0, at)] ??= line.slice(at + 1);
  }
}

function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

class RssSampler {
  peak = 0;
  last = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
  }
  sample() {
    this.last = rssOf(this.pid);
    this.peak = Math.max(this.peak, this.last);
    return this.last;
  }
  resetPeak() {
    this.peak = this.sample();
  }
  stop() {
    clearInterval(this.timer);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The producer's V8 heap in use, from its /metrics (prom-client default metrics). */
class HeapSampler {
  peak = 0;
  last = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly port: number) {
    this.timer = setInterval(() => void this.sample(), 250);
  }
  async sample() {
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
      const value = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1];
      if (value) {
        this.last = Number(value);
        this.peak = Math.max(this.peak, this.last);
      }
    } catch {
      // not up yet
    }
    return this.last;
  }
  resetPeak() {
    this.peak = this.last;
  }
  stop() {
    clearInterval(this.timer);
  }
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** A Workflow of about `size` bytes: a real spec and final status, with synthetic nodes added. */
function workflowOf(template: Record<string, unknown>, ns: string, name: string, size: number) {
  const status = structuredClone((template.status ?? {}) as Record<string, unknown>);
  const nodes = { ...((status.nodes ?? {}) as Record<string, unknown>) };
  let i = 0;
  while (JSON.stringify(nodes).length + JSON.stringify(template.spec).length < size) {
    const id = `${name}-${1_000_000_000 + i}`;
    nodes[id] = {
      id,
      name: `${name}[${i}].step`,
      displayName: `step-${i}`,
      type: 'Pod',
      templateName: 'echo',
      phase: 'Succeeded',
      message: `step ${i} done`,
      startedAt: '2024-10-01T04:27:23Z',
      finishedAt: '2024-10-01T04:27:33Z',
      hostNodeName: `node-${i % 7}`,
      outputs: { exitCode: '0', parameters: [{ name: 'out', value: `v-${i}` }] },
      resourcesDuration: { cpu: i % 5, memory: i % 11 },
    };
    i += 1;
  }
  status.nodes = nodes;
  return {
    namespace: ns,
    name,
    create: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name, namespace: ns, labels: { 'track-me': 'true' } }, spec: template.spec, status },
    steps: [],
    finalPhase: String(status.phase ?? ''),
  };
}

/** Runs `work` over the items, `concurrency` at a time, retrying each for a while (the shared API server may restart). */
async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>) {
  let next = 0;
  const retrying = async (item: T) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await work(item);
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code === 409 || attempt >= 60) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await retrying(items[next++]!);
    }),
  );
}

/** Counts the records of a topic as they are committed. */
async function countRecords(kafka: ReturnType<typeof createKafka>, topic: string) {
  const consumer = kafka.consumer({ groupId: `bench-count-${Date.now()}-${Math.random()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  let count = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachBatch: async ({ batch }) => void (count += batch.messages.length) });
  return {
    get count() {
      return count;
    },
    async until(n: number, timeoutMs: number, check: () => void = () => {}) {
      const deadline = Date.now() + timeoutMs;
      while (count < n) {
        check();
        if (Date.now() > deadline) throw new Error(`only ${count} of ${n} records after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: () => consumer.disconnect(),
  };
}

/** Child mode: an informer over the namespace, reporting how many objects it holds. */
async function informerChild(ns: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  const api = kc.makeApiClient(CustomObjectsApi);
  const path = `/apis/${workflowResource.group}/${workflowResource.version}/namespaces/${ns}/${workflowResource.plural}`;
  // The informer's list, paged (one 100 MB response would be unfair to it): it keeps every item.
  const list = async () => {
    const items: unknown[] = [];
    let next: string | undefined;
    let resourceVersion = '';
    do {
      const page = (await api.listNamespacedCustomObject({ ...workflowResource, namespace: ns, labelSelector: 'track-me=true', limit: 100, _continue: next })) as {
        items: unknown[];
        metadata: { continue?: string; resourceVersion: string };
      };
      items.push(...page.items);
      next = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (next);
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items } as never;
  };
  const informer = makeInformer<KubernetesObject>(kc, path, list, 'track-me=true');
  informer.on('error', (error: unknown) => process.stderr.write(`informer error: ${String(error)}\n`));
  let events = 0;
  for (const type of ['add', 'update', 'delete'] as const) informer.on(type, () => void (events += 1));
  await informer.start();
  setInterval(() => process.stdout.write(`${JSON.stringify({ cached: informer.list().length, events })}\n`), 500);
}

async function main() {
  if (args[0] === '--informer-child') return informerChild(args[1]!);
  loadStackEnv();
  const counts = arg('objects', '200,2000').split(',').map(Number);
  const size = Number(arg('size', '50000'));
  const withInformer = args.includes('--informer');
  const compiled = args.includes('--compiled');
  const heapCap = args.includes('--heap-cap') ? Number(arg('heap-cap', '0')) : undefined;
  const childNodeOptions = [process.env.NODE_OPTIONS ?? '', heapCap ? `--max-old-space-size=${heapCap}` : ''].join(' ').trim();
  const connection = connectionSchema.parse({ kafkaBrokers: process.env.KAFKA_BROKERS, schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL });
  const logger = createLogger('bench', 'warn');
  const kafka = createKafka(connection, logger, 'kubetrail-bench-memory');
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.KUBECONFIG!);
  const sim = new ArgoSimulator(kc);
  const api = kc.makeApiClient(CustomObjectsApi);
  const template = JSON.parse(readFileSync(join(root, 'test/fixtures/argo-workflows/workflows/dag-nested-zxlc2-b0f596814e.json'), 'utf8')) as Record<string, unknown>;
  const results: Record<string, unknown>[] = [];

  for (const objects of counts) {
    const stamp = Date.now().toString(36);
    const ns = `bench-mem-${objects}-${stamp}`;
    const stream = `bench-mem-${objects}-${stamp}`;
    process.stderr.write(`[bench] ${objects} workflows of ~${size} bytes in ${ns}: creating…\n`);
    const names = Array.from({ length: objects }, (_, i) => `wf-${String(i).padStart(5, '0')}`);
    const sample = workflowOf(template, ns, names[0]!, size);
    const objectBytes = JSON.stringify(sample.create).length;
    let began = Date.now();
    await pool(names, 16, (name) => sim.create(workflowOf(template, ns, name, size)));
    process.stderr.write(`[bench] created in ${((Date.now() - began) / 1000).toFixed(1)}s; starting the producer\n`);

    const port = await freePort();
    const started = Date.now();
    const child = spawnProducer(
      childProducerEnv(connection, { stream, namespace: ns, instance: `bench-${objects}`, extra: { LOG_LEVEL: 'info', KUBETRAIL_HTTP_PORT: String(port), NODE_OPTIONS: childNodeOptions } }),
      { compiled },
    );
    const rss = new RssSampler(child.process.pid!);
    const heap = new HeapSampler(port);
    let counter: Awaited<ReturnType<typeof countRecords>> | undefined;
    const alive = () => {
      if (child.process.exitCode !== null || child.process.signalCode !== null) {
        throw new Error(`the producer exited (${child.process.exitCode ?? child.process.signalCode}):\n${child.output.slice(-10).join('\n')}`);
      }
    };
    for (let attempt = 0; !counter; attempt += 1) {
      alive();
      // The producer creates the topic: wait for it.
      counter = await countRecords(kafka, `${stream}.raw`).catch(async (error: unknown) => {
        if (attempt > 60) throw error;
        await new Promise((r) => setTimeout(r, 500));
        return undefined;
      });
    }
    await counter.until(objects, 600_000, alive);
    const listSeconds = (Date.now() - started) / 1000;
    const listPeak = rss.peak;
    const listHeapPeak = heap.peak;
    await new Promise((r) => setTimeout(r, 2_000));
    const afterList = rss.sample();

    rss.resetPeak();
    heap.resetPeak();
    began = Date.now();
    await pool(names, 16, (name) => sim.patch(ns, name, { metadata: { labels: { 'bench-round': '1' } }, status: { message: `patched at ${Date.now()}` } }));
    await counter.until(objects * 2, 600_000, alive);
    const watchSeconds = (Date.now() - began) / 1000;
    const relisted = child.output.find((l) => l.includes('"msg":"relisted"'));
    const relistMs = relisted ? (JSON.parse(relisted) as { ms: number }).ms : undefined;
    const watchPeak = rss.peak;
    const watchHeapPeak = heap.peak;
    await new Promise((r) => setTimeout(r, 5_000));
    const idle = rss.sample();
    const idleHeap = await heap.sample();
    rss.stop();
    heap.stop();
    await child.kill('SIGTERM');
    await counter.stop();

    let informer: Record<string, unknown> | undefined;
    if (withInformer) {
      const self = fileURLToPath(import.meta.url);
      const compiledSelf = join(root, 'dist', 'bench', 'producer-memory.js');
      const proc = spawn(process.execPath, compiled ? [compiledSelf, '--informer-child', ns] : ['--import', 'tsx', self, '--informer-child', ns], { cwd: root, env: { ...process.env, NODE_OPTIONS: childNodeOptions }, stdio: ['ignore', 'pipe', 'inherit'] });
      const irss = new RssSampler(proc.pid!);
      let cached = 0;
      proc.stdout.on('data', (d: Buffer) => {
        for (const line of d.toString().split('\n')) if (line.startsWith('{')) cached = (JSON.parse(line) as { cached: number }).cached;
      });
      const deadline = Date.now() + 300_000;
      while (cached < objects && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      await new Promise((r) => setTimeout(r, 3_000));
      informer = { cached, rssMB: mb(irss.sample()), peakMB: mb(irss.peak), exited: proc.exitCode };
      irss.stop();
      proc.kill('SIGKILL');
    }

    const result = {
      objects,
      objectBytes,
      totalObjectMB: mb(objectBytes * objects),
      producer: {
        listPeakMB: mb(listPeak),
        listHeapPeakMB: mb(listHeapPeak),
        watchHeapPeakMB: mb(watchHeapPeak),
        idleHeapMB: mb(idleHeap),
        afterListMB: mb(afterList),
        watchPeakMB: mb(watchPeak),
        idleMB: mb(idle),
        listSeconds,
        relistMs,
        exited: child.process.exitCode,
        listEventsPerSecond: Math.round(objects / listSeconds),
        watchSeconds,
        watchEventsPerSecond: Math.round(objects / watchSeconds),
      },
      informer,
    };
    results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stderr.write(`[bench] cleaning ${ns}\n`);
    await api.deleteCollectionNamespacedCustomObject({ ...workflowResource, namespace: ns }).catch(() => undefined);
  }
  process.stderr.write(
    [
      '',
      `producer run ${compiled ? 'compiled (node dist/producer/main.js)' : 'through tsx'}${heapCap ? `, heap capped at ${heapCap} MB (--max-old-space-size)` : ''}`,
      '| watched workflows | object size | objects total | producer RSS: list peak | after list | watch peak | idle | heap used: list peak / watch peak / idle | informer RSS (all cached) |',
      '|---|---|---|---|---|---|---|---|---|',
      ...results.map((r) => {
        const p = r.producer as Record<string, number>;
        const inf = r.informer as { rssMB: number; peakMB: number; cached: number; exited: number | null } | undefined;
        return `| ${r.objects} | ${Math.round((r.objectBytes as number) / 1000)} KB | ${r.totalObjectMB} MB | ${p.listPeakMB} MB | ${p.afterListMB} MB | ${p.watchPeakMB} MB | ${p.idleMB} MB | ${p.listHeapPeakMB} / ${p.watchHeapPeakMB} / ${p.idleHeapMB} MB | ${inf ? (inf.cached < (r.objects as number) ? `failed: ${inf.cached} cached, exit ${inf.exited}` : `${inf.rssMB} MB (peak ${inf.peakMB})`) : '-'} |`;
      }),
      '',
    ].join('\n'),
  );
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
