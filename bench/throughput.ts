// 1. Processor throughput. One raw topic (3 partitions, the producer's default; gzip, the
// producer's default compression) holds N raw events of real Argo sizes (bench/lib/workload.ts).
// Each pass reads all of it with a fresh consumer group, in its own child process, and is timed
// from the moment it joined the group to the moment its N-th input record was committed:
//   - workflow-summary and completed-filter (lib/kit/runner.ts), exactly-once and at-least-once;
//     workflow-summary exactly-once also with kafkajs' own gzip codec (KUBETRAIL_KAFKAJS_STOCK_GZIP)
//   - (a) a bare kafkajs consume-and-produce of the same bytes, no decoding (children/bare-pipe.ts),
//     and consume-only passes: kafkajs as it is (the reference), and with kubetrail's gzip codec
//   - (b) Kafka's ConsumerPerformance over the same topic and ProducerPerformance writing the
//     same objects to a new topic: the machine's ceiling for reading and for writing
//   - (c) workflow-summary (exactly-once) over the same events in an uncompressed raw topic, with
//     the runner's fetch size (8 MiB per partition, 10 MiB per fetch), with kafkajs' 1 MiB per
//     partition, with 24 MiB per fetch (maxBytesPerFetch), and run by the code of the commit before
//     the engine issue (bench/lib/baseline.ts: "today's rate" when it was filed)
// The passes are interleaved, repeat after repeat, so background load spreads over all of them;
// each figure is the median of the repeats (best also kept), and ratios are of medians. The bare
// passes use the runner's fetch size (a kafkajs consume-only pass with kafkajs' 1 MiB is kept
// beside it). The engine issue's targets, as ratios within the run (`targets`):
//   workflow-summary (exactly-once) ≥ 0.45× the kafkajs consume-only pass over the same topic;
//   over the uncompressed topic, ≥ 1.4× the runner of the baseline commit (8 MiB against 1 MiB
//   in today's runner is reported beside it: the fetch size's own share).
import type { BenchContext } from './lib/context.js';
import { fillTopic, type FillResult } from './lib/fill.js';
import { consumerPerformance, producerPerformance } from './lib/kafka-tools.js';
import { best, median, round } from './lib/stats.js';
import { workloadEvents, type TemplateSet } from './lib/workload.js';
import { DEFAULT_MAX_BYTES_PER_PARTITION } from '../lib/kit/runner.js';
import { baselineTree, ISSUE_BASELINE_COMMIT } from './lib/baseline.js';
import { PASS_NAMES } from './lib/pass-names.js';

const MiB = 1024 * 1024;

export interface PassResult {
  recordsPerSec: number;
  mbPerSec: number;
  seconds: number;
  cpuMs?: number;
  maxRssMb?: number;
  recordsOut?: number;
  /** Transactions (exactly-once) or offset commits of the pass. */
  commits?: number;
}

export interface Variant {
  name: string;
  kind: 'processor' | 'bare' | 'kafka-tool';
  mode?: string;
  runs: PassResult[];
  medianRecordsPerSec: number;
  bestRecordsPerSec: number;
  medianMbPerSec: number;
  /** CPU time per input record (user + system, child process), median. */
  cpuUsPerRecord?: number;
  recordsOut?: number;
  /** Input records per transaction (or per offset commit), median. */
  recordsPerCommit?: number;
  /** Which raw topic it read. */
  topic: 'gzip' | 'none';
}

export interface Target {
  what: string;
  measured: string;
  reference: string;
  measuredRecordsPerSec: number;
  referenceRecordsPerSec: number;
  ratio: number;
  target: number;
  met: boolean;
}

export interface ThroughputResult {
  events: number;
  valueBytes: number;
  meanValueBytes: number;
  partitions: number;
  compression: string;
  repeats: number;
  fill: FillResult & { recordsPerSec: number; mbPerSec: number };
  variants: Variant[];
  ratios: Array<{ variant: string; vsBare: number; vsKafkajsRead: number; vsKafkaConsumer: number; vsKafkaProducer: number }>;
  targets: Target[];
}

export interface PassSpec {
  name: string;
  kind: 'processor' | 'bare';
  processor?: string;
  mode: 'exactly-once' | 'at-least-once' | 'consume-only';
  /** The raw topic it reads in the throughput benchmark (default gzip). */
  topic?: 'gzip' | 'none';
  /** The consumer's fetch size per partition (default: the runner's for processors, kafkajs' for bare passes). */
  maxBytesPerPartition?: number;
  /** A processor's fetch size over all partitions (default: the runner's, 10 MiB). */
  maxBytesPerFetch?: number;
  /** A bare pass with kubetrail's gzip codec (lib/kafka/gzip-codec.ts) instead of kafkajs' own. */
  gzipCodec?: boolean;
  /** More environment for the child (a benchmarking switch). */
  env?: Record<string, string>;
  /** A processor pass run by the code of the commit before the engine issue (bench/lib/baseline.ts). */
  baseline?: boolean;
}

/** Runs one processor or bare-pipe pass over `input` in a child process; resolves with its timing. */
export async function runPass(
  ctx: BenchContext,
  pass: PassSpec,
  input: string,
  events: number,
  valueBytes: number,
  options: { label: string; nodeArgs?: string[]; timeoutMs: number; maxBatchRecords?: number; maxBytesPerPartition?: number; baselineRoot?: string },
): Promise<PassResult & { done: Record<string, unknown> }> {
  const groupId = ctx.track(`bench.${ctx.runId}.${options.label}`);
  let child;
  const maxBytesPerPartition = pass.maxBytesPerPartition ?? options.maxBytesPerPartition;
  if (pass.baseline && !options.baselineRoot) throw new Error(`${pass.name}: no baseline tree given (baselineTree())`);
  if (pass.kind === 'bare') {
    const output = await ctx.createTopic(`${options.label}.out`, 3);
    child = ctx.spawnChild('bare-pipe', { input, output, groupId, mode: pass.mode, expect: events, timeoutMs: options.timeoutMs, maxBatchRecords: options.maxBatchRecords, maxBytesPerPartition, gzipCodec: pass.gzipCodec }, { label: options.label, nodeArgs: options.nodeArgs, env: pass.env });
  } else {
    const outputName = pass.processor === 'workflow-summary' ? 'summaries' : 'completed';
    const topics = { input, outputs: { [outputName]: ctx.topic(`${options.label}.out`) } };
    child = ctx.spawnChild(
      'processor',
      { processor: pass.processor, mode: pass.mode, groupId, topics, expect: events, exitWhenDone: true, timeoutMs: options.timeoutMs, maxBatchRecords: options.maxBatchRecords, maxBytesPerPartition, maxBytesPerFetch: pass.maxBytesPerFetch },
      { label: options.label, nodeArgs: options.nodeArgs, env: pass.env, root: pass.baseline ? options.baselineRoot : undefined },
    );
  }
  try {
    const done = await child.wait('done', options.timeoutMs);
    const seconds = ((done.doneAt as number) - (done.readyAt as number)) / 1000;
    const stats = done.stats as { recordsOut?: Record<string, number>; commits?: number };
    await Promise.race([child.exited, new Promise((r) => setTimeout(r, 20_000))]);
    return {
      recordsPerSec: events / seconds,
      mbPerSec: valueBytes / 1e6 / seconds,
      seconds,
      cpuMs: (done.cpuUserMs as number) + (done.cpuSystemMs as number),
      maxRssMb: (done.maxRss as number) / 1e6,
      recordsOut: stats.recordsOut ? Object.values(stats.recordsOut).reduce((a, b) => a + b, 0) : undefined,
      commits: stats.commits,
      done,
    };
  } finally {
    await child.stop(5_000);
    // Its output, changelog and dead-letter topics are not needed any more.
    await ctx.deleteTopicsWithPrefix(options.label);
  }
}

const { consumeOnly: consumeOnlyName, summaryEos: summaryEosName, summaryEosStockGzip: summaryEosStockGzipName } = PASS_NAMES;
const { uncompressed: noneDefaultName, uncompressed1MiB: none1MiBName, uncompressedBaseline: noneBaselineName } = PASS_NAMES;

export const processorPasses: PassSpec[] = [
  { name: consumeOnlyName, kind: 'bare', mode: 'consume-only', maxBytesPerPartition: DEFAULT_MAX_BYTES_PER_PARTITION },
  { name: PASS_NAMES.consumeOnly1MiB, kind: 'bare', mode: 'consume-only', maxBytesPerPartition: MiB },
  { name: PASS_NAMES.consumeOnlyCodec, kind: 'bare', mode: 'consume-only', maxBytesPerPartition: DEFAULT_MAX_BYTES_PER_PARTITION, gzipCodec: true },
  { name: 'bare kafkajs pipe (at-least-once)', kind: 'bare', mode: 'at-least-once', maxBytesPerPartition: DEFAULT_MAX_BYTES_PER_PARTITION },
  { name: 'bare kafkajs pipe (exactly-once)', kind: 'bare', mode: 'exactly-once', maxBytesPerPartition: DEFAULT_MAX_BYTES_PER_PARTITION },
  { name: summaryEosName, kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once' },
  { name: summaryEosStockGzipName, kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once', env: { KUBETRAIL_KAFKAJS_STOCK_GZIP: '1' } },
  { name: 'workflow-summary (at-least-once)', kind: 'processor', processor: 'workflow-summary', mode: 'at-least-once' },
  { name: 'completed-filter (exactly-once)', kind: 'processor', processor: 'completed-filter', mode: 'exactly-once' },
  { name: 'completed-filter (at-least-once)', kind: 'processor', processor: 'completed-filter', mode: 'at-least-once' },
  { name: noneDefaultName, kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once', topic: 'none' },
  { name: none1MiBName, kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once', topic: 'none', maxBytesPerPartition: MiB },
  { name: PASS_NAMES.uncompressed24MiBFetch, kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once', topic: 'none', maxBytesPerFetch: 3 * DEFAULT_MAX_BYTES_PER_PARTITION },
  { name: noneBaselineName, kind: 'processor', processor: 'workflow-summary', mode: 'exactly-once', topic: 'none', baseline: true },
];

/** The workload's objects as text, one per line, for ProducerPerformance's --payload-file. */
export function payloadSample(templates: TemplateSet, count: number, prefix: string): string[] {
  const payloads: string[] = [];
  for (const item of workloadEvents(templates, { events: count, prefix })) payloads.push(item.event.object);
  return payloads;
}

export const modeTag = (mode: string) => (mode === 'exactly-once' ? 'eos' : mode === 'at-least-once' ? 'alos' : 'read');

export async function throughputBench(ctx: BenchContext, templates: TemplateSet): Promise<ThroughputResult> {
  const events = ctx.options.events;
  const repeats = ctx.options.repeats;
  const partitions = 3;
  // Before anything is written: a clone without the baseline's history fails here, not halfway.
  const baselineRoot = await baselineTree(ctx.log.bind(ctx));
  const raw = await ctx.createTopic('tp.raw', partitions);
  const schemaId = await ctx.registerRaw(raw);
  ctx.log(`throughput: writing ${events} raw events to ${raw} (gzip, ${partitions} partitions)`);
  const fill = await fillTopic(ctx.kafka, raw, schemaId, templates, { events, prefix: `tp-${ctx.runId}` }, { compression: 'gzip', timeoutMs: 600_000 });
  ctx.log(`throughput: filled in ${fill.seconds.toFixed(1)} s (${(fill.records / fill.seconds).toFixed(0)} records/s, ${(fill.valueBytes / 1e6 / fill.seconds).toFixed(1)} MB/s)`);
  ctx.shared.raw = { topic: raw, events, valueBytes: fill.valueBytes, partitions, schemaId };
  // The same events, uncompressed (the fetch-size comparison: 1 MiB holds ~20 of them stored).
  const rawNone = await ctx.createTopic('tp.raw-none', partitions);
  const schemaIdNone = await ctx.registerRaw(rawNone);
  const fillNone = await fillTopic(ctx.kafka, rawNone, schemaIdNone, templates, { events, prefix: `tp-${ctx.runId}` }, { compression: 'none', timeoutMs: 600_000 });
  ctx.log(`throughput: the same events uncompressed in ${rawNone} (${(fillNone.valueBytes / 1e6).toFixed(0)} MB) in ${fillNone.seconds.toFixed(1)} s`);
  const inputOf = (pass: PassSpec) => (pass.topic === 'none' ? { topic: rawNone, valueBytes: fillNone.valueBytes } : { topic: raw, valueBytes: fill.valueBytes });
  const payloads = payloadSample(templates, Math.min(events, 400), `pp-${ctx.runId}`);
  // A pass may not take longer than 30 records/s would.
  const timeoutMs = Math.max(120_000, (events / 30) * 1000);

  const runs = new Map<string, PassResult[]>();
  const add = (name: string, result: PassResult) => {
    const list = runs.get(name) ?? [];
    list.push(result);
    runs.set(name, list);
  };
  const consumerName = 'Kafka ConsumerPerformance (read_committed)';
  const producerName = 'Kafka ProducerPerformance (acks=all, gzip)';
  const producerNoneName = 'Kafka ProducerPerformance (acks=all, none)';
  for (let r = 0; r < repeats; r++) {
    for (const [i, pass] of processorPasses.entries()) {
      const label = `tp.${i}.${pass.kind === 'bare' ? 'bare' : pass.processor}.${modeTag(pass.mode)}.${r}`;
      const input = inputOf(pass);
      const result = await runPass(ctx, pass, input.topic, events, input.valueBytes, { label, timeoutMs, baselineRoot });
      add(pass.name, result);
      ctx.log(
        `  [${r + 1}/${repeats}] ${pass.name}: ${result.recordsPerSec.toFixed(0)} records/s, ${result.mbPerSec.toFixed(1)} MB/s (${result.seconds.toFixed(1)} s${result.commits ? `, ${(events / result.commits).toFixed(0)} records per commit` : ''})`,
      );
    }
    const cp = await consumerPerformance(ctx, raw, events, { timeoutMs });
    add(consumerName, { recordsPerSec: cp.recordsPerSec, mbPerSec: fill.valueBytes / 1e6 / (events / cp.recordsPerSec), seconds: events / cp.recordsPerSec });
    ctx.log(`  [${r + 1}/${repeats}] ${consumerName}: ${cp.recordsPerSec.toFixed(0)} records/s`);
    const ppTopic = await ctx.createTopic(`tp.pp.${r}`, partitions);
    for (const compression of ['gzip', 'none'] as const) {
      const name = compression === 'gzip' ? producerName : producerNoneName;
      const pp = await producerPerformance(ctx, ppTopic, payloads, events, { compression, timeoutMs });
      add(name, { recordsPerSec: pp.recordsPerSec, mbPerSec: pp.mbPerSec, seconds: events / pp.recordsPerSec });
      ctx.log(`  [${r + 1}/${repeats}] ${name}: ${pp.recordsPerSec.toFixed(0)} records/s, ${pp.mbPerSec.toFixed(1)} MB/s`);
    }
    await ctx.admin.deleteTopics({ topics: [ppTopic] }).catch(() => undefined);
  }
  await ctx.admin.deleteTopics({ topics: [rawNone] }).catch(() => undefined);

  const variants: Variant[] = [...runs].map(([name, list]) => {
    const pass = processorPasses.find((p) => p.name === name);
    const cpu = list.filter((x) => x.cpuMs !== undefined).map((x) => ((x.cpuMs as number) * 1000) / events);
    const perCommit = list.filter((x) => x.commits).map((x) => events / (x.commits as number));
    return {
      name,
      kind: pass ? pass.kind : 'kafka-tool',
      mode: pass?.mode,
      runs: list.map((x) => ({ ...x, recordsPerSec: round(x.recordsPerSec), mbPerSec: round(x.mbPerSec, 2), seconds: round(x.seconds, 2) })),
      medianRecordsPerSec: round(median(list.map((x) => x.recordsPerSec))),
      bestRecordsPerSec: round(best(list.map((x) => x.recordsPerSec))),
      medianMbPerSec: round(median(list.map((x) => x.mbPerSec)), 2),
      cpuUsPerRecord: cpu.length ? round(median(cpu)) : undefined,
      recordsOut: list[0]?.recordsOut,
      recordsPerCommit: perCommit.length ? round(median(perCommit)) : undefined,
      topic: pass?.topic ?? 'gzip',
    };
  });
  const rate = (name: string) => variants.find((v) => v.name === name)?.medianRecordsPerSec ?? NaN;
  const read = rate(consumeOnlyName);
  // Ratios against the references over the gzip topic (the uncompressed passes have their own, in targets).
  const ratios = variants
    .filter((v) => v.kind !== 'kafka-tool' && v.topic === 'gzip')
    .map((v) => ({
      variant: v.name,
      vsBare: v.mode === 'consume-only' ? NaN : round(v.medianRecordsPerSec / rate(`bare kafkajs pipe (${v.mode})`), 2),
      vsKafkajsRead: round(v.medianRecordsPerSec / read, 2),
      vsKafkaConsumer: round(v.medianRecordsPerSec / rate(consumerName), 3),
      vsKafkaProducer: round(v.medianRecordsPerSec / rate(producerName), 3),
    }));
  const target = (what: string, measured: string, reference: string, goal: number): Target => {
    const ratio = rate(measured) / rate(reference);
    return { what, measured, reference, measuredRecordsPerSec: rate(measured), referenceRecordsPerSec: rate(reference), ratio: round(ratio, 2), target: goal, met: ratio >= goal };
  };
  const targets = [
    target('workflow-summary exactly-once against kafkajs reading the same (gzip) topic', summaryEosName, consumeOnlyName, 0.45),
    target(`uncompressed raw topic: the runner against the runner when the engine issue was filed (${ISSUE_BASELINE_COMMIT.slice(0, 7)}, run from its own tree)`, noneDefaultName, noneBaselineName, 1.4),
  ];
  for (const t of targets) ctx.log(`throughput target: ${t.what}: ${t.measuredRecordsPerSec} / ${t.referenceRecordsPerSec} records/s = ${t.ratio}× (target ≥ ${t.target}×: ${t.met ? 'met' : 'MISSED'})`);
  return {
    events,
    valueBytes: fill.valueBytes,
    meanValueBytes: Math.round(fill.valueBytes / events),
    partitions,
    compression: 'gzip',
    repeats,
    fill: { ...fill, recordsPerSec: round(fill.records / fill.seconds), mbPerSec: round(fill.valueBytes / 1e6 / fill.seconds, 2) },
    variants,
    ratios,
    targets,
  };
}
