// The task: what happens to the records of one input partition between the fetch and the commit
// (Kafka Streams' StreamTask with its RecordCollector). decode → process → validate and encode
// the outputs → stage state writes and dead letters → return what to send. Synchronous and pure:
// no I/O, no clock (the caller passes the time), no Kafka client. The runner sends what it
// returns in one transaction; the test driver runs the very same task over in-memory bytes; replay
// adds its filters through the hooks. So the three cannot disagree.
//
// A record the processor cannot handle goes to the dead letters with a reason (dead-letter.ts),
// and its outputs and state writes are dropped; the other records of the batch go on. With
// `strict` (the test driver's option for processor authors), a bug in the definition (an
// undeclared output, a value its schema rejects, undeclared or invalid state) throws instead.
import type avro from 'avsc';
import type { IHeaders, KafkaMessage, Message, TopicMessages } from 'kafkajs';
import type { InputRecord, OutputRecord, ProcessorContext, ProcessorDefinition } from './processor.js';
import { explainInvalid, type WireDecoder, type WireEncoder } from '../kafka/codec.js';
import { messageBytes } from '../kafka/batching.js';
import { deadLetterMessage, type DeadLetterReason } from './dead-letter.js';
import { UndeclaredStore, type PartitionStore, type StateError } from './state-store.js';
import { outputEventType, outputKafkaHeaders, type OutputEventType } from '../cloudevents.js';

/** Record batch framing, taken off a topic's max.message.bytes to get the largest single record. */
export const BATCH_FRAMING = 512;

/** A declared output, compiled: where it goes and how it is encoded. */
export interface TaskOutput {
  name: string;
  topic: string;
  encoder: WireEncoder;
  /** Largest record the topic accepts (its max.message.bytes less batch framing). */
  maxRecordBytes: number;
}

/** An output record as it will be sent, offered to the acceptOutput hook. */
export interface EncodedOutput {
  output: TaskOutput;
  record: OutputRecord<Record<string, unknown>>;
  message: Message & { value: Buffer | null };
}

export interface TaskHooks {
  /** False: the input record is skipped (not processed, no output, not a dead letter). */
  acceptInput?(partition: number, offset: string): boolean;
  /** False: this output is not sent. Called once the record is known to succeed. */
  acceptOutput?(output: EncodedOutput, input: { partition: number; offset: string }): boolean;
}

export interface TaskConfig<In, Outputs extends Record<string, unknown>, S> {
  definition: ProcessorDefinition<In, Outputs, S>;
  inputTopic: string;
  inputDecoder: WireDecoder<In>;
  outputs: TaskOutput[];
  deadLetterTopic: string;
  changelogTopic: string | undefined;
  hooks?: TaskHooks;
  /** Definition bugs throw DefinitionError instead of dead-lettering the record. */
  strict?: boolean;
}

/** A processor definition is wrong (strict mode): thrown out of run() instead of a dead letter. */
export class DefinitionError extends Error {
  override name = 'DefinitionError';
}

/** A value the processor returned or put does not conform to its declared schema (strict mode). */
export class SchemaViolationError extends DefinitionError {
  override name = 'SchemaViolationError';
}

export interface DeadLetterNote {
  offset: string;
  reason: DeadLetterReason;
  error: string;
  errorName: string;
}

export interface TaskResult {
  /** Outputs (per topic, in order), then state changelog writes, then dead letters. */
  topicMessages: TopicMessages[];
  recordsIn: number;
  /** Input records skipped by the acceptInput hook. */
  ignored: number;
  outCounts: Map<string, number>;
  deadCounts: Map<DeadLetterReason, number>;
  deadLetters: DeadLetterNote[];
}


/** A record's headers as text (the last value of a repeated header). */
export function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (headers) {
    for (const name in headers) {
      const value = headers[name];
      const last = Array.isArray(value) ? value[value.length - 1] : value;
      if (last !== undefined) result[name] = last.toString();
    }
  }
  return result;
}

function errorText(error: unknown): { message: string; name: string } {
  if (error instanceof Error) return { message: error.message, name: error.name };
  return { message: String(error), name: typeof error };
}

/** Why a record is a dead letter; `bug` when the definition rather than the record is at fault. */
type Failure = { reason: DeadLetterReason; error: string; errorName: string; bug?: 'definition' | 'schema' };
type Accepted = Array<{ output: TaskOutput; message: Message }>;

/** A state error as a dead letter: undeclared state is a definition bug, a bad value a schema one. */
function stateFailure(error: StateError): Failure {
  return { reason: 'invalid-state', error: error.message, errorName: error.name, bug: error.undeclared ? 'definition' : 'schema' };
}

/** The store seen by process(): the partition's store, or one that fails every use. */
type RecordScope = Pick<PartitionStore<unknown>, 'beginRecord' | 'acceptRecord' | 'rejectRecord' | 'recordError'>;

export class ProcessorTask<In, Outputs extends Record<string, unknown>, S> {
  private readonly outputs = new Map<string, TaskOutput>();
  /** Each output's CloudEvents type and content type, compiled once. */
  private readonly eventTypes = new Map<TaskOutput, OutputEventType>();
  private readonly declared: string;
  private readonly undeclaredStore: UndeclaredStore;

  constructor(readonly config: TaskConfig<In, Outputs, S>) {
    for (const output of config.outputs) {
      this.outputs.set(output.name, output);
      const declared = (config.definition.outputs as Record<string, { cloudEventType?: string } | undefined>)[output.name]?.cloudEventType;
      this.eventTypes.set(output, outputEventType(config.definition.name, output.name, output.topic, declared));
    }
    this.declared = config.outputs.map((o) => o.name).join(', ');
    this.undeclaredStore = new UndeclaredStore(config.definition.name);
  }

  /** True when decode() of this value needs nothing more from the registry. */
  isPrepared(value: Buffer | null): boolean {
    return this.config.inputDecoder.isPrepared(value);
  }

  /**
   * Runs records of one partition (their schema ids prepared). State writes are staged in the
   * store: commit() or abort() it once the returned messages are sent or not.
   */
  run(partition: number, messages: KafkaMessage[], store: PartitionStore<S> | undefined, now: number): TaskResult {
    const result: TaskResult = { topicMessages: [], recordsIn: messages.length, ignored: 0, outCounts: new Map(), deadCounts: new Map(), deadLetters: [] };
    const perOutput = new Map<TaskOutput, Message[]>(this.config.outputs.map((o) => [o, []]));
    const dead: Message[] = [];
    for (const message of messages) {
      if (this.config.hooks?.acceptInput && !this.config.hooks.acceptInput(partition, message.offset)) {
        result.ignored++;
        continue;
      }
      const outcome = this.runRecord(partition, message, store);
      if ('reason' in outcome) {
        if (this.config.strict && outcome.bug) throw outcome.bug === 'schema' ? new SchemaViolationError(outcome.error) : new DefinitionError(outcome.error);
        const { reason, error, errorName } = outcome;
        dead.push(deadLetterMessage(this.config.definition.name, { topic: this.config.inputTopic, partition, message }, reason, error, errorName, now));
        result.deadCounts.set(reason, (result.deadCounts.get(reason) ?? 0) + 1);
        result.deadLetters.push({ offset: message.offset, reason, error, errorName });
        continue;
      }
      for (const { output, message: out } of outcome) perOutput.get(output)!.push(out);
    }
    this.collect(result, perOutput, partition, store, dead, now);
    return result;
  }

  /** Groups what a batch produced by topic, in the order the transaction sends it. */
  private collect(result: TaskResult, perOutput: Map<TaskOutput, Message[]>, partition: number, store: PartitionStore<S> | undefined, dead: Message[], now: number): void {
    const byTopic = new Map<string, Message[]>();
    for (const [output, list] of perOutput) {
      result.outCounts.set(output.name, list.length);
      if (list.length === 0) continue;
      const existing = byTopic.get(output.topic);
      if (existing) existing.push(...list);
      else byTopic.set(output.topic, list);
    }
    for (const [topic, list] of byTopic) result.topicMessages.push({ topic, messages: list });
    if (store?.hasPendingWrites && this.config.changelogTopic) {
      result.topicMessages.push({ topic: this.config.changelogTopic, messages: store.changelogMessages(partition, String(now)) });
    }
    if (dead.length > 0) result.topicMessages.push({ topic: this.config.deadLetterTopic, messages: dead });
  }

  /** One record: its accepted outputs, or why it is a dead letter. */
  private runRecord(partition: number, message: KafkaMessage, store: PartitionStore<S> | undefined): Accepted | Failure {
    const decoded = this.config.inputDecoder.decode(message.value);
    if (!decoded.ok) return { reason: decoded.reason, error: decoded.error, errorName: 'DecodeError' };
    const record: InputRecord<In> = {
      topic: this.config.inputTopic,
      partition,
      offset: message.offset,
      key: message.key ? message.key.toString('utf8') : null,
      value: decoded.value,
      timestamp: Number(message.timestamp),
      headers: headersOf(message.headers),
    };
    const scope: RecordScope = store ?? this.undeclaredStore;
    const context = { state: store ?? this.undeclaredStore } as unknown as ProcessorContext<S>;
    scope.beginRecord();
    let results: OutputRecord<Outputs>[];
    try {
      results = this.config.definition.process(record, context);
    } catch (error) {
      const stateError = scope.recordError;
      scope.rejectRecord();
      if (stateError) return stateFailure(stateError);
      const { message: text, name } = errorText(error);
      return { reason: 'process-error', error: text, errorName: name };
    }
    if (scope.recordError) {
      const stateError = scope.recordError;
      scope.rejectRecord();
      return stateFailure(stateError);
    }
    const encoded = this.encodeOutputs(results, message, record);
    if (!Array.isArray(encoded)) {
      scope.rejectRecord();
      return { reason: 'invalid-output', error: encoded.error, errorName: 'InvalidOutputError', bug: encoded.bug };
    }
    scope.acceptRecord();
    const accept = this.config.hooks?.acceptOutput;
    if (!accept) return encoded.map(({ output, message: m }) => ({ output, message: m }));
    return encoded.filter((e) => accept(e, { partition, offset: message.offset })).map(({ output, message: m }) => ({ output, message: m }));
  }

  /** Validates and encodes what process() returned, or says why it cannot be sent. */
  private encodeOutputs(results: unknown, input: KafkaMessage, record: InputRecord<In>): EncodedOutput[] | { error: string; bug?: 'definition' | 'schema' } {
    if (!Array.isArray(results)) return { error: `process() returned ${typeof results}, not an array of output records`, bug: 'definition' };
    const encoded: EncodedOutput[] = [];
    for (const out of results as OutputRecord<Record<string, unknown>>[]) {
      const output = this.outputs.get(out.output);
      if (output === undefined) return { error: `'${String(out.output)}' is not a declared output (declared: ${this.declared})`, bug: 'definition' };
      let value: Buffer | null = null;
      if (out.value !== null && out.value !== undefined) {
        const type = output.encoder.type as avro.Type;
        try {
          value = output.encoder.encode(out.value);
        } catch {
          return { error: `value for output '${output.name}' does not conform to its schema: ${explainInvalid(type, out.value)}`, bug: 'schema' };
        }
        // Fields the schema does not declare are dropped by the encoder; an author wants to know.
        if (this.config.strict && !type.isValid(out.value, { noUndeclaredFields: true })) {
          return { error: `value for output '${output.name}' has fields its schema does not declare: ${explainInvalid(type, out.value, true)}`, bug: 'schema' };
        }
      }
      // CloudEvents headers last: the change's identity is the runner's to write, not the processor's.
      const headers = { ...out.headers, ...outputKafkaHeaders(this.eventTypes.get(output)!, record, this.config.definition.name) };
      const message = { key: out.key ?? null, value, headers, timestamp: input.timestamp };
      const bytes = messageBytes(message);
      if (bytes > output.maxRecordBytes) {
        return { error: `record for output '${output.name}' is ${bytes} bytes; topic '${output.topic}' accepts at most ${output.maxRecordBytes + BATCH_FRAMING} (max.message.bytes)` };
      }
      encoded.push({ output, record: out, message });
    }
    return encoded;
  }
}

