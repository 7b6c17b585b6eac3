// The raw topic of N workload events that several benchmarks read: the throughput benchmark's
// when it ran (same run), else one filled here.
import type { BenchContext } from './context.js';
import { fillTopic } from './fill.js';
import type { TemplateSet } from './workload.js';

export async function sharedRaw(ctx: BenchContext, templates: TemplateSet): Promise<NonNullable<BenchContext['shared']['raw']>> {
  if (ctx.shared.raw) return ctx.shared.raw;
  const events = ctx.options.events;
  const topic = await ctx.createTopic('raw', 3);
  const schemaId = await ctx.registerRaw(topic);
  ctx.log(`writing ${events} raw events to ${topic} (gzip, 3 partitions)`);
  const fill = await fillTopic(ctx.kafka, topic, schemaId, templates, { events, prefix: `raw-${ctx.runId}` }, { compression: 'gzip' });
  ctx.shared.raw = { topic, events, valueBytes: fill.valueBytes, partitions: 3, schemaId };
  return ctx.shared.raw;
}
