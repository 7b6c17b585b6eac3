// A processor is declared, not wired (the idea of Kafka Streams' Processor API): a name, the
// topics and Avro schemas it reads and writes, optional keyed state, and a pure function from one
// input record to zero or more output records. The runner (lib/kit/runner.ts) owns consuming,
// decoding, encoding, transactions, commits, dead letters and shutdown; the test driver
// (lib/kit/test-driver.ts) runs the same definition in memory without a broker.

/** An Avro schema as parsed JSON (the content of a schemas/*.avsc file). */
export type AvroSchema = Record<string, unknown>;

export interface TopicDeclaration {
  /** Default topic name; the runner lets configuration override it. */
  topic: string;
  /** Avro schema of the record values (registered as subject `<topic>-value`). */
  schema: AvroSchema;
  /** The topic holds the latest value per key: created with cleanup.policy=compact. */
  compacted?: boolean;
  /** ce_type of an output's records (default io.kubetrail.<processor>.<output>); see lib/cloudevents.ts. */
  cloudEventType?: string;
}

export interface InputRecord<In> {
  topic: string;
  partition: number;
  offset: string;
  /** Record key as UTF-8 text; null when the record has none. */
  key: string | null;
  value: In;
  /** Broker timestamp in milliseconds since the epoch. */
  timestamp: number;
  headers: Record<string, string>;
}

export interface OutputRecord<Outputs> {
  /** Which declared output this goes to (a key of `outputs`), not a topic name. */
  output: keyof Outputs & string;
  key: string | null;
  /** null writes a tombstone. */
  value: Outputs[keyof Outputs] | null;
  headers?: Record<string, string>;
}

/** Keyed state, restored from a compacted changelog topic when partitions are assigned. */
export interface KeyValueStore<S> {
  get(key: string): S | undefined;
  put(key: string, value: S): void;
  delete(key: string): void;
}

export interface ProcessorContext<S> {
  /** Present when the definition declares `state`. */
  state: KeyValueStore<S>;
}

export interface ProcessorDefinition<In = unknown, Outputs extends Record<string, unknown> = Record<string, unknown>, S = never> {
  /** Unique name: the consumer group, transactional id prefix and metrics label derive from it. */
  name: string;
  description: string;
  input: TopicDeclaration;
  outputs: { [K in keyof Outputs]: TopicDeclaration };
  /** Keyed state kept in Kafka; the changelog topic is `<name>-<store>-changelog` unless configured. */
  state?: { store: string; schema: AvroSchema };
  /**
   * The logic: pure apart from the state it is handed. Throwing sends the input record to the
   * dead-letter topic with the error as the reason; the processor goes on.
   */
  process(record: InputRecord<In>, context: ProcessorContext<S>): OutputRecord<Outputs>[];
}

/** Helper that keeps the generic parameters inferred at the definition site. */
export function defineProcessor<In, Outputs extends Record<string, unknown>, S = never>(
  definition: ProcessorDefinition<In, Outputs, S>,
): ProcessorDefinition<In, Outputs, S> {
  return definition;
}
