// 5. Scaling: one, two and four instances of workflow-summary (exactly-once), each a child
// process, in one consumer group over a raw topic of 4 partitions holding N events. Timed from
// the first instance joining the group to the group's committed offsets reaching the end of
// every partition (polled every 100 ms), so rebalances while the others join are part of it.
// On this 2-core machine, shared with the broker, the registry and other work, more instances
// cannot add CPU: the figure says how the group shares the work, not what more cores would give.
import type { BenchContext, BenchChild } from './lib/context.js';
import { sleep } from './lib/context.js';
import { fillTopic } from './lib/fill.js';
import { median, round } from './lib/stats.js';
import type { TemplateSet } from './lib/workload.js';

export async function scalingBench(ctx: BenchContext, templates: TemplateSet): Promise<Record<string, unknown>> {
  const events = ctx.options.quick ? ctx.options.events : Math.round(ctx.options.events * 1.5);
  const partitions = 4;
  const counts = [1, 2, 4];
  const repeats = 1;
  const raw = await ctx.createTopic('scale.raw', partitions);
  const schemaId = await ctx.registerRaw(raw);
  const fill = await fillTopic(ctx.kafka, raw, schemaId, templates, { events, prefix: `sc-${ctx.runId}` }, { compression: 'gzip' });
  const end = await ctx.endOffset(raw);
  ctx.log(`scaling: ${events} raw events in ${raw} (${partitions} partitions)`);
  const timeoutMs = Math.max(180_000, (events / 20) * 1000);
  const runs = new Map<number, Array<{ recordsPerSec: number; seconds: number; joinSpreadSeconds: number; perInstance: number[] }>>();
  for (let r = 0; r < repeats; r++) {
    for (const n of counts) {
      const groupId = ctx.track(`bench.${ctx.runId}.scale.${n}.${r}`);
      const output = ctx.topic(`scale.${n}.${r}.out`);
      const children: BenchChild[] = [];
      try {
        for (let i = 0; i < n; i++) {
          children.push(
            ctx.spawnChild(
              'processor',
              { processor: 'workflow-summary', mode: 'exactly-once', groupId, topics: { input: raw, outputs: { summaries: output } }, timeoutMs },
              { label: `scale.${n}.${r}.${i}` },
            ),
          );
        }
        const readies = await Promise.all(children.map((c) => c.wait('ready', 120_000)));
        const firstReady = Math.min(...readies.map((e) => e.at as number));
        const lastReady = Math.max(...readies.map((e) => e.at as number));
        const deadline = Date.now() + timeoutMs;
        let doneAt: number | undefined;
        while (Date.now() < deadline) {
          if ((await ctx.committed(groupId, raw)) >= end) {
            doneAt = Date.now();
            break;
          }
          await sleep(100);
        }
        if (doneAt === undefined) throw new Error(`scaling: ${n} instances did not finish within ${timeoutMs} ms`);
        const seconds = (doneAt - firstReady) / 1000;
        await Promise.all(children.map((c) => c.stop(10_000)));
        const perInstance = children.map((c) => ((c.events.find((e) => e.event === 'stopped')?.stats as { recordsIn?: number } | undefined)?.recordsIn ?? 0));
        const list = runs.get(n) ?? [];
        list.push({ recordsPerSec: events / seconds, seconds, joinSpreadSeconds: (lastReady - firstReady) / 1000, perInstance });
        runs.set(n, list);
        ctx.log(`scaling: ${n} instance(s): ${(events / seconds).toFixed(0)} records/s (${seconds.toFixed(1)} s; records per instance ${perInstance.join(', ')})`);
      } finally {
        await Promise.all(children.map((c) => c.stop(10_000)));
        await ctx.deleteTopicsWithPrefix(`scale.${n}.${r}`);
      }
    }
  }
  const one = median((runs.get(1) ?? []).map((x) => x.recordsPerSec));
  return {
    events,
    partitions,
    valueBytes: fill.valueBytes,
    processor: 'workflow-summary (exactly-once), one child process per instance',
    instances: counts.map((n) => {
      const list = runs.get(n) ?? [];
      const rate = median(list.map((x) => x.recordsPerSec));
      return {
        instances: n,
        medianRecordsPerSec: round(rate),
        medianMbPerSec: round((rate * fill.valueBytes) / events / 1e6, 2),
        speedup: round(rate / one, 2),
        runs: list.map((x) => ({ ...x, recordsPerSec: round(x.recordsPerSec), seconds: round(x.seconds, 2), joinSpreadSeconds: round(x.joinSpreadSeconds, 2) })),
      };
    }),
  };
}
