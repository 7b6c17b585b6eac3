// `kubetrail subscribe <topic>`: decode any kubetrail topic through the registry and print JSON
// lines, or with --follow a live table of workflows. Reads committed records only, with a
// throwaway consumer group so it never moves anyone else's offsets.
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { connectionOptions, loadConnection } from './connection.js';
import { createKafka, createRegistry } from '../lib/kafka/client.js';
import { DecodeError, WriterSchemaDecoder } from '../lib/kafka/codec.js';
import { createLogger } from '../lib/log.js';

export interface SubscribeFilters {
  namespace?: string;
  phase?: string[];
  label?: Record<string, string>;
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

export function matches(value: Decoded, filters: SubscribeFilters): boolean {
  const f = fieldsOf(value);
  if (filters.namespace && f.namespace !== filters.namespace) return false;
  if (filters.phase?.length && (!f.phase || !filters.phase.includes(f.phase))) return false;
  for (const [k, v] of Object.entries(filters.label ?? {})) if (f.labels[k] !== v) return false;
  return true;
}

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const [k, v] = value.split('=');
    if (!k || v === undefined) throw new Error(`--label takes key=value, got '${value}'`);
    labels[k] = v;
  }
  return labels;
}

/** Offsets to start from per partition for `--from <time>`. */
async function offsetsAt(kafka: Kafka, topic: string, time: number) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.fetchTopicOffsetsByTimestamp(topic, time);
  } finally {
    await admin.disconnect();
  }
}

const duration = (ms: unknown) => {
  if (typeof ms !== 'number') return '';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

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
 * A live view of the latest summary of each workflow. On a terminal it redraws a table as
 * records arrive; otherwise (a pipe, a log) it prints one row per change.
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
 * Reads a topic's committed records with a throwaway consumer group (so nobody's offsets move),
 * decoding each value through the registry. Tombstones are skipped.
 */
export async function subscribeTopic(
  kafka: Kafka,
  registry: SchemaRegistry,
  topic: string,
  options: { from: 'beginning' | 'now' | number },
  onRecord: (key: string, value: Decoded) => void,
): Promise<{ stop: () => Promise<void> }> {
  const consumer = kafka.consumer({ groupId: `kubetrail-subscribe-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: options.from !== 'now' });
  if (typeof options.from === 'number') {
    const offsets = await offsetsAt(kafka, topic, options.from);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const { partition, offset } of offsets) consumer.seek({ topic, partition, offset });
    });
  }
  // Bounds-checked, as the processors decode: a poison record is reported and skipped, not retried forever.
  const decoder = new WriterSchemaDecoder(registry);
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (!message.value) return;
      let value: Decoded;
      try {
        value = (await decoder.decode(message.value)) as Decoded;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        process.stderr.write(`kubetrail subscribe: skipped ${topic}[${partition}]@${message.offset}: ${error.message}\n`);
        return;
      }
      onRecord(message.key?.toString() ?? '', value);
    },
  });
  return { stop: () => consumer.disconnect() };
}

export function registerSubscribeCommand(program: Command): void {
  connectionOptions(
    program
      .command('subscribe <topic>')
      .description('decode a topic through the Schema Registry and print JSON lines (or a live workflow view with --follow)')
      .option('--follow', 'a live, readable view of workflows (for the summary topic)')
      .option('--from <when>', "'beginning' (default), 'now' (only new records), or a time (ISO 8601 or epoch ms)", 'beginning')
      .option('-n, --namespace <namespace>', 'only records of this namespace')
      .option('--phase <phase...>', 'only records in these phases')
      .option('-l, --label <key=value...>', 'only records with these labels', [])
      .option('--max <count>', 'exit after printing this many records', (v) => Number(v))
      .option('--idle-exit <ms>', 'exit when no record arrived for this long', (v) => Number(v)),
  ).action(async (topic: string, options) => {
    const connection = await loadConnection(options);
    const logger = createLogger('subscribe', process.env.LOG_LEVEL ?? 'warn');
    const kafka = createKafka(connection, logger, 'kubetrail-subscribe');
    const registry = createRegistry(connection);
    const filters: SubscribeFilters = { namespace: options.namespace, phase: options.phase, label: parseLabels(options.label) };
    const from = String(options.from);
    const startAt = from === 'beginning' || from === 'now' ? undefined : Number.isFinite(Number(from)) ? Number(from) : Date.parse(from);
    if (Number.isNaN(startAt)) throw new Error(`--from: '${from}' is not 'beginning', 'now' or a time`);

    const view = options.follow ? new WorkflowView() : undefined;
    let printed = 0;
    let lastRecordAt = Date.now();
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const subscription = await subscribeTopic(kafka, registry, topic, { from: from === 'now' ? 'now' : startAt ?? 'beginning' }, (key, value) => {
      lastRecordAt = Date.now();
      if (!matches(value, filters)) return;
      if (view) view.update(key, value);
      else process.stdout.write(`${JSON.stringify({ key, value })}\n`);
      printed += 1;
      if (options.max !== undefined && printed >= options.max) finish();
    });
    const idle = options.idleExit
      ? setInterval(() => Date.now() - lastRecordAt > options.idleExit && finish(), 100)
      : undefined;
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    await finished;
    if (idle) clearInterval(idle);
    await subscription.stop();
  });
}
