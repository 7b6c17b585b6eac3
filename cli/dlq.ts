// `kubetrail dlq list|show|redrive <processor>`: a processor's dead letters — counted by reason,
// one shown whole (headers, key, decoded value), and re-driven into the processor's input after
// the cause is fixed, exactly once each (lib/dead-letters.ts), with a progress bar.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConfigError } from '../lib/config.js';
import { loadProcessor, ProcessorNotFoundError } from '../lib/kit/discovery.js';
import { processorTopics, producerTopicSettings } from '../lib/catalog.js';
import { deadLetterTopicName } from '../lib/topics.js';
import { createKafka, createRegistry } from '../lib/kafka/client.js';
import { WriterSchemaDecoder } from '../lib/kafka/codec.js';
import { parseStartPosition, StartPositionError } from '../lib/kafka/start-position.js';
import { planScan, scanTopic } from '../lib/kafka/topic-scan.js';
import { readDeadLetters, readRedriven, redrive, letterId, scanDeadLetters, type LetterSelection } from '../lib/dead-letters.js';
import { configFile, connectionOptions, loadConnection, reachServices } from './connection.js';
import { commandLogger } from './command-log.js';
import { outputFormats, printedRecord, RecordPrinter, type OutputFormat } from './record-format.js';
import { ProgressView } from './replay.js';
import { collect } from './options.js';

interface Target {
  processor: string;
  deadLetterTopic: string;
  input: string;
}

/** The processor's dead-letter topic and input, under --topic-prefix and the overrides. */
async function target(name: string, options: Record<string, unknown>): Promise<Target> {
  const definition = await loadProcessor(name).catch((error: unknown) => {
    throw error instanceof ProcessorNotFoundError ? new ConfigError(error.message) : error;
  });
  const flags: Record<string, unknown> = {};
  if (options.rawTopic !== undefined) flags.topic = options.rawTopic;
  const producer = producerTopicSettings({ flags, file: configFile(options as { config?: string }) });
  const own = processorTopics(definition, producer, String(options.topicPrefix ?? ''));
  const groupId = (options.groupId as string | undefined) ?? own.groupId;
  return {
    processor: definition.name,
    deadLetterTopic: (options.deadLetterTopic as string | undefined) ?? (options.groupId ? deadLetterTopicName(groupId) : own.topics.deadLetter),
    input: (options.inputTopic as string | undefined) ?? own.topics.input,
  };
}

function common(command: Command): Command {
  return connectionOptions(
    command
      .option('--topic-prefix <prefix>', 'in front of every topic name and consumer group (as given to the processor)', '')
      .option('--raw-topic <name>', "the producer's raw topic (the input of processors that read it)")
      .option('--group-id <id>', "the processor's consumer group (default: its name under --topic-prefix); its dead letters are in <group>.dlq")
      .option('--dead-letter-topic <topic>', 'the dead-letter topic, when the processor was given one'),
  );
}

async function connect(command: Command, name: string, options: Record<string, unknown>) {
  const connection = await loadConnection(command);
  const where = await target(name, options);
  await reachServices(connection);
  const kafka = createKafka(connection, commandLogger('dlq'), `${connection.kafkaClientId}-dlq`);
  return { connection, kafka, where };
}

function time(value: string): number {
  try {
    const at = parseStartPosition(value);
    if (at.kind === 'time') return at.ms;
  } catch (error) {
    if (!(error instanceof StartPositionError)) throw error;
  }
  throw new InvalidArgumentError(`'${value}' is not a time (ISO 8601, epoch ms, or a duration ago such as 15m)`);
}

function offset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('an offset (0 or more)');
  return n;
}

function registerList(dlq: Command): void {
  common(
    dlq
      .command('list <processor>')
      .description("count a processor's dead letters by reason: how many, how many already re-driven, the first and last")
      .addOption(new Option('-o, --output <format>', 'a table, or one JSON object').choices(['table', 'json']).default('table')),
  ).action(async (name: string, options: Record<string, unknown>, self: Command) => {
    const { kafka, where } = await connect(self, name, options);
    const redriven = await readRedriven(kafka, where.deadLetterTopic);
    const byReason = new Map<string, { count: number; redriven: number; first: number; last: number }>();
    let total = 0;
    await scanDeadLetters(kafka, where.deadLetterTopic, (letter) => {
      total++;
      const row = byReason.get(letter.reason) ?? { count: 0, redriven: 0, first: Infinity, last: -Infinity };
      row.count++;
      if (redriven.has(letterId(letter.partition, letter.offset))) row.redriven++;
      if (Number.isFinite(letter.deadLetteredAt)) {
        row.first = Math.min(row.first, letter.deadLetteredAt);
        row.last = Math.max(row.last, letter.deadLetteredAt);
      }
      byReason.set(letter.reason, row);
    });
    const rows = [...byReason].sort(([a], [b]) => a.localeCompare(b));
    const when = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : '-');
    if (options.output === 'json') {
      const reasons = Object.fromEntries(rows.map(([reason, r]) => [reason, { count: r.count, redriven: r.redriven, first: when(r.first), last: when(r.last) }]));
      process.stdout.write(`${JSON.stringify({ processor: where.processor, topic: where.deadLetterTopic, total, reasons })}\n`);
      return;
    }
    process.stdout.write(`${where.processor}: ${total} dead letter${total === 1 ? '' : 's'} in ${where.deadLetterTopic}\n`);
    if (total === 0) return;
    process.stdout.write(`${'REASON'.padEnd(22)}${'COUNT'.padEnd(8)}${'REDRIVEN'.padEnd(10)}${'FIRST'.padEnd(26)}LAST\n`);
    for (const [reason, r] of rows) process.stdout.write(`${reason.padEnd(22)}${String(r.count).padEnd(8)}${String(r.redriven).padEnd(10)}${when(r.first).padEnd(26)}${when(r.last)}\n`);
  });
}

function registerShow(dlq: Command): void {
  common(
    dlq
      .command('show <processor> <offset>')
      .description('one dead letter whole: why (reason, error), where it came from, its headers, key and decoded value')
      .addOption(new Option('-p, --partition <n>', 'its partition').argParser(offset).default(0))
      .addOption(new Option('-o, --output <format>', 'output format').choices(outputFormats).default('yaml')),
  ).action(async (name: string, at: string, options: Record<string, unknown>, self: Command) => {
    const wanted = offset(at);
    const { connection, kafka, where } = await connect(self, name, options);
    const partition = options.partition as number;
    const admin = kafka.admin();
    await admin.connect();
    const plans = await planScan(admin, { topic: where.deadLetterTopic, from: { kind: 'offset', offset: wanted }, until: { kind: 'end' }, partitions: [partition] }).finally(() => admin.disconnect());
    const decoder = new WriterSchemaDecoder(createRegistry(connection));
    const controller = new AbortController();
    let found = false;
    await scanTopic(kafka, plans, { topic: where.deadLetterTopic, from: { kind: 'offset', offset: wanted }, until: { kind: 'end' }, signal: controller.signal }, async ({ offset: o, message }) => {
      if (found || o !== wanted) return;
      found = true;
      controller.abort();
      new RecordPrinter(options.output as OutputFormat).print(await printedRecord(decoder, where.deadLetterTopic, partition, message));
    });
    if (!found) throw new Error(`${where.deadLetterTopic}[${partition}] has no record at offset ${wanted} (see kubetrail dlq list ${name})`);
  });
}

function registerRedrive(dlq: Command): void {
  common(
    dlq
      .command('redrive <processor>')
      .description("send dead letters back into the processor's input after a fix: all, by reason, by time or by offset; each exactly once, even over reruns")
      .addOption(new Option('--reason <reason>', 'only letters of this reason (repeatable)').argParser(collect((v: string) => v)))
      .addOption(new Option('--since <duration>', 'only letters dead-lettered this long ago or later (15m, 1h, 2d)').argParser(time).conflicts('after'))
      .addOption(new Option('--after <time>', 'only letters dead-lettered at or after this time').argParser(time))
      .addOption(new Option('--before <time>', 'only letters dead-lettered before this time').argParser(time))
      .addOption(new Option('--offset <offset>', 'only the letter at this offset (repeatable)').argParser(collect(offset)))
      .option('--input-topic <topic>', "where to send them (default: the processor's input)")
      .option('--dry-run', 'only say what would be re-driven'),
  ).action(async (name: string, options: Record<string, unknown>, self: Command) => {
    const { kafka, where } = await connect(self, name, options);
    const selection: LetterSelection = {
      reasons: options.reason as string[] | undefined,
      after: (options.since ?? options.after) as number | undefined,
      before: options.before as number | undefined,
      offsets: options.offset as number[] | undefined,
    };
    const letters = await readDeadLetters(kafka, where.deadLetterTopic, selection);
    if (options.dryRun) {
      const done = await readRedriven(kafka, where.deadLetterTopic);
      const fresh = letters.filter((l) => !done.has(letterId(l.partition, l.offset))).length;
      process.stdout.write(`dry run: would re-drive ${fresh} dead letter${fresh === 1 ? '' : 's'} of ${where.deadLetterTopic} into ${where.input} (${letters.length - fresh} selected already re-driven)\n`);
      return;
    }
    const view = new ProgressView(`redrive ${where.processor}`);
    const controller = new AbortController();
    const interrupt = () => {
      if (controller.signal.aborted) process.exit(130);
      view.note('stopping after this transaction (again to quit at once)…');
      controller.abort();
    };
    process.on('SIGINT', interrupt);
    process.on('SIGTERM', interrupt);
    const began = Date.now();
    let started = false;
    const result = await redrive(kafka, {
      deadLetterTopic: where.deadLetterTopic,
      target: where.input,
      letters,
      signal: controller.signal,
      onProgress: ({ sent, toSend }) => {
        if (!started) {
          started = true;
          view.start(toSend);
        }
        view.update({ done: sent, total: toSend, recordsIn: sent, elapsedMs: Date.now() - began });
      },
    }).finally(() => {
      view.stop();
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    });
    process.stdout.write(
      `${result.interrupted ? 'INTERRUPTED: ' : ''}re-drove ${result.sent} dead letter${result.sent === 1 ? '' : 's'} of ${where.deadLetterTopic} into ${where.input}` +
        `${result.alreadyRedriven > 0 ? ` (${result.alreadyRedriven} selected already re-driven, not sent again)` : ''}\n`,
    );
    if (result.interrupted) process.exitCode = 130;
  });
}

export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description("a processor's dead letters: list them by reason, show one, re-drive them after a fix");
  registerList(dlq);
  registerShow(dlq);
  registerRedrive(dlq);
}
