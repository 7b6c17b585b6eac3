// Runs a ProcessorDefinition in memory, without a broker (Kafka Streams' TopologyTestDriver runs
// the real StreamTask; this runs the real ProcessorTask): values piped in are encoded to the
// Confluent wire format with the real codec, the task decodes, processes, encodes and stages state
// exactly as under the runner, and what it returns is read back from bytes. A stand-in registry
// (in memory) gives the schema ids. So outputs, state and dead letters are the runner's own:
// - a record the processor cannot handle goes to the dead letters with its reason; its outputs
//   and state writes are dropped;
// - state persists across records and across restart() (restored from the changelog records the
//   task wrote, through the real restore); outputs and dead letters before a restart are not read
//   again.
// With `strict`, a bug in the definition (an undeclared output or state, a value its schema
// rejects or with fields it does not declare) throws DefinitionError or SchemaViolationError out
// of pipe() instead of becoming a dead letter, so a processor's unit test fails on it. A piped
// input that does not conform to the input schema always throws: it is the test's mistake.
import avro from 'avsc';
import type { KafkaMessage, Message } from 'kafkajs';
import type { AvroSchema, InputRecord, ProcessorDefinition } from './processor.js';
import { HEADER_SIZE, WireDecoder, WireEncoder, explainInvalid, parseSchema, wireSchemaId, type SchemaSource } from '../kafka/codec.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../topics.js';
import { CLOUDEVENT_KAFKA_HEADERS } from '../cloudevents.js';
import { BATCH_FRAMING, DefinitionError, ProcessorTask, SchemaViolationError, type TaskOutput, type TaskResult } from './task.js';
import { PartitionStore, foldChangelog } from './state-store.js';
import { DLQ_HEADERS, type DeadLetterReason } from './dead-letter.js';

export { DefinitionError, SchemaViolationError };

/** The Schema Registry, in memory: ids from 1, one per distinct schema. */
export class MemoryRegistry implements SchemaSource {
  private readonly types = new Map<number, avro.Type>();
  private readonly ids = new Map<string, number>();

  register(schema: AvroSchema): number {
    const text = JSON.stringify(schema);
    let id = this.ids.get(text);
    if (id === undefined) {
      id = Math.max(0, ...this.types.keys()) + 1;
      this.ids.set(text, id);
      this.types.set(id, avro.Type.forSchema(schema as avro.Schema));
    }
    return id;
  }

  /** Takes a schema under a given id: to mirror a real registry's ids (records read from Kafka). */
  add(id: number, schema: AvroSchema): void {
    const known = this.types.get(id);
    if (known && JSON.stringify(known.schema()) !== JSON.stringify(avro.Type.forSchema(schema as avro.Schema).schema())) throw new Error(`schema id ${id} is taken by another schema`);
    this.ids.set(JSON.stringify(schema), id);
    this.types.set(id, avro.Type.forSchema(schema as avro.Schema));
  }

  /** The writer schema of an id, or undefined when the registry has none. */
  typeOf(id: number): avro.Type | undefined {
    return this.types.get(id);
  }

  async getSchema(id: number): Promise<unknown> {
    const type = this.types.get(id);
    if (!type) throw Object.assign(new Error(`Schema ${id} not found`), { status: 404 });
    return type;
  }
}

export interface DriverOptions {
  /** Definition bugs throw instead of becoming dead letters (for processor authors' tests). */
  strict?: boolean;
  /** The input topic's name, as the runner's topic override gives it (default: the declared one). */
  inputTopic?: string;
  /** The stand-in registry, e.g. one given the ids of a real registry with add(). */
  registry?: MemoryRegistry;
  /** max.message.bytes of the output and changelog topics (default: the broker's default). */
  maxMessageBytes?: number;
}

export interface PipeOptions {
  key?: string | null;
  headers?: Record<string, string>;
  partition?: number;
  /** Input offset (default: the partition's next); records read back from Kafka keep theirs. */
  offset?: string;
  /** Broker timestamp; defaults to a clock that starts at 2024-01-01T00:00:00Z and advances 1 ms per record. */
  timestamp?: number;
}

export interface EmittedRecord<V> {
  /** The topic the output is declared with. */
  topic: string;
  key: string | null;
  /** null is a tombstone. */
  value: V | null;
  /** The headers the processor returned (the runner's CloudEvents headers are in cloudEvent). */
  headers: Record<string, string>;
  /** The CloudEvents binary-mode headers the runner adds to every output (ce_*, content-type). */
  cloudEvent: Record<string, string>;
}

export interface DeadLetter<In> {
  reason: DeadLetterReason;
  /** The error message, as in the dead-letter record's headers. */
  error: string;
  /** The error's name (NotAWorkflowError, TypeError, DecodeError...). */
  errorName: string;
  partition: number;
  offset: string;
  key: string | null;
  /** The input record's own headers. */
  headers: Record<string, string>;
  /** The input value, when it could be decoded. */
  value: In | undefined;
  /** The dead-letter record as the runner writes it (input key and bytes, headers with the reason). */
  message: Message;
}

function textHeaders(headers: Message['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) result[name] = last.toString();
  }
  return result;
}

const DLQ_HEADER_NAMES = new Set<string>(Object.values(DLQ_HEADERS));

function splitCloudEventHeaders(all: Record<string, string>): { headers: Record<string, string>; cloudEvent: Record<string, string> } {
  const headers: Record<string, string> = {};
  const cloudEvent: Record<string, string> = {};
  for (const [name, value] of Object.entries(all)) (CLOUDEVENT_KAFKA_HEADERS.has(name) ? cloudEvent : headers)[name] = value;
  return { headers, cloudEvent };
}

/** avsc decodes records into instances of generated classes; tests compare with plain objects. */
function plain<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map(plain) as T;
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) copy[k] = plain(v);
  return copy as T;
}

export class ProcessorTestDriver<In, Outputs extends Record<string, unknown>, S = never> {
  readonly registry: MemoryRegistry;
  private definition: ProcessorDefinition<In, Outputs, S>;
  private task!: ProcessorTask<In, Outputs, S>;
  private inputType!: avro.Type;
  private inputEncoder!: WireEncoder;
  /** Declared outputs by `<topic>/<schema id>` (one topic may carry several outputs), and a default per topic for tombstones. */
  private outputTypes = new Map<string, { output: string; type: avro.Type }>();
  private stateCodec: { type: avro.Type; encoder: WireEncoder; decoder: WireDecoder<unknown> } | undefined;
  private readonly stores = new Map<number, PartitionStore<unknown>>();
  /** Every changelog record written, per partition: what restart() restores from. */
  private readonly changelog = new Map<number, KafkaMessage[]>();
  private emitted = new Map<string, EmittedRecord<unknown>[]>();
  private dead: DeadLetter<In>[] = [];
  private readonly offsets = new Map<number, number>();
  private clock = Date.UTC(2024, 0, 1);

  constructor(
    definition: ProcessorDefinition<In, Outputs, S>,
    private readonly options: DriverOptions = {},
  ) {
    this.registry = options.registry ?? new MemoryRegistry();
    this.definition = definition;
    this.compile();
  }

  private static readonly changelogTopic = 'test-driver-changelog';
  private static readonly deadLetterTopic = 'test-driver.dlq';

  /** Schemas compiled and registered once per definition, as the runner does at start-up. */
  private compile(): void {
    const d = this.definition;
    const maxRecordBytes = (this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES) - BATCH_FRAMING;
    this.inputType = parseSchema(d.input.schema, `${d.name} input schema`);
    const inputId = this.registry.register(d.input.schema);
    this.inputEncoder = new WireEncoder(this.inputType, inputId);
    const outputs: TaskOutput[] = [];
    this.outputTypes = new Map();
    for (const [output, declaration] of Object.entries(d.outputs) as Array<[string, { topic: string; schema: AvroSchema }]>) {
      const type = parseSchema(declaration.schema, `${d.name} output '${output}' schema`);
      const id = this.registry.register(declaration.schema);
      outputs.push({ name: output, topic: declaration.topic, encoder: new WireEncoder(type, id), maxRecordBytes });
      for (const key of [`${declaration.topic}/${id}`, declaration.topic]) if (!this.outputTypes.has(key)) this.outputTypes.set(key, { output, type });
      if (!this.emitted.has(output)) this.emitted.set(output, []);
    }
    if (d.state) {
      const type = parseSchema(d.state.schema, `${d.name} state schema`);
      const id = this.registry.register(d.state.schema);
      this.stateCodec = { type, encoder: new WireEncoder(type, id), decoder: new WireDecoder<unknown>(this.registry, type, id) };
    } else {
      this.stateCodec = undefined;
    }
    this.task = new ProcessorTask<In, Outputs, S>({
      definition: d,
      inputTopic: this.options.inputTopic ?? d.input.topic,
      inputDecoder: new WireDecoder<In>(this.registry, this.inputType, inputId),
      outputs,
      deadLetterTopic: ProcessorTestDriver.deadLetterTopic,
      changelogTopic: d.state ? ProcessorTestDriver.changelogTopic : undefined,
      strict: this.options.strict === true,
    });
    this.stores.clear();
  }

  /** The partition's store, restored from the changelog written so far (as on an assignment). */
  private storeOf(partition: number): PartitionStore<S> | undefined {
    if (!this.stateCodec) return undefined;
    let store = this.stores.get(partition);
    if (!store) {
      const { type, encoder, decoder } = this.stateCodec;
      store = new PartitionStore<unknown>(type, encoder, (this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES) - BATCH_FRAMING, this.options.strict === true);
      const latest = new Map<string, Buffer | null>();
      for (const message of this.changelog.get(partition) ?? []) foldChangelog(latest, message);
      this.learn(decoder, latest.values());
      const unreadable = store.restore(latest, decoder);
      if (unreadable.length > 0) throw new SchemaViolationError(`state cannot be restored: ${unreadable.map((u) => `${u.key}: ${u.error}`).join('; ')}`);
      this.stores.set(partition, store);
    }
    return store as PartitionStore<S>;
  }

  /** Tells a decoder the writer schema of every id it has not seen, from the stand-in registry. */
  private learn(decoder: WireDecoder<unknown>, values: Iterable<Buffer | null>): void {
    for (const id of decoder.missingIds(values)) decoder.learn(id, this.registry.typeOf(id));
  }

  /**
   * Feeds one value (encoded with the input schema, as a producer would). Returns what this record
   * emitted (also queued for read()). A record the processor cannot handle goes to deadLetters().
   */
  pipe(value: In, options: PipeOptions = {}): EmittedRecord<unknown>[] {
    if (!this.inputType.isValid(value, { noUndeclaredFields: true })) {
      throw new SchemaViolationError(`input value piped to ${this.definition.input.topic} does not conform to ${this.definition.name} input schema: ${explainInvalid(this.inputType, value, true)}`);
    }
    return this.pipeBytes(this.inputEncoder.encode(value), options);
  }

  /** Feeds one record as bytes, whatever they hold (a bad record, another schema id registered with `registry`). */
  pipeBytes(value: Buffer | null, options: PipeOptions = {}): EmittedRecord<unknown>[] {
    const partition = options.partition ?? 0;
    const offset = options.offset === undefined ? (this.offsets.get(partition) ?? 0) : Number(options.offset);
    this.offsets.set(partition, offset + 1);
    const timestamp = options.timestamp ?? this.clock;
    this.clock = Math.max(this.clock, timestamp) + 1;
    const message = {
      offset: String(offset),
      key: options.key === undefined || options.key === null ? null : Buffer.from(options.key),
      value,
      headers: { ...(options.headers ?? {}) },
      timestamp: String(timestamp),
      attributes: 0,
    } as KafkaMessage;
    this.learn(this.task.config.inputDecoder as WireDecoder<unknown>, [value]);
    const store = this.storeOf(partition);
    let result: TaskResult;
    try {
      result = this.task.run(partition, [message], store, timestamp);
    } catch (error) {
      store?.abort();
      throw error;
    }
    store?.commit();
    return this.apply(partition, message, result);
  }

  /** Files what the task returned as the runner's transaction would: outputs, changelog, dead letters. */
  private apply(partition: number, input: KafkaMessage, result: TaskResult): EmittedRecord<unknown>[] {
    const emitted: EmittedRecord<unknown>[] = [];
    for (const { topic, messages } of result.topicMessages) {
      if (topic === ProcessorTestDriver.changelogTopic) {
        const log = this.changelog.get(partition) ?? [];
        for (const m of messages) log.push({ key: Buffer.from(String(m.key)), value: m.value as Buffer | null, offset: String(log.length) } as KafkaMessage);
        this.changelog.set(partition, log);
        continue;
      }
      if (topic === ProcessorTestDriver.deadLetterTopic) {
        for (const m of messages) this.dead.push(this.deadLetterOf(partition, input, m));
        continue;
      }
      for (const m of messages) {
        const bytes = m.value as Buffer | null;
        // One topic may carry several declared outputs: the schema id the record carries says which.
        const target = (bytes === null ? undefined : this.outputTypes.get(`${topic}/${wireSchemaId(bytes)}`)) ?? this.outputTypes.get(topic)!;
        const record: EmittedRecord<unknown> = {
          topic,
          key: m.key === null || m.key === undefined ? null : m.key.toString(),
          value: bytes === null ? null : plain(target.type.fromBuffer(bytes.subarray(HEADER_SIZE))),
          ...splitCloudEventHeaders(textHeaders(m.headers)),
        };
        this.emitted.get(target.output)!.push(record);
        emitted.push(record);
      }
    }
    return emitted;
  }

  private deadLetterOf(partition: number, input: KafkaMessage, message: Message): DeadLetter<In> {
    const headers = textHeaders(message.headers);
    const own: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) if (!DLQ_HEADER_NAMES.has(name)) own[name] = value;
    const decoded = this.task.config.inputDecoder.decode(input.value);
    return {
      reason: headers[DLQ_HEADERS.reason] as DeadLetterReason,
      error: headers[DLQ_HEADERS.error] ?? '',
      errorName: headers[DLQ_HEADERS.errorName] ?? '',
      partition,
      offset: input.offset,
      key: input.key ? input.key.toString() : null,
      headers: own,
      value: decoded.ok ? plain(decoded.value) : undefined,
      message,
    };
  }

  /** Takes the oldest record not yet read from an output; undefined when there is none. */
  read<K extends keyof Outputs & string>(output: K): EmittedRecord<Outputs[K]> | undefined {
    return this.queue(output).shift() as EmittedRecord<Outputs[K]> | undefined;
  }

  /** Takes every record not yet read from an output, oldest first. */
  readAll<K extends keyof Outputs & string>(output: K): EmittedRecord<Outputs[K]>[] {
    return this.queue(output).splice(0) as EmittedRecord<Outputs[K]>[];
  }

  private queue(output: string): EmittedRecord<unknown>[] {
    const queue = this.emitted.get(output);
    if (!queue) throw new Error(`${this.definition.name} has no output '${output}' (declared: ${[...this.emitted.keys()].join(', ')})`);
    return queue;
  }

  /** Records dead-lettered since the last restart, oldest first. */
  deadLetters(): DeadLetter<In>[] {
    return [...this.dead];
  }

  /** The state value under a key (in any partition), as the store holds it now. */
  stateGet(key: string): S | undefined {
    for (const partition of this.partitions()) {
      const value = this.storeOf(partition)?.get(key);
      if (value !== undefined) return plain(value);
    }
    return undefined;
  }

  /** Every state entry, sorted by key. */
  stateEntries(): Array<[string, S]> {
    const entries = new Map<string, S>();
    for (const partition of this.partitions()) {
      const latest = new Map<string, Buffer | null>();
      for (const message of this.changelog.get(partition) ?? []) foldChangelog(latest, message);
      for (const key of latest.keys()) {
        const value = this.storeOf(partition)?.get(key);
        if (value !== undefined) entries.set(key, plain(value));
      }
    }
    return [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private partitions(): number[] {
    return [...new Set([...this.offsets.keys(), ...this.changelog.keys()])].sort((a, b) => a - b);
  }

  /**
   * Simulates a restart: the state is restored from the changelog, unread outputs and dead letters
   * are dropped (they were already written). Pass a definition to restart with another one (new
   * options, or a new build of the processor); its state schema must read the old state.
   */
  restart(definition?: ProcessorDefinition<In, Outputs, S>): void {
    if (definition) this.definition = definition;
    this.emitted = new Map();
    this.dead = [];
    this.compile();
    for (const partition of this.changelog.keys()) this.storeOf(partition);
  }
}
