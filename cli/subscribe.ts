// `kubetrail subscribe <topic>`: any kubetrail topic, decoded (Avro through the registry, the
// producer's JSON state as JSON), as kcat and kafka-avro-console-consumer print it: from the
// beginning, the end, an offset, the last N of each partition or a time; until the end or a time,
// or following; as JSON, YAML, a table or the bare values; filtered by namespace, phase and
// kubectl label selectors. No consumer group unless one is named (--group): it assigns partitions
// and seeks (lib/kafka/topic-scan.ts), so it leaves nothing behind and moves nobody's offsets.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Kafka } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { connectionOptions, loadConnection, reachServices } from './connection.js';
import { createKafka, createRegistry } from '../lib/kafka/client.js';
import { WriterSchemaDecoder } from '../lib/kafka/codec.js';
import { describeStart, parseSince, parseStartPosition, StartPositionError, type StartPosition } from '../lib/kafka/start-position.js';
import { planScan, scanTopic, type ScanEnd } from '../lib/kafka/topic-scan.js';
import { ConfigError } from '../lib/config.js';
import { commandLogger } from './command-log.js';
import { matchesSelector, parseSelector, SelectorError, type Requirement } from './label-selector.js';
import { duration, outputFormats, printedRecord, RecordPrinter, type OutputFormat, type PrintedRecord } from './record-format.js';
import { consumeWithGroup } from './subscribe-group.js';
import { collect } from './options.js';

export interface SubscribeFilters {
  namespace?: string;
  phase?: string[];
  selector?: Requirement[];
}

type Decoded = Record<string, unknown>;

/** Where the namespace, phase and labels of a decoded record are, for both raw and summary records. */
function fieldsOf(value: Decoded): { namespace?: string; phase?: string; labels: Record<string, string> } {
  const labels = (value.labels as Record<string, string> | undefined) ?? {};
  let phase = typeof value.phase === 'string' ? value.phase : undefined;
  if (phase === undefined && typeof value.object === 'string') {
    // A raw ResourceEvent: its object (JSON text) is not parsed; the phase is taken from the
    // workflows.argoproj.io/phase label Argo writes (a workflow without it has no phase here).
    phase = labels['workflows.argoproj.io/phase'];
  }
  return { namespace: (value.namespace as string | null) ?? undefined, phase, labels };
}

export function matches(value: Decoded | null, filters: SubscribeFilters): boolean {
  const active = filters.namespace !== undefined || (filters.phase?.length ?? 0) > 0 || (filters.selector?.length ?? 0) > 0;
  if (!active) return true;
  if (!value || typeof value !== 'object') return false;
  const f = fieldsOf(value);
  if (filters.namespace && f.namespace !== filters.namespace) return false;
  if (filters.phase?.length && (!f.phase || !filters.phase.includes(f.phase))) return false;
  return matchesSelector(f.labels, filters.selector ?? []);
}

/** One workflow summary as a row: workflow, phase, progress, duration, message. */
export function summaryRow(v: Decoded): string {
  return [
    `${String(v.namespace)}/${String(v.name)}`.padEnd(60),
    String(v.deleted ? `${String(v.phase)} (deleted)` : v.phase).padEnd(20),
    String(v.progress ?? '').padEnd(8),
    duration(v.durationMs).padEnd(8),
    String(v.message ?? '').slice(0, 70),
  ].join(' ');
}

export const summaryHeader = ['WORKFLOW'.padEnd(60), 'PHASE'.padEnd(20), 'PROGRESS', 'DURATION', 'MESSAGE'].join(' ');

/**
 * A live view of the latest summary of each workflow (the demo's). On a terminal it redraws a
 * table as records arrive; otherwise (a pipe, a log) it prints one row per change.
 */
export class WorkflowView {
  private rows = new Map<string, Decoded>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly title = '',
  ) {}

  update(key: string, value: Decoded) {
    this.rows.set(key, value);
    if (!this.out.isTTY) {
      this.out.write(`${summaryRow(value)}\n`);
      return;
    }
    this.timer ??= setTimeout(() => this.draw(), 100);
  }

  latest(): Decoded[] {
    return [...this.rows.values()];
  }

  draw() {
    this.timer = undefined;
    const lines = this.latest().map(summaryRow);
    this.out.write(`\x1b[2J\x1b[H${this.title ? `${this.title}\n\n` : ''}${summaryHeader}\n${lines.join('\n')}\n`);
  }
}

/**
 * Follows a topic from a position without a consumer group, decoding each value through the
 * registry (tombstones and undecodable values are passed over). For the demo's live view.
 */
export async function subscribeTopic(
  kafka: Kafka,
  registry: SchemaRegistry,
  topic: string,
  options: { from: StartPosition },
  onRecord: (key: string, value: Decoded) => void,
): Promise<{ stop: () => Promise<void> }> {
  const admin = kafka.admin();
  await admin.connect();
  const plans = await planScan(admin, { topic, from: options.from, until: { kind: 'follow' } }).finally(() => admin.disconnect());
  const decoder = new WriterSchemaDecoder(registry);
  const controller = new AbortController();
  const running = scanTopic(kafka, plans, { topic, from: options.from, until: { kind: 'follow' }, signal: controller.signal }, async ({ partition, message }) => {
    const record = await printedRecord(decoder, topic, partition, message);
    if (record.value && typeof record.value === 'object' && !record.decodeError) onRecord(record.key ?? '', record.value as Decoded);
  });
  return {
    stop: async () => {
      controller.abort();
      await running;
    },
  };
}

function partitionNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a partition number (0 or more)');
  return n;
}

function selector(value: string): Requirement[] {
  try {
    return parseSelector(value);
  } catch (error) {
    if (error instanceof SelectorError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

function position(value: string): StartPosition {
  try {
    return parseStartPosition(value);
  } catch (error) {
    if (error instanceof StartPositionError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

function since(value: string): StartPosition {
  try {
    return parseSince(value);
  } catch (error) {
    if (error instanceof StartPositionError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/** `--until`: 'end' (the end offsets when the command starts) or a time (ISO, epoch ms, or a duration ago). */
export function parseUntil(value: string): ScanEnd {
  if (value === 'end') return { kind: 'end' };
  const at = position(value);
  if (at.kind !== 'time') throw new InvalidArgumentError(`'${value}' is not 'end' or a time (ISO 8601, epoch ms, or a duration ago such as 15m)`);
  return { kind: 'time', ms: at.ms };
}

export const startHelp = `
Where reading starts (--from, and --since for a duration ago), as in kcat: 'beginning', 'end',
an offset (every partition), -N (the last N records of each partition), a time (ISO 8601 or epoch
ms) or a duration ago (90s, 15m, 1h, 2d). Where it stops (--until): 'end' (the end of each
partition when the command starts: exit at the end of the topic) or a time; without --until it
follows new records until Ctrl-C.

Output (-o): json (one object a line: topic, partition, offset, timestamp, key, headers, schemaId,
value), yaml, table (columns for workflow summaries, dead letters with their reasons, or any
record), wide (the table plus partition, offset, timestamp, schema id, headers), raw (the decoded
values only, one JSON a line).

No consumer group is used unless --group names one: partitions are assigned and read directly
(read_committed), so nothing is left behind. Logs: none unless LOG_LEVEL is set (JSON on stderr).`;

export function registerSubscribeCommand(program: Command): void {
  const command = program
    .command('subscribe <topic>')
    .description('print the records of any kubetrail topic, decoded: raw events, outputs, dead letters (with their reasons), the producer\'s state')
    .addOption(new Option('-o, --output <format>', 'output format').choices(outputFormats).default('json'))
    .addOption(new Option('--from <position>', 'where to start: beginning, end, <offset>, -N, <time>, <duration> ago').argParser(position).default({ kind: 'beginning' }, 'beginning').conflicts('since'))
    .addOption(new Option('--since <duration>', 'start this long ago (15m, 1h, 2d)').argParser(since))
    .addOption(new Option('--until <end|time>', 'stop at the end of the topic (as of the start) or at a time; default: follow').argParser(parseUntil))
    .addOption(new Option('-p, --partition <n>', 'only this partition (repeatable)').argParser(collect(partitionNumber)))
    .addOption(new Option('-l, --selector <selector>', "kubectl label selector: 'team=a', 'team in (a,b)', '!x' (repeatable: all must hold)").argParser(collect(selector)))
    .option('-n, --namespace <namespace>', 'only records of this namespace')
    .addOption(new Option('--phase <phase>', 'only records in this phase (repeatable)').argParser(collect((v: string) => v)))
    .addOption(new Option('--max <count>', 'exit after printing this many records').argParser(partitionNumber))
    .option('--group <id>', 'read as this consumer group, committing its offsets (default: no group)')
    .addHelpText('after', startHelp);
  connectionOptions(command).action(async (topic: string, options: Record<string, unknown>, self: Command) => {
    const connection = await loadConnection(self);
    const from = (options.since ?? options.from) as StartPosition;
    const until = (options.until as ScanEnd | undefined) ?? { kind: 'follow' };
    const filters: SubscribeFilters = { namespace: options.namespace as string | undefined, phase: options.phase as string[] | undefined, selector: ((options.selector as Requirement[][] | undefined) ?? []).flat() };
    await reachServices(connection);
    const logger = commandLogger('subscribe');
    const kafka = createKafka(connection, logger, `${connection.kafkaClientId}-subscribe`);
    const decoder = new WriterSchemaDecoder(createRegistry(connection));
    const printer = new RecordPrinter(options.output as OutputFormat);
    const controller = new AbortController();
    const max = options.max as number | undefined;
    let printed = 0;
    const onRecord = async (record: PrintedRecord) => {
      if (controller.signal.aborted || !matches(record.value as Decoded | null, filters)) return;
      printer.print(record);
      if (max !== undefined && ++printed >= max) controller.abort();
    };
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const partitions = options.partition as number[] | undefined;
    if (options.group !== undefined) {
      if (from.kind === 'offset' || from.kind === 'tail') throw new ConfigError('--group: a group starts where it left off, or for a new group at --from beginning, end or a time');
      await consumeWithGroup(kafka, { groupId: String(options.group), topic, from, until, partitions, signal: controller.signal }, async (partition, message) => onRecord(await printedRecord(decoder, topic, partition, message)));
    } else {
      const admin = kafka.admin();
      await admin.connect();
      const plans = await planScan(admin, { topic, from, until, partitions }).finally(() => admin.disconnect());
      // Following waits for records that may be long in coming: say so (stderr, not the data).
      if (until.kind === 'follow') process.stderr.write(`following ${topic} from ${describeStart(from)} (Ctrl-C stops)\n`);
      await scanTopic(kafka, plans, { topic, from, until, partitions, signal: controller.signal }, async ({ partition, message }) => onRecord(await printedRecord(decoder, topic, partition, message)));
    }
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  });
}
