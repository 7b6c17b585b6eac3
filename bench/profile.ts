// 6. Where the time goes.
//   a. Micro-benchmarks, in this process, of each step a processor runs per record, over the
//      workload's records (real sizes): Avro decode of the raw event (lib/kit/codec.ts
//      WireDecoder), JSON.parse of its whole object, readWorkflow (the same object with its bulky
//      members left unparsed, lib/lazy-json.ts), each processor's process() (the parse included)
//      with the real state store (lib/kit/state-store.ts), Avro encode of the summary, and gzip /
//      gunzip of a 1 MB batch of raw values (what the broker's batches cost the producer and the
//      processors' consumer).
//   b. A CPU profile (node --cpu-prof) of workflow-summary (exactly-once) over the raw topic,
//      cut to the span between joining the group and the last record, by category and by
//      function (self time).
//   c. gzip against no compression on the raw topic, measured: writing (kafkajs), bytes on the
//      broker's disk, and the summary processor reading each (alternated).
//   d. Transaction size: the summary processor with 25-record transactions against the default
//      (500, bounded by what one fetch returns), and over both topics with the consumer's fetch
//      size at kafkajs' 1 MiB per partition (runProcessor's maxBytesPerPartition; the runner's
//      default is 8 MiB, BENCHMARKS.md F2).
import { readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import avro from 'avsc';
import type { BenchContext } from './lib/context.js';
import { fillTopic } from './lib/fill.js';
import { sharedRaw } from './lib/raw.js';
import { analyseProfile, processorCategories } from './lib/cpuprofile.js';
import { median, round } from './lib/stats.js';
import { encodeEvent, resourceEventType, wireHeader, workloadEvents, type TemplateSet } from './lib/workload.js';
import { runPass, type PassResult } from './throughput.js';
import { WireDecoder, WireEncoder } from '../lib/kafka/codec.js';
import { PartitionStore } from '../lib/kit/state-store.js';
import { parseObject, type ResourceEvent } from '../lib/raw-event.js';
import { readWorkflow } from '../lib/argo-workflow.js';
import { createWorkflowSummary } from '../processors/workflow-summary/index.js';
import { createCompletedFilter } from '../processors/completed-filter/index.js';
import type { InputRecord } from '../lib/kit/processor.js';

interface MicroResult {
  step: string;
  usPerRecord: number;
  mbPerSec: number;
  share?: number;
}

/** Runs fn over the items repeatedly for at least minMs; returns µs per item. */
function timeIt<T>(items: T[], minMs: number, fn: (item: T) => unknown): number {
  for (let i = 0; i < Math.min(items.length, 50); i++) fn(items[i]!); // warm-up
  let n = 0;
  const began = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs * 1e6 && n < 5_000_000) {
    for (const item of items) fn(item);
    n += items.length;
    elapsed = Number(process.hrtime.bigint() - began);
  }
  return elapsed / 1000 / n;
}

function micro(templates: TemplateSet, quick: boolean): { records: number; meanValueBytes: number; steps: MicroResult[] } {
  const events: ResourceEvent[] = [];
  for (const item of workloadEvents(templates, { events: quick ? 200 : 600, prefix: 'micro' })) events.push(item.event);
  const header = wireHeader(1);
  const values = events.map((e) => encodeEvent(header, e));
  const valueBytes = values.reduce((n, v) => n + v.length, 0);
  const mean = valueBytes / values.length;
  const minMs = quick ? 200 : 800;
  const decoder = new WireDecoder<ResourceEvent>(undefined as never, resourceEventType, 1);
  const summary = createWorkflowSummary();
  const filter = createCompletedFilter();
  const summaryType = avro.Type.forSchema(summary.outputs.summaries.schema as avro.Schema);
  const summaryEncoder = new WireEncoder(summaryType, 2);
  const record = (value: ResourceEvent): InputRecord<ResourceEvent> => ({ topic: 't', partition: 0, offset: '0', key: value.uid, value, timestamp: 0, headers: {} });
  const run = (definition: typeof summary | typeof filter) => {
    const stateType = avro.Type.forSchema(definition.state!.schema as avro.Schema);
    const store = new PartitionStore<unknown>(stateType, new WireEncoder(stateType, 3));
    const context = { state: store } as never;
    let i = 0;
    return (value: ResourceEvent) => {
      store.beginRecord();
      const out = (definition.process as (r: InputRecord<ResourceEvent>, c: never) => unknown[])(record(value), context);
      store.acceptRecord();
      // A transaction every 200 records, as the runner's: changelog records, then commit.
      if (++i % 200 === 0) {
        store.changelogMessages(0, '0');
        store.commit();
      }
      return out;
    };
  };
  const summaries = events.map((e) => summary.process(record(e), { state: { get: () => undefined, put: () => undefined, delete: () => undefined } }));
  const summaryValues = summaries.flat().map((o) => o.value);
  const batch = Buffer.concat(values.slice(0, Math.max(1, Math.round(1_000_000 / mean))));
  const gz = gzipSync(batch);
  const batchRecords = Math.max(1, Math.round(1_000_000 / mean));
  const perRecord = (usPerBatch: number) => usPerBatch / batchRecords;
  const steps: MicroResult[] = [];
  const add = (step: string, us: number, bytesPerItem = mean) => steps.push({ step, usPerRecord: round(us, 2), mbPerSec: round(bytesPerItem / us, 1) });
  add('Avro decode of the raw event (WireDecoder.decode)', timeIt(values, minMs, (v) => decoder.decode(v)));
  add('JSON.parse of the whole object (parseObject)', timeIt(events, minMs, (e) => parseObject(e)));
  add('the object as a workflow, its bulky members left unparsed (readWorkflow, lib/lazy-json.ts)', timeIt(events, minMs, (e) => readWorkflow(e)));
  add('workflow-summary process() (parse, summarize, sha256 fingerprint, state put)', timeIt(events, minMs, run(summary)));
  add('Avro encode of the summary (WireEncoder.encode)', timeIt(summaryValues, minMs, (s) => summaryEncoder.encode(s)));
  add('completed-filter process() (parse, phase, state)', timeIt(events, minMs, run(filter)));
  add('Avro encode of a whole raw event (what completed-filter re-encodes per output)', timeIt(events, minMs, (e) => resourceEventType.toBuffer(e)));
  add('gunzip of a 1 MB batch of raw values, per record (consumer side)', perRecord(timeIt([gz], minMs, (b) => gunzipSync(b))));
  add('gzip of a 1 MB batch of raw values, per record (producer side)', perRecord(timeIt([batch], minMs, (b) => gzipSync(b))));
  return { records: events.length, meanValueBytes: Math.round(mean), steps };
}

export async function profileBench(ctx: BenchContext, templates: TemplateSet): Promise<Record<string, unknown>> {
  const quick = ctx.options.quick;
  // a.
  const microResult = micro(templates, quick);
  for (const s of microResult.steps) ctx.log(`profile: ${s.step}: ${s.usPerRecord} µs/record (${s.mbPerSec} MB/s)`);

  // b.
  const raw = await sharedRaw(ctx, templates);
  const timeoutMs = Math.max(180_000, (raw.events / 30) * 1000);
  const profDir = join(ctx.logDir, 'cpuprofile');
  mkdirSync(profDir, { recursive: true });
  const profiled = await runPass(ctx, { name: 'profiled', kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once' }, raw.topic, raw.events, raw.valueBytes, {
    label: 'profile.summary',
    timeoutMs,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  });
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  let cpu: ReturnType<typeof analyseProfile> | { missing: string };
  if (file) {
    cpu = analyseProfile(join(profDir, file), profiled.done.readyHrUs as number, profiled.done.doneHrUs as number, processorCategories);
    ctx.log(`profile: CPU profile of workflow-summary (${profiled.recordsPerSec.toFixed(0)} records/s while profiled): ${cpu.categories.slice(0, 6).map((c) => `${c.name} ${(c.shareOfBusy * 100).toFixed(0)}%`).join(', ')}`);
  } else {
    cpu = { missing: `no .cpuprofile in ${profDir}` };
  }

  // c. gzip vs none
  const noneTopic = await ctx.createTopic('prof.raw-none', raw.partitions);
  const schemaId = await ctx.registerRaw(noneTopic);
  const gzTopic = await ctx.createTopic('prof.raw-gzip', raw.partitions);
  await ctx.registerRaw(gzTopic);
  const events = raw.events;
  // The same events written both ways, alternated once each way to even out the load.
  const fillNone = await fillTopic(ctx.kafka, noneTopic, schemaId, templates, { events, prefix: `raw-${ctx.runId}` }, { compression: 'none' });
  const fillGzip = await fillTopic(ctx.kafka, gzTopic, schemaId, templates, { events, prefix: `raw-${ctx.runId}` }, { compression: 'gzip' });
  const disk = { none: ctx.topicDiskBytes(noneTopic, raw.partitions), gzip: ctx.topicDiskBytes(gzTopic, raw.partitions) };
  ctx.log(
    `profile: writing ${events} raw events: none ${(fillNone.valueBytes / 1e6 / fillNone.seconds).toFixed(1)} MB/s, gzip ${(fillGzip.valueBytes / 1e6 / fillGzip.seconds).toFixed(1)} MB/s; ` +
      `on disk none ${(disk.none / 1e6).toFixed(0)} MB, gzip ${(disk.gzip / 1e6).toFixed(0)} MB`,
  );
  const repeats = 1;
  const reads: Record<string, Array<PassResult & { commits: number }>> = { none: [], gzip: [], gzipTxn25: [], noneFetch1M: [], gzipFetch1M: [] };
  for (let r = 0; r < repeats; r++) {
    for (const [name, topic, maxBatchRecords, maxBytesPerPartition] of [
      ['gzip', gzTopic, undefined, undefined],
      ['none', noneTopic, undefined, undefined],
      ['gzipTxn25', gzTopic, 25, undefined],
      ['noneFetch1M', noneTopic, undefined, 1024 * 1024],
      ['gzipFetch1M', gzTopic, undefined, 1024 * 1024],
    ] as const) {
      const pass = await runPass(ctx, { name, kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once' }, topic, events, fillNone.valueBytes, {
        label: `profile.${name}.${r}`,
        timeoutMs,
        maxBatchRecords,
        maxBytesPerPartition,
      });
      const commits = (pass.done.stats as { commits: number }).commits;
      reads[name]!.push({ ...pass, commits });
      ctx.log(`profile: workflow-summary over the ${name} topic: ${pass.recordsPerSec.toFixed(0)} records/s, ${commits} transactions (${(events / commits).toFixed(0)} records each)`);
    }
  }
  const readSummary = (list: Array<PassResult & { commits: number }>) => ({
    medianRecordsPerSec: round(median(list.map((p) => p.recordsPerSec))),
    medianMbPerSec: round(median(list.map((p) => p.mbPerSec)), 2),
    cpuUsPerRecord: round(median(list.map((p) => ((p.cpuMs ?? 0) * 1000) / events))),
    recordsPerTransaction: round(median(list.map((p) => events / p.commits))),
    runs: list.map((p) => ({ recordsPerSec: round(p.recordsPerSec), seconds: round(p.seconds, 2), commits: p.commits })),
  });
  return {
    micro: microResult,
    cpuProfile: { processor: 'workflow-summary (exactly-once)', events: raw.events, recordsPerSecWhileProfiled: round(profiled.recordsPerSec), ...cpu },
    compression: {
      events,
      valueMb: round(fillNone.valueBytes / 1e6),
      write: {
        none: { mbPerSec: round(fillNone.valueBytes / 1e6 / fillNone.seconds, 1), recordsPerSec: round(events / fillNone.seconds) },
        gzip: { mbPerSec: round(fillGzip.valueBytes / 1e6 / fillGzip.seconds, 1), recordsPerSec: round(events / fillGzip.seconds) },
      },
      diskMb: { none: round(disk.none / 1e6), gzip: round(disk.gzip / 1e6), ratio: round(disk.none / Math.max(1, disk.gzip), 1) },
      summaryProcessorRead: { gzip: readSummary(reads.gzip!), none: readSummary(reads.none!) },
    },
    transactions: { default: readSummary(reads.gzip!), maxBatchRecords25: readSummary(reads.gzipTxn25!), noneDefaultFetch: readSummary(reads.none!), noneFetch1MiB: readSummary(reads.noneFetch1M!), gzipFetch1MiB: readSummary(reads.gzipFetch1M!) },
  };
}
