// The results as Markdown tables (bench/results/latest.md, and the results section of
// BENCHMARKS.md after a complete run).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { PASS_NAMES } from './pass-names.js';

type Any = any;

const fmt = (value: unknown, digits = 0): string => {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return '–';
    return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  return String(value);
};

function table(header: string[], rows: unknown[][]): string {
  const line = (cells: unknown[]) => `| ${cells.map((c) => String(c)).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const failed = (section: Any) => (section?.error ? `\n**Failed:** \`${String(section.error).split('\n')[0]}\`\n` : '');

export function renderMarkdown(results: Record<string, unknown>): string {
  const r = results as Any;
  const meta = r.meta;
  const out: string[] = [];
  out.push(
    `Run \`${meta.runId}\` on ${meta.startedAt.slice(0, 16).replace('T', ' ')} UTC — ${meta.quick ? '**--quick** (smoke sizes, not for quoting)' : meta.full ? '--full' : 'default sizes'}; ` +
      `Node ${meta.node}, ${meta.cpus} CPUs (${meta.cpuModel}), load average ${meta.loadAverageAtStart?.join(' / ')} at start and ${meta.loadAverageAtEnd?.join(' / ')} at the end; ${meta.seconds} s in all.`,
  );

  const tp = r.throughput;
  if (tp) {
    out.push('\n### 1. Processor throughput\n');
    out.push(failed(tp));
    if (tp.variants) {
      out.push(
        `${fmt(tp.events)} raw events, ${fmt(tp.valueBytes / 1e6, 0)} MB of record values (mean ${fmt(tp.meanValueBytes / 1000, 1)} kB), ` +
          `${tp.partitions} partitions, ${tp.compression}; median of ${tp.repeats} interleaved repeat(s). MB/s counts uncompressed input record values. ` +
          `Writing the topic with kafkajs (gzip): ${fmt(tp.fill.recordsPerSec)} records/s, ${fmt(tp.fill.mbPerSec, 1)} MB/s.\n`,
      );
      out.push(
        table(
          ['pass', 'records/s (median)', 'best', 'MB/s', 'CPU µs/record', 'records out', 'records per commit', 'vs bare pipe (same mode)', 'vs kafkajs read', 'vs Kafka consumer', 'vs Kafka producer'],
          tp.variants.map((v: Any) => {
            const ratio = tp.ratios.find((x: Any) => x.variant === v.name);
            return [
              v.name,
              fmt(v.medianRecordsPerSec),
              fmt(v.bestRecordsPerSec),
              fmt(v.medianMbPerSec, 1),
              fmt(v.cpuUsPerRecord),
              fmt(v.recordsOut),
              fmt(v.recordsPerCommit),
              ratio ? fmt(ratio.vsBare, 2) : '',
              ratio ? fmt(ratio.vsKafkajsRead, 2) : '',
              ratio ? fmt(ratio.vsKafkaConsumer, 2) : '',
              ratio ? fmt(ratio.vsKafkaProducer, 2) : '',
            ];
          }),
        ),
      );
      out.push(
        '\nBare passes and processors fetch 8 MiB per partition (the runner\'s DEFAULT_MAX_BYTES_PER_PARTITION) unless the name says 1 MiB, and at most 10 MiB per fetch in all (kafkajs\' maxBytes, the runner\'s DEFAULT_MAX_BYTES_PER_FETCH) unless it says 24 MiB; "uncompressed topic": the same events in a raw topic written without compression; "the runner when the engine issue was filed": the code of that commit, run from its own tree with its own locked dependencies (bench/lib/baseline.ts). ' +
          '"records per commit": input records per transaction (exactly-once) or per offset commit.',
      );
    }
    if (tp.targets) {
      out.push('\nTargets (ratios of medians, same run):\n');
      out.push(
        table(
          ['target', 'measured records/s', 'reference records/s', 'ratio', 'goal', 'met'],
          tp.targets.map((t: Any) => [`${t.what} (${t.measured} / ${t.reference})`, fmt(t.measuredRecordsPerSec), fmt(t.referenceRecordsPerSec), `${fmt(t.ratio, 2)}×`, `≥ ${fmt(t.target, 2)}×`, t.met ? 'yes' : '**no**']),
        ),
      );
      const rate = (name: string) => tp.variants.find((v: Any) => v.name === name)?.medianRecordsPerSec;
      const eos = rate(PASS_NAMES.summaryEos);
      const read1MiB = rate(PASS_NAMES.consumeOnly1MiB);
      if (eos && read1MiB) {
        out.push(`\nAgainst the kafkajs consume-only pass at kafkajs' default fetch size (1 MiB per partition): workflow-summary (exactly-once) ${fmt(eos)} / ${fmt(read1MiB)} records/s = ${fmt(eos / read1MiB, 2)}×.`);
      }
      const readCodec = rate(PASS_NAMES.consumeOnlyCodec);
      if (eos && readCodec) {
        out.push(`\nAgainst a kafkajs consume-only pass that also uses kubetrail's gzip codec (lib/kafka/gzip-codec.ts): workflow-summary (exactly-once) ${fmt(eos)} / ${fmt(readCodec)} records/s = ${fmt(eos / readCodec, 2)}×.`);
      }
      const runsOf = (name: string) => tp.variants.find((v: Any) => v.name === name)?.runs?.map((x: Any) => x.recordsPerSec) ?? [];
      const none8 = runsOf(PASS_NAMES.uncompressed);
      const none1 = runsOf(PASS_NAMES.uncompressed1MiB);
      const none0 = runsOf(PASS_NAMES.uncompressedBaseline);
      if (none8.length > 1 && none8.length === none0.length) {
        out.push(`\nPer repeat, uncompressed topic, the runner / the runner when the engine issue was filed: ${none8.map((x: number, i: number) => `${fmt(x / none0[i], 2)}×`).join(', ')}.`);
      }
      if (none8.length > 1 && none8.length === none1.length) {
        out.push(`Per repeat, uncompressed topic, the runner at 8 MiB / at 1 MiB per partition (the fetch size's own share): ${none8.map((x: number, i: number) => `${fmt(x / none1[i], 2)}×`).join(', ')}.`);
      }
      const none24 = runsOf(PASS_NAMES.uncompressed24MiBFetch);
      const perRepeat24 = (ref: number[], against: string) =>
        none24.length > 1 && none24.length === ref.length ? [`against ${against} ${none24.map((x: number, i: number) => `${fmt(x / ref[i]!, 2)}×`).join(', ')}`] : [];
      const against24 = [...perRepeat24(none0, 'the runner when the engine issue was filed'), ...perRepeat24(none8, 'the default')];
      if (against24.length > 0) out.push(`Per repeat, uncompressed topic, the runner fetching 24 MiB in all (kafkajs' maxBytes; 10 MiB by default): ${against24.join('; ')}.`);
    }
  }

  const lat = r.latency;
  if (lat) {
    out.push('\n### 2. End-to-end latency (API server write → summary readable, read_committed)\n');
    out.push(failed(lat));
    if (lat.steady) {
      out.push(
        `${lat.deployment}. ${lat.workflows} workflows per pipeline, mean object ${fmt(lat.meanObjectBytes / 1000, 1)} kB. "producer → summary" (the pipeline's part) starts when the producer saw the change (source.observedAt); "end to end" when the write was sent. ` +
          `"kubetrail" runs kafkajs with kubetrail's quick CONCURRENT_TRANSACTIONS retry (2-50 ms); its producer takes two transactional ids in turn; "kafkajs stock" is a second pipeline, idle while the other is written to, run as the engine issue found it: its children with KUBETRAIL_KAFKAJS_STOCK_TXN_RETRY=1 (kafkajs' own retry, 300 ms and up), its producer with KUBETRAIL_PRODUCER_ONE_TRANSACTIONAL_ID=1 (one transactional id). "floor" is a third pipeline with none of kubetrail's producer and processor code: a client-node watch that writes each change's object as JSON text in a transaction, and a bare exactly-once consume-and-produce copying each record cut to ${fmt(lat.floorValueBytes ?? 400)} bytes, both through kubetrail's Kafka layer (bench/children/bare-producer.ts, bare-pipe.ts); it shows what p99/p50 this machine allows two transactional hops. ` +
          `The pipeline's part is also split at the raw record's timestamp (when the producer made its produce request; the summary carries it): before it, the producer's queue, encoding and AddPartitionsToTxn; after it, the producer's produce and commit, the processor and the subscriber's read. CONCURRENT_TRANSACTIONS: requests that met it / transactions, per child, over the run, with the mean transaction time and the share of the run spent in transactions (from the children's duration histograms).\n`,
      );
      const txns = (t: Any) => (t ? `${fmt(t.concurrentTransactions)} / ${fmt(t.transactions)}${t.meanTxnMs !== undefined ? ` (${fmt(t.meanTxnMs)} ms each, busy ${fmt((t.busyShare ?? NaN) * 100)}%)` : ''}` : '–');
      const who = (x: Any) => (x.retry === 'kafkajs-stock' ? 'kafkajs stock' : x.retry === 'floor' ? 'floor (no pipeline code)' : 'kubetrail');
      const row = (label: string, x: Any) => [
        label,
        who(x),
        fmt(x.targetPerSec),
        fmt(x.writtenPerSec, 1),
        `${fmt(x.received)}/${fmt(x.written)}`,
        fmt(x.pipelineMs.p50),
        fmt(x.pipelineMs.p99),
        fmt(x.pipelineP99OverP50 ?? x.pipelineMs.p99 / x.pipelineMs.p50, 1),
        x.beforeProduceMs ? `${fmt(x.beforeProduceMs.p99)} / ${fmt(x.afterProduceMs.p99)}` : '–',
        fmt(x.latencyMs.p50),
        fmt(x.latencyMs.p95),
        fmt(x.latencyMs.p99),
        fmt(x.writeMs.p50),
        txns(x.producerTxns),
        txns(x.processorTxns),
        x.keepsUp ? 'yes' : 'no',
      ];
      const runs: unknown[][] = [];
      // Each run at a target rate is followed by its reference run (the n-th of that rate).
      const seen = new Map<number, number>();
      const stepSeconds = Math.min(...lat.steps.map((x: Any) => x.seconds));
      for (const s of lat.steps) {
        runs.push(row(`step (${fmt(s.seconds, 0)} s)`, s));
        if (s.seconds <= stepSeconds + 1 && lat.steps.some((x: Any) => x.seconds > stepSeconds + 1)) continue;
        const n = seen.get(s.targetPerSec) ?? 0;
        seen.set(s.targetPerSec, n + 1);
        const ref = (lat.references ?? []).filter((x: Any) => x.targetPerSec === s.targetPerSec)[n];
        if (ref) runs.push(row(`reference (${fmt(ref.seconds, 0)} s)`, ref));
        const floor = (lat.floors ?? []).filter((x: Any) => x.targetPerSec === s.targetPerSec)[n];
        if (floor) runs.push(row(`floor (${fmt(floor.seconds, 0)} s)`, floor));
      }
      runs.push(row(`steady (${fmt(lat.steady.seconds, 0)} s)`, lat.steady));
      out.push(
        table(
          ['run', 'retry', 'target/s', 'written/s', 'summaries', 'producer→summary p50 ms', 'producer→summary p99 ms', 'p99/p50', 'p99 before / after the produce request ms', 'end to end p50 ms', 'p95 ms', 'p99 ms', 'API write p50 ms', 'CONCURRENT_TRANSACTIONS producer', 'CONCURRENT_TRANSACTIONS processor', 'keeps up'],
          runs,
        ),
      );
      out.push(`\nHighest rate that keeps up: ${lat.highestKeepingUp ? `${fmt(lat.highestKeepingUp.targetPerSec)} changes/s` : 'none of the steps'}.`);
      const gcRuns = [...lat.steps, ...(lat.references ?? []), ...(lat.floors ?? [])].filter((x: Any) => x.gcBesideSlowest && x.seconds > stepSeconds + 1);
      if (gcRuns.length > 0) {
        out.push(
          '\nThe slowest changes beside the garbage collector (the changes at or above each run\'s p99 of the pipeline\'s part, and the pauses of 2 ms or more that each child\'s main thread reported, perf_hooks \'gc\' entries, bench/lib/gc-pauses.ts): how many of them were in flight during a pause of the pipeline\'s producer, its processor and the subscriber that reads the summaries (longest such pause), and during none; one change can overlap pauses of several. A slow change is in flight longer, so it meets more pauses by chance: the last column is the baseline, every change of the run.\n',
        );
        const cell = (g: Any, name: string) => `${fmt(g[name].changes)}${g[name].changes > 0 ? ` (${fmt(g[name].longestMs, 1)} ms)` : ''} · ${fmt(g.pauses[name].count)}`;
        out.push(
          table(
            ['run', 'retry', 'rate/s', 'changes ≥ p99', 'producer: during a pause (longest) · pauses in the run', 'processor', 'subscriber', 'during none', 'every change: during a pause'],
            gcRuns.map((x: Any) => [
              `${fmt(x.seconds, 0)} s`,
              who(x),
              fmt(x.targetPerSec),
              fmt(x.gcBesideSlowest.changes),
              cell(x.gcBesideSlowest, 'producer'),
              cell(x.gcBesideSlowest, 'processor'),
              cell(x.gcBesideSlowest, 'subscriber'),
              fmt(x.gcBesideSlowest.none),
              x.gcBesideSlowest.all ? `${fmt(x.gcBesideSlowest.all.duringAPause)} of ${fmt(x.gcBesideSlowest.all.changes)}` : '–',
            ]),
          ),
        );
      }
      if (lat.targets?.length) {
        out.push('\nTargets (the pipeline\'s part, kubetrail\'s pipeline, medians of the repeats; the reference is the same rate with kafkajs\' stock retry and one producer transactional id, interleaved in the same run; the floor is the same rate through the bare children, after the reference in each repeat):\n');
        out.push(
          table(
            ['rate/s', 'repeats p50 / p99 ms', 'p50 ms', 'p99 ms', 'p99 goal', 'p99/p50', 'p99/p50 goal', 'met', 'reference p50 / p99 ms (p99/p50)', 'floor: repeats p50 / p99 ms; median p50 / p99 (p99/p50)'],
            lat.targets.map((t: Any) => [
              fmt(t.targetPerSec),
              (t.repeats ?? []).map((r: Any) => `${fmt(r.p50)} / ${fmt(r.p99)}`).join(', '),
              fmt(t.p50),
              fmt(t.p99),
              `≤ ${fmt(t.p99Goal)}`,
              fmt(t.p99OverP50, 1),
              `≤ ${fmt(t.ratioGoal)}`,
              t.p99Met && t.ratioMet ? 'yes' : `**no** (${[t.p99Met ? '' : 'p99', t.ratioMet ? '' : 'p99/p50'].filter(Boolean).join(', ')})`,
              t.reference ? `${fmt(t.reference.p50)} / ${fmt(t.reference.p99)} (${fmt(t.reference.p99OverP50, 1)})` : '–',
              t.floor ? `${t.floor.repeats.map((r: Any) => `${fmt(r.p50)} / ${fmt(r.p99)}`).join(', ')}; ${fmt(t.floor.p50)} / ${fmt(t.floor.p99)} (${fmt(t.floor.p99OverP50, 1)})` : '–',
            ]),
          ),
        );
      }
    }
  }

  const pr = r.producer;
  if (pr) {
    out.push('\n### 3. Producer\n');
    out.push(failed(pr));
    if (pr.rates) {
      out.push(`${pr.deployment}. ${fmt(pr.workflows)} workflows of ${fmt(pr.meanObjectBytes / 1000, 1)} kB.${pr.note ? ` ${pr.note}.` : ''}\n`);
      out.push(
        table(
          ['what', 'producer', 'reference'],
          [
            ['ADDED (creates) published/s', fmt(pr.rates.addedPerSec, 1), `API server creates: ${fmt(pr.apiServer.createsPerSec, 1)}/s`],
            ['MODIFIED (status changes) published/s', fmt(pr.rates.modifiedPerSec, 1), `API server writes: ${fmt(pr.apiServer.writesPerSec, 1)}/s; all published ${fmt(pr.rates.modifiedLagAfterLastWriteMs)} ms after the last write`],
            [
              'READ (first-start list) published/s',
              `${fmt(pr.rates.relistReadPerSec, 1)} (${fmt(pr.rates.relistMbPerSec, 1)} MB/s)`,
              pr.rates.listAlonePerSec !== undefined ? `the same list alone (client-node, pages of 500): ${fmt(pr.rates.listAlonePerSec, 1)}/s` : 'no API server write in the way',
            ],
          ],
        ),
      );
      const m = pr.memory;
      out.push('\n');
      out.push(
        table(
          ['memory', 'RSS MB', 'heap MB'],
          [
            ['producer, watching nothing', fmt(m.baseline.rssMb), fmt(m.baseline.heapMb)],
            ['producer, peak while the workflows were created', fmt(m.duringCreates.rssMb), fmt(m.duringCreates.heapMb)],
            ['producer, peak during the status changes', fmt(m.duringChanges.rssMb), fmt(m.duringChanges.heapMb)],
            ['producer, peak during a first-start list of all of them', fmt(m.duringRelist.rssMb), fmt(m.duringRelist.heapMb)],
            [
              `informer-style cache: the ${fmt(m.informerCache.objects)} objects parsed in a Map (${fmt(m.informerCache.objectsJsonMb)} MB of JSON)`,
              fmt(m.informerCache.rssMb),
              `${fmt(m.informerCache.heapAfterGcMb)} (${fmt(m.informerCache.heldHeapMb)} held by the objects)`,
            ],
          ],
        ),
      );
    }
  }

  if (pr?.relistCpuProfile?.categories) {
    const c = pr.relistCpuProfile;
    out.push(`\nCPU profile (node --cpu-prof) of the producer during the first-start list: ${fmt(c.busyMs)} ms busy, ${fmt(c.idleShare * 100)}% idle.\n`);
    out.push(table(['category (self time)', 'ms', 'share of busy'], c.categories.slice(0, 10).map((x: Any) => [x.name, fmt(x.ms), `${fmt(x.shareOfBusy * 100, 1)}%`])));
    out.push('\n');
    out.push(table(['function (self time)', 'ms', 'share of busy'], c.topFunctions.slice(0, 8).map((x: Any) => [`\`${x.name}\``, fmt(x.ms), `${fmt(x.shareOfBusy * 100, 1)}%`])));
  }

  const rp = r.replay;
  if (rp) {
    out.push('\n### 4. Replay (rebuild the summary topic from the raw topic)\n');
    out.push(failed(rp));
    if (rp.runProcessor) {
      const rows: unknown[][] = [];
      if (rp.cli?.runs) {
        rows.push(['`kubetrail replay workflow-summary` (child process)', fmt(rp.cli.medianWallSeconds, 1), fmt(rp.cli.medianWallRecordsPerSec), fmt(rp.cli.medianReportedRecordsPerSec)]);
      }
      rows.push(['runProcessor, fresh group (child process)', fmt(rp.runProcessor.medianWallSeconds, 1), fmt(rp.events / rp.runProcessor.medianWallSeconds), fmt(rp.runProcessor.medianRecordsPerSec)]);
      out.push(`${fmt(rp.events)} raw events. Wall time from spawn to the end; "processing" rate as each reports it (the CLI's report; the bench's join-to-last-record timing).\n`);
      out.push(table(['run', 'wall s', 'records/s (wall)', 'records/s (processing)'], rows));
      if (rp.ratioCliReportedToRunProcessor !== null) out.push(`\nThe CLI's reported rate / the bench's runProcessor rate: ${fmt(rp.ratioCliReportedToRunProcessor, 2)}.`);
      if (rp.cli?.medianDurationMs !== undefined) {
        out.push(
          `\n\`kubetrail replay\`'s own report: durationMs ${fmt(rp.cli.medianDurationMs)} ms (replay() from call to return), processingMs ${fmt(rp.cli.medianProcessingMs)} ms, ` +
            `difference ${fmt(rp.cli.medianFixedMs)} ms (target ≤ 2,000 ms: ${rp.cli.target.met ? 'met' : '**missed**'}); the process's start and exit (tsx, loading) add ${fmt(rp.cli.medianProcessMs)} ms to the wall time from spawn.`,
        );
      }
      else out.push(`\n${rp.cli?.missing ?? ''}`);
    }
  }

  const sc = r.scaling;
  if (sc) {
    out.push('\n### 5. Scaling (instances in one group, 4 partitions)\n');
    out.push(failed(sc));
    if (sc.instances) {
      out.push(`${fmt(sc.events)} raw events; ${sc.processor}; timed from the first instance joining to the group's offsets at the end.\n`);
      out.push(
        table(
          ['instances', 'records/s', 'MB/s', 'speed-up', 'records per instance (last run)', 'join spread s'],
          sc.instances.map((x: Any) => [x.instances, fmt(x.medianRecordsPerSec), fmt(x.medianMbPerSec, 1), fmt(x.speedup, 2), x.runs.at(-1)?.perInstance.join(' / '), fmt(x.runs.at(-1)?.joinSpreadSeconds, 1)]),
        ),
      );
    }
  }

  const pf = r.profile;
  if (pf) {
    out.push('\n### 6. Profile\n');
    out.push(failed(pf));
    if (pf.micro) {
      out.push(`Per-record cost of each step, in one process, over ${pf.micro.records} workload records (mean ${fmt(pf.micro.meanValueBytes / 1000, 1)} kB):\n`);
      out.push(table(['step', 'µs/record', 'MB/s'], pf.micro.steps.map((s: Any) => [s.step, fmt(s.usPerRecord, 1), fmt(s.mbPerSec, 1)])));
    }
    if (pf.cpuProfile?.categories) {
      const c = pf.cpuProfile;
      out.push(
        `\nCPU profile (node --cpu-prof) of ${c.processor} over ${fmt(c.events)} events (${fmt(c.recordsPerSecWhileProfiled)} records/s while profiled), from joining to the last record: ` +
          `${fmt(c.busyMs)} ms busy, ${fmt(c.idleShare * 100)}% idle (waiting on Kafka). Main thread only: gunzip runs on libuv's thread pool.\n`,
      );
      out.push(table(['category (self time)', 'ms', 'share of busy'], c.categories.map((x: Any) => [x.name, fmt(x.ms), `${fmt(x.shareOfBusy * 100, 1)}%`])));
      out.push('\n');
      out.push(table(['function (self time)', 'ms', 'share of busy'], c.topFunctions.slice(0, 12).map((x: Any) => [`\`${x.name}\``, fmt(x.ms), `${fmt(x.shareOfBusy * 100, 1)}%`])));
    }
    if (pf.compression) {
      const c = pf.compression;
      out.push(`\nRaw topic compression, ${fmt(c.events)} events (${fmt(c.valueMb)} MB of values):\n`);
      out.push(
        table(
          ['', 'none', 'gzip'],
          [
            ['write with kafkajs, MB/s', fmt(c.write.none.mbPerSec, 1), fmt(c.write.gzip.mbPerSec, 1)],
            ['on the broker\'s disk, MB', fmt(c.diskMb.none), `${fmt(c.diskMb.gzip)} (÷${fmt(c.diskMb.ratio, 1)})`],
            ['workflow-summary reading it, records/s', fmt(c.summaryProcessorRead.none.medianRecordsPerSec), fmt(c.summaryProcessorRead.gzip.medianRecordsPerSec)],
            ['… CPU µs/record (processor process)', fmt(c.summaryProcessorRead.none.cpuUsPerRecord), fmt(c.summaryProcessorRead.gzip.cpuUsPerRecord)],
            ['… input records per transaction', fmt(c.summaryProcessorRead.none.recordsPerTransaction), fmt(c.summaryProcessorRead.gzip.recordsPerTransaction)],
          ],
        ),
      );
    }
    if (pf.transactions) {
      const t = pf.transactions;
      out.push('\nTransaction size (workflow-summary, exactly-once; gzip topic unless said):\n');
      out.push(
        table(
          ['maxBatchRecords', 'records per transaction', 'records/s', 'CPU µs/record'],
          [
            ['500 (default; fetch 8 MiB/partition)', fmt(t.default.recordsPerTransaction), fmt(t.default.medianRecordsPerSec), fmt(t.default.cpuUsPerRecord)],
            ['25', fmt(t.maxBatchRecords25.recordsPerTransaction), fmt(t.maxBatchRecords25.medianRecordsPerSec), fmt(t.maxBatchRecords25.cpuUsPerRecord)],
            ...(t.noneFetch1MiB
              ? [
                  ['500, uncompressed topic (fetch 8 MiB/partition, the default)', fmt(t.noneDefaultFetch.recordsPerTransaction), fmt(t.noneDefaultFetch.medianRecordsPerSec), fmt(t.noneDefaultFetch.cpuUsPerRecord)],
                  ['500, uncompressed topic, fetch 1 MiB/partition ²', fmt(t.noneFetch1MiB.recordsPerTransaction), fmt(t.noneFetch1MiB.medianRecordsPerSec), fmt(t.noneFetch1MiB.cpuUsPerRecord)],
                  ['500, gzip topic, fetch 1 MiB/partition ²', fmt(t.gzipFetch1MiB.recordsPerTransaction), fmt(t.gzipFetch1MiB.medianRecordsPerSec), fmt(t.gzipFetch1MiB.cpuUsPerRecord)],
                ]
              : []),
          ],
        ),
      );
    }
  }
  if (pf?.transactions?.noneFetch1MiB) out.push('\n² runProcessor\'s maxBytesPerPartition set to kafkajs\' default, 1 MiB (the runner before it defaulted to 8 MiB, BENCHMARKS.md F2).');
  const sk = r.sink;
  if (sk) {
    out.push('\n### 7. Sink delivery (notify, JSON, to a receiver that answers at once)\n');
    out.push(failed(sk));
    if (sk.latency) {
      out.push(
        `Latency: ${sk.rate} completed records/s for ${sk.secondsPerRun} s on ${sk.partitions} partitions, from the record's timestamp to the receiver reading the request; ` +
          `reference: a bare kafkajs consumer of the same records (timestamp to eachMessage). Throughput: ${fmt(sk.records)} records written beforehand, ` +
          `deliveries/s from the first request to the last, ${sk.concurrency} in flight; reference: the same bodies POSTed from a loop, ${sk.concurrency} at a time. Medians of ${sk.repeats} repeat(s).\n`,
      );
      out.push(
        table(
          ['', 'sink', 'reference', 'ratio'],
          [
            ['latency p50, ms', fmt(sk.latency.sinkP50Ms, 1), fmt(sk.latency.referenceP50Ms, 1), fmt(sk.latency.sinkP50Ms / sk.latency.referenceP50Ms, 2)],
            ['latency p99, ms', fmt(sk.latency.sinkP99Ms, 1), fmt(sk.latency.referenceP99Ms, 1), fmt(sk.latency.sinkP99Ms / sk.latency.referenceP99Ms, 2)],
            ['deliveries/s', fmt(sk.throughput.sinkPerSec), fmt(sk.throughput.referencePerSec), fmt(sk.throughput.sinkPerSec / sk.throughput.referencePerSec, 2)],
          ],
        ),
      );
    }
  }
  return `${out.join('\n')}\n`;
}
