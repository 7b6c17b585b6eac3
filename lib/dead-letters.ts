// A processor's dead letters, read back and re-driven into its input once the cause is fixed.
// Exactly once: each re-sent record and a marker naming its dead letter (the redrive log,
// `<dead-letter topic>.redriven`, lib/topics.ts) are written in one Kafka transaction, under a
// transactional id fixed per dead-letter topic. Starting a redrive fences any other one of the same
// topic (its open transaction is aborted), then the log is read to its end (read_committed): a
// letter found there is never sent again, so a rerun or a redrive interrupted at any point sends
// each letter exactly once. See docs/operations.md#dead-letters.
import { Partitioners, type IHeaders, type Kafka, type KafkaMessage } from 'kafkajs';
import { DLQ_HEADERS, readDeadLetterHeaders } from './kit/dead-letter.js';
import { ensureTopics, redriveLogSpec, redriveLogTopicName } from './topics.js';
import { planScan, scanTopic } from './kafka/topic-scan.js';
import { initTransactions } from './kafka/fencing.js';
import { epochErrorType } from './kafka/producer-errors.js';

/** The header a re-driven record carries: `<dead-letter topic>/<partition>/<offset>` of its letter. */
export const REDRIVEN_FROM_HEADER = 'kubetrail-redriven-from';

export interface DeadLetter {
  partition: number;
  offset: number;
  message: KafkaMessage;
  reason: string;
  /** When it was dead-lettered (ms since the epoch; NaN when the header is missing). */
  deadLetteredAt: number;
}

export interface LetterSelection {
  reasons?: string[];
  /** Dead-lettered at or after (ms). */
  after?: number;
  /** Dead-lettered before (ms). */
  before?: number;
  /** Only these offsets. */
  offsets?: number[];
}

export const letterId = (partition: number, offset: number) => `${partition}/${offset}`;

/** Calls onLetter for every committed record of a dead-letter topic, from its start to its end as of now. */
export async function scanDeadLetters(kafka: Kafka, topic: string, onLetter: (letter: DeadLetter) => void, signal?: AbortSignal): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const plans = await planScan(admin, { topic, from: { kind: 'beginning' }, until: { kind: 'end' } }).finally(() => admin.disconnect());
  await scanTopic(kafka, plans, { topic, from: { kind: 'beginning' }, until: { kind: 'end' }, signal }, ({ partition, offset, message }) => {
    const headers = readDeadLetterHeaders(message.headers);
    onLetter({ partition, offset, message, reason: headers.reason ?? 'unknown', deadLetteredAt: Date.parse(headers.timestamp ?? '') });
  });
}

/** The letters a selection picks (held in memory with their values: what a redrive sends). */
export async function readDeadLetters(kafka: Kafka, topic: string, selection: LetterSelection = {}, signal?: AbortSignal): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  await scanDeadLetters(kafka, topic, (letter) => {
    if (selectLetters([letter], selection).length > 0) letters.push(letter);
  }, signal);
  return letters;
}

/** Ids of the letters of `deadLetterTopic` already re-driven (empty when it never was). */
export async function readRedriven(kafka: Kafka, deadLetterTopic: string): Promise<Set<string>> {
  const topic = redriveLogTopicName(deadLetterTopic);
  const admin = kafka.admin();
  await admin.connect();
  let plans;
  try {
    if (!(await admin.listTopics()).includes(topic)) return new Set();
    plans = await planScan(admin, { topic, from: { kind: 'beginning' }, until: { kind: 'end' } });
  } finally {
    await admin.disconnect();
  }
  const done = new Set<string>();
  await scanTopic(kafka, plans, { topic, from: { kind: 'beginning' }, until: { kind: 'end' } }, ({ message }) => {
    if (message.key && message.value) done.add(message.key.toString());
  });
  return done;
}

export function selectLetters(letters: DeadLetter[], selection: LetterSelection): DeadLetter[] {
  return letters.filter(
    (l) =>
      (!selection.reasons?.length || selection.reasons.includes(l.reason)) &&
      (selection.after === undefined || l.deadLetteredAt >= selection.after) &&
      (selection.before === undefined || l.deadLetteredAt < selection.before) &&
      (!selection.offsets?.length || selection.offsets.includes(l.offset)),
  );
}

/** The record a letter is re-sent as: its original key, value and headers, the dead-letter headers dropped. */
export function redrivenMessage(deadLetterTopic: string, letter: DeadLetter): { key: Buffer | null; value: Buffer | null; headers: IHeaders } {
  const ours = new Set<string>(Object.values(DLQ_HEADERS));
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(letter.message.headers ?? {})) if (!ours.has(name) && value !== undefined) headers[name] = value;
  headers[REDRIVEN_FROM_HEADER] = `${deadLetterTopic}/${letter.partition}/${letter.offset}`;
  return { key: letter.message.key ?? null, value: letter.message.value ?? null, headers };
}

export interface RedriveOptions {
  deadLetterTopic: string;
  /** Where the letters go: the processor's input. */
  target: string;
  letters: DeadLetter[];
  /** Letters per transaction (default 100). */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called once the log is read (how many of the letters are still to send) and after each transaction; awaited. */
  onProgress?: (progress: { sent: number; toSend: number; alreadyRedriven: number }) => void | Promise<void>;
}

export interface RedriveResult {
  sent: number;
  alreadyRedriven: number;
  interrupted: boolean;
}

/**
 * This redrive's producer was fenced: another redrive of the same dead-letter topic started (its
 * initTransactions bumped the epoch), or the broker aborted a transaction that ran past its
 * timeout. The redrive stops; what it committed before stays committed.
 */
export class RedriveFencedError extends Error {
  override name = 'RedriveFencedError';
  constructor(
    readonly deadLetterTopic: string,
    /** Letters this redrive sent in transactions that committed before it was fenced. */
    readonly sent: number,
    readonly type: string,
    cause: unknown,
  ) {
    super(
      `this redrive of ${deadLetterTopic} was fenced (${type}): another redrive of it started, or a transaction ran past its timeout; ` +
        `it stopped after re-driving ${sent} letter${sent === 1 ? '' : 's'}, and nothing of its unfinished transaction counts. ` +
        'Run redrive again (once the other has ended) to send any letter left',
      { cause },
    );
  }
}

export async function redrive(kafka: Kafka, options: RedriveOptions): Promise<RedriveResult> {
  const { deadLetterTopic, target } = options;
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [redriveLogSpec(deadLetterTopic)]).finally(() => admin.disconnect());
  const producer = kafka.producer({
    transactionalId: `kubetrail-redrive-${deadLetterTopic}`,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    // Initialising the transactional id fences another redrive of this topic and aborts its open
    // transaction, so the log read next is final for everything sent before.
    await initTransactions(producer);
    const done = await readRedriven(kafka, deadLetterTopic);
    const pending = options.letters.filter((l) => !done.has(letterId(l.partition, l.offset))).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    const alreadyRedriven = options.letters.length - pending.length;
    let sent = 0;
    await options.onProgress?.({ sent, toSend: pending.length, alreadyRedriven });
    const size = options.batchSize ?? 100;
    for (let i = 0; i < pending.length; i += size) {
      if (options.signal?.aborted) return { sent, alreadyRedriven, interrupted: true };
      const batch = pending.slice(i, i + size);
      const transaction = await producer.transaction();
      try {
        await transaction.send({ topic: target, acks: -1, messages: batch.map((l) => redrivenMessage(deadLetterTopic, l)) });
        await transaction.send({
          topic: redriveLogTopicName(deadLetterTopic),
          acks: -1,
          messages: batch.map((l) => ({ key: letterId(l.partition, l.offset), value: JSON.stringify({ target, at: new Date().toISOString() }) })),
        });
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        const fenced = epochErrorType(error);
        if (fenced) throw new RedriveFencedError(deadLetterTopic, sent, fenced, error);
        throw error;
      }
      sent += batch.length;
      await options.onProgress?.({ sent, toSend: pending.length, alreadyRedriven });
    }
    return { sent, alreadyRedriven, interrupted: false };
  } finally {
    await producer.disconnect();
  }
}
