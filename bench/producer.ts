// 3. The producer: changes per second from the API server to the raw topic, and its memory with
// many watched workflows of ~45 KB each against what an informer's cache of the same objects
// holds.
//
//   a. A producer (child process) watches an empty namespace; its memory is sampled (baseline).
//   b. W workflows are created (8 requests at once, as fast as the API server takes them): the
//      producer publishes each ADDED from its watch. Reference: the API server's create rate.
//   c. M status changes are written (16 at once): the producer publishes each MODIFIED.
//      Reference: the API server's write rate; reported: how long after the last write the
//      producer had published everything.
//   d. A second producer with a fresh stream starts on the W workflows: its first-start list
//      publishes each as READ — the producer's rate without the API server's writes in the way.
//   e. Reference for memory: a child process lists the same W objects and holds them parsed in
//      a Map (an informer's store); its heap after a full GC and its RSS.
// Producers' memory is their peak RSS and heap (sampled every 20 ms) in each phase.
import type { BenchContext, BenchChild } from './lib/context.js';
import { sleep, until } from './lib/context.js';
import { round } from './lib/stats.js';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyseProfile, producerCategories } from './lib/cpuprofile.js';
import type { TemplateSet } from './lib/workload.js';
import { createWorkflows, deleteAll, pool, simulator, withRetry } from './lib/workflows.js';

const MB = 1e6;

interface Status {
  published: number;
  rss: number;
  heapUsed: number;
  peakRss: number;
  peakHeap: number;
  at: number;
}

const lastStatus = (child: BenchChild): Status | undefined => child.events.filter((e) => e.event === 'status').pop() as unknown as Status | undefined;

/** Peak RSS and heap between two times, from the child's 20 ms samples folded into its status lines. */
function peaks(child: BenchChild, from: number, to = Infinity): { rssMb: number; heapMb: number } {
  let rss = 0;
  let heap = 0;
  for (const e of child.events) {
    if (e.event !== 'status' || (e.at as number) < from || (e.at as number) > to) continue;
    rss = Math.max(rss, e.peakRss as number, e.rss as number);
    heap = Math.max(heap, e.peakHeap as number, e.heapUsed as number);
  }
  return { rssMb: round(rss / MB), heapMb: round(heap / MB) };
}

async function waitPublished(child: BenchChild, count: number, timeoutMs: number): Promise<number> {
  await until(`producer publishing ${count} records`, timeoutMs, () => (lastStatus(child)?.published ?? 0) >= count, 100);
  return child.events.find((e) => e.event === 'status' && (e.published as number) >= count)!.at as number;
}

export async function producerBench(ctx: BenchContext, templates: TemplateSet): Promise<Record<string, unknown>> {
  const { quick, full } = ctx.options;
  const wanted = ctx.options.workflows ?? (quick ? 100 : full ? 10_000 : 600);
  let changes = quick ? 100 : full ? 3_000 : 400;
  // Every create and every change is a revision of a ~45 kB object that etcd keeps (no automatic
  // compaction in the embedded stack): stay within half of what it may still grow by.
  const perObject = 45_000;
  const budget = ctx.etcdHeadroomBytes() / 2;
  const count = Math.max(50, Math.min(wanted, Math.floor(budget / perObject / (1 + changes / wanted))));
  if (count < wanted) {
    changes = Math.round((changes * count) / wanted);
    ctx.log(`producer: ${wanted} workflows would take ${Math.round((wanted * perObject * (1 + changes / count)) / 1e6)} MB of etcd; scaled down to ${count} (etcd may grow by ${Math.round(budget / 5e5)} MB more before its quota)`);
  }
  const namespace = `bench-${ctx.runId}-prod`;
  const sim = simulator(ctx.env.KUBECONFIG!);
  const objects = templates.ofSize(48_000);
  const settings = (name: string) => ({
    namespaces: namespace,
    topic: ctx.topic(`${name}.raw`),
    stateTopic: ctx.topic(`${name}.state`),
    stream: `bench-${ctx.runId}-${name}`,
    cluster: 'bench',
    instanceId: `bench-${ctx.runId}-${name}`,
  });

  let first: BenchChild | undefined;
  let second: BenchChild | undefined;
  try {
    // a. baseline
    first = ctx.spawnChild('producer', settings('prod1'), { label: 'prod.watch' });
    await first.wait('ready', 120_000);
    await sleep(2_000);
    const baseline = peaks(first, 0);
    ctx.log(`producer: watching an empty namespace, RSS ${baseline.rssMb} MB, heap ${baseline.heapMb} MB`);

    // b. creates
    const createdFrom = Date.now();
    const created = await createWorkflows(sim, namespace, 'wf', objects, count, {
      concurrency: 8,
      deadlineMs: full ? 1_800_000 : 600_000,
      onProgress: (n) => ctx.log(`producer: ${n}/${count} workflows created`),
    });
    const createdAll = await waitPublished(first, count, 120_000);
    const meanBytes = created.bytes / count;
    const createRate = count / created.seconds;
    const addedRate = count / ((createdAll - createdFrom) / 1000);
    ctx.log(
      `producer: ${count} workflows of ${Math.round(meanBytes / 1000)} kB created at ${createRate.toFixed(1)}/s; ` +
        `published ${(createdAll - createdFrom - created.seconds * 1000).toFixed(0)} ms after the last create`,
    );
    const duringCreates = peaks(first, createdFrom);

    // c. status changes
    const before = lastStatus(first)!.published;
    const changedFrom = Date.now();
    const written = await pool(changes, 16, 600_000, async (i) => {
      const name = created.names[i % count]!;
      await withRetry(() => sim.patch(namespace, name, { status: { progress: `${i + 1}/${changes}` } }), 3);
    });
    const writeSeconds = (Date.now() - changedFrom) / 1000;
    const changedAll = await waitPublished(first, before + written, 120_000);
    const modifiedRate = written / ((changedAll - changedFrom) / 1000);
    ctx.log(
      `producer: ${written} changes written at ${(written / writeSeconds).toFixed(1)}/s; published at ${modifiedRate.toFixed(1)}/s, ` +
        `all ${(changedAll - changedFrom - writeSeconds * 1000).toFixed(0)} ms after the last write`,
    );
    const duringChanges = peaks(first, changedFrom);
    await first.stop();

    // d. relist by a fresh producer
    const spawnedAt = Date.now();
    const profDir = join(ctx.logDir, 'cpuprofile-producer');
    mkdirSync(profDir, { recursive: true });
    second = ctx.spawnChild('producer', settings('prod2'), { label: 'prod.relist', nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
    await second.wait('ready', 600_000);
    const relistDone = await waitPublished(second, count, 600_000);
    // From the last status line with nothing published (the list starts just after it) to the first with all.
    const emptyLine = second.events.filter((e) => e.event === 'status' && (e.published as number) === 0).pop();
    const lastEmpty = (emptyLine?.at as number | undefined) ?? spawnedAt;
    const relistRate = count / ((relistDone - lastEmpty) / 1000);
    const duringRelist = peaks(second, spawnedAt);
    ctx.log(`producer: a fresh producer listed and published ${count} workflows at ${relistRate.toFixed(1)}/s; peak RSS ${duringRelist.rssMb} MB`);
    const doneLine = second.events.find((e) => e.event === 'status' && (e.published as number) >= count);
    await second.stop();
    const profileFile = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    const relistProfile =
      profileFile && emptyLine && doneLine
        ? analyseProfile(join(profDir, profileFile), emptyLine.hrUs as number, doneLine.hrUs as number, producerCategories)
        : { missing: 'no profile or no status line around the list' };
    if ('categories' in relistProfile) {
      ctx.log(`producer: CPU profile of the list → raw topic: ${relistProfile.categories.slice(0, 5).map((c) => `${c.name} ${(c.shareOfBusy * 100).toFixed(0)}%`).join(', ')}`);
    }

    // e. informer cache reference
    const informer = ctx.spawnChild('informer-cache', { namespace }, { label: 'prod.informer', nodeArgs: ['--expose-gc'] });
    const cache = await informer.wait('done', 600_000);
    const heldMb = round((cache.heldHeap as number) / MB);
    ctx.log(`producer: an informer cache of the same ${cache.objects} objects holds ${heldMb} MB of heap (RSS ${round((cache.rss as number) / MB)} MB)`);

    const producerPeakRss = Math.max(duringCreates.rssMb, duringChanges.rssMb, duringRelist.rssMb);
    return {
      deployment: 'producer as a child process; writes from the bench process',
      workflows: count,
      meanObjectBytes: Math.round(meanBytes),
      note:
        count >= 10_000
          ? undefined
          : `${count} workflows (the issue's target is 10,000: --full or --workflows${count < wanted ? `; ${wanted} asked, scaled down to what etcd's quota leaves room for` : ''}); the API server here creates ~${Math.round(createRate)} of these objects per second`,
      apiServer: { createsPerSec: round(createRate, 1), writesPerSec: round(written / writeSeconds, 1) },
      rates: {
        addedPerSec: round(addedRate, 1),
        modifiedPerSec: round(modifiedRate, 1),
        modifiedLagAfterLastWriteMs: Math.round(changedAll - changedFrom - writeSeconds * 1000),
        relistReadPerSec: round(relistRate, 1),
        relistMbPerSec: round((relistRate * meanBytes) / MB, 2),
        // The same list alone (the informer reference child, pages of 500): the API server's side.
        listAlonePerSec: round((cache.objects as number) / ((cache.listMs as number) / 1000), 1),
      },
      relistCpuProfile: relistProfile,
      memory: {
        baseline,
        duringCreates,
        duringChanges,
        duringRelist,
        producerPeakRssMb: producerPeakRss,
        informerCache: {
          objects: cache.objects,
          objectsJsonMb: round((cache.jsonBytes as number) / MB),
          heldHeapMb: heldMb,
          heapAfterGcMb: round((cache.heapUsed as number) / MB),
          rssMb: round((cache.rss as number) / MB),
          baselineHeapMb: round((cache.baselineHeap as number) / MB),
        },
        ratioInformerRssToProducerPeakRss: round((cache.rss as number) / MB / producerPeakRss, 2),
      },
    };
  } finally {
    await first?.stop();
    await second?.stop();
    await deleteAll(sim, namespace).catch((error: Error) => ctx.log(`producer: deleting the workflows failed: ${error.message}`));
  }
}
