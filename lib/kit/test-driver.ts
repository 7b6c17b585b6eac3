// Runs a ProcessorDefinition in memory, without a broker (the idea of Kafka Streams'
// TopologyTestDriver): pipe input values in, read what each declared output received, look at the
// state store and the dead letters, simulate a restart. It keeps the runner's semantics:
// - a record whose process() throws goes to the dead letters with the error message; its outputs
//   and state writes are dropped (the runner's transaction for that record produces only the
//   dead letter);
// - state persists across records and across restart() (the changelog restores it); outputs and
//   dead letters written before a restart are not read again.
// Every value is checked against the declared Avro schemas with avsc, strictly (no undeclared
// fields, which the encoder would silently drop): the input on pipe(), each output on emit, each
// state value on put. A violation throws SchemaViolationError out of pipe(), so the unit test of a
// processor that emits a non-conforming record fails.
import avro from 'avsc';
import type { AvroSchema, InputRecord, KeyValueStore, OutputRecord, ProcessorDefinition } from './processor.js';

export class SchemaViolationError extends Error {
  override name = 'SchemaViolationError';
}

/** A processor used the driver wrongly (state it did not declare): a bug, so pipe() throws it. */
export class DefinitionError extends Error {
  override name = 'DefinitionError';
}

export interface PipeOptions {
  key?: string | null;
  headers?: Record<string, string>;
  /** Defaults to the definition's input topic. */
  topic?: string;
  partition?: number;
  /** Broker timestamp; defaults to a clock that starts at 2024-01-01T00:00:00Z and advances 1 ms per record. */
  timestamp?: number;
}

export interface EmittedRecord<V> {
  /** The topic the output is declared with. */
  topic: string;
  key: string | null;
  /** null is a tombstone. */
  value: V | null;
  headers: Record<string, string>;
}

export interface DeadLetter<In> {
  record: InputRecord<In>;
  /** The thrown error's message, as the runner puts it in the dead-letter record. */
  error: string;
  /** The thrown error's name (NotAWorkflowError, TypeError...). */
  errorName: string;
}

type Validator = (value: unknown, what: string) => void;

function validatorFor(schema: AvroSchema, label: string): Validator {
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(schema as avro.Schema);
  } catch (error) {
    throw new SchemaViolationError(`${label}: invalid Avro schema: ${(error as Error).message}`);
  }
  return (value, what) => {
    const problems: string[] = [];
    const valid = type.isValid(value, {
      noUndeclaredFields: true,
      errorHook: (path, bad, badType) => {
        if (problems.length < 5) problems.push(`${path.join('.') || '(value)'}: ${JSON.stringify(bad) ?? String(bad)} is not ${badType.typeName}`);
      },
    });
    if (!valid) throw new SchemaViolationError(`${what} does not conform to ${label}: ${problems.join('; ') || 'invalid'}`);
  };
}

export class ProcessorTestDriver<In, Outputs extends Record<string, unknown>, S = never> {
  private definition: ProcessorDefinition<In, Outputs, S>;
  private validateInput!: Validator;
  private validateOutput = new Map<string, Validator>();
  private validateState: Validator | undefined;
  private readonly store = new Map<string, S>();
  private emitted = new Map<string, EmittedRecord<unknown>[]>();
  private dead: DeadLetter<In>[] = [];
  private readonly offsets = new Map<string, number>();
  private clock = Date.UTC(2024, 0, 1);

  constructor(definition: ProcessorDefinition<In, Outputs, S>) {
    this.definition = definition;
    this.compile();
  }

  /** Schemas are compiled once per definition, as the runner does at start-up. */
  private compile(): void {
    const d = this.definition;
    this.validateInput = validatorFor(d.input.schema, `${d.name} input schema`);
    this.validateOutput = new Map();
    for (const [output, declaration] of Object.entries(d.outputs) as Array<[string, { schema: AvroSchema }]>) {
      this.validateOutput.set(output, validatorFor(declaration.schema, `${d.name} output '${output}' schema`));
      if (!this.emitted.has(output)) this.emitted.set(output, []);
    }
    this.validateState = d.state ? validatorFor(d.state.schema, `${d.name} state schema`) : undefined;
  }

  /**
   * Feeds one record. Returns what this record emitted (also queued for read()). A throw from
   * process() is not rethrown: the record goes to deadLetters().
   */
  pipe(value: In, options: PipeOptions = {}): OutputRecord<Outputs>[] {
    const topic = options.topic ?? this.definition.input.topic;
    this.validateInput(value, `input value piped to ${topic}`);
    const offset = this.offsets.get(topic) ?? 0;
    this.offsets.set(topic, offset + 1);
    const timestamp = options.timestamp ?? this.clock;
    this.clock = Math.max(this.clock, timestamp) + 1;
    const record: InputRecord<In> = {
      topic,
      partition: options.partition ?? 0,
      offset: String(offset),
      key: options.key ?? null,
      // A copy, as a decoded record would be: the processor cannot change the caller's value.
      value: structuredClone(value),
      timestamp,
      headers: { ...(options.headers ?? {}) },
    };

    // State writes are buffered and applied only if the record is processed without error.
    const writes = new Map<string, S | undefined>();
    // Errors that are the processor's bugs, kept in case process() swallows them.
    const bugs: Error[] = [];
    const requireState = (): Validator => {
      if (this.validateState) return this.validateState;
      const bug = new DefinitionError(`${this.definition.name} uses state but declares none`);
      bugs.push(bug);
      throw bug;
    };
    const state: KeyValueStore<S> = {
      get: (key) => {
        requireState();
        const value = writes.has(key) ? writes.get(key) : this.store.get(key);
        return value === undefined ? undefined : structuredClone(value);
      },
      put: (key, value) => {
        const validate = requireState();
        try {
          validate(value, `state value put under '${key}'`);
        } catch (error) {
          bugs.push(error as Error);
          throw error;
        }
        writes.set(key, structuredClone(value));
      },
      delete: (key) => {
        requireState();
        writes.set(key, undefined);
      },
    };

    let outputs: OutputRecord<Outputs>[];
    try {
      outputs = this.definition.process(record, { state });
    } catch (error) {
      // A schema violation is a bug in the processor, not a bad record: fail the test.
      if (bugs.length > 0) throw bugs[0];
      if (error instanceof SchemaViolationError || error instanceof DefinitionError) throw error;
      const e = error instanceof Error ? error : new Error(String(error));
      this.dead.push({ record, error: e.message, errorName: e.name });
      return [];
    }
    if (bugs.length > 0) throw bugs[0];

    const accepted: Array<[string, EmittedRecord<unknown>]> = [];
    for (const out of outputs) {
      const validate = this.validateOutput.get(out.output);
      if (!validate) throw new DefinitionError(`${this.definition.name} emitted to '${out.output}', which is not a declared output`);
      if (out.value !== null) validate(out.value, `value emitted to '${out.output}'`);
      accepted.push([
        out.output,
        {
          topic: (this.definition.outputs[out.output] as { topic: string }).topic,
          key: out.key,
          value: out.value === null ? null : structuredClone(out.value),
          headers: { ...(out.headers ?? {}) },
        },
      ]);
    }
    for (const [key, value] of writes) {
      if (value === undefined) this.store.delete(key);
      else this.store.set(key, value);
    }
    for (const [output, emitted] of accepted) this.emitted.get(output)!.push(emitted);
    return outputs;
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

  /** Records whose process() threw since the last restart, oldest first. */
  deadLetters(): DeadLetter<In>[] {
    return [...this.dead];
  }

  /** The state value under a key, as the store holds it now. */
  stateGet(key: string): S | undefined {
    const value = this.store.get(key);
    return value === undefined ? undefined : structuredClone(value);
  }

  /** Every state entry, sorted by key. */
  stateEntries(): Array<[string, S]> {
    return [...this.store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, structuredClone(v)]);
  }

  /**
   * Simulates a restart: the state is kept (restored from the changelog), unread outputs and dead
   * letters are dropped (they were already written). Pass a definition to restart with another
   * one (new options, or a new build of the processor); its state schema must read the old state.
   */
  restart(definition?: ProcessorDefinition<In, Outputs, S>): void {
    if (definition) this.definition = definition;
    this.emitted = new Map();
    this.dead = [];
    this.compile();
    if (this.validateState) for (const [key, value] of this.store) this.validateState(value, `state under '${key}' restored after restart`);
  }
}
