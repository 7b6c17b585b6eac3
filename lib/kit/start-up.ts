// A processor's start-up, before it consumes anything: its schemas compiled (a bad definition
// fails before anything connects), its input checked, its topics created through the topic
// contract, its schemas registered, and the codecs of the task and of its state built.
import type { Admin } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import type { Logger } from '../log.js';
import { retry } from '../async.js';
import { WireDecoder, WireEncoder, parseSchema, registerSchema } from '../kafka/codec.js';
import { ensureTopics, maxMessageBytes, processorTopicSpecs, requireInputTopic, weakTopics, type ResolvedTopics } from '../topics.js';
import type { ProcessorDefinition } from './processor.js';
import { BATCH_FRAMING, type TaskOutput } from './task.js';
import type { StateCodecs } from './restore.js';

type AnyDefinition = ProcessorDefinition<any, any, any>;

/** The definition's schemas as avsc types; throws naming the schema that is invalid. */
export interface CompiledSchemas {
  input: avro.Type;
  outputs: Array<{ name: string; schema: Record<string, unknown>; type: avro.Type }>;
  state: avro.Type | undefined;
}

export function compileSchemas(definition: AnyDefinition): CompiledSchemas {
  const name = definition.name;
  return {
    input: parseSchema(definition.input.schema, `${name} input`),
    outputs: Object.entries(definition.outputs as Record<string, { schema: Record<string, unknown> }>).map(([output, declaration]) => ({
      name: output,
      schema: declaration.schema,
      type: parseSchema(declaration.schema, `${name} output '${output}'`),
    })),
    state: definition.state ? parseSchema(definition.state.schema, `${name} state '${definition.state.store}'`) : undefined,
  };
}

export interface StartUpContext {
  definition: AnyDefinition;
  schemas: CompiledSchemas;
  topics: ResolvedTopics;
  admin: Admin;
  registry: SchemaRegistry;
  logger: Logger;
  timeoutMs: number;
  stopping: () => boolean;
}

export interface Prepared {
  inputPartitions: number;
  inputDecoder: WireDecoder<unknown>;
  outputs: TaskOutput[];
  state: StateCodecs | undefined;
}

/** Connects, checks and creates topics, registers schemas. Retries what a slow start-up of Kafka or the registry makes fail. */
export async function prepareProcessor(context: StartUpContext): Promise<Prepared> {
  const { definition, schemas, topics, admin, registry, logger } = context;
  const patiently = <T>(what: string, attempt: () => Promise<T>) =>
    retry(attempt, {
      timeoutMs: context.timeoutMs,
      maxMs: 5_000,
      retriable: () => !context.stopping(),
      onRetry: (error, n) => {
        if (n === 1 || n % 5 === 0) logger.warn({ err: error instanceof Error ? error.message : String(error), attempt: n }, `${what} failed, retrying`);
      },
    });
  await patiently('connecting to Kafka', () => admin.connect());
  const inputPartitions = await requireInputTopic(admin, topics.input, definition.name);
  const specs = processorTopicSpecs(definition, topics, inputPartitions);
  const created = await ensureTopics(admin, specs);
  if (created.length > 0) logger.info({ topics: created }, 'created topics');
  for (const finding of await weakTopics(admin, [topics.input, ...specs.map((s) => s.topic)])) logger.warn({ finding }, 'topic weaker than the cluster allows');
  const limits = await maxMessageBytes(admin, [...new Set([...Object.values(topics.outputs), ...(topics.changelog ? [topics.changelog] : [])])]);

  const outputs: TaskOutput[] = [];
  for (const output of schemas.outputs) {
    const topic = topics.outputs[output.name]!;
    const id = await patiently(`registering the schema of ${topic}`, () => registerSchema(registry, `${topic}-value`, output.schema));
    outputs.push({ name: output.name, topic, encoder: new WireEncoder(output.type, id), maxRecordBytes: limits.get(topic)! - BATCH_FRAMING });
  }
  let state: StateCodecs | undefined;
  if (schemas.state && topics.changelog && definition.state) {
    const changelog = topics.changelog;
    const id = await patiently(`registering the schema of ${changelog}`, () => registerSchema(registry, `${changelog}-value`, definition.state!.schema));
    state = { type: schemas.state, encoder: new WireEncoder(schemas.state, id), decoder: new WireDecoder<unknown>(registry, schemas.state, id), maxRecordBytes: limits.get(changelog)! - BATCH_FRAMING };
  }
  return { inputPartitions, inputDecoder: new WireDecoder<unknown>(registry, schemas.input), outputs, state };
}
