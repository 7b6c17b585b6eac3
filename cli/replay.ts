// `kubetrail replay <processor>`: re-runs a processor over its input (lib/replay.ts) with a
// progress bar and a summary. See docs/replay.md.
import { InvalidArgumentError, Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { commandLogger } from './command-log.js';
import { ConfigError } from '../lib/config.js';
import { loadProcessor, ProcessorNotFoundError } from '../lib/kit/discovery.js';
import { processorTopics, producerTopicSettings } from '../lib/catalog.js';
import { parseFrom, replay, type ReplayEvent, type ReplayFrom, type ReplayProgress, type ReplayReport } from '../lib/replay.js';
import { parseSince } from '../lib/kafka/start-position.js';
import { configFile, connectionOptions, loadConnection } from './connection.js';
import { catalogOptions, integerIn, positiveInteger, topicFlags } from './catalog-options.js';
import { DEFAULT_MAX_BYTES_PER_FETCH, DEFAULT_MAX_BYTES_PER_PARTITION, MAX_FETCH_BYTES, MIN_FETCH_BYTES } from '../lib/kit/runner.js';

const seconds = (ms: number) =>
  ms < 10_000
    ? `${(ms / 1000).toFixed(1)}s`
    : ms < 60_000
      ? `${Math.round(ms / 1000)}s`
      : ms < 3_600_000
        ? `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`
        : `${(ms / 3_600_000).toFixed(1)}h`;

/** `output=topic` pairs of --to-topic, collected. */
function outputTopicPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError(`'${value}' is not <output>=<topic>`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** The suffix of --into-new, joined with a dot unless it starts with a separator. */
export function withSuffix(topic: string, suffix: string): string {
  return /^[._-]/.test(suffix) ? `${topic}${suffix}` : `${topic}.${suffix}`;
}

/** A consumer group name unique to this replay: `<group>.replay.<UTC time to the millisecond>`. */
export function replayGroupId(liveGroupId: string, now = new Date()): string {
  return `${liveGroupId}.replay.${now.toISOString().replace(/[-:]/g, '').replace('.', '')}`;
}

/** Progress on stderr: a bar on a terminal, a line every few seconds otherwise. */
export class ProgressView {
  private bar: cliProgress.SingleBar | undefined;
  private lastLine = 0;
  private lastProgress: ReplayProgress | undefined;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = 2_000,
  ) {}

  start(total: number) {
    if (this.out.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.out,
          format: `${this.label} [{bar}] {percentage}% | {value}/{total} records | {rate}/s | ETA {eta}`,
          etaBuffer: 20,
          hideCursor: true,
          clearOnComplete: false,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { rate: 0, eta: '?' });
    }
  }

  static rate(p: ReplayProgress): number {
    return p.elapsedMs > 0 ? Math.round((p.done / p.elapsedMs) * 1000) : 0;
  }

  static eta(p: ReplayProgress): string {
    const rate = ProgressView.rate(p);
    return p.done >= p.total ? '0s' : rate > 0 ? seconds(((p.total - p.done) / rate) * 1000) : '?';
  }

  static line(label: string, p: ReplayProgress): string {
    const percent = p.total > 0 ? Math.floor((p.done / p.total) * 100) : 100;
    return `${label}: ${p.done}/${p.total} records (${percent}%), ${ProgressView.rate(p)}/s, ETA ${ProgressView.eta(p)}`;
  }

  update(p: ReplayProgress) {
    this.lastProgress = p;
    if (this.bar) {
      this.bar.update(p.done, { rate: ProgressView.rate(p), eta: ProgressView.eta(p) });
      return;
    }
    if (Date.now() - this.lastLine >= this.intervalMs) {
      this.lastLine = Date.now();
      this.out.write(`${ProgressView.line(this.label, p)}\n`);
    }
  }

  stop() {
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
    } else if (this.lastProgress && this.lastProgress.done > 0 && this.lastProgress.done !== this.lastProgress.total) {
      this.out.write(`${ProgressView.line(this.label, this.lastProgress)}\n`);
    }
  }

  note(text: string) {
    if (this.bar) this.out.write(`\n${text}\n`);
    else this.out.write(`${text}\n`);
  }
}

export function summaryLines(report: ReplayReport): string[] {
  const lines: string[] = [];
  lines.push(`replay of ${report.processor} ${report.interrupted ? 'INTERRUPTED' : 'done'} in ${seconds(report.durationMs)} (processing ${seconds(report.processingMs)})`);
  const ranges = report.ranges.map((r) => `${r.partition}:${r.start}→${r.goal}`).join(' ');
  lines.push(`  input         ${report.input} from ${report.from} (${ranges || 'no partitions'})`);
  lines.push(`  records read  ${report.recordsRead} of ${report.total} offsets in ${report.commits} commit${report.commits === 1 ? '' : 's'}, ${report.recordsPerSecond} records/s${report.ignoredPastGoal > 0 ? ` (${report.ignoredPastGoal} written after the start ignored)` : ''}`);
  for (const o of report.outputs) {
    const skipped = report.dedupe.enabled && report.dedupe.indexedTopics.includes(o.topic) ? `, ${o.duplicates} already there${o.superseded > 0 ? `, ${o.superseded} superseded (compacted keys)` : ''}${o.finalWrites > 0 ? `, ${o.finalWrites} final values of changed keys` : ''}` : '';
    lines.push(`  output        ${o.output} → ${o.topic}: ${o.written} written${skipped}`);
  }
  const reasons = Object.entries(report.deadLetters.byReason).map(([r, n]) => `${r} ${n}`).join(', ');
  lines.push(`  dead letters  ${report.deadLetters.count}${report.deadLetters.count > 0 ? ` → ${report.deadLetters.topic} (${reasons})` : ''}`);
  if (report.dedupe.enabled && report.dedupe.indexedRecords > 0) lines.push(`  dedupe        ${report.dedupe.indexedRecords} records already in ${report.dedupe.indexedTopics.join(', ')}`);
  lines.push(`  group         ${report.groupId}${report.deleted.length > 0 ? `; deleted: ${report.deleted.join(', ')}` : ''}${report.kept.length > 0 ? `; kept: ${report.kept.join(', ')}` : ''}`);
  return lines;
}

const help = `
Where the replay starts (--from, the syntax of subscribe): 'beginning' (default), an offset (every
partition, clamped to what it holds), -N (the last N records of each partition), a time (ISO 8601 or
epoch milliseconds; numbers from 10^12 up are times, write offset:<n> or time:<t> to be explicit), or
a duration ago (--from 1h, or --since 1h). It ends at the end offsets of the input when it starts.

Where it writes: by default the processor's own topics; --to-topic <output>=<topic> for one output,
--into-new <suffix> for every other output (e.g. --into-new v2 writes kubetrail.workflows.summary.v2,
created as the processor would).

No duplicates in topics that already hold outputs: before starting, each target topic that exists is
read to its end (read_committed) and every record kept as a 16-byte hash of (topic, key, canonical
JSON of its decoded value); an output whose hash is there is not written again. Into a compacted
target, nothing is written for keys it already holds while the replay runs (older values would roll
them back); at the end, keys whose last replayed value differs from the topic's get that value. This
relies on outputs being a deterministic function of the input, and needs about 55 bytes of memory
per record in the targets (60 more per key of a compacted one). Into new (empty) topics nothing is read. --no-dedupe writes everything. See docs/replay.md.

The replay runs in its own consumer group (<group>.replay.<time>) with fresh state: its changelog
starts empty and the state is rebuilt from the replayed input. Afterwards the group and its
changelog are deleted (--keep-group keeps them), and so is its dead-letter topic when empty.`;

export function registerReplayCommand(program: Command): void {
  const command = program
    .command('replay <processor>')
    .description('re-run a processor over its input (the raw topic), into its own topics without duplicates or into new ones; progress and a summary')
    .addOption(new Option('--from <position>', 'where to start: beginning, <offset>, -N, <time>, <duration> ago').default('beginning').conflicts('since'))
    .option('--since <duration>', 'start this long ago (15m, 1h, 2d)')
    .option('--input-topic <topic>', 'the input topic (default: the raw topic)')
    .option('--to-topic <output=topic>', 'write this output to this topic (repeatable)', outputTopicPair)
    .option('--into-new <suffix>', 'write every output not named by --to-topic to <its topic>.<suffix>')
    .option('--dead-letter-topic <topic>', 'dead letters of the replay (default <replay group>.dlq, deleted when empty)')
    .addOption(new Option('--delivery <mode>', 'delivery mode of the replay').choices(['exactly-once', 'at-least-once']).default('exactly-once'))
    .option('--live-group <id>', 'the live service\'s consumer group, checked for lag (default: the processor\'s name, under --topic-prefix)')
    .option('--keep-group', 'keep the replay\'s consumer group and state changelog afterwards')
    .option('--no-dedupe', 'do not read the target topics; write every output')
    .option('--max-batch-records <n>', 'most input records per transaction (default 500)', positiveInteger)
    .option('--max-bytes-per-partition <bytes>', `bytes fetched per input partition per request (default ${DEFAULT_MAX_BYTES_PER_PARTITION}, as kubetrail process)`, integerIn(MIN_FETCH_BYTES, MAX_FETCH_BYTES))
    .option('--max-bytes-per-fetch <bytes>', `bytes a fetch request returns over its partitions (default ${DEFAULT_MAX_BYTES_PER_FETCH}, as kubetrail process)`, integerIn(MIN_FETCH_BYTES, MAX_FETCH_BYTES))
    .option('--json', 'print the summary as one JSON object')
    .addHelpText('after', help);
  catalogOptions(connectionOptions(command), { processors: false, partitions: false }).action(async (name: string, options: Record<string, unknown>, command: Command) => {
    const connection = await loadConnection(command);
    const delivery = String(options.delivery);
    if (delivery !== 'exactly-once' && delivery !== 'at-least-once') throw new ConfigError(`--delivery: '${delivery}' is not exactly-once or at-least-once`);
    let from: ReplayFrom;
    try {
      from = options.since !== undefined ? parseSince(String(options.since)) : parseFrom(String(options.from));
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    let definition;
    try {
      definition = await loadProcessor(name);
    } catch (error) {
      if (error instanceof ProcessorNotFoundError) throw new ConfigError(error.message);
      throw error;
    }
    const producer = producerTopicSettings({ flags: topicFlags(command), file: configFile(options as { config?: string }) });
    const own = processorTopics(definition, producer, String(options.topicPrefix ?? ''));
    const explicit = (options.toTopic as Record<string, string> | undefined) ?? {};
    const declared = Object.keys(own.topics.outputs);
    for (const output of Object.keys(explicit)) {
      if (!declared.includes(output)) throw new ConfigError(`--to-topic ${output}=…: ${name} has no output '${output}' (outputs: ${declared.join(', ')})`);
    }
    const suffix = options.intoNew as string | undefined;
    const outputs: Record<string, string> = {};
    for (const output of declared) outputs[output] = explicit[output] ?? (suffix ? withSuffix(own.topics.outputs[output]!, suffix) : own.topics.outputs[output]!);
    const input = (options.inputTopic as string | undefined) ?? own.topics.input;
    for (const topic of Object.values(outputs)) if (topic === input) throw new ConfigError(`output topic '${topic}' is the input topic`);

    const groupId = replayGroupId(own.groupId);
    const logger = commandLogger(`replay-${name}`);
    const view = new ProgressView(`replay ${name}`);
    const controller = new AbortController();
    const interrupt = () => {
      if (controller.signal.aborted) process.exit(130);
      view.note('stopping (again to quit at once)…');
      controller.abort();
    };
    process.on('SIGINT', interrupt);
    process.on('SIGTERM', interrupt);
    const onEvent = (event: ReplayEvent) => {
      switch (event.type) {
        case 'plan':
          process.stderr.write(`replay ${name}: ${event.total} offsets of ${event.input} in group ${event.groupId} → ${Object.values(event.topics.outputs).join(', ')}\n`);
          break;
        case 'index-start':
          process.stderr.write(`reading ${event.topics.join(', ')} to skip what is already there…\n`);
          break;
        case 'index':
          process.stderr.write(`  ${event.topic}: ${event.records} records${event.compacted ? ' (compacted)' : ''}${event.unreadable > 0 ? `, ${event.unreadable} unreadable` : ''}\n`);
          break;
        case 'started':
          view.start(total);
          break;
        case 'progress':
          view.update(event.progress);
          break;
        case 'warning':
          view.note(`warning: ${event.message}`);
          break;
      }
    };
    let total = 0;
    const report = await replay({
      connection,
      definition,
      groupId,
      liveGroupId: (options.liveGroup as string | undefined) ?? own.groupId,
      topics: { input, outputs, deadLetter: options.deadLetterTopic as string | undefined },
      from,
      mode: delivery,
      dedupe: options.dedupe !== false,
      keepGroup: options.keepGroup === true,
      logger,
      maxBatchRecords: options.maxBatchRecords as number | undefined,
      maxBytesPerPartition: options.maxBytesPerPartition as number | undefined,
      maxBytesPerFetch: options.maxBytesPerFetch as number | undefined,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'plan') total = event.total;
        onEvent(event);
      },
    }).finally(() => {
      view.stop();
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    });
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${summaryLines(report).join('\n')}\n`);
    if (report.interrupted) process.exitCode = 130;
  });
}
