// 2. End-to-end latency: a workflow status change written to the API server (a merge patch of
// status.progress, as Argo's controller writes it) until its summary record is readable by a
// subscriber (kafkajs, read_committed) on the summary topic.
//
// The producer (producer/service.ts) and the workflow-summary processor (exactly-once) run as
// child processes (bench/children/), as they would be deployed; the writer runs in the bench
// process and a read_committed subscriber of the summary topics in a child of its own
// (bench/children/subscriber.ts), so the writer's work does not delay the reads. Workflows of the size mix are created first; then changes are written
// open loop at a fixed rate (each at its scheduled time, at most one write in flight per
// workflow, at most 64 in all), each with a unique progress value, and matched to its summary.
// Latency counts from the moment the write is sent, so it includes the API server's write; the
// write's own response time is reported beside it. The pipeline's own part counts from the moment
// the producer saw the change (the raw event's source.observedAt, carried into the summary) to the
// summary read: producer + Kafka + processor. It is split where the producer's produce request
// left (the raw record's timestamp, which the summary carries) and where the raw record became
// readable (the subscriber reads the raw topics too, without decoding them), so a slow change
// shows which of the producer's queue, the producer's transaction or the processor held it. The
// issue suggests 200 changes/s; the API server here takes far fewer writes of these objects.
//
// Two pipelines run side by side, each with its own namespace, workflows, topics and subscriber:
// kubetrail's (kafkajs patched to retry CONCURRENT_TRANSACTIONS after 2-50 ms,
// lib/kafka/concurrent-transactions.ts; the producer's transactions taking two transactional ids
// in turn, producer/publisher.ts) and a reference, the pipeline as the engine issue found it: its
// two children run with KUBETRAIL_KAFKAJS_STOCK_TXN_RETRY=1 (kafkajs' stock retry, 300 ms and up)
// and its producer with KUBETRAIL_PRODUCER_ONE_TRANSACTIONAL_ID=1. Only one is written
// to at a time; the other idles. The rates: 5 and 10/s (8 s steps), then 20 and 40/s (the engine
// issue's rates, 20 s each), each run on kubetrail's pipeline and then on the reference; then
// 80 and 160/s while every rate so far kept up; then 20 s steady at the highest that kept up (10 s
// after a rate that did not keep up, to let the API server work off its backlog).
// A third pipeline, the floor, is what the same Kafka work costs with none of kubetrail's producer
// and processor: a client-node watch writing each change's object as JSON text in a transaction
// (bench/children/bare-producer.ts), a bare consume-and-produce in exactly-once mode that copies
// each record, cut to a summary's size (bench/children/bare-pipe.ts), both through kubetrail's
// Kafka layer (the quick retry), and the same subscriber. It is written to at 20 and 40/s after
// the reference, in every repeat: what p99/p50 the machine allows a transactional pipeline of
// two hops while the API server, etcd and the broker share its 2 cores.
// Every run reports its CONCURRENT_TRANSACTIONS counts: requests of each child that met the error
// (the children's concurrentTransactionStats(), the same counts as their
// kubetrail_kafka_concurrent_transactions_total) against the transactions they made.
//
// A rate "keeps up" when the API server took the writes (95% sent on time, and at least 90% of the
// rate achieved), every change's summary arrived (within 5 s after the last write), and the
// pipeline's own part stayed under 2 s at p99, i.e. no backlog grew. The engine issue's targets
// (pipeline part, kubetrail's pipeline): p99 ≤ 50 ms at 20/s, ≤ 100 ms at 40/s, p99 ≤ 3× p50.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BenchChild, BenchContext } from './lib/context.js';
import { sleep } from './lib/context.js';
import { round, summarize } from './lib/stats.js';
import { rng, type TemplateSet } from './lib/workload.js';
import { createWorkflows, deleteAll, simulator, withRetry } from './lib/workflows.js';
import { gcBesideSlowest, gcText, type GcBesideSlowest, type GcPause } from './lib/gc-pauses.js';
import { defaultTopicSettings } from '../lib/topics.js';

/** Transactions a child made over a run, and its requests that met CONCURRENT_TRANSACTIONS. */
export interface TxnCounts {
  transactions: number;
  /** Calls of Broker#addPartitionsToTxn / #addOffsetsToTxn that met CONCURRENT_TRANSACTIONS. */
  concurrentTransactions: number;
  /** Quick retries made by kubetrail's patch (0 with kafkajs' stock retry). */
  quickRetries: number;
  /** Time in transactions (the child's transaction-duration histogram: the processor's batch_duration, the producer's publish_duration). */
  txnMs: number;
  /** txnMs / transactions. */
  meanTxnMs?: number;
  /** txnMs / the run's duration: how busy the child's transactions kept it (records arriving meanwhile wait). */
  busyShare?: number;
}

export type RetryVariant = 'kubetrail' | 'kafkajs-stock' | 'floor';

export interface RateResult {
  /** Which pipeline: kubetrail's, the reference (kafkajs' stock CONCURRENT_TRANSACTIONS retry) or the floor (no pipeline code). */
  retry: RetryVariant;
  targetPerSec: number;
  seconds: number;
  scheduled: number;
  written: number;
  writtenPerSec: number;
  received: number;
  /** From the write sent to the summary read. */
  latencyMs: ReturnType<typeof summarize>;
  /** From the producer seeing the change (the raw event's source.observedAt, carried into the summary) to the summary read: producer + Kafka + processor. */
  pipelineMs: ReturnType<typeof summarize>;
  /** pipelineMs p99 / p50. */
  pipelineP99OverP50: number;
  /** The pipeline's part split at the raw record's timestamp (the producer's produce request, carried into the summary): the producer's part before it… */
  beforeProduceMs: ReturnType<typeof summarize>;
  /** …and the rest: the producer's produce and commit, the processor, the subscriber's read. */
  afterProduceMs: ReturnType<typeof summarize>;
  /** The rest split where the raw record became readable (read_committed, by the same subscriber): the producer's produce and commit… */
  rawReadableMs: ReturnType<typeof summarize>;
  /** …and the processor's part: its fetch, task and transaction, and the summary's read. */
  processorMs: ReturnType<typeof summarize>;
  /** The slowest changes of the run: [pipeline, before produce, produce → raw readable, raw readable → summary readable] ms. */
  slowest: Array<[number, number, number, number]>;
  /** The API server's response time to the write. */
  writeMs: ReturnType<typeof summarize>;
  /**
   * The changes at or above the run's p99 (the pipeline's part), set beside the garbage collector's
   * pauses (2 ms or more) of the pipeline's producer and processor and of the reading subscriber:
   * how many overlapped one of each (and the longest such pause), how many overlapped none.
   */
  gcBesideSlowest: GcBesideSlowest;
  /** Event-loop delay of the bench process (the writer) over the run, ms. */
  benchLoopDelayMs: { p50: number; p99: number; max: number };
  /** Over the run (from before its first write to after its last summary). */
  producerTxns: TxnCounts;
  processorTxns: TxnCounts;
  keepsUp: boolean;
}

export interface LatencyTarget {
  targetPerSec: number;
  /** Medians over the repeats (each repeat: one run on each pipeline, interleaved). */
  p50: number;
  p99: number;
  p99OverP50: number;
  /** Each repeat's p50 / p99 ms. */
  repeats: Array<{ p50: number; p99: number }>;
  p99Goal: number;
  ratioGoal: number;
  p99Met: boolean;
  ratioMet: boolean;
  /** The same rate with kafkajs' stock retry, in the same run. */
  reference?: ReturnType<typeof medians>;
  /** The same rate through the floor (bare children, no kubetrail pipeline code), in the same run. */
  floor?: ReturnType<typeof medians>;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The pipeline's part over repeated runs of one rate: medians of their p50, p99 and p99/p50, and each run's p50 / p99. */
function medians(runs: RateResult[]): { p50: number; p99: number; p99OverP50: number; repeats: Array<{ p50: number; p99: number }> } {
  return {
    p50: median(runs.map((r) => r.pipelineMs.p50)),
    p99: median(runs.map((r) => r.pipelineMs.p99)),
    p99OverP50: median(runs.map((r) => r.pipelineP99OverP50)),
    repeats: runs.map((r) => ({ p50: r.pipelineMs.p50, p99: r.pipelineMs.p99 })),
  };
}

/** Keeps the garbage-collector pauses a child reports (gcPauses on its status lines, bench/lib/gc-pauses.ts). */
function collectGcPauses(child: BenchChild, into: GcPause[]): void {
  child.onEvent((e) => {
    if (Array.isArray(e.gcPauses)) into.push(...(e.gcPauses as GcPause[]));
  });
}

interface Pipeline {
  retry: RetryVariant;
  tag: string;
  namespace: string;
  producer: BenchChild;
  processor?: BenchChild;
  summaryTopic: string;
  pending: Map<string, number>;
  latencies: number[];
  pipeline: number[];
  rawTopic: string;
  /** When each raw record (key|timestamp) became readable. */
  rawReadAt: Map<string, number>;
  /** [pipeline, before produce, produce → raw readable, raw readable → summary readable] ms of each change. */
  split: Array<[number, number, number, number]>;
  /** [producer saw it, summary read] (ms since the epoch) of each change. */
  windows: Array<[number, number]>;
  /** Garbage-collector pauses its children reported during the run. */
  gcPauses: { producer: GcPause[]; processor: GcPause[] };
  seenKeys: Set<string>;
  names: string[];
  cursor: number;
}

/** What the floor's processor writes of each record: a summary record's size, ~0.4 kB. */
const FLOOR_VALUE_BYTES = 400;

/** A pipeline with its producer started and nothing measured yet. */
function newPipeline(retry: RetryVariant, tag: string, namespace: string, producer: BenchChild, topics: { raw: string; summary: string }): Pipeline {
  return { retry, tag, namespace, producer, summaryTopic: topics.summary, rawTopic: topics.raw, rawReadAt: new Map(), pending: new Map(), latencies: [], pipeline: [], split: [], windows: [], gcPauses: { producer: [], processor: [] }, seenKeys: new Set(), names: [], cursor: 0 };
}

interface Snapshot {
  producer: TxnCounts;
  processor: TxnCounts;
}

/** The first status line of a child from `since` on that carries its counts. */
async function countsOf(child: BenchChild, event: string, transactionsField: string, since: number): Promise<TxnCounts> {
  const line = await child.wait(event, 10_000, (e) => (e.at as number) >= since && e.concurrentTransactions !== undefined);
  const ct = line.concurrentTransactions as { requests: number; retries: number };
  const txn = line.txnSeconds as { sum: number } | undefined;
  return { transactions: Number(line[transactionsField] ?? 0), concurrentTransactions: ct.requests, quickRetries: ct.retries, txnMs: (txn?.sum ?? 0) * 1000 };
}

async function snapshot(p: Pipeline): Promise<Snapshot> {
  const since = Date.now();
  const [producer, processor] = await Promise.all([countsOf(p.producer, 'status', 'transactions', since), countsOf(p.processor!, 'progress', 'commits', since)]);
  return { producer, processor };
}

const minus = (a: TxnCounts, b: TxnCounts, runMs: number): TxnCounts => {
  const transactions = a.transactions - b.transactions;
  const txnMs = Math.round(a.txnMs - b.txnMs);
  return {
    transactions,
    concurrentTransactions: a.concurrentTransactions - b.concurrentTransactions,
    quickRetries: a.quickRetries - b.quickRetries,
    txnMs,
    meanTxnMs: transactions > 0 ? round(txnMs / transactions, 1) : undefined,
    busyShare: runMs > 0 ? round(txnMs / runMs, 2) : undefined,
  };
};

export async function latencyBench(ctx: BenchContext, templates: TemplateSet): Promise<Record<string, unknown>> {
  const quick = ctx.options.quick;
  const workflows = quick ? 24 : 64;
  const steady = { seconds: quick ? 6 : 20 };
  const rising = quick ? [5] : [5, 10];
  const targetRates = quick ? [20] : [20, 40];
  const beyond = quick ? [] : [80, 160];
  const stepSeconds = quick ? 5 : 8;
  const targetSeconds = quick ? 6 : 20;
  // The issue's rates are measured this many times on each pipeline (2 shared cores: one run's p99 is noise).
  const targetRepeats = quick ? 1 : 3;
  const goals = new Map([
    [20, 50],
    [40, 100],
  ]);
  // Up to ~4,000 writes of ~35 kB objects (~140 MB), kept by etcd (no automatic compaction in the embedded stack).
  if (ctx.etcdHeadroomBytes() < 300e6) throw new Error(`the embedded etcd is near its 2 GiB quota (${Math.round(ctx.etcdHeadroomBytes() / 1e6)} MB left): not writing; compact it when no test runs (npm run stack -- compact)`);
  const sim = simulator(ctx.env.KUBECONFIG!);

  // The floor's topics have the partitions of kubetrail's raw topic (its summary topic has its input's).
  const floorTopics = { raw: await ctx.createTopic('latfloor.raw', defaultTopicSettings.topicPartitions), summary: await ctx.createTopic('latfloor.summary', defaultTopicSettings.topicPartitions) };
  const pipelines: Pipeline[] = (['kubetrail', 'kafkajs-stock', 'floor'] as const).map((retry) => {
    if (retry === 'floor') {
      const namespace = `bench-${ctx.runId}-latfloor`;
      const producer = ctx.spawnChild('bare-producer', { namespace, topic: floorTopics.raw, transactionalId: `bench-${ctx.runId}-latfloor` }, { label: 'latfloor.producer' });
      return newPipeline(retry, 'latfloor', namespace, producer, floorTopics);
    }
    const tag = retry === 'kubetrail' ? 'lat' : 'latref';
    const env = retry === 'kafkajs-stock' ? { KUBETRAIL_KAFKAJS_STOCK_TXN_RETRY: '1', KUBETRAIL_PRODUCER_ONE_TRANSACTIONAL_ID: '1' } : undefined;
    ctx.track(`bench.${ctx.runId}.${tag}.state`);
    const producer = ctx.spawnChild(
      'producer',
      {
        namespaces: `bench-${ctx.runId}-${tag}`,
        topic: ctx.topic(`${tag}.raw`),
        stateTopic: `bench.${ctx.runId}.${tag}.state`,
        stream: `bench-${ctx.runId}-${tag}`,
        cluster: 'bench',
        instanceId: `bench-${ctx.runId}-${tag}`,
      },
      { label: `${tag}.producer`, env },
    );
    return newPipeline(retry, tag, `bench-${ctx.runId}-${tag}`, producer, { raw: ctx.topic(`${tag}.raw`), summary: ctx.topic(`${tag}.summary`) });
  });
  const [main, reference, floor] = pipelines as [Pipeline, Pipeline, Pipeline];
  let subscriber: BenchChild | undefined;
  const subscriberPauses: GcPause[] = [];
  try {
    await Promise.all(pipelines.map((p) => p.producer.wait('ready', 120_000)));
    for (const p of pipelines) {
      if (p.retry === 'floor') {
        const spec = { input: p.rawTopic, output: p.summaryTopic, groupId: `bench.${ctx.runId}.${p.tag}.grp`, mode: 'exactly-once', expect: Number.MAX_SAFE_INTEGER, timeoutMs: 24 * 3_600_000, floor: { valueBytes: FLOOR_VALUE_BYTES } };
        p.processor = ctx.spawnChild('bare-pipe', spec, { label: `${p.tag}.pipe` });
        continue;
      }
      p.processor = ctx.spawnChild(
        'processor',
        { processor: 'workflow-summary', mode: 'exactly-once', groupId: `bench.${ctx.runId}.${p.tag}.summary-grp`, topics: { input: p.rawTopic, outputs: { summaries: p.summaryTopic } } },
        { label: `${p.tag}.summary`, env: p.retry === 'kafkajs-stock' ? { KUBETRAIL_KAFKAJS_STOCK_TXN_RETRY: '1' } : undefined },
      );
    }
    await Promise.all(pipelines.map((p) => p.processor!.wait('ready', 120_000)));
    for (const p of pipelines) {
      collectGcPauses(p.producer, p.gcPauses.producer);
      collectGcPauses(p.processor!, p.gcPauses.processor);
    }
    const sub = ctx.spawnChild('subscriber', { topics: pipelines.map((p) => p.summaryTopic), rawTopics: pipelines.map((p) => p.rawTopic), floorTopics: [floor.summaryTopic], groupId: `bench.${ctx.runId}.lat.sub` }, { label: 'lat.subscriber' });
    collectGcPauses(sub, subscriberPauses);
    subscriber = sub;
    sub.onEvent((e) => {
      if (e.event === 'raw') {
        const p = pipelines.find((x) => x.rawTopic === e.topic);
        // The raw key is `<resource>.<group>/<namespace>/<name>`; the summary's `<namespace>/<name>`.
        const rawKey = String(e.key);
        const id = `${rawKey.slice(rawKey.indexOf('/') + 1)}|${String(e.timestamp)}`;
        if (p && !p.rawReadAt.has(id)) p.rawReadAt.set(id, Number(e.at));
        return;
      }
      if (e.event !== 'record') return;
      const p = pipelines.find((x) => x.summaryTopic === e.topic);
      if (!p) return;
      const key = String(e.key);
      const at = Number(e.at);
      p.seenKeys.add(key);
      const id = `${key}|${String(e.progress)}`;
      const t0 = p.pending.get(id);
      if (t0 !== undefined) {
        p.pending.delete(id);
        p.latencies.push(at - t0);
        const observedAt = Number(e.observedAt);
        const timestamp = Number(e.timestamp);
        const rawAt = p.rawReadAt.get(`${key}|${timestamp}`);
        p.rawReadAt.delete(`${key}|${timestamp}`);
        if (Number.isFinite(observedAt)) {
          p.pipeline.push(at - observedAt);
          p.windows.push([observedAt, at]);
          p.split.push([at - observedAt, timestamp - observedAt, rawAt === undefined ? NaN : rawAt - timestamp, rawAt === undefined ? NaN : at - rawAt]);
        }
      }
    });
    await sub.wait('ready', 120_000);

    // Workflows of the size mix (the same picks for both), created and seen through to the summary topic (warm-up).
    let createdBytes = 0;
    for (const p of pipelines) {
      const random = rng(7);
      const picked = Array.from({ length: workflows }, () => templates.pick(random));
      const created = await createWorkflows(sim, p.namespace, 'lat', picked, workflows, { concurrency: 8, deadlineMs: 120_000 });
      p.names = created.names;
      createdBytes = created.bytes;
    }
    const deadline = Date.now() + 60_000;
    while (pipelines.some((p) => p.seenKeys.size < workflows) && Date.now() < deadline) await sleep(100);
    for (const p of pipelines) if (p.seenKeys.size < workflows) throw new Error(`${p.retry}: only ${p.seenKeys.size} of ${workflows} workflows reached the summary topic within 60 s`);
    ctx.log(`latency: ${workflows} workflows (mean ${Math.round(createdBytes / workflows / 1000)} kB) in each of ${pipelines.length} namespaces created and summarized; writing changes`);

    let seq = 0;
    const runRate = async (p: Pipeline, rate: number, seconds: number): Promise<RateResult> => {
      p.latencies.length = 0;
      p.pipeline.length = 0;
      p.split.length = 0;
      p.windows.length = 0;
      p.gcPauses.producer.length = 0;
      p.gcPauses.processor.length = 0;
      subscriberPauses.length = 0;
      p.pending.clear();
      p.rawReadAt.clear();
      const before = await snapshot(p);
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const writeTimes: number[] = [];
      const busy = new Set<string>();
      const scheduled = Math.round(rate * seconds);
      let written = 0;
      let skipped = 0;
      const inFlight = new Set<Promise<void>>();
      const began = Date.now();
      for (let i = 0; i < scheduled; i++) {
        const due = began + (i * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        // The next workflow without a write in flight.
        let name: string | undefined;
        for (let k = 0; k < p.names.length; k++) {
          const candidate = p.names[(p.cursor + k) % p.names.length]!;
          if (!busy.has(candidate)) {
            name = candidate;
            p.cursor = (p.cursor + k + 1) % p.names.length;
            break;
          }
        }
        if (name === undefined || inFlight.size >= 64 || Date.now() - due > 1000) {
          skipped += 1;
          continue;
        }
        const progress = `${++seq}/1000000`;
        const key = `${p.namespace}/${name}`;
        const wfName = name;
        busy.add(wfName);
        const t0 = Date.now();
        p.pending.set(`${key}|${progress}`, t0);
        const w: Promise<void> = withRetry(() => sim.patch(p.namespace, wfName, { status: { progress } }), 3)
          .then(() => {
            writeTimes.push(Date.now() - t0);
            written += 1;
          })
          .catch(() => {
            p.pending.delete(`${key}|${progress}`);
          })
          .finally(() => {
            busy.delete(wfName);
            inFlight.delete(w);
          });
        inFlight.add(w);
      }
      await Promise.all(inFlight);
      const writeSeconds = (Date.now() - began) / 1000;
      const drainUntil = Date.now() + 5_000;
      while (p.pending.size > 0 && Date.now() < drainUntil) await sleep(50);
      loop.disable();
      // The producer's and processor's lines that snapshot() waits for carry their pauses up to
      // then; the subscriber's come on a line of their own.
      const reportedFrom = Date.now();
      const after = await snapshot(p);
      await subscriber?.wait('gc', 5_000, (e) => (e.at as number) >= reportedFrom);
      const lat = summarize(p.latencies);
      const pipe = summarize(p.pipeline);
      const result: RateResult = {
        retry: p.retry,
        targetPerSec: rate,
        seconds: round(writeSeconds, 2),
        scheduled,
        written,
        writtenPerSec: round(written / writeSeconds, 1),
        received: p.latencies.length,
        latencyMs: lat,
        pipelineMs: pipe,
        pipelineP99OverP50: round(pipe.p99 / pipe.p50, 2),
        beforeProduceMs: summarize(p.split.map((x) => x[1])),
        afterProduceMs: summarize(p.split.map((x) => x[0] - x[1])),
        rawReadableMs: summarize(p.split.map((x) => x[2]).filter(Number.isFinite)),
        processorMs: summarize(p.split.map((x) => x[3]).filter(Number.isFinite)),
        slowest: [...p.split].sort((a, b) => b[0] - a[0]).slice(0, 5),
        gcBesideSlowest: gcBesideSlowest(p.windows, pipe.p99, { producer: p.gcPauses.producer, processor: p.gcPauses.processor, subscriber: subscriberPauses }, [began, reportedFrom]),
        writeMs: summarize(writeTimes),
        benchLoopDelayMs: { p50: round(loop.percentile(50) / 1e6, 1), p99: round(loop.percentile(99) / 1e6, 1), max: round(loop.max / 1e6, 1) },
        producerTxns: minus(after.producer, before.producer, Date.now() - began),
        processorTxns: minus(after.processor, before.processor, Date.now() - began),
        // The source sustained the rate, every change arrived, and the pipeline did not fall behind.
        keepsUp: skipped <= scheduled * 0.05 && written / writeSeconds >= rate * 0.9 && p.latencies.length >= written && pipe.p99 < 2000,
      };
      ctx.log(
        `latency [${p.retry}]: ${rate}/s target → ${result.writtenPerSec}/s written (${skipped} not sent on time), ${p.latencies.length}/${written} summaries; ` +
          `producer→summary p50 ${pipe.p50} ms, p99 ${pipe.p99} ms (×${result.pipelineP99OverP50}); end to end p50 ${lat.p50} ms, p99 ${lat.p99} ms (write p50 ${result.writeMs.p50} ms); ` +
          `split at the produce request: before p50 ${result.beforeProduceMs.p50} / p99 ${result.beforeProduceMs.p99} ms, after p50 ${result.afterProduceMs.p50} / p99 ${result.afterProduceMs.p99} ms (raw readable p50 ${result.rawReadableMs.p50} / p99 ${result.rawReadableMs.p99}, then summary p50 ${result.processorMs.p50} / p99 ${result.processorMs.p99}); slowest ${result.slowest.map((x) => x.join('/')).join(' ')}; ${gcText(result.gcBesideSlowest)}; bench event loop delay p99 ${result.benchLoopDelayMs.p99} ms, max ${result.benchLoopDelayMs.max} ms; ` +
          `CONCURRENT_TRANSACTIONS: producer ${result.producerTxns.concurrentTransactions} in ${result.producerTxns.transactions} transactions (mean ${result.producerTxns.meanTxnMs} ms, busy ${result.producerTxns.busyShare}), ` +
          `processor ${result.processorTxns.concurrentTransactions} in ${result.processorTxns.transactions} (mean ${result.processorTxns.meanTxnMs} ms, busy ${result.processorTxns.busyShare})` +
          `${result.keepsUp ? '' : ' — does not keep up'}`,
      );
      return result;
    };

    // Rising rates; the issue's rates on the three pipelines, interleaved; higher ones while every rate kept up; a longer steady run.
    const steps: RateResult[] = [];
    const references: RateResult[] = [];
    const floors: RateResult[] = [];
    for (const rate of rising) steps.push(await runRate(main, rate, stepSeconds));
    for (let repeat = 0; repeat < targetRepeats; repeat++) {
      for (const rate of targetRates) {
        steps.push(await runRate(main, rate, targetSeconds));
        references.push(await runRate(reference, rate, targetSeconds));
        floors.push(await runRate(floor, rate, targetSeconds));
      }
    }
    for (const rate of beyond) {
      if (!steps.every((s) => s.keepsUp)) break;
      steps.push(await runRate(main, rate, stepSeconds));
    }
    const firstMiss = steps.findIndex((s) => !s.keepsUp);
    const highest = (firstMiss < 0 ? steps : steps.slice(0, firstMiss)).at(-1);
    // After a rate the API server could not take, it works off its backlog for a while.
    if (!steps.at(-1)!.keepsUp) await sleep(10_000);
    const steadyResult = await runRate(main, highest?.targetPerSec ?? rising[0]!, steady.seconds);

    const targets: LatencyTarget[] = targetRates.map((rate) => {
      // The target runs at this rate (the rising steps' run of the same rate is a warm-up).
      const runs = steps.filter((x) => x.targetPerSec === rate && x.seconds >= targetSeconds - 1).slice(-targetRepeats);
      const refs = references.filter((x) => x.targetPerSec === rate);
      const floorRuns = floors.filter((x) => x.targetPerSec === rate);
      const p99Goal = goals.get(rate) ?? NaN;
      const measured = medians(runs);
      return {
        targetPerSec: rate,
        ...measured,
        p99Goal,
        ratioGoal: 3,
        p99Met: measured.p99 <= p99Goal,
        ratioMet: measured.p99OverP50 <= 3,
        reference: refs.length ? medians(refs) : undefined,
        floor: floorRuns.length ? medians(floorRuns) : undefined,
      };
    });
    for (const t of targets) {
      ctx.log(
        `latency target at ${t.targetPerSec}/s (median of ${t.repeats.length}: ${t.repeats.map((r) => `${r.p50}/${r.p99}`).join(', ')} ms): producer→summary p50 ${t.p50} ms, p99 ${t.p99} ms (goal ≤ ${t.p99Goal}: ${t.p99Met ? 'met' : 'MISSED'}), p99/p50 ${t.p99OverP50} (goal ≤ 3: ${t.ratioMet ? 'met' : 'MISSED'})` +
          (t.reference ? `; kafkajs stock retry: p50 ${t.reference.p50} ms, p99 ${t.reference.p99} ms (×${t.reference.p99OverP50})` : '') +
          (t.floor ? `; floor (no kubetrail pipeline code): p50 ${t.floor.p50} ms, p99 ${t.floor.p99} ms (×${t.floor.p99OverP50})` : ''),
      );
    }
    return {
      deployment: 'producer and workflow-summary (exactly-once) as child processes; the writer in the bench process, a read_committed subscriber in a child process of its own',
      workflows,
      meanObjectBytes: Math.round(createdBytes / workflows),
      stepSeconds,
      targetSeconds,
      steady: steadyResult,
      steps,
      references,
      floors,
      floorValueBytes: FLOOR_VALUE_BYTES,
      highestKeepingUp: highest ? { ...highest } : null,
      targets,
    };
  } finally {
    await subscriber?.stop(5_000);
    await Promise.all(pipelines.map((p) => p.processor?.stop()));
    await Promise.all(pipelines.map((p) => p.producer.stop()));
    for (const p of pipelines) await deleteAll(sim, p.namespace).catch((error: Error) => ctx.log(`latency: deleting the workflows of ${p.namespace} failed: ${error.message}`));
  }
}
